package raft

import (
	"bufio"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	hraft "github.com/hashicorp/raft"

	"github.com/flotilla-db/flotilla/engine"
	"github.com/flotilla-db/flotilla/proto"
)

// Store is the state a shard's FSM applies entries to: a keyspace behind a
// write lock. shard.Shard is one.
type Store interface {
	BeginWrite()
	EndWrite()
	BeginRead()
	EndRead()
	DB() *engine.DB
	// ReplaceDBLocked swaps in a keyspace restored from a snapshot.
	ReplaceDBLocked(db *engine.DB)
}

// Result is what applying one entry gives back to the leader's client.
type Result struct {
	// Replies is the recording of the entry's replies (see Recorder).
	Replies []byte
	// Blocked says the entry's single blocking command found nothing to
	// serve and changed nothing: the leader parks the client and proposes
	// the command again when one of its keys is ready.
	Blocked bool
	// Block is what the blocked command waits for (keys, the deadline
	// counted from the entry's time, its timeout reply).
	Block *engine.BlockSpec
	// Offsets are where each command's reply starts in Replies (for
	// EntryExec, each reply inside the array).
	Offsets []int
	// Now is the entry's time.
	Now int64
}

// FSM applies a shard's log entries to its Store. It is deterministic: an
// entry's commands run with the entry's time and seeds, never the
// replica's own (../shared/DESIGN.md rule 1).
type FSM struct {
	store Store
	ctx   engine.Ctx

	lastNow     atomic.Int64 // the time of the last entry applied
	lastApplied atomic.Uint64
	// slots are the slots in a live move (see migrate.go); nil when none.
	slots atomic.Pointer[slotStates]

	// SnapshotPause is the longest writes waited because of the last
	// snapshot: its begin plus the longest wait for a slot to be saved.
	SnapshotPause atomic.Int64 // ns
}

// NewFSM returns the FSM of a shard whose state is store.
func NewFSM(store Store) *FSM { return &FSM{store: store} }

// LastNow returns the time of the last entry applied, so that a leader
// never stamps an entry earlier than one before it.
func (f *FSM) LastNow() int64 { return f.lastNow.Load() }

// LastApplied returns the index of the last command entry applied (raft's
// barriers and no-ops do not reach the FSM).
func (f *FSM) LastApplied() uint64 { return f.lastApplied.Load() }

var _ hraft.BatchingFSM = (*FSM)(nil)

// Apply applies one entry.
func (f *FSM) Apply(l *hraft.Log) any {
	return f.ApplyBatch([]*hraft.Log{l})[0]
}

// ApplyBatch applies committed entries under one acquisition of the write
// lock; hashicorp/raft hands over what committed together.
func (f *FSM) ApplyBatch(logs []*hraft.Log) []any {
	out := make([]any, len(logs))
	f.store.BeginWrite()
	defer f.store.EndWrite()
	for i, l := range logs {
		if l.Type == hraft.LogCommand {
			out[i] = f.applyData(l.Data)
		}
		f.lastApplied.Store(l.Index)
	}
	return out
}

// BatchResult is the result of an EntryBatch: one Result per entry.
type BatchResult struct{ Results []*Result }

func (f *FSM) applyData(data []byte) any {
	subs, isBatch, err := SplitBatch(data)
	if err != nil {
		panic(fmt.Sprintf("raft: undecodable log entry: %v", err))
	}
	if !isBatch {
		return f.applyLocked(data)
	}
	br := &BatchResult{Results: make([]*Result, len(subs))}
	for i, sub := range subs {
		br.Results[i] = f.applyLocked(sub)
	}
	return br
}

func (f *FSM) applyLocked(data []byte) *Result {
	e, err := DecodeEntry(data)
	if err != nil {
		// Every replica gets the same bytes; an entry this node cannot
		// read would make it diverge.
		panic(fmt.Sprintf("raft: undecodable log entry: %v", err))
	}
	if e.Now > f.lastNow.Load() {
		f.lastNow.Store(e.Now)
	}
	db := f.store.DB()
	rec := NewRecorder(int(e.Proto))
	res := &Result{Now: e.Now}
	ctx := &f.ctx
	ctx.DB = db
	ctx.W = rec
	// Slots exported by a live move refuse commands still in flight.
	var moved *slotStates
	if st := f.slots.Load(); st != nil && st.exported > 0 {
		moved = st
	}
	switch e.Type {
	case EntryCommands:
		ctx.NoBlock = false
		for i, args := range e.Cmds {
			res.Offsets = append(res.Offsets, len(rec.buf))
			if moved != nil && refused(moved, args) {
				rec.WriteError(errMoved)
				continue
			}
			ctx.Reset(args, e.Now, CommandSeed(e.Seed, i))
			runCommand(ctx, rec)
			if b := ctx.Blocked; b != nil {
				res.Blocked = true
				res.Block = &engine.BlockSpec{Deadline: b.Deadline, NullArray: b.NullArray}
				for _, k := range b.Keys {
					res.Block.Keys = append(res.Block.Keys, append([]byte(nil), k...))
				}
			}
		}
	case EntryExec:
		ctx.NoBlock = true
		if moved != nil {
			for _, args := range e.Cmds {
				if refused(moved, args) {
					rec.WriteError(errMoved)
					res.Replies = rec.Bytes()
					return res
				}
			}
		}
		rec.WriteArray(len(e.Cmds))
		for i, args := range e.Cmds {
			res.Offsets = append(res.Offsets, len(rec.buf))
			ctx.Reset(args, e.Now, CommandSeed(e.Seed, i))
			runCommand(ctx, rec)
		}
	case EntryExpire:
		keys := make([][]byte, 0, len(e.Cmds))
		for _, c := range e.Cmds {
			// An exported slot is frozen whole, expired keys included.
			if len(c) > 0 && (moved == nil || moved.m[engine.KeySlot(c[0])].state != SlotExported) {
				keys = append(keys, c[0])
			}
		}
		rec.WriteInt(int64(db.DeleteExpired(e.Now, keys)))
	case EntryNoop:
	case EntryMigrate:
		f.applyMigrate(e, rec)
	default:
		panic(fmt.Sprintf("raft: unknown log entry type %d", e.Type))
	}
	res.Replies = rec.Bytes()
	return res
}

