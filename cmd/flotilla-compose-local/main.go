// Command flotilla-compose-local runs the cluster that
// deploy/compose/docker-compose.yml describes as processes on this machine,
// where there is no Docker: what `make compose-local` and `make
// compose-local-down` do.
//
//	flotilla-compose-local up     [-file deploy/compose/docker-compose.yml] [-bin bin/flotilla] [-dir .cluster/compose] [-ip 127.0.0.11]
//	flotilla-compose-local down   [-dir .cluster/compose]
//	flotilla-compose-local status [-dir .cluster/compose]
//
// Each service built from deploy/compose/Dockerfile becomes one flotilla
// process with the service's command (package deploy/compose reads the file
// with compose-go): the same flags, zones and ports, except that the
// service's static IP becomes a loopback address with the same last byte
// (172.28.5.11 → 127.0.0.11), its /data volume the directory <dir>/nodeN
// (N in address order: node1 is flotilla-1), and a --join to a service name
// that service's loopback address. Logs are in <dir>/nodeN/flotilla.log,
// pids in <dir>/nodeN/flotilla.pid. `up` starts the nodes that are not
// running and returns once every node reports cluster_state:ok; `down`
// sends SIGTERM and waits. The processes outlive the command
// (test/localcluster, detached).
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/flotilla-db/flotilla/deploy/compose"
	"github.com/flotilla-db/flotilla/test/localcluster"
)

const (
	defaultDir = ".cluster/compose"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "up":
		err = up(os.Args[2:])
	case "down":
		err = down(os.Args[2:])
	case "status":
		err = status(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "flotilla-compose-local:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: flotilla-compose-local up|down|status [flags] (flotilla-compose-local up -h for the flags)")
	os.Exit(2)
}

func up(args []string) error {
	fs := flag.NewFlagSet("up", flag.ExitOnError)
	file := fs.String("file", "deploy/compose/docker-compose.yml", "the compose file")
	bin := fs.String("bin", "bin/flotilla", "the flotilla binary")
	dir := fs.String("dir", defaultDir, "directory of the nodes' data, logs and pid files")
	ip := fs.String("ip", "", "local address of the first node, the others take the next ones (default: 127.0.0.x, x the last byte of the first node's IP)")
	timeout := fs.Duration("timeout", 60*time.Second, "how long to wait for cluster_state:ok")
	fs.Parse(args)

	topo, err := compose.Load(*file)
	if err != nil {
		return err
	}
	opts, err := topo.Local(compose.LocalConfig{Bin: *bin, Dir: *dir, FirstIP: *ip, Ports: topo.Ports, Detach: true})
	if err != nil {
		return err
	}
	c, err := localcluster.New(opts)
	if err != nil {
		return err
	}
	// Detached: Close leaves the nodes running.
	defer c.Close()

	var missing []int
	for i := 0; i < c.Len(); i++ {
		n := c.Node(i)
		if pid := localcluster.RunningPID(n.DataDir); pid != 0 {
			fmt.Printf("%s (%s) already running on %s (pid %d)\n", topo.Nodes[i].Service, n.Name, n.Addr, pid)
			continue
		}
		missing = append(missing, i)
	}
	// A port someone else holds would fail the start, and a server
	// already on our address could answer our readiness checks: refuse up
	// front, naming the port.
	for _, i := range missing {
		if err := localcluster.PortsFree(c.Node(i).IP, c.Ports()); err != nil {
			return fmt.Errorf("%s: %w\nstop that process (`make cluster-down` for `make cluster`'s nodes), or start on other addresses: make compose-local COMPOSE_LOCALFLAGS=\"-ip 127.0.0.31\"", topo.Nodes[i].Service, err)
		}
	}
	if len(missing) > 0 {
		err := c.StartNodes(missing...)
		// Record every process started, even when another failed, so that
		// `down` finds it.
		for _, i := range missing {
			if n := c.Node(i); n.Running {
				if werr := os.WriteFile(filepath.Join(n.DataDir, localcluster.PidFile), []byte(strconv.Itoa(n.PID)+"\n"), 0o644); werr != nil {
					err = errors.Join(err, werr)
				}
				fmt.Printf("%s (%s) started on %s (pid %d, zone %s, compose address %s)\n",
					topo.Nodes[i].Service, n.Name, n.Addr, n.PID, topo.Nodes[i].Zone, topo.Nodes[i].IP)
			}
		}
		if err != nil {
			return fmt.Errorf("%w\n(`make compose-local-down` stops what did start)", err)
		}
	}
	if err := localcluster.WaitClusterOK(c, missing, *timeout); err != nil {
		return fmt.Errorf("%w\nThe nodes are left running for a look at %s/node*/flotilla.log; `make compose-local-down` stops them", err, *dir)
	}
	p := c.Ports()
	fmt.Printf("\nThe %d nodes of %s are ready, as local processes (data and logs in %s/node1..node%d).\n", c.Len(), *file, *dir, c.Len())
	fmt.Printf("Connect:  redis-cli -c -h %s -p %d\n", c.Node(0).IP, p.RESP)
	if p.Metrics != 0 {
		fmt.Printf("Health:   curl http://%s:%d/health   Metrics: curl http://%s:%d/metrics\n", c.Node(0).IP, p.Metrics, c.Node(0).IP, p.Metrics)
	}
	fmt.Printf("Status:   %s status -dir %s\n", os.Args[0], *dir)
	if filepath.Clean(*dir) == defaultDir {
		fmt.Printf("Stop:     make compose-local-down\n")
	} else {
		fmt.Printf("Stop:     %s down -dir %s\n", os.Args[0], *dir)
	}
	return nil
}

func down(args []string) error {
	fs := flag.NewFlagSet("down", flag.ExitOnError)
	dir := fs.String("dir", defaultDir, "directory of the nodes' data, logs and pid files")
	timeout := fs.Duration("timeout", 30*time.Second, "how long to wait after SIGTERM before SIGKILL")
	fs.Parse(args)
	return localcluster.StopDetached(*dir, *timeout, os.Stdout)
}

func status(args []string) error {
	fs := flag.NewFlagSet("status", flag.ExitOnError)
	dir := fs.String("dir", defaultDir, "directory of the nodes' data, logs and pid files")
	fs.Parse(args)
	return localcluster.DetachedStatus(*dir, os.Stdout)
}
