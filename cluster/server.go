package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flotilla-db/flotilla/proto"
	"github.com/flotilla-db/flotilla/shard"
)

// Version is Flotilla's own version (INFO flotilla_version).
const Version = "0.1.0"

// RedisVersion is the Redis version whose behaviour Flotilla follows; tools
// read redis_version to decide which features to use.
const RedisVersion = "7.0.15"

// Server is a Flotilla node serving Redis clients.
type Server struct {
	cfg     *Config
	log     *slog.Logger
	shard   *shard.Shard // the keyspace of a standalone node (cluster-enabled no)
	node    *clusterNode // the cluster member (cluster-enabled yes)
	started time.Time
	runID   string
	nodeID  string

	lns    []net.Listener
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	limits proto.Limits

	mu struct {
		sync.Mutex
		conns map[uint64]*conn
	}
	nextClientID atomic.Uint64

	pubsub  *hub
	pause   pauseState
	stats   serverStats
	slowlog *slowLog
	latency *latencyMonitor

	activeExpire atomic.Bool
	replID       atomic.Pointer[string] // master_replid; DEBUG CHANGE-REPL-ID changes it
	errors       errorStats
	peakMemory   atomic.Int64
	opsRate      atomic.Int64 // commands/s over the last cron second
	savedDirty   atomic.Int64 // the dirty counter at the last "save"
}

type serverStats struct {
	connsReceived atomic.Int64
	connsRejected atomic.Int64
	commands      atomic.Int64
	netIn         atomic.Int64
	netOut        atomic.Int64
	cmd           []cmdStat          // by proto.Command.ID
	latency       []latencyHistogram // by proto.Command.ID
}

type cmdStat struct {
	calls    atomic.Int64
	usec     atomic.Int64
	rejected atomic.Int64
	failed   atomic.Int64
}

// NewServer returns a node configured by cfg. Start makes it listen.
func NewServer(cfg *Config, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	handlerTableOnce.Do(buildHandlerTable)
	s := &Server{
		cfg:     cfg,
		log:     log,
		shard:   shard.New(1, randomSeed()),
		started: time.Now(),
		runID:   randomHex(20),
		nodeID:  randomHex(20),
		pubsub:  newHub(),
		slowlog: newSlowLog(),
		latency: newLatencyMonitor(),
	}
	s.mu.conns = make(map[uint64]*conn)
	s.stats.cmd = make([]cmdStat, proto.NumCommands())
	s.stats.latency = make([]latencyHistogram, proto.NumCommands())
	s.activeExpire.Store(true)
	replID := randomHex(20)
	s.replID.Store(&replID)
	s.applyConfig(nil)
	cfg.onChange = s.applyConfig
	return s
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func randomSeed() uint64 {
	var b [8]byte
	rand.Read(b[:])
	var v uint64
	for _, x := range b {
		v = v<<8 | uint64(x)
	}
	return v
}

// applyConfig pushes configuration to the parts that cache it.
func (s *Server) applyConfig(names []string) {
	s.limits.MaxBulkLen.Store(s.cfg.Int("proto-max-bulk-len"))
	s.limits.QueryBufferLimit.Store(s.cfg.Int("client-query-buffer-limit"))
	s.shard.BeginWrite()
	s.shard.DB().SetConfig(s.cfg.EngineConfig())
	s.shard.EndWrite()
	if s.node != nil {
		for _, rep := range s.node.route.Load().local {
			rep.BeginWrite()
			rep.DB().SetConfig(s.cfg.EngineConfig())
			rep.EndWrite()
		}
	}
	s.slowlog.configure(s.cfg.Int("slowlog-log-slower-than"), int(s.cfg.Int("slowlog-max-len")))
	s.latency.configure(s.cfg.Int("latency-monitor-threshold"))
	// The directive is accepted (configuration files and clients set it)
	// but nothing enforces it yet: say so where operators look, rather
	// than let a limit seem to hold.
	if s.cfg.Int("maxmemory") > 0 && (names == nil || slices.Contains(names, "maxmemory") || slices.Contains(names, "maxmemory-policy")) {
		s.log.Warn("maxmemory is not enforced yet: no write is refused with -OOM and no key is evicted",
			"maxmemory", s.cfg.Get("maxmemory"), "maxmemory-policy", s.cfg.Get("maxmemory-policy"))
	}
}

// bindAddrs turns the bind directive into listen addresses. A leading "-"
// marks an optional address (skipped if unavailable), as in Redis.
func (s *Server) bindAddrs() (addrs []string, optional []bool) {
	port := s.cfg.Get("port")
	for _, a := range strings.Fields(s.cfg.Get("bind")) {
		opt := strings.HasPrefix(a, "-")
		a = strings.TrimPrefix(a, "-")
		switch a {
		case "*":
			a = "0.0.0.0"
		case "::*":
			a = "::"
		}
		addrs = append(addrs, net.JoinHostPort(a, port))
		optional = append(optional, opt)
	}
	return addrs, optional
}

// Start listens on the configured addresses and serves clients until
// Close.
func (s *Server) Start() error {
	s.ctx, s.cancel = context.WithCancel(context.Background())
	addrs, optional := s.bindAddrs()
	for i, addr := range addrs {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			if optional[i] {
				continue
			}
			s.closeListeners()
			return fmt.Errorf("could not create server TCP listening socket %s: %w", addr, err)
		}
		s.lns = append(s.lns, ln)
	}
	if len(s.lns) == 0 {
		return errors.New("no listening address available")
	}
	if s.cfg.Bool("cluster-enabled") {
		n, err := s.newClusterNode()
		if err == nil {
			err = n.start()
		}
		if err != nil {
			s.closeListeners()
			return err
		}
		s.node = n
		if n.expect == 1 && !n.waitServing(15*time.Second) {
			s.log.Warn("the one-node cluster is not serving yet")
		}
		if err := s.startMetrics(); err != nil {
			n.close()
			s.closeListeners()
			return err
		}
	}
	for _, ln := range s.lns {
		s.wg.Add(1)
		go s.acceptLoop(ln)
	}
	s.wg.Add(1)
	go s.runCron()
	s.log.Info("ready to accept connections", "addr", s.Addr(), "pid", os.Getpid())
	return nil
}

