package rediscluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/flotilla-db/flotilla/test/localcluster"
)

// Sentinel errors. Test them with errors.Is.
var (
	// ErrNotInstalled is returned by Start when redis-server or redis-cli
	// is not found: `make tools` (or apt-get install redis-server
	// redis-tools) installs them.
	ErrNotInstalled = errors.New("rediscluster: redis-server or redis-cli not installed")
	// ErrNodeExited is returned when a redis-server ended without being
	// killed through the Cluster (a refused directive, a port in use). The
	// error's text has the end of the node's log.
	ErrNodeExited = errors.New("rediscluster: node exited")
	// ErrNotRunning is returned by Pause and Resume for a node that was
	// killed.
	ErrNotRunning = errors.New("rediscluster: node not running")
	// ErrClosed is returned by operations on a closed Cluster.
	ErrClosed = errors.New("rediscluster: cluster closed")
)

// Options say what cluster to start. The zero value is the plain Redis
// Cluster of the drills: 3 masters, 3 replicas, no persistence, 15 s node
// timeout, in a temporary directory, on a free port.
type Options struct {
	// BaseDir holds node i's directory, BaseDir/node<i+1>: its nodes.conf,
	// AOF and log (redis.log). Start empties these directories first. When
	// BaseDir is empty, a temporary directory is made, and removed by
	// Close.
	BaseDir string
	// FirstIP is node 0's address; node i has the i-th next one.
	// 127.0.0.21 when empty.
	FirstIP string
	// Port is every node's port (the cluster bus is Port+10000). 0 picks a
	// port free on every node address, with its bus port.
	Port int
	// NodeTimeout is cluster-node-timeout, after which an unreachable
	// master is failed over: Redis's 15 s when zero. It is rounded to
	// milliseconds.
	NodeTimeout time.Duration
	// AppendFsyncAlways runs every node with appendonly yes and appendfsync
	// always, so a write is on disk before it is acknowledged. Without it
	// the nodes persist nothing (save "", appendonly no).
	AppendFsyncAlways bool
	// Masters is the number of masters, each with an equal share of the
	// slots: 3 when zero, and at least 3 (redis-cli's minimum).
	Masters int
	// ReplicasPerMaster is the number of replicas of each master: 1 when
	// zero.
	ReplicasPerMaster int

	// Server and CLI are the redis-server and redis-cli binaries, looked up
	// in PATH: "redis-server" and "redis-cli" when empty.
	Server, CLI string
	// StartTimeout bounds how long Start waits for the cluster to form and
	// each node to accept connections after a (re)start: 60 s when zero.
	StartTimeout time.Duration
}

// DefaultFirstIP is the address of node 0 when Options.FirstIP is empty.
// Flotilla's drills start at 127.0.0.11, so the two systems can run side
// by side.
const DefaultFirstIP = "127.0.0.21"

// Zones is the number of zones the nodes are spread over: node i is in
// zone i%Zones.
const Zones = 3

// Cluster is a Redis Cluster of redis-server processes that it started and
// owns. Its methods are safe for concurrent use; operations that start or
// end one node's process (Kill, Restart, Pause, Resume) run one at a time
// per node. Nodes are numbered from 0; node i is named node<i+1>.
type Cluster struct {
	opts    Options
	port    int
	baseDir string
	tempDir bool // baseDir was made by Start: Close removes it
	nodes   []*node

	mu struct {
		sync.Mutex
		closed bool
	}
}

// Start starts the redis-server processes, makes them a cluster, and
// returns once it is healthy (as WaitHealthy says) with every replica
// attached to its master. Callers must defer Close. With Port 0, a start
// that loses its port to another program is retried with another port.
func Start(opts Options) (*Cluster, error) {
	for attempt := 1; ; attempt++ {
		c, err := start(opts)
		if err == nil {
			return c, nil
		}
		if opts.Port != 0 || attempt == 3 || !strings.Contains(err.Error(), "Address already in use") {
			return nil, err
		}
	}
}

