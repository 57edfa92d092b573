package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flotilla-db/flotilla/cluster"
	"github.com/flotilla-db/flotilla/engine"
	"github.com/flotilla-db/flotilla/test/localcluster"
)

// Membership tests: nodes join and leave a running cluster. They run on
// 127.0.0.101-106 and 127.0.0.111-116, apart from the other tests.

// newMemberCluster prepares a cluster of nodes processes in 3 zones (node
// i in zone i%3) without starting any; the first expect nodes form it.
func newMemberCluster(t *testing.T, nodes, expect int, firstIP string, args ...string) *localcluster.Cluster {
	t.Helper()
	opts := localcluster.Options{
		Bin: binary, Nodes: nodes, Zones: 3, FirstIP: firstIP, MetricsPort: -1,
		Args:        append([]string{"--bootstrap-expect", strconv.Itoa(expect)}, args...),
		StopTimeout: 3 * time.Minute, // a drain moves replicas first
	}
	c, err := localcluster.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for i := 0; i < c.Len(); i++ {
				t.Logf("node%d log:\n%s", i+1, logDigest(c.LogTail(i, 5000), 40))
			}
		}
		c.Close()
	})
	return c
}

// logDigest returns the last n lines of log that are not a Raft leader's
// retries towards an unreachable peer (which can fill a whole tail after
// the peer left), and how many of those it skipped.
func logDigest(log string, n int) string {
	lines := strings.Split(strings.TrimRight(log, "\n"), "\n")
	var keep []string
	skipped := 0
	for i := len(lines) - 1; i >= 0 && len(keep) < n; i-- {
		if strings.Contains(lines[i], "failed to heartbeat to") || strings.Contains(lines[i], "failed to appendEntries to") {
			skipped++
			continue
		}
		keep = append(keep, lines[i])
	}
	slices.Reverse(keep)
	return fmt.Sprintf("(%d lines of failed heartbeats and appends among them left out)\n%s", skipped, strings.Join(keep, "\n"))
}

// readTopology reads the topology node i last saved.
func readTopology(c *localcluster.Cluster, i int) (*cluster.Topology, error) {
	b, err := os.ReadFile(filepath.Join(c.Node(i).DataDir, "topology.json"))
	if err != nil {
		return nil, err
	}
	var t cluster.Topology
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

// shardDirs returns the shards node i keeps data for.
func shardDirs(c *localcluster.Cluster, i int) []int {
	ents, _ := os.ReadDir(filepath.Join(c.Node(i).DataDir, "raft"))
	var out []int
	for _, e := range ents {
		if id, ok := strings.CutPrefix(e.Name(), "shard-"); ok {
			n, _ := strconv.Atoi(id)
			out = append(out, n)
		}
	}
	sort.Ints(out)
	return out
}

// epochWatch reads, while a test runs, every running node's topology and
// CLUSTER SLOTS, and records a violation of "every slot owned by exactly
// one shard" in any configuration epoch seen.
type epochWatch struct {
	c      *localcluster.Cluster
	stop   chan struct{}
	done   sync.WaitGroup
	mu     sync.Mutex
	epochs map[uint64]bool
	errs   []string
}

func watchEpochs(c *localcluster.Cluster) *epochWatch {
	w := &epochWatch{c: c, stop: make(chan struct{}), epochs: map[uint64]bool{}}
	w.done.Add(1)
	go func() {
		defer w.done.Done()
		for {
			select {
			case <-w.stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			for i := 0; i < c.Len(); i++ {
				if !c.Node(i).Running {
					continue
				}
				if t, err := readTopology(c, i); err == nil {
					w.mu.Lock()
					if !w.epochs[t.Epoch] {
						w.epochs[t.Epoch] = true
						if err := t.Validate(); err != nil {
							w.errs = append(w.errs, fmt.Sprintf("node%d epoch %d: %v", i+1, t.Epoch, err))
						}
					}
					w.mu.Unlock()
				}
				if err := checkSlotsOnce(c.Addr(i)); err != nil {
					w.mu.Lock()
					w.errs = append(w.errs, fmt.Sprintf("node%d CLUSTER SLOTS: %v", i+1, err))
					w.mu.Unlock()
				}
			}
		}
	}()
	return w
}

// checkSlotsOnce checks that CLUSTER SLOTS at addr gives every slot to one
// range exactly (a node that does not answer is skipped).
func checkSlotsOnce(addr string) error {
	n := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 300 * time.Millisecond, ReadTimeout: time.Second})
	defer n.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	slots, err := n.ClusterSlots(ctx).Result()
	if err != nil || len(slots) == 0 {
		return nil // not up, or not in the cluster yet
	}
	var owned [engine.NumSlots]int
	for _, s := range slots {
		for x := s.Start; x <= s.End; x++ {
			owned[x]++
		}
	}
	for x, k := range owned {
		if k != 1 {
			return fmt.Errorf("slot %d in %d ranges", x, k)
		}
	}
	return nil
}

