// Command flotilla-local runs a Flotilla cluster on this machine that
// outlives the command: what `make cluster` and `make cluster-down` do.
//
//	flotilla-local up     [-bin bin/flotilla] [-dir .cluster] [-nodes 3] [-zones 3] [-ip 127.0.0.11] [-port 6379] [-- flotilla flags...]
//	flotilla-local down   [-dir .cluster]
//	flotilla-local status [-dir .cluster]
//
// Node i runs on its own loopback address (127.0.0.11, 127.0.0.12, ...) with
// the default ports (6379, 16379, 7946, 9121), data and log in
// <dir>/node<i>, its pid in <dir>/node<i>/flotilla.pid. `up` starts only
// the nodes that are not already running, so running it twice starts no
// second copy, and it brings back a node that was killed; it returns once
// every node reports cluster_state:ok. `down` sends SIGTERM and waits.
//
// The processes are started by package test/localcluster, detached.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/flotilla-db/flotilla/test/localcluster"
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
		fmt.Fprintln(os.Stderr, "flotilla-local:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: flotilla-local up|down|status [-dir .cluster] [flags] (flotilla-local up -h for the flags)")
	os.Exit(2)
}

func up(args []string) error {
	fs := flag.NewFlagSet("up", flag.ExitOnError)
	bin := fs.String("bin", "bin/flotilla", "the flotilla binary")
	dir := fs.String("dir", ".cluster", "directory of the nodes' data, logs and pid files")
	nodes := fs.Int("nodes", 3, "number of nodes")
	zones := fs.Int("zones", 3, "number of zones the nodes spread over")
	ip := fs.String("ip", "127.0.0.11", "address of the first node; the others take the next ones")
	port := fs.Int("port", localcluster.DefaultPorts.RESP, "RESP port of every node (Raft on port+10000)")
	clusterPort := fs.Int("cluster-port", 0, "Raft port of every node (0: port+10000)")
	gossipPort := fs.Int("gossip-port", localcluster.DefaultPorts.Gossip, "gossip (memberlist) port of every node")
	metricsPort := fs.Int("metrics-port", localcluster.DefaultPorts.Metrics, "HTTP /metrics port of every node (-1 disables)")
	loglevel := fs.String("loglevel", "notice", "the nodes' --loglevel")
	timeout := fs.Duration("timeout", 60*time.Second, "how long to wait for cluster_state:ok")
	fs.Parse(args)
	if *port == 0 {
		return errors.New("-port must be fixed: `down` and clients find the cluster by it")
	}
	c, err := localcluster.New(localcluster.Options{
		Bin: *bin, Nodes: *nodes, Zones: *zones, FirstIP: *ip, Port: *port,
		ClusterPort: *clusterPort, GossipPort: *gossipPort, MetricsPort: *metricsPort,
		BaseDir: *dir, LogLevel: *loglevel, Args: fs.Args(), Detach: true,
	})
	if err != nil {
		return err
	}
	// Detached: Close leaves the nodes running.
	defer c.Close()

	var missing []int
	for i := 0; i < c.Len(); i++ {
		n := c.Node(i)
		if pid := localcluster.RunningPID(n.DataDir); pid != 0 {
			fmt.Printf("%s already running on %s (pid %d)\n", n.Name, n.Addr, pid)
			continue
		}
		missing = append(missing, i)
	}
	// A port someone else holds would fail the start, and worse, a server
	// already on our address could answer our readiness checks: refuse up
	// front, naming the port.
	for _, i := range missing {
		if err := localcluster.PortsFree(c.Node(i).IP, c.Ports()); err != nil {
			return fmt.Errorf("%s: %w\nstop that process, or pick other ports (make cluster PORT=7000 LOCALFLAGS=\"-gossip-port 7950 -metrics-port -1\")", c.Node(i).Name, err)
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
				fmt.Printf("%s started on %s (pid %d, zone %s)\n", n.Name, n.Addr, n.PID, n.Zone)
			}
		}
		if err != nil {
			return fmt.Errorf("%w\n(`make cluster-down` stops what did start)", err)
		}
	}
	if err := localcluster.WaitClusterOK(c, missing, *timeout); err != nil {
		return fmt.Errorf("%w\nThe nodes are left running for a look at %s/node*/flotilla.log; `make cluster-down` stops them", err, *dir)
	}
	fmt.Printf("\nFlotilla cluster of %d nodes is ready (data and logs in %s/node1..node%d).\n", c.Len(), *dir, c.Len())
	fmt.Printf("Connect:  redis-cli -c -h %s -p %d\n", c.Node(0).IP, *port)
	fmt.Printf("Status:   %s status -dir %s\n", os.Args[0], *dir)
	if filepath.Clean(*dir) == ".cluster" {
		fmt.Printf("Stop:     make cluster-down\n")
	} else {
		fmt.Printf("Stop:     %s down -dir %s\n", os.Args[0], *dir)
	}
	return nil
}

func down(args []string) error {
	fs := flag.NewFlagSet("down", flag.ExitOnError)
	dir := fs.String("dir", ".cluster", "directory of the nodes' data, logs and pid files")
	timeout := fs.Duration("timeout", 30*time.Second, "how long to wait after SIGTERM before SIGKILL")
	fs.Parse(args)
	return localcluster.StopDetached(*dir, *timeout, os.Stdout)
}

func status(args []string) error {
	fs := flag.NewFlagSet("status", flag.ExitOnError)
	dir := fs.String("dir", ".cluster", "directory of the nodes' data, logs and pid files")
	fs.Parse(args)
	return localcluster.DetachedStatus(*dir, os.Stdout)
}
