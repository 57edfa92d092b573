// Command flotilla-chaos runs the chaos drills of package test/chaos against
// a Flotilla cluster, a Redis Cluster, or both one after the other: load from
// many clients, faults one at a time (kill -9, SIGSTOP, iptables partitions,
// zone loss, restart of every node, CLUSTER FAILOVER, live slot moves,
// nodes joining and removed), then the checks (no
// acknowledged write lost, linearizable registers, consistent counters,
// lists and transfers, one owner per slot). It prints a table per target,
// writes report.json, timeline.png and node logs under -out, and exits 1 when
// the drill of the run's subject found a problem: with -target both that is
// Flotilla's (the Redis Cluster run is there to be compared with, and
// without persistence it is expected to lose writes); with -target redis,
// Redis Cluster's.
//
//	flotilla-chaos -duration 5m -faults all -nodes 3
//	flotilla-chaos -target both -duration 30m -seed 42
//	flotilla-chaos -faults kill-leader,partition-* -duration 2m
//	flotilla-chaos -faults node-*,move-*,kill-*,partition-* -nodes 3 -spares 1
//
// `make chaos` builds and runs it (DURATION, FAULTS, NODES, SPARES, SEED,
// TARGET).
// Partition faults need root and iptables; without them they are skipped
// with a message and the other faults run. Every iptables rule is removed
// on exit, on error and on Ctrl-C (a second Ctrl-C exits at once, after
// removing the rules).
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/flotilla-db/flotilla/test/chaos"
	"github.com/flotilla-db/flotilla/test/chaos/rediscluster"
	"github.com/flotilla-db/flotilla/test/chaos/timeline"
)

func main() {
	os.Exit(run())
}

type options struct {
	target   string
	duration time.Duration
	faults   string
	nodes    int
	spares   int
	zones    int
	seed     uint64
	out      string
	bin      string
	clients  int
	rate     float64
	firstIP  string
	keepData bool
	fsync    bool
	minGap   time.Duration
	maxGap   time.Duration
	// flotillaArgs are more flags for every Flotilla node.
	flotillaArgs string
}

func run() int {
	var o options
	flag.StringVar(&o.target, "target", "flotilla", "flotilla, redis (a Redis Cluster of Debian's redis-server: 3 masters + 3 replicas) or both")
	flag.DurationVar(&o.duration, "duration", 5*time.Minute, "how long to inject faults, per target")
	flag.StringVar(&o.faults, "faults", "all", "comma-separated faults, \"all\", or prefixes like partition-*; known: "+strings.Join(chaos.DefaultRegistry(nil, nil).Names(), ", "))
	flag.IntVar(&o.nodes, "nodes", 3, "Flotilla nodes (spread over -zones zones)")
	flag.IntVar(&o.spares, "spares", 1, "Flotilla spare nodes, started by node-join (after the -nodes nodes, on the next addresses); node-remove makes the node it removes a spare again, and keeps at least 3 members")
	flag.IntVar(&o.zones, "zones", 3, "Flotilla zones")
	flag.Uint64Var(&o.seed, "seed", 0, "random seed (0: pick one and print it)")
	flag.StringVar(&o.out, "out", "", "output directory (default test/chaos/out/<time>)")
	flag.StringVar(&o.bin, "bin", "bin/flotilla", "the flotilla binary")
	flag.IntVar(&o.clients, "clients", 16, "concurrent clients, over all workloads")
	flag.Float64Var(&o.rate, "rate", 20, "operations per second per client")
	flag.StringVar(&o.firstIP, "first-ip", "127.0.0.41", "address of Flotilla's node 1 (node i has the i-th next); away from 127.0.0.11 up, where the integration tests and make cluster run, since a partition cuts every packet between the addresses it names")
	flag.BoolVar(&o.keepData, "keep-data", false, "keep the nodes' data directories under -out")
	flag.DurationVar(&o.minGap, "min-gap", 2*time.Second, "quiet time between faults, at least (after the cluster is healthy again); with the default gaps a fault takes about 10 s in all, so a 30m run injects about 180")
	flag.DurationVar(&o.maxGap, "max-gap", 5*time.Second, "quiet time between faults, at most (-min-gap 1s -max-gap 2s: about 8 s a fault, some 230 in 30m)")
	flag.StringVar(&o.flotillaArgs, "flotilla-args", "", "more flags for every Flotilla node, space separated (for example \"--raft-snapshot-threshold 1024\")")
	flag.BoolVar(&o.fsync, "redis-fsync", false, "run Redis with appendonly yes and appendfsync always (the durability Flotilla gives) instead of no persistence")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "flotilla-chaos: unexpected arguments %q\n", flag.Args())
		return 2
	}
	if o.seed == 0 {
		o.seed = rand.Uint64() % 1_000_000_000
	}
	if o.out == "" {
		o.out = filepath.Join("test", "chaos", "out", time.Now().Format("20060102-150405"))
	}
	var targets []string
	switch o.target {
	case "flotilla":
		targets = []string{"flotilla"}
	case "redis", "redis-cluster":
		targets = []string{"redis"}
	case "both":
		targets = []string{"flotilla", "redis"}
	default:
		fmt.Fprintf(os.Stderr, "flotilla-chaos: -target %q: want flotilla, redis or both\n", o.target)
		return 2
	}
	if _, err := chaos.DefaultRegistry(nil, nil).Parse(o.faults); err != nil {
		fmt.Fprintf(os.Stderr, "flotilla-chaos: %v\n", err)
		return 2
	}
	fmt.Printf("flotilla-chaos: seed %d, faults %s, output %s\n", o.seed, o.faults, o.out)

	fw, fwErr := chaos.OpenFirewall()
	if fwErr != nil {
		fmt.Printf("flotilla-chaos: partition faults will be skipped: %v\n", fwErr)
	}
	// Whatever happens, the rules go.
	defer fw.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var closers struct {
		sync.Mutex
		fns []func()
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		fmt.Fprintln(os.Stderr, "\nflotilla-chaos: interrupted: healing the current fault, stopping the load, checking (Ctrl-C again to quit at once)")
		cancel()
		<-sigs
		fmt.Fprintln(os.Stderr, "flotilla-chaos: quitting; removing iptables rules and killing the nodes")
		fw.Close()
		closers.Lock()
		for _, f := range closers.fns {
			f()
		}
		os.Exit(130)
	}()

	// The exit status is the verdict of the run's subject, the first
	// target: with -target both, Redis Cluster runs only to be compared
	// with (without persistence it is expected to lose writes), so its
	// verdict shows in its table and the comparison, not in the status.
	subject := targets[0]
	var reports []*chaos.Report
	status := 0
	for _, name := range targets {
		if ctx.Err() != nil {
			break
		}
		rep, err := drill(ctx, name, o, fw, fwErr, func(f func()) {
			closers.Lock()
			closers.fns = append(closers.fns, f)
			closers.Unlock()
		})
		if err != nil {
			fmt.Fprintf(os.Stderr, "flotilla-chaos: %s: %v\n", name, err)
			if name == subject {
				status = 1
			}
			continue
		}
		rep.WriteTable(os.Stdout)
		reports = append(reports, rep)
		if !rep.Passed && name == subject {
			status = 1
		}
	}
	if len(reports) > 1 {
		chaos.WriteComparison(os.Stdout, reports)
	}
	if len(targets) > 1 {
		fmt.Printf("\nexit status: %s's verdict only (%s ran for comparison)\n", subject, strings.Join(targets[1:], ", "))
	}
	if err := fw.Close(); err != nil {
		fmt.Fprintf(os.Stderr, "flotilla-chaos: %v\n", err)
		status = 1
	}
	return status
}

