package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flotilla-db/flotilla/cluster"
	"github.com/flotilla-db/flotilla/shard"
)

// failover moves shard's leadership to node (any of its other replicas
// when node is ""): FLOTILLA FAILOVER goes to the shard's leader, and
// again to wherever a -NOTLEADER points; then the new leader is confirmed
// with the nodes' statuses.
func (c *ctl) failover(ctx context.Context, shardID shard.ID, nodeArg string) error {
	v, err := c.collect(ctx)
	if err != nil {
		return err
	}
	sh := v.shard(shardID)
	if sh == nil {
		var ids []shard.ID
		for _, s := range v.topo.Shards {
			ids = append(ids, s.ID)
		}
		return fmt.Errorf("no shard %d in the cluster (its shards: %s)", shardID, idList(ids))
	}
	target := ""
	if nodeArg != "" {
		n, err := v.resolveNode(nodeArg)
		if err != nil {
			return err
		}
		if !slices.Contains(sh.Replicas, n.ID) {
			var on []string
			for _, id := range sh.Replicas {
				if rn := v.node(id); rn != nil {
					on = append(on, rn.Addr)
				}
			}
			return fmt.Errorf("node %s (%s) holds no replica of shard %d; its replicas are on %s", shortID(n.ID, false), n.Addr, shardID, strings.Join(on, ", "))
		}
		target = n.ID
	}
	before := v.leader(sh)
	addr := c.o.addr
	if n := v.node(before); n != nil {
		addr = n.Addr
	}
	args := []any{"FLOTILLA", "FAILOVER", uint32(shardID)}
	if target != "" {
		args = append(args, target)
	}
	deadline := time.Now().Add(20 * time.Second)
	for hops := 0; ; {
		err := c.client(addr).Do(ctx, args...).Err()
		if err == nil {
			break
		}
		msg := err.Error()
		if f := strings.Fields(msg); len(f) == 3 && f[0] == "NOTLEADER" && hops < 5 {
			// The leadership moved since the status was read.
			hops++
			addr = f[2]
			continue
		}
		if strings.HasPrefix(msg, "TRYAGAIN") && time.Now().Before(deadline) {
			time.Sleep(300 * time.Millisecond)
			continue
		}
		return fmt.Errorf("FLOTILLA FAILOVER at %s: %v", addr, err)
	}
	// Confirm with the replicas' own reports.
	var now string
	for end := time.Now().Add(10 * time.Second); ; {
		if nv, err := c.collect(ctx); err == nil && nv.shard(shardID) != nil {
			v, now = nv, nv.leader(nv.shard(shardID))
			if (target != "" && now == target) || (target == "" && now != "" && now != before) {
				break
			}
		}
		if time.Now().After(end) {
			return fmt.Errorf("the leadership transfer of shard %d was done, but shard %d is now led by %q", shardID, shardID, now)
		}
		time.Sleep(200 * time.Millisecond)
	}
	addrOf := func(id, def string) string {
		if n := v.node(id); n != nil {
			return n.Addr
		}
		return def
	}
	if before == now {
		fmt.Fprintf(c.out, "Shard %d stays led by %s (node %s).\n", shardID, addrOf(now, "?"), shortID(now, false))
		return nil
	}
	fmt.Fprintf(c.out, "Shard %d is now led by %s (node %s), was %s.\n", shardID, addrOf(now, "?"), shortID(now, false), addrOf(before, "no known leader"))
	return nil
}

// slotsMove queues a move of ranges to shard and follows it.
func (c *ctl) slotsMove(ctx context.Context, ranges string, shardID shard.ID) error {
	id, err := c.client(c.o.addr).Do(ctx, "FLOTILLA", "SLOTS", "MOVE", ranges, uint32(shardID)).Int64()
	if err != nil {
		return fmt.Errorf("FLOTILLA SLOTS MOVE: %v", err)
	}
	fmt.Fprintf(c.out, "Move %d queued: slots %s to shard %d.\n", id, ranges, shardID)
	if c.o.noWait {
		return nil
	}
	return c.waitMoves(ctx, map[uint64]bool{uint64(id): true}, nil)
}

