package cluster

import (
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flotilla-db/flotilla/engine"
	"github.com/flotilla-db/flotilla/proto"
	"github.com/flotilla-db/flotilla/shard"
)

// conn is one client connection. Its goroutine (serve) owns everything but
// the fields documented otherwise; other goroutines reach it only through
// pushes (pub/sub messages), kill, and the atomics CLIENT LIST reads.
type conn struct {
	s     *Server
	id    uint64
	nc    net.Conn
	addr  string
	laddr string
	in    connInput
	rd    *proto.Reader
	w     *proto.Writer
	ctx   engine.Ctx

	created time.Time
	authed  bool
	user    string

	multi *multiState
	watch shard.Watch
	// watchShard is the shard the WATCHed keys are registered with.
	watchShard *shard.Shard

	// Cluster mode: the writes waiting to be proposed (see queueWrite),
	// whether the running command's reply is deferred to them, the
	// pipeline batch number, and the last batch whose reads on a shard
	// had leadership confirmed.
	pend     pendingWrites
	deferred bool
	// seenLeaders is the node's leaderEpoch this client was last told
	// about (see nudge).
	seenLeaders uint64
	batch       uint64
	confirmed   struct {
		rep   *shard.Replica
		batch uint64
	}

	// Subscriptions, changed by the owner goroutine under the hub's lock.
	channels      map[string]bool
	patterns      map[string]bool
	shardChannels map[string]bool

	// The shard lock held across a pipeline's commands (see acquire),
	// the connection's clock, and the statistics of the current batch.
	held      *shard.Shard
	heldWrite bool
	heldCount int
	clock     time.Time
	stats     pendingStats

	readonly   bool
	asking     bool
	noEvict    bool
	closeAfter bool // QUIT: close once the reply is flushed
	// blockedTime is how long the running command waited blocked (BLPOP,
	// WAIT); call subtracts it from the command's duration.
	blockedTime time.Duration

	// Read by CLIENT LIST / INFO from other goroutines.
	name       atomic.Pointer[string]
	resp       atomic.Int32
	lastCmd    atomic.Pointer[string]
	userAtomic atomic.Pointer[string]
	lastActive atomic.Int64 // unix ms
	blocked    atomic.Bool
	inMulti    atomic.Bool
	subCount   atomic.Int32
	libName    atomic.Pointer[string]

	// Output. sockMu serialises writes to the socket between the owner
	// and the push writer; pmu guards push, the pub/sub messages waiting to
	// be sent.
	sockMu    sync.Mutex
	pmu       sync.Mutex
	push      *proto.Writer
	pushKick  chan struct{}
	pusherRun bool

	closed    chan struct{}
	closeOnce sync.Once
	killed    atomic.Bool
}

// pushBufferLimit is the output a slow pub/sub subscriber may accumulate
// before it is disconnected (Redis's client-output-buffer-limit pubsub hard
// limit).
const pushBufferLimit = 32 << 20

func (s *Server) newConn(nc net.Conn) *conn {
	c := &conn{
		s:        s,
		id:       s.nextClientID.Add(1),
		nc:       nc,
		addr:     nc.RemoteAddr().String(),
		laddr:    nc.LocalAddr().String(),
		created:  time.Now(),
		closed:   make(chan struct{}),
		pushKick: make(chan struct{}, 1),
	}
	c.in.nc = nc
	c.rd = proto.NewReader(&c.in, &s.limits)
	c.w = proto.NewWriter(nil)
	c.push = proto.NewWriter(nil)
	c.authed = s.cfg.Get("requirepass") == ""
	c.user = "default"
	c.resp.Store(2)
	empty := ""
	c.name.Store(&empty)
	c.libName.Store(&empty)
	c.lastCmd.Store(&nullCmd)
	c.lastActive.Store(time.Now().UnixMilli())
	c.ctx.W = c.w
	if s.node != nil {
		c.seenLeaders = s.node.leaderEpoch.Load()
	}
	return c
}

var nullCmd = "NULL"

