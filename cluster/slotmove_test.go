package cluster

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flotilla-db/flotilla/engine"
	"github.com/flotilla-db/flotilla/proto"
	"github.com/flotilla-db/flotilla/raft"
	"github.com/flotilla-db/flotilla/shard"
)

// waitMoved waits until the configuration gives slot to shard to with no
// move left, and returns the statuses of the moves done.
func waitMoved(t *testing.T, s *Server, slot int, to shard.ID) []MoveStatus {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		rt := s.node.route.Load()
		if rt.topo != nil && rt.owners[slot] == to && len(rt.topo.Moves) == 0 {
			// The mover reports done once it also dropped the source's
			// copy, just after the configuration change.
			var done []MoveStatus
			for _, st := range s.node.moveStatus() {
				if st.State == "done" {
					done = append(done, st)
				}
			}
			s.node.movers.mu.Lock()
			running := len(s.node.movers.runs)
			s.node.movers.mu.Unlock()
			if len(done) > 0 && running == 0 {
				return done
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("slot %d did not move to shard %d: moves %+v", slot, to, s.node.moveStatus())
	return nil
}

// TestSlotMoveUnderLoad moves a slot of 10,000 keys between two shards
// while go-redis cluster clients write and read it: every acknowledged
// write is there afterwards, counters count every acknowledged INCR, no
// read saw a value older than one acknowledged before it, the clients
// saw only redirects they follow, and the source keeps no copy.
func TestSlotMoveUnderLoad(t *testing.T) {
	s := startClusterNode(t, "cluster-shards", "2")
	ctx := context.Background()
	const tag = "{mv}"
	slot := int(engine.KeySlotString(tag))
	rt := s.node.route.Load()
	from := rt.owners[slot]
	to := shard.ID(1)
	if from == 1 {
		to = 2
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{s.Addr()}, MaxRedirects: 16})
	defer cc.Close()
	const preload = 10000
	pipe := cc.Pipeline()
	for i := range preload {
		pipe.Set(ctx, fmt.Sprintf("%s:pre:%d", tag, i), strconv.Itoa(i), 0)
		if i%500 == 499 {
			if _, err := pipe.Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}

	var (
		stop     atomic.Bool
		wg       sync.WaitGroup
		mu       sync.Mutex
		acked    = map[string]string{}
		incrs    [4]atomic.Int64
		failures atomic.Int64
		lastOK   atomic.Int64
		maxGap   atomic.Int64
	)
	lastOK.Store(time.Now().UnixNano())
	noteOK := func() {
		now := time.Now().UnixNano()
		if gap := now - lastOK.Swap(now); gap > maxGap.Load() {
			maxGap.Store(gap)
		}
	}
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			counter := fmt.Sprintf("%s:ctr:%d", tag, w)
			reg := fmt.Sprintf("%s:reg:%d", tag, w)
			last := 0
			for i := 0; !stop.Load(); i++ {
				key := fmt.Sprintf("%s:w%d:%d", tag, w, i)
				if err := cc.Set(ctx, key, "v"+strconv.Itoa(i), 0).Err(); err != nil {
					failures.Add(1)
					t.Errorf("SET %s: %v", key, err)
					continue
				}
				mu.Lock()
				acked[key] = "v" + strconv.Itoa(i)
				mu.Unlock()
				noteOK()
				if err := cc.Incr(ctx, counter).Err(); err != nil {
					failures.Add(1)
					t.Errorf("INCR: %v", err)
				} else {
					incrs[w].Add(1)
				}
				// A register only this writer writes: a read must see
				// its last acknowledged value.
				if err := cc.Set(ctx, reg, i, 0).Err(); err == nil {
					last = i
				}
				if got, err := cc.Get(ctx, reg).Int(); err != nil || got != last {
					t.Errorf("GET %s = %d, %v; want %d", reg, got, err, last)
				}
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	maxGap.Store(0)
	if _, err := s.node.moveSlots(context.Background(), []SlotRange{{Start: slot, End: slot}}, to); err != nil {
		t.Fatal(err)
	}
	done := waitMoved(t, s, slot, to)
	took := time.Since(start)
	time.Sleep(300 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	if failures.Load() > 0 {
		t.Fatalf("%d commands failed during the move", failures.Load())
	}

	for k, v := range acked {
		if got, err := cc.Get(ctx, k).Result(); err != nil || got != v {
			t.Fatalf("acknowledged %s=%s, read %q, %v", k, v, got, err)
		}
	}
	for i := 0; i < preload; i += 97 {
		if got, _ := cc.Get(ctx, fmt.Sprintf("%s:pre:%d", tag, i)).Result(); got != strconv.Itoa(i) {
			t.Fatalf("preloaded key %d: %q", i, got)
		}
	}
	for w := range 4 {
		if got, _ := cc.Get(ctx, fmt.Sprintf("%s:ctr:%d", tag, w)).Int64(); got != incrs[w].Load() {
			t.Fatalf("counter %d = %d, %d INCRs acknowledged", w, got, incrs[w].Load())
		}
	}
	want := int64(preload + len(acked) + 8)
	if n, err := cc.ClusterCountKeysInSlot(ctx, slot).Result(); err != nil || n != want {
		t.Fatalf("COUNTKEYSINSLOT = %d, %v; want %d", n, err, want)
	}
	src := s.node.route.Load().local[from]
	src.BeginRead()
	left := src.DB().SlotLen(engine.Slot(slot))
	src.EndRead()
	if left != 0 {
		t.Fatalf("the source shard kept %d keys of the moved slot; moves %+v", left, s.node.moveStatus())
	}
	if len(done) == 0 {
		t.Fatal("no move reported done")
	}
	st := done[len(done)-1]
	t.Logf("moved slot %d (%d keys) in %v: %.0f keys/s, handover pause %.1f ms, longest gap between acknowledged SETs %.1f ms",
		slot, st.KeysMoved, took.Round(time.Millisecond), float64(st.KeysMoved)/took.Seconds(), st.PauseMS,
		float64(maxGap.Load())/1e6)
}

// TestExecRefusedByMoveAnswersTryAgain runs MULTI/EXEC transactions on one
// slot while the slot moves back and forth between two shards. A
// transaction routed to the source just before the export, and applied
// after it, is refused whole by the FSM; the node must answer it with
// -TRYAGAIN (the chaos drill's node-join found the node dying of an index
// out of range there, replaying one reply per command), and every
// acknowledged transaction must count.
func TestExecRefusedByMoveAnswersTryAgain(t *testing.T) {
	s := startClusterNode(t, "cluster-shards", "2")
	ctx := context.Background()
	const tag = "{ex}"
	slot := int(engine.KeySlotString(tag))
	var (
		stop    atomic.Bool
		wg      sync.WaitGroup
		acked   atomic.Int64
		refused atomic.Int64
	)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A plain connection to the node: redirects are counted, not
			// followed, so every transaction goes through execReplicated
			// here.
			c := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1})
			defer c.Close()
			for !stop.Load() {
				_, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
					p.Incr(ctx, tag+"n")
					p.Incr(ctx, fmt.Sprintf("%s%d", tag, w))
					return nil
				})
				switch {
				case err == nil:
					acked.Add(1)
				case strings.HasPrefix(err.Error(), "TRYAGAIN") || strings.HasPrefix(err.Error(), "MOVED") || strings.HasPrefix(err.Error(), "ASK"):
					refused.Add(1)
				default:
					t.Errorf("MULTI INCR INCR EXEC: %v", err)
					return
				}
			}
		}()
	}
	for i := range 6 {
		to := shard.ID(1 + i%2)
		if s.node.route.Load().owners[slot] == to {
			to = 3 - to
		}
		if _, err := s.node.moveSlots(context.Background(), []SlotRange{{Start: slot, End: slot}}, to); err != nil {
			t.Fatal(err)
		}
		waitMoved(t, s, slot, to)
	}
	stop.Store(true)
	wg.Wait()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{s.Addr()}})
	defer cc.Close()
	if n, err := cc.Get(ctx, tag+"n").Int64(); err != nil || n != acked.Load() {
		t.Errorf("counter = %d, %v; %d transactions acknowledged", n, err, acked.Load())
	}
	t.Logf("6 moves: %d transactions acknowledged, %d refused (TRYAGAIN, MOVED, ASK)", acked.Load(), refused.Load())
}

