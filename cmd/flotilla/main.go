// Command flotilla runs a Flotilla node.
//
//	flotilla [/path/to/flotilla.conf] [--directive value ...]
//
// Directives have Redis's names (port, bind, dir, requirepass, maxclients,
// timeout, ...); flags override the file. Bad configuration stops start-up
// with a message naming the directive.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"syscall"

	"github.com/flotilla-db/flotilla/cluster"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 1 && (args[0] == "-v" || args[0] == "--version") {
		fmt.Printf("Flotilla v=%s redis_version=%s\n", cluster.Version, cluster.RedisVersion)
		return 0
	}
	if len(args) == 1 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Println("Usage: flotilla [/path/to/flotilla.conf] [--directive value ...]")
		fmt.Println("Examples:\n  flotilla --port 7001 --bind 127.0.0.1 --dir ./data\n  flotilla /etc/flotilla.conf --loglevel verbose")
		return 0
	}
	cfg, err := cluster.Load(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	log, closeLog, err := newLogger(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer closeLog()
	// A keyspace is many small objects that live long: collect before the
	// heap doubles, so memory stays near the data's size (Redis users read
	// used_memory and RSS against their data).
	debug.SetGCPercent(50)
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(ioThreads(cfg))
	}

	// FLOTILLA_CPUPROFILE=file writes a CPU profile until shutdown, for
	// performance work.
	if path := os.Getenv("FLOTILLA_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err == nil && pprof.StartCPUProfile(f) == nil {
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		}
	}
	srv := cluster.NewServer(cfg, log)
	if err := srv.Start(); err != nil {
		log.Error("start", "err", err)
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case s := <-sig:
		log.Info("received signal, shutting down", "signal", s.String())
		if s == syscall.SIGTERM && srv.DrainOnShutdown() {
			drain(srv, sig, log)
		}
	case <-srv.Done():
	}
	srv.Close()
	log.Info("bye")
	return 0
}

// drain removes the node from its cluster before it stops
// (shutdown-drain yes): its replicas move to other nodes first. A second
// signal stops it at once.
func drain(srv *cluster.Server, sig <-chan os.Signal, log *slog.Logger) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Drain(ctx) }()
	log.Info("draining: moving this node's replicas to other nodes before it stops (signal again to stop now)")
	select {
	case err := <-done:
		if err != nil {
			log.Warn("drain", "err", err)
		} else {
			log.Info("drained: the node left the cluster")
		}
	case s := <-sig:
		log.Warn("drain interrupted", "signal", s.String())
		cancel()
		<-done
	}
}

// ioThreads is the number of threads to run Go code on (io-threads; see
// its directive).
func ioThreads(cfg *cluster.Config) int {
	if n := int(cfg.Int("io-threads")); n > 0 {
		return n
	}
	if !cfg.Bool("cluster-enabled") {
		return 1
	}
	return runtime.NumCPU()
}

func newLogger(cfg *cluster.Config) (*slog.Logger, func(), error) {
	var level slog.Level
	switch cfg.Get("loglevel") {
	case "debug":
		level = slog.LevelDebug
	case "verbose":
		level = slog.LevelDebug + 2
	case "notice":
		level = slog.LevelInfo
	case "warning":
		level = slog.LevelWarn
	case "nothing":
		return slog.New(slog.NewTextHandler(io.Discard, nil)), func() {}, nil
	}
	out := io.Writer(os.Stdout)
	closeFn := func() {}
	if f := cfg.Get("logfile"); f != "" {
		fh, err := os.OpenFile(f, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return nil, nil, fmt.Errorf("can't open the log file: %w", err)
		}
		out = fh
		closeFn = func() { fh.Close() }
	}
	return slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: level})), closeFn, nil
}
