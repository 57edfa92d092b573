package raft

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"

	"github.com/flotilla-db/flotilla/engine"
	"github.com/flotilla-db/flotilla/proto"
)

// # Live slot moves in the log
//
// A slot moves from a source shard to a target shard in steps that are
// entries of the two shards' logs (EntryMigrate), so that every replica of
// either shard knows where the move stands, whichever of them leads next:
//
//   - import-begin on the target: the slot's keys there (leftovers of an
//     earlier attempt) are dropped and the slot is importing, for one
//     session (a number the mover draws; entries of an older attempt still
//     in flight are ignored);
//   - data on the target: RESTORE ... REPLACE ABSTTL and DEL commands
//     copying keys, applied only to slots importing in the entry's session;
//   - export on the source: from this entry on, the source refuses every
//     command on the slot (a command proposed before the leader saw the
//     export but ordered after it gets -TRYAGAIN, unapplied), so its copy
//     is final;
//   - import-end on the target: the slot is imported; its leader serves
//     it to clients that sent ASKING until the configuration gives it the
//     slot;
//   - drop on the source, once the configuration gave the slot away: its
//     keys are deleted; the slot stays exported, so that a leader with an
//     old configuration still refuses it.
//
// An import-begin on a slot exported earlier (a slot moving back) makes it
// importing again.

// EntryMigrate is a step of a live slot move: Cmds[0] is [op, session (8
// bytes, big endian)]; the rest are slots (decimal) or, for MigrateData,
// commands.
const EntryMigrate EntryType = 6

// Migration steps (the op of an EntryMigrate entry).
const (
	MigrateImportBegin = "import-begin"
	MigrateData        = "data"
	MigrateImportEnd   = "import-end"
	MigrateExport      = "export"
	MigrateDrop        = "drop"
)

// SlotState is where a slot of a shard stands in a move.
type SlotState uint8

// Slot states; a slot in no move is SlotNormal.
const (
	SlotNormal SlotState = iota
	SlotImporting
	SlotImported
	SlotExported
)

func (s SlotState) String() string {
	switch s {
	case SlotImporting:
		return "importing"
	case SlotImported:
		return "imported"
	case SlotExported:
		return "exported"
	}
	return "normal"
}

type slotMove struct {
	state   SlotState
	session uint64
}

// slotStates is an immutable set of the slots not SlotNormal; the FSM
// replaces it whole on a change, so readers load it without a lock.
type slotStates struct {
	m        map[engine.Slot]slotMove
	exported int
}

// MigrateEntry builds an EntryMigrate entry of op on slots.
func MigrateEntry(op string, session uint64, slots []engine.Slot) *Entry {
	e := &Entry{Type: EntryMigrate, Cmds: make([][][]byte, 0, len(slots)+1)}
	e.Cmds = append(e.Cmds, [][]byte{[]byte(op), binary.BigEndian.AppendUint64(nil, session)})
	for _, s := range slots {
		e.Cmds = append(e.Cmds, [][]byte{strconv.AppendInt(nil, int64(s), 10)})
	}
	return e
}

// MigrateDataEntry builds the data entry of a session: cmds are RESTORE and
// DEL commands.
func MigrateDataEntry(session uint64, cmds [][][]byte) *Entry {
	e := &Entry{Type: EntryMigrate, Cmds: make([][][]byte, 0, len(cmds)+1)}
	e.Cmds = append(e.Cmds, [][]byte{[]byte(MigrateData), binary.BigEndian.AppendUint64(nil, session)})
	e.Cmds = append(e.Cmds, cmds...)
	return e
}

// SlotState returns the state of slot s and the session of its move.
// Safe for concurrent use.
func (f *FSM) SlotState(s engine.Slot) (SlotState, uint64) {
	st := f.slots.Load()
	if st == nil {
		return SlotNormal, 0
	}
	m := st.m[s]
	return m.state, m.session
}

// Exported reports whether slot s has been exported (the route's check on
// the leader; one atomic load when no slot is).
func (f *FSM) Exported(s engine.Slot) bool {
	st := f.slots.Load()
	return st != nil && st.exported > 0 && st.m[s].state == SlotExported
}

