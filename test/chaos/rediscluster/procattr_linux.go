package rediscluster

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// sysProcAttr puts a node in its own process group, so a Ctrl-C meant for
// the drill does not reach the nodes, and asks the kernel to SIGKILL it
// when its parent dies, so an interrupted test leaves no redis-server
// holding ports.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// waitStopState waits until every thread of pid is stopped (after SIGSTOP)
// or none is (after SIGCONT). kill(2) returns before the signal has taken
// effect on threads running on other CPUs, and a drill that pauses a node
// must not see it answer one more request.
func waitStopState(pid int, stopped bool, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
		if err != nil || len(tasks) == 0 {
			return fmt.Errorf("rediscluster: no threads of pid %d", pid)
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
			if state := s[i+2]; (state == 'T' || state == 't') != stopped {
				done = false
				break
			}
		}
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("rediscluster: pid %d not %s after %s", pid, map[bool]string{true: "stopped", false: "running"}[stopped], timeout)
		}
		time.Sleep(time.Millisecond)
	}
}
