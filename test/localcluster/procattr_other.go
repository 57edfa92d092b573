//go:build unix && !linux

package localcluster

import "syscall"

// sysProcAttr puts a node in its own process group (or its own session when
// detached). Unlike Linux, other systems have no parent-death signal: a test
// killed before Close leaves its nodes running.
func sysProcAttr(detach bool) *syscall.SysProcAttr {
	if detach {
		return &syscall.SysProcAttr{Setsid: true}
	}
	return &syscall.SysProcAttr{Setpgid: true}
}