// HasMoves reports whether some slot is not SlotNormal (one atomic load).
func (f *FSM) HasMoves() bool { return f.slots.Load() != nil }

// SlotStates returns the slots that are not SlotNormal.
func (f *FSM) SlotStates() map[engine.Slot]SlotState {
	out := map[engine.Slot]SlotState{}
	if st := f.slots.Load(); st != nil {
		for s, m := range st.m {
			out[s] = m.state
		}
	}
	return out
}

func (f *FSM) setSlots(m map[engine.Slot]slotMove) {
	if len(m) == 0 {
		f.slots.Store(nil)
		return
	}
	st := &slotStates{m: m}
	for _, v := range m {
		if v.state == SlotExported {
			st.exported++
		}
	}
	f.slots.Store(st)
}

// afterFlush ends the import sessions of st's importing slots when the
// keyspace was flushed since flushes was read: the target's copy is gone,
// so the mover's next step is refused and it starts the move over.
func (f *FSM) afterFlush(st *slotStates, flushes uint64) {
	if f.store.DB().Flushes() == flushes {
		return
	}
	next := maps.Clone(st.m)
	for s, m := range next {
		if m.state == SlotImporting {
			next[s] = slotMove{state: SlotImporting, session: 0}
		}
	}
	f.setSlots(next)
}

// refused reports whether a command touches an exported slot; only called
// when some slot is.
func refused(st *slotStates, args [][]byte) bool {
	cmd, _ := proto.Lookup(args)
	if cmd == nil {
		return false
	}
	var buf [8]int
	for _, i := range cmd.SlotKeyIndexes(buf[:0], args) {
		if st.m[engine.KeySlot(args[i])].state == SlotExported {
			return true
		}
	}
	return false
}

// errMoved is the reply to a command refused because its slot was
// exported while it was in flight: it was not applied, so clients may
// retry it, and go-redis does on TRYAGAIN.
const errMoved = "TRYAGAIN the slot moved to another shard while the command was in flight"

// applyMigrate applies an EntryMigrate entry; the write lock is held.
func (f *FSM) applyMigrate(e *Entry, rec *Recorder) {
	if len(e.Cmds) == 0 || len(e.Cmds[0]) != 2 || len(e.Cmds[0][1]) != 8 {
		panic("raft: malformed migrate entry")
	}
	op := string(e.Cmds[0][0])
	session := binary.BigEndian.Uint64(e.Cmds[0][1])
	db := f.store.DB()
	var cur map[engine.Slot]slotMove
	if st := f.slots.Load(); st != nil {
		cur = st.m
	}
	if op == MigrateData {
		ctx := &f.ctx
		w := &errCounter{}
		ctx.W = w
		applied := 0
		for i, args := range e.Cmds[1:] {
			if len(args) < 2 {
				continue
			}
			m := cur[engine.KeySlot(args[1])]
			if m.state != SlotImporting || m.session != session {
				continue
			}
			ctx.NoBlock = true
			ctx.Reset(args, e.Now, CommandSeed(e.Seed, i))
			runCommand(ctx, w)
			applied++
		}
		if w.n > 0 {
			// Deterministic on every replica; the mover gives up the
			// attempt and starts over.
			rec.WriteError(fmt.Sprintf("ERR %d of %d copied keys failed: %s", w.n, applied, w.first))
			return
		}
		rec.WriteInt(int64(applied))
		return
	}
	slots := make([]engine.Slot, 0, len(e.Cmds)-1)
	for _, c := range e.Cmds[1:] {
		v, err := strconv.Atoi(string(c[0]))
		if len(c) != 1 || err != nil || v < 0 || v >= engine.NumSlots {
			panic("raft: malformed slot in migrate entry")
		}
		slots = append(slots, engine.Slot(v))
	}
	next := maps.Clone(cur)
	if next == nil {
		next = map[engine.Slot]slotMove{}
	}
	ok := int64(1)
	switch op {
	case MigrateImportBegin:
		if slices.ContainsFunc(slots, func(s engine.Slot) bool { return next[s].state == SlotImported }) {
			// An earlier attempt of this move completed the import, and
			// clients may have written the slots here since (ASKING):
			// nothing to start again (reply 2).
			ok = 2
			break
		}
		for _, s := range slots {
			db.DropSlot(s)
			next[s] = slotMove{state: SlotImporting, session: session}
		}
	case MigrateImportEnd:
		for _, s := range slots {
			if m := next[s]; m.state != SlotImporting || m.session != session {
				ok = 0
			}
		}
		if ok == 1 {
			for _, s := range slots {
				next[s] = slotMove{state: SlotImported, session: session}
			}
		}
	case MigrateExport:
		for _, s := range slots {
			next[s] = slotMove{state: SlotExported, session: session}
		}
	case MigrateDrop:
		for _, s := range slots {
			if next[s].state == SlotExported {
				db.DropSlot(s)
			}
		}
	default:
		panic("raft: unknown migrate step " + op)
	}
	f.setSlots(next)
	rec.WriteInt(ok)
}

