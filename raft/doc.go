// Package raft will hold the hashicorp/raft plumbing of Flotilla's shards:
// the FSM that applies log entries (commands stamped with the leader's time
// and seed) to an engine, snapshots of a shard's engine, the raft-boltdb/v2
// log and stable stores, and one TCP port multiplexed for every group of a
// node. It arrives with the "Every shard a Raft group" issue.
package raft
