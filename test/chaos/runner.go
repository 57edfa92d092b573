package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/flotilla-db/flotilla/test/localcluster"
)

// Config says how to run a drill.
type Config struct {
	// Target is the cluster under test, already started and healthy.
	Target Target
	// Faults are injected one at a time, in rounds: each round runs every
	// fault once, in a random order.
	Faults []Fault
	// Workloads drive the cluster meanwhile: DefaultWorkloads when nil.
	Workloads []Workload
	// Duration is how long faults are injected.
	Duration time.Duration
	// Once runs each fault once, in the order given, instead of random
	// rounds for Duration: a fixed schedule, for CI.
	Once bool
	// Seed drives every random choice of the run (the faults' order and
	// victims, the clients' keys); the same seed replays the same choices
	// as far as the cluster's own timing allows.
	Seed uint64
	// OutDir receives report.json, the timeline and porcupine's HTML.
	OutDir string

	// Clients is the total number of clients over the workloads: 16 when
	// zero. Rate is each client's operations per second: 20 when zero.
	Clients int
	Rate    float64
	// ReadTimeout is the clients' wait for a reply: DefaultReadTimeout
	// when zero.
	ReadTimeout time.Duration

	// Warmup is the load before the first fault (3 s when zero); Gap the
	// quiet time between faults, a random time in [MinGap, MaxGap] (2-5 s
	// when zero) after the cluster is healthy again.
	Warmup         time.Duration
	MinGap, MaxGap time.Duration
	// HealthyTimeout bounds the wait for a healthy cluster after a fault
	// is healed (30 s when zero); Settle is the load after the last fault
	// and the pause before the checks (5 s when zero).
	HealthyTimeout time.Duration
	Settle         time.Duration
	// NoRepair leaves a cluster that is not healthy after a fault as it
	// is. By default the runner restarts the nodes that exited or do not
	// say cluster_state:ok (the report keeps the problem), so that one
	// availability bug does not stop the drill from looking for others.
	NoRepair bool

	// Logf reports progress; nil is silent.
	Logf func(format string, args ...any)
	// Timeline, when set, draws the writes per bucket with the faults
	// marked (package timeline's Render) into OutDir/timeline.png.
	Timeline func(path, title string, bucket time.Duration, counts []int, marks []Mark) error
	// Zones is reported (the target's zone count is computed when zero).
	Zones int
}

// SlowRecovery is the outage after which a fault's recovery is listed as
// slow in the report (Flotilla replaces a failed leader in about a second;
// clients stuck on a paused node wait their read timeout).
const SlowRecovery = 5 * time.Second

// windowEnd says where fault i's recovery window ends.
func windowEnd(i, n int) string {
	if i+1 < n {
		return fmt.Sprintf("at fault #%d", i+2)
	}
	return "with the load"
}

// bucket is the timeline's resolution.
const bucket = 100 * time.Millisecond

// clientWeights share Config.Clients among the default workloads.
var clientWeights = map[string]int{"unique-keys": 3, "registers": 2}

