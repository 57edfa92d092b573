// Command flotilla-bench compares Flotilla with Redis on this machine, in
// one run: redis-benchmark against a flotilla node and against Debian's
// redis-server (--save "" --appendonly no), alternating the two, median of
// the rounds; then the RSS of each after loading the same keys.
//
//	flotilla-bench -flotilla ./bin/flotilla [-rounds 3] [-keys 1000000]
//
// It prints a table of requests/s, p50 and p99 for each server and the ratio
// Flotilla/Redis, and checks the floors of the single-node issue. A third
// server runs in the same rotation (unless -reference=false): the bare
// tidwall/redcon reference of reference.go, whose ratio to Redis is about
// what a Go server of Flotilla's shape reaches on the machine, so the table
// also shows Flotilla's own cost (Flotilla/redcon).
//
// With -cluster it prints the cluster table instead (cluster.go): a 3-node
// Flotilla cluster against a Redis Cluster of 3 masters and 3 replicas, with
// and without appendfsync always, by redis-benchmark --cluster.
//
//	flotilla-bench -cluster -flotilla ./bin/flotilla [-rounds 3] [-n 100000] [-systems flotilla,redis,redis-aof]
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

var (
	flotillaBin = flag.String("flotilla", "bin/flotilla", "path of the flotilla binary")
	redisBin    = flag.String("redis", "redis-server", "path of redis-server")
	rounds      = flag.Int("rounds", 3, "alternating rounds; the table shows the median")
	tests       = flag.String("tests", "set,get,incr,lpush,lpop,sadd,hset,zadd,mset", "redis-benchmark tests (with -cluster: set,get,incr,lpush,hset)")
	clients     = flag.Int("c", 50, "redis-benchmark clients")
	requests    = flag.Int("n", 200000, "requests per test at -P 1 (x8 at -P 16); with -cluster 100000 (x4 at -P 16)")
	keys        = flag.Int("keys", 1000000, "keys loaded for the memory comparison (0 skips it)")
	check       = flag.Bool("check", true, "exit non-zero when a floor is missed")
	reference   = flag.Bool("reference", true, "also run the bare redcon reference server (reference.go) in the single-node table")
	serveRef    = flag.String("serve-reference", "", "serve the bare redcon reference server on this address and nothing else (used by the table)")
)

type server struct {
	name string
	port int
	cmd  *exec.Cmd
	dir  string
}

func main() {
	flag.Parse()
	// An interrupt ends the running redis-benchmark, and the deferred stops
	// then end the servers.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if *serveRef != "" {
		err = serveReference(*serveRef)
	} else if *clusterMode {
		err = runCluster(ctx)
	} else {
		err = run(ctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "flotilla-bench:", err)
		os.Exit(1)
	}
}

func freePort() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func start(name, bin string, args func(port int, dir string) []string) (*server, error) {
	dir, err := os.MkdirTemp("", "flotilla-bench-"+name)
	if err != nil {
		return nil, err
	}
	port := freePort()
	cmd := exec.Command(bin, args(port, dir)...)
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	s := &server{name: name, port: port, cmd: cmd, dir: dir}
	for i := 0; i < 200; i++ {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return s, nil
		}
		time.Sleep(25 * time.Millisecond)
	}
	s.stop()
	return nil, fmt.Errorf("%s did not start on port %d", name, port)
}

func (s *server) stop() {
	s.cmd.Process.Kill()
	s.cmd.Wait()
	os.RemoveAll(s.dir)
}

type result struct{ rps, p50, p99 float64 }

