package rediscluster

import "syscall"

// sysProcAttr puts a node in its own process group, so a Ctrl-C meant for
// the drill does not reach the nodes, and asks the kernel to SIGKILL it
// when its parent dies, so an interrupted test leaves no redis-server
// holding ports.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
