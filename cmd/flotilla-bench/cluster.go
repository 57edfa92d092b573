package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flotilla-db/flotilla/test/localcluster"
)

// The cluster table (-cluster): a 3-node Flotilla cluster against a Redis
// Cluster of 3 masters and 3 replicas, once without persistence and once
// with the durability Flotilla gives (appendonly yes, appendfsync always),
// all running at once on this machine, each node on its own loopback
// address, driven by redis-benchmark --cluster in alternating rounds.

var (
	clusterMode  = flag.Bool("cluster", false, "run the cluster table instead of the single-node one")
	systemsFlag  = flag.String("systems", "flotilla,redis,redis-aof", "with -cluster: the systems to run (flotilla, redis, redis-aof)")
	flotillaArgs = flag.String("flotilla-args", "", "with -cluster: more flags for every Flotilla node, space separated")
	flotillaIP   = flag.String("flotilla-ip", "127.0.0.11", "with -cluster: the first Flotilla node's address (3 consecutive ones)")
	redisIP      = flag.String("redis-ip", "127.0.0.21", "with -cluster: the first Redis Cluster node's address (6 consecutive ones)")
	benchTimeout = flag.Duration("bench-timeout", 10*time.Minute, "longest a single redis-benchmark run may take")
)

// Defaults of the cluster table where they differ from the single-node
// one: the five tests of the cluster floors, and requests sized so that
// three rounds of three systems stay near ten minutes on two cores when
// Flotilla is about as fast as Redis Cluster with appendfsync always (~11k
// SET/s at -P 1 and ~60k at -P 16 there; ~45k and ~210k without
// persistence). -P 16 runs 4x the requests, not the single-node table's 8x:
// appendfsync always makes them the longest of the table.
const (
	clusterTests    = "set,get,incr,lpush,hset"
	clusterRequests = 100000
	clusterP16Times = 4
)

// benchTick is the period at which redis-benchmark --cluster notices that a
// test has ended. NB: in --cluster mode it runs one thread per master, and
// the threads stop on their 250 ms throughput timer, not when the last reply
// comes, so a run's measured time is the true one rounded up to the next
// tick (n / rps comes out as k*0.25 s plus a few ms). Left alone, that
// understates short, fast runs the most, Redis's more than Flotilla's.
const benchTick = 250 * time.Millisecond

// untick corrects requests/s measured over a run of n requests for the
// tick: the true time lies in the last tick before the measured end, on
// average half a tick earlier. Runs shorter than two ticks are too short to
// say, and left alone.
func untick(rps float64, n int) float64 {
	if rps <= 0 {
		return rps
	}
	tick := benchTick.Seconds()
	if elapsed := float64(n) / rps; elapsed > 2*tick {
		return float64(n) / (elapsed - tick/2)
	}
	return rps
}

// clusterSystem is one system under test: where redis-benchmark --cluster
// starts (a node that answers CLUSTER NODES), and how to stop it.
type clusterSystem struct {
	key, label string
	host       string
	port       int
	stop       func()
	// diagnose, if set, describes the system's state after a failed run:
	// which nodes are still up, and the end of their logs.
	diagnose func() string
}

// clusterFloor is one floor of the cluster issue: Flotilla's requests/s
// over a Redis system's, for a test at a pipeline depth.
type clusterFloor struct {
	test     string
	pipeline int
	against  string // system key
	ratio    float64
}

var clusterFloors = []clusterFloor{
	{"GET", 1, "redis", 0.8},
	{"GET", 16, "redis", 0.8},
	{"SET", 1, "redis", 0.4},
	{"SET", 16, "redis", 0.4},
	{"SET", 1, "redis-aof", 0.8},
	{"SET", 16, "redis-aof", 0.8},
}

// setP99Ceiling is the highest SET p99 at -P 1, in milliseconds.
const setP99Ceiling = 5.0

