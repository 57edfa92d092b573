package shard

import (
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	hraft "github.com/hashicorp/raft"

	"github.com/flotilla-db/flotilla/raft"
)

// Replica is this node's member of a shard's Raft group: the shard's state
// (applied by the group's FSM), and, when this node leads the group, the
// way in for writes (Propose) and linearizable reads (ConfirmRead).
type Replica struct {
	*Shard
	Group *raft.Group
	FSM   *raft.FSM

	// proposeMu orders proposals against a WATCHed EXEC: ordinary
	// proposals share it while they enqueue; the EXEC holds it alone while
	// it drains what is in flight, checks its watched keys and enqueues.
	proposeMu sync.RWMutex

	// readyTerm is the term in which this node, as leader, has applied
	// every entry committed before its term (a barrier committed). Reads
	// are served only when it equals the current term.
	readyTerm atomic.Uint64

	gate struct {
		sync.Mutex
		rounds  int // confirmations out
		waiting []chan error
	}

	// ReadLease, when positive, lets this node serve reads without a
	// round of heartbeats for that long after the start of a round that
	// confirmed its leadership (see LeaseHolds). Set before Start.
	ReadLease time.Duration
	// LeaderSilence, when positive, is how long a follower goes without
	// hearing from its leader before it stops naming it (see Leader). Set
	// before Start.
	LeaderSilence time.Duration
	// StrandedAfter and DeposedAfter, when positive, say when this
	// replica stops expecting its shard to get a leader it will hear from
	// soon (see Stranded): after StrandedAfter without hearing from any
	// leader (longer than an election among replicas that reach each
	// other takes), or DeposedAfter after it lost its own leadership
	// without hearing from a successor since. Set before Start.
	StrandedAfter time.Duration
	DeposedAfter  time.Duration
	// started is when Start ran: silence is counted from then at the
	// latest (hashicorp/raft's LastContact is zero until a first contact).
	started time.Time
	// deposedAt is when this node was last seen to lose its leadership
	// (watchLeadership).
	deposedAt atomic.Pointer[time.Time]
	lease     atomic.Pointer[readLease]
	leaseMu   sync.Mutex // orders lease grants against transfers
	// noLeaseUntil: no lease is granted by a round that starts before
	// this time (a leadership transfer voids leases; see
	// TransferLeadership).
	noLeaseUntil time.Time
	renewing     atomic.Bool

	// prop is the group-commit queue (see runProposer).
	prop struct {
		sync.Mutex
		cond     *sync.Cond
		queue    []*proposal
		inflight int
		running  bool
	}

	stop chan struct{}
	// closed is closed once the group is shut down (Close).
	closed chan struct{}
	wg     sync.WaitGroup

	// LeaderChanges counts this node's gains and losses of leadership.
	LeaderChanges atomic.Int64
}

// readLease is a leadership confirmed until a deadline, in one term.
type readLease struct {
	term  uint64
	until time.Time // monotonic reading
}

// Errors of the write and read paths.
var (
	// ErrNotLeader: this node does not lead the shard (answer -MOVED).
	ErrNotLeader = errors.New("shard: not the leader")
	// ErrTransferring: this node is handing its leadership over; nothing
	// was appended.
	ErrTransferring = errors.New("shard: leadership transfer in progress")
	// ErrNotReady: this node leads the shard but has not yet applied what
	// earlier leaders committed (answer -TRYAGAIN; it takes one commit).
	ErrNotReady = errors.New("shard: leader not ready")
	// ErrUncertain: leadership was lost after the entry was appended; it
	// may or may not commit.
	ErrUncertain = errors.New("shard: leadership lost with the write in flight")
	// ErrStopped: the replica is shutting down.
	ErrStopped = errors.New("shard: stopped")
)

// NewReplica returns the shard state and FSM of a replica; Start opens its
// group.
func NewReplica(id ID, seed uint64) *Replica {
	r := &Replica{Shard: New(id, seed), stop: make(chan struct{}), closed: make(chan struct{})}
	r.prop.cond = sync.NewCond(&r.prop.Mutex)
	r.FSM = raft.NewFSM(r.Shard)
	return r
}

// Start runs the replica on its opened group: it watches leadership to
// commit a barrier at the start of each term.
func (r *Replica) Start(g *raft.Group) {
	r.Group = g
	r.started = time.Now()
	r.wg.Add(1)
	go r.watchLeadership()
}

