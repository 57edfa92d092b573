package localcluster

import (
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
)

// Sentinel errors. Test them with errors.Is.
var (
	// ErrNodeExited is returned when a node's process ended without being
	// stopped or killed through the Cluster: a crash, a refused flag, a port
	// in use. The error's text has the end of the node's log.
	ErrNodeExited = errors.New("localcluster: node exited")
	// ErrClosed is returned by operations on a closed Cluster.
	ErrClosed = errors.New("localcluster: cluster closed")
)

// Options say what cluster to start. Only Bin is required; the zero value of
// every other field is the usual choice.
type Options struct {
	// Bin is the flotilla binary. Relative paths are made absolute, since
	// each node runs in its own directory.
	Bin string
	// Nodes is how many nodes to run: 3 when zero.
	Nodes int
	// Initial is how many nodes form the cluster (every node's
	// --bootstrap-expect; Start starts them): Nodes when zero. The others
	// are prepared but left stopped, to join the running cluster later
	// through StartNodes.
	Initial int
	// JoinAll gives each node every other node's gossip address as --join
	// seeds, instead of node 0's only (node 0 then has none): a node can
	// then join through whichever of its peers runs, as nodes that join
	// and leave a running cluster must.
	JoinAll bool
	// Zones is how many zones the nodes spread over, node i in zone i%Zones
	// ("zone-a", "zone-b", ...): 3 when zero.
	Zones int
	// FirstIP is node 0's address; node i has the i-th next one. 127.0.0.11
	// when empty.
	FirstIP string

	// Port is the RESP port of every node. 0 picks ports free on every node
	// address (RESP, Raft, gossip and metrics), so clusters of parallel tests
	// never collide; that is for fresh clusters, since a node's data may
	// remember its peers' ports. With a fixed Port, the other ports default
	// to Port+10000, 7946 and 9121 (DefaultPorts).
	Port int
	// ClusterPort, GossipPort and MetricsPort override the port chosen for
	// each. MetricsPort -1 disables the metrics endpoint.
	ClusterPort, GossipPort, MetricsPort int

	// BaseDir holds node i's data in BaseDir/node<i+1>. When empty, a
	// temporary directory is made, and removed by Close.
	BaseDir string
	// LogDir, when set, holds each node's log in LogDir/node<i+1>/flotilla.log
	// instead of its data directory. The log is the node's stdout and
	// stderr, appended across restarts.
	LogDir string
	// LogLevel is the nodes' --loglevel: "notice" when empty.
	LogLevel string

	// Args are added to every node's command line, after the ones this
	// package computes (later flags win): "--cluster-replicas", "3", ...
	Args []string
	// ExtraArgs[i] are added to node i's command line after Args; it may be
	// shorter than Nodes.
	ExtraArgs [][]string
	// Env is added to the nodes' environment.
	Env []string

	// Standalone runs every node with --cluster-enabled no, a non-replicated
	// in-memory server, and none of the cluster flags. Readiness is then an
	// answer to PING. It lets this package, and tests of single nodes, run
	// without the cluster.
	Standalone bool
	// Detach starts the nodes in their own session, so they outlive the
	// caller; Close then leaves them running. For `make cluster` only: it
	// needs a BaseDir.
	Detach bool

	// StartTimeout bounds how long a node may take to accept connections
	// after its start: 30 s when zero.
	StartTimeout time.Duration
	// StopTimeout bounds how long Stop waits after SIGTERM before it sends
	// SIGKILL: 30 s when zero.
	StopTimeout time.Duration
}

// Cluster is a set of flotilla processes started by this package. Its
// methods are safe for concurrent use; operations on one node (start, stop,
// kill, pause) run one at a time. Nodes are numbered from 0 in the API;
// node i is named node<i+1> and has address FirstIP+i.
type Cluster struct {
	opts    Options
	ports   Ports
	baseDir string
	tempDir bool     // baseDir was made by New: Close removes it
	fresh   []string // node directories that New created, for a retry
	nodes   []*node

	mu struct {
		sync.Mutex
		closed bool
	}
}

