// Package raft is the hashicorp/raft plumbing of Flotilla's groups:
//
//   - Mux shares one TCP port among every group of a node (the first bytes
//     of a connection name its group) and dials peers from the node's own
//     address, so a node on 127.0.0.12 is 127.0.0.12 to its peers.
//   - Group opens one group: hashicorp/raft with a raft-boltdb/v2 log and
//     stable store, a file snapshot store, and Raft timeouts tuned for a LAN
//     (a new leader in about half a second).
//   - Entry is a log entry: commands stamped by the leader with the time
//     and a seed, so that every replica applies them identically; batches
//     of entries are what group commit appends.
//   - FSM applies entries to a shard's engine, records each command's
//     reply (Recorder) for the leader's client, and takes copy-on-write
//     snapshots for log compaction.
package raft