func start(opts Options) (_ *Cluster, err error) {
	c, err := newCluster(opts)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.StartTimeout)
	defer cancel()
	c.lockAll()
	for _, n := range c.nodes {
		if err = c.spawn(n); err != nil {
			break
		}
	}
	if err == nil {
		err = c.waitListening(c.nodes)
	}
	c.unlockAll()
	if err != nil {
		return nil, err
	}
	if err := c.create(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// newCluster checks the options, finds the binaries and a port, and
// prepares the node directories and command lines.
func newCluster(opts Options) (_ *Cluster, err error) {
	if opts.Server == "" {
		opts.Server = "redis-server"
	}
	if opts.CLI == "" {
		opts.CLI = "redis-cli"
	}
	for _, bin := range []*string{&opts.Server, &opts.CLI} {
		path, err := exec.LookPath(*bin)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrNotInstalled, err)
		}
		*bin = path
	}
	if err := checkVersion(opts.Server); err != nil {
		return nil, err
	}
	if opts.FirstIP == "" {
		opts.FirstIP = DefaultFirstIP
	}
	if opts.Masters == 0 {
		opts.Masters = 3
	}
	if opts.ReplicasPerMaster == 0 {
		opts.ReplicasPerMaster = 1
	}
	if opts.Masters < 3 || opts.ReplicasPerMaster < 0 {
		return nil, fmt.Errorf("rediscluster: %d masters with %d replicas each: need at least 3 masters", opts.Masters, opts.ReplicasPerMaster)
	}
	if opts.NodeTimeout < 0 {
		return nil, fmt.Errorf("rediscluster: negative NodeTimeout %v", opts.NodeTimeout)
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 60 * time.Second
	}
	ips, err := localcluster.IPs(opts.FirstIP, opts.Masters*(1+opts.ReplicasPerMaster))
	if err != nil {
		return nil, err
	}
	c := &Cluster{opts: opts, port: opts.Port}
	if c.port == 0 {
		if c.port, err = localcluster.FreePort(ips, 10000); err != nil {
			return nil, err
		}
	}
	if opts.BaseDir == "" {
		if c.baseDir, err = os.MkdirTemp("", "flotilla-rediscluster-"); err != nil {
			return nil, err
		}
		c.tempDir = true
		defer func() {
			if err != nil {
				os.RemoveAll(c.baseDir)
			}
		}()
	} else if c.baseDir, err = filepath.Abs(opts.BaseDir); err != nil {
		return nil, err
	}
	for i, ip := range ips {
		n := &node{
			index: i,
			name:  fmt.Sprintf("node%d", i+1),
			ip:    ip,
			addr:  net.JoinHostPort(ip, strconv.Itoa(c.port)),
			dir:   filepath.Join(c.baseDir, fmt.Sprintf("node%d", i+1)),
		}
		n.logFile = filepath.Join(n.dir, "redis.log")
		if err := os.RemoveAll(n.dir); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(n.dir, 0o755); err != nil {
			return nil, err
		}
		n.args = c.args(n)
		c.nodes = append(c.nodes, n)
	}
	return c, nil
}

// checkVersion makes sure server is Redis 7.0 or later, which has
// bind-source-addr (Debian bookworm ships 7.0.15). Without it, a node's
// outgoing cluster-bus and replication connections would leave from
// 127.0.0.1, and partitions by source address would miss them.
func checkVersion(server string) error {
	out, err := exec.Command(server, "--version").Output()
	if err != nil {
		return fmt.Errorf("rediscluster: %s --version: %w", server, err)
	}
	// "Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 ..."
	_, v, _ := strings.Cut(string(out), " v=")
	major, _, _ := strings.Cut(v, ".")
	if n, err := strconv.Atoi(major); err != nil || n < 7 {
		return fmt.Errorf("rediscluster: %s is %q: Redis 7.0 or later is needed (bind-source-addr)", server, strings.TrimSpace(string(out)))
	}
	return nil
}

// args is node n's command line.
func (c *Cluster) args(n *node) []string {
	a := []string{
		"--bind", n.ip,
		"--port", strconv.Itoa(c.port),
		"--dir", n.dir,
		"--daemonize", "no",
		"--logfile", "", // stdout, appended to n.logFile
		"--protected-mode", "no",
		"--cluster-enabled", "yes",
		"--cluster-config-file", "nodes.conf", // in --dir
		"--cluster-announce-ip", n.ip,
		// NB: the cluster bus and replication dial from this address too;
		// without it their connections would leave from 127.0.0.1, and a
		// partition by source address would miss them.
		"--bind-source-addr", n.ip,
		"--save", "",
	}
	if c.opts.NodeTimeout > 0 {
		a = append(a, "--cluster-node-timeout", strconv.FormatInt(c.opts.NodeTimeout.Milliseconds(), 10))
	}
	if c.opts.AppendFsyncAlways {
		a = append(a, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		a = append(a, "--appendonly", "no")
	}
	return a
}

// Name is the system's name in drill reports.
func (c *Cluster) Name() string { return "redis-cluster" }

// Addrs are the nodes' addresses (ip:port), running or not, in node order:
// the seed list for a cluster client.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.addr
	}
	return out
}

// Addr is node i's address, ip:port.
func (c *Cluster) Addr(i int) string { return c.node(i).addr }

