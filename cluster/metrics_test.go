package cluster

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	hraft "github.com/hashicorp/raft"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// metricsFreePort returns a TCP port free on 127.0.0.1 right now.
func metricsFreePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// startMetricsNode starts a one-node cluster with its metrics endpoint on
// a free port, and returns the server and the endpoint's base URL.
func startMetricsNode(t testing.TB, directives ...string) (*Server, string) {
	t.Helper()
	mport := metricsFreePort(t)
	args := append([]string{
		"cluster-enabled", "yes",
		"dir", t.TempDir(),
		"bind", "127.0.0.1",
		"cluster-port", metricsFreePort(t),
		"gossip-port", metricsFreePort(t),
		"metrics-port", mport,
	}, directives...)
	s := startServer(t, args...)
	return s, "http://127.0.0.1:" + mport
}

func httpGet(t testing.TB, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// scrape reads /metrics and parses it.
func scrape(t testing.TB, base string) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := httpGet(t, base+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parsing /metrics: %v\n%s", err, body)
	}
	return fams
}

// series returns the value of every series of a gauge or counter family,
// keyed by its labels rendered as k=v,k=v (sorted by name, as exposed).
func series(fams map[string]*dto.MetricFamily, name string) map[string]float64 {
	out := map[string]float64{}
	f := fams[name]
	if f == nil {
		return out
	}
	for _, m := range f.Metric {
		var ls []string
		for _, l := range m.Label {
			ls = append(ls, l.GetName()+"="+l.GetValue())
		}
		var v float64
		switch {
		case m.Gauge != nil:
			v = m.Gauge.GetValue()
		case m.Counter != nil:
			v = m.Counter.GetValue()
		default:
			continue
		}
		out[strings.Join(ls, ",")] = v
	}
	return out
}