// rebalance queues the moves that even out the shards and follows them.
func (c *ctl) rebalance(ctx context.Context) error {
	before := c.finishedMoves(ctx)
	n, err := c.client(c.o.addr).Do(ctx, "FLOTILLA", "REBALANCE").Int64()
	if err != nil {
		return fmt.Errorf("FLOTILLA REBALANCE: %v", err)
	}
	if n == 0 {
		fmt.Fprintln(c.out, "The shards are balanced: nothing to move.")
		return nil
	}
	fmt.Fprintf(c.out, "Rebalance: %s queued.\n", plural(int(n), "slot move"))
	if c.o.noWait {
		return nil
	}
	return c.waitMoves(ctx, nil, before)
}

// nodeAdd adds the node gossiping at addr.
func (c *ctl) nodeAdd(ctx context.Context, addr string) error {
	if err := c.client(c.o.addr).Do(ctx, "FLOTILLA", "NODE", "ADD", addr).Err(); err != nil {
		return fmt.Errorf("FLOTILLA NODE ADD: %v", err)
	}
	fmt.Fprintf(c.out, "Node at %s is being added; flotillactl status shows it once it is a member.\n", addr)
	return nil
}

// nodeRemove drains and removes a node, following the slot moves that
// drain it.
func (c *ctl) nodeRemove(ctx context.Context, nodeArg string) error {
	v, err := c.collect(ctx)
	if err != nil {
		return err
	}
	n, err := v.resolveNode(nodeArg)
	if err != nil {
		return err
	}
	before := c.finishedMoves(ctx)
	if err := c.client(c.o.addr).Do(ctx, "FLOTILLA", "NODE", "REMOVE", n.ID).Err(); err != nil {
		return fmt.Errorf("FLOTILLA NODE REMOVE: %v", err)
	}
	fmt.Fprintf(c.out, "Removal of node %s (%s) queued: its leaderships, replicas and slots move first.\n", shortID(n.ID, false), n.Addr)
	if c.o.noWait {
		return nil
	}
	return c.waitMoves(ctx, nil, before)
}

// The JSON of FLOTILLA MOVES.
type moveStatus = cluster.MoveStatus

// finalState reports whether a move's state is done or failed.
func finalState(s string) bool { return s == "done" || strings.HasPrefix(s, "failed") }

// stateRank orders states by progress, so that merging the nodes' reports
// keeps the most advanced.
func stateRank(s string) int {
	switch {
	case strings.HasPrefix(s, "failed"):
		return 5
	case s == "done":
		return 4
	case s == "handover":
		return 3
	case s == "copying":
		return 2
	case s == "queued":
		return 1
	}
	return 0
}

// mergeMoves merges the nodes' FLOTILLA MOVES: per move, the most advanced
// state and the largest counts (only the node driving a move counts its
// keys).
func mergeMoves(reports [][]moveStatus) map[uint64]moveStatus {
	out := map[uint64]moveStatus{}
	for _, r := range reports {
		for _, m := range r {
			cur, ok := out[m.ID]
			if !ok {
				out[m.ID] = m
				continue
			}
			if stateRank(m.State) > stateRank(cur.State) {
				cur.State = m.State
			}
			cur.KeysMoved = max(cur.KeysMoved, m.KeysMoved)
			cur.KeysTotal = max(cur.KeysTotal, m.KeysTotal)
			if cur.Started.IsZero() || (!m.Started.IsZero() && m.Started.Before(cur.Started)) {
				cur.Started = m.Started
			}
			out[m.ID] = cur
		}
	}
	return out
}

// pollMoves asks every node for FLOTILLA MOVES (nodes that do not answer
// are left out) and merges the answers.
func (c *ctl) pollMoves(ctx context.Context, addrs []string) map[uint64]moveStatus {
	type res struct {
		moves []moveStatus
		err   error
	}
	results := make([]res, len(addrs))
	done := make(chan struct{})
	for i, a := range addrs {
		cl := c.client(a)
		go func() {
			defer func() { done <- struct{}{} }()
			ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			s, err := cl.Do(ctx, "FLOTILLA", "MOVES").Text()
			if err != nil {
				results[i].err = err
				return
			}
			results[i].err = jsonUnmarshal(s, &results[i].moves)
		}()
	}
	for range addrs {
		<-done
	}
	var reports [][]moveStatus
	for _, r := range results {
		if r.err == nil {
			reports = append(reports, r.moves)
		}
	}
	return mergeMoves(reports)
}