func (w *epochWatch) halt(t *testing.T) {
	t.Helper()
	close(w.stop)
	w.done.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	t.Logf("%d configuration epochs seen, each with every slot owned by exactly one shard", len(w.epochs))
	for _, e := range w.errs {
		t.Error(e)
	}
}

// waitPlaced waits until the running nodes agree on a topology of want
// nodes (none draining) in which every shard has replicas replicas on
// running nodes (in distinct zones when zones is set), the preferred
// leaders are spread evenly over the running nodes, and every running node keeps data for
// exactly the shards it holds: the controller's placement and the groups'
// reconciliation are done. (One shard per node: the tests here run with
// cluster-shards 0.)
func waitPlaced(t *testing.T, c *localcluster.Cluster, want, replicas int, zones bool, timeout time.Duration) *cluster.Topology {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var why string
	for {
		topo, err := placedTopology(c, want, replicas, zones)
		if err == nil {
			return topo
		}
		why = err.Error()
		if time.Now().After(deadline) {
			t.Fatalf("placement not done after %v: %s", timeout, why)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func placedTopology(c *localcluster.Cluster, want, replicas int, zones bool) (*cluster.Topology, error) {
	var topo *cluster.Topology
	running := map[string]int{}
	for i := 0; i < c.Len(); i++ {
		if !c.Node(i).Running {
			continue
		}
		t, err := readTopology(c, i)
		if err != nil {
			return nil, fmt.Errorf("node%d: %v", i+1, err)
		}
		if topo != nil && t.Epoch != topo.Epoch {
			return nil, fmt.Errorf("nodes at epochs %d and %d", topo.Epoch, t.Epoch)
		}
		topo = t
	}
	if topo == nil {
		return nil, fmt.Errorf("no node running")
	}
	for i := 0; i < c.Len(); i++ {
		if c.Node(i).Running {
			for _, n := range topo.Nodes {
				if n.Addr == c.Addr(i) {
					running[n.ID] = i
				}
			}
		}
	}
	if len(topo.Nodes) != want || len(topo.Draining) > 0 || len(topo.Shards) != want || len(topo.Moves) > 0 {
		return nil, fmt.Errorf("epoch %d: %d nodes, %d shards, draining %v, %d slot moves", topo.Epoch, len(topo.Nodes), len(topo.Shards), topo.Draining, len(topo.Moves))
	}
	// Slots spread evenly (rebalance, by live moves).
	for _, sh := range topo.Shards {
		n := 0
		for _, r := range sh.Slots {
			n += r.End - r.Start + 1
		}
		if n < 16384/len(topo.Shards) || n > 16384/len(topo.Shards)+1 {
			return nil, fmt.Errorf("epoch %d: shard %d has %d slots", topo.Epoch, sh.ID, n)
		}
	}
	zoneOf := map[string]string{}
	for _, n := range topo.Nodes {
		zoneOf[n.ID] = n.Zone
	}
	holds := map[int][]int{}
	leads := map[string]int{}
	maxLeads := (len(topo.Shards) + len(running) - 1) / len(running)
	for _, sh := range topo.Shards {
		if leads[sh.Replicas[0]]++; leads[sh.Replicas[0]] > maxLeads {
			return nil, fmt.Errorf("epoch %d: %s preferred leader of %d shards", topo.Epoch, sh.Replicas[0], leads[sh.Replicas[0]])
		}
		if len(sh.Replicas) != replicas || len(sh.Bootstrap) > 0 {
			return nil, fmt.Errorf("epoch %d: shard %d replicas %v bootstrap %v", topo.Epoch, sh.ID, sh.Replicas, sh.Bootstrap)
		}
		zs := map[string]bool{}
		for _, r := range sh.Replicas {
			i, ok := running[r]
			if !ok {
				return nil, fmt.Errorf("epoch %d: shard %d has a replica on %s, not running", topo.Epoch, sh.ID, r)
			}
			holds[i] = append(holds[i], int(sh.ID))
			zs[zoneOf[r]] = true
		}
		if zones && len(zs) != len(sh.Replicas) {
			return nil, fmt.Errorf("epoch %d: shard %d replicas %v share zones", topo.Epoch, sh.ID, sh.Replicas)
		}
	}
	for _, i := range running {
		h := holds[i]
		sort.Ints(h)
		if d := shardDirs(c, i); !slices.Equal(d, h) {
			return nil, fmt.Errorf("epoch %d: node%d keeps shards %v, holds %v", topo.Epoch, i+1, d, h)
		}
	}
	return topo, nil
}

func addrsOf(c *localcluster.Cluster, idx ...int) []string {
	var out []string
	for _, i := range idx {
		out = append(out, c.Addr(i))
	}
	return out
}

// TestGrowAndShrink grows a 3-node cluster to 6 nodes, one node at a time,
// and shrinks it back to 3 by draining nodes (SIGTERM with shutdown-drain
// yes), while clients write; every acknowledged write is read back, and
// every slot is owned by exactly one shard in every epoch seen. Each new
// node gets a shard and replicas, and slots rebalance to the new shard by
// live moves; each drained node's replicas are rebuilt elsewhere, and a
// shard is retired (its slots moved to the others, then dropped).
func TestGrowAndShrink(t *testing.T) {
	c := newMemberCluster(t, 6, 3, "127.0.0.101", "--shutdown-drain", "yes")
	if err := c.StartNodes(0, 1, 2); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitReady(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, 8*time.Minute)
	waitPlaced(t, c, 3, 3, true, 30*time.Second)
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs(), MaxRedirects: 8, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second})
	t.Cleanup(func() { cc.Close() })
	waitMastersSpread(t, ctx, cc, 3)
	// Data to copy to the new replicas (snapshots, not just logs).
	preload := preloadKeys(t, ctx, cc, "pre", 20000)
	watch := watchEpochs(c)
	w := startWriters(cc, 8, "grow")

	for i := 3; i < 6; i++ {
		start := time.Now()
		if err := c.StartNodes(i); err != nil {
			t.Fatal(err)
		}
		topo := waitPlaced(t, c, i+1, 3, true, 90*time.Second)
		t.Logf("node%d joined: %d nodes, %d shards, placement done in %v (epoch %d)", i+1, len(topo.Nodes), len(topo.Shards), time.Since(start).Round(100*time.Millisecond), topo.Epoch)
	}
	if err := c.WaitReady(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	// Shrink: drain the three original nodes (they hold the slots and the
	// configuration group's first voters).
	for _, i := range []int{0, 1, 2} {
		start := time.Now()
		if err := stopDumping(c, i, 90*time.Second); err != nil {
			t.Fatalf("node%d: %v\n%s", i+1, err, c.LogTail(i, 400))
		}
		if _, err := os.Stat(filepath.Join(c.Node(i).DataDir, "removed")); err != nil {
			t.Fatalf("node%d stopped without being removed: %v", i+1, err)
		}
		topo := waitPlaced(t, c, 5-i, 3, true, 90*time.Second)
		t.Logf("node%d drained and left: %d nodes, %d shards, in %v (epoch %d)", i+1, len(topo.Nodes), len(topo.Shards), time.Since(start).Round(100*time.Millisecond), topo.Epoch)
	}
	time.Sleep(time.Second)
	acked := w.halt()
	watch.halt(t)
	t.Logf("%d writes acknowledged, %d failed or retried", len(acked), w.fails.Load())
	cc2 := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrsOf(c, 3, 4, 5), MaxRedirects: 8})
	defer cc2.Close()
	checkAcked(t, ctx, cc2, append(acked, preload...))
}