func runCluster(ctx context.Context) error {
	for _, tool := range []string{"redis-benchmark", "redis-cli", *redisBin} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not found: make tools installs Debian's redis-server and redis-tools", tool)
		}
	}
	explicit := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	n, testList := *requests, *tests
	if !explicit["n"] {
		n = clusterRequests
	}
	if !explicit["tests"] {
		testList = clusterTests
	}
	want := map[string]bool{}
	for _, s := range strings.Split(*systemsFlag, ",") {
		switch s = strings.TrimSpace(s); s {
		case "flotilla", "redis", "redis-aof":
			want[s] = true
		default:
			return fmt.Errorf("-systems: unknown system %q (flotilla, redis, redis-aof)", s)
		}
	}

	var systems []*clusterSystem
	defer func() {
		for _, s := range systems {
			s.stop()
		}
	}()
	if want["redis"] {
		s, err := startRedisCluster(ctx, "redis", "Redis Cluster", *redisIP, false)
		if err != nil {
			return err
		}
		systems = append(systems, s)
	}
	if want["redis-aof"] {
		s, err := startRedisCluster(ctx, "redis-aof", "Redis Cluster AOF always", *redisIP, true)
		if err != nil {
			return err
		}
		systems = append(systems, s)
	}
	if want["flotilla"] {
		s, err := startFlotillaCluster()
		if err != nil {
			return err
		}
		systems = append(systems, s)
	}

	type key struct {
		system, test string
		pipeline     int
	}
	samples := map[key][]result{}
	start := time.Now()
	for round := 0; round < *rounds; round++ {
		for _, p := range []int{1, 16} {
			np := n
			if p > 1 {
				np *= clusterP16Times
			}
			// Alternate: each round starts with the next system, so that
			// none always runs first, or right after the same neighbour.
			for k := range systems {
				s := systems[(k+round)%len(systems)]
				fmt.Fprintf(os.Stderr, "[%s] round %d/%d: %s -P %d -n %d\n", time.Since(start).Round(time.Second), round+1, *rounds, s.label, p, np)
				res, err := redisBenchmark(ctx, s.label, s.host, s.port, []string{"--cluster"}, p, np, testList)
				if err != nil {
					if s.diagnose != nil {
						err = fmt.Errorf("%w\n%s", err, s.diagnose())
					}
					return err
				}
				for t, r := range res {
					r.rps = untick(r.rps, np)
					samples[key{s.key, t, p}] = append(samples[key{s.key, t, p}], r)
				}
			}
		}
	}

	med := func(system, test string, p int, f func(result) float64) float64 {
		var v []float64
		for _, r := range samples[key{system, test, p}] {
			v = append(v, f(r))
		}
		return median(v)
	}
	rps := func(r result) float64 { return r.rps }
	p50 := func(r result) float64 { return r.p50 }
	p99 := func(r result) float64 { return r.p99 }
	have := func(system string) bool {
		return slices.ContainsFunc(systems, func(s *clusterSystem) bool { return s.key == system })
	}
	ratio := func(test string, p int, against string) string {
		if !have("flotilla") || !have(against) {
			return "-"
		}
		d := med(against, test, p, rps)
		if d == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f", med("flotilla", test, p, rps)/d)
	}
	num := func(system, test string, p int, f func(result) float64, format string) string {
		if !have(system) {
			return "-"
		}
		return fmt.Sprintf(format, med(system, test, p, f))
	}

	fmt.Printf("\nCluster: redis-benchmark --cluster -c %d -r 100000, -n %d (x%d at -P 16), median of %d alternating rounds (requests/s, less half of redis-benchmark's 250 ms end-of-run tick; latency ms)\n",
		*clients, n, clusterP16Times, *rounds)
	fmt.Printf("Flotilla: 3 nodes in 3 zones (%s). Redis Cluster: %s, 3 masters + 3 replicas, --save '' --appendonly no; AOF always: the same with --appendonly yes --appendfsync always.\n\n",
		flotillaShape(), redisVersion())
	fmt.Printf("| test | -P | Flotilla rps | Redis Cluster rps | RC AOF-always rps | Flotilla/RC | Flotilla/RC-AOF | Flotilla p50 | RC p50 | RC-AOF p50 | Flotilla p99 | RC p99 | RC-AOF p99 |\n")
	fmt.Printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	testNames := strings.Split(strings.ToUpper(testList), ",")
	for _, p := range []int{1, 16} {
		for _, t := range testNames {
			fmt.Printf("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", t, p,
				num("flotilla", t, p, rps, "%.0f"), num("redis", t, p, rps, "%.0f"), num("redis-aof", t, p, rps, "%.0f"),
				ratio(t, p, "redis"), ratio(t, p, "redis-aof"),
				num("flotilla", t, p, p50, "%.3f"), num("redis", t, p, p50, "%.3f"), num("redis-aof", t, p, p50, "%.3f"),
				num("flotilla", t, p, p99, "%.3f"), num("redis", t, p, p99, "%.3f"), num("redis-aof", t, p, p99, "%.3f"))
		}
	}

	fmt.Printf("\nFloors:\n")
	missed := false
	label := map[string]string{"redis": "RedisCluster", "redis-aof": "RedisCluster-AOF-always"}
	for _, f := range clusterFloors {
		if !slices.Contains(testNames, f.test) {
			continue
		}
		what := fmt.Sprintf("%s -P %d: Flotilla/%s >= %.1f", f.test, f.pipeline, label[f.against], f.ratio)
		if !have("flotilla") || !have(f.against) {
			fmt.Printf("n/a   %s (not run)\n", what)
			continue
		}
		r := med("flotilla", f.test, f.pipeline, rps) / med(f.against, f.test, f.pipeline, rps)
		mark := "PASS"
		if !(r >= f.ratio) {
			mark, missed = "MISS", true
		}
		fmt.Printf("%s  %s: %.2f\n", mark, what, r)
	}
	if have("flotilla") && slices.Contains(testNames, "SET") {
		v := med("flotilla", "SET", 1, p99)
		mark := "PASS"
		if !(v < setP99Ceiling) {
			mark, missed = "MISS", true
		}
		fmt.Printf("%s  SET -P 1: Flotilla p99 < %.0f ms: %.3f ms\n", mark, setP99Ceiling, v)
	}
	fmt.Fprintf(os.Stderr, "cluster table done in %s\n", time.Since(start).Round(time.Second))
	if missed && *check {
		return errors.New("a cluster floor was missed (see Floors)")
	}
	return nil
}