func TestMetricsEndpoint(t *testing.T) {
	s, base := startMetricsNode(t)
	waitClusterOK(t, s)
	c := client(t, s)
	ctx := ctxT(t)

	const nkeys = 25
	for i := range nkeys {
		if err := c.Set(ctx, fmt.Sprintf("key:%d", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 7 {
		if v, err := c.Get(ctx, fmt.Sprintf("key:%d", i)).Result(); err != nil || v != strconv.Itoa(i) {
			t.Fatalf("GET key:%d = %q, %v", i, v, err)
		}
	}
	c.Set(ctx, "notanumber", "x", 0)
	if err := c.Incr(ctx, "notanumber").Err(); err == nil {
		t.Fatal("INCR of a string did not fail")
	}

	code, body := httpGet(t, base+"/health")
	if code != http.StatusOK || strings.TrimSpace(body) != "ok" {
		t.Errorf("/health = %d %q, want 200 ok", code, body)
	}

	fams := scrape(t, base)

	// Every shard: led here, ready, a term, entries committed and applied.
	leaders := series(fams, "flotilla_raft_is_leader")
	if leaders["shard=config"] != 1 {
		t.Errorf("config group is_leader = %v, want 1", leaders["shard=config"])
	}
	shards := 0
	for _, rep := range s.node.route.Load().local {
		shards++
		l := "shard=" + shardLabel(rep.ID())
		if leaders[l] != 1 {
			t.Errorf("%s is_leader = %v, want 1", l, leaders[l])
		}
		if v := series(fams, "flotilla_shard_leader_ready")[l]; v != 1 {
			t.Errorf("%s leader_ready = %v, want 1", l, v)
		}
		if v := series(fams, "flotilla_raft_state")[l+",state=leader"]; v != 1 {
			t.Errorf("%s state leader = %v, want 1", l, v)
		}
		if v := series(fams, "flotilla_raft_state")[l+",state=follower"]; v != 0 {
			t.Errorf("%s state follower = %v, want 0", l, v)
		}
		if v := series(fams, "flotilla_raft_term")[l]; v < 1 {
			t.Errorf("%s term = %v, want >= 1", l, v)
		}
		commit := series(fams, "flotilla_raft_commit_index")[l]
		if commit <= 0 {
			t.Errorf("%s commit index = %v, want > 0", l, commit)
		}
		if v := series(fams, "flotilla_raft_applied_index")[l]; v <= 0 || v > commit {
			t.Errorf("%s applied index = %v, want in (0, %v]", l, v, commit)
		}
		if v := series(fams, "flotilla_raft_leader_info")["leader_id="+s.nodeID+","+l]; v != 1 {
			t.Errorf("%s leader_info{leader_id=%s} = %v, want 1", l, s.nodeID, v)
		}
		if v := series(fams, "flotilla_raft_last_contact_seconds")[l]; v != 0 {
			t.Errorf("%s last contact = %v on the leader, want 0", l, v)
		}
		if v := series(fams, "flotilla_raft_elections_total")[l]; v < 1 {
			t.Errorf("%s elections = %v, want >= 1 (it elected itself)", l, v)
		}
		if v, ok := series(fams, "flotilla_shard_leader_changes_total")[l]; !ok || v < 1 {
			t.Errorf("%s leader changes = %v (present %v), want >= 1", l, v, ok)
		}
		if _, ok := series(fams, "flotilla_shard_last_snapshot_pause_seconds")[l]; !ok {
			t.Errorf("%s: no last_snapshot_pause_seconds", l)
		}
	}
	if shards == 0 {
		t.Fatal("the node holds no shard")
	}
	if v := series(fams, "flotilla_local_shards")[""]; int(v) != shards {
		t.Errorf("local_shards = %v, want %d", v, shards)
	}
	var keys float64
	for l, v := range series(fams, "flotilla_shard_keys") {
		if l == "shard=config" {
			t.Error("the configuration group has no keys metric")
		}
		keys += v
	}
	if keys != nkeys+1 {
		t.Errorf("flotilla_shard_keys sums to %v, want %d", keys, nkeys+1)
	}
	applied := 0.0
	for _, v := range series(fams, "flotilla_shard_fsm_applied_index") {
		applied += v
	}
	if applied < nkeys {
		t.Errorf("fsm applied indexes sum to %v, want >= %d", applied, nkeys)
	}
	if v := series(fams, "flotilla_topology_epoch")[""]; v < 1 {
		t.Errorf("topology epoch = %v, want >= 1", v)
	}
	if v := series(fams, "flotilla_cluster_state_ok")[""]; v != 1 {
		t.Errorf("cluster_state_ok = %v, want 1", v)
	}

	// Commands.
	cmds := series(fams, "flotilla_commands_total")
	if cmds["cmd=set"] != nkeys+1 || cmds["cmd=get"] != 7 || cmds["cmd=incr"] != 1 {
		t.Errorf("commands_total set=%v get=%v incr=%v, want %d 7 1", cmds["cmd=set"], cmds["cmd=get"], cmds["cmd=incr"], nkeys+1)
	}
	if _, ok := cmds["cmd=hset"]; ok {
		t.Error("a command never called is exported")
	}
	errs := series(fams, "flotilla_command_errors_total")
	if errs["cmd=incr"] != 1 || errs["cmd=set"] != 0 {
		t.Errorf("command_errors_total incr=%v set=%v, want 1 0", errs["cmd=incr"], errs["cmd=set"])
	}
	checkHistogram(t, fams, "set", nkeys+1)
	checkHistogram(t, fams, "get", 7)

	// The process.
	if v := series(fams, "flotilla_connected_clients")[""]; v < 1 {
		t.Errorf("connected_clients = %v, want >= 1", v)
	}
	if v := series(fams, "flotilla_used_memory_bytes")[""]; v <= 0 {
		t.Errorf("used_memory_bytes = %v", v)
	}
	if v := series(fams, "flotilla_uptime_seconds")[""]; v <= 0 {
		t.Errorf("uptime_seconds = %v", v)
	}
	if fams["go_goroutines"] == nil || fams["process_start_time_seconds"] == nil {
		t.Error("no Go runtime or process metrics")
	}
}

// checkHistogram checks flotilla_command_duration_seconds{cmd}: count
// calls, cumulative buckets that end at the count.
func checkHistogram(t *testing.T, fams map[string]*dto.MetricFamily, cmd string, count uint64) {
	t.Helper()
	f := fams["flotilla_command_duration_seconds"]
	if f == nil || f.GetType() != dto.MetricType_HISTOGRAM {
		t.Fatalf("no histogram flotilla_command_duration_seconds")
	}
	for _, m := range f.Metric {
		if len(m.Label) != 1 || m.Label[0].GetValue() != cmd {
			continue
		}
		h := m.Histogram
		if h.GetSampleCount() != count {
			t.Errorf("%s duration count = %d, want %d", cmd, h.GetSampleCount(), count)
		}
		if h.GetSampleSum() < 0 || h.GetSampleSum() > 20*float64(count) {
			t.Errorf("%s duration sum = %v", cmd, h.GetSampleSum())
		}
		var prev uint64
		bounds := 0
		for _, b := range h.Bucket {
			if math.IsInf(b.GetUpperBound(), 1) {
				continue
			}
			bounds++
			if b.GetCumulativeCount() < prev {
				t.Errorf("%s buckets not cumulative at %v", cmd, b.GetUpperBound())
			}
			prev = b.GetCumulativeCount()
		}
		if bounds != len(durationBucketsUs) || prev > count {
			t.Errorf("%s: %d bounds ending at %d of %d", cmd, bounds, prev, count)
		}
		return
	}
	t.Errorf("no duration histogram for %s", cmd)
}

// TestMetricsHealthNotFormed: a node waiting for peers it will never see
// is unhealthy, and says why; its metrics still answer.
func TestMetricsHealthNotFormed(t *testing.T) {
	_, base := startMetricsNode(t, "bootstrap-expect", "2")
	code, body := httpGet(t, base+"/health")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "not formed") {
		t.Errorf("/health = %d %q, want 503 not formed", code, body)
	}
	fams := scrape(t, base)
	if v := series(fams, "flotilla_cluster_state_ok")[""]; v != 0 {
		t.Errorf("cluster_state_ok = %v, want 0", v)
	}
	if v := series(fams, "flotilla_topology_epoch")[""]; v != 0 {
		t.Errorf("topology_epoch = %v, want 0", v)
	}
}

// TestMetricsPortInUse: a metrics port taken fails the start, as the other
// ports do; metrics-port 0 runs no endpoint.
func TestMetricsPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg, err := Load([]string{"--port", "0", "--bind", "127.0.0.1", "--cluster-enabled", "yes", "--dir", t.TempDir(),
		"--cluster-port", metricsFreePort(t), "--gossip-port", metricsFreePort(t),
		"--metrics-port", strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)})
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(cfg, nil)
	if err := s.Start(); err == nil || !strings.Contains(err.Error(), "metrics port") {
		s.Close()
		t.Fatalf("Start with the metrics port taken: %v", err)
	}

	off := startServer(t, "cluster-enabled", "yes", "dir", t.TempDir(), "bind", "127.0.0.1",
		"cluster-port", metricsFreePort(t), "gossip-port", metricsFreePort(t), "metrics-port", "0")
	if _, ok := metricsServers.Load(off); ok {
		t.Error("metrics-port 0 started an endpoint")
	}
}

