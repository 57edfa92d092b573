package cluster

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flotilla-db/flotilla/engine"
	"github.com/flotilla-db/flotilla/raft"
	"github.com/flotilla-db/flotilla/shard"
)

// # Live slot moves
//
// A move (Topology.Moves) takes slots from a source shard to a target
// shard while clients read and write them. The leader of the source shard
// drives it (runMove), in steps that are entries of the two shards' logs
// (raft/migrate.go), so a new leader on either side knows where it stands:
//
//  1. import-begin on the target; the source starts tracking the keys of
//     the slots that writes change (shard.Shard.Track);
//  2. copy: every key of the slots, as RESTORE ... REPLACE ABSTTL entries
//     in the target's log (through the target's leader, wherever it is),
//     while clients go on using the source;
//  3. catch-up rounds: the keys changed meanwhile, again, until few are
//     left;
//  4. handover: export on the source (from that entry on, the source
//     refuses the slots: clients get -ASK to the target), the keys changed
//     up to the export, then import-end on the target (from then on, the
//     target serves the slots to clients that sent ASKING). The slots pause
//     from the export to the import-end: that is the pause a client sees;
//  5. the configuration gives the slots to the target (clients get -MOVED
//     from then on) and drops the move;
//  6. drop on the source deletes its copy.
//
// The source stops before the target starts, so no two shards take writes
// for a slot at once; every write the source acknowledged is in its state
// before the export, and so in the target's copy.

// moveChunkKeys and moveChunkBytes bound one data entry of a copy.
const (
	moveChunkKeys  = 1024
	moveChunkBytes = 1 << 20
	// moveCatchUp: the handover starts once a round has at most this
	// many changed keys to copy (or after moveRounds rounds).
	moveCatchUp = 512
	moveRounds  = 8
	// maxSlotsPerMove bounds a move queued by rebalance, so progress
	// shows and each handover pauses few slots.
	maxSlotsPerMove = 1024
)

// MoveStatus is a move as FLOTILLA MOVES reports it.
type MoveStatus struct {
	ID        uint64      `json:"id"`
	Slots     []SlotRange `json:"slots"`
	From      shard.ID    `json:"from"`
	To        shard.ID    `json:"to"`
	State     string      `json:"state"`      // queued, copying, handover, done, failed: ...
	KeysMoved int64       `json:"keys_moved"` // filled by the node driving the move
	KeysTotal int64       `json:"keys_total"`
	Started   time.Time   `json:"started"`
	// PauseMS is how long the slots refused clients at the handover (from
	// the export to the import-end), once done.
	PauseMS float64 `json:"pause_ms,omitempty"`
}

// moveRun is a move this node drives (as the source shard's leader).
type moveRun struct {
	move    SlotMove
	cancel  context.CancelFunc
	done    chan struct{}
	started time.Time

	state     atomic.Pointer[string]
	keysMoved atomic.Int64
	keysTotal atomic.Int64
	pause     atomic.Int64 // ns
}

func (r *moveRun) setState(s string) { r.state.Store(&s) }

func (r *moveRun) status() MoveStatus {
	st := MoveStatus{ID: r.move.ID, Slots: r.move.Slots, From: r.move.From, To: r.move.To,
		State: "queued", KeysMoved: r.keysMoved.Load(), KeysTotal: r.keysTotal.Load(), Started: r.started}
	if s := r.state.Load(); s != nil {
		st.State = *s
	}
	if p := r.pause.Load(); p > 0 {
		st.PauseMS = float64(p) / 1e6
	}
	return st
}

// movers is the moves this node drives, and those it finished lately.
type movers struct {
	mu       sync.Mutex
	runs     map[uint64]*moveRun
	finished []MoveStatus // the last few, newest last
	wg       sync.WaitGroup
	lastJan  time.Time

	// For /metrics: moves this node finished, the keys they copied, the
	// handover pause of the last one.
	done      atomic.Int64
	keys      atomic.Int64
	lastPause atomic.Int64 // ns
}