// nodeAddrs returns the RESP addresses of every node the entry node knows,
// the entry node first.
func (c *ctl) nodeAddrs(ctx context.Context) []string {
	addrs := []string{c.o.addr}
	st, err := c.fetchStatus(ctx, c.o.addr)
	if err != nil {
		return addrs
	}
	for _, n := range st.Nodes {
		if n.Addr != c.o.addr && n.ID != st.Node {
			addrs = append(addrs, n.Addr)
		}
	}
	return addrs
}

// finishedMoves returns the moves already done or failed before an
// operation, so that following the operation's moves leaves them out.
func (c *ctl) finishedMoves(ctx context.Context) map[uint64]bool {
	out := map[uint64]bool{}
	for id, m := range c.pollMoves(ctx, c.nodeAddrs(ctx)) {
		if finalState(m.State) {
			out[id] = true
		}
	}
	return out
}

// waitMoves follows slot moves until each is done or failed, drawing their
// progress: the moves in want, or (want nil) every move but those in
// ignore. It fails if a move failed, or if a wanted move is never reported.
func (c *ctl) waitMoves(ctx context.Context, want, ignore map[uint64]bool) error {
	addrs := c.nodeAddrs(ctx)
	polls := 0
	poll := func(ctx context.Context) map[uint64]moveStatus {
		// Nodes come and go during a removal or an addition.
		if polls++; polls%20 == 0 {
			addrs = c.nodeAddrs(ctx)
		}
		return c.pollMoves(ctx, addrs)
	}
	return c.followMoves(ctx, poll, want, ignore)
}

// How long followMoves waits for moves that do not show.
var (
	neverSeenWait = 30 * time.Second // a wanted move no node ever reports
	noneStartWait = 10 * time.Second // following every move: none started
)

// followMoves is waitMoves with the polling of the nodes' FLOTILLA MOVES
// given.
func (c *ctl) followMoves(ctx context.Context, poll func(context.Context) map[uint64]moveStatus, want, ignore map[uint64]bool) error {
	const missingPolls = 3 // a followed move no node reports any more is over
	start := time.Now()
	type followed struct {
		m       moveStatus
		missing int
	}
	moves := map[uint64]*followed{}
	rate := newRateMeter(5 * time.Second)
	lastLine := time.Time{}
	drawn := false
	for {
		merged := poll(ctx)
		for id, m := range merged {
			if (want != nil && !want[id]) || (want == nil && ignore[id]) {
				continue
			}
			if f := moves[id]; f != nil {
				f.m, f.missing = m, 0
			} else {
				moves[id] = &followed{m: m}
			}
		}
		var p progress
		over := 0
		for id, f := range moves {
			if _, ok := merged[id]; !ok && !finalState(f.m.State) {
				f.missing++
			}
			p.moved += f.m.KeysMoved
			p.total += f.m.KeysTotal
			switch {
			case strings.HasPrefix(f.m.State, "failed"):
				p.failed++
				over++
			case f.m.State == "done" || f.missing >= missingPolls:
				p.done++
				over++
			default:
				p.active++
			}
		}
		now := time.Now()
		rate.add(now, p.moved)
		p.rate = rate.rate()
		finished := len(moves) > 0 && over == len(moves)
		if want != nil && len(moves) < len(want) && now.Sub(start) > neverSeenWait {
			if drawn && c.isTTY {
				fmt.Fprintln(c.out)
			}
			var ids []string
			for id := range want {
				if moves[id] == nil {
					ids = append(ids, strconv.FormatUint(id, 10))
				}
			}
			slices.Sort(ids)
			return fmt.Errorf("no node reports move %s after %v; see flotillactl status", strings.Join(ids, ", "), neverSeenWait)
		}
		if want == nil && len(moves) == 0 && now.Sub(start) > noneStartWait {
			fmt.Fprintln(c.out, "No slot move started.")
			return nil
		}
		if c.isTTY {
			fmt.Fprint(c.out, "\r"+renderBar(p, 30)+"\x1b[K")
			drawn = true
		} else if finished || now.Sub(lastLine) >= time.Second {
			fmt.Fprintln(c.out, renderLine(p))
			lastLine = now
		}
		if finished {
			if drawn {
				fmt.Fprintln(c.out)
			}
			return c.summarize(moves2list(moves, func(f *followed) moveStatus { return f.m }), p, time.Since(start))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(c.poll):
		}
	}
}

