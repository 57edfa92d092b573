package localcluster

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Process is one run of a server program (flotilla here, redis-server for
// the chaos drills' Redis Cluster), its output appended to a log file. The
// goroutine StartProcess starts is the only caller of cmd.Wait: it ends
// when the process exits, which the owner ensures (by SIGKILL) unless the
// process is detached.
type Process struct {
	cmd  *exec.Cmd
	pid  int
	done chan struct{} // closed once the process is reaped
	err  error         // cmd.Wait's result; read only after done
}

// ProcessSpec says how to start a Process.
type ProcessSpec struct {
	Bin     string
	Args    []string
	Dir     string   // working directory
	LogFile string   // output, appended, after a header line
	Env     []string // added to the environment
	// Detach: the process gets a session of its own and outlives its
	// parent; otherwise it gets a process group of its own (a Ctrl-C meant
	// for the test does not reach it) and, on Linux, SIGKILL when its
	// parent dies.
	Detach bool
	// Who names the starter in the log's header line.
	Who string
}

// StartProcess starts spec's program.
func StartProcess(spec ProcessSpec) (*Process, error) {
	logf, err := os.OpenFile(spec.LogFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	// The child gets its own copy of the descriptor: with an *os.File as
	// stdout, exec.Cmd copies nothing, so the log survives us (Detach).
	defer logf.Close()
	fmt.Fprintf(logf, "=== %s %s: %s %s\n", spec.Who, time.Now().Format(time.RFC3339Nano), spec.Bin, strings.Join(spec.Args, " "))
	cmd := exec.Command(spec.Bin, spec.Args...)
	cmd.Dir = spec.Dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = sysProcAttr(spec.Detach)
	if len(spec.Env) > 0 {
		cmd.Env = append(os.Environ(), spec.Env...)
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Process{cmd: cmd, pid: cmd.Process.Pid, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// PID returns the process's ID.
func (p *Process) PID() int { return p.pid }

// Done is closed once the process has exited and been reaped.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is cmd.Wait's result; call it after Done.
func (p *Process) Err() error { return p.err }

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Signal sends sig to the process.
func (p *Process) Signal(sig syscall.Signal) error { return p.cmd.Process.Signal(sig) }

// Listening reports whether the process answers on addr. It asks INFO for
// the process_id, since a port that accepts connections may belong to
// another program (a server already running on the same address and port
// would otherwise pass for ours while ours exits with "address already in
// use"). A server that answers with an error (NOAUTH, -LOADING) counts as
// listening; one that answers without a process_id counts only if
// pidOptional.
func (p *Process) Listening(addr string, pidOptional bool) bool {
	conn, err := net.DialTimeout("tcp", addr, 250*time.Millisecond)
	if err != nil {
		return false
	}
	conn.Close()
	info, err := Do(addr, time.Second, "INFO", "server")
	if err != nil {
		var re ReplyError
		return errors.As(err, &re)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
			return v == strconv.Itoa(p.pid)
		}
	}
	return pidOptional
}

// TailFile returns the last lines of a log file (of its last 64 KiB), for
// failure messages.
func TailFile(path string, lines int) string {
	f, err := os.Open(path)
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