// driveMoves starts the moves whose source shard this node leads (the
// first queued move of each such shard) and stops those it no longer
// should drive. Called by loop.
func (n *clusterNode) driveMoves() {
	rt := n.route.Load()
	if rt.topo == nil {
		return
	}
	mv := &n.movers
	mv.mu.Lock()
	defer mv.mu.Unlock()
	if mv.runs == nil {
		mv.runs = map[uint64]*moveRun{}
	}
	want := map[uint64]SlotMove{}
	busy := map[shard.ID]bool{}
	for _, r := range mv.runs {
		// One move per source at a time: a run still finishing keeps
		// its shard (its tracker) until it ends.
		if !slices.ContainsFunc(rt.topo.Moves, func(x SlotMove) bool { return x.ID == r.move.ID }) {
			busy[r.move.From] = true
		}
	}
	for _, m := range rt.topo.Moves {
		if busy[m.From] {
			continue
		}
		busy[m.From] = true
		if rep := rt.local[m.From]; rep != nil && rep.Group != nil && rep.IsLeader() {
			want[m.ID] = m
		}
	}
	for id, r := range mv.runs {
		if _, ok := want[id]; !ok {
			r.cancel()
		}
	}
	for id, m := range want {
		if _, running := mv.runs[id]; running {
			continue
		}
		select {
		case <-n.stop:
			return
		default:
		}
		ctx, cancel := context.WithCancel(context.Background())
		r := &moveRun{move: m, cancel: cancel, done: make(chan struct{}), started: time.Now()}
		mv.runs[id] = r
		mv.wg.Add(1)
		go func() {
			defer mv.wg.Done()
			defer close(r.done)
			go func() {
				select {
				case <-n.stop:
					cancel()
				case <-r.done:
				}
			}()
			err := n.runMove(ctx, r)
			cancel()
			st := r.status()
			switch {
			case err == nil:
				st.State = "done"
				mv.done.Add(1)
				mv.keys.Add(st.KeysMoved)
				mv.lastPause.Store(r.pause.Load())
				n.log.Info("slot move done", "move", m.ID, "from", m.From, "to", m.To,
					"slots", formatRanges(m.Slots), "keys", st.KeysMoved, "pause_ms", st.PauseMS,
					"seconds", time.Since(r.started).Seconds())
			case ctx.Err() != nil:
				st.State = "interrupted"
			default:
				st.State = "failed: " + err.Error()
				n.log.Warn("slot move attempt failed; it starts again", "move", m.ID, "err", err)
			}
			mv.mu.Lock()
			delete(mv.runs, m.ID)
			mv.finished = append(mv.finished, st)
			if len(mv.finished) > 32 {
				mv.finished = mv.finished[len(mv.finished)-32:]
			}
			mv.mu.Unlock()
			if err != nil && ctx.Err() == nil {
				// Back off before the loop starts it again.
				select {
				case <-n.stop:
				case <-time.After(500 * time.Millisecond):
				}
			}
			n.kick()
		}()
	}
	if time.Since(mv.lastJan) > time.Second {
		mv.lastJan = time.Now()
		n.dropMovedSlots(rt)
	}
}

// stopMoves cancels the moves this node drives and waits for them.
func (n *clusterNode) stopMoves() {
	mv := &n.movers
	mv.mu.Lock()
	for _, r := range mv.runs {
		r.cancel()
	}
	mv.mu.Unlock()
	mv.wg.Wait()
}

// dropMovedSlots deletes, on the shards this node leads, the keys of
// slots exported and given away whose drop did not happen (the mover was
// interrupted after the configuration change).
func (n *clusterNode) dropMovedSlots(rt *routeTable) {
	moving := map[int]bool{}
	for _, m := range rt.topo.Moves {
		for _, r := range m.Slots {
			for s := r.Start; s <= r.End; s++ {
				moving[s] = true
			}
		}
	}
	for id, rep := range rt.local {
		if rep.Group == nil || !rep.IsLeader() {
			continue
		}
		var drop []engine.Slot
		rep.BeginRead()
		for s, st := range rep.FSM.SlotStates() {
			if st == raft.SlotExported && rt.owners[s] != id && !moving[int(s)] && rep.DB().SlotLen(s) > 0 {
				drop = append(drop, s)
			}
		}
		rep.EndRead()
		if len(drop) > 0 {
			slices.Sort(drop)
			n.log.Info("dropping the keys of slots moved away", "shard", id, "slots", len(drop))
			rep.Propose(raft.MigrateEntry(raft.MigrateDrop, 0, drop))
		}
	}
}

// errRestart: a flush or a snapshot restore on the source during the copy;
// the attempt starts over.
var errRestart = errors.New("the source's keys changed wholesale during the copy")

