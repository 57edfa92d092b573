// Package engine holds Flotilla's data: the keyspace of a shard, split per
// hash slot, and the Redis commands that read and change it.
//
// The engine does no I/O and has no clock and no random source of its own.
// A command runs with a Ctx that carries its arguments, the time (Now, unix
// ms) and a seed (Seed) and a Writer for its reply. Given the same sequence
// of commands with the same times and seeds, every replica reaches the same
// state and gives the same replies; that is what lets a Raft log of commands
// replicate a shard (see ../shared/DESIGN.md, rule 1).
//
// # Conventions for command handlers
//
//   - One file per Redis type (t_string.go, t_hash.go, ...), each registering
//     its handlers in init with register("name", fn). Arity is checked by
//     proto's command table before a handler runs.
//   - Read commands use c.lookupRead / c.readType and must not change
//     anything: they run concurrently with each other under a read lock. An
//     expired key is absent to them; only writes delete it.
//   - Write commands use c.lookupWrite / c.writeType (which delete an expired
//     key), store with c.setKey, delete with c.deleteKey, and call
//     c.modified(key) after changing a collection in place, so WATCH sees it;
//     c.ready(key) after pushing to a list or sorted set, so blocked clients
//     are served.
//   - A collection that becomes empty is deleted, as in Redis.
//   - Random choices use c.Rand / c.RandN and Dict.Random, never math/rand;
//     iteration whose order shows in a reply or in the state follows the
//     Dict's layout or the encoding's order, never a Go map's.
//   - Objects returned by lookups are copies; a string's bytes alias the
//     keyspace until the next write, a collection's pointer stays valid.
//     Re-look a key up after inserting another key.
//   - Replies and error texts are Redis 7.0's, byte for byte. The script
//     tests in testdata are checked against a real redis-server with
//     go test -oracle.
package engine
