//go:build unix && !linux

package localcluster

import (
	"syscall"
	"time"
)

// sysProcAttr puts a node in its own process group (or its own session when
// detached). Unlike Linux, other systems have no parent-death signal: a test
// killed before Close leaves its nodes running.
func sysProcAttr(detach bool) *syscall.SysProcAttr {
	if detach {
		return &syscall.SysProcAttr{Setsid: true}
	}
	return &syscall.SysProcAttr{Setpgid: true}
}

// WaitStopState cannot see a process's state here without /proc; a short
// sleep gives the signal time to take effect.
func WaitStopState(pid int, stopped bool, timeout time.Duration) error {
	time.Sleep(10 * time.Millisecond)
	return nil
}
