package rediscluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flotilla-db/flotilla/test/chaos"
	"github.com/flotilla-db/flotilla/test/localcluster"
)

// requireRedis makes sure redis-server and redis-cli are installed,
// installing Debian's packages when missing and run as root (as `make
// tools` does), and skips the test only when that is impossible.
var installOnce sync.Once

func requireRedis(t *testing.T) {
	t.Helper()
	have := func() bool {
		_, err1 := exec.LookPath("redis-server")
		_, err2 := exec.LookPath("redis-cli")
		return err1 == nil && err2 == nil
	}
	if have() {
		return
	}
	installOnce.Do(func() {
		if os.Geteuid() != 0 {
			return
		}
		if _, err := exec.LookPath("apt-get"); err != nil {
			return
		}
		cmd := exec.Command("sh", "-c", "apt-get update -qq && apt-get install -y -qq redis-server redis-tools")
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Logf("apt-get install redis-server redis-tools: %v\n%s", err, out)
		}
	})
	if !have() {
		t.Skip("redis-server and redis-cli are not installed and could not be installed here: run `make tools` (apt-get install redis-server redis-tools)")
	}
}

func startCluster(t *testing.T, opts Options) *Cluster {
	t.Helper()
	requireRedis(t)
	if runtime.GOOS != "linux" {
		t.Skip("needs Linux: loopback addresses other than 127.0.0.1")
	}
	opts.BaseDir = t.TempDir()
	begin := time.Now()
	c, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	t.Logf("cluster of %d nodes on port %d formed in %s", c.Nodes(), c.Port(), time.Since(begin).Round(time.Millisecond))
	return c
}

func shards(t *testing.T, c *Cluster) []chaos.ShardInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := c.Shards(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func waitHealthy(t *testing.T, c *Cluster, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := c.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond every 50 ms until it holds, failing the test after
// timeout; it returns how long that took.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) time.Duration {
	t.Helper()
	begin := time.Now()
	for !cond() {
		if time.Since(begin) > timeout {
			t.Fatalf("%s: not after %s", what, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(begin)
}

// writeAndRead sets keys prefix0..prefix<n-1>, retrying each for a while
// (go-redis keeps dialling a dead master until its slot map is reloaded, so
// the test reloads it after an error), and then reads them back.
func writeAndRead(t *testing.T, rdb *redis.ClusterClient, prefix string, n int) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		k := fmt.Sprintf("%s%d", prefix, i)
		var err error
		for try := 0; try < 50; try++ {
			if err = rdb.Set(ctx, k, k, 0).Err(); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
			rdb.ReloadState(ctx)
		}
		if err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
	}
	for i := range n {
		k := fmt.Sprintf("%s%d", prefix, i)
		if v, err := rdb.Get(ctx, k).Result(); err != nil || v != k {
			t.Fatalf("GET %s = %q, %v; want %q", k, v, err, k)
		}
	}
}

func newClient(c *Cluster) *redis.ClusterClient {
	return redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:        c.Addrs(),
		DialTimeout:  500 * time.Millisecond,
		ReadTimeout:  time.Second,
		WriteTimeout: time.Second,
	})
}

