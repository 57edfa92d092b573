package cluster

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/flotilla-db/flotilla/engine"
	"github.com/flotilla-db/flotilla/proto"
	"github.com/flotilla-db/flotilla/raft"
	"github.com/flotilla-db/flotilla/shard"
)

// Redirects and errors of the cluster protocol, as Redis 7 spells them.
const (
	errCrossSlot   = "CROSSSLOT Keys in request don't hash to the same slot"
	errClusterDown = "CLUSTERDOWN The cluster is down"
	errUnbound     = "CLUSTERDOWN Hash slot not served"
	errTryAgain    = "TRYAGAIN The shard is electing a leader, try again later"
	// errUncertain answers a write whose entry was appended but whose
	// leader lost its leadership before commit: it may or may not be
	// applied. Its code is not one clients retry on, since retrying a
	// non-idempotent write (INCR) could apply it twice.
	errUncertain = "UNCERTAIN the shard's leadership changed before the write was confirmed; it may or may not have been applied"
)

// routing is where a command runs: on a local replica (rep), or nowhere
// here (err is the reply to give: MOVED, CROSSSLOT, CLUSTERDOWN).
type routing struct {
	rep     *shard.Replica
	slot    int // -1 for a command without keys
	err     string
	keyless bool
}

// routeCommand finds the shard of a command's keys. Writes, and reads not
// allowed to be stale, go to the shard's leader; after READONLY a replica
// answers reads of its shard itself.
func (c *conn) routeCommand(cmd *proto.Command, args [][]byte) routing {
	n := c.s.node
	rt := n.route.Load()
	if rt.topo == nil {
		return routing{err: errClusterDown, slot: -1}
	}
	var buf [8]int
	idx := cmd.SlotKeyIndexes(buf[:0], args)
	if len(idx) == 0 {
		return routing{slot: -1, keyless: true}
	}
	slot := int(engine.KeySlot(args[idx[0]]))
	for _, i := range idx[1:] {
		if int(engine.KeySlot(args[i])) != slot {
			return routing{err: errCrossSlot, slot: slot}
		}
	}
	return c.routeSlot(rt, slot, cmd.Flags&(proto.FlagWrite|proto.FlagBlocking) != 0)
}

func (c *conn) routeSlot(rt *routeTable, slot int, write bool) routing {
	if rt.owners == nil {
		// No topology yet: a node waiting to form or to be admitted into a
		// running cluster (MULTI/EXEC and SPUBLISH get here without
		// routeCommand's check).
		return routing{err: errClusterDown, slot: slot}
	}
	id := rt.owners[slot]
	if id == 0 {
		return routing{err: errUnbound, slot: slot}
	}
	if c.asking {
		if r, ok := c.routeImported(rt, slot); ok {
			return r
		}
	}
	rep := rt.local[id]
	if rep != nil && rep.Group != nil {
		if !write && c.readonly {
			if rep.FSM.Exported(engine.Slot(slot)) {
				return routing{err: c.movedAway(rt, slot), slot: slot}
			}
			return routing{rep: rep, slot: slot}
		}
		// A new leader takes writes at once (the log orders them after
		// what earlier leaders committed); reads wait in confirmRead
		// until it has applied that.
		if rep.Group.IsLeader() {
			if rep.FSM.Exported(engine.Slot(slot)) {
				return routing{err: c.movedAway(rt, slot), slot: slot}
			}
			return routing{rep: rep, slot: slot}
		}
	}
	// A shard led here that has imported the slot holds its only live
	// copy (the source exported it first), so it serves it even before
	// this node's copy of the configuration gives it the slot: otherwise
	// a client would bounce between this node's -MOVED to the source and
	// the source's -MOVED back here until the configuration arrives.
	for _, r := range rt.local {
		if r.Group != nil && r.Group.IsLeader() {
			if st, _ := r.FSM.SlotState(engine.Slot(slot)); st == raft.SlotImported {
				return routing{rep: r, slot: slot}
			}
		}
	}
	return routing{err: c.redirect(rt, id, slot), slot: slot}
}