// NodeInfo describes a node at the moment Node was called.
type NodeInfo struct {
	Index   int
	Name    string // node1, node2, ...
	IP      string
	Zone    string
	Addr    string // IP:RESP port
	PID     int    // 0 when not running
	Running bool   // a process is alive (possibly paused)
	Paused  bool
	DataDir string
	LogFile string
	Args    []string
	// ExitErr is how the last process ended (nil for a clean exit, or while
	// running, or before the first start), as returned by exec.Cmd.Wait.
	ExitErr error
}

type node struct {
	index   int
	name    string
	ip      string
	zone    string
	addr    string
	dataDir string
	logFile string
	args    []string

	// op serializes the operations that start or end processes on this
	// node. Taken before mu, never the other way round.
	op sync.Mutex
	mu struct {
		sync.Mutex
		proc *process // the latest process; nil before the first start
	}
}

// process is one run of a node, with what the cluster knows of it.
type process struct {
	*Process

	// Guarded by node.mu.
	paused   bool
	expected bool // we stopped or killed it: its exit is not a failure
}

func (p *process) exited() bool { return p.Exited() }

// Start makes a cluster as New does and starts its first Options.Initial
// nodes (every node by default), returning once each accepts connections
// (not yet once the cluster is ready: see WaitReady). Callers must defer
// Close, which kills every process. With
// Port 0, a start that loses a port race to another program is retried
// with new ports.
func Start(opts Options) (*Cluster, error) {
	for attempt := 1; ; attempt++ {
		c, err := New(opts)
		if err != nil {
			return nil, err
		}
		initial := make([]int, c.opts.Initial)
		for i := range initial {
			initial[i] = i
		}
		err = c.StartNodes(initial...)
		if err == nil {
			return c, nil
		}
		c.Close()
		if opts.Port != 0 || attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			return nil, err
		}
		for _, d := range c.fresh {
			os.RemoveAll(d)
		}
	}
}

// New prepares a cluster, its directories, ports and command lines, without
// starting a process: StartAll or Restart start nodes. Callers must defer
// Close.
func New(opts Options) (_ *Cluster, err error) {
	if opts.Bin == "" {
		return nil, errors.New("localcluster: Options.Bin is required")
	}
	bin, err := exec.LookPath(opts.Bin)
	if err != nil {
		return nil, fmt.Errorf("localcluster: %w", err)
	}
	if opts.Bin, err = filepath.Abs(bin); err != nil {
		return nil, err
	}
	if opts.Nodes <= 0 {
		opts.Nodes = 3
	}
	if opts.Zones <= 0 {
		opts.Zones = 3
	}
	if opts.Initial <= 0 || opts.Initial > opts.Nodes {
		opts.Initial = opts.Nodes
	}
	if opts.FirstIP == "" {
		opts.FirstIP = "127.0.0.11"
	}
	if opts.LogLevel == "" {
		opts.LogLevel = "notice"
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 30 * time.Second
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = 30 * time.Second
	}
	if opts.Detach && opts.BaseDir == "" {
		return nil, errors.New("localcluster: Detach needs a BaseDir")
	}
	ips, err := IPs(opts.FirstIP, opts.Nodes)
	if err != nil {
		return nil, err
	}
	c := &Cluster{opts: opts}
	if opts.Port == 0 {
		if c.ports, err = pickPorts(ips); err != nil {
			return nil, err
		}
	} else {
		c.ports = Ports{RESP: opts.Port, Cluster: opts.Port + 10000, Gossip: DefaultPorts.Gossip, Metrics: DefaultPorts.Metrics}
	}
	if opts.ClusterPort != 0 {
		c.ports.Cluster = opts.ClusterPort
	}
	if opts.GossipPort != 0 {
		c.ports.Gossip = opts.GossipPort
	}
	if opts.MetricsPort != 0 {
		c.ports.Metrics = max(opts.MetricsPort, 0)
	}

	if opts.BaseDir == "" {
		if c.baseDir, err = os.MkdirTemp("", "flotilla-localcluster-"); err != nil {
			return nil, err
		}
		c.tempDir = true
		base := c.baseDir
		defer func() {
			if err != nil {
				os.RemoveAll(base)
			}
		}()
	} else if c.baseDir, err = filepath.Abs(opts.BaseDir); err != nil {
		return nil, err
	}
	for i, ip := range ips {
		n := &node{
			index:   i,
			name:    fmt.Sprintf("node%d", i+1),
			ip:      ip,
			zone:    ZoneName(i % opts.Zones),
			addr:    net.JoinHostPort(ip, strconv.Itoa(c.ports.RESP)),
			dataDir: filepath.Join(c.baseDir, fmt.Sprintf("node%d", i+1)),
		}
		logDir := n.dataDir
		if opts.LogDir != "" {
			if logDir, err = filepath.Abs(filepath.Join(opts.LogDir, n.name)); err != nil {
				return nil, err
			}
		}
		n.logFile = filepath.Join(logDir, "flotilla.log")
		for _, d := range []string{n.dataDir, logDir} {
			if _, err := os.Stat(d); errors.Is(err, os.ErrNotExist) {
				c.fresh = append(c.fresh, d)
			}
			if err := os.MkdirAll(d, 0o755); err != nil {
				return nil, err
			}
		}
		n.args = c.args(n, ips)
		c.nodes = append(c.nodes, n)
	}
	return c, nil
}