// Close stops the replica's goroutines and its group.
func (r *Replica) Close() error {
	// Under prop's lock: a Propose either started the proposer (counted
	// in wg) before, or sees stop closed and refuses.
	r.prop.Lock()
	select {
	case <-r.stop:
		r.prop.Unlock()
		return nil
	default:
	}
	// And under gate's lock: a read confirmation round is counted in wg
	// before, or not started at all (startRoundsLocked).
	r.gate.Lock()
	close(r.stop)
	r.gate.Unlock()
	r.prop.Unlock()
	err := r.Group.Close()
	close(r.closed)
	r.wg.Wait()
	return err
}

// stopping reports whether Close has begun.
func (r *Replica) stopping() bool {
	select {
	case <-r.stop:
		return true
	default:
		return false
	}
}

// wait returns the outcome of f. hashicorp/raft answers every future it
// took up before it shut down, but never one still queued in its buffered
// apply or verify channel then (hashicorp/raft#498), and f.Error() would
// wait for it forever (with Close waiting for the waiter). Once the group
// is closed, wait gives up on such a future: ErrRaftShutdown (the entry
// was never appended). The goroutine left waiting on it is all it costs.
func (r *Replica) wait(f hraft.Future) error {
	errc := make(chan error, 1)
	go func() { errc <- f.Error() }()
	select {
	case err := <-errc:
		return err
	case <-r.closed:
		select {
		case err := <-errc:
			return err
		default:
			return hraft.ErrRaftShutdown
		}
	}
}

// watchLeadership commits a barrier each time this node becomes leader,
// so that reads see every entry committed in earlier terms.
func (r *Replica) watchLeadership() {
	defer r.wg.Done()
	ch := r.Group.Raft.LeaderCh()
	check := time.NewTicker(200 * time.Millisecond)
	defer check.Stop()
	led := false
	for {
		select {
		case <-r.stop:
			return
		case isLeader := <-ch:
			r.LeaderChanges.Add(1)
			r.noteLeading(&led, isLeader)
			if isLeader {
				r.makeReady()
			}
		case <-check.C:
			// LeaderCh may coalesce transitions; the ticker catches a
			// term in which this node leads but is not ready.
			if r.Group.IsLeader() && r.readyTerm.Load() != r.Group.Raft.CurrentTerm() {
				r.makeReady()
			}
		}
	}
}

// noteLeading records when this node stops leading (for Stranded); led is
// what LeaderCh said last. LeaderCh keeps its latest value, so a loss of
// leadership is seen unless it is followed by a new one; it is sent after
// hashicorp/raft recorded the step-down as a contact. Called from
// watchLeadership only.
func (r *Replica) noteLeading(led *bool, isLeader bool) {
	if *led && !isLeader {
		now := time.Now()
		r.deposedAt.Store(&now)
	}
	*led = isLeader
}

func (r *Replica) makeReady() {
	term := r.Group.Raft.CurrentTerm()
	if err := r.wait(r.Group.Raft.Barrier(5 * time.Second)); err != nil {
		return
	}
	if r.Group.IsLeader() && r.Group.Raft.CurrentTerm() == term {
		r.readyTerm.Store(term)
	}
}

// IsLeader reports whether this node leads the shard and is ready to serve
// it.
func (r *Replica) IsLeader() bool {
	return r.Group.IsLeader() && r.readyTerm.Load() == r.Group.Raft.CurrentTerm()
}

// Leader returns the node ID of the shard's leader as known here, or ""
// when none is: also when this follower has not heard from its leader for
// LeaderSilence, since that leader has probably failed and an election is
// on. Clients are then held until the new leader is known, instead of
// being sent -MOVED to a dead node (go-redis would follow it, fail to
// dial, and reload the slots from a node that still names the dead one).
func (r *Replica) Leader() string {
	l := r.Group.Leader()
	if l == "" || r.LeaderSilence <= 0 || r.Group.IsLeader() {
		return l
	}
	if time.Since(r.Group.Raft.LastContact()) > r.LeaderSilence {
		return ""
	}
	return l
}