// movedAway is the reply for a slot its shard has exported in a live move
// (slotmove.go) that the configuration does not give to the target yet:
// -ASK to the target's leader, as Redis Cluster answers for a key already
// migrated; -TRYAGAIN while that leader is unknown, or the move is not
// known here yet (this node's copy of the configuration is behind).
func (c *conn) movedAway(rt *routeTable, slot int) string {
	to, ok := rt.movingTo[slot]
	if !ok {
		return errTryAgain
	}
	if node := rt.topo.Node(rt.leaderOf(to)); node != nil {
		return "ASK " + strconv.Itoa(slot) + " " + node.Addr
	}
	return errTryAgain
}

// routeImported routes a command sent after ASKING: a slot moving to a
// shard this node leads is served here once the shard has imported it
// (the source has stopped serving it); until then the command waits
// (-TRYAGAIN, which awaitLeader holds).
func (c *conn) routeImported(rt *routeTable, slot int) (routing, bool) {
	to, ok := rt.movingTo[slot]
	if !ok {
		return routing{}, false
	}
	rep := rt.local[to]
	if rep == nil || rep.Group == nil || !rep.Group.IsLeader() {
		return routing{}, false
	}
	if st, _ := rep.FSM.SlotState(engine.Slot(slot)); st != raft.SlotImported {
		return routing{err: errTryAgain, slot: slot}, true
	}
	return routing{rep: rep, slot: slot}, true
}

// redirect is the reply for a slot this node does not lead: -MOVED to the
// leader, or -CLUSTERDOWN while the shard has none. When this node's
// replica is cut off from the others (shard.Replica.Stranded), they may
// well have elected a leader this node cannot hear of: -MOVED to another
// replica instead, which serves the slot or redirects to its leader (a
// cluster client follows MOVED at once and reloads its slot map, where it
// would retry -CLUSTERDOWN on this same node).
func (c *conn) redirect(rt *routeTable, id shard.ID, slot int) string {
	leader := rt.leaderOf(id)
	if leader == "" || leader == c.s.node.self.ID {
		rep := rt.local[id]
		if rep != nil && leader == c.s.node.self.ID {
			// Leader, but the barrier of its term is not applied yet.
			return errTryAgain
		}
		if rep != nil && rep.Stranded() {
			if addr := c.s.node.strandedRedirect(rt, id); addr != "" {
				return "MOVED " + strconv.Itoa(slot) + " " + addr
			}
		}
		return errClusterDown
	}
	node := rt.topo.Node(leader)
	if node == nil {
		return errClusterDown
	}
	return "MOVED " + strconv.Itoa(slot) + " " + node.Addr
}

// strandedRedirect is where a node whose replica of shard id is stranded
// sends clients: the shard's leader as gossip last named it, when that is
// another node gossip holds alive; else another replica, one gossip holds
// alive first (a node cut off soon holds every other node failed: then the
// first other replica). "" when the shard has no other replica.
func (n *clusterNode) strandedRedirect(rt *routeTable, id shard.ID) string {
	sh := rt.topo.Shard(id)
	if sh == nil {
		return ""
	}
	down := map[string]bool{}
	for name, m := range n.gossipMembers() {
		if m.state != memberlist.StateAlive {
			down[name] = true
		}
	}
	if l := rt.hints[id]; l != "" && l != n.self.ID && !down[l] && slices.Contains(sh.Replicas, l) {
		if node := rt.topo.Node(l); node != nil {
			return node.Addr
		}
	}
	first := ""
	for _, r := range sh.Replicas {
		node := rt.topo.Node(r)
		if r == n.self.ID || node == nil {
			continue
		}
		if !down[r] {
			return node.Addr
		}
		if first == "" {
			first = node.Addr
		}
	}
	return first
}

// pendingWrites are consecutive writes of one pipeline to one shard,
// proposed together as one log entry when something else comes (a read, a
// write to another shard, the end of the pipeline): group commit within a
// connection; hashicorp/raft batches the entries of concurrent connections
// into one fsync.
type pendingWrites struct {
	rep   *shard.Replica
	cmds  [][][]byte
	ids   []*proto.Command
	slots []int
	start time.Time
}