// ZoneName is the name of the k-th zone: zone-a, zone-b, ..., zone-z,
// zone-27, ...
func ZoneName(k int) string {
	if k < 26 {
		return "zone-" + string(rune('a'+k))
	}
	return fmt.Sprintf("zone-%d", k+1)
}

// args is node n's command line: the flags every node of a local cluster
// needs, then the caller's.
func (c *Cluster) args(n *node, ips []string) []string {
	itoa := strconv.Itoa
	a := []string{
		"--bind", n.ip,
		"--port", itoa(c.ports.RESP),
		"--dir", n.dataDir,
		"--loglevel", c.opts.LogLevel,
	}
	if c.opts.Standalone {
		a = append(a, "--cluster-enabled", "no")
	} else {
		a = append(a,
			"--cluster-enabled", "yes",
			"--cluster-port", itoa(c.ports.Cluster),
			"--gossip-port", itoa(c.ports.Gossip),
			"--metrics-port", itoa(c.ports.Metrics),
			"--zone", n.zone,
			"--bootstrap-expect", itoa(c.opts.Initial),
		)
		switch {
		case c.opts.JoinAll:
			var seeds []string
			for j, ip := range ips {
				if j != n.index {
					seeds = append(seeds, net.JoinHostPort(ip, itoa(c.ports.Gossip)))
				}
			}
			if len(seeds) > 0 {
				a = append(a, "--join", strings.Join(seeds, " "))
			}
		case n.index > 0:
			a = append(a, "--join", net.JoinHostPort(ips[0], itoa(c.ports.Gossip)))
		}
	}
	a = append(a, c.opts.Args...)
	if n.index < len(c.opts.ExtraArgs) {
		a = append(a, c.opts.ExtraArgs[n.index]...)
	}
	return a
}

// Len is the number of nodes.
func (c *Cluster) Len() int { return len(c.nodes) }

// Ports are the ports the nodes listen on.
func (c *Cluster) Ports() Ports { return c.ports }

// Dir is the directory holding the nodes' data directories.
func (c *Cluster) Dir() string { return c.baseDir }

// Addrs are the RESP addresses (ip:port) of all nodes, running or not, in
// node order: the seed list for a cluster client.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.addr
	}
	return out
}

// Addr is node i's RESP address.
func (c *Cluster) Addr(i int) string { return c.node(i).addr }

