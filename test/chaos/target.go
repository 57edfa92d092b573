package chaos

import (
	"context"
	"errors"
)

// Target is a cluster of real processes under test. Its nodes are
// numbered 0 to Nodes()-1; a target whose nodes join and leave (see
// Elastic) also has nodes that are not members of the cluster now: spares
// not started yet, removed nodes. Faults pick their victims among Members,
// and the checks ask the members only.
type Target interface {
	Name() string    // "flotilla", "redis-cluster"
	Addrs() []string // every node's address, host:port, in node order: the client seeds
	Addr(i int) string
	Nodes() int          // how many nodes, members or not
	Members() []int      // the nodes that are members of the cluster now (running or not), ascending
	NodeIP(i int) string // loopback address of node i, what partitions cut
	NodeZone(i int) string
	Kill(i int) error                                // SIGKILL
	Restart(i int) error                             // start a killed/stopped node again with its data
	Pause(i int) error                               // SIGSTOP
	Resume(i int) error                              // SIGCONT
	RestartAll() error                               // SIGKILL every node, then start them all
	Shards(ctx context.Context) ([]ShardInfo, error) // from CLUSTER SHARDS/SLOTS or the node's view
	ConfigLeader(ctx context.Context) (int, error)   // node leading the configuration group; ErrUnsupported for Redis
	Failover(ctx context.Context, shard int) error   // graceful leadership change of one shard (CLUSTER FAILOVER on a replica)
	WaitHealthy(ctx context.Context) error           // every slot served, cluster_state:ok
	Close() error
}

// ShardInfo is one shard of a Target: its slots and where its members are.
type ShardInfo struct {
	Slots    [][2]int // inclusive ranges
	Leader   int      // node index, -1 if none
	Replicas []int    // node indexes of the other members
}

// ErrUnsupported is returned by a Target for an operation it cannot do
// (ConfigLeader on Redis Cluster, which has no configuration group; a
// Failover of a shard no replica can take over). Faults that need it are
// skipped.
var ErrUnsupported = errors.New("chaos: not supported by this target")

// memberAddrs are the addresses of t's members.
func memberAddrs(t Target) []string {
	var out []string
	for _, i := range t.Members() {
		out = append(out, t.Addr(i))
	}
	return out
}