// Stranded reports whether this replica no longer expects its shard to get
// a leader it will hear from soon, so that holding a client here for one
// is pointless: it does not lead, knows no leader (Leader), and either has
// heard from none for StrandedAfter, or lost its own leadership more than
// DeposedAfter ago and has heard from no successor since. Both happen to a
// node cut off from the other replicas, while they elect a leader among
// themselves: a leader cut off steps down once it has missed a quorum for
// the leader-lease timeout (hashicorp/raft), and then hears from nobody;
// its followers hear from nobody at once. A successor after a handover or
// after a stale leader meets a newer term is heard from within a
// heartbeat or an election. Safe for concurrent use.
func (r *Replica) Stranded() bool {
	if r.Group == nil || r.Group.IsLeader() || r.Leader() != "" {
		return false
	}
	now := time.Now()
	heard := r.Group.Raft.LastContact()
	if heard.Before(r.started) {
		heard = r.started
	}
	if r.StrandedAfter > 0 && now.Sub(heard) > r.StrandedAfter {
		return true
	}
	// NB: hashicorp/raft records a contact when its leader steps down, just
	// before LeaderCh says so (deposedAt), so a contact after deposedAt
	// came from another node.
	if dep := r.deposedAt.Load(); r.DeposedAfter > 0 && dep != nil && !heard.After(*dep) && now.Sub(*dep) > r.DeposedAfter {
		return true
	}
	return false
}

// ConfirmRead returns once this node is confirmed leader, ready, by a
// round of heartbeats that started after the call: whatever write was
// acknowledged before the call is then visible in the local state. Calls
// arriving while a round is out join the next one, so a burst of reads
// costs one round (../shared/DESIGN.md rule 3).
func (r *Replica) ConfirmRead() error {
	// A leader that just took over first applies what its predecessors
	// committed (one barrier); reads wait for that, briefly.
	for wait := 0; r.readyTerm.Load() != r.Group.Raft.CurrentTerm(); wait++ {
		if !r.Group.IsLeader() {
			return ErrNotLeader
		}
		if wait == 200 {
			return ErrNotReady
		}
		time.Sleep(5 * time.Millisecond)
	}
	ch := make(chan error, 1)
	r.gate.Lock()
	r.gate.waiting = append(r.gate.waiting, ch)
	r.startRoundsLocked()
	r.gate.Unlock()
	return <-ch
}

// maxConfirmRounds bounds the leadership confirmations out at once: reads
// arriving while one is out start another at once instead of waiting for
// it to end, so a read waits about one round, not one and a half. (GET
// through redis-benchmark --cluster, -c 50: one round at a time 266K/s at
// -P 16, up to four 318K/s.)
const maxConfirmRounds = 4

// startRoundsLocked starts confirmation rounds for the waiting reads, up to
// maxConfirmRounds. Call with gate held.
func (r *Replica) startRoundsLocked() {
	if r.stopping() {
		for _, ch := range r.gate.waiting {
			ch <- ErrStopped
		}
		r.gate.waiting = nil
		return
	}
	for r.gate.rounds < maxConfirmRounds && len(r.gate.waiting) > 0 {
		batch := r.gate.waiting
		r.gate.waiting = nil
		r.gate.rounds++
		r.wg.Add(1)
		go r.confirmRound(batch)
	}
}

// confirmRound confirms the leadership for a batch of reads, all of which
// arrived before it started.
func (r *Replica) confirmRound(batch []chan error) {
	defer r.wg.Done()
	term := r.Group.Raft.CurrentTerm()
	start := time.Now()
	err := r.wait(r.Group.Raft.VerifyLeader())
	if err != nil {
		err = ErrNotLeader
	} else if r.readyTerm.Load() != term {
		err = ErrNotReady
	} else {
		r.grantLease(term, start)
	}
	for _, ch := range batch {
		ch <- err
	}
	r.gate.Lock()
	r.gate.rounds--
	r.startRoundsLocked()
	r.gate.Unlock()
}

// Propose stamps e with the time (never earlier than the last entry's)
// and a seed, appends it to the log, and returns the result of applying
// it once committed. Concurrent proposals are group-committed: what waits
// while earlier entries are in flight goes into one log entry.
func (r *Replica) Propose(e *raft.Entry) (*raft.Result, error) {
	r.proposeMu.RLock()
	req := &proposal{done: make(chan struct{})}
	r.prop.Lock()
	select {
	case <-r.stop:
		r.prop.Unlock()
		r.proposeMu.RUnlock()
		return nil, ErrStopped
	default:
	}
	// Stamped in queue order, so entry times never go back.
	r.stamp(e)
	req.data = raft.AppendEntry(nil, e)
	r.prop.queue = append(r.prop.queue, req)
	kick := !r.prop.running
	r.prop.running = true
	if kick {
		r.wg.Add(1) // before Close can Wait (it takes prop's lock first)
	}
	r.prop.Unlock()
	r.proposeMu.RUnlock()
	if kick {
		go r.runProposer()
	}
	<-req.done
	return req.res, req.err
}

