package cluster

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	hraft "github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/flotilla-db/flotilla/engine"
	"github.com/flotilla-db/flotilla/proto"
	"github.com/flotilla-db/flotilla/raft"
	"github.com/flotilla-db/flotilla/shard"
)

// The metrics endpoint: an HTTP server on the node's announce IP and the
// metrics-port directive (0: none), serving
//
//   - /metrics, in Prometheus's text format, from a registry of the node's
//     own (several servers share a process in tests), and
//   - /health, 200 "ok" when the node is in a formed cluster whose every
//     slot has a known leader (CLUSTER INFO's cluster_state:ok), else 503
//     and the reason.
//
// Every value is read when scraped, by collectors that look at the Raft
// groups, the replicas and the server's counters: the command path pays
// nothing for metrics. The one thing that cannot be read later is how many
// elections a group started; a Raft observer, registered on each group as
// it appears (see runWatch), counts them.

// metricsConfigLabel is the shard label of the configuration group.
const metricsConfigLabel = "config"

// metricsServer is a node's metrics endpoint. Its goroutines (the HTTP
// server and runWatch) stop with stop.
type metricsServer struct {
	s   *Server
	srv *http.Server
	ln  net.Listener

	stopCh chan struct{}
	wg     sync.WaitGroup

	mu struct {
		sync.Mutex
		// watched are the Raft groups with an election observer, by shard
		// label.
		watched map[string]*groupWatch
	}
}

// groupWatch counts the elections of one group (by shard label) across
// the Raft instances it has had on this node.
type groupWatch struct {
	r         *hraft.Raft
	obs       *hraft.Observer
	elections atomic.Uint64
}

// metricsServers holds each running server's endpoint: Server has no field
// for it (server.go is not the metrics code's to change).
var metricsServers sync.Map // *Server -> *metricsServer

// startMetrics serves /metrics and /health on the metrics port (cluster
// mode; metrics-port 0 disables it). The port is bound before it returns,
// so that a port in use fails the start.
func (s *Server) startMetrics() error {
	port := s.cfg.Int("metrics-port")
	if port <= 0 || s.node == nil {
		return nil
	}
	addr := net.JoinHostPort(s.announceIP(), strconv.FormatInt(port, 10))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("could not listen on the metrics port %s: %w", addr, err)
	}
	m := &metricsServer{s: s, ln: ln, stopCh: make(chan struct{})}
	m.mu.watched = map[string]*groupWatch{}

	reg := prometheus.NewRegistry()
	reg.MustRegister(
		(*nodeCollector)(m),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      metricsErrorLog{m},
		ErrorHandling: promhttp.ContinueOnError,
	}))
	mux.HandleFunc("/health", m.serveHealth)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, "Flotilla node: /metrics /health\n")
	})
	m.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       time.Minute,
	}

	m.syncWatches()
	m.wg.Add(2)
	go m.runServe()
	go m.runWatch()
	metricsServers.Store(s, m)
	return nil
}

// stopMetrics stops the metrics endpoint and waits for its goroutines.
func (s *Server) stopMetrics() {
	v, ok := metricsServers.LoadAndDelete(s)
	if !ok {
		return
	}
	m := v.(*metricsServer)
	close(m.stopCh)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := m.srv.Shutdown(ctx); err != nil {
		m.srv.Close() // a scrape still running: cut it
	}
	m.wg.Wait()
	m.mu.Lock()
	for _, w := range m.mu.watched {
		w.r.DeregisterObserver(w.obs)
	}
	m.mu.Unlock()
}

func (m *metricsServer) runServe() {
	defer m.wg.Done()
	if err := m.srv.Serve(m.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		m.s.log.Error("metrics endpoint", "err", err)
	}
}

// runWatch registers the election observer on every group this node opens.
// Groups open in node.go with no hook for others, so it looks for new ones
// every 100 ms (and at every scrape): well within the 250 ms (at least) a
// new group waits before its first election. Groups opened before the
// endpoint started (a one-node cluster's, since Start waits for it to
// serve) are caught up by watch.
func (m *metricsServer) runWatch() {
	defer m.wg.Done()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-m.stopCh:
			return
		case <-tick.C:
			m.syncWatches()
		}
	}
}

