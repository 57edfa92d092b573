package engine

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// A copy-on-write snapshot captures the keyspace as it is when it begins,
// and is written out while writes go on: a slot is serialised either by
// the snapshot's writer, in slot order, or, when a write is about to
// change a slot not yet written, by that write first. So a write waits at
// most for one slot's serialisation (1/16384 of the data), never for the
// whole keyspace. The Raft FSM uses it for log compaction.
//
// It relies on the engine's rule that every change to a key goes through
// lookupWrite, setKey, updateKey, removeKey, setExpire, persist,
// DeleteExpired or Flush (see doc.go): each calls db.beforeWrite first.

// SnapshotCOW is a snapshot in progress. Its methods are safe for
// concurrent use with the DB's writer.
type SnapshotCOW struct {
	db     *DB
	header []byte

	mu    sync.Mutex
	cond  *sync.Cond
	state [NumSlots]uint8 // cowPending, cowSaving, cowSaved
	bufs  [NumSlots][]byte
	done  bool

	// pause is the longest a write waited for a slot (ns).
	pause atomic.Int64
}

const (
	cowPending uint8 = iota
	cowSaving
	cowSaved
)

// ErrSnapshotAborted is returned by WriteTo after Abort.
var ErrSnapshotAborted = errors.New("engine: snapshot aborted")

// BeginSnapshot starts a copy-on-write snapshot of the keyspace as it is
// now. Call it with the write lock held (no write may run during it); it
// takes time independent of the data's size. One snapshot at a time: a
// second Begin aborts the first. WriteTo then writes it out; Abort (or
// the end of WriteTo) ends it.
func (db *DB) BeginSnapshot() *SnapshotCOW {
	if old := db.cow.Load(); old != nil {
		old.Abort()
	}
	s := &SnapshotCOW{db: db}
	s.cond = sync.NewCond(&s.mu)
	var hb bytes.Buffer
	bw := bufio.NewWriter(&hb)
	w := &snapWriter{bw: bw}
	w.bw.WriteString(snapMagic)
	w.uvarint(snapVersion)
	w.u64(db.seed)
	c := &db.cfg
	for _, v := range []int64{int64(c.HashMaxListpackEntries), int64(c.HashMaxListpackValue),
		int64(c.SetMaxIntsetEntries), int64(c.ZSetMaxListpackEntries), int64(c.ZSetMaxListpackValue),
		int64(c.ListMaxListpackSize), c.ProtoMaxBulkLen} {
		w.varint(v)
	}
	w.varint(db.dirty)
	w.uvarint(uint64(db.nkeys))
	w.uvarint(uint64(db.nvolatile))
	bw.Flush()
	s.header = hb.Bytes()
	for i := range s.state {
		if sk := db.slotAt(i); sk == nil || sk.keys.Len() == 0 {
			s.state[i] = cowSaved // nothing to save; a later write needs no copy
		}
	}
	db.cow.Store(s)
	return s
}

// beforeWrite is called before any change to slot: if a snapshot has yet
// to save the slot, it is saved now, as it was.
func (db *DB) beforeWrite(slot Slot) {
	if s := db.cow.Load(); s != nil {
		s.save(int(slot), true)
	}
}

// beforeWriteKey is beforeWrite for the slot of key; it hashes the key
// only while a snapshot is in progress.
func (db *DB) beforeWriteKey(key []byte) {
	if s := db.cow.Load(); s != nil {
		s.save(int(KeySlot(key)), true)
	}
}

// beforeWriteAll is beforeWrite for every slot (FLUSHALL, restore).
func (db *DB) beforeWriteAll() {
	if s := db.cow.Load(); s != nil {
		for i := 0; i < NumSlots; i++ {
			s.save(i, true)
		}
	}
}

// save serialises slot i unless done or being done, then waits until it
// is saved. byWriter says a write is waiting for it (its pause counts).
func (s *SnapshotCOW) save(i int, byWriter bool) {
	s.mu.Lock()
	if s.state[i] == cowSaved || s.done {
		s.mu.Unlock()
		return
	}
	start := time.Now()
	for s.state[i] == cowSaving {
		s.cond.Wait()
	}
	if s.state[i] == cowPending {
		s.state[i] = cowSaving
		s.mu.Unlock()
		var b bytes.Buffer
		bw := bufio.NewWriterSize(&b, 4096)
		w := &snapWriter{bw: bw}
		w.writeSlot(s.db, i)
		bw.Flush()
		s.mu.Lock()
		s.bufs[i] = b.Bytes()
		s.state[i] = cowSaved
		s.cond.Broadcast()
	}
	s.mu.Unlock()
	if byWriter {
		if d := int64(time.Since(start)); d > s.pause.Load() {
			s.pause.Store(d)
		}
	}
}

// WriteTo writes the snapshot to w, saving the slots no write has saved
// yet, in order, and ends the snapshot. It runs concurrently with writes
// to the DB (holding no lock of the DB's owner).
func (s *SnapshotCOW) WriteTo(out io.Writer) (int64, error) {
	defer s.finish()
	fw := &frameWriter{w: out}
	bw := bufio.NewWriterSize(fw, snapFrameSize)
	cw := &countWriter{w: bw}
	cw.Write(s.header)
	for i := 0; i < NumSlots; i++ {
		s.save(i, false)
		s.mu.Lock()
		if s.done {
			s.mu.Unlock()
			return cw.n, ErrSnapshotAborted
		}
		b := s.bufs[i]
		s.bufs[i] = nil
		s.mu.Unlock()
		if _, err := cw.Write(b); err != nil {
			return cw.n, err
		}
	}
	w := &snapWriter{bw: bw}
	w.uvarint(0)
	if err := bw.Flush(); err != nil {
		return cw.n, err
	}
	return cw.n, fw.frame(nil)
}

// MaxWritePause returns the longest time a write waited for a slot to be
// saved.
func (s *SnapshotCOW) MaxWritePause() time.Duration { return time.Duration(s.pause.Load()) }

// Abort ends the snapshot without writing the rest; writes stop copying.
func (s *SnapshotCOW) Abort() { s.finish() }

func (s *SnapshotCOW) finish() {
	s.mu.Lock()
	s.done = true
	s.bufs = [NumSlots][]byte{}
	s.cond.Broadcast()
	s.mu.Unlock()
	s.db.cow.CompareAndSwap(s, nil)
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