// TestRestartKeepsNewerTopology restarts a node whose configuration group
// snapshotted at an older epoch than the topology it saved: while the
// group replays its log after the snapshot, the node must go on routing by
// the newer topology and never save or route by an older one. Before the
// fix it went back to the snapshot's epoch for a moment: the chaos drill's
// restart-all after node-join and node-remove saw nodes reopen replicas of
// shards dropped long before, and reads of moved slots answered nil.
func TestRestartKeepsNewerTopology(t *testing.T) {
	directives := append(clusterNodeDirectives(t), "cluster-shards", "2")
	s, closeFirst := startClosableNode(t, directives)
	waitClusterOK(t, s)
	move := func(slot int) {
		t.Helper()
		to := 3 - s.node.route.Load().owners[slot]
		if _, err := s.node.moveSlots(context.Background(), []SlotRange{{Start: slot, End: slot}}, to); err != nil {
			t.Fatal(err)
		}
		waitMoved(t, s, slot, to)
	}
	move(100)
	if err := s.node.cfgGroup.Load().Raft.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	snap := s.node.cfgFSM.current().Epoch
	move(200)
	move(300)
	want := s.node.cfgFSM.current().Epoch
	if want <= snap {
		t.Fatalf("epoch %d after the snapshot at %d", want, snap)
	}
	closeFirst()

	s = startServer(t, directives...)
	var lowest uint64 = want
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if topo := s.node.route.Load().topo; topo != nil {
			lowest = min(lowest, topo.Epoch)
		}
		if topo, err := s.node.loadTopology(); err == nil && topo != nil {
			lowest = min(lowest, topo.Epoch)
		}
	}
	if lowest < want {
		t.Errorf("after the restart the node routed by or saved epoch %d, older than the %d it had (snapshot at %d)", lowest, want, snap)
	}
	waitClusterOK(t, s)
	if got := s.node.route.Load().topo.Epoch; got < want {
		t.Errorf("epoch %d after the restart, want at least %d", got, want)
	}
}