// syncWatches registers an election observer on every group of the node
// not yet observed (new, or reopened since). Safe for concurrent use.
func (m *metricsServer) syncWatches() {
	n := m.s.node
	if g := n.cfgGroup.Load(); g != nil {
		m.watch(metricsConfigLabel, g.Raft)
	}
	n.mu.Lock()
	groups := make(map[shard.ID]*raft.Group, len(n.mu.replicas))
	for id, r := range n.mu.replicas {
		groups[id] = r.Group
	}
	n.mu.Unlock()
	for id, g := range groups {
		if g != nil {
			m.watch(shardLabel(id), g.Raft)
		}
	}
}

// watch counts the elections r starts under label, unless it already
// does.
func (m *metricsServer) watch(label string, r *hraft.Raft) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w := m.mu.watched[label]
	if w == nil {
		w = &groupWatch{}
		m.mu.watched[label] = w
	} else if w.r == r {
		return
	}
	// The filter runs on Raft's goroutine at each state change and only
	// counts: with no channel, nothing is sent and nothing can be dropped.
	obs := hraft.NewObserver(nil, false, func(o *hraft.Observation) bool {
		if st, ok := o.Data.(hraft.RaftState); ok && st == hraft.Candidate {
			w.elections.Add(1)
		}
		return false
	})
	// NB: a group found leading or electing started an election the
	// observer was too late to see (every leader was a candidate first in
	// its term): count it. The state is read before registering, so no
	// election counts twice; one may be missed in between, never added.
	before := r.State()
	r.RegisterObserver(obs)
	if before == hraft.Candidate || before == hraft.Leader {
		w.elections.Add(1)
	}
	w.r, w.obs = r, obs
}

// elections returns the elections counted for a shard label.
func (m *metricsServer) elections(label string) (uint64, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w := m.mu.watched[label]
	if w == nil {
		return 0, false
	}
	return w.elections.Load(), true
}

func shardLabel(id shard.ID) string { return strconv.FormatUint(uint64(id), 10) }

// serveHealth answers 200 "ok" when the cluster is formed and every slot
// has a known leader, else 503 with the reason.
func (m *metricsServer) serveHealth(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if reason := m.s.node.unhealthy(); reason != "" {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, reason)
		return
	}
	fmt.Fprintln(w, "ok")
}

// unhealthy returns why the cluster is not serving every slot as this node
// sees it ("" when it is): what CLUSTER INFO reports as cluster_state.
func (n *clusterNode) unhealthy() string {
	rt, shards, _ := n.clusterView()
	if rt.topo == nil {
		return "cluster not formed: no topology yet"
	}
	covered := 0
	var leaderless []string
	for _, v := range shards {
		for _, sr := range v.info.Slots {
			covered += sr.End - sr.Start + 1
		}
		if !v.known {
			leaderless = append(leaderless, shardLabel(v.info.ID))
		}
	}
	switch {
	case len(leaderless) > 0:
		return "no known leader for shard " + strings.Join(leaderless, ", ")
	case covered < engine.NumSlots:
		return fmt.Sprintf("%d of %d slots assigned", covered, engine.NumSlots)
	}
	return ""
}

// metricsErrorLog logs promhttp's errors (a collector's failure) to the
// server's log.
type metricsErrorLog struct{ m *metricsServer }

func (l metricsErrorLog) Println(v ...any) { l.m.s.log.Warn("metrics", "err", fmt.Sprint(v...)) }