// Nodes is the number of nodes.
func (c *Cluster) Nodes() int { return len(c.nodes) }

// Members are every node: nodes do not join or leave this cluster.
func (c *Cluster) Members() []int {
	out := make([]int, len(c.nodes))
	for i := range out {
		out[i] = i
	}
	return out
}

// NodeIP is node i's address, without the port.
func (c *Cluster) NodeIP(i int) string { return c.node(i).ip }

// NodeZone is node i's zone: "zone-a", "zone-b" or "zone-c", by i%3. No
// replica is in its master's zone (Start sees to it).
func (c *Cluster) NodeZone(i int) string { return zoneName(c.node(i).index) }

func zoneName(i int) string { return localcluster.ZoneName(i % Zones) }

// Port is the port of every node; the cluster bus is on Port+10000.
func (c *Cluster) Port() int { return c.port }

// Dir is the directory holding the nodes' directories.
func (c *Cluster) Dir() string { return c.baseDir }

// Kill sends node i SIGKILL and waits until it is gone. Killing a node
// that is not running does nothing.
func (c *Cluster) Kill(i int) error {
	n := c.node(i)
	n.op.Lock()
	defer n.op.Unlock()
	n.kill()
	return nil
}

// Restart starts node i again with its directory (nodes.conf, and the AOF
// when persistent), killing it first if it runs, and returns once it
// accepts connections. It rejoins the cluster with its node id; WaitHealthy
// waits for the cluster to agree again.
func (c *Cluster) Restart(i int) error {
	n := c.node(i)
	n.op.Lock()
	defer n.op.Unlock()
	n.kill()
	if err := c.spawn(n); err != nil {
		return err
	}
	return c.waitListening([]*node{n})
}

// RestartAll kills every node with SIGKILL, paused ones too, then starts
// them all, as after a power cut, and returns once each accepts
// connections.
func (c *Cluster) RestartAll() error {
	c.lockAll()
	defer c.unlockAll()
	procs := make([]*process, len(c.nodes))
	for i, n := range c.nodes {
		procs[i] = n.signal(syscall.SIGKILL)
	}
	for _, p := range procs {
		if p != nil {
			<-p.Done()
		}
	}
	for _, n := range c.nodes {
		if err := c.spawn(n); err != nil {
			return err
		}
	}
	return c.waitListening(c.nodes)
}

// Pause stops node i with SIGSTOP: it keeps its sockets but answers
// nothing, like a host that hangs. It returns once every thread of the
// process has stopped.
func (c *Cluster) Pause(i int) error { return c.setPaused(i, true) }

// Resume continues a paused node with SIGCONT, returning once it runs.
func (c *Cluster) Resume(i int) error { return c.setPaused(i, false) }

func (c *Cluster) setPaused(i int, pause bool) error {
	n := c.node(i)
	n.op.Lock()
	defer n.op.Unlock()
	p := n.current()
	if p == nil {
		return fmt.Errorf("%w: %s", ErrNotRunning, n.name)
	}
	sig := syscall.SIGCONT
	if pause {
		sig = syscall.SIGSTOP
	}
	if err := p.Signal(sig); err != nil {
		return fmt.Errorf("rediscluster: %s: %w", n.name, err)
	}
	n.mu.Lock()
	p.paused = pause
	n.mu.Unlock()
	return localcluster.WaitStopState(p.PID(), pause, 5*time.Second)
}

// Close kills every node and waits until they are gone; a temporary
// BaseDir is then removed. Close is idempotent.
func (c *Cluster) Close() error {
	c.mu.Lock()
	if c.mu.closed {
		c.mu.Unlock()
		return nil
	}
	c.mu.closed = true
	c.mu.Unlock()
	// NB: lockAll waits for any Restart in flight, which either finished
	// (and its process is killed here) or will see closed in spawn.
	c.lockAll()
	for _, n := range c.nodes {
		n.kill()
	}
	c.unlockAll()
	if c.tempDir {
		return os.RemoveAll(c.baseDir)
	}
	return nil
}

func (c *Cluster) lockAll() {
	for _, n := range c.nodes {
		n.op.Lock()
	}
}

func (c *Cluster) unlockAll() {
	for _, n := range c.nodes {
		n.op.Unlock()
	}
}

// node returns node i, panicking on an index out of range as a slice would:
// that is a bug in the caller.
func (c *Cluster) node(i int) *node {
	if i < 0 || i >= len(c.nodes) {
		panic(fmt.Sprintf("rediscluster: node %d out of range [0,%d)", i, len(c.nodes)))
	}
	return c.nodes[i]
}