// stopDumping stops node i (SIGTERM) and waits for it to exit; if it has
// not after d, it sends SIGQUIT, so that the Go runtime writes every
// goroutine's stack to its log, and returns an error.
func stopDumping(c *localcluster.Cluster, i int, d time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- c.Stop(i) }()
	select {
	case err := <-done:
		if err == nil && c.Node(i).ExitErr != nil {
			err = fmt.Errorf("exited with %v", c.Node(i).ExitErr)
		}
		return err
	case <-time.After(d):
		if pid := c.Node(i).PID; pid > 0 {
			syscall.Kill(pid, syscall.SIGQUIT)
		}
		<-done
		return fmt.Errorf("did not exit within %v of SIGTERM; goroutines dumped", d)
	}
}

// preloadKeys writes n keys (value = key) through pipelines and returns
// them.
func preloadKeys(t *testing.T, ctx context.Context, cc *redis.ClusterClient, prefix string, n int) []string {
	t.Helper()
	var keys []string
	for i := 0; i < n; i += 1000 {
		var batch [][2]string
		for j := i; j < min(n, i+1000); j++ {
			k := prefix + ":" + strconv.Itoa(j)
			batch = append(batch, [2]string{k, k})
			keys = append(keys, k)
		}
		setAll(ctx, t, cc, batch)
	}
	return keys
}