// drill starts one target, runs the drill on it and stops it.
func drill(ctx context.Context, name string, o options, fw *chaos.Firewall, fwErr error, onQuit func(func())) (*chaos.Report, error) {
	faults, err := chaos.DefaultRegistry(fw, fwErr).Parse(o.faults)
	if err != nil {
		return nil, err
	}
	var t chaos.Target
	var out string
	zones := o.zones
	switch name {
	case "flotilla":
		out = filepath.Join(o.out, "flotilla")
		dataDir := filepath.Join(out, "data")
		if !o.keepData {
			if dataDir, err = os.MkdirTemp("", "flotilla-chaos-"); err != nil {
				return nil, err
			}
			defer os.RemoveAll(dataDir)
		}
		fmt.Printf("flotilla-chaos: starting %d Flotilla nodes (and %d spares) from %s (%s), logs in %s\n", o.nodes, o.spares, o.firstIP, o.bin, filepath.Join(out, "logs"))
		ft, err := chaos.StartFlotilla(ctx, chaos.FlotillaOptions{
			Bin: o.bin, Nodes: o.nodes, Spares: o.spares, Zones: o.zones, FirstIP: o.firstIP,
			BaseDir: dataDir, LogDir: filepath.Join(out, "logs"), Args: strings.Fields(o.flotillaArgs),
		})
		if err != nil {
			return nil, err
		}
		t = ft
	case "redis":
		out = filepath.Join(o.out, "redis-cluster")
		persistence := "no persistence"
		if o.fsync {
			persistence = "appendfsync always"
		}
		fmt.Printf("flotilla-chaos: starting a Redis Cluster (3 masters + 3 replicas, %s) from %s, logs in %s\n", persistence, rediscluster.DefaultFirstIP, filepath.Join(out, "nodes"))
		if t, err = startRedis(filepath.Join(out, "nodes"), o.fsync); err != nil {
			return nil, err
		}
		zones = 3
	}
	onQuit(func() { t.Close() })
	defer t.Close()
	rep, err := chaos.Run(ctx, chaos.Config{
		Target:   t,
		Faults:   faults,
		Duration: o.duration,
		Seed:     o.seed,
		OutDir:   out,
		Clients:  o.clients,
		Rate:     o.rate,
		MinGap:   o.minGap,
		MaxGap:   o.maxGap,
		Zones:    zones,
		Logf: func(format string, args ...any) {
			fmt.Printf("%s %s: %s\n", time.Now().Format("15:04:05.000"), name, fmt.Sprintf(format, args...))
		},
		Timeline: func(path, title string, bucket time.Duration, counts []int, marks []chaos.Mark) error {
			tm := make([]timeline.Mark, len(marks))
			for i, m := range marks {
				tm[i] = timeline.Mark{At: m.At, End: m.End, Label: m.Label}
			}
			return timeline.Render(path, title, bucket, counts, tm)
		},
	})
	if err != nil && rep == nil {
		return nil, err
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "flotilla-chaos: %s: %v\n", name, err)
	}
	return rep, nil
}

// startRedis starts the Redis Cluster of the drills: Debian's
// redis-server, 3 masters + 3 replicas on 127.0.0.21-26, default
// cluster-node-timeout, no persistence unless fsync.
func startRedis(dir string, fsync bool) (chaos.Target, error) {
	return rediscluster.Start(rediscluster.Options{BaseDir: dir, FirstIP: rediscluster.DefaultFirstIP, AppendFsyncAlways: fsync})
}