// TestCluster walks a plain Redis Cluster (no persistence) through every
// fault of the drills' interface.
func TestCluster(t *testing.T) {
	t.Parallel()
	const nodeTimeout = 2 * time.Second
	c := startCluster(t, Options{NodeTimeout: nodeTimeout})
	ctx := context.Background()

	if c.Name() != "redis-cluster" || c.Nodes() != 6 || c.NodeIP(5) != "127.0.0.26" || c.NodeZone(4) != "zone-b" {
		t.Fatalf("Name %q, Nodes %d, NodeIP(5) %q, NodeZone(4) %q", c.Name(), c.Nodes(), c.NodeIP(5), c.NodeZone(4))
	}
	if _, err := c.ConfigLeader(ctx); !errors.Is(err, chaos.ErrUnsupported) {
		t.Errorf("ConfigLeader: %v, want chaos.ErrUnsupported", err)
	}
	initial := shards(t, c)
	checkShape(t, c, initial)
	checkSockets(t, c)

	rdb := newClient(c)
	defer rdb.Close()
	writeAndRead(t, rdb, "a", 200)

	// Kill the master of shard 0: its replica takes over once the others
	// agree it failed, after cluster-node-timeout.
	old := initial[0].Leader
	if err := c.Kill(old); err != nil {
		t.Fatal(err)
	}
	if s := shards(t, c); s[0].Leader != -1 && s[0].Leader != old {
		t.Logf("shard 0 already failed over: %+v", s[0])
	} else if s[0].Leader != -1 {
		t.Errorf("right after killing node %d, shard 0 = %+v, want Leader -1", old, s[0])
	}
	took := waitFor(t, "a replica takes over shard 0", nodeTimeout+10*time.Second, func() bool {
		s, err := c.Shards(ctx)
		return err == nil && s[0].Leader >= 0 && s[0].Leader != old
	})
	t.Logf("node %d killed: a replica took over in %s (cluster-node-timeout %s)", old, took.Round(time.Millisecond), nodeTimeout)
	waitHealthy(t, c, 20*time.Second)
	promoted := shards(t, c)[0].Leader
	writeAndRead(t, rdb, "b", 100)

	// Restarted with its nodes.conf, it rejoins as the replica of the node
	// that replaced it.
	if err := c.Restart(old); err != nil {
		t.Fatal(err)
	}
	waitFor(t, fmt.Sprintf("node %d rejoins as a replica of shard 0", old), 20*time.Second, func() bool {
		s, err := c.Shards(ctx)
		return err == nil && s[0].Leader == promoted && len(s[0].Replicas) == 1 && s[0].Replicas[0] == old
	})
	waitHealthy(t, c, 20*time.Second)
	waitFor(t, fmt.Sprintf("node %d in sync with its master", old), 20*time.Second, func() bool {
		info, err := localcluster.Do(c.Addr(old), time.Second, "INFO", "replication")
		return err == nil && strings.Contains(info, "master_link_status:up")
	})

	// A manual failover gives shard 0 back to it.
	fctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	err := c.Failover(fctx, 0)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "shard 0 led by its first master again", 10*time.Second, func() bool {
		s, err := c.Shards(ctx)
		return err == nil && s[0].Leader == old
	})
	waitHealthy(t, c, 20*time.Second)
	writeAndRead(t, rdb, "c", 100)

	// A paused replica answers nothing until resumed.
	r := shards(t, c)[1].Replicas[0]
	if err := c.Pause(r); err != nil {
		t.Fatal(err)
	}
	if _, err := localcluster.Do(c.Addr(r), 300*time.Millisecond, "PING"); err == nil {
		t.Errorf("paused node %d answered PING", r)
	}
	waitHealthy(t, c, 10*time.Second) // it is left out
	if err := c.Failover(ctx, 1); !errors.Is(err, chaos.ErrUnsupported) {
		t.Errorf("Failover of shard 1 with its replica paused: %v, want chaos.ErrUnsupported", err)
	}
	if err := c.Resume(r); err != nil {
		t.Fatal(err)
	}
	if reply, err := localcluster.Do(c.Addr(r), time.Second, "PING"); err != nil || reply != "PONG" {
		t.Errorf("resumed node %d: PING = %q, %v", r, reply, err)
	}
	if err := c.Kill(r); err != nil {
		t.Fatal(err)
	}
	if err := c.Pause(r); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Pause of a killed node: %v, want ErrNotRunning", err)
	}

	// All nodes killed at once come back as the same cluster (empty:
	// nothing was persisted, save for the replicas' last full sync).
	if err := c.RestartAll(); err != nil {
		t.Fatal(err)
	}
	waitHealthy(t, c, 30*time.Second)
	rdb2 := newClient(c)
	defer rdb2.Close()
	writeAndRead(t, rdb2, "d", 100)

	pids := c.pids()
	if len(pids) != 6 {
		t.Fatalf("%d processes running, want 6", len(pids))
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("pid %d still exists after Close (kill -0: %v)", pid, err)
		}
	}
	if err := c.Restart(0); !errors.Is(err, ErrClosed) {
		t.Errorf("Restart after Close: %v, want ErrClosed", err)
	}
}

