package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flotilla-db/flotilla/cluster"
	"github.com/flotilla-db/flotilla/engine"
	"github.com/flotilla-db/flotilla/shard"
	"github.com/flotilla-db/flotilla/test/localcluster"
)

func keySlot(key string) int { return int(engine.KeySlotString(key)) }

func status(ctx context.Context, t *testing.T, addr string) cluster.FlotillaStatus {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	s, err := c.Do(ctx, "FLOTILLA", "STATUS").Text()
	if err != nil {
		t.Fatal(err)
	}
	var st cluster.FlotillaStatus
	if err := json.Unmarshal([]byte(s), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// shardOf returns the shard owning slot and another shard.
func shardOf(st cluster.FlotillaStatus, slot int) (owner, other shard.ID) {
	for _, sh := range st.Shards {
		for _, r := range sh.Slots {
			if slot >= r.Start && slot <= r.End {
				owner = sh.ID
			}
		}
	}
	for _, sh := range st.Shards {
		if sh.ID != owner {
			return owner, sh.ID
		}
	}
	return owner, 0
}

// waitMoveDone polls FLOTILLA MOVES on every node until no move is left
// and the slot's owner is shard to, and returns the done moves' statuses
// the nodes report.
func waitMoveDone(ctx context.Context, t *testing.T, c *localcluster.Cluster, slot int, to shard.ID, timeout time.Duration) []cluster.MoveStatus {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		var done []cluster.MoveStatus
		pending := false
		up := ""
		for _, addr := range c.Addrs() {
			cl := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
			s, err := cl.Do(ctx, "FLOTILLA", "MOVES").Text()
			cl.Close()
			if err != nil {
				continue // a node down (killed by the test) knows nothing to wait for
			}
			up = addr
			var ms []cluster.MoveStatus
			json.Unmarshal([]byte(s), &ms)
			for _, m := range ms {
				if m.State == "done" {
					done = append(done, m)
				} else {
					pending = true
				}
			}
		}
		if !pending && up != "" {
			if owner, _ := shardOf(status(ctx, t, up), slot); owner == to {
				return done
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("slot %d did not reach shard %d in %v", slot, to, timeout)
	return nil
}

// slotLoad writes and reads keys of one slot from several go-redis
// cluster clients: unique keys (acknowledged ones must survive), counters
// (must count every acknowledged INCR), and a register per writer (a read
// must return its last acknowledged value).
type slotLoad struct {
	stop   atomic.Bool
	wg     sync.WaitGroup
	mu     sync.Mutex
	acked  []string
	incrs  []atomic.Int64
	errs   atomic.Int64
	stale  atomic.Int64
	errMsg atomic.Pointer[string]
	lastOK atomic.Int64
	maxGap atomic.Int64
}

func startSlotLoad(cc *redis.ClusterClient, tag string, writers int) *slotLoad {
	l := &slotLoad{incrs: make([]atomic.Int64, writers)}
	l.lastOK.Store(time.Now().UnixNano())
	for w := range writers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			ctx := context.Background()
			last := -1
			for i := 0; !l.stop.Load(); i++ {
				key := fmt.Sprintf("%s:w%d:%d", tag, w, i)
				if err := cc.Set(ctx, key, key, 0).Err(); err != nil {
					l.fail(err)
					time.Sleep(10 * time.Millisecond)
					continue
				}
				l.mu.Lock()
				l.acked = append(l.acked, key)
				l.mu.Unlock()
				now := time.Now().UnixNano()
				if gap := now - l.lastOK.Swap(now); gap > l.maxGap.Load() {
					l.maxGap.Store(gap)
				}
				if err := cc.Incr(ctx, fmt.Sprintf("%s:ctr:%d", tag, w)).Err(); err != nil {
					l.fail(err)
				} else {
					l.incrs[w].Add(1)
				}
				reg := fmt.Sprintf("%s:reg:%d", tag, w)
				if cc.Set(ctx, reg, i, 0).Err() == nil {
					last = i
				}
				if got, err := cc.Get(ctx, reg).Int(); err == nil && last >= 0 && got < last {
					l.stale.Add(1)
				}
			}
		}()
	}
	return l
}

func (l *slotLoad) fail(err error) {
	l.errs.Add(1)
	msg := err.Error()
	l.errMsg.Store(&msg)
}

func (l *slotLoad) halt() { l.stop.Store(true); l.wg.Wait() }

// check reads back what the load acknowledged.
func (l *slotLoad) check(t *testing.T, ctx context.Context, cc *redis.ClusterClient, tag string) {
	t.Helper()
	if l.stale.Load() > 0 {
		t.Fatalf("%d reads returned a value older than one acknowledged before", l.stale.Load())
	}
	checkAcked(t, ctx, cc, l.acked)
	for w := range l.incrs {
		// An INCR that failed may or may not have been applied.
		got, err := cc.Get(ctx, fmt.Sprintf("%s:ctr:%d", tag, w)).Int64()
		if err != nil && err != redis.Nil {
			t.Fatal(err)
		}
		if got < l.incrs[w].Load() {
			t.Fatalf("counter %d = %d, but %d INCRs were acknowledged", w, got, l.incrs[w].Load())
		}
	}
}

func preloadSlot(ctx context.Context, t *testing.T, cc *redis.ClusterClient, tag string, n int) {
	t.Helper()
	for i := 0; i < n; i += 500 {
		var batch [][2]string
		for j := i; j < min(i+500, n); j++ {
			batch = append(batch, [2]string{fmt.Sprintf("%s:pre:%d", tag, j), strconv.Itoa(j)})
		}
		setAll(ctx, t, cc, batch)
	}
}

// setAll sets the keys of kv in one pipeline, again (whole) while it
// fails: a leadership change under the test's load can fail a write
// (-TRYAGAIN, -UNCERTAIN), and setting fixed values twice is harmless.
func setAll(ctx context.Context, t *testing.T, cc *redis.ClusterClient, kv [][2]string) {
	t.Helper()
	var err error
	for attempt := 0; attempt < 10; attempt++ {
		pipe := cc.Pipeline()
		for _, p := range kv {
			pipe.Set(ctx, p[0], p[1], 0)
		}
		if _, err = pipe.Exec(ctx); err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatal(err)
}

func checkPreload(ctx context.Context, t *testing.T, cc *redis.ClusterClient, tag string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if got, err := cc.Get(ctx, fmt.Sprintf("%s:pre:%d", tag, i)).Result(); err != nil || got != strconv.Itoa(i) {
			t.Fatalf("preloaded key %d: %q, %v", i, got, err)
		}
	}
}

// TestSlotMoveAcrossNodes moves a slot of 10,000 keys to a shard led by
// another node while clients write, count and read it: nothing
// acknowledged is lost, no read goes back in time, clients see only
// redirects they follow (ASK, MOVED, TRYAGAIN: no command fails), and
// the slot's keys end on the target alone. MOVE_ROUNDS (default 1) moves
// it that many times, on to the next shard each time, and reports the
// median and longest pauses: `make move-bench` runs 7 rounds and fails
// when the median handover pause is above 100 ms (issue 5's floor).
func TestSlotMoveAcrossNodes(t *testing.T) {
	rounds := 1
	if v, err := strconv.Atoi(os.Getenv("MOVE_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	c := startCluster(t, 3)
	ctx := ctxT(t, time.Duration(rounds)*time.Minute+2*time.Minute)
	cc := clusterClient(t, c, func(o *redis.ClusterOptions) { o.MaxRedirects = 16 })
	const tag = "{move-a}"
	slot := keySlot(tag)
	const preload = 10000
	preloadSlot(ctx, t, cc, tag, preload)
	load := startSlotLoad(cc, tag, 4)
	time.Sleep(500 * time.Millisecond)
	admin := redis.NewClient(&redis.Options{Addr: c.Addr(1)})
	defer admin.Close()
	var pauses, gaps, rates []float64
	for r := range rounds {
		from, _ := shardOf(status(ctx, t, c.Addr(0)), slot)
		to := from%3 + 1
		load.maxGap.Store(0)
		start := time.Now()
		if err := admin.Do(ctx, "FLOTILLA", "SLOTS", "MOVE", strconv.Itoa(slot), strconv.Itoa(int(to))).Err(); err != nil {
			t.Fatal(err)
		}
		done := waitMoveDone(ctx, t, c, slot, to, time.Minute)
		took := time.Since(start)
		if len(done) == 0 {
			t.Fatal("no node reported the move done")
		}
		st := done[len(done)-1]
		for _, d := range done {
			if d.ID > st.ID {
				st = d
			}
		}
		time.Sleep(300 * time.Millisecond) // writes after the move count in its gap too
		gap := float64(load.maxGap.Load()) / 1e6
		pauses, gaps, rates = append(pauses, st.PauseMS), append(gaps, gap), append(rates, float64(st.KeysMoved)/took.Seconds())
		t.Logf("round %d: slot %d, shard %d -> %d, %d keys in %v (%.0f keys/s); handover pause %.1f ms; longest gap between acknowledged writes %.1f ms",
			r+1, slot, from, to, st.KeysMoved, took.Round(time.Millisecond), rates[r], st.PauseMS, gap)
	}
	load.halt()
	if n := load.errs.Load(); n > 0 {
		t.Fatalf("%d commands failed during the moves, e.g. %s", n, *load.errMsg.Load())
	}
	load.check(t, ctx, cc, tag)
	checkPreload(ctx, t, cc, tag, preload)
	if n, err := cc.ClusterCountKeysInSlot(ctx, slot).Result(); err != nil || n < preload {
		t.Fatalf("COUNTKEYSINSLOT %d = %d, %v", slot, n, err)
	}
	if rounds > 1 {
		t.Logf("%d moves of a slot of %d+ keys: handover pause median %.1f ms, max %.1f ms; clients' longest gap median %.1f ms, max %.1f ms; %.0f keys/s median",
			rounds, preload, median(pauses), slices.Max(pauses), median(gaps), slices.Max(gaps), median(rates))
		if median(pauses) > 100 {
			t.Errorf("median handover pause %.1f ms is above the 100 ms floor", median(pauses))
		}
	}
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// TestSlotMoveSurvivesSourceKill kills -9 the source shard's leader while
// it copies a slot: a new leader takes the move over and finishes it, and
// nothing acknowledged is lost.
func TestSlotMoveSurvivesSourceKill(t *testing.T) {
	c := startCluster(t, 3)
	ctx := ctxT(t, 3*time.Minute)
	cc := clusterClient(t, c, func(o *redis.ClusterOptions) { o.MaxRedirects = 16 })
	const tag = "{move-b}"
	slot := keySlot(tag)
	_, to := shardOf(status(ctx, t, c.Addr(0)), slot)
	const preload = 60000
	preloadSlot(ctx, t, cc, tag, preload)
	load := startSlotLoad(cc, tag, 2)
	admin := redis.NewClient(&redis.Options{Addr: c.Addr(0)})
	defer admin.Close()
	if err := admin.Do(ctx, "FLOTILLA", "SLOTS", "MOVE", strconv.Itoa(slot), strconv.Itoa(int(to))).Err(); err != nil {
		t.Fatal(err)
	}
	// Kill the node that drives the move (the source shard's leader, as
	// it is now: leaderships move after start-up) as soon as it copies.
	victim := -1
	deadline := time.Now().Add(20 * time.Second)
	for victim < 0 && time.Now().Before(deadline) {
		for i := 0; i < c.Len() && victim < 0; i++ {
			cl := redis.NewClient(&redis.Options{Addr: c.Addr(i)})
			s, _ := cl.Do(ctx, "FLOTILLA", "MOVES").Text()
			cl.Close()
			if strings.Contains(s, `"copying"`) {
				victim = i
			}
		}
		if victim < 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	if victim < 0 {
		t.Fatal("no node reported the move copying")
	}
	if err := c.Kill(victim); err != nil {
		t.Fatal(err)
	}
	waitMoveDone(ctx, t, c, slot, to, 90*time.Second)
	if err := c.StartNodes(victim); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	load.halt()
	load.check(t, ctx, cc, tag)
	checkPreload(ctx, t, cc, tag, preload)
}
