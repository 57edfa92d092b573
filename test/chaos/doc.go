// Package chaos runs fault drills on clusters of real processes: it starts a
// cluster (a Target), drives it with many concurrent go-redis cluster
// clients, injects faults one after another (kill -9, SIGSTOP, iptables
// partitions between the nodes' loopback addresses, loss of a zone, restart
// of every node, leadership transfers, live slot moves, nodes joining and
// removed), heals them, and then checks what a durable, linearizable store
// promises:
//
//   - no acknowledged write is lost (a write that failed or timed out may or
//     may not be there, and is counted apart);
//   - the histories of a few registers are linearizable (porcupine, one
//     partition per key, an operation without a reply stays open-ended);
//   - INCR counters and RPUSH lists match the acknowledged operations, and
//     MULTI/EXEC transfers keep their sum;
//   - every slot has exactly one owner, the same on every member node.
//
// A run ends with a Report: a table, a JSON file, the writes per 100 ms (a
// timeline picture when a renderer is given) and, for each fault, the
// seconds during which the slots it touched took no write.
//
// The Target interface is implemented here for Flotilla (FlotillaTarget,
// over package localcluster) and in package rediscluster for a Redis
// Cluster; this package imports none of its subpackages. A Target's nodes
// are numbered; those that are members of the cluster now (Members) are the
// only ones faults pick and checks ask: an Elastic target (FlotillaTarget
// with spares) also has spare and removed nodes.
package chaos