// CommandSeed derives the seed of the i-th command of an entry from the
// entry's seed, so that two commands of one entry draw different numbers.
func CommandSeed(seed uint64, i int) uint64 {
	return seed + uint64(i)*0x9e3779b97f4a7c15
}

// runCommand runs one command of an entry. The leader checked the command
// before proposing it; what fails here fails the same way everywhere.
func runCommand(ctx *engine.Ctx, w engine.Writer) {
	cmd, errText := proto.Lookup(ctx.Args)
	if errText != "" {
		w.WriteError(errText)
		return
	}
	h := DataHandler(cmd)
	if h == nil {
		w.WriteError("ERR unknown command '" + cmd.Name + "'")
		return
	}
	h(ctx)
}

var dataHandlers struct {
	once sync.Once
	byID []engine.Handler
}

// DataHandler returns the engine's handler of cmd (by command ID, built
// once), or nil for a command the engine does not run. The engine answers
// some containers (OBJECT) whole, so a subcommand falls back to its
// parent's handler.
func DataHandler(cmd *proto.Command) engine.Handler {
	dataHandlers.once.Do(func() {
		dataHandlers.byID = make([]engine.Handler, proto.NumCommands())
		for _, c := range proto.AllWithSubcommands() {
			h := engine.Lookup(c.Name)
			if h == nil && c.Parent != nil {
				h = engine.Lookup(c.Parent.Name)
			}
			dataHandlers.byID[c.ID] = h
		}
	})
	return dataHandlers.byID[cmd.ID]
}

// Snapshot captures the keyspace as of the last applied entry, copy on
// write: hashicorp/raft calls it between applies, and it only records the
// keyspace's header and marks every slot as to be saved, in time
// independent of the data's size. Persist then writes the slots out while
// applies go on; an apply about to change a slot not yet written saves it
// first (engine.SnapshotCOW), so it waits for one slot at most.
func (f *FSM) Snapshot() (hraft.FSMSnapshot, error) {
	start := time.Now()
	f.store.BeginWrite()
	var hdr [16]byte
	putInt64(hdr[:8], f.lastNow.Load())
	putInt64(hdr[8:], int64(f.lastApplied.Load()))
	cow := f.store.DB().BeginSnapshot()
	slots := f.slots.Load()
	f.store.EndWrite()
	return &fsmSnapshot{f: f, hdr: hdr, cow: cow, slots: slots, begin: time.Since(start)}, nil
}

// Restore replaces the keyspace with a snapshot's.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	br := bufio.NewReaderSize(rc, 1<<20)
	var hdr [16]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return fmt.Errorf("raft: snapshot header: %w", err)
	}
	slots, err := readSlotStates(br)
	if err != nil {
		return err
	}
	db, err := engine.ReadSnapshot(br)
	if err != nil {
		return err
	}
	f.store.BeginWrite()
	f.setSlots(slots)
	f.store.ReplaceDBLocked(db)
	f.lastNow.Store(getInt64(hdr[:8]))
	f.lastApplied.Store(uint64(getInt64(hdr[8:])))
	f.store.EndWrite()
	return nil
}

type fsmSnapshot struct {
	f     *FSM
	hdr   [16]byte
	cow   *engine.SnapshotCOW
	slots *slotStates
	begin time.Duration
}

func (s *fsmSnapshot) Persist(sink hraft.SnapshotSink) error {
	bw := bufio.NewWriterSize(sink, 1<<20)
	bw.Write(s.hdr[:])
	writeSlotStates(bw, s.slots)
	_, err := s.cow.WriteTo(bw)
	if err == nil {
		err = bw.Flush()
	}
	// What writes waited: the begin, and the longest wait for a slot.
	s.f.SnapshotPause.Store(int64(s.begin + s.cow.MaxWritePause()))
	if err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *fsmSnapshot) Release() { s.cow.Abort() }

func putInt64(b []byte, v int64) {
	for i := 7; i >= 0; i-- {
		b[i] = byte(v)
		v >>= 8
	}
}

func getInt64(b []byte) int64 {
	var v int64
	for i := 0; i < 8; i++ {
		v = v<<8 | int64(b[i])
	}
	return v
}