// Run runs a drill: load, faults for cfg.Duration, healing, settling,
// checks. It returns the report (also written to cfg.OutDir) even when the
// run is interrupted through ctx; the error is for a drill that could not
// run at all.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	t := cfg.Target
	quietGoRedis()
	if cfg.Workloads == nil {
		cfg.Workloads = DefaultWorkloads()
	}
	if cfg.Clients <= 0 {
		cfg.Clients = 16
	}
	if cfg.Rate <= 0 {
		cfg.Rate = 20
	}
	cfg.Warmup = cmpOr(cfg.Warmup, 3*time.Second)
	cfg.MinGap = cmpOr(cfg.MinGap, 2*time.Second)
	cfg.MaxGap = max(cmpOr(cfg.MaxGap, 5*time.Second), cfg.MinGap)
	cfg.HealthyTimeout = cmpOr(cfg.HealthyTimeout, 30*time.Second)
	cfg.Settle = cmpOr(cfg.Settle, 5*time.Second)
	logf := cfg.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if cfg.OutDir != "" {
		if err := os.MkdirAll(cfg.OutDir, 0o755); err != nil {
			return nil, err
		}
	}
	rep := &Report{Target: t.Name(), Seed: cfg.Seed, Nodes: len(t.Members()), Spares: t.Nodes() - len(t.Members()), Zones: cfg.Zones, Started: time.Now()}
	if rep.Zones == 0 {
		rep.Zones = len(zones(t))
	}

	// Faults that cannot run here are skipped, saying why.
	var faults []Fault
	for _, f := range cfg.Faults {
		rep.Requested = append(rep.Requested, f.Name())
		if s, ok := f.(Skipper); ok {
			if why := s.Skip(t); why != "" {
				rep.Skipped = append(rep.Skipped, f.Name()+": "+why)
				logf("skipping %s: %s", f.Name(), why)
				continue
			}
		}
		faults = append(faults, f)
	}

	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.HealthyTimeout)
	err := t.WaitHealthy(hctx)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("chaos: %s not healthy before the drill: %w", t.Name(), err)
	}

	// The workloads.
	cc := newClusterClient(t.Addrs(), 32, cmpOr(cfg.ReadTimeout, DefaultReadTimeout))
	defer cc.Close()
	rec := NewRecorder(rep.Started)
	prefix := fmt.Sprintf("chaos%d.%d", cfg.Seed%100000, rep.Started.Unix()%100000)
	envs := make([]*WorkEnv, len(cfg.Workloads))
	shares := shareClients(cfg.Workloads, cfg.Clients)
	for i, wl := range cfg.Workloads {
		envs[i] = &WorkEnv{Client: cc, Recorder: rec, Prefix: prefix, Clients: shares[i], Rate: cfg.Rate,
			Seed: cfg.Seed + uint64(i)*1_000_003, OutDir: cfg.OutDir, Logf: logf}
		envs[i].nextCID.Store(int64(i) * 1_000_000)
		if err := wl.Setup(ctx, envs[i]); err != nil {
			return nil, err
		}
	}
	loadCtx, stopLoad := context.WithCancel(context.WithoutCancel(ctx))
	defer stopLoad()
	for i, wl := range cfg.Workloads {
		wl.Run(loadCtx, envs[i])
	}
	if cfg.Once {
		logf("%s: %d clients at %.0f ops/s each; %d faults, once each", t.Name(), cfg.Clients, cfg.Rate, len(faults))
	} else {
		logf("%s: %d clients at %.0f ops/s each; faults for %s, %d kinds", t.Name(), cfg.Clients, cfg.Rate, cfg.Duration, len(faults))
	}

	// The faults.
	rng := rand.New(rand.NewPCG(cfg.Seed, 0xc4a05))
	sleep(ctx, cfg.Warmup)
	faultStart := time.Now()
	var queue []Fault
	if cfg.Once {
		queue = slices.Clone(faults)
	}
	for n := 1; ctx.Err() == nil && len(faults) > 0; n++ {
		if cfg.Once && len(queue) == 0 || !cfg.Once && time.Since(faultStart) >= cfg.Duration {
			break
		}
		if len(queue) == 0 {
			queue = slices.Clone(faults)
			rng.Shuffle(len(queue), func(i, j int) { queue[i], queue[j] = queue[j], queue[i] })
		}
		// A fault that cannot run now goes after the round's others.
		notNow := ""
		for k := range queue {
			w, ok := queue[k].(Waiter)
			if !ok {
				notNow = ""
				queue[0], queue[k] = queue[k], queue[0]
				break
			}
			if why := w.NotNow(t); why == "" {
				notNow = ""
				queue[0], queue[k] = queue[k], queue[0]
				break
			} else if k == 0 {
				notNow = why
			}
		}
		f := queue[0]
		queue = queue[1:]
		fr := FaultRecord{N: n, Name: f.Name(), Start: rec.Now().Seconds()}
		injected := time.Now()
		var leaders <-chan time.Duration
		stopWatch := func() {}
		var inj *Injection
		var err error
		if notNow != "" {
			err = fmt.Errorf("%w: not now: %s", ErrUnsupported, notNow)
		} else {
			inj, err = f.Inject(ctx, t, rng)
		}
		if err != nil {
			fr.End, fr.Error = fr.Start, err.Error()
			logf("#%d %s: %v", n, f.Name(), err)
		} else {
			fr.Desc, fr.affected = inj.Desc, inj.Affected
			for _, sh := range inj.Affected {
				fr.Affected = append(fr.Affected, sh...)
			}
			logf("#%d %s: %s (for %s)", n, f.Name(), inj.Desc, inj.Hold.Round(100*time.Millisecond))
			var wctx context.Context
			wctx, stopWatch = context.WithCancel(context.WithoutCancel(ctx))
			if !inj.Settled {
				leaders = watchLeaders(wctx, t, inj, injected)
			}
			sleep(ctx, inj.Hold)
			if inj.Heal != nil {
				if err := inj.Heal(context.WithoutCancel(ctx)); err != nil {
					fr.Error = "heal: " + err.Error()
					logf("#%d %s: heal: %v", n, f.Name(), err)
				}
			}
			fr.End = rec.Now().Seconds()
		}
		// Healthy again before the next fault.
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.HealthyTimeout)
		err = t.WaitHealthy(hctx)
		cancel()
		if err != nil {
			rep.Health = append(rep.Health, oneLine(fmt.Sprintf("after #%d %s: %v", n, f.Name(), err)))
			logf("#%d %s: not healthy: %v", n, f.Name(), err)
			if path := saveViews(cfg.OutDir, fmt.Sprintf("unhealthy-%d-%s.txt", n, f.Name()), t); path != "" {
				rep.Files = append(rep.Files, path)
			}
			if !cfg.NoRepair {
				repair(ctx, t, cfg.HealthyTimeout, logf)
			}
		} else {
			fr.Healthy = rec.Now().Seconds()
		}
		// The leaders are watched until the cluster is healthy again, and
		// for at least 5 s.
		sleep(ctx, time.Until(injected.Add(5*time.Second)))
		stopWatch()
		if leaders != nil {
			if d := <-leaders; d >= 0 {
				fr.NewLeaders = d.Round(10 * time.Millisecond).Seconds()
			} else {
				fr.NewLeaders = -1
			}
		}
		rep.Faults = append(rep.Faults, fr)
		sleep(ctx, between(rng, cfg.MinGap, cfg.MaxGap))
	}
	faultEnd := time.Now()
	rep.FaultPhase = faultEnd.Sub(faultStart).Seconds()
	rep.Interrupted = ctx.Err() != nil

	// Settle: the load goes on for a while on the healed cluster, then
	// stops, and the checks start after a pause.
	cctx := context.WithoutCancel(ctx)
	hctx, cancel = context.WithTimeout(cctx, cfg.HealthyTimeout)
	if err := t.WaitHealthy(hctx); err != nil {
		rep.Health = append(rep.Health, oneLine(fmt.Sprintf("after the last fault: %v", err)))
		if !cfg.NoRepair {
			repair(cctx, t, cfg.HealthyTimeout, logf)
		}
	}
	cancel()
	if !rep.Interrupted {
		time.Sleep(cfg.Settle)
	}
	loadEnd := rec.Now()
	stopLoad()
	for _, e := range envs {
		e.Wait()
	}
	logf("load stopped; checking")
	time.Sleep(cfg.Settle)
	hctx, cancel = context.WithTimeout(cctx, cfg.HealthyTimeout)
	if err := t.WaitHealthy(hctx); err != nil {
		rep.Health = append(rep.Health, oneLine(fmt.Sprintf("before the checks: %v", err)))
	}
	cancel()

	// The checks.
	rep.SlotOwners = CheckSlotOwners(cctx, memberAddrs(t), 30*time.Second)
	var wg sync.WaitGroup
	rep.Workloads = make([]WorkloadResult, len(cfg.Workloads))
	for _, e := range envs {
		e.checkBy = time.Now().Add(5 * time.Minute)
	}
	for i, wl := range cfg.Workloads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := wl.Check(cctx, envs[i])
			if kinds := envs[i].ErrorKinds(4); len(kinds) > 0 {
				res.Notes = append(res.Notes, "write errors: "+strings.Join(kinds, "; "))
			}
			rep.Workloads[i] = res
		}()
	}
	wg.Wait()
	rep.Linearizable = "n/a"
	for _, wl := range rep.Workloads {
		rep.LostAcked += wl.Lost
		if wl.Linearizable != "" {
			rep.Linearizable = wl.Linearizable
		}
		for _, e := range wl.Evidence {
			rep.Files = append(rep.Files, e)
		}
	}

	// Recovery: from each fault's injection to the next one (or the end
	// of the load).
	var recs []float64
	for i := range rep.Faults {
		f := &rep.Faults[i]
		if f.Error != "" && f.affected == nil {
			continue
		}
		to := loadEnd
		if i+1 < len(rep.Faults) {
			to = secs(rep.Faults[i+1].Start)
		}
		for j, d := range rec.Outages(f.affected, secs(f.Start), to) {
			s := d.Round(10 * time.Millisecond).Seconds()
			f.Outages = append(f.Outages, ShardOutage{Slots: f.affected[j], Seconds: s})
			f.Recovery = max(f.Recovery, s)
			if d > SlowRecovery {
				rep.Slow = append(rep.Slow, fmt.Sprintf("#%d %s: slots %s took no write for %.1fs (new leaders: %s; window ends %s)",
					f.N, f.Name, slotsText([][][2]int{f.affected[j]}), s, f.leadersText(), windowEnd(i, len(rep.Faults))))
			}
		}
		recs = append(recs, f.Recovery)
	}
	if len(recs) > 0 {
		slices.Sort(recs)
		rep.RecoveryMedian, rep.RecoveryMax = recs[len(recs)/2], recs[len(recs)-1]
	}
	rep.Writes = Timeline{Start: rep.Started, BucketMS: int(bucket / time.Millisecond), Counts: rec.Buckets(bucket, loadEnd)}
	rep.Total = time.Since(rep.Started).Seconds()
	rep.Passed = rep.LostAcked == 0 && rep.Linearizable != "illegal" && len(rep.SlotOwners) == 0 && len(rep.Health) == 0
	for _, wl := range rep.Workloads {
		rep.Passed = rep.Passed && wl.Passed()
	}

	if cfg.OutDir != "" {
		if cfg.Timeline != nil {
			png := filepath.Join(cfg.OutDir, "timeline.png")
			title := fmt.Sprintf("%s: acknowledged writes per %s, seed %d", t.Name(), bucket, cfg.Seed)
			if err := cfg.Timeline(png, title, bucket, rep.Writes.Counts, rep.Marks()); err != nil {
				logf("timeline: %v", err)
			} else {
				rep.Files = append(rep.Files, png)
			}
		}
		js := filepath.Join(cfg.OutDir, "report.json")
		rep.Files = append(rep.Files, js)
		if err := rep.WriteJSON(js); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// shareClients splits total clients over the workloads by clientWeights
// (1 for a workload not listed), each getting at least one.
func shareClients(wls []Workload, total int) []int {
	w := make([]int, len(wls))
	sum := 0
	for i, wl := range wls {
		w[i] = 1
		if v, ok := clientWeights[wl.Name()]; ok {
			w[i] = v
		}
		sum += w[i]
	}
	out := make([]int, len(wls))
	given := 0
	for i := range wls {
		out[i] = max(1, total*w[i]/sum)
		given += out[i]
	}
	// What rounding left goes to the first workloads.
	for i := 0; given < total; i = (i + 1) % len(out) {
		out[i]++
		given++
	}
	return out
}

// watchLeaders polls the target's shards from the injection on and sends,
// once every shard the fault touched has a leader outside the nodes it hit
// (any leader when it hit them all), the time that took; -1 when ctx ends
// first. It is the cluster's own recovery, apart from what clients see.
func watchLeaders(ctx context.Context, t Target, inj *Injection, from time.Time) <-chan time.Duration {
	out := make(chan time.Duration, 1)
	all := len(inj.Nodes) >= len(t.Members())
	firsts := map[int]bool{}
	for _, sh := range inj.Affected {
		if len(sh) > 0 {
			firsts[sh[0][0]] = true
		}
	}
	go func() {
		for {
			// A poll in progress ends even if ctx does: it may be the one
			// that sees the new leaders.
			pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			shards, err := t.Shards(pctx)
			cancel()
			if err == nil {
				done := 0
				for _, sh := range shards {
					if len(sh.Slots) == 0 || !firsts[sh.Slots[0][0]] {
						continue
					}
					if sh.Leader >= 0 && (all || !slices.Contains(inj.Nodes, sh.Leader)) {
						done++
					}
				}
				if done == len(firsts) {
					out <- time.Since(from)
					return
				}
			}
			select {
			case <-ctx.Done():
				out <- -1
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return out
}

// DownReporter is implemented by targets that can tell which members are
// not running although no fault holds them down: nodes that exited by
// themselves.
type DownReporter interface {
	Down() []int
}

// repair brings an unhealthy cluster back for the rest of the drill: it
// starts the nodes that exited, then restarts, one at a time, those that
// do not say cluster_state:ok, and waits for the cluster to be healthy.
func repair(ctx context.Context, t Target, timeout time.Duration, logf func(string, ...any)) {
	if d, ok := t.(DownReporter); ok {
		for _, i := range d.Down() {
			logf("repair: starting %s, which exited", nodeName(i))
			if err := t.Restart(i); err != nil {
				logf("repair: start %s: %v", nodeName(i), err)
			}
		}
	}
	for _, i := range t.Members() {
		if state := clusterState(t.Addr(i)); state != "ok" {
			logf("repair: restarting %s (cluster_state %s)", nodeName(i), state)
			if err := t.Restart(i); err != nil {
				logf("repair: restart %s: %v", nodeName(i), err)
			}
		}
	}
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	if err := t.WaitHealthy(hctx); err != nil {
		logf("repair: still not healthy: %v", err)
	} else {
		logf("repair: healthy again")
	}
}

// saveViews writes every node's CLUSTER INFO and CLUSTER NODES into
// dir/name, the evidence of an unhealthy cluster, and returns the path (""
// when dir is empty or the write failed).
func saveViews(dir, name string, t Target) string {
	if dir == "" {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s at %s\n", t.Name(), time.Now().Format(time.RFC3339Nano))
	for _, i := range t.Members() {
		addr := t.Addr(i)
		fmt.Fprintf(&b, "\n== %s %s\n", nodeName(i), addr)
		for _, cmd := range [][]string{{"CLUSTER", "INFO"}, {"CLUSTER", "NODES"}} {
			out, err := localcluster.Do(addr, 2*time.Second, cmd...)
			if err != nil {
				out = "error: " + err.Error()
			}
			fmt.Fprintf(&b, "-- %s\n%s\n", strings.Join(cmd, " "), strings.TrimSpace(out))
		}
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return ""
	}
	return path
}

// clusterState is the cluster_state field of addr's CLUSTER INFO, or the
// error asking for it.
func clusterState(addr string) string {
	info, err := localcluster.ClusterInfo(addr, 2*time.Second)
	if err != nil {
		return err.Error()
	}
	return info["cluster_state"]
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// oneLine folds a multi-line error into one line.
func oneLine(s string) string {
	var parts []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, " | ")
}