// The metric families. Per-group ones carry shard="<id>", or
// shard="config" for the configuration group.
var (
	descRaftState = prometheus.NewDesc("flotilla_raft_state",
		"Raft state of this node's replica of the group: 1 for the current state, 0 for the others.",
		[]string{"shard", "state"}, nil)
	descRaftTerm = prometheus.NewDesc("flotilla_raft_term",
		"Current Raft term of the group.", []string{"shard"}, nil)
	descRaftIsLeader = prometheus.NewDesc("flotilla_raft_is_leader",
		"1 when this node leads the group (Raft state leader), else 0.", []string{"shard"}, nil)
	descRaftLeaderInfo = prometheus.NewDesc("flotilla_raft_leader_info",
		"The group's leader as this node knows it: 1 with its node ID, or 0 with leader_id=\"\" when none is known.",
		[]string{"shard", "leader_id"}, nil)
	descRaftCommitIndex = prometheus.NewDesc("flotilla_raft_commit_index",
		"Index of the last Raft log entry known committed.", []string{"shard"}, nil)
	descRaftAppliedIndex = prometheus.NewDesc("flotilla_raft_applied_index",
		"Index of the last Raft log entry applied (Raft's view, barriers and no-ops included).", []string{"shard"}, nil)
	descRaftLastIndex = prometheus.NewDesc("flotilla_raft_last_index",
		"Index of the last entry in this node's Raft log.", []string{"shard"}, nil)
	descRaftLastContact = prometheus.NewDesc("flotilla_raft_last_contact_seconds",
		"Seconds since this follower last heard from the leader: 0 on the leader, +Inf when never.", []string{"shard"}, nil)
	descRaftElections = prometheus.NewDesc("flotilla_raft_elections_total",
		"Elections this node started for the group: transitions into the candidate state (pre-vote rounds included) seen since the group opened or the metrics endpoint started, whichever is later, plus the one that made it the leader or candidate it was then.",
		[]string{"shard"}, nil)
	descShardReady = prometheus.NewDesc("flotilla_shard_leader_ready",
		"1 when this node leads the shard and has applied what earlier terms committed, so serves it; else 0.", []string{"shard"}, nil)
	descShardFSMApplied = prometheus.NewDesc("flotilla_shard_fsm_applied_index",
		"Index of the last command entry the shard's state machine applied.", []string{"shard"}, nil)
	descShardSnapshotPause = prometheus.NewDesc("flotilla_shard_last_snapshot_pause_seconds",
		"Time the shard's last snapshot held its write lock.", []string{"shard"}, nil)
	descShardKeys = prometheus.NewDesc("flotilla_shard_keys",
		"Keys in this node's replica of the shard.", []string{"shard"}, nil)
	descShardLeaderChanges = prometheus.NewDesc("flotilla_shard_leader_changes_total",
		"Times this node gained or lost the shard's leadership since the replica opened.", []string{"shard"}, nil)

	descTopologyEpoch = prometheus.NewDesc("flotilla_topology_epoch",
		"Epoch of the cluster topology this node routes by (0 before the cluster forms).", nil, nil)
	descClusterStateOK = prometheus.NewDesc("flotilla_cluster_state_ok",
		"1 when the cluster is formed and every slot has a known leader (cluster_state:ok, /health 200), else 0.", nil, nil)
	descSlotMoves = prometheus.NewDesc("flotilla_slot_moves_total",
		"Live slot moves this node drove to the end (as the source shard's leader).", nil, nil)
	descSlotMoveKeys = prometheus.NewDesc("flotilla_slot_move_keys_total",
		"Keys copied by the live slot moves this node finished.", nil, nil)
	descSlotMovePause = prometheus.NewDesc("flotilla_slot_move_last_pause_seconds",
		"How long the slots of the last move this node finished refused clients at the handover.", nil, nil)
	descSlotMovesPending = prometheus.NewDesc("flotilla_slot_moves_pending",
		"Live slot moves queued or under way in the cluster configuration.", nil, nil)
	descLocalShards = prometheus.NewDesc("flotilla_local_shards",
		"Shard replicas this node holds.", nil, nil)

	descCommands = prometheus.NewDesc("flotilla_commands_total",
		"Commands run, by command (INFO commandstats calls).", []string{"cmd"}, nil)
	descCommandErrors = prometheus.NewDesc("flotilla_command_errors_total",
		"Commands that ran and replied with an error, by command (INFO commandstats failed_calls).", []string{"cmd"}, nil)
	descCommandRejected = prometheus.NewDesc("flotilla_command_rejected_total",
		"Commands refused before running (arity, ACL, OOM, cluster state...), by command (INFO commandstats rejected_calls).", []string{"cmd"}, nil)
	descCommandDuration = prometheus.NewDesc("flotilla_command_duration_seconds",
		"Time to run a command, by command.", []string{"cmd"}, nil)

	descConnectedClients = prometheus.NewDesc("flotilla_connected_clients",
		"Client connections open (INFO connected_clients).", nil, nil)
	descUsedMemory = prometheus.NewDesc("flotilla_used_memory_bytes",
		"Bytes of live heap objects (INFO used_memory).", nil, nil)
	descUptime = prometheus.NewDesc("flotilla_uptime_seconds",
		"Seconds since the server started.", nil, nil)
)

