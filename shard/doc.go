// Package shard owns one shard: the engine holding a set of slots, the lock
// that serialises its writes, and the clients waiting on its keys (WATCH,
// blocking pops).
//
// Today a shard applies writes directly under its lock (a single node). The
// Raft step wraps the same shape: a write becomes a log entry stamped with
// its time and seed, and the FSM's apply does what Write does now, on every
// replica. Nothing here reads the clock or a random source on behalf of the
// engine; callers stamp commands.
package shard
