package raft_test

import (
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	hraft "github.com/hashicorp/raft"

	"github.com/flotilla-db/flotilla/raft"
	"github.com/flotilla-db/flotilla/shard"
)

// listenOnCommonPort listens on the same port of several loopback
// addresses, as the nodes of a local cluster do.
func listenOnCommonPort(t *testing.T, ips ...string) []net.Listener {
	t.Helper()
	for attempt := 0; attempt < 20; attempt++ {
		first, err := net.Listen("tcp", ips[0]+":0")
		if err != nil {
			t.Fatal(err)
		}
		port := first.Addr().(*net.TCPAddr).Port
		lns := []net.Listener{first}
		for _, ip := range ips[1:] {
			ln, err := net.Listen("tcp", fmt.Sprintf("%s:%d", ip, port))
			if err != nil {
				break
			}
			lns = append(lns, ln)
		}
		if len(lns) == len(ips) {
			return lns
		}
		for _, ln := range lns {
			ln.Close()
		}
	}
	t.Fatal("no common free port")
	return nil
}

const testGroup raft.GroupID = 1

// node is one member of a test group: its Mux, its storage folder, and,
// while it runs, its group, FSM and shard store.
type node struct {
	id    string
	dir   string
	mux   *raft.Mux
	store *shard.Shard
	fsm   *raft.FSM
	group *raft.Group
	// restores counts the snapshots the FSM restored since open.
	restores atomic.Int32
}

// countingFSM is the FSM of a node, counting restores.
type countingFSM struct {
	*raft.FSM
	n *node
}

func (f countingFSM) Restore(rc io.ReadCloser) error {
	f.n.restores.Add(1)
	return f.FSM.Restore(rc)
}

type testCluster struct {
	t       *testing.T
	nodes   []*node
	servers []hraft.Server
}

func newTestCluster(t *testing.T) *testCluster {
	ips := []string{"127.0.0.11", "127.0.0.12", "127.0.0.13"}
	lns := listenOnCommonPort(t, ips...)
	c := &testCluster{t: t}
	base := t.TempDir()
	for i, ln := range lns {
		m := raft.NewMux(ln, net.ParseIP(ips[i]))
		t.Cleanup(func() { m.Close() })
		n := &node{id: fmt.Sprintf("n%d", i+1), dir: filepath.Join(base, fmt.Sprintf("n%d", i+1)), mux: m}
		c.nodes = append(c.nodes, n)
		c.servers = append(c.servers, hraft.Server{ID: hraft.ServerID(n.id), Address: hraft.ServerAddress(m.Addr().String())})
	}
	for _, n := range c.nodes {
		c.open(n)
	}
	// Registered after the Muxes' cleanups: runs before them.
	t.Cleanup(func() {
		for _, n := range c.nodes {
			if n.group != nil {
				n.group.Close()
			}
		}
	})
	return c
}

// open starts n's group on a fresh store, from whatever its folder holds.
func (c *testCluster) open(n *node) {
	c.t.Helper()
	n.store = shard.New(1, testSeed)
	n.fsm = raft.NewFSM(n.store)
	n.restores.Store(0)
	g, err := raft.OpenGroup(raft.GroupConfig{
		ID:                testGroup,
		Dir:               n.dir,
		LocalID:           n.id,
		Mux:               n.mux,
		FSM:               countingFSM{n.fsm, n},
		Bootstrap:         c.servers,
		SnapshotThreshold: 32,
		// Relaxed against the default: the whole suite runs at once under
		// -race on two cores, and a late heartbeat must not move the
		// leadership in the middle of the test.
		Timing: raft.Timing{Heartbeat: time.Second, Election: time.Second, LeaderLease: 500 * time.Millisecond, Commit: 50 * time.Millisecond},
	})
	if err != nil {
		c.t.Fatalf("open %s: %v", n.id, err)
	}
	n.group = g
}

func (c *testCluster) close(n *node) {
	c.t.Helper()
	if err := n.group.Close(); err != nil {
		c.t.Fatalf("close %s: %v", n.id, err)
	}
	n.group = nil
}

func (c *testCluster) running() []*node {
	var out []*node
	for _, n := range c.nodes {
		if n.group != nil {
			out = append(out, n)
		}
	}
	return out
}

