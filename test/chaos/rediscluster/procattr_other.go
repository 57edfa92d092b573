//go:build unix && !linux

package rediscluster

import (
	"syscall"
	"time"
)

// sysProcAttr puts a node in its own process group. Unlike Linux, other
// systems have no parent-death signal: a drill killed before Close leaves
// its nodes running.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// waitStopState cannot see a process's state here without /proc; a short
// sleep gives the signal time to take effect.
func waitStopState(pid int, stopped bool, timeout time.Duration) error {
	time.Sleep(10 * time.Millisecond)
	return nil
}
