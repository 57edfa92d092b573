package cluster

import (
	"time"

	"github.com/flotilla-db/flotilla/engine"
	"github.com/flotilla-db/flotilla/proto"
	"github.com/flotilla-db/flotilla/raft"
	"github.com/flotilla-db/flotilla/shard"
)

// multiState is an open MULTI: the commands queued for EXEC.
type multiState struct {
	cmds    []queuedCmd
	aborted bool // a command failed to queue: EXEC answers EXECABORT
}

type queuedCmd struct {
	cmd  *proto.Command
	args [][]byte
}

func (m *multiState) queue(cmd *proto.Command, args [][]byte) {
	own := make([][]byte, len(args))
	for i, a := range args {
		own[i] = append([]byte(nil), a...)
	}
	m.cmds = append(m.cmds, queuedCmd{cmd: cmd, args: own})
}

func init() {
	serverHandlers["multi"] = cmdMULTI
	serverHandlers["exec"] = cmdEXEC
	serverHandlers["discard"] = cmdDISCARD
	serverHandlers["watch"] = cmdWATCH
	serverHandlers["unwatch"] = cmdUNWATCH
}

func cmdMULTI(c *conn, args [][]byte, inExec bool) {
	if c.multi != nil {
		c.w.WriteError("ERR MULTI calls can not be nested")
		return
	}
	c.multi = &multiState{}
	c.inMulti.Store(true)
	c.w.WriteOK()
}

func cmdDISCARD(c *conn, args [][]byte, inExec bool) {
	if c.multi == nil {
		c.w.WriteError("ERR DISCARD without MULTI")
		return
	}
	c.discardMulti()
	c.w.WriteOK()
}

func (c *conn) discardMulti() {
	c.multi = nil
	c.inMulti.Store(false)
	c.unwatch()
}

// cmdEXEC runs the queued commands atomically: under the shard's write lock,
// with blocking commands replying at once, and the clients they unblock
// served after the whole transaction.
func cmdEXEC(c *conn, args [][]byte, inExec bool) {
	m := c.multi
	if m == nil {
		c.w.WriteError("ERR EXEC without MULTI")
		return
	}
	c.multi = nil
	c.inMulti.Store(false)
	if m.aborted {
		c.w.WriteError("EXECABORT Transaction discarded because of previous errors.")
		c.unwatch()
		return
	}
	if c.s.node != nil {
		c.execReplicated(m)
		return
	}
	sh := c.s.shard
	sh.BeginWrite()
	if c.watch.Watching() && sh.DirtyLocked(&c.watch, time.Now().UnixMilli()) {
		sh.UnwatchLocked(&c.watch)
		sh.EndWrite()
		c.w.WriteNullArray()
		return
	}
	sh.UnwatchLocked(&c.watch)
	c.w.WriteArray(len(m.cmds))
	for _, q := range m.cmds {
		c.call(q.cmd, q.args, true)
	}
	sh.EndWrite()
}

func cmdWATCH(c *conn, args [][]byte, inExec bool) {
	if c.multi != nil {
		c.w.WriteError("ERR WATCH inside MULTI is not allowed")
		return
	}
	sh := c.s.shard
	if c.s.node != nil {
		cmd, _ := proto.Lookup(args)
		r := c.routeCommand(cmd, args)
		if r.err != "" {
			c.w.WriteError(r.err)
			return
		}
		if r.keyless {
			c.w.WriteOK()
			return
		}
		if c.watchShard != nil && c.watchShard != r.rep.Shard {
			c.w.WriteError(errCrossSlot)
			return
		}
		sh = r.rep.Shard
	}
	c.watchShard = sh
	now := time.Now().UnixMilli()
	sh.BeginWrite()
	for _, k := range args[1:] {
		sh.AddWatchLocked(&c.watch, string(k), now)
	}
	sh.EndWrite()
	c.w.WriteOK()
}

func cmdUNWATCH(c *conn, args [][]byte, inExec bool) {
	c.unwatch()
	c.w.WriteOK()
}

func (c *conn) unwatch() {
	if c.watch.Watching() && c.watchShard != nil {
		c.watchShard.Unwatch(&c.watch)
	}
	c.watchShard = nil
}

// execReplicated runs a transaction on a shard's leader as one log entry
// (EntryExec): atomic on every replica. Its keys must hash to one slot,
// as in Redis Cluster. With WATCHed keys, the leader checks them after
// everything proposed before is applied, and proposes nothing if one
// changed.
func (c *conn) execReplicated(m *multiState) {
	slot := -1
	hasData := false
	var buf [8]int
	for _, q := range m.cmds {
		if handlersByID.data[q.cmd.ID] != nil {
			hasData = true
		}
		for _, i := range q.cmd.SlotKeyIndexes(buf[:0], q.args) {
			s := int(engine.KeySlot(q.args[i]))
			if slot == -1 {
				slot = s
			} else if s != slot {
				c.unwatch()
				c.w.WriteError(errCrossSlot)
				return
			}
		}
	}
	if !hasData {
		// Server commands only (PING, INFO...): they take the locks they
		// need, as no shard lock is held here.
		c.unwatch()
		c.w.WriteArray(len(m.cmds))
		for _, q := range m.cmds {
			c.call(q.cmd, q.args, false)
		}
		return
	}
	if slot == -1 {
		c.unwatch()
		c.w.WriteError("ERR a transaction in cluster mode needs at least one key")
		return
	}
	r := c.routeSlot(c.s.node.route.Load(), slot, true)
	if r.err != "" {
		c.unwatch()
		c.w.WriteError(r.err)
		return
	}
	var cmds [][][]byte
	for _, q := range m.cmds {
		if handlersByID.data[q.cmd.ID] != nil {
			cmds = append(cmds, q.args)
		}
	}
	e := &raft.Entry{Type: raft.EntryExec, Proto: uint8(c.w.Proto()), Cmds: cmds}
	var watch *shard.Watch
	if c.watch.Watching() {
		if c.watchShard == r.rep.Shard {
			watch = &c.watch
		} else {
			// Keys watched on another shard: Redis Cluster would refuse
			// them as CROSSSLOT at EXEC.
			c.unwatch()
			c.w.WriteError(errCrossSlot)
			return
		}
	}
	start := time.Now()
	res, aborted, err := r.rep.ProposeExec(watch, e)
	c.watchShard = nil
	switch {
	case err != nil:
		c.w.WriteError(c.proposeError(err, r.rep, slot))
		return
	case aborted:
		c.w.WriteNullArray()
		return
	case len(res.Offsets) == 0:
		// The FSM refused the transaction whole, unapplied: its slot was
		// exported in a live move while the entry was in flight. The one
		// reply is the error (-TRYAGAIN).
		raft.Replay(res.Replies, c.w)
		return
	}
	c.w.WriteArray(len(m.cmds))
	j := 0
	for _, q := range m.cmds {
		if handlersByID.data[q.cmd.ID] == nil {
			c.call(q.cmd, q.args, false)
			continue
		}
		end := len(res.Replies)
		if j+1 < len(res.Offsets) {
			end = res.Offsets[j+1]
		}
		rec := res.Replies[res.Offsets[j]:end]
		raft.Replay(rec, c.w)
		c.stats.add(q.cmd.ID, time.Since(start).Microseconds()/int64(len(cmds)), raft.IsErrorReply(rec))
		j++
	}
}
