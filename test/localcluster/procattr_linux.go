package localcluster

import "syscall"

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