// raftStates are the values of flotilla_raft_state's state label.
var raftStates = []hraft.RaftState{hraft.Follower, hraft.Candidate, hraft.Leader, hraft.Shutdown}

// durationBucketsUs are the upper bounds (µs) of
// flotilla_command_duration_seconds: every power of two from 8 µs to
// about 16.8 s. A bucket of latencyHistogram never straddles one of them
// (its buckets split powers of two), so folding its counts into these is
// exact; durations are recorded in whole µs, rounded down, so a count
// below 2^k µs is a duration below 2^k µs.
var durationBucketsUs = func() []int64 {
	var out []int64
	for k := 3; k <= 24; k++ {
		out = append(out, int64(1)<<k)
	}
	return out
}()

// nodeCollector is the node's prometheus.Collector: it reads every value
// when scraped.
type nodeCollector metricsServer

func (c *nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		descRaftState, descRaftTerm, descRaftIsLeader, descRaftLeaderInfo,
		descRaftCommitIndex, descRaftAppliedIndex, descRaftLastIndex,
		descRaftLastContact, descRaftElections,
		descShardReady, descShardFSMApplied, descShardSnapshotPause, descShardKeys, descShardLeaderChanges,
		descTopologyEpoch, descClusterStateOK, descLocalShards,
		descSlotMoves, descSlotMoveKeys, descSlotMovePause, descSlotMovesPending,
		descCommands, descCommandErrors, descCommandRejected, descCommandDuration,
		descConnectedClients, descUsedMemory, descUptime,
	} {
		ch <- d
	}
}

func (c *nodeCollector) Collect(ch chan<- prometheus.Metric) {
	m := (*metricsServer)(c)
	m.syncWatches() // a group opened since the last look counts from now
	c.collectGroups(ch)
	c.collectCommands(ch)
	c.collectProcess(ch)
}