// connInput is the socket as the RESP reader sees it. While the client is
// blocked (BLPOP...), a watcher goroutine keeps reading from the socket to
// notice a disconnect; what it reads is kept in pending and handed to the
// reader afterwards, so pipelined commands are not lost.
type connInput struct {
	nc      net.Conn
	pending []byte
}

func (in *connInput) Read(p []byte) (int, error) {
	if len(in.pending) > 0 {
		n := copy(p, in.pending)
		in.pending = in.pending[n:]
		return n, nil
	}
	return in.nc.Read(p)
}

func (c *conn) setProto(v int) {
	c.w.SetProto(v)
	c.pmu.Lock()
	c.push.SetProto(v)
	c.pmu.Unlock()
	c.resp.Store(int32(v))
}

func (c *conn) serve() {
	defer c.close()
	// deadline: a read deadline may be set (the idle timeout); clearing
	// one costs a runtime call, so it is done only then.
	deadline := false
	for {
		if t := c.s.cfg.Int("timeout"); t > 0 && c.subCount.Load() == 0 {
			c.nc.SetReadDeadline(time.Now().Add(time.Duration(t) * time.Second))
			deadline = true
		} else if deadline {
			c.nc.SetReadDeadline(time.Time{})
			deadline = false
		}
		c.rd.SetAuthRequired(!c.authed)
		reqs, err := c.rd.ReadCommands()
		if err != nil {
			var perr *proto.ProtocolError
			var qerr *proto.QueryBufferError
			if errors.As(err, &perr) {
				c.w.WriteError("ERR " + perr.Error())
				c.flush()
				c.s.log.Debug("protocol error", "client", c.addr, "err", err)
			} else if errors.As(err, &qerr) {
				c.s.log.Warn("closing client that reached max query buffer length", "client", c.addr, "len", qerr.Len)
			}
			return
		}
		c.clock = time.Now()
		c.batch++
		for i := range reqs {
			args := reqs[i].Args
			c.stats.netIn += int64(argsSize(args))
			c.dispatch(args)
			if c.closeAfter || c.killed.Load() {
				c.flushPending()
				c.release()
				c.stats.flush(c.s)
				c.flush()
				return
			}
		}
		c.flushPending()
		c.release()
		c.stats.flush(c.s)
		if err := c.flush(); err != nil {
			return
		}
	}
}

func argsSize(args [][]byte) int {
	n := 0
	for _, a := range args {
		n += len(a)
	}
	return n
}

// flush sends the replies buffered by the owner goroutine.
func (c *conn) flush() error {
	if c.w.Buffered() == 0 {
		return nil
	}
	c.s.stats.netOut.Add(int64(c.w.Buffered()))
	c.sockMu.Lock()
	_, err := c.nc.Write(c.w.Bytes())
	c.sockMu.Unlock()
	c.w.Reset()
	return err
}

// deliver queues an out-of-band message (pub/sub) built by fn into the
// push buffer and wakes the push writer. Safe from any goroutine.
func (c *conn) deliver(fn func(w *proto.Writer)) {
	c.pmu.Lock()
	fn(c.push)
	over := c.push.Buffered() > pushBufferLimit
	start := !c.pusherRun
	c.pusherRun = true
	c.pmu.Unlock()
	if over {
		c.s.log.Warn("client scheduled to be closed for overcoming of output buffer limits", "client", c.addr)
		c.kill()
		return
	}
	if start {
		c.s.wg.Add(1)
		go c.runPusher()
	}
	select {
	case c.pushKick <- struct{}{}:
	default:
	}
}

// runPusher writes pushes to the socket until the connection closes.
func (c *conn) runPusher() {
	defer c.s.wg.Done()
	var out []byte
	for {
		select {
		case <-c.closed:
			return
		case <-c.pushKick:
		}
		c.pmu.Lock()
		out = append(out[:0], c.push.Bytes()...)
		c.push.Reset()
		c.pmu.Unlock()
		if len(out) == 0 {
			continue
		}
		c.s.stats.netOut.Add(int64(len(out)))
		c.sockMu.Lock()
		c.nc.SetWriteDeadline(time.Now().Add(30 * time.Second))
		_, err := c.nc.Write(out)
		c.nc.SetWriteDeadline(time.Time{})
		c.sockMu.Unlock()
		if err != nil {
			c.kill()
			return
		}
		if cap(out) > 1<<20 {
			out = nil
		}
	}
}

