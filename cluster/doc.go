// Package cluster is a Flotilla node: it accepts Redis clients, routes each
// command to the shard that owns its keys' slot (or answers -MOVED), and
// keeps what is per connection or per node: authentication, MULTI/EXEC,
// pub/sub, blocked clients, CLIENT, CONFIG, INFO.
//
// Today a node is a single-node cluster: one shard owns all 16384 slots. The
// cluster configuration group, membership and Raft-replicated shards come
// next (see ../shared/DESIGN.md); the connection layer here stays.
package cluster