func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func counter(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (c *nodeCollector) collectGroups(ch chan<- prometheus.Metric) {
	m := (*metricsServer)(c)
	n := m.s.node
	rt := n.route.Load()
	var epoch uint64
	if rt.topo != nil {
		epoch = rt.topo.Epoch
	}
	gauge(ch, descTopologyEpoch, float64(epoch))
	gauge(ch, descClusterStateOK, boolValue(n.unhealthy() == ""))
	gauge(ch, descLocalShards, float64(len(rt.local)))
	ch <- prometheus.MustNewConstMetric(descSlotMoves, prometheus.CounterValue, float64(n.movers.done.Load()))
	ch <- prometheus.MustNewConstMetric(descSlotMoveKeys, prometheus.CounterValue, float64(n.movers.keys.Load()))
	gauge(ch, descSlotMovePause, float64(n.movers.lastPause.Load())/1e9)
	pending := 0
	if rt.topo != nil {
		pending = len(rt.topo.Moves)
	}
	gauge(ch, descSlotMovesPending, float64(pending))

	if g := n.cfgGroup.Load(); g != nil {
		c.collectRaft(ch, metricsConfigLabel, g)
	}
	for id, rep := range rt.local {
		if rep.Group == nil {
			continue
		}
		label := shardLabel(id)
		c.collectRaft(ch, label, rep.Group)
		gauge(ch, descShardReady, boolValue(rep.IsLeader()), label)
		gauge(ch, descShardFSMApplied, float64(rep.FSM.LastApplied()), label)
		gauge(ch, descShardSnapshotPause, time.Duration(rep.FSM.SnapshotPause.Load()).Seconds(), label)
		counter(ch, descShardLeaderChanges, float64(rep.LeaderChanges.Load()), label)
		rep.BeginRead()
		keys := rep.DB().Len()
		rep.EndRead()
		gauge(ch, descShardKeys, float64(keys), label)
	}
}

// collectRaft sends the Raft gauges of one group.
func (c *nodeCollector) collectRaft(ch chan<- prometheus.Metric, label string, g *raft.Group) {
	m := (*metricsServer)(c)
	r := g.Raft
	state := r.State()
	for _, st := range raftStates {
		gauge(ch, descRaftState, boolValue(st == state), label, strings.ToLower(st.String()))
	}
	gauge(ch, descRaftTerm, float64(r.CurrentTerm()), label)
	gauge(ch, descRaftIsLeader, boolValue(state == hraft.Leader), label)
	if leader := g.Leader(); leader != "" {
		gauge(ch, descRaftLeaderInfo, 1, label, leader)
	} else {
		gauge(ch, descRaftLeaderInfo, 0, label, "")
	}
	gauge(ch, descRaftCommitIndex, float64(r.CommitIndex()), label)
	gauge(ch, descRaftAppliedIndex, float64(r.AppliedIndex()), label)
	gauge(ch, descRaftLastIndex, float64(r.LastIndex()), label)
	contact := math.Inf(1)
	if state == hraft.Leader {
		contact = 0
	} else if t := r.LastContact(); !t.IsZero() {
		contact = time.Since(t).Seconds()
	}
	gauge(ch, descRaftLastContact, contact, label)
	if e, ok := m.elections(label); ok {
		counter(ch, descRaftElections, float64(e), label)
	}
}

// collectCommands sends the per-command counters and latency histograms of
// every command called (or refused) at least once.
func (c *nodeCollector) collectCommands(ch chan<- prometheus.Metric) {
	s := c.s
	cum := make([]uint64, len(durationBucketsUs))
	for _, cmd := range proto.AllWithSubcommands() {
		st := &s.stats.cmd[cmd.ID]
		calls, rejected := st.calls.Load(), st.rejected.Load()
		if calls == 0 && rejected == 0 {
			continue
		}
		counter(ch, descCommands, float64(calls), cmd.Name)
		counter(ch, descCommandErrors, float64(st.failed.Load()), cmd.Name)
		counter(ch, descCommandRejected, float64(rejected), cmd.Name)
		if calls == 0 {
			continue
		}
		// Fold the log-linear buckets into durationBucketsUs. The count
		// is the buckets' sum, not h.count, so that the histogram holds
		// together while commands are being recorded.
		h := &s.stats.latency[cmd.ID]
		clear(cum)
		var count uint64
		for b := range h.buckets {
			v := uint64(max(h.buckets[b].Load(), 0))
			if v == 0 {
				continue
			}
			count += v
			upper := bucketUpper(b)
			for i, bound := range durationBucketsUs {
				if upper < float64(bound) {
					cum[i] += v
					break
				}
			}
		}
		if count == 0 {
			continue
		}
		buckets := make(map[float64]uint64, len(durationBucketsUs))
		var run uint64
		for i, bound := range durationBucketsUs {
			run += cum[i]
			buckets[float64(bound)/1e6] = run
		}
		sum := float64(st.usec.Load()) / 1e6
		ch <- prometheus.MustNewConstHistogram(descCommandDuration, count, sum, buckets, cmd.Name)
	}
}

// heapObjectsMetric is INFO's used_memory (runtime.MemStats.HeapAlloc),
// read without stopping the world.
const heapObjectsMetric = "/memory/classes/heap/objects:bytes"

func (c *nodeCollector) collectProcess(ch chan<- prometheus.Metric) {
	s := c.s
	s.mu.Lock()
	clients := len(s.mu.conns)
	s.mu.Unlock()
	gauge(ch, descConnectedClients, float64(clients))
	sample := []metrics.Sample{{Name: heapObjectsMetric}}
	metrics.Read(sample)
	if sample[0].Value.Kind() == metrics.KindUint64 {
		gauge(ch, descUsedMemory, float64(sample[0].Value.Uint64()))
	}
	gauge(ch, descUptime, time.Since(s.started).Seconds())
}
