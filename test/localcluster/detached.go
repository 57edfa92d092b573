package localcluster

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Detached clusters: `make cluster` (cmd/flotilla-local) and `make
// compose-local` (cmd/flotilla-compose-local) start their nodes detached,
// each with a pid file in its directory, and later commands find, report
// on and stop them through these.

// PidFile is the name of a detached node's pid file, in its directory.
const PidFile = "flotilla.pid"

// RunningPID returns the pid in dir's pid file if that process is alive and
// is the flotilla of that directory (its command line has --dir <dir>), so
// a pid reused by another program, or a zombie, counts as not running.
func RunningPID(dir string) int {
	data, err := os.ReadFile(filepath.Join(dir, PidFile))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return 0
	}
	if d, ok := FlagsOf(pid)["dir"]; ok && filepath.Clean(d) == abs {
		return pid
	}
	return 0
}

// FlagsOf is a process's "--name value" flags, the last value of each
// (later flags win, as in the node); empty when the process is gone.
func FlagsOf(pid int) map[string]string {
	out := map[string]string{}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(data) == 0 {
		return out
	}
	args := strings.Split(strings.TrimRight(string(data), "\x00"), "\x00")
	for i := 0; i+1 < len(args); i++ {
		if name, ok := strings.CutPrefix(args[i], "--"); ok && !strings.HasPrefix(args[i+1], "--") {
			out[name] = args[i+1]
		}
	}
	return out
}

// StopDetached stops the detached nodes under dir (SIGTERM, then SIGKILL
// after timeout), removes their pid files, and says what it did on out.
func StopDetached(dir string, timeout time.Duration, out io.Writer) error {
	nodeDirs, err := filepath.Glob(filepath.Join(dir, "node*"))
	if err != nil {
		return err
	}
	pids := map[string]int{}
	for _, d := range nodeDirs {
		if pid := RunningPID(d); pid != 0 {
			if err := syscall.Kill(pid, syscall.SIGTERM); err == nil {
				pids[d] = pid
			}
		}
	}
	deadline := time.Now().Add(timeout)
	for d, pid := range pids {
		for RunningPID(d) != 0 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if RunningPID(d) != 0 {
			fmt.Fprintf(out, "%s (pid %d) did not stop within %s: SIGKILL\n", filepath.Base(d), pid, timeout)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	for _, d := range nodeDirs {
		os.Remove(filepath.Join(d, PidFile))
	}
	if len(pids) == 0 {
		fmt.Fprintln(out, "not running")
	} else {
		fmt.Fprintf(out, "stopped %d nodes (data kept in %s)\n", len(pids), dir)
	}
	return nil
}

// DetachedStatus writes a line per node under dir: its pid, address,
// zone and what CLUSTER INFO says.
func DetachedStatus(dir string, out io.Writer) error {
	nodeDirs, err := filepath.Glob(filepath.Join(dir, "node*"))
	if err != nil {
		return err
	}
	if len(nodeDirs) == 0 {
		fmt.Fprintln(out, "no cluster in", dir)
		return nil
	}
	for _, d := range nodeDirs {
		pid := RunningPID(d)
		if pid == 0 {
			fmt.Fprintf(out, "%s: not running\n", filepath.Base(d))
			continue
		}
		flags := FlagsOf(pid)
		ip, port := cmp(flags["bind"], "127.0.0.1"), cmp(flags["port"], "6379")
		addr := net.JoinHostPort(ip, port)
		state := "?"
		if info, err := ClusterInfo(addr, time.Second); err != nil {
			state = err.Error()
		} else {
			state = "cluster_state:" + info["cluster_state"] + " known_nodes:" + info["cluster_known_nodes"]
		}
		fmt.Fprintf(out, "%s: pid %d, %s, zone %s, %s\n", filepath.Base(d), pid, addr, cmp(flags["zone"], "default"), state)
	}
	return nil
}

func cmp(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// WaitClusterOK waits until every node of c, started now or found
// running, reports cluster_state:ok. A node of started that exits fails
// the wait at once.
func WaitClusterOK(c *Cluster, started []int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var notReady []string
		for _, i := range started {
			if n := c.Node(i); !n.Running {
				return fmt.Errorf("%s exited (%v):\n%s", n.Name, n.ExitErr, c.LogTail(i, 20))
			}
		}
		for i, addr := range c.Addrs() {
			info, err := ClusterInfo(addr, time.Second)
			switch {
			case err != nil:
				notReady = append(notReady, fmt.Sprintf("%s (%s): %v", c.Node(i).Name, addr, err))
			case info["cluster_state"] != "ok":
				notReady = append(notReady, fmt.Sprintf("%s (%s): cluster_state:%s", c.Node(i).Name, addr, info["cluster_state"]))
			}
		}
		if len(notReady) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s:\n  %s", timeout, strings.Join(notReady, "\n  "))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// PortsFree checks that a node's ports are free on ip by binding them.
func PortsFree(ip string, p Ports) error {
	ports := []int{p.RESP, p.Cluster, p.Gossip}
	if p.Metrics != 0 {
		ports = append(ports, p.Metrics)
	}
	for _, port := range ports {
		addr := net.JoinHostPort(ip, strconv.Itoa(port))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("%s is in use by a process this command did not start", addr)
		}
		ln.Close()
	}
	addr := net.JoinHostPort(ip, strconv.Itoa(p.Gossip))
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return fmt.Errorf("%s/udp is in use by a process this command did not start", addr)
	}
	pc.Close()
	return nil
}