// TestReplaceDeadNode kills a node of a 4-node cluster for longer than
// cluster-replace-after (3 s here): its replicas are rebuilt on the other
// nodes, while clients write. When it comes back, it drops its stale
// replicas and gets its share again.
func TestReplaceDeadNode(t *testing.T) {
	c := newMemberCluster(t, 4, 4, "127.0.0.111", "--cluster-replace-after", "3000")
	if err := c.StartAll(); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitReady(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, 5*time.Minute)
	waitPlaced(t, c, 4, 3, true, 30*time.Second)
	cc := clusterClient(t, c)
	waitMastersSpread(t, ctx, cc, 4)
	preload := preloadKeys(t, ctx, cc, "pre", 10000)
	watch := watchEpochs(c)
	w := startWriters(cc, 8, "replace")
	time.Sleep(time.Second)

	const victim = 1
	start := time.Now()
	if err := c.Kill(victim); err != nil {
		t.Fatal(err)
	}
	// The dead node stays a node of the cluster; its replicas are on the
	// three others (sharing zones: it was zone-b's only node).
	waitPlaced(t, c, 4, 3, false, 90*time.Second)
	t.Logf("node%d killed: its replicas rebuilt on the other nodes %v after the kill (grace 3 s)", victim+1, time.Since(start).Round(100*time.Millisecond))

	start = time.Now()
	if err := c.Restart(victim); err != nil {
		t.Fatal(err)
	}
	waitPlaced(t, c, 4, 3, true, 90*time.Second)
	t.Logf("node%d back: placement in distinct zones again %v after its restart", victim+1, time.Since(start).Round(100*time.Millisecond))
	if err := c.WaitReady(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	acked := w.halt()
	watch.halt(t)
	t.Logf("%d writes acknowledged, %d failed or retried", len(acked), w.fails.Load())
	checkAcked(t, ctx, cc, append(acked, preload...))
}

// TestZoneLoss kills both nodes of one zone of a 6-node, 3-zone cluster
// while clients write, and measures the time from the kill to a write
// acknowledged by every shard. After cluster-replace-after (5 s here) the
// lost replicas are rebuilt on the 4 nodes left; when the zone comes back
// its nodes catch up and placement returns to distinct zones. No
// acknowledged write may be lost.
func TestZoneLoss(t *testing.T) {
	c := newMemberCluster(t, 6, 6, "127.0.0.111", "--cluster-replace-after", "5000")
	if err := c.StartAll(); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitReady(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, 5*time.Minute)
	topo := waitPlaced(t, c, 6, 3, true, 30*time.Second)
	cc := clusterClient(t, c)
	waitMastersSpread(t, ctx, cc, 6)
	preload := preloadKeys(t, ctx, cc, "pre", 10000)
	// A key in each shard.
	probes := map[int]string{}
	for _, sh := range topo.Shards {
		for i := 0; len(sh.Slots) > 0; i++ {
			k := "zprobe" + strconv.Itoa(i)
			if s := int(engine.KeySlotString(k)); s >= sh.Slots[0].Start && s <= sh.Slots[0].End {
				probes[int(sh.ID)] = k
				break
			}
		}
	}
	watch := watchEpochs(c)
	w := startWriters(cc, 8, "zone")
	time.Sleep(time.Second)

	zone := []int{0, 3} // zone-a
	start := time.Now()
	var kill sync.WaitGroup
	for _, i := range zone {
		kill.Add(1)
		go func() {
			defer kill.Done()
			if err := c.Kill(i); err != nil {
				t.Error(err)
			}
		}()
	}
	kill.Wait()
	// Every shard writable: a write to each acknowledged after the kill,
	// through the ClusterClient, and through a plain connection to a
	// surviving node following -MOVED (the cluster's own recovery, apart
	// from the client's slot map reloads).
	var mu sync.Mutex
	times, plain := map[int]time.Duration{}, map[int]time.Duration{}
	var probe sync.WaitGroup
	for id, k := range probes {
		probe.Add(1)
		go func() {
			defer probe.Done()
			addr := c.Addr(1)
			for time.Since(start) < 60*time.Second {
				next, err := setVia(addr, "", time.Second, k, "v")
				if err == nil {
					mu.Lock()
					plain[id] = time.Since(start)
					mu.Unlock()
					return
				}
				if next != addr {
					addr = next
					continue
				}
				addr = c.Addr(1)
				time.Sleep(5 * time.Millisecond)
			}
		}()
		probe.Add(1)
		go func() {
			defer probe.Done()
			for time.Since(start) < 60*time.Second {
				pctx, cancel := context.WithTimeout(ctx, time.Second)
				err := cc.Set(pctx, k, "v", 0).Err()
				cancel()
				if err == nil {
					mu.Lock()
					times[id] = time.Since(start)
					mu.Unlock()
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	probe.Wait()
	var worst, worstPlain time.Duration
	for id := range probes {
		d, ok := times[id]
		dp, okp := plain[id]
		if !ok || !okp {
			t.Fatalf("shard %d not writable 60 s after its zone was lost", id)
		}
		worst, worstPlain = max(worst, d), max(worstPlain, dp)
	}
	t.Logf("zone-a (node1, node4) killed: every shard writable after %v through go-redis ClusterClient (per shard %v), %v through a plain connection following MOVED (per shard %v)",
		worst.Round(time.Millisecond), times, worstPlain.Round(time.Millisecond), plain)

	// After the grace period, 3 replicas again on the 4 nodes left.
	waitPlaced(t, c, 6, 3, false, 90*time.Second)
	t.Logf("zone-a's replicas rebuilt on the other zones %v after the kill (grace 5 s)", time.Since(start).Round(100*time.Millisecond))
	back := time.Now()
	if err := c.StartNodes(zone...); err != nil {
		t.Fatal(err)
	}
	waitPlaced(t, c, 6, 3, true, 120*time.Second)
	t.Logf("zone-a back: replicas in distinct zones again %v after its restart", time.Since(back).Round(100*time.Millisecond))
	if err := c.WaitReady(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	acked := w.halt()
	watch.halt(t)
	t.Logf("%d writes acknowledged, %d failed or retried", len(acked), w.fails.Load())
	checkAcked(t, ctx, cc, append(acked, preload...))
}