func moves2list[T any](m map[uint64]T, get func(T) moveStatus) []moveStatus {
	var out []moveStatus
	for _, v := range m {
		out = append(out, get(v))
	}
	slices.SortFunc(out, func(a, b moveStatus) int { return int(a.ID) - int(b.ID) })
	return out
}

// summarize prints how the moves ended; it fails if any failed.
func (c *ctl) summarize(moves []moveStatus, p progress, took time.Duration) error {
	failed := 0
	for _, m := range moves {
		if strings.HasPrefix(m.State, "failed") {
			failed++
			fmt.Fprintf(c.out, "Move %d (slots %s, shard %d to %d) %s\n", m.ID, formatRanges(m.Slots), m.From, m.To, m.State)
		}
	}
	secs := took.Seconds()
	fmt.Fprintf(c.out, "%d of %s done in %.1fs; %s keys moved (%s keys/s).\n",
		len(moves)-failed, plural(len(moves), "move"), secs,
		thousands(p.moved), thousands(int64(float64(p.moved)/max(secs, 0.001))))
	if failed > 0 {
		return fmt.Errorf("%d of %d moves failed", failed, len(moves))
	}
	return nil
}

// progress is the state of the moves followed, as drawn.
type progress struct {
	moved, total         int64
	rate                 float64 // keys/s
	active, done, failed int
}

// renderBar draws the progress bar of a terminal:
//
//	[=============>                ]  45%  12,345/27,000 keys  3,210 keys/s  2 moves left
func renderBar(p progress, width int) string {
	frac := 0.0
	if p.total > 0 {
		frac = min(float64(p.moved)/float64(p.total), 1)
	}
	filled := int(frac * float64(width))
	bar := strings.Repeat("=", filled)
	if filled < width {
		bar += ">" + strings.Repeat(" ", width-filled-1)
	}
	pct := "   ?"
	if p.total > 0 {
		pct = fmt.Sprintf("%3d%%", int(frac*100))
	}
	s := fmt.Sprintf("[%s] %s  %s/%s keys  %s keys/s  %s", bar, pct, thousands(p.moved), thousands(p.total), thousands(int64(p.rate)), movesLeft(p))
	return s
}

// renderLine is the progress of a non-terminal, one line a second.
func renderLine(p progress) string {
	pct := ""
	if p.total > 0 {
		pct = fmt.Sprintf(" (%d%%)", int(min(float64(p.moved)/float64(p.total), 1)*100))
	}
	return fmt.Sprintf("moved %s/%s keys%s, %s keys/s, %s", thousands(p.moved), thousands(p.total), pct, thousands(int64(p.rate)), movesLeft(p))
}

func movesLeft(p progress) string {
	n := p.done + p.active + p.failed
	if n == 0 {
		return "waiting for the moves to show"
	}
	s := fmt.Sprintf("%d of %s done", p.done, plural(n, "move"))
	if p.failed > 0 {
		s += fmt.Sprintf(", %d failed", p.failed)
	}
	return s
}

// thousands renders n with thousands separators: 1234567 is "1,234,567".
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, ch := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(ch)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// rateMeter is the rate of a growing count over a sliding window.
type rateMeter struct {
	window  time.Duration
	samples []rateSample
}

type rateSample struct {
	t time.Time
	n int64
}

func newRateMeter(window time.Duration) *rateMeter { return &rateMeter{window: window} }

func (r *rateMeter) add(t time.Time, n int64) {
	r.samples = append(r.samples, rateSample{t, n})
	for len(r.samples) > 2 && t.Sub(r.samples[1].t) >= r.window {
		r.samples = r.samples[1:]
	}
}

// rate returns the count's growth per second over the window.
func (r *rateMeter) rate() float64 {
	if len(r.samples) < 2 {
		return 0
	}
	a, b := r.samples[0], r.samples[len(r.samples)-1]
	d := b.t.Sub(a.t).Seconds()
	if d <= 0 || b.n < a.n {
		return 0
	}
	return float64(b.n-a.n) / d
}
