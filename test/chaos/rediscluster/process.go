package rediscluster

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
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

// process is one run of a node. The goroutine started by spawn is the only
// caller of cmd.Wait: it ends when the process exits, which Close ensures.
type process struct {
	cmd  *exec.Cmd
	pid  int
	done chan struct{} // closed once the process is reaped
	err  error         // cmd.Wait's result; read only after done

	paused bool // guarded by node.mu
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

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
	logf, err := os.OpenFile(n.logFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close() // the child has its own copy
	fmt.Fprintf(logf, "=== rediscluster %s: %s %s\n", time.Now().Format(time.RFC3339Nano), c.opts.Server, strings.Join(n.args, " "))
	cmd := exec.Command(c.opts.Server, n.args...)
	cmd.Dir = n.dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("rediscluster: start %s: %w", n.name, err)
	}
	p := &process{cmd: cmd, pid: cmd.Process.Pid, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	n.mu.Lock()
	n.mu.proc = p
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
	p.cmd.Process.Signal(sig)
	if sig == syscall.SIGKILL {
		p.paused = false
	}
	return p
}

// kill sends n's process SIGKILL, if it runs, and waits until it is reaped,
// so its port is free for a restart.
func (n *node) kill() {
	if p := n.signal(syscall.SIGKILL); p != nil {
		<-p.done
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
				return fmt.Errorf("%w: %s (pid %d): %v\n--- end of %s ---\n%s", ErrNodeExited, n.name, p.pid, p.err, n.logFile, c.LogTail(n.index, 20))
			}
			if !p.listening(n.addr) {
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

// listening reports whether p answers on addr. It compares INFO's
// process_id with p's, since the port may belong to another program while
// ours exits with "Address already in use". A node still loading its AOF
// answers -LOADING: that counts as listening.
func (p *process) listening(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, 250*time.Millisecond)
	if err != nil {
		return false
	}
	conn.Close()
	info, err := localcluster.Do(addr, time.Second, "INFO", "server")
	if err != nil {
		var re localcluster.ReplyError
		return errors.As(err, &re)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
			return v == strconv.Itoa(p.pid)
		}
	}
	return false
}

// LogTail returns the last lines of node i's log, for failure messages.
func (c *Cluster) LogTail(i, lines int) string {
	f, err := os.Open(c.node(i).logFile)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	const maxTail = 64 << 10
	if st, err := f.Stat(); err == nil && st.Size() > maxTail {
		f.Seek(st.Size()-maxTail, io.SeekStart)
	}
	data, _ := io.ReadAll(io.LimitReader(f, maxTail))
	all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(all[max(0, len(all)-lines):], "\n")
}
