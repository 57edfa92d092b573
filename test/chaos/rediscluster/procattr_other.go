//go:build unix && !linux

package rediscluster

import "syscall"

// sysProcAttr puts a node in its own process group. Unlike Linux, other
// systems have no parent-death signal: a drill killed before Close leaves
// its nodes running.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