// TestAppendFsyncAlways checks that with appendfsync always every
// acknowledged write survives a restart of the whole cluster.
func TestAppendFsyncAlways(t *testing.T) {
	t.Parallel()
	// Its own addresses: the CI drill (test/chaos) runs beside this package
	// on 127.0.0.31-33 and cuts links by address, whatever the port.
	c := startCluster(t, Options{FirstIP: "127.0.0.141", AppendFsyncAlways: true, NodeTimeout: 2 * time.Second})
	checkShape(t, c, shards(t, c))
	rdb := newClient(c)
	defer rdb.Close()
	writeAndRead(t, rdb, "k", 300)
	if err := c.RestartAll(); err != nil {
		t.Fatal(err)
	}
	waitHealthy(t, c, 30*time.Second)
	rdb2 := newClient(c)
	defer rdb2.Close()
	ctx := context.Background()
	for i := range 300 {
		k := fmt.Sprintf("k%d", i)
		if v, err := rdb2.Get(ctx, k).Result(); err != nil || v != k {
			t.Fatalf("after RestartAll, GET %s = %q, %v; want %q", k, v, err, k)
		}
	}
}

// checkShape checks the cluster that Start makes: 3 masters, nodes 0-2,
// covering all slots, each with one replica in another zone.
func checkShape(t *testing.T, c *Cluster, s []chaos.ShardInfo) {
	t.Helper()
	if len(s) != 3 {
		t.Fatalf("%d shards, want 3: %+v", len(s), s)
	}
	next := 0
	for i, sh := range s {
		if sh.Leader != i {
			t.Errorf("shard %d led by node %d, want %d", i, sh.Leader, i)
		}
		if len(sh.Replicas) != 1 {
			t.Errorf("shard %d has replicas %v, want one", i, sh.Replicas)
			continue
		}
		if r := sh.Replicas[0]; c.NodeZone(r) == c.NodeZone(sh.Leader) {
			t.Errorf("shard %d: master %d and replica %d both in %s", i, sh.Leader, r, c.NodeZone(r))
		}
		for _, r := range sh.Slots {
			if r[0] != next {
				t.Errorf("shard %d: slots %v, want them to start at %d", i, sh.Slots, next)
			}
			next = r[1] + 1
		}
	}
	if next != Slots {
		t.Errorf("shards cover slots up to %d, want %d", next, Slots)
	}
}

// checkSockets checks that every TCP socket of every node, listening or
// connected (the cluster bus, replication), is on the node's own address,
// so a partition by address cuts exactly that node.
func checkSockets(t *testing.T, c *Cluster) {
	t.Helper()
	if runtime.GOOS != "linux" {
		return
	}
	local := map[string]string{} // socket inode → local IP
	for _, file := range []string{"/proc/net/tcp"} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 {
				continue
			}
			hexIP, _, _ := strings.Cut(f[1], ":")
			v, err := strconv.ParseUint(hexIP, 16, 32)
			if err != nil {
				continue
			}
			// Little-endian on every Linux this runs on.
			local[f[9]] = fmt.Sprintf("%d.%d.%d.%d", v&0xff, v>>8&0xff, v>>16&0xff, v>>24)
		}
	}
	for i, pid := range c.pids() {
		fds, err := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid))
		if err != nil {
			t.Fatal(err)
		}
		var seen int
		for _, fd := range fds {
			target, err := os.Readlink(fd)
			if err != nil || !strings.HasPrefix(target, "socket:[") {
				continue
			}
			ip, ok := local[strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]")]
			if !ok {
				continue // not TCP over IPv4: unix sockets, pipes
			}
			seen++
			if ip != c.NodeIP(i) {
				t.Errorf("node %d (%s) has a TCP socket on %s", i, c.NodeIP(i), ip)
			}
		}
		// Two listeners (clients, bus) and at least a bus link per peer.
		if seen < 2+c.Nodes()-1 {
			t.Errorf("node %d has %d TCP sockets, want at least %d", i, seen, 2+c.Nodes()-1)
		}
	}
}

// pids are the process ids of the running nodes, by node index.
func (c *Cluster) pids() map[int]int {
	out := map[int]int{}
	for _, n := range c.nodes {
		if p := n.current(); p != nil {
			out[n.index] = p.PID()
		}
	}
	return out
}