// kill closes the connection from any goroutine (CLIENT KILL, shutdown,
// output limits).
func (c *conn) kill() {
	c.killed.Store(true)
	c.nc.Close()
}

// close releases everything the connection holds; run by the owner.
func (c *conn) close() {
	c.closeOnce.Do(func() {
		c.release()
		close(c.closed)
		c.nc.Close()
		c.unwatch()
		c.s.pubsub.unsubscribeAll(c)
		c.s.removeConn(c)
	})
}

// waitBlocked parks the owner goroutine until w is served, the deadline
// passes or the client disconnects. served says the waiter's reply is ready;
// on timeout the timeout reply is written here. ok is false when the
// connection is gone.
func (c *conn) waitBlocked(sh *shard.Shard, w *shard.Waiter, spec *engine.BlockSpec) (served, ok bool) {
	c.blocked.Store(true)
	defer c.blocked.Store(false)
	since := time.Now()
	defer func() { c.blockedTime += time.Since(since) }()
	// Send the replies of the commands before this one, as Redis does.
	if err := c.flush(); err != nil {
		if sh.Unblock(w) {
			return false, false
		}
		return true, false
	}
	var timer <-chan time.Time
	if spec.Deadline > 0 {
		d := time.Until(time.UnixMilli(spec.Deadline))
		t := time.NewTimer(max(d, 0))
		defer t.Stop()
		timer = t.C
	}
	gone := c.watchDisconnect()
	defer c.stopWatchDisconnect(gone)
	select {
	case <-w.Served:
		return true, true
	case <-timer:
		if !sh.Unblock(w) {
			return true, true
		}
		if spec.NullArray {
			c.w.WriteNullArray()
		} else {
			c.w.WriteNull()
		}
		return false, true
	case <-gone.done:
		return !sh.Unblock(w), false
	case <-c.s.ctx.Done():
		return !sh.Unblock(w), false
	}
}

type disconnectWatch struct {
	done    chan struct{} // closed when the client went away
	stopped chan struct{} // closed when the reading goroutine returned
}

// watchDisconnect reads from the socket in the background so that a client
// leaving while blocked is noticed; bytes read are kept for the reader.
func (c *conn) watchDisconnect() *disconnectWatch {
	dw := &disconnectWatch{done: make(chan struct{}), stopped: make(chan struct{})}
	c.nc.SetReadDeadline(time.Time{})
	go func() {
		defer close(dw.stopped)
		buf := make([]byte, 4096)
		for {
			n, err := c.nc.Read(buf)
			if n > 0 {
				c.in.pending = append(c.in.pending, buf[:n]...)
				if len(c.in.pending) > 1<<26 {
					close(dw.done)
					return
				}
			}
			if err != nil {
				if !errors.Is(err, os.ErrDeadlineExceeded) {
					close(dw.done)
				}
				return
			}
		}
	}()
	return dw
}

// stopWatchDisconnect interrupts the background read and waits for it, so
// the owner can read the socket again.
func (c *conn) stopWatchDisconnect(dw *disconnectWatch) {
	c.nc.SetReadDeadline(time.Now())
	<-dw.stopped
	c.nc.SetReadDeadline(time.Time{})
	select {
	case <-dw.done:
		// The client went away; the next read reports it.
		c.in.pending = append(c.in.pending[:0:0], c.in.pending...)
	default:
	}
}

// sortConns orders clients by ID, as CLIENT LIST does.
func sortConns(cs []*conn) {
	slices.SortFunc(cs, func(a, b *conn) int {
		switch {
		case a.id < b.id:
			return -1
		case a.id > b.id:
			return 1
		}
		return 0
	})
}

var _ io.Reader = (*connInput)(nil)
