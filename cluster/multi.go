package cluster

import (
	"time"

	"github.com/flotilla-db/flotilla/proto"
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
	if c.watch.Watching() {
		c.s.shard.Unwatch(&c.watch)
	}
}