// proposal is one entry waiting for the proposer.
type proposal struct {
	data []byte
	res  *raft.Result
	err  error
	done chan struct{}
}

// Group commit: at most maxInflight log entries are out at a time; what
// arrives meanwhile waits and goes out as one EntryBatch, so a burst of
// writes costs one append and one fsync per replica instead of one each.
// One entry in flight measured best on this machine (SET -P 1 through
// redis-benchmark --cluster: 4.8K/s against 3.9K/s with two, 3.2K/s with
// three): each bolt commit costs two fsyncs, and bigger batches amortise
// them better than overlapping commits do.
const (
	maxInflight   = 1
	maxBatchBytes = 4 << 20
)

// runProposer sends the queued proposals to Raft until the queue is empty.
func (r *Replica) runProposer() {
	defer r.wg.Done()
	for {
		r.prop.Lock()
		for r.prop.inflight >= maxInflight {
			r.prop.cond.Wait()
		}
		if len(r.prop.queue) == 0 {
			r.prop.running = false
			r.prop.cond.Broadcast()
			r.prop.Unlock()
			return
		}
		n, size := 0, 0
		for n < len(r.prop.queue) && (n == 0 || size+len(r.prop.queue[n].data) <= maxBatchBytes) {
			size += len(r.prop.queue[n].data)
			n++
		}
		batch := r.prop.queue[:n:n]
		r.prop.queue = r.prop.queue[n:]
		if len(r.prop.queue) == 0 {
			r.prop.queue = nil
		}
		r.prop.inflight++
		r.prop.Unlock()

		var f hraft.ApplyFuture
		if len(batch) == 1 {
			f = r.Group.Raft.Apply(batch[0].data, 0)
		} else {
			subs := make([][]byte, len(batch))
			for i, p := range batch {
				subs[i] = p.data
			}
			f = r.Group.Raft.Apply(raft.AppendBatch(nil, subs), 0)
		}
		r.wg.Add(1)
		go r.await(f, batch)
	}
}

// await hands the result of an applied entry to its proposals.
func (r *Replica) await(f hraft.ApplyFuture, batch []*proposal) {
	defer r.wg.Done()
	err := r.wait(f)
	var resp any
	if err == nil {
		resp = f.Response()
	}
	for i, p := range batch {
		switch {
		case err != nil:
			p.err = mapRaftError(err)
		case len(batch) == 1:
			p.res, _ = resp.(*raft.Result)
		default:
			if br, ok := resp.(*raft.BatchResult); ok && i < len(br.Results) {
				p.res = br.Results[i]
			}
		}
		if p.err == nil && p.res == nil {
			p.err = errors.New("shard: entry applied without a result")
		}
		close(p.done)
	}
	r.prop.Lock()
	r.prop.inflight--
	r.prop.cond.Broadcast()
	r.prop.Unlock()
}

// waitProposerIdle waits until every proposal handed to the proposer is
// applied. Call with proposeMu held exclusively, so none is added.
func (r *Replica) waitProposerIdle() {
	r.prop.Lock()
	for r.prop.running || r.prop.inflight > 0 || len(r.prop.queue) > 0 {
		r.prop.cond.Wait()
	}
	r.prop.Unlock()
}

// ProposeExec proposes a transaction's entry; with keys watched by w, it
// first waits until everything proposed before is applied, and proposes
// nothing (aborted) if a watched key changed.
func (r *Replica) ProposeExec(w *Watch, e *raft.Entry) (res *raft.Result, aborted bool, err error) {
	if w == nil || !w.Watching() {
		res, err = r.Propose(e)
		return res, false, err
	}
	r.proposeMu.Lock()
	r.waitProposerIdle()
	r.stamp(e)
	r.BeginWrite()
	dirty := r.DirtyLocked(w, e.Now)
	r.UnwatchLocked(w)
	r.EndWrite()
	if dirty {
		r.proposeMu.Unlock()
		return nil, true, nil
	}
	f := r.Group.Raft.Apply(raft.AppendEntry(nil, e), 0)
	r.proposeMu.Unlock()
	res, err = r.result(f)
	return res, false, err
}

func (r *Replica) stamp(e *raft.Entry) {
	now := time.Now().UnixMilli()
	if last := r.FSM.LastNow(); now < last {
		now = last
	}
	e.Now = now
	e.Seed = rand.Uint64()
}

func (r *Replica) result(f hraft.ApplyFuture) (*raft.Result, error) {
	if err := r.wait(f); err != nil {
		return nil, mapRaftError(err)
	}
	res, _ := f.Response().(*raft.Result)
	if res == nil {
		return nil, errors.New("shard: entry applied without a result")
	}
	return res, nil
}

