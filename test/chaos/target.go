package chaos

import (
	"context"
	"errors"
)

// Target is a cluster of real processes under test.
type Target interface {
	Name() string    // "flotilla", "redis-cluster"
	Addrs() []string // client seed addresses, host:port
	Nodes() int
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