// nopFSM is a Raft FSM that keeps nothing.
type nopFSM struct{}

func (nopFSM) Apply(*hraft.Log) any                 { return nil }
func (nopFSM) Snapshot() (hraft.FSMSnapshot, error) { return nil, errors.New("no snapshots") }
func (nopFSM) Restore(rc io.ReadCloser) error       { return rc.Close() }

// TestMetricsElectionObserver: the observer counts the election a group
// starts after it is registered, once; registering again on the same group
// changes nothing; a group found already leading counts its election.
func TestMetricsElectionObserver(t *testing.T) {
	newRaft := func(id string) *hraft.Raft {
		conf := hraft.DefaultConfig()
		conf.LocalID = hraft.ServerID(id)
		conf.HeartbeatTimeout = 50 * time.Millisecond
		conf.ElectionTimeout = 50 * time.Millisecond
		conf.LeaderLeaseTimeout = 50 * time.Millisecond
		conf.Logger = hclog.NewNullLogger()
		store := hraft.NewInmemStore()
		snaps := hraft.NewInmemSnapshotStore()
		addr, trans := hraft.NewInmemTransport("")
		err := hraft.BootstrapCluster(conf, store, store, snaps, trans, hraft.Configuration{
			Servers: []hraft.Server{{ID: conf.LocalID, Address: addr}},
		})
		if err != nil {
			t.Fatal(err)
		}
		r, err := hraft.NewRaft(conf, nopFSM{}, store, store, snaps, trans)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Shutdown().Error() })
		return r
	}
	waitLeader := func(r *hraft.Raft) {
		deadline := time.Now().Add(10 * time.Second)
		for r.State() != hraft.Leader {
			if time.Now().After(deadline) {
				t.Fatal("no leader")
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	m := &metricsServer{}
	m.mu.watched = map[string]*groupWatch{}

	early := newRaft("early")
	m.watch("early", early) // a follower still: the observer sees the election
	waitLeader(early)
	m.watch("early", early)
	if n, _ := m.elections("early"); n != 1 {
		t.Errorf("elections of a group observed from the start = %d, want 1", n)
	}

	late := newRaft("late")
	waitLeader(late)
	m.watch("late", late)
	if n, _ := m.elections("late"); n != 1 {
		t.Errorf("elections of a group found leading = %d, want 1", n)
	}
	if _, ok := m.elections("unknown"); ok {
		t.Error("a group never watched has an election count")
	}
}
