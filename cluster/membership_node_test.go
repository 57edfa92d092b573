package cluster

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// startJoiningNode starts a cluster node that waits to be admitted into a
// running cluster (bootstrap-expect higher than it will ever see, no
// seeds: addNode brings it in).
func startJoiningNode(t *testing.T, directives ...string) *Server {
	t.Helper()
	base := append(clusterNodeDirectives(t), "bootstrap-expect", "100")
	return startServer(t, append(base, directives...)...)
}

// waitTopology waits until s's topology satisfies ok.
func waitTopology(t *testing.T, s *Server, what string, ok func(*Topology) bool) *Topology {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if topo := s.node.cfgFSM.current(); topo != nil && ok(topo) {
			return topo
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: not within 30 s; topology %+v", what, s.node.cfgFSM.current())
	return nil
}

// localShards returns the shards s holds replicas of.
func localShards(s *Server) []int {
	var out []int
	for id := range s.node.route.Load().local {
		out = append(out, int(id))
	}
	slices.Sort(out)
	return out
}

// TestAddAndDrainNodes grows a one-node cluster with addNode (the admin
// path: a node waiting without seeds is pointed at), checks that a
// removal that would leave shards short of replicas is refused, and
// drains a node out (the SIGTERM path), in process and under -race.
func TestAddAndDrainNodes(t *testing.T) {
	opts := []string{"cluster-replicas", "2"}
	a := startClusterNode(t, opts...)
	ca := client(t, a)
	ctx := ctxT(t)
	for i := 0; i < 200; i++ {
		if err := ca.Set(ctx, "k"+strconv.Itoa(i), "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	b := startJoiningNode(t, opts...)
	if err := a.node.addNode(b.node.self.Gossip); err != nil {
		t.Fatal(err)
	}
	bid := b.node.self.ID
	// Shard 1 gains a replica on b, and b gets a new shard of its own.
	waitTopology(t, a, "b placed", func(topo *Topology) bool {
		return len(topo.Shards) == 2 && slices.Contains(topo.Shards[0].Replicas, bid) &&
			topo.Shards[1].Replicas[0] == bid && len(topo.Shards[0].Bootstrap)+len(topo.Shards[1].Bootstrap) == 0
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := b.node.route.Load().local[1]
		n := -1
		if r != nil {
			r.BeginRead()
			n = r.DB().Len()
			r.EndRead()
		}
		if n == 200 && slices.Equal(localShards(b), []int{1, 2}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("b holds shards %v, %d keys of shard 1", localShards(b), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := a.node.removeNode(bid); !errors.Is(err, ErrTooFewNodes) {
		t.Fatalf("removing one of 2 nodes with 2 replicas a shard: %v, want ErrTooFewNodes", err)
	}

	c := startJoiningNode(t, opts...)
	if err := b.node.addNode(c.node.self.Gossip); err != nil {
		t.Fatal(err)
	}
	cid := c.node.self.ID
	waitTopology(t, a, "c placed", func(topo *Topology) bool {
		return len(topo.Shards) == 3 && topo.Node(cid) != nil
	})
	dctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := b.Drain(dctx); err != nil {
		t.Fatal(err)
	}
	topo := waitTopology(t, a, "b removed and placement settled", func(topo *Topology) bool {
		if topo.Node(bid) != nil || !slices.Contains(topo.Removed, bid) || len(topo.Shards) != 2 {
			return false
		}
		for _, sh := range topo.Shards {
			if len(sh.Replicas) != 2 {
				return false
			}
		}
		return true
	})
	if len(localShards(b)) != 0 {
		t.Errorf("the drained node still holds %v", localShards(b))
	}
	if slices.Contains(topo.ConfigVoters, bid) {
		t.Errorf("the drained node still votes: %v", topo.ConfigVoters)
	}
	for i := 0; i < 200; i += 13 {
		if v, err := ca.Get(ctx, "k"+strconv.Itoa(i)).Result(); err != nil && !isRedirect(err) || err == nil && v != "v" {
			t.Fatalf("GET k%d after the drain: %q, %v", i, v, err)
		}
	}
}

func isRedirect(err error) bool {
	s := err.Error()
	return len(s) > 6 && (s[:6] == "MOVED " || s[:4] == "ASK ")
}

// TestJoiningNodeRefusesSlotCommands: a node that has no topology yet (it
// waits to be admitted into a running cluster) answers -CLUSTERDOWN to a
// transaction and to SPUBLISH, the commands routed without routeCommand,
// and goes on serving. The chaos drill's node-join found a joining node
// dying on a nil slot table when a client sent it MULTI/EXEC.
func TestJoiningNodeRefusesSlotCommands(t *testing.T) {
	s := startJoiningNode(t)
	c := client(t, s)
	ctx := ctxT(t)
	_, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, "k", "v", 0)
		return nil
	})
	if err == nil || !strings.HasPrefix(err.Error(), "CLUSTERDOWN") {
		t.Errorf("MULTI SET EXEC on a node without a topology: %v, want CLUSTERDOWN", err)
	}
	if err := c.SPublish(ctx, "ch", "m").Err(); err == nil || !strings.HasPrefix(err.Error(), "CLUSTERDOWN") {
		t.Errorf("SPUBLISH on a node without a topology: %v, want CLUSTERDOWN", err)
	}
	if err := c.Ping(ctx).Err(); err != nil {
		t.Errorf("PING after: %v", err)
	}
}