// TestReadRoutedBeforeMoveSeesMove routes a GET to the shard that owns its
// slot, then moves the slot away (export, and the drop of the source's
// keys) before the read runs, as happens when a leader just elected routes
// by an FSM that has not replayed its log yet: the read must be redirected,
// not answer nil. The chaos drill's restart-all found reads of recently
// moved slots answering nil (registers not linearizable, a transfer group
// of four nils).
func TestReadRoutedBeforeMoveSeesMove(t *testing.T) {
	s := startClusterNode(t, "cluster-shards", "2")
	ctx := context.Background()
	const key = "{rr}k"
	slot := int(engine.KeySlotString(key))
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{s.Addr()}})
	defer cc.Close()
	if err := cc.Set(ctx, key, "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	server, client := net.Pipe()
	defer server.Close()
	defer client.Close()
	c := s.newConn(server)
	args := [][]byte{[]byte("GET"), []byte(key)}
	cmd, msg := proto.Lookup(args)
	if msg != "" {
		t.Fatal(msg)
	}
	r := c.routeCommand(cmd, args)
	if r.err != "" || r.rep == nil {
		t.Fatalf("GET routed to %+v", r)
	}
	to := 3 - r.rep.ID()
	if _, err := s.node.moveSlots(context.Background(), []SlotRange{{Start: slot, End: slot}}, to); err != nil {
		t.Fatal(err)
	}
	waitMoved(t, s, slot, to)
	c.runReplicated(cmd, raft.DataHandler(cmd), args, r)
	c.release()
	got := string(c.w.Bytes())
	if !strings.HasPrefix(got, "-ASK ") && !strings.HasPrefix(got, "-MOVED ") && !strings.HasPrefix(got, "-TRYAGAIN") {
		t.Errorf("GET routed before its slot moved away answered %q, want a redirect", got)
	}
	if v, err := cc.Get(ctx, key).Result(); err != nil || v != "v" {
		t.Errorf("GET through the cluster after the move: %q, %v", v, err)
	}
}