// queueWrite adds a write to the pending entry, proposing the pending one
// first if it is for another shard.
func (c *conn) queueWrite(rep *shard.Replica, cmd *proto.Command, args [][]byte, slot int) {
	p := &c.pend
	if p.rep != nil && p.rep != rep {
		c.flushPending()
	}
	if p.rep == nil {
		p.rep = rep
		p.start = time.Now()
	}
	p.cmds = append(p.cmds, args)
	p.ids = append(p.ids, cmd)
	p.slots = append(p.slots, slot)
	c.deferred = true
}

// flushPending proposes the pending writes, waits for their entry to
// commit and apply, and writes their replies in order.
func (c *conn) flushPending() {
	p := &c.pend
	if p.rep == nil {
		return
	}
	c.release()
	e := &raft.Entry{Type: raft.EntryCommands, Proto: uint8(c.w.Proto()), Cmds: p.cmds}
	res, err := proposeSettled(p.rep, e)
	dur := time.Since(p.start)
	per := dur.Microseconds() / int64(len(p.cmds))
	for i, cmd := range p.ids {
		failed := false
		if err != nil {
			c.w.WriteError(c.proposeError(err, p.rep, p.slots[i]))
			failed = true
		} else {
			end := len(res.Replies)
			if i+1 < len(res.Offsets) {
				end = res.Offsets[i+1]
			}
			rec := res.Replies[res.Offsets[i]:end]
			failed = raft.IsErrorReply(rec)
			raft.Replay(rec, c.w)
		}
		if failed {
			if b := c.w.Bytes(); len(b) > 0 {
				c.s.errors.add(lastErrorLine(b))
			}
		}
		c.stats.add(cmd.ID, per, failed)
		c.s.latency.record("command", dur)
	}
	c.s.slowlog.record(c, p.cmds[0], p.start, dur)
	p.rep = nil
	clear(p.cmds)
	p.cmds, p.ids, p.slots = p.cmds[:0], p.ids[:0], p.slots[:0]
	c.clock = time.Now()
}

// lastErrorLine returns the text of the error reply at the end of b.
func lastErrorLine(b []byte) []byte {
	end := len(b) - 2
	i := end - 1
	for i >= 0 && b[i] != '-' {
		i--
	}
	if i < 0 || end <= i {
		return nil
	}
	return b[i+1 : end]
}

// proposeSettled proposes e; when the leader refuses it because its
// leadership is being handed over (CLUSTER FAILOVER, rebalancing), nothing
// was appended, so it waits for the handover to end, as a Redis master
// pauses its clients during a manual failover, and proposes again if it
// still leads. Otherwise the error stands (and becomes a -MOVED).
func proposeSettled(rep *shard.Replica, e *raft.Entry) (*raft.Result, error) {
	for attempt := 0; ; attempt++ {
		res, err := rep.Propose(e)
		if errors.Is(err, shard.ErrNotLeader) {
			// Just deposed (a handover ended, or an election): learn the
			// new leader, briefly, so the client gets -MOVED to it rather
			// than -CLUSTERDOWN; not when this node is cut off.
			for i := 0; i < 200 && rep.Leader() == "" && !rep.Stranded(); i++ {
				time.Sleep(5 * time.Millisecond)
			}
			return res, err
		}
		if !errors.Is(err, shard.ErrTransferring) || attempt == 3 {
			return res, err
		}
		deadline := time.Now().Add(2 * time.Second)
		for rep.Group.IsLeader() && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
			if _, err := rep.Propose(&raft.Entry{Type: raft.EntryNoop}); !errors.Is(err, shard.ErrTransferring) {
				break
			}
		}
		if !rep.Group.IsLeader() {
			// Wait briefly to learn the new leader for the redirect.
			for i := 0; i < 100 && rep.Leader() == "" && !rep.Stranded(); i++ {
				time.Sleep(5 * time.Millisecond)
			}
			return res, err
		}
	}
}

// proposeError is the reply to a write whose proposal failed.
func (c *conn) proposeError(err error, rep *shard.Replica, slot int) string {
	switch {
	case errors.Is(err, shard.ErrUncertain):
		return errUncertain
	case errors.Is(err, shard.ErrNotLeader), errors.Is(err, shard.ErrTransferring):
		rt := c.s.node.route.Load()
		return c.redirect(rt, rep.ID(), slot)
	case errors.Is(err, shard.ErrStopped):
		return errClusterDown
	}
	return "ERR " + err.Error()
}