// errCounter is a Writer that keeps only the errors of the commands
// copying keys (their other replies mean nothing to anyone).
type errCounter struct {
	n     int
	first string
}

func (w *errCounter) WriteError(msg string) {
	if w.n == 0 {
		w.first = msg
	}
	w.n++
}
func (*errCounter) WriteSimple(string)           {}
func (*errCounter) WriteInt(int64)               {}
func (*errCounter) WriteBulk([]byte)             {}
func (*errCounter) WriteBulkString(string)       {}
func (*errCounter) WriteNull()                   {}
func (*errCounter) WriteNullArray()              {}
func (*errCounter) WriteArray(int)               {}
func (*errCounter) WriteMap(int)                 {}
func (*errCounter) WriteSet(int)                 {}
func (*errCounter) WriteDouble(float64)          {}
func (*errCounter) WriteBool(bool)               {}
func (*errCounter) WriteVerbatim(string, string) {}
func (*errCounter) Proto() int                   { return 2 }

// slotStatesMagic starts the slot-state section of a snapshot (after its
// 16-byte header, before the keyspace); a snapshot without one has every
// slot SlotNormal.
const slotStatesMagic = "FSLT"

func writeSlotStates(w io.Writer, st *slotStates) error {
	if st == nil {
		return nil
	}
	b := []byte(slotStatesMagic)
	b = binary.AppendUvarint(b, uint64(len(st.m)))
	for s := 0; s < engine.NumSlots; s++ {
		m, ok := st.m[engine.Slot(s)]
		if !ok {
			continue
		}
		b = binary.AppendUvarint(b, uint64(s))
		b = append(b, byte(m.state))
		b = binary.BigEndian.AppendUint64(b, m.session)
	}
	_, err := w.Write(b)
	return err
}

func readSlotStates(br *bufio.Reader) (map[engine.Slot]slotMove, error) {
	if p, err := br.Peek(len(slotStatesMagic)); err != nil || string(p) != slotStatesMagic {
		return nil, nil
	}
	br.Discard(len(slotStatesMagic))
	n, err := binary.ReadUvarint(br)
	if err != nil || n > engine.NumSlots {
		return nil, fmt.Errorf("raft: snapshot slot states: bad count")
	}
	m := make(map[engine.Slot]slotMove, n)
	for range n {
		s, err := binary.ReadUvarint(br)
		if err != nil || s >= engine.NumSlots {
			return nil, fmt.Errorf("raft: snapshot slot states: bad slot")
		}
		var rest [9]byte
		if _, err := io.ReadFull(br, rest[:]); err != nil {
			return nil, fmt.Errorf("raft: snapshot slot states: %w", err)
		}
		if rest[0] > byte(SlotExported) {
			return nil, fmt.Errorf("raft: snapshot slot states: bad state %d", rest[0])
		}
		m[engine.Slot(s)] = slotMove{state: SlotState(rest[0]), session: binary.BigEndian.Uint64(rest[1:])}
	}
	return m, nil
}
