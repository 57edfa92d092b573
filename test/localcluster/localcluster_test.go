package localcluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// flotillaBin is the binary under test: $FLOTILLA_BIN, or one built by
// TestMain from this checkout.
var flotillaBin string

func TestMain(m *testing.M) {
	flotillaBin = os.Getenv("FLOTILLA_BIN")
	var dir string
	if flotillaBin == "" {
		var err error
		if dir, err = os.MkdirTemp("", "localcluster-bin"); err != nil {
			panic(err)
		}
		flotillaBin = filepath.Join(dir, "flotilla")
		out, err := exec.Command("go", "build", "-o", flotillaBin, "github.com/flotilla-db/flotilla/cmd/flotilla").CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "build flotilla: %v\n%s", err, out)
			os.Exit(1)
		}
	}
	code := m.Run()
	if dir != "" {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

func TestArgs(t *testing.T) {
	base := t.TempDir()
	c, err := New(Options{Bin: "true", Nodes: 4, Zones: 3, Port: 6379, BaseDir: base, MetricsPort: -1,
		Args: []string{"--cluster-replicas", "3"}, ExtraArgs: [][]string{nil, {"--loglevel", "debug"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got, want := c.Ports(), (Ports{RESP: 6379, Cluster: 16379, Gossip: 7946, Metrics: 0}); got != want {
		t.Errorf("Ports() = %+v, want %+v", got, want)
	}
	if got, want := c.Addrs(), []string{"127.0.0.11:6379", "127.0.0.12:6379", "127.0.0.13:6379", "127.0.0.14:6379"}; !slices.Equal(got, want) {
		t.Errorf("Addrs() = %v, want %v", got, want)
	}
	tests := []struct {
		node int
		want string
		zone string
	}{
		{0, "--bind 127.0.0.11 --port 6379 --dir " + base + "/node1 --loglevel notice --cluster-enabled yes --cluster-port 16379 --gossip-port 7946 --metrics-port 0 --zone zone-a --bootstrap-expect 4 --cluster-replicas 3", "zone-a"},
		{1, "--bind 127.0.0.12 --port 6379 --dir " + base + "/node2 --loglevel notice --cluster-enabled yes --cluster-port 16379 --gossip-port 7946 --metrics-port 0 --zone zone-b --bootstrap-expect 4 --join 127.0.0.11:7946 --cluster-replicas 3 --loglevel debug", "zone-b"},
		{3, "--bind 127.0.0.14 --port 6379 --dir " + base + "/node4 --loglevel notice --cluster-enabled yes --cluster-port 16379 --gossip-port 7946 --metrics-port 0 --zone zone-a --bootstrap-expect 4 --join 127.0.0.11:7946 --cluster-replicas 3", "zone-a"},
	}
	for _, tt := range tests {
		info := c.Node(tt.node)
		if got := strings.Join(info.Args, " "); got != tt.want {
			t.Errorf("node %d args:\n got %s\nwant %s", tt.node, got, tt.want)
		}
		if info.Zone != tt.zone || info.Running || info.PID != 0 {
			t.Errorf("node %d: %+v", tt.node, info)
		}
		if _, err := os.Stat(info.DataDir); err != nil {
			t.Errorf("node %d data dir: %v", tt.node, err)
		}
	}

	s, err := New(Options{Bin: "true", Nodes: 1, Standalone: true, Port: 7000, BaseDir: t.TempDir(), LogDir: base + "/logs"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	info := s.Node(0)
	if got, want := strings.Join(info.Args, " "), "--bind 127.0.0.11 --port 7000 --dir "+s.Dir()+"/node1 --loglevel notice --cluster-enabled no"; got != want {
		t.Errorf("standalone args:\n got %s\nwant %s", got, want)
	}
	if want := base + "/logs/node1/flotilla.log"; info.LogFile != want {
		t.Errorf("LogFile = %s, want %s", info.LogFile, want)
	}
}

// TestArgsInitialJoinAll: with Initial, every node expects the initial
// nodes to form the cluster; with JoinAll, each names every other node as
// a gossip seed.
func TestArgsInitialJoinAll(t *testing.T) {
	base := t.TempDir()
	c, err := New(Options{Bin: "true", Nodes: 3, Initial: 2, JoinAll: true, Port: 6379, BaseDir: base, MetricsPort: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i, want := range []string{
		"--bootstrap-expect 2 --join 127.0.0.12:7946 127.0.0.13:7946",
		"--bootstrap-expect 2 --join 127.0.0.11:7946 127.0.0.13:7946",
		"--bootstrap-expect 2 --join 127.0.0.11:7946 127.0.0.12:7946",
	} {
		args := c.Node(i).Args
		if got := strings.Join(args[len(args)-4:], " "); got != want {
			t.Errorf("node %d args end %q, want %q", i, got, want)
		}
	}
	// Wipe empties a stopped node's data directory.
	dir := c.Node(2).DataDir
	if err := os.WriteFile(dir+"/node-id", []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.Wipe(2); err != nil {
		t.Fatal(err)
	}
	if ents, err := os.ReadDir(dir); err != nil || len(ents) != 0 {
		t.Errorf("after Wipe: %v, %v", ents, err)
	}
}

func TestIPsAndZones(t *testing.T) {
	ips, err := IPs("127.0.0.21", 3)
	if err != nil || !slices.Equal(ips, []string{"127.0.0.21", "127.0.0.22", "127.0.0.23"}) {
		t.Errorf("IPs = %v, %v", ips, err)
	}
	if _, err := IPs("127.0.0.250", 10); err == nil {
		t.Error("IPs past .254: no error")
	}
	if _, err := IPs("::1", 1); err == nil {
		t.Error("IPs of an IPv6 address: no error")
	}
	for k, want := range map[int]string{0: "zone-a", 2: "zone-c", 25: "zone-z", 26: "zone-27"} {
		if got := ZoneName(k); got != want {
			t.Errorf("ZoneName(%d) = %s, want %s", k, got, want)
		}
	}
}

func TestFreePort(t *testing.T) {
	t.Parallel()
	ips := []string{"127.0.0.11", "127.0.0.12"}
	p, err := FreePort(ips, 10000)
	if err != nil {
		t.Fatal(err)
	}
	q, err := FreePort(ips, 10000)
	if err != nil {
		t.Fatal(err)
	}
	if p == q || p+10000 == q || q+10000 == p {
		t.Errorf("FreePort returned overlapping ports %d and %d", p, q)
	}
	for _, ip := range ips {
		for _, port := range []int{p, p + 10000} {
			ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
			if err != nil {
				t.Errorf("port %d on %s not free: %v", port, ip, err)
				continue
			}
			ln.Close()
		}
	}
}

// TestStandalone drives three standalone nodes (--cluster-enabled no)
// through every lifecycle operation, so the package is tested without the
// cluster code.
func TestStandalone(t *testing.T) {
	t.Parallel()
	c, err := Start(Options{Bin: flotillaBin, Nodes: 3, Standalone: true, BaseDir: t.TempDir(), StopTimeout: 10 * time.Second})
	if err != nil {
		if strings.Contains(err.Error(), "cluster-enabled") {
			t.Skipf("this flotilla does not run standalone yet: %v", err)
		}
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.WaitReady(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	clients := make([]*redis.Client, c.Len())
	for i, addr := range c.Addrs() {
		if want := fmt.Sprintf("127.0.0.%d:%d", 11+i, c.Ports().RESP); addr != want {
			t.Errorf("Addr %d = %s, want %s", i, addr, want)
		}
		// Timeouts are generous: this machine may be busy with other tests.
		clients[i] = redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 5 * time.Second, ReadTimeout: 5 * time.Second})
		defer clients[i].Close()
	}
	ping := func(i int) error { return clients[i].Ping(ctx).Err() }
	// pingQuick is for nodes expected not to answer.
	pingQuick := func(i int) error {
		cl := redis.NewClient(&redis.Options{Addr: c.Addr(i), MaxRetries: -1, DialTimeout: 300 * time.Millisecond, ReadTimeout: 300 * time.Millisecond})
		defer cl.Close()
		return cl.Ping(ctx).Err()
	}
	for i := range clients {
		if err := ping(i); err != nil {
			t.Fatalf("PING node %d: %v", i, err)
		}
	}
	if err := clients[1].Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}

	// Kill and restart: a new process on the same address, empty (standalone
	// nodes keep nothing), while the others stay ready.
	pid := c.Node(1).PID
	if err := c.Kill(1); err != nil {
		t.Fatal(err)
	}
	if info := c.Node(1); info.Running || info.PID != 0 || info.ExitErr == nil {
		t.Errorf("after Kill: %+v", info)
	}
	if err := pingQuick(1); err == nil {
		t.Error("a killed node answers PING")
	}
	if err := c.WaitReady(5 * time.Second); err != nil {
		t.Errorf("WaitReady with a killed node: %v", err)
	}
	if err := c.Restart(1); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitNodeReady(1, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if info := c.Node(1); !info.Running || info.PID == pid || info.PID == 0 {
		t.Errorf("after Restart: %+v (old pid %d)", info, pid)
	}
	if got, err := clients[1].Get(ctx, "k").Result(); err != redis.Nil {
		t.Errorf("GET after restart = %q, %v; want nil", got, err)
	}

	// Pause and resume.
	if err := c.Pause(0); err != nil {
		t.Fatal(err)
	}
	if !c.Node(0).Paused {
		t.Error("Node(0).Paused is false after Pause")
	}
	if err := pingQuick(0); err == nil {
		t.Error("a paused node answers PING")
	}
	if err := c.Resume(0); err != nil {
		t.Fatal(err)
	}
	if err := ping(0); err != nil {
		t.Errorf("PING after Resume: %v", err)
	}

	// SIGTERM ends a node cleanly, even a paused one.
	if err := c.Pause(2); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(2); err != nil {
		t.Fatal(err)
	}
	if info := c.Node(2); info.Running || info.ExitErr != nil {
		t.Errorf("after Stop: running %v, exit %v", info.Running, info.ExitErr)
	}

	// A node that dies behind the cluster's back fails WaitReady at once.
	if err := syscall.Kill(c.Node(0).PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for c.Node(0).Running {
		time.Sleep(10 * time.Millisecond)
	}
	if err := c.WaitReady(5 * time.Second); !errors.Is(err, ErrNodeExited) {
		t.Errorf("WaitReady after a crash = %v, want ErrNodeExited", err)
	}

	if err := c.RestartAll(); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitReady(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	var pids []int
	for i := range clients {
		if err := ping(i); err != nil {
			t.Errorf("PING node %d after RestartAll: %v", i, err)
		}
		pids = append(pids, c.Node(i).PID)
	}
	if !strings.Contains(c.LogTail(0, 100), "=== localcluster") {
		t.Errorf("log of node 1 has no start marker:\n%s", c.LogTail(0, 100))
	}

	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("pid %d still exists after Close: %v", pid, err)
		}
	}
	if err := c.Restart(0); !errors.Is(err, ErrClosed) {
		t.Errorf("Restart after Close = %v, want ErrClosed", err)
	}
}