// confirmRead makes a read on rep linearizable: once per pipeline batch and
// shard, the leader confirms it still leads (ConfirmRead). It returns the
// reply to give instead when it does not.
func (c *conn) confirmRead(rep *shard.Replica, slot int) string {
	if c.readonly {
		return ""
	}
	if c.confirmed.rep == rep && c.confirmed.batch == c.batch {
		return ""
	}
	return c.confirmRound(rep, slot)
}

// confirmRound waits for a round of heartbeats that confirms rep's
// leadership (shard.Replica.ConfirmRead), and returns the reply to give
// instead when it fails.
func (c *conn) confirmRound(rep *shard.Replica, slot int) string {
	c.release()
	if err := rep.ConfirmRead(); err != nil {
		if errors.Is(err, shard.ErrNotReady) {
			return errTryAgain
		}
		return c.redirect(c.s.node.route.Load(), rep.ID(), slot)
	}
	c.confirmed.rep, c.confirmed.batch = rep, c.batch
	return ""
}

// runReplicated runs a data command on a replicated shard: writes join
// the pending entry, reads run on the local state once leadership is
// confirmed, blocking commands propose and park.
func (c *conn) runReplicated(cmd *proto.Command, h engine.Handler, args [][]byte, r routing) {
	rep := r.rep
	if cmd.Flags&proto.FlagBlocking != 0 {
		c.flushPending()
		c.release()
		c.runBlockingReplicated(rep, cmd, args, r.slot)
		return
	}
	if cmd.Flags&proto.FlagWrite != 0 {
		c.queueWrite(rep, cmd, args, r.slot)
		return
	}
	c.flushPending()
	// Within the leader's read lease a read needs no round of its own;
	// the lease is checked after the read ran (shard.Replica.LeaseHolds),
	// and when it ran out meanwhile, a round that starts after the read
	// confirms it instead (had another leader taken writes before the
	// read, that round would fail).
	leased := !c.readonly && rep.LeaseHolds()
	if !leased {
		if msg := c.confirmRead(rep, r.slot); msg != "" {
			c.w.WriteError(msg)
			return
		}
	}
	mark := c.w.Buffered()
	c.acquire(rep.Shard, false)
	// NB: routeSlot read the slot's state before the read was confirmed,
	// and a leader just elected (after a restart, say) routes by an FSM
	// that has not replayed its log yet: the slot's export and the drop of
	// its keys may have been applied since, and the read would answer nil
	// for keys that live in another shard now. Under the read lock the
	// state is current and stays so.
	if r.slot >= 0 {
		switch st, _ := rep.FSM.SlotState(engine.Slot(r.slot)); st {
		case raft.SlotExported:
			c.release()
			c.w.WriteError(c.movedAway(c.s.node.route.Load(), r.slot))
			return
		case raft.SlotImporting:
			c.release()
			c.w.WriteError(errTryAgain)
			return
		}
	}
	ctx := &c.ctx
	ctx.DB = rep.DB()
	ctx.W = c.w
	ctx.NoBlock = false
	// A read is not replicated: a fresh seed, so that SRANDMEMBER,
	// HRANDFIELD, ZRANDMEMBER and RANDOMKEY answer at random as in Redis
	// (with a fixed seed they gave the same answer every time).
	ctx.Reset(args, c.clock.UnixMilli(), rand.Uint64())
	h(ctx)
	if leased && !rep.LeaseHolds() {
		if msg := c.confirmRound(rep, r.slot); msg != "" {
			c.w.Truncate(mark)
			c.w.WriteError(msg)
		}
	}
}