// Node describes node i now.
func (c *Cluster) Node(i int) NodeInfo {
	n := c.node(i)
	info := NodeInfo{
		Index: n.index, Name: n.name, IP: n.ip, Zone: n.zone, Addr: n.addr,
		DataDir: n.dataDir, LogFile: n.logFile, Args: append([]string(nil), n.args...),
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if p := n.mu.proc; p != nil {
		if p.exited() {
			info.ExitErr = p.Err()
		} else {
			info.Running, info.PID, info.Paused = true, p.PID(), p.paused
		}
	}
	return info
}

// node returns node i, panicking on an index out of range as a slice would:
// that is a bug in the caller.
func (c *Cluster) node(i int) *node {
	if i < 0 || i >= len(c.nodes) {
		panic(fmt.Sprintf("localcluster: node %d out of range [0,%d)", i, len(c.nodes)))
	}
	return c.nodes[i]
}

// current is n's running process, or nil.
func (n *node) current() *process {
	n.mu.Lock()
	defer n.mu.Unlock()
	if p := n.mu.proc; p != nil && !p.exited() {
		return p
	}
	return nil
}

// StartAll starts every node that is not running and waits until each
// accepts connections.
func (c *Cluster) StartAll() error {
	all := make([]int, len(c.nodes))
	for i := range all {
		all[i] = i
	}
	return c.StartNodes(all...)
}

// StartNodes starts the given nodes that are not running, all at once (a
// node may wait for its peers before it listens), and waits until each
// accepts connections.
func (c *Cluster) StartNodes(idx ...int) error {
	want := make([]bool, len(c.nodes))
	for _, i := range idx {
		want[c.node(i).index] = true
	}
	c.lockAll()
	defer c.unlockAll()
	var started []*node
	for _, n := range c.nodes {
		if !want[n.index] || n.current() != nil {
			continue
		}
		if err := c.spawn(n); err != nil {
			return err
		}
		started = append(started, n)
	}
	return c.waitListening(started)
}

// Restart starts node i again with the same arguments and data directory,
// stopping it first (SIGTERM, wait) if it runs, and waits until it accepts
// connections. It also starts a node that New prepared but never started.
func (c *Cluster) Restart(i int) error {
	n := c.node(i)
	n.op.Lock()
	defer n.op.Unlock()
	if err := c.awaitExit(n, n.signal(syscall.SIGTERM)); err != nil {
		return err
	}
	if err := c.spawn(n); err != nil {
		return err
	}
	return c.waitListening([]*node{n})
}

// RestartAll stops every running node (SIGTERM to all, then wait), then
// starts them all, as after a full power cycle.
func (c *Cluster) RestartAll() error {
	if err := c.StopAll(); err != nil {
		return err
	}
	return c.StartAll()
}

// Stop sends node i SIGTERM and waits for it to exit, sending SIGKILL (and
// returning an error) after StopTimeout. Stopping a stopped node does
// nothing. A paused node is resumed so it can act on the signal.
func (c *Cluster) Stop(i int) error {
	return c.StopWithin(i, c.opts.StopTimeout)
}

// StopWithin stops node i as Stop does, but sends SIGKILL after timeout
// instead of Options.StopTimeout: for a node that has much to do before it
// exits (a drain moves its replicas away first).
func (c *Cluster) StopWithin(i int, timeout time.Duration) error {
	n := c.node(i)
	n.op.Lock()
	defer n.op.Unlock()
	return c.awaitExitWithin(n, n.signal(syscall.SIGTERM), timeout)
}

// Wipe deletes node i's data directory and makes it again, empty, so that
// the node's next start is a new node's (a new node ID, no cluster). Its
// log is kept when Options.LogDir puts it elsewhere. The node must not be
// running.
func (c *Cluster) Wipe(i int) error {
	n := c.node(i)
	n.op.Lock()
	defer n.op.Unlock()
	if n.current() != nil {
		return fmt.Errorf("localcluster: wipe %s: it is running", n.name)
	}
	if err := os.RemoveAll(n.dataDir); err != nil {
		return err
	}
	return os.MkdirAll(n.dataDir, 0o755)
}

// Kill sends node i SIGKILL and waits until it is gone, so its ports are
// free for a restart.
func (c *Cluster) Kill(i int) error {
	n := c.node(i)
	n.op.Lock()
	defer n.op.Unlock()
	return c.awaitExit(n, n.signal(syscall.SIGKILL))
}

// StopAll sends SIGTERM to every running node at once, then waits for each,
// as Stop does.
func (c *Cluster) StopAll() error {
	return c.endAll(syscall.SIGTERM)
}

// KillAll sends SIGKILL to every running node and waits until all are gone.
func (c *Cluster) KillAll() error {
	return c.endAll(syscall.SIGKILL)
}

func (c *Cluster) endAll(sig syscall.Signal) error {
	c.lockAll()
	defer c.unlockAll()
	procs := make([]*process, len(c.nodes))
	for i, n := range c.nodes {
		procs[i] = n.signal(sig)
	}
	var errs []error
	for i, n := range c.nodes {
		errs = append(errs, c.awaitExit(n, procs[i]))
	}
	return errors.Join(errs...)
}

// Pause stops node i with SIGSTOP: it holds its ports and connections but
// answers nothing, like a host that hangs. It returns once every thread of
// the process has stopped.
func (c *Cluster) Pause(i int) error {
	return c.setPaused(i, true)
}

// Resume continues a paused node with SIGCONT, returning once it runs.
func (c *Cluster) Resume(i int) error {
	return c.setPaused(i, false)
}

func (c *Cluster) setPaused(i int, pause bool) error {
	n := c.node(i)
	n.op.Lock()
	defer n.op.Unlock()
	p := n.current()
	if p == nil {
		return fmt.Errorf("localcluster: %s is not running", n.name)
	}
	sig := syscall.SIGCONT
	if pause {
		sig = syscall.SIGSTOP
	}
	if err := p.Signal(sig); err != nil {
		return fmt.Errorf("localcluster: %s: %w", n.name, err)
	}
	n.mu.Lock()
	p.paused = pause
	n.mu.Unlock()
	return WaitStopState(p.PID(), pause, 5*time.Second)
}

// Close kills every node this cluster started and waits until they are
// gone; a temporary BaseDir is then removed. A detached cluster's nodes are
// left running. Close is idempotent.
func (c *Cluster) Close() error {
	c.mu.Lock()
	if c.mu.closed {
		c.mu.Unlock()
		return nil
	}
	c.mu.closed = true
	c.mu.Unlock()
	var err error
	if !c.opts.Detach {
		// NB: KillAll takes every node's op lock, so a spawn racing with
		// Close either finished (and is killed here) or sees closed.
		err = c.KillAll()
	}
	if c.tempDir {
		err = errors.Join(err, os.RemoveAll(c.baseDir))
	}
	return err
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

// spawn starts a process for n, its output appended to n's log. The caller
// holds n.op.
func (c *Cluster) spawn(n *node) error {
	c.mu.Lock()
	closed := c.mu.closed
	c.mu.Unlock()
	if closed {
		return ErrClosed
	}
	proc, err := StartProcess(ProcessSpec{Bin: c.opts.Bin, Args: n.args, Dir: n.dataDir, LogFile: n.logFile,
		Env: c.opts.Env, Detach: c.opts.Detach, Who: "localcluster"})
	if err != nil {
		return fmt.Errorf("localcluster: start %s: %w", n.name, err)
	}
	n.mu.Lock()
	n.mu.proc = &process{Process: proc}
	n.mu.Unlock()
	return nil
}

// signal sends sig to n's running process and marks its exit as expected;
// it returns the process, or nil if none runs. A paused process also gets
// SIGCONT, without which it would not act on SIGTERM.
func (n *node) signal(sig syscall.Signal) *process {
	n.mu.Lock()
	defer n.mu.Unlock()
	p := n.mu.proc
	if p == nil || p.exited() {
		return nil
	}
	p.expected = true
	p.Signal(sig)
	if p.paused && sig != syscall.SIGKILL {
		p.Signal(syscall.SIGCONT)
	}
	p.paused = false
	return p
}

// awaitExit waits for p (which may be nil) to exit, killing it after
// StopTimeout (awaitExitWithin: after timeout).
func (c *Cluster) awaitExit(n *node, p *process) error {
	return c.awaitExitWithin(n, p, c.opts.StopTimeout)
}

func (c *Cluster) awaitExitWithin(n *node, p *process, timeout time.Duration) error {
	if p == nil {
		return nil
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.Done():
		return nil
	case <-t.C:
	}
	p.Signal(syscall.SIGKILL)
	<-p.Done()
	return fmt.Errorf("localcluster: %s (pid %d) did not exit within %s of SIGTERM; killed", n.name, p.PID(), timeout)
}

// exitError describes n's unexpected exit, with the end of its log.
func (c *Cluster) exitError(n *node, p *process) error {
	return fmt.Errorf("%w: %s (pid %d): %v\n--- end of %s ---\n%s", ErrNodeExited, n.name, p.PID(), p.Err(), n.logFile, c.LogTail(n.index, 20))
}

// waitListening waits until every node in nodes accepts TCP connections on
// its RESP port, failing early if one exits.
func (c *Cluster) waitListening(nodes []*node) error {
	deadline := time.Now().Add(c.opts.StartTimeout)
	pending := nodes
	for {
		var still []*node
		for _, n := range pending {
			n.mu.Lock()
			p := n.mu.proc
			n.mu.Unlock()
			if p.exited() {
				return c.exitError(n, p)
			}
			if !p.Listening(n.addr, true) {
				still = append(still, n)
			}
		}
		if pending = still; len(pending) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			n := pending[0]
			return fmt.Errorf("localcluster: %s does not accept connections on %s after %s\n--- end of %s ---\n%s",
				n.name, n.addr, c.opts.StartTimeout, n.logFile, c.LogTail(n.index, 20))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitReady waits until every running node is ready: CLUSTER INFO says
// cluster_state:ok (every slot has a shard with a known leader), or, for a
// Standalone cluster, PING answers PONG. Nodes that the caller stopped,
// killed or paused are left out. A node that exits on its own fails the
// wait at once with ErrNodeExited.
func (c *Cluster) WaitReady(timeout time.Duration) error {
	return c.waitReady(c.nodes, timeout)
}

// WaitNodesReady waits until the given nodes are ready, as WaitReady
// does for all of them (leaving out those stopped, killed or paused).
func (c *Cluster) WaitNodesReady(timeout time.Duration, idx ...int) error {
	var nodes []*node
	for _, i := range idx {
		nodes = append(nodes, c.node(i))
	}
	return c.waitReady(nodes, timeout)
}

// WaitNodeReady waits until node i is ready, as WaitReady does.
func (c *Cluster) WaitNodeReady(i int, timeout time.Duration) error {
	n := c.node(i)
	if n.current() == nil {
		return fmt.Errorf("localcluster: %s is not running", n.name)
	}
	return c.waitReady([]*node{n}, timeout)
}

func (c *Cluster) waitReady(nodes []*node, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var notReady []string
		for _, n := range nodes {
			n.mu.Lock()
			p := n.mu.proc
			var skip, crashed bool
			if p != nil {
				skip = p.paused || p.expected
				crashed = p.exited() && !p.expected
			} else {
				skip = true
			}
			n.mu.Unlock()
			if crashed {
				return c.exitError(n, p)
			}
			if skip {
				continue
			}
			if err := c.probe(n); err != nil {
				notReady = append(notReady, fmt.Sprintf("%s (%s): %v", n.name, n.addr, err))
			}
		}
		if len(notReady) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("localcluster: not ready after %s:\n  %s", timeout, strings.Join(notReady, "\n  "))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// probe checks that n is ready.
func (c *Cluster) probe(n *node) error {
	const timeout = time.Second
	if c.opts.Standalone {
		reply, err := Do(n.addr, timeout, "PING")
		if err == nil && reply != "PONG" {
			err = fmt.Errorf("PING replied %q", reply)
		}
		return err
	}
	info, err := ClusterInfo(n.addr, timeout)
	if err != nil {
		return err
	}
	if s := info["cluster_state"]; s != "ok" {
		return fmt.Errorf("cluster_state:%s", s)
	}
	return nil
}

// LogTail returns the last lines of node i's log, for failure messages.
func (c *Cluster) LogTail(i, lines int) string { return TailFile(c.node(i).logFile, lines) }
