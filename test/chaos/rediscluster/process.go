package rediscluster

import (
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/flotilla-db/flotilla/test/localcluster"
)

// node is one member of the cluster: its address, directory and command
// line, and the latest redis-server process run for it.
type node struct {
	index   int
	name    string
	ip      string
	addr    string
	dir     string
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

// process is one run of a node.
type process struct {
	*localcluster.Process
	paused bool // guarded by node.mu
}

func (p *process) exited() bool { return p.Exited() }

// current is n's running process (paused or not), or nil.
func (n *node) current() *process {
	n.mu.Lock()
	defer n.mu.Unlock()
	if p := n.mu.proc; p != nil && !p.exited() {
		return p
	}
	return nil
}

// state says whether n has a live process, and whether it is paused.
func (n *node) state() (running, paused bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if p := n.mu.proc; p != nil && !p.exited() {
		return true, p.paused
	}
	return false, false
}

// spawn starts a redis-server for n, its output appended to n's log. The
// caller holds n.op.
func (c *Cluster) spawn(n *node) error {
	c.mu.Lock()
	closed := c.mu.closed
	c.mu.Unlock()
	if closed {
		return ErrClosed
	}
	proc, err := localcluster.StartProcess(localcluster.ProcessSpec{Bin: c.opts.Server, Args: n.args, Dir: n.dir,
		LogFile: n.logFile, Who: "rediscluster"})
	if err != nil {
		return fmt.Errorf("rediscluster: start %s: %w", n.name, err)
	}
	n.mu.Lock()
	n.mu.proc = &process{Process: proc}
	n.mu.Unlock()
	return nil
}

// signal sends sig to n's running process and returns it, or nil if none
// runs.
func (n *node) signal(sig syscall.Signal) *process {
	n.mu.Lock()
	defer n.mu.Unlock()
	p := n.mu.proc
	if p == nil || p.exited() {
		return nil
	}
	p.Signal(sig)
	if sig == syscall.SIGKILL {
		p.paused = false
	}
	return p
}

// kill sends n's process SIGKILL, if it runs, and waits until it is reaped,
// so its port is free for a restart.
func (n *node) kill() {
	if p := n.signal(syscall.SIGKILL); p != nil {
		<-p.Done()
	}
}

// waitListening waits until every node in nodes answers on its address,
// failing early if one exits. The caller holds their op locks.
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
				return fmt.Errorf("%w: %s (pid %d): %v\n--- end of %s ---\n%s", ErrNodeExited, n.name, p.PID(), p.Err(), n.logFile, c.LogTail(n.index, 20))
			}
			if !p.Listening(n.addr, false) {
				still = append(still, n)
			}
		}
		if pending = still; len(pending) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			n := pending[0]
			return fmt.Errorf("rediscluster: %s does not answer on %s after %s\n--- end of %s ---\n%s",
				n.name, n.addr, c.opts.StartTimeout, n.logFile, c.LogTail(n.index, 20))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// LogTail returns the last lines of node i's log, for failure messages.
func (c *Cluster) LogTail(i, lines int) string {
	return localcluster.TailFile(c.node(i).logFile, lines)
}