// bench runs redis-benchmark once and returns its results by test name.
func bench(ctx context.Context, s *server, pipeline, n int) (map[string]result, error) {
	return redisBenchmark(ctx, s.name, "127.0.0.1", s.port, nil, pipeline, n, *tests)
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

func run(ctx context.Context) error {
	if _, err := exec.LookPath("redis-benchmark"); err != nil {
		return errors.New("redis-benchmark not found: install Debian's redis-tools")
	}
	bin, err := filepath.Abs(*flotillaBin)
	if err != nil {
		return err
	}
	redis, err := start("redis", *redisBin, func(port int, dir string) []string {
		return []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir}
	})
	if err != nil {
		return err
	}
	defer redis.stop()
	flot, err := start("flotilla", bin, func(port int, dir string) []string {
		return []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir, "--loglevel", "warning", "--cluster-enabled", "no"}
	})
	if err != nil {
		return err
	}
	defer flot.stop()

	servers := []*server{redis, flot}
	if *reference {
		self, err := os.Executable()
		if err != nil {
			return err
		}
		ref, err := start("redcon", self, func(port int, dir string) []string {
			return []string{"-serve-reference", fmt.Sprintf("127.0.0.1:%d", port)}
		})
		if err != nil {
			return err
		}
		defer ref.stop()
		servers = append(servers, ref)
	}
	type key struct {
		server, test string
		pipeline     int
	}
	samples := map[key][]result{}
	testNames := strings.Split(strings.ToUpper(*tests), ",")
	for round := 0; round < *rounds; round++ {
		for _, p := range []int{1, 16} {
			n := *requests
			if p > 1 {
				n *= 8
			}
			// Each round starts with another server.
			order := append(slices.Clone(servers[round%len(servers):]), servers[:round%len(servers)]...)
			for _, s := range order {
				fmt.Fprintf(os.Stderr, "round %d/%d: %s -P %d\n", round+1, *rounds, s.name, p)
				res, err := bench(ctx, s, p, n)
				if err != nil {
					return err
				}
				for t, r := range res {
					samples[key{s.name, t, p}] = append(samples[key{s.name, t, p}], r)
				}
			}
		}
	}
	floors := map[string]float64{"GET": 0.9, "SET": 0.8}
	failed := false
	fmt.Printf("\nredis-benchmark -c %d, median of %d alternating rounds (requests/s; latency ms)\n\n", *clients, *rounds)
	refCols, refSep := "", ""
	if *reference {
		refCols, refSep = " redcon rps | redcon/Redis | Flotilla/redcon |", "---|---|---|"
	}
	fmt.Printf("| test | -P | Redis rps | Flotilla rps | ratio | floor | Redis p50 | Flotilla p50 | Redis p99 | Flotilla p99 |%s\n", refCols)
	fmt.Printf("|---|---|---|---|---|---|---|---|---|---|%s\n", refSep)
	for _, p := range []int{1, 16} {
		for _, t := range testNames {
			name := t
			if t == "MSET" {
				name = "MSET"
			}
			agg := func(server string, f func(result) float64) float64 {
				var v []float64
				for _, r := range samples[key{server, name, p}] {
					v = append(v, f(r))
				}
				return median(v)
			}
			rr := agg("redis", func(r result) float64 { return r.rps })
			fr := agg("flotilla", func(r result) float64 { return r.rps })
			ratio := 0.0
			if rr > 0 {
				ratio = fr / rr
			}
			floor, ok := floors[t]
			if !ok {
				floor = 0.7
			}
			mark := ""
			if ratio < floor {
				mark = " (below)"
				failed = true
			}
			refCells := ""
			if *reference {
				cr := agg("redcon", func(r result) float64 { return r.rps })
				refCells = fmt.Sprintf(" %.0f | %.2f | %.2f |", cr, cr/rr, fr/cr)
			}
			fmt.Printf("| %s | %d | %.0f | %.0f | %.2f%s | %.1f | %.3f | %.3f | %.3f | %.3f |%s\n", t, p, rr, fr, ratio, mark, floor,
				agg("redis", func(r result) float64 { return r.p50 }), agg("flotilla", func(r result) float64 { return r.p50 }),
				agg("redis", func(r result) float64 { return r.p99 }), agg("flotilla", func(r result) float64 { return r.p99 }), refCells)
		}
	}
	if *keys > 0 {
		fmt.Printf("\nMemory after loading %d keys (SET key:<12 digits> xxx, pipelined), after FLUSHALL:\n\n", *keys)
		fmt.Printf("| server | RSS MiB | used_memory MiB |\n|---|---|---|\n")
		var rss [2]float64
		for i, s := range servers[:2] {
			if err := flushAndLoad(s, *keys); err != nil {
				return err
			}
			time.Sleep(2 * time.Second)
			r, err := rssOf(s.cmd.Process.Pid)
			if err != nil {
				return err
			}
			um, _ := usedMemory(s)
			rss[i] = r
			fmt.Printf("| %s | %.1f | %.1f |\n", s.name, r/(1<<20), um/(1<<20))
		}
		ratio := rss[1] / rss[0]
		mark := ""
		if ratio > 1.5 {
			mark = " (above the 1.5x ceiling)"
			failed = true
		}
		fmt.Printf("\nRSS ratio Flotilla/Redis: %.2f%s\n", ratio, mark)
	}
	if failed && *check {
		return errors.New("a floor was missed (see the table)")
	}
	return nil
}

// flushAndLoad empties the server and loads n keys over one pipelined
// connection, the same bytes for both servers.
func flushAndLoad(s *server, n int) error {
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.port))
	if err != nil {
		return err
	}
	defer c.Close()
	rd := bufio.NewReader(c)
	w := bufio.NewWriterSize(c, 1<<16)
	send := func(args ...string) {
		fmt.Fprintf(w, "*%d\r\n", len(args))
		for _, a := range args {
			fmt.Fprintf(w, "$%d\r\n%s\r\n", len(a), a)
		}
	}
	send("FLUSHALL")
	w.Flush()
	if _, err := rd.ReadString('\n'); err != nil {
		return err
	}
	const batch = 1000
	for i := 0; i < n; i += batch {
		m := min(batch, n-i)
		for j := 0; j < m; j++ {
			send("SET", fmt.Sprintf("key:%012d", i+j), "xxx")
		}
		if err := w.Flush(); err != nil {
			return err
		}
		for j := 0; j < m; j++ {
			line, err := rd.ReadString('\n')
			if err != nil {
				return err
			}
			if !strings.HasPrefix(line, "+OK") {
				return fmt.Errorf("%s: SET replied %q", s.name, line)
			}
		}
	}
	return nil
}

func rssOf(pid int) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb * 1024, nil
		}
	}
	return 0, errors.New("no VmRSS")
}

func usedMemory(s *server) (float64, error) {
	out, err := exec.Command("redis-cli", "-p", strconv.Itoa(s.port), "info", "memory").Output()
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, errors.New("no used_memory")
}
