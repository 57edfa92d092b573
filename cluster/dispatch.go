package cluster

import (
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/flotilla-db/flotilla/engine"
	"github.com/flotilla-db/flotilla/proto"
	"github.com/flotilla-db/flotilla/shard"
)

// serverHandler runs a command the node answers itself (connection, pub/sub,
// transactions, server administration). inExec says it runs inside EXEC, with
// the shard's write lock already held.
type serverHandler func(c *conn, args [][]byte, inExec bool)

var serverHandlers = map[string]serverHandler{}

// handlerTable maps proto.Command.ID to what runs the command.
type handlerTable struct {
	server []serverHandler
	data   []engine.Handler
}

var (
	handlersByID     handlerTable
	handlerTableOnce sync.Once
)

func buildHandlerTable() {
	n := proto.NumCommands()
	handlersByID.server = make([]serverHandler, n)
	handlersByID.data = make([]engine.Handler, n)
	for _, cmd := range proto.AllWithSubcommands() {
		if h := serverHandlers[cmd.Name]; h != nil {
			handlersByID.server[cmd.ID] = h
			continue
		}
		h := engine.Lookup(cmd.Name)
		if h == nil && cmd.Parent != nil {
			// The engine answers some containers (OBJECT) whole.
			h = engine.Lookup(cmd.Parent.Name)
		}
		handlersByID.data[cmd.ID] = h
	}
}

// Commands allowed to a RESP2 client in subscribed state.
func allowedWhileSubscribed(name string) bool {
	switch name {
	case "subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ssubscribe", "sunsubscribe", "ping", "quit", "reset":
		return true
	}
	return false
}

// dispatch runs one command from the client, as Redis's processCommand:
// lookup and arity, authentication, pub/sub context, MULTI queueing, then
// the command.
func (c *conn) dispatch(args [][]byte) {
	// Redis answers QUIT before looking it up, whatever its arguments.
	if len(args[0]) == 4 && strings.EqualFold(string(args[0]), "quit") {
		c.w.WriteOK()
		c.closeAfter = true
		return
	}
	cmd, errText := proto.Lookup(args)
	if errText != "" {
		if cmd != nil {
			c.s.stats.cmd[cmd.ID].rejected.Add(1)
			if cmd.Name == "exec" && c.multi != nil {
				// "EXECABORT ... wrong number of arguments for 'exec'"
				// also ends the transaction.
				c.discardMulti()
			}
		}
		c.rejectInMulti()
		c.replyError(errText)
		return
	}
	if !c.authed && cmd.Flags&proto.FlagNoAuth == 0 {
		c.rejectInMulti()
		c.replyError("NOAUTH Authentication required.")
		c.s.stats.cmd[cmd.ID].rejected.Add(1)
		return
	}
	top := cmd
	if top.Parent != nil {
		top = top.Parent
	}
	if c.resp.Load() == 2 && c.subCount.Load() > 0 && !allowedWhileSubscribed(top.Name) {
		c.replyError("ERR Can't execute '" + cmd.Name + "': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context")
		c.s.stats.cmd[cmd.ID].rejected.Add(1)
		return
	}
	if c.multi != nil {
		switch top.Name {
		case "exec", "discard", "multi", "watch", "quit", "reset":
		default:
			if cmd.Flags&proto.FlagNoMulti != 0 {
				c.rejectInMulti()
				c.replyError("ERR Command not allowed inside a transaction")
				return
			}
			c.multi.queue(cmd, args)
			c.w.WriteSimple("QUEUED")
			return
		}
	}
	c.s.pause.wait(c, cmd)
	c.call(cmd, args, false)
}

// call runs a command and accounts for it.
func (c *conn) call(cmd *proto.Command, args [][]byte, inExec bool) {
	start := time.Now()
	before := c.w.Buffered()
	c.lastCmd.Store(&cmd.Name)
	if h := handlersByID.server[cmd.ID]; h != nil {
		h(c, args, inExec)
	} else if h := handlersByID.data[cmd.ID]; h != nil {
		c.runData(cmd, h, args, inExec)
	} else {
		c.w.WriteError("ERR unknown command '" + cmd.Name + "', with args beginning with: ")
	}
	// Time spent blocked (BLPOP, WAIT...) is not execution time, as in
	// Redis: it counts in neither the statistics nor the slow log.
	dur := time.Since(start) - c.blockedTime
	c.blockedTime = 0
	st := &c.s.stats.cmd[cmd.ID]
	st.calls.Add(1)
	st.usec.Add(dur.Microseconds())
	c.s.stats.latency[cmd.ID].record(dur.Microseconds())
	if b := c.w.Bytes(); len(b) > before && b[before] == '-' {
		st.failed.Add(1)
		c.s.errors.add(b[before+1:])
	}
	c.s.stats.commands.Add(1)
	c.lastActive.Store(start.UnixMilli())
	if cmd.Flags&proto.FlagSkipSlowlog == 0 {
		c.s.slowlog.record(c, args, start, dur)
	}
	if cmd.Flags&proto.FlagFast != 0 {
		c.s.latency.record("fast-command", dur)
	} else {
		c.s.latency.record("command", dur)
	}
}