// startFlotillaCluster starts the Flotilla side: three nodes in three zones
// on -flotilla-ip and the next two addresses, on ports free on all three
// (test/localcluster).
func startFlotillaCluster() (*clusterSystem, error) {
	bin, err := filepath.Abs(*flotillaBin)
	if err != nil {
		return nil, err
	}
	c, err := localcluster.Start(localcluster.Options{
		Bin: bin, Nodes: 3, Zones: 3, FirstIP: *flotillaIP, LogLevel: "warning",
		Args: strings.Fields(*flotillaArgs), StopTimeout: 10 * time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("flotilla cluster: %w", err)
	}
	if err := c.WaitReady(60 * time.Second); err != nil {
		for i := 0; i < c.Len(); i++ {
			fmt.Fprintf(os.Stderr, "--- %s ---\n%s\n", c.Node(i).LogFile, c.LogTail(i, 20))
		}
		c.Close()
		return nil, fmt.Errorf("flotilla cluster: %w", err)
	}
	if err := waitStableMasters(c.Addrs(), 3*time.Second, 60*time.Second); err != nil {
		c.Close()
		return nil, fmt.Errorf("flotilla cluster: %w", err)
	}
	return &clusterSystem{
		key: "flotilla", label: "Flotilla", host: c.Node(0).IP, port: c.Ports().RESP,
		stop: func() { c.Close() },
		diagnose: func() string {
			var b strings.Builder
			for i := 0; i < c.Len(); i++ {
				n := c.Node(i)
				fmt.Fprintf(&b, "--- %s (running %v, exit %v), end of %s ---\n%s\n", n.Name, n.Running, n.ExitErr, n.LogFile, c.LogTail(i, 15))
			}
			return b.String()
		},
	}, nil
}

func flotillaShape() string {
	if *flotillaArgs == "" {
		return "default shards and replicas: one shard per node, 3 replicas"
	}
	return "flags " + *flotillaArgs
}

func redisVersion() string {
	out, err := exec.Command(*redisBin, "--version").Output()
	if err != nil {
		return "redis-server"
	}
	for _, f := range strings.Fields(string(out)) {
		if v, ok := strings.CutPrefix(f, "v="); ok {
			return "redis-server " + v
		}
	}
	return strings.TrimSpace(string(out))
}

// waitStableMasters waits until every node's CLUSTER NODES shows the same
// masters with the same slots, all 16384 of them, unchanged for quiet. A
// new Flotilla cluster moves shard leaders to balance them after it forms,
// and redis-benchmark --cluster reads the masters once from the first node
// and copes badly with their moving mid-run.
func waitStableMasters(addrs []string, quiet, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last, why string
	since := time.Now()
	for {
		cur, err := masterView(addrs)
		if err != nil {
			why = err.Error()
			last, since = "", time.Now()
		} else if cur != last {
			last, since = cur, time.Now()
		} else if time.Since(since) >= quiet {
			return nil
		}
		if time.Now().After(deadline) {
			if why == "" {
				why = "masters:\n" + last
			}
			return fmt.Errorf("masters not settled after %s: %s", timeout, why)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// masterView is the masters and their slots that every node in addrs
// agrees on, or an error saying where they differ.
func masterView(addrs []string) (string, error) {
	var first string
	for _, addr := range addrs {
		nodes, err := localcluster.Do(addr, time.Second, "CLUSTER", "NODES")
		if err != nil {
			return "", fmt.Errorf("%s: %w", addr, err)
		}
		var masters []string
		slots := 0
		for _, line := range strings.Split(strings.TrimSpace(nodes), "\n") {
			f := strings.Fields(line)
			if len(f) <= 8 || !strings.Contains(f[2], "master") {
				continue
			}
			for _, r := range f[8:] {
				lo, hi, ok := strings.Cut(r, "-")
				if !ok {
					hi = lo
				}
				a, err1 := strconv.Atoi(lo)
				b, err2 := strconv.Atoi(hi)
				if err1 == nil && err2 == nil {
					slots += b - a + 1
				}
			}
			masters = append(masters, f[0]+" "+strings.Split(f[1], "@")[0]+" "+strings.Join(f[8:], " "))
		}
		slices.Sort(masters)
		view := strings.Join(masters, "\n")
		if slots != 16384 {
			return "", fmt.Errorf("%s: masters cover %d slots:\n%s", addr, slots, view)
		}
		if first == "" {
			first = view
		} else if view != first {
			return "", fmt.Errorf("%s and %s disagree on the masters:\n%s\n--\n%s", addrs[0], addr, first, view)
		}
	}
	return first, nil
}

// startRedisCluster starts six redis-server processes on six consecutive
// loopback addresses from firstIP, all on one port free on every one
// (with the bus port, +10000), and makes them a cluster of 3 masters and
// 3 replicas with redis-cli --cluster create. Each node announces and dials
// from its own address: otherwise peers see the handshake coming from
// 127.0.0.1 and the cluster never forms.
func startRedisCluster(ctx context.Context, key, label, firstIP string, aof bool) (*clusterSystem, error) {
	ips, err := localcluster.IPs(firstIP, 6)
	if err != nil {
		return nil, err
	}
	port, err := localcluster.FreePort(ips, 10000)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "flotilla-bench-"+key)
	if err != nil {
		return nil, err
	}
	var cmds []*exec.Cmd
	stop := func() {
		for _, c := range cmds {
			c.Process.Kill()
			c.Wait()
		}
		os.RemoveAll(dir)
	}
	ok := false
	defer func() {
		if !ok {
			stop()
		}
	}()
	var addrs []string
	for i, ip := range ips {
		nodeDir := filepath.Join(dir, fmt.Sprintf("node%d", i+1))
		if err := os.MkdirAll(nodeDir, 0o755); err != nil {
			return nil, err
		}
		args := []string{
			"--bind", ip, "--port", strconv.Itoa(port), "--dir", nodeDir,
			"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-announce-ip", ip, "--bind-source-addr", ip,
			"--save", "", "--protected-mode", "no", "--daemonize", "no",
			"--logfile", "redis.log",
		}
		if aof {
			args = append(args, "--appendonly", "yes", "--appendfsync", "always")
		} else {
			args = append(args, "--appendonly", "no")
		}
		cmd := exec.Command(*redisBin, args...)
		cmd.Dir = nodeDir
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("%s: %w", label, err)
		}
		cmds = append(cmds, cmd)
		addrs = append(addrs, fmt.Sprintf("%s:%d", ip, port))
	}
	for _, addr := range addrs {
		if err := waitPing(addr, 10*time.Second); err != nil {
			return nil, fmt.Errorf("%s: %w", label, err)
		}
	}
	create := exec.CommandContext(ctx, "redis-cli", append(append([]string{"--cluster", "create"}, addrs...), "--cluster-replicas", "1", "--cluster-yes")...)
	if out, err := create.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%s: redis-cli --cluster create: %w\n%s", label, err, out)
	}
	if err := waitRedisCluster(addrs, 3, 60*time.Second); err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	ok = true
	return &clusterSystem{key: key, label: label, host: ips[0], port: port, stop: stop}, nil
}

func waitPing(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		_, err := localcluster.Do(addr, time.Second, "PING")
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s does not answer PING: %w", addr, err)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// waitRedisCluster waits until every node says cluster_state:ok and sees
// the intended shape (masters with slots, one connected replica each, no
// failing or handshaking node), and every replica's link to its master is
// up. cluster_state:ok alone comes before the replicas are attached, when
// redis-benchmark would still see them as masters without slots.
func waitRedisCluster(addrs []string, masters int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var why string
	for {
		why = redisClusterNotReady(addrs, masters)
		if why == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("Redis Cluster not ready after %s: %s", timeout, why)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func redisClusterNotReady(addrs []string, masters int) string {
	for _, addr := range addrs {
		info, err := localcluster.ClusterInfo(addr, time.Second)
		if err != nil {
			return err.Error()
		}
		if info["cluster_state"] != "ok" {
			return addr + ": cluster_state:" + info["cluster_state"]
		}
		nodes, err := localcluster.Do(addr, time.Second, "CLUSTER", "NODES")
		if err != nil {
			return err.Error()
		}
		var m, r int
		for _, line := range strings.Split(strings.TrimSpace(nodes), "\n") {
			f := strings.Fields(line)
			if len(f) < 8 {
				return addr + ": bad CLUSTER NODES line " + line
			}
			flags := f[2]
			for _, bad := range []string{"fail", "handshake", "noaddr"} {
				if strings.Contains(flags, bad) {
					return addr + " sees " + line
				}
			}
			switch {
			case f[7] != "connected":
				return addr + " sees " + line
			case strings.Contains(flags, "master") && len(f) > 8:
				m++
			case strings.Contains(flags, "slave"):
				r++
			default:
				return addr + " sees a node neither master with slots nor replica: " + line
			}
		}
		if m != masters || r != len(addrs)-masters {
			return fmt.Sprintf("%s sees %d masters and %d replicas", addr, m, r)
		}
		repl, err := localcluster.Do(addr, time.Second, "INFO", "replication")
		if err != nil {
			return err.Error()
		}
		if strings.Contains(repl, "role:slave") && !strings.Contains(repl, "master_link_status:up") {
			return addr + ": replica link not up yet"
		}
	}
	return ""
}

// redisBenchmark runs redis-benchmark once against host:port and returns
// its results by test name. The --csv columns of redis-benchmark 7.0 are
// test, rps, avg, min, p50, p95, p99 and max latency (ms); in --cluster
// mode it also prints the masters it found, which are skipped.
func redisBenchmark(ctx context.Context, name, host string, port int, extra []string, pipeline, n int, testList string) (map[string]result, error) {
	ctx, cancel := context.WithTimeout(ctx, *benchTimeout)
	defer cancel()
	args := append([]string{"-h", host, "-p", strconv.Itoa(port)}, extra...)
	args = append(args, "-c", strconv.Itoa(*clients), "-n", strconv.Itoa(n), "-P", strconv.Itoa(pipeline),
		"-r", "100000", "-t", testList, "--csv")
	cmd := exec.CommandContext(ctx, "redis-benchmark", args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("redis-benchmark against %s: %w\n%s%s", name, err, out, stderr.String())
	}
	res, err := parseBenchmarkCSV(string(out))
	if err != nil {
		return nil, fmt.Errorf("redis-benchmark against %s: %w", name, err)
	}
	if len(res) == 0 {
		return nil, fmt.Errorf("redis-benchmark against %s printed no results:\n%s%s", name, out, stderr.String())
	}
	return res, nil
}

// parseBenchmarkCSV reads redis-benchmark --csv output: quoted rows after a
// header, keyed by the test's first word ("MSET (10 keys)" is MSET).
func parseBenchmarkCSV(out string) (map[string]result, error) {
	res := map[string]result{}
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, `"`) || strings.HasPrefix(line, `"test"`) {
			continue
		}
		var r []string
		for _, f := range strings.Split(line, `","`) {
			r = append(r, strings.Trim(f, `"`))
		}
		if len(r) < 7 {
			return nil, fmt.Errorf("short CSV row %q", line)
		}
		var v [3]float64
		for i, col := range []int{1, 4, 6} {
			f, err := strconv.ParseFloat(r[col], 64)
			if err != nil {
				return nil, fmt.Errorf("CSV row %q: %w", line, err)
			}
			v[i] = f
		}
		res[strings.Fields(r[0])[0]] = result{v[0], v[1], v[2]}
	}
	return res, nil
}