// runBlockingReplicated runs BLPOP and its kin on a shard's leader: the
// command is proposed; when it finds nothing it changed nothing, and the
// client waits for a committed write to make one of its keys ready, then
// proposes it again, until served, timed out, or the shard moves away.
func (c *conn) runBlockingReplicated(rep *shard.Replica, cmd *proto.Command, args [][]byte, slot int) {
	var kbuf [8]int
	var keys [][]byte
	for _, i := range cmd.KeyIndexes(kbuf[:0], args) {
		keys = append(keys, args[i])
	}
	var spec *engine.BlockSpec
	since := time.Now()
	defer func() { c.blockedTime += time.Since(since) }()
	for {
		w := shard.NewWaiter(keys, func(*engine.DB) bool { return true })
		rep.BeginWrite()
		rep.BlockLocked(w)
		rep.EndWrite()
		e := &raft.Entry{Type: raft.EntryCommands, Proto: uint8(c.w.Proto()), Cmds: [][][]byte{args}}
		res, err := proposeSettled(rep, e)
		if err != nil {
			rep.Unblock(w)
			c.w.WriteError(c.proposeError(err, rep, slot))
			return
		}
		if !res.Blocked {
			rep.Unblock(w)
			raft.Replay(res.Replies, c.w)
			return
		}
		if spec == nil {
			spec = res.Block
		}
		served, ok := c.waitReplicated(rep, w, spec)
		if !ok {
			c.kill()
			return
		}
		if !served {
			return // timed out or redirected: the reply is written
		}
		if !rep.IsLeader() {
			c.w.WriteError(c.redirect(c.s.node.route.Load(), rep.ID(), slot))
			return
		}
	}
}

// waitReplicated waits until a key of w is made ready (served), the
// deadline passes (the timeout reply is written), the shard's leadership
// moves (a redirect is written), or the client goes away (ok false).
func (c *conn) waitReplicated(rep *shard.Replica, w *shard.Waiter, spec *engine.BlockSpec) (served, ok bool) {
	c.blocked.Store(true)
	defer c.blocked.Store(false)
	if err := c.flush(); err != nil {
		rep.Unblock(w)
		return false, false
	}
	var timer <-chan time.Time
	if spec.Deadline > 0 {
		t := time.NewTimer(max(time.Until(time.UnixMilli(spec.Deadline)), 0))
		defer t.Stop()
		timer = t.C
	}
	check := time.NewTicker(100 * time.Millisecond)
	defer check.Stop()
	gone := c.watchDisconnect()
	defer c.stopWatchDisconnect(gone)
	for {
		select {
		case <-w.Served:
			return true, true
		case <-timer:
			if !rep.Unblock(w) {
				return true, true
			}
			if spec.NullArray {
				c.w.WriteNullArray()
			} else {
				c.w.WriteNull()
			}
			return false, true
		case <-check.C:
			if msg := c.blockedRedirect(rep, int(engine.KeySlot(spec.Keys[0]))); msg != "" {
				if !rep.Unblock(w) {
					return true, true
				}
				c.w.WriteError(msg)
				return false, true
			}
		case <-gone.done:
			rep.Unblock(w)
			return false, false
		case <-c.s.ctx.Done():
			rep.Unblock(w)
			return false, false
		}
	}
}

// blockedRedirect is the reply that ends a blocked command's wait on rep
// once rep no longer serves slot, "" while it does. Its leadership may have
// moved, or a live move taken the slot to another shard: a write there would
// never wake this client, so it is sent on, as Redis Cluster does for a
// client blocked on a slot the node lost (-MOVED to the new owner, -ASK
// while the move is not in the configuration yet).
func (c *conn) blockedRedirect(rep *shard.Replica, slot int) string {
	rt := c.s.node.route.Load()
	if !rep.Group.IsLeader() {
		return c.redirect(rt, rep.ID(), slot)
	}
	r := c.routeSlot(rt, slot, true)
	switch {
	case r.rep == rep:
		return ""
	case r.err != "":
		return r.err
	default:
		// Another shard led here serves the slot now: the client asks
		// again here.
		return "MOVED " + strconv.Itoa(slot) + " " + c.s.node.self.Addr
	}
}