// TestBlockedClientFollowsSlotMove: a client blocked in BLPOP on a key of
// a slot that a live move takes to another shard is sent on (-MOVED or
// -ASK, as Redis Cluster answers a client blocked on a slot its node
// lost) instead of waiting for a push that now lands on the other shard;
// blocked again through a cluster client, it is woken there.
func TestBlockedClientFollowsSlotMove(t *testing.T) {
	s := startClusterNode(t, "cluster-shards", "2")
	ctx := context.Background()
	const key = "{bl}list"
	slot := int(engine.KeySlotString(key))
	to := 3 - s.node.route.Load().owners[slot]
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1})
	defer rdb.Close()
	type result struct {
		vals []string
		err  error
		took time.Duration
	}
	done := make(chan result, 1)
	go func() {
		t0 := time.Now()
		v, err := rdb.BLPop(ctx, 20*time.Second, key).Result()
		done <- result{v, err, time.Since(t0)}
	}()
	waitBlockedClients(t, s, 1)
	if _, err := s.node.moveSlots(ctx, []SlotRange{{Start: slot, End: slot}}, to); err != nil {
		t.Fatal(err)
	}
	waitMoved(t, s, slot, to)
	select {
	case r := <-done:
		if r.err == nil || !(strings.HasPrefix(r.err.Error(), "MOVED ") || strings.HasPrefix(r.err.Error(), "ASK ")) {
			t.Fatalf("BLPOP on the moved slot: %v, %v after %s; want -MOVED or -ASK", r.vals, r.err, r.took)
		}
		t.Logf("BLPOP on the moved slot answered %v after %s", r.err, r.took.Round(time.Millisecond))
	case <-time.After(5 * time.Second):
		t.Fatal("BLPOP still blocked 5 s after its slot moved to another shard")
	}

	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{s.Addr()}})
	defer cc.Close()
	go func() {
		t0 := time.Now()
		v, err := cc.BLPop(ctx, 20*time.Second, key).Result()
		done <- result{v, err, time.Since(t0)}
	}()
	waitBlockedClients(t, s, 1)
	if err := cc.RPush(ctx, key, "x").Err(); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.err != nil || len(r.vals) != 2 || r.vals[1] != "x" {
			t.Fatalf("BLPOP on the slot's new shard: %v, %v", r.vals, r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("BLPOP on the slot's new shard not woken by RPUSH")
	}
}

// waitBlockedClients waits until INFO clients reports n blocked clients.
func waitBlockedClients(t *testing.T, s *Server, n int) {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr()})
	defer rdb.Close()
	want := "blocked_clients:" + strconv.Itoa(n) + "\r\n"
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if info, _ := rdb.Info(context.Background(), "clients").Result(); strings.Contains(info, want) {
			return
		}
	}
	t.Fatalf("never %d blocked clients", n)
}