// waitLeader waits until one running node leads and every running node
// knows it.
func (c *testCluster) waitLeader(timeout time.Duration) *node {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		var leader *node
		agreed := true
		for _, n := range c.running() {
			if n.group.IsLeader() {
				leader = n
			}
		}
		if leader != nil {
			for _, n := range c.running() {
				if n.group.Leader() != leader.id {
					agreed = false
				}
			}
			if agreed {
				return leader
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, n := range c.running() {
		c.t.Logf("%s: state %v, leader %q", n.id, n.group.Raft.State(), n.group.Leader())
	}
	c.t.Fatalf("no leader within %v", timeout)
	return nil
}

// propose proposes count entries of gen on leader, all in flight at once,
// applies them to ref too, and checks that the leader's results are ref's.
// It returns the index of the last one.
func (c *testCluster) propose(leader *node, gen *logGen, ref *replica, count int) uint64 {
	c.t.Helper()
	expired := func(now int64) [][]byte {
		leader.store.BeginRead()
		defer leader.store.EndRead()
		keys, _, _ := leader.store.DB().ExpiredKeys(now, 0, 4)
		return keys
	}
	futures := make([]hraft.ApplyFuture, count)
	want := make([]*raft.Result, count)
	for i := range futures {
		data := raft.AppendEntry(nil, gen.next(expired))
		futures[i] = leader.group.Raft.Apply(data, 5*time.Second)
		want[i] = ref.apply(c.t, data)
	}
	var last uint64
	for i, f := range futures {
		if err := f.Error(); err != nil {
			c.t.Fatalf("proposal %d on %s: %v", i, leader.id, err)
		}
		got, ok := f.Response().(*raft.Result)
		if !ok {
			c.t.Fatalf("proposal %d: response %#v", i, f.Response())
		}
		if string(got.Replies) != string(want[i].Replies) || got.Blocked != want[i].Blocked || got.Now != want[i].Now {
			c.t.Errorf("proposal %d: result {%.200q %v} on the group, {%.200q %v} on a lone FSM",
				i, resp(c.t, got.Replies, 3), got.Blocked, resp(c.t, want[i].Replies, 3), want[i].Blocked)
		}
		if f.Index() <= last {
			c.t.Fatalf("proposal %d: index %d after %d", i, f.Index(), last)
		}
		last = f.Index()
	}
	return last
}

// waitApplied waits until every running node's FSM applied index, then
// checks that their keyspaces are ref's.
func (c *testCluster) waitApplied(index uint64, ref *replica, timeout time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for _, n := range c.running() {
		for n.fsm.LastApplied() < index {
			if time.Now().After(deadline) {
				c.t.Fatalf("%s applied up to %d, want %d (raft applied index %d)",
					n.id, n.fsm.LastApplied(), index, n.group.Raft.AppliedIndex())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	wantD, wantL := ref.digests()
	for _, n := range c.running() {
		r := &replica{fsm: n.fsm, store: n.store}
		if d, l := r.digests(); d != wantD || l != wantL {
			c.t.Errorf("%s: digest %x layout %x, want %x %x", n.id, d, l, wantD, wantL)
		}
		if n.fsm.LastNow() != ref.fsm.LastNow() {
			c.t.Errorf("%s: LastNow %d, want %d", n.id, n.fsm.LastNow(), ref.fsm.LastNow())
		}
	}
}

// TestGroupReplicates runs a shard's group on three nodes: it elects a
// leader, applies proposals identically everywhere, elects another leader
// when the leader goes away, and the old leader, reopened from its folder,
// gets its state back and catches up (through a snapshot, as the others
// compacted their logs meanwhile).
func TestGroupReplicates(t *testing.T) {
	start := time.Now()
	c := newTestCluster(t)
	leader := c.waitLeader(10 * time.Second)
	t.Logf("first leader %s elected after %v", leader.id, time.Since(start).Round(time.Millisecond))

	gen := newLogGen(7)
	ref := newReplica(testSeed)
	last := c.propose(leader, gen, ref, 300)
	c.waitApplied(last, ref, 10*time.Second)
	if ref.store.DB().Len() == 0 {
		t.Fatal("the proposals left an empty keyspace")
	}
	t.Logf("300 proposals applied on the three nodes after %v (last index %d)", time.Since(start).Round(time.Millisecond), last)

	// Each node snapshots, so that the old leader reopens from a snapshot
	// plus the log after it.
	for _, n := range c.nodes {
		if err := n.group.Raft.Snapshot().Error(); err != nil {
			t.Fatalf("snapshot on %s: %v", n.id, err)
		}
	}
	c.propose(leader, gen, ref, 20)

	old := leader
	killed := time.Now()
	c.close(old)
	leader = c.waitLeader(10 * time.Second)
	failover := time.Since(killed)
	t.Logf("leader %s shut down; %s leads after %v", old.id, leader.id, failover.Round(time.Millisecond))
	if failover > 5*time.Second {
		t.Errorf("failover took %v", failover)
	}

	last = c.propose(leader, gen, ref, 300)
	c.waitApplied(last, ref, 10*time.Second)
	// The leader compacts its log to the last 32 entries: the old leader
	// can catch up only with a snapshot.
	if err := leader.group.Raft.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	t.Logf("the leader snapshotted at index %s", leader.group.Raft.Stats()["last_snapshot_index"])

	reopened := time.Now()
	c.open(old)
	// The reopened node restored its own snapshot before joining: its state
	// is not empty.
	old.store.BeginRead()
	restored := old.store.DB().Len()
	old.store.EndRead()
	if restored == 0 || old.restores.Load() < 1 {
		t.Errorf("the reopened node restored %d snapshots, %d keys", old.restores.Load(), restored)
	}
	// Logged, not checked: FSM.LastApplied does not count what a snapshot
	// restored, while raft's applied index does.
	t.Logf("%s after reopening: FSM.LastApplied %d, raft applied index %d",
		old.id, old.fsm.LastApplied(), old.group.Raft.AppliedIndex())
	// Under load (the whole suite runs at once, with -race) a heartbeat may
	// come late and the leadership move: propose through whoever leads.
	leader = c.waitLeader(10 * time.Second)
	last = c.propose(leader, gen, ref, 20)
	c.waitApplied(last, ref, 10*time.Second)
	if n := old.restores.Load(); n != 2 {
		t.Errorf("the reopened node restored %d snapshots, want 2 (its own, then the leader's)", n)
	}
	t.Logf("%s reopened with %d keys from its snapshot, caught up in %v; %d keys at the end, total %v",
		old.id, restored, time.Since(reopened).Round(time.Millisecond), ref.store.DB().Len(), time.Since(start).Round(time.Millisecond))

	servers, err := leader.group.Servers()
	if err != nil || len(servers) != 3 {
		t.Errorf("configuration %v, %v", servers, err)
	}
	if got := old.group.Leader(); got != leader.id {
		t.Errorf("the reopened node sees leader %q, want %s", got, leader.id)
	}
}