// runMove drives one move from this node, which leads its source shard.
func (n *clusterNode) runMove(ctx context.Context, run *moveRun) error {
	m := run.move
	rep := n.route.Load().local[m.From]
	if rep == nil {
		return errors.New("no local replica of the source shard")
	}
	slots := expandRanges(m.Slots)
	session := rand.Uint64() | 1
	frozen := true
	for _, s := range slots {
		if st, _ := rep.FSM.SlotState(s); st != raft.SlotExported {
			frozen = false
			break
		}
	}
	if !frozen {
		defer rep.Track(slots)()
	}
	run.setState("copying")
	v, err := n.proposeMigrate(ctx, m.To, raft.MigrateEntry(raft.MigrateImportBegin, session, slots))
	if err != nil {
		return fmt.Errorf("import-begin: %w", err)
	}
	if v == 2 {
		// The target imported the slots in an earlier attempt (and may
		// have served them since): only the configuration change is left.
		return n.finishMove(ctx, run, rep, session, slots)
	}
	keys := slotKeys(rep, slots)
	run.keysTotal.Store(int64(len(keys)))
	if err := n.copyKeys(ctx, run, rep, session, keys); err != nil {
		return err
	}
	var handover time.Time
	if !frozen {
		for round := 0; ; round++ {
			rep.BeginWrite()
			changed, reset := rep.TakeChangedLocked()
			rep.EndWrite()
			if reset {
				return errRestart
			}
			if len(changed) <= moveCatchUp || round == moveRounds {
				// Copy these now, the rest after the export.
				if err := n.copyKeys(ctx, run, rep, session, changed); err != nil {
					return err
				}
				break
			}
			run.keysTotal.Add(int64(len(changed)))
			if err := n.copyKeys(ctx, run, rep, session, changed); err != nil {
				return err
			}
		}
		run.setState("handover")
		handover = time.Now()
		res, err := rep.Propose(raft.MigrateEntry(raft.MigrateExport, session, slots))
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		if _, err := migrateReply(res.Replies); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		rep.BeginWrite()
		changed, reset := rep.TakeChangedLocked()
		rep.EndWrite()
		if reset {
			changed = slotKeys(rep, slots)
		}
		if err := n.copyKeys(ctx, run, rep, session, changed); err != nil {
			return err
		}
	} else {
		handover = time.Now()
	}
	v, err = n.proposeMigrate(ctx, m.To, raft.MigrateEntry(raft.MigrateImportEnd, session, slots))
	if err != nil {
		return fmt.Errorf("import-end: %w", err)
	}
	if v != 1 {
		return errors.New("import-end refused: another attempt took over the target")
	}
	run.pause.Store(int64(time.Since(handover)))
	return n.finishMove(ctx, run, rep, session, slots)
}

// finishMove gives the slots to the target in the configuration and drops
// the source's copy.
func (n *clusterNode) finishMove(ctx context.Context, run *moveRun, rep *shard.Replica, session uint64, slots []engine.Slot) error {
	m := run.move
	run.setState("handover")
	if _, err := n.changeTopology(ctx, func(t *Topology) error {
		i := slices.IndexFunc(t.Moves, func(x SlotMove) bool { return x.ID == m.ID })
		if i < 0 {
			return errNoChange
		}
		t.Moves = slices.Delete(t.Moves, i, i+1)
		t.reassign(m.Slots, m.From, m.To)
		return nil
	}); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	if _, err := rep.Propose(raft.MigrateEntry(raft.MigrateDrop, session, slots)); err != nil {
		n.log.Info("slot move: dropping the moved keys later", "move", m.ID, "err", err)
	}
	return nil
}

// slotKeys lists the keys of slots on rep.
func slotKeys(rep *shard.Replica, slots []engine.Slot) [][]byte {
	rep.BeginRead()
	defer rep.EndRead()
	var keys [][]byte
	for _, s := range slots {
		keys = append(keys, rep.DB().SlotKeys(s, rep.DB().SlotLen(s))...)
	}
	return keys
}