// TestImportingCopiesCountOnce: while a move copies a slot's keys into the
// target shard (importing, not served there yet), DBSIZE, KEYS, SCAN and
// RANDOMKEY count each key once: the source's, as Redis Cluster would
// (its MIGRATE moves a key, it does not copy it).
func TestImportingCopiesCountOnce(t *testing.T) {
	s := startClusterNode(t, "cluster-shards", "2")
	ctx := context.Background()
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{s.Addr()}})
	defer rdb.Close()
	const tag = "{imp}"
	slot := engine.KeySlotString(tag)
	rt := s.node.route.Load()
	to := 3 - rt.owners[slot]
	var keys []string
	for i := range 20 {
		k := fmt.Sprintf("%s%d", tag, i)
		keys = append(keys, k)
		if err := rdb.Set(ctx, k, i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 30 {
		if err := rdb.Set(ctx, fmt.Sprintf("other%d", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// The target's copies, as the mover writes them.
	target := rt.local[to]
	const session = 77
	if _, err := target.Propose(raft.MigrateEntry(raft.MigrateImportBegin, session, []engine.Slot{slot})); err != nil {
		t.Fatal(err)
	}
	var cmds [][][]byte
	for _, k := range keys {
		payload, err := rdb.Dump(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, [][]byte{[]byte("RESTORE"), []byte(k), []byte("0"), []byte(payload), []byte("REPLACE"), []byte("ABSTTL")})
	}
	if _, err := target.Propose(raft.MigrateDataEntry(session, cmds)); err != nil {
		t.Fatal(err)
	}
	target.BeginRead()
	copies := target.DB().SlotLen(slot)
	target.EndRead()
	if copies != len(keys) {
		t.Fatalf("the target holds %d copies, want %d", copies, len(keys))
	}

	node := redis.NewClient(&redis.Options{Addr: s.Addr()})
	defer node.Close()
	if n, err := node.DBSize(ctx).Result(); err != nil || n != 50 {
		t.Fatalf("DBSIZE = %d, %v; want 50", n, err)
	}
	if info, _ := node.Info(ctx, "keyspace").Result(); !strings.Contains(info, "db0:keys=50,") {
		t.Fatalf("INFO keyspace: %q; want keys=50", info)
	}
	all, err := node.Keys(ctx, "*").Result()
	if err != nil || len(all) != 50 {
		t.Fatalf("KEYS * = %d keys, %v; want 50", len(all), err)
	}
	seen := map[string]int{}
	var cursor uint64
	for {
		page, next, err := node.Scan(ctx, cursor, "*", 7).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range page {
			seen[k]++
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	if len(seen) != 50 {
		t.Fatalf("SCAN saw %d keys, want 50", len(seen))
	}
	for k, n := range seen {
		if n != 1 {
			t.Fatalf("SCAN returned %s %d times", k, n)
		}
	}
}

// TestExplicitMoveNotUndone: the controller rebalances slots on its own
// only when nodes or shards change; an operator's explicit move (which
// leaves the shards uneven) stays as it is, also after the node restarts
// and takes over as controller again. Before the layout was recorded in
// the configuration (Topology.RebalancedFor), each new controller
// rebalanced once and moved such slots back.
func TestExplicitMoveNotUndone(t *testing.T) {
	directives := append(clusterNodeDirectives(t), "cluster-shards", "2")
	s, closeFirst := startClosableNode(t, directives)
	waitClusterOK(t, s)
	// The controller's first pass records the layout it found.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if topo := s.node.cfgFSM.current(); topo != nil && topo.RebalancedFor != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the controller never recorded a balanced layout")
		}
	}
	const slot = 100
	to := 3 - s.node.route.Load().owners[slot]
	if _, err := s.node.moveSlots(context.Background(), []SlotRange{{Start: slot, End: slot}}, to); err != nil {
		t.Fatal(err)
	}
	waitMoved(t, s, slot, to)
	count := func(s *Server) int {
		n := 0
		for _, id := range s.node.route.Load().owners {
			if id == to {
				n++
			}
		}
		return n
	}
	want := count(s)
	closeFirst()

	s = startServer(t, directives...)
	waitClusterOK(t, s)
	time.Sleep(3 * time.Second) // several passes of the controller
	topo := s.node.route.Load().topo
	owner := s.node.route.Load().owners[slot]
	if got := count(s); got != want || len(topo.Moves) > 0 || owner != to {
		t.Fatalf("after the restart shard %d has %d slots (want %d), slot %d is on shard %d, moves %+v",
			to, got, want, slot, owner, topo.Moves)
	}
}

// startClosableNode starts a node of directives that the test closes itself,
// to start another on the same data dir: Server.Close is not idempotent, so
// the close returned runs once, at the latest at the test's cleanup.
func startClosableNode(t *testing.T, directives []string) (*Server, func()) {
	t.Helper()
	var args []string
	for i := 0; i+1 < len(directives); i += 2 {
		args = append(args, "--"+directives[i], directives[i+1])
	}
	cfg, err := Load(append([]string{"--bind", "127.0.0.1"}, args...))
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(cfg, nil)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	closeFn := func() { once.Do(func() { s.Close() }) }
	t.Cleanup(closeFn)
	return s, closeFn
}
