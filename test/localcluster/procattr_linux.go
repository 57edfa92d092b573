package localcluster

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// sysProcAttr puts a node in its own process group, so a Ctrl-C meant for
// the test does not reach the nodes half-way through their shutdown, and
// asks the kernel to SIGKILL it when its parent dies, so an interrupted or
// timed-out test leaves no servers holding ports. A detached node (make
// cluster) gets its own session instead, and outlives its parent.
func sysProcAttr(detach bool) *syscall.SysProcAttr {
	if detach {
		return &syscall.SysProcAttr{Setsid: true}
	}
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// WaitStopState waits until every thread of pid is stopped (after SIGSTOP)
// or none is (after SIGCONT). kill(2) returns before the signal has taken
// effect on threads running on other CPUs, and a drill that pauses a node
// must not see it answer one more request. The chaos drills'
// Redis Cluster pauses its redis-server processes with it too.
func WaitStopState(pid int, stopped bool, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
		if err != nil || len(tasks) == 0 {
			return fmt.Errorf("localcluster: no threads of pid %d", pid)
		}
		done := true
		for _, f := range tasks {
			data, err := os.ReadFile(f)
			if err != nil {
				continue // the thread ended
			}
			// "pid (comm) S ...": comm may hold spaces and parentheses.
			s := string(data)
			i := strings.LastIndexByte(s, ')')
			if i < 0 || i+2 >= len(s) {
				continue
			}
			state := s[i+2]
			if isStopped := state == 'T' || state == 't'; isStopped != stopped {
				done = false
				break
			}
		}
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("localcluster: pid %d not %s after %s", pid, map[bool]string{true: "stopped", false: "running"}[stopped], timeout)
		}
		time.Sleep(time.Millisecond)
	}
}