// copyKeys copies keys from rep to the move's target: their values as of
// now (RESTORE ... REPLACE ABSTTL), or their absence (DEL).
func (n *clusterNode) copyKeys(ctx context.Context, run *moveRun, rep *shard.Replica, session uint64, keys [][]byte) error {
	for len(keys) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		var cmds [][][]byte
		size := 0
		rep.BeginRead()
		now := max(time.Now().UnixMilli(), rep.FSM.LastNow())
		db := rep.DB()
		for len(keys) > 0 && len(cmds) < moveChunkKeys && size < moveChunkBytes {
			k := keys[0]
			keys = keys[1:]
			payload, at, ok := db.DumpKey(k, now)
			if !ok {
				cmds = append(cmds, [][]byte{[]byte("DEL"), k})
				size += len(k)
				continue
			}
			cmds = append(cmds, [][]byte{[]byte("RESTORE"), k, strconv.AppendInt(nil, at, 10), payload, []byte("REPLACE"), []byte("ABSTTL")})
			size += len(k) + len(payload)
		}
		rep.EndRead()
		if _, err := n.proposeMigrate(ctx, run.move.To, raft.MigrateDataEntry(session, cmds)); err != nil {
			return fmt.Errorf("copy: %w", err)
		}
		run.keysMoved.Add(int64(len(cmds)))
	}
	return nil
}