// Addr returns the first listening address.
func (s *Server) Addr() string {
	if len(s.lns) == 0 {
		return ""
	}
	return s.lns[0].Addr().String()
}

// Port returns the port clients connect to.
func (s *Server) Port() int {
	if len(s.lns) > 0 {
		return s.lns[0].Addr().(*net.TCPAddr).Port
	}
	p, _ := strconv.Atoi(s.cfg.Get("port"))
	return p
}

func (s *Server) closeListeners() {
	for _, ln := range s.lns {
		ln.Close()
	}
}

// Close stops accepting, closes every client and waits for the goroutines
// the server started.
func (s *Server) Close() error {
	if s.cancel == nil {
		return nil
	}
	s.cancel()
	s.closeListeners()
	s.mu.Lock()
	for _, c := range s.mu.conns {
		c.kill()
	}
	s.mu.Unlock()
	s.wg.Wait()
	if s.node != nil {
		s.stopMetrics()
		s.node.close()
	}
	return nil
}

// Done is closed when the server shuts down.
func (s *Server) Done() <-chan struct{} { return s.ctx.Done() }

func (s *Server) acceptLoop(ln net.Listener) {
	defer s.wg.Done()
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("accept", "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		s.stats.connsReceived.Add(1)
		if tc, ok := nc.(*net.TCPConn); ok {
			tc.SetNoDelay(true)
			if ka := s.cfg.Int("tcp-keepalive"); ka > 0 {
				tc.SetKeepAlive(true)
				tc.SetKeepAlivePeriod(time.Duration(ka) * time.Second)
			}
		}
		if s.denyProtected(nc) {
			continue
		}
		c := s.newConn(nc)
		s.mu.Lock()
		if int64(len(s.mu.conns)) >= s.cfg.Int("maxclients") {
			s.mu.Unlock()
			s.stats.connsRejected.Add(1)
			nc.Write([]byte("-ERR max number of clients reached\r\n"))
			nc.Close()
			continue
		}
		s.mu.conns[c.id] = c
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			c.serve()
		}()
	}
}

const protectedModeMsg = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n"

// denyProtected refuses a non-loopback client when protected mode is on and
// no password is set, as Redis does, telling it why.
func (s *Server) denyProtected(nc net.Conn) bool {
	if !s.cfg.Bool("protected-mode") || s.cfg.Get("requirepass") != "" {
		return false
	}
	ta, ok := nc.RemoteAddr().(*net.TCPAddr)
	if !ok || ta.IP.IsLoopback() {
		return false
	}
	s.stats.connsRejected.Add(1)
	nc.Write([]byte(protectedModeMsg))
	nc.Close()
	s.log.Warn("refused a client in protected mode", "addr", nc.RemoteAddr().String())
	return true
}

func (s *Server) removeConn(c *conn) {
	s.mu.Lock()
	delete(s.mu.conns, c.id)
	s.mu.Unlock()
}

// clients returns a snapshot of the connected clients, by ID.
func (s *Server) clients() []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*conn, 0, len(s.mu.conns))
	for _, c := range s.mu.conns {
		out = append(out, c)
	}
	sortConns(out)
	return out
}

func (s *Server) nowMs() int64 { return time.Now().UnixMilli() }