// joinsPending reports whether args is a write that joins the pending
// entry (so the pending replies need not be written first).
func (c *conn) joinsPending(cmd *proto.Command, args [][]byte) bool {
	if !c.authed || c.multi != nil || c.subCount.Load() > 0 || c.s.pause.paused.Load() {
		return false
	}
	if cmd.Flags&proto.FlagWrite == 0 || cmd.Flags&proto.FlagBlocking != 0 || handlersByID.data[cmd.ID] == nil {
		return false
	}
	r := c.routeCommand(cmd, args)
	return r.err == "" && !r.keyless && r.rep == c.pend.rep && c.seenLeaders == c.s.node.leaderEpoch.Load()
}

// nudge answers the first keyed command of a connection after a shard's
// leader changed with -MOVED to this very node (which does serve the
// slot), without running it. Cluster clients reload their slot map on
// MOVED (go-redis only on MOVED, or every minute), and retry the command
// here at once: so a client keeps writing through a failover even when it
// would otherwise keep dialling a dead leader. Redis Cluster clients see a
// redirect they already handle; nothing runs twice.
func (c *conn) nudge(cmd *proto.Command, r routing) bool {
	epoch := c.s.node.leaderEpoch.Load()
	if c.seenLeaders == epoch || r.keyless || r.slot < 0 || cmd.Flags&proto.FlagBlocking != 0 {
		return false
	}
	c.seenLeaders = epoch
	c.w.WriteError("MOVED " + strconv.Itoa(r.slot) + " " + c.s.node.self.Addr)
	return true
}

// runKeyless runs a data command without keys (DBSIZE, KEYS, SCAN,
// RANDOMKEY, FLUSHALL...) over the shards this node leads, as a Redis
// Cluster node answers them for the slots it serves.
func (c *conn) runKeyless(cmd *proto.Command, h engine.Handler, args [][]byte) {
	reps := c.s.node.ledReplicas()
	if cmd.Flags&proto.FlagWrite != 0 {
		var firstErr string
		var out []byte
		for _, rep := range reps {
			e := &raft.Entry{Type: raft.EntryCommands, Proto: uint8(c.w.Proto()), Cmds: [][][]byte{args}}
			res, err := rep.Propose(e)
			switch {
			case err != nil && firstErr == "":
				firstErr = c.proposeError(err, rep, -1)
			case err == nil && out == nil:
				out = res.Replies
			}
		}
		switch {
		case firstErr != "":
			c.w.WriteError(firstErr)
		case out != nil:
			raft.Replay(out, c.w)
		default:
			c.w.WriteOK()
		}
		return
	}
	for _, rep := range reps {
		if msg := c.confirmRead(rep, -1); msg != "" {
			c.w.WriteError(msg)
			return
		}
	}
	looksAtKeys := cmd.Name == "dbsize" || cmd.Name == "scan" || cmd.Name == "keys" || cmd.Name == "randomkey"
	// Several shards' answers are merged below; so is one shard's when it
	// has slots in moves, whose keys the merge leaves out (hiddenSlots).
	if !looksAtKeys || len(reps) == 0 || len(reps) == 1 && !reps[0].FSM.HasMoves() {
		// One shard (or a command that does not look at keys, such as
		// OBJECT HELP): it answers as it is.
		sh := emptyShard
		if len(reps) > 0 {
			sh = reps[0].Shard
		}
		c.acquire(sh, false)
		ctx := &c.ctx
		ctx.DB = sh.DB()
		ctx.W = c.w
		ctx.NoBlock = false
		ctx.Reset(args, c.clock.UnixMilli(), rand.Uint64())
		h(ctx)
		return
	}
	switch cmd.Name {
	case "dbsize":
		var n int64
		for _, rep := range reps {
			rep.BeginRead()
			n += int64(visibleLen(rep))
			rep.EndRead()
		}
		c.w.WriteInt(n)
	case "scan":
		c.scanShards(reps, h, args)
	default:
		// KEYS and RANDOMKEY: merge what each shard answers.
		if cmd.Name == "randomkey" {
			reps = weightedFirst(reps)
		}
		c.mergeKeyless(cmd, reps, h, args)
	}
}