// proposeMigrate proposes a migrate entry to shard id through its leader,
// waiting for one while the shard elects, and returns the entry's integer
// reply.
func (n *clusterNode) proposeMigrate(ctx context.Context, id shard.ID, e *raft.Entry) (int64, error) {
	data := raft.AppendEntry(nil, e)
	for {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		rt := n.route.Load()
		var addr string
		if l := rt.leaderOf(id); l != "" {
			if node := rt.topo.Node(l); node != nil {
				addr = node.Raft
			}
		}
		if addr != "" {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			resp, out, err := n.rpcCall(cctx, addr, &rpcRequest{Kind: rpcShardPropose, Shard: id}, data)
			cancel()
			if err == nil && resp.Err != "" {
				return 0, errors.New(resp.Err)
			}
			if err == nil && !resp.NotLeader {
				return migrateReply(out)
			}
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// migrateReply decodes the recorded reply of a migrate entry: an integer,
// or an error.
func migrateReply(rec []byte) (int64, error) {
	var w replyCapture
	if err := raft.Replay(rec, &w); err != nil {
		return 0, err
	}
	if w.err != "" {
		return 0, errors.New(w.err)
	}
	return w.n, nil
}

type replyCapture struct {
	collectWriter
	n   int64
	err string
}

func (w *replyCapture) WriteInt(n int64)      { w.n = n }
func (w *replyCapture) WriteError(msg string) { w.err = msg }

// expandRanges lists the slots of ranges.
func expandRanges(rs []SlotRange) []engine.Slot {
	var out []engine.Slot
	for _, r := range rs {
		for s := r.Start; s <= r.End; s++ {
			out = append(out, engine.Slot(s))
		}
	}
	return out
}

// rangesOf turns sorted, distinct slots into ranges.
func rangesOf(slots []int) []SlotRange {
	var out []SlotRange
	for _, s := range slots {
		if len(out) > 0 && out[len(out)-1].End == s-1 {
			out[len(out)-1].End = s
			continue
		}
		out = append(out, SlotRange{Start: s, End: s})
	}
	return out
}

func formatRanges(rs []SlotRange) string {
	var b []byte
	for i, r := range rs {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(r.Start), 10)
		if r.End != r.Start {
			b = append(b, '-')
			b = strconv.AppendInt(b, int64(r.End), 10)
		}
	}
	return string(b)
}

// reassign moves slots rs from shard from to shard to.
func (t *Topology) reassign(rs []SlotRange, from, to shard.ID) {
	moving := map[int]bool{}
	for _, r := range rs {
		for s := r.Start; s <= r.End; s++ {
			moving[s] = true
		}
	}
	for i := range t.Shards {
		sh := &t.Shards[i]
		if sh.ID != from && sh.ID != to {
			continue
		}
		var slots []int
		for _, r := range sh.Slots {
			for s := r.Start; s <= r.End; s++ {
				if !moving[s] {
					slots = append(slots, s)
				}
			}
		}
		if sh.ID == to {
			for s := range moving {
				slots = append(slots, s)
			}
		}
		slices.Sort(slots)
		sh.Slots = rangesOf(slots)
	}
}

// moveSlots queues moves of the slots in ranges to shard to: one move per
// source shard. Slots already on to are left out.
func (n *clusterNode) moveSlots(ctx context.Context, ranges []SlotRange, to shard.ID) (uint64, error) {
	var first uint64
	_, err := n.changeTopology(ctx, func(t *Topology) error {
		if t.Shard(to) == nil {
			return fmt.Errorf("no shard %d", to)
		}
		owners := t.SlotOwners()
		moving := map[int]bool{}
		for _, m := range t.Moves {
			for _, s := range expandRanges(m.Slots) {
				moving[int(s)] = true
			}
		}
		bySource := map[shard.ID][]int{}
		for _, r := range ranges {
			if r.Start < 0 || r.End >= engine.NumSlots || r.Start > r.End {
				return fmt.Errorf("bad slot range %d-%d", r.Start, r.End)
			}
			for s := r.Start; s <= r.End; s++ {
				if moving[s] {
					return fmt.Errorf("slot %d is already moving", s)
				}
				if owners[s] != to {
					bySource[owners[s]] = append(bySource[owners[s]], s)
				}
			}
		}
		if len(bySource) == 0 {
			return errNoChange
		}
		sources := make([]shard.ID, 0, len(bySource))
		for id := range bySource {
			sources = append(sources, id)
		}
		slices.Sort(sources)
		first = 0
		for _, from := range sources {
			slots := slices.Compact(slices.Sorted(slices.Values(bySource[from])))
			t.LastMoveID++
			if first == 0 {
				first = t.LastMoveID
			}
			t.Moves = append(t.Moves, SlotMove{ID: t.LastMoveID, Slots: rangesOf(slots), From: from, To: to})
		}
		// The operator lays the slots out now: the controller leaves
		// this layout alone until nodes or shards change.
		t.RebalancedFor = rebalanceKey(t)
		return nil
	})
	return first, err
}

// moveStatus lists the moves this node knows of: those it drives with
// their progress, the others queued in the configuration, and the last
// ones it finished.
func (n *clusterNode) moveStatus() []MoveStatus {
	mv := &n.movers
	mv.mu.Lock()
	defer mv.mu.Unlock()
	var out []MoveStatus
	listed := map[uint64]bool{}
	if t := n.route.Load().topo; t != nil {
		for _, m := range t.Moves {
			listed[m.ID] = true
			if r := mv.runs[m.ID]; r != nil {
				out = append(out, r.status())
				continue
			}
			out = append(out, MoveStatus{ID: m.ID, Slots: m.Slots, From: m.From, To: m.To, State: "queued"})
		}
	}
	// A run whose move the configuration no longer lists is dropping the
	// source's copy; it is done when that ends.
	for id, r := range mv.runs {
		if !listed[id] {
			out = append(out, r.status())
		}
	}
	for _, st := range mv.finished {
		if st.State == "done" {
			out = append(out, st)
		}
	}
	return out
}

// rebalance queues the moves that even out the slots over the shards:
// each ends with 16384/shards slots (the first 16384%shards one more),
// taken from the shards with the most, in contiguous runs.
func (n *clusterNode) rebalance(ctx context.Context) (int, error) {
	queued := 0
	_, err := n.changeTopology(ctx, func(t *Topology) error {
		queued = 0
		if len(t.Moves) > 0 {
			return errors.New("moves are under way; rebalance when they are done")
		}
		ids := make([]shard.ID, 0, len(t.Shards))
		have := map[shard.ID][]int{}
		for _, sh := range t.Shards {
			ids = append(ids, sh.ID)
			for _, s := range expandRanges(sh.Slots) {
				have[sh.ID] = append(have[sh.ID], int(s))
			}
		}
		slices.Sort(ids)
		want := map[shard.ID]int{}
		for i, id := range ids {
			want[id] = engine.NumSlots / len(ids)
			if i < engine.NumSlots%len(ids) {
				want[id]++
			}
		}
		// Surplus slots, from the end of each giving shard's slots.
		var surplus []struct {
			from shard.ID
			slot int
		}
		for _, id := range ids {
			extra := len(have[id]) - want[id]
			for i := 0; i < extra; i++ {
				s := have[id][len(have[id])-extra+i]
				surplus = append(surplus, struct {
					from shard.ID
					slot int
				}{id, s})
			}
		}
		for _, id := range ids {
			need := want[id] - len(have[id])
			for need > 0 && len(surplus) > 0 {
				from := surplus[0].from
				var slots []int
				for need > 0 && len(surplus) > 0 && surplus[0].from == from && len(slots) < maxSlotsPerMove {
					slots = append(slots, surplus[0].slot)
					surplus = surplus[1:]
					need--
				}
				t.LastMoveID++
				t.Moves = append(t.Moves, SlotMove{ID: t.LastMoveID, Slots: rangesOf(slots), From: from, To: id})
				queued++
			}
		}
		key := rebalanceKey(t)
		if queued == 0 && t.RebalancedFor == key {
			return errNoChange
		}
		t.RebalancedFor = key
		return nil
	})
	return queued, err
}
