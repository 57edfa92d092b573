package cluster

import (
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/flotilla-db/flotilla/engine"
	"github.com/flotilla-db/flotilla/proto"
	"github.com/flotilla-db/flotilla/raft"
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
		handlersByID.data[cmd.ID] = raft.DataHandler(cmd)
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
		c.flushPending()
		c.w.WriteOK()
		c.closeAfter = true
		return
	}
	cmd, errText := proto.Lookup(args)
	if c.pend.rep != nil && (errText != "" || !c.joinsPending(cmd, args)) {
		// Replies go out in order: what is pending is answered first.
		c.flushPending()
	}
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
	if c.s.pause.paused.Load() {
		c.release()
		c.s.pause.wait(c, cmd)
		c.clock = time.Now()
	}
	c.call(cmd, args, false)
}

// call runs a command and accounts for it. The command's duration runs
// from the previous tick of the connection's clock (the end of the previous
// command, or the read that brought this one).
func (c *conn) call(cmd *proto.Command, args [][]byte, inExec bool) {
	start := c.clock
	before := c.w.Buffered()
	c.lastCmd.Store(&cmd.Name)
	c.deferred = false
	if h := handlersByID.server[cmd.ID]; h != nil {
		if !inExec {
			// Server commands take the locks they need themselves.
			c.release()
		}
		h(c, args, inExec)
	} else if h := handlersByID.data[cmd.ID]; h != nil {
		c.runData(cmd, h, args, inExec)
	} else {
		c.w.WriteError("ERR unknown command '" + cmd.Name + "', with args beginning with: ")
	}
	if c.asking && !inExec && c.multi == nil && cmd.Name != "asking" {
		// ASKING holds for the next command (or the next transaction),
		// as in Redis.
		c.asking = false
	}
	if c.deferred {
		// A write waiting in the pending entry: accounted for when its
		// reply comes (flushPending).
		c.deferred = false
		return
	}
	// Time spent blocked (BLPOP, WAIT...) is not execution time, as in
	// Redis: it counts in neither the statistics nor the slow log.
	_, dur := c.tick()
	dur -= c.blockedTime
	c.blockedTime = 0
	failed := false
	if b := c.w.Bytes(); len(b) > before && b[before] == '-' {
		failed = true
		c.s.errors.add(b[before+1:])
	}
	c.stats.add(cmd.ID, dur.Microseconds(), failed)
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

// maxHeldCommands bounds how many commands of one pipeline run under one
// acquisition of a shard lock, so other clients get their turn.
const maxHeldCommands = 64

// acquire makes the connection hold sh's lock, exclusively if write. A
// pipeline's consecutive commands on one shard share one acquisition (a
// read may run under a held write lock).
func (c *conn) acquire(sh *shard.Shard, write bool) {
	if c.held == sh && (c.heldWrite || !write) && c.heldCount < maxHeldCommands {
		c.heldCount++
		return
	}
	c.release()
	if write {
		sh.BeginWrite()
	} else {
		sh.BeginRead()
	}
	c.held, c.heldWrite, c.heldCount = sh, write, 1
}

// release lets go of a held shard lock (and so serves clients blocked on
// keys made ready). It runs before anything that may wait: a flush, a
// server command, a blocking wait.
func (c *conn) release() {
	if c.held == nil {
		return
	}
	if c.heldWrite {
		c.held.EndWrite()
	} else {
		c.held.EndRead()
	}
	c.held = nil
}

// runData runs an engine command on its shard: reads under the shared lock,
// writes under the exclusive one. A blocking command that finds nothing
// parks the client.
func (c *conn) runData(cmd *proto.Command, h engine.Handler, args [][]byte, inExec bool) {
	if c.s.node != nil {
		r := c.routeCommand(cmd, args)
		if (r.err == errClusterDown || r.err == errTryAgain) && !inExec {
			r = c.awaitLeader(cmd, args, r)
		}
		switch {
		case r.err != "":
			c.w.WriteError(r.err)
		case !inExec && c.nudge(cmd, r):
		case r.keyless:
			c.runKeyless(cmd, h, args)
		default:
			c.runReplicated(cmd, h, args, r)
		}
		return
	}
	sh := c.shardFor(args)
	ctx := &c.ctx
	ctx.DB = sh.DB()
	ctx.W = c.w
	ctx.NoBlock = inExec
	write := cmd.Flags&(proto.FlagWrite|proto.FlagBlocking) != 0
	if !inExec {
		c.acquire(sh, write)
	}
	ctx.Reset(args, c.clock.UnixMilli(), rand.Uint64())
	h(ctx)
	if ctx.Blocked != nil {
		// block releases the lock (held by acquire) when it parks.
		c.held = nil
		c.block(sh, h, args, ctx.Blocked)
		return
	}
	if write && !inExec {
		// Serve clients blocked on keys this write made ready before the
		// next command runs, as Redis does.
		sh.ServeReadyLocked()
	}
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