func mapRaftError(err error) error {
	switch {
	case errors.Is(err, hraft.ErrLeadershipTransferInProgress):
		return ErrTransferring
	case errors.Is(err, hraft.ErrNotLeader):
		return ErrNotLeader
	case errors.Is(err, hraft.ErrLeadershipLost):
		return ErrUncertain
	case errors.Is(err, hraft.ErrRaftShutdown):
		return ErrStopped
	}
	return err
}

// TransferLeadership hands the shard's leadership to the replica on node
// id (at its Raft address): proposals are held, everything in flight is
// applied and answered first (so no client sees an uncertain outcome for a
// planned handover), then hashicorp/raft's transfer runs. Proposals held
// meanwhile then find this node a follower and get redirected.
func (r *Replica) TransferLeadership(id, addr string) error {
	r.proposeMu.Lock()
	defer r.proposeMu.Unlock()
	r.waitProposerIdle()
	// The target is told to start an election at once, and its peers
	// vote for it although they have a leader: that breaks the premise of
	// the read lease, which ends here. No round grants one again until
	// the transfer's TimeoutNow can no longer arrive (the transport's
	// timeout, with a margin).
	r.voidLease(365 * 24 * time.Hour)
	err := r.wait(r.Group.Raft.LeadershipTransferToServer(hraft.ServerID(id), hraft.ServerAddress(addr)))
	r.voidLease(transferLeaseHold)
	return mapRaftError(err)
}

// transferLeaseHold is how long after a leadership transfer no read lease
// is granted: longer than the Raft transport's RPC timeout (raft.OpenGroup),
// after which a TimeoutNow sent for the transfer cannot still arrive.
const transferLeaseHold = 3 * time.Second

// voidLease ends the current read lease, and keeps rounds that start in
// the next d from granting one.
func (r *Replica) voidLease(d time.Duration) {
	r.leaseMu.Lock()
	r.lease.Store(nil)
	r.noLeaseUntil = time.Now().Add(d)
	r.leaseMu.Unlock()
}

// grantLease records that a round started at start confirmed this node's
// leadership in term. Why that allows reads until start + ReadLease
// without another round: each follower that answered the round heard from
// this leader after start, and hashicorp/raft followers refuse to vote
// while they know a leader, forgetting it only after a full heartbeat
// timeout without contact. So no other candidate can gather a majority
// before start + heartbeat timeout (a node that restarts forgets its
// leader at once: the cluster makes restarted nodes wait a heartbeat
// timeout before they open their groups), and the leader itself steps
// down only after its leader-lease timeout without a quorum. ReadLease
// is half the smaller of the two, a margin for clock rate drift between
// nodes. Leadership transfers are the exception (votes with the
// transfer flag ignore the known leader): TransferLeadership voids the
// lease first.
func (r *Replica) grantLease(term uint64, start time.Time) {
	if r.ReadLease <= 0 {
		return
	}
	r.leaseMu.Lock()
	defer r.leaseMu.Unlock()
	if start.Before(r.noLeaseUntil) {
		return
	}
	until := start.Add(r.ReadLease)
	if l := r.lease.Load(); l != nil && l.term == term && !until.After(l.until) {
		return
	}
	r.lease.Store(&readLease{term: term, until: until})
}

// LeaseHolds reports whether this node may serve a read from its state
// now without confirming its leadership: it leads, ready, and a read lease
// of its term covers this moment. A caller checks it after the read ran
// (the read happened before this check, so within the lease), not only
// before: a process paused between a check and the read could otherwise
// read after a new leader took writes. When the lease is half spent a
// round renews it in the background, so steady reads never wait.
func (r *Replica) LeaseHolds() bool {
	l := r.lease.Load()
	if l == nil {
		return false
	}
	now := time.Now()
	if !now.Before(l.until) || r.Group.Raft.CurrentTerm() != l.term ||
		r.readyTerm.Load() != l.term || !r.Group.IsLeader() {
		return false
	}
	if l.until.Sub(now) < r.ReadLease/2 && r.renewing.CompareAndSwap(false, true) {
		r.gate.Lock()
		if r.stopping() {
			r.renewing.Store(false)
		} else {
			r.gate.rounds++
			r.wg.Add(1) // counted before Close can Wait (see Close)
			go func() {
				r.confirmRound(nil)
				r.renewing.Store(false)
			}()
		}
		r.gate.Unlock()
	}
	return true
}
