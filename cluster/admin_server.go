package cluster

import (
	"math"
	"strings"
	"time"
)

func init() {
	serverHandlers["shutdown"] = cmdSHUTDOWN
	serverHandlers["wait"] = cmdWAIT
}

// cmdSHUTDOWN: SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]. The node stops
// at once: Flotilla keeps no RDB or AOF for SAVE to write (the Raft log is
// its durability), and has no replicas to wait for, so NOW and FORCE change
// nothing and there is never a shutdown in progress to ABORT. As in Redis,
// the client that sent it gets no reply: its connection closes.
func cmdSHUTDOWN(c *conn, args [][]byte, inExec bool) {
	var nosave, save, now, force, abort bool
	for _, a := range args[1:] {
		switch strings.ToLower(string(a)) {
		case "nosave":
			nosave = true
		case "save":
			save = true
		case "now":
			now = true
		case "force":
			force = true
		case "abort":
			abort = true
		default:
			c.w.WriteError("ERR syntax error")
			return
		}
	}
	if (abort && (nosave || save || now || force)) || (nosave && save) {
		c.w.WriteError("ERR syntax error")
		return
	}
	if abort {
		c.w.WriteError("ERR No shutdown in progress.")
		return
	}
	if inExec && !now {
		// SHUTDOWN is refused inside MULTI before it runs; this is Redis's
		// rule for clients that cannot block.
		c.w.WriteError("ERR SHUTDOWN without NOW or ABORT isn't allowed for DENY BLOCKING client")
		return
	}
	c.s.log.Warn("User requested shutdown...", "client", c.addr)
	if save {
		c.s.log.Warn("SHUTDOWN SAVE: Flotilla keeps no RDB file, nothing to save")
	}
	c.closeAfter = true
	c.s.shutdown()
}

// shutdown stops the node from one of its own goroutines (SHUTDOWN): it
// closes the listeners and every client, and closes Done, on which the
// process's owner calls Close to wait for the rest. It must not wait for the
// server's goroutines itself: the caller is one of them.
func (s *Server) shutdown() {
	s.cancel()
	s.closeListeners()
	s.mu.Lock()
	for _, c := range s.mu.conns {
		c.kill()
	}
	s.mu.Unlock()
	s.log.Warn("Flotilla is now ready to exit, bye bye...")
}

// cmdWAIT: WAIT numreplicas timeout. A node has no replicas: no write is
// ever acknowledged by one. As Redis with no replica connected, WAIT
// replies 0 at once when numreplicas <= 0 (or inside MULTI, where it cannot
// block), and otherwise blocks until the timeout (ms, 0 = forever) and then
// replies 0.
func cmdWAIT(c *conn, args [][]byte, inExec bool) {
	numreplicas, ok := parseLongLong(args[1])
	if !ok {
		c.w.WriteError(errNotInteger)
		return
	}
	timeout, ok := parseLongLong(args[2])
	if !ok {
		c.w.WriteError("ERR timeout is not an integer or out of range")
		return
	}
	if timeout < 0 {
		c.w.WriteError("ERR timeout is negative")
		return
	}
	const acked = 0
	if numreplicas <= acked || inExec {
		c.w.WriteInt(acked)
		return
	}
	var deadline time.Time // zero: forever
	if timeout > 0 && timeout <= math.MaxInt64-c.s.nowMs() {
		deadline = time.Now().Add(time.Duration(min(timeout, math.MaxInt64/int64(time.Millisecond))) * time.Millisecond)
	}
	if !c.waitUntil(deadline) {
		c.kill()
		return
	}
	c.w.WriteInt(acked)
}

// waitUntil parks the client, blocked, until deadline (zero: forever). It
// returns false if the client disconnected or the server is shutting down.
// The replies of the commands before are sent first, as Redis does.
func (c *conn) waitUntil(deadline time.Time) bool {
	c.blocked.Store(true)
	defer c.blocked.Store(false)
	since := time.Now()
	defer func() { c.blockedTime += time.Since(since) }()
	if err := c.flush(); err != nil {
		return false
	}
	var timer <-chan time.Time
	if !deadline.IsZero() {
		t := time.NewTimer(max(time.Until(deadline), 0))
		defer t.Stop()
		timer = t.C
	}
	gone := c.watchDisconnect()
	defer c.stopWatchDisconnect(gone)
	select {
	case <-timer:
		return true
	case <-gone.done:
		return false
	case <-c.s.ctx.Done():
		return false
	}
}