// weightedFirst returns reps with one moved to the front, picked with a
// chance proportional to its keys (those its node shows: visibleLen), so
// that RANDOMKEY over several shards picks any key about as often as any
// other, as Redis's over its one keyspace. The others follow, in order,
// for when the picked shard gives no key (all expired, or hidden).
func weightedFirst(reps []*shard.Replica) []*shard.Replica {
	weights := make([]int, len(reps))
	total := 0
	for i, rep := range reps {
		rep.BeginRead()
		weights[i] = visibleLen(rep)
		rep.EndRead()
		total += weights[i]
	}
	if total == 0 {
		return reps
	}
	r := rand.IntN(total)
	for i, w := range weights {
		if r < w {
			out := append([]*shard.Replica{reps[i]}, reps[:i]...)
			return append(out, reps[i+1:]...)
		}
		r -= w
	}
	return reps
}

// mergeKeyless runs a read on every shard and merges the replies: arrays
// are concatenated (KEYS), the first non-null reply is taken (RANDOMKEY).
func (c *conn) mergeKeyless(cmd *proto.Command, reps []*shard.Replica, h engine.Handler, args [][]byte) {
	var items [][]byte
	isArray := false
	for _, rep := range reps {
		var col *collectWriter
		// RANDOMKEY may pick a key of a hidden slot: it asks again a few
		// times before taking the shard for one without a key.
		for try := 0; ; try++ {
			rec := raft.NewRecorder(c.w.Proto())
			ctx := &engine.Ctx{DB: rep.DB(), W: rec}
			ctx.Reset(args, c.clock.UnixMilli(), rand.Uint64())
			rep.BeginRead()
			h(ctx)
			hidden := hiddenSlots(rep)
			rep.EndRead()
			b := rec.Bytes()
			if raft.IsErrorReply(b) {
				raft.Replay(b, c.w)
				return
			}
			col = &collectWriter{}
			raft.Replay(b, col)
			kept := dropHidden(col.items, hidden)
			if cmd.Name == "randomkey" && len(kept) < len(col.items) && try < 15 {
				continue
			}
			col.items = kept
			break
		}
		if col.array {
			isArray = true
			items = append(items, col.items...)
		} else if len(col.items) > 0 && items == nil {
			items = col.items
			if cmd.Name == "randomkey" {
				break // the first key found is the answer
			}
		}
	}
	if isArray || cmd.Name == "keys" {
		c.w.WriteArray(len(items))
		for _, it := range items {
			c.w.WriteBulk(it)
		}
		return
	}
	if len(items) == 0 {
		c.w.WriteNull()
		return
	}
	c.w.WriteBulk(items[0])
}

// scanShards runs SCAN over the led shards one after the other; with
// more than one, the cursor carries the shard's position in its low byte.
func (c *conn) scanShards(reps []*shard.Replica, h engine.Handler, args [][]byte) {
	cursor, err := strconv.ParseUint(string(args[1]), 10, 64)
	if err != nil {
		// Not a cursor of ours: the engine words the error.
		ctx := &engine.Ctx{DB: reps[0].DB(), W: c.w}
		ctx.Reset(args, c.clock.UnixMilli(), rand.Uint64())
		reps[0].BeginRead()
		h(ctx)
		reps[0].EndRead()
		return
	}
	i, inner := int(cursor&0xff), cursor>>8
	if len(reps) == 1 {
		// One shard: the engine's own cursor, as when it answers alone.
		i, inner = 0, cursor
	}
	if i >= len(reps) {
		c.w.WriteArray(2)
		c.w.WriteBulkString("0")
		c.w.WriteArray(0)
		return
	}
	own := append([][]byte{args[0], []byte(strconv.FormatUint(inner, 10))}, args[2:]...)
	rec := raft.NewRecorder(c.w.Proto())
	ctx := &engine.Ctx{DB: reps[i].DB(), W: rec}
	ctx.Reset(own, c.clock.UnixMilli(), rand.Uint64())
	reps[i].BeginRead()
	h(ctx)
	hidden := hiddenSlots(reps[i])
	reps[i].EndRead()
	col := &collectWriter{}
	raft.Replay(rec.Bytes(), col)
	if raft.IsErrorReply(rec.Bytes()) || len(col.items) < 1 {
		raft.Replay(rec.Bytes(), c.w)
		return
	}
	col.items = append(col.items[:1], dropHidden(col.items[1:], hidden)...)
	next, _ := strconv.ParseUint(string(col.items[0]), 10, 64)
	var out uint64
	switch {
	case len(reps) == 1:
		out = next
	case next != 0:
		out = next<<8 | uint64(i)
	case i+1 < len(reps):
		out = uint64(i + 1)
	}
	c.w.WriteArray(2)
	c.w.WriteBulkString(strconv.FormatUint(out, 10))
	c.w.WriteArray(len(col.items) - 1)
	for _, it := range col.items[1:] {
		c.w.WriteBulk(it)
	}
}