// replyError writes an error for a command rejected before it ran, and
// counts it (INFO errorstats).
func (c *conn) replyError(msg string) {
	c.w.WriteError(msg)
	c.s.errors.add([]byte(msg))
}

// rejectInMulti marks the open transaction as failed (EXECABORT), as
// Redis's flagTransaction.
func (c *conn) rejectInMulti() {
	if c.multi != nil {
		c.multi.aborted = true
	}
}

// shardFor returns the shard that owns the keys of a command. A single node
// owns every slot.
func (c *conn) shardFor(args [][]byte) *shard.Shard { return c.s.shard }

// runData runs an engine command on its shard: reads under the shared lock,
// writes under the exclusive one. A blocking command that finds nothing
// parks the client.
func (c *conn) runData(cmd *proto.Command, h engine.Handler, args [][]byte, inExec bool) {
	sh := c.shardFor(args)
	ctx := &c.ctx
	ctx.DB = sh.DB()
	ctx.W = c.w
	ctx.NoBlock = inExec
	if cmd.Flags&proto.FlagWrite == 0 && cmd.Flags&proto.FlagBlocking == 0 {
		ctx.Reset(args, time.Now().UnixMilli(), rand.Uint64())
		if inExec {
			h(ctx)
			return
		}
		sh.BeginRead()
		h(ctx)
		sh.EndRead()
		return
	}
	if inExec {
		ctx.Reset(args, time.Now().UnixMilli(), rand.Uint64())
		h(ctx)
		return
	}
	sh.BeginWrite()
	ctx.Reset(args, time.Now().UnixMilli(), rand.Uint64())
	h(ctx)
	if ctx.Blocked == nil {
		sh.EndWrite()
		return
	}
	c.block(sh, h, args, ctx.Blocked)
}

// block parks the client on the keys of spec until a write makes one ready,
// then runs the command again (inside the writer's critical section, so the
// client is served before any other command sees the pushed element). Called
// with the shard's write lock held; releases it.
func (c *conn) block(sh *shard.Shard, h engine.Handler, args [][]byte, spec *engine.BlockSpec) {
	own := make([][]byte, len(args))
	for i, a := range args {
		own[i] = append([]byte(nil), a...)
	}
	// The reply goes to a writer of its own: the client's goroutine is
	// flushing c.w while another client's write serves this one.
	out := proto.NewWriter(nil)
	out.SetProto(c.w.Proto())
	bctx := &engine.Ctx{W: out}
	run := func(db *engine.DB) bool {
		out.Reset()
		bctx.DB = db
		bctx.Reset(own, time.Now().UnixMilli(), rand.Uint64())
		h(bctx)
		return bctx.Blocked == nil
	}
	w := shard.NewWaiter(spec.Keys, run)
	sh.BlockLocked(w)
	sh.EndWrite()
	served, ok := c.waitBlocked(sh, w, spec)
	if !ok {
		c.kill()
		return
	}
	if served {
		c.w.WriteRaw(out.Bytes())
	}
}

// withRead runs fn with the shard's read lock, unless inside EXEC (which
// holds the write lock already).
func (c *conn) withRead(sh *shard.Shard, inExec bool, fn func(db *engine.DB)) {
	if inExec {
		fn(sh.DB())
		return
	}
	sh.BeginRead()
	defer sh.EndRead()
	fn(sh.DB())
}

// withWrite runs fn with the shard's write lock, unless inside EXEC.
func (c *conn) withWrite(sh *shard.Shard, inExec bool, fn func(db *engine.DB)) {
	if inExec {
		fn(sh.DB())
		return
	}
	sh.BeginWrite()
	defer sh.EndWrite()
	fn(sh.DB())
}

// errUnknownSubcommand is Redis's reply to an unknown subcommand.
func errUnknownSubcommand(sub []byte, cmd string) string {
	return "ERR unknown subcommand '" + string(sub) + "'. Try " + strings.ToUpper(cmd) + " HELP."
}
