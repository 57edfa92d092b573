// Package shard owns one shard: the engine holding a set of slots, the lock
// that serialises its writes, and the clients waiting on its keys (WATCH,
// blocking pops).
//
// A standalone node (cluster-enabled no) applies writes directly under the
// lock. In a cluster, a Replica is this node's member of the shard's Raft
// group: the FSM (package raft) applies committed entries under the same
// lock on every replica; on the leader, Propose group-commits writes into
// log entries and ConfirmRead makes reads linearizable by confirming the
// leadership once per batch of reads. Nothing here reads the clock or a
// random source on behalf of the engine; the leader stamps entries.
package shard