// hiddenSlots returns the slots of rep whose keys it does not count as
// its own: a slot importing in a live move (the copy is not live until the
// handover) or exported (the target serves it; the copy here is dropped
// once the move is committed). DBSIZE, KEYS, SCAN and RANDOMKEY leave them
// out, so that a key counts once in the cluster while it moves, as with
// Redis Cluster's MIGRATE. Call under rep's read lock; nil when none.
func hiddenSlots(rep *shard.Replica) map[engine.Slot]bool {
	if !rep.FSM.HasMoves() {
		return nil // the common case: no map built for DBSIZE and INFO
	}
	var out map[engine.Slot]bool
	for s, st := range rep.FSM.SlotStates() {
		if (st == raft.SlotImporting || st == raft.SlotExported) && rep.DB().SlotLen(s) > 0 {
			if out == nil {
				out = map[engine.Slot]bool{}
			}
			out[s] = true
		}
	}
	return out
}

// visibleLen is rep's DBSIZE: its keys less those of its hidden slots.
// Call under rep's read lock.
func visibleLen(rep *shard.Replica) int {
	n := rep.DB().Len()
	for s := range hiddenSlots(rep) {
		n -= rep.DB().SlotLen(s)
	}
	return n
}

// dropHidden removes from keys those of the hidden slots.
func dropHidden(keys [][]byte, hidden map[engine.Slot]bool) [][]byte {
	if len(hidden) == 0 {
		return keys
	}
	out := keys[:0]
	for _, k := range keys {
		if !hidden[engine.KeySlot(k)] {
			out = append(out, k)
		}
	}
	return out
}

// collectWriter gathers the bulk strings of a reply (flattening one
// level of arrays), for merging replies of several shards.
type collectWriter struct {
	array bool
	items [][]byte
}

func (w *collectWriter) WriteSimple(s string)           { w.items = append(w.items, []byte(s)) }
func (w *collectWriter) WriteError(msg string)          {}
func (w *collectWriter) WriteInt(n int64)               {}
func (w *collectWriter) WriteBulk(b []byte)             { w.items = append(w.items, append([]byte(nil), b...)) }
func (w *collectWriter) WriteBulkString(s string)       { w.items = append(w.items, []byte(s)) }
func (w *collectWriter) WriteNull()                     {}
func (w *collectWriter) WriteNullArray()                {}
func (w *collectWriter) WriteArray(n int)               { w.array = true }
func (w *collectWriter) WriteMap(n int)                 {}
func (w *collectWriter) WriteSet(n int)                 { w.array = true }
func (w *collectWriter) WriteDouble(f float64)          {}
func (w *collectWriter) WriteBool(b bool)               {}
func (w *collectWriter) WriteVerbatim(format, s string) {}
func (w *collectWriter) Proto() int                     { return 2 }

// awaitLeader holds a command for a shard without a known leader (an
// election or a handover is on) for up to a second, as Redis pauses
// clients during a failover, and routes it again: most clients do not
// retry -CLUSTERDOWN inside a pipeline. It holds only while this node can
// expect to hear of the new leader: once its replica is stranded (cut off
// from the others, shard.Replica.Stranded), routing answers -MOVED to
// another replica (redirect) and the command goes at once.
func (c *conn) awaitLeader(cmd *proto.Command, args [][]byte, r routing) routing {
	if r.slot < 0 || c.s.node.route.Load().topo == nil {
		return r
	}
	c.release()
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		r = c.routeCommand(cmd, args)
		if r.err != errClusterDown && r.err != errTryAgain {
			break
		}
	}
	c.clock = time.Now()
	return r
}
