package raft_test

import (
	"bytes"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/flotilla-db/flotilla/engine"
	"github.com/flotilla-db/flotilla/raft"
)

func allSlots() []engine.Slot {
	out := make([]engine.Slot, engine.NumSlots)
	for i := range out {
		out[i] = engine.Slot(i)
	}
	return out
}

// liveKeys returns, for every key alive at now, the digest of its value
// and its expiry time: the logical content of a keyspace.
func liveKeys(r *replica, now int64) map[string]string {
	r.store.BeginRead()
	defer r.store.EndRead()
	db := r.store.DB()
	out := map[string]string{}
	for s := range engine.NumSlots {
		for _, k := range db.SlotKeys(engine.Slot(s), db.SlotLen(engine.Slot(s))) {
			// The value's digest, not its payload: the order of a
			// hashtable's elements depends on the shard's hash seed.
			if _, at, ok := db.DumpKey(k, now); ok {
				d := db.KeyDigest(k, now)
				out[string(k)] = strconv.FormatInt(at, 10) + ":" + string(d[:])
			}
		}
	}
	return out
}

// copyKeys copies keys of src to dst as the mover does: DUMP payloads
// restored with REPLACE ABSTTL, DEL for keys gone, in chunks.
func copyKeys(t *testing.T, src, dst *replica, session uint64, keys [][]byte, now int64) {
	t.Helper()
	for len(keys) > 0 {
		n := min(len(keys), 97)
		var cmds [][][]byte
		src.store.BeginRead()
		for _, k := range keys[:n] {
			if p, at, ok := src.store.DB().DumpKey(k, now); ok {
				cmds = append(cmds, [][]byte{[]byte("RESTORE"), k, []byte(strconv.FormatInt(at, 10)), p, []byte("REPLACE"), []byte("ABSTTL")})
			} else {
				cmds = append(cmds, [][]byte{[]byte("DEL"), k})
			}
		}
		src.store.EndRead()
		e := raft.MigrateDataEntry(session, cmds)
		e.Now = now
		res := dst.apply(t, raft.AppendEntry(nil, e))
		if got := resp(t, res.Replies, 2); got != ":"+strconv.Itoa(n)+"\r\n" {
			t.Fatalf("data entry: %q, want :%d", got, n)
		}
		keys = keys[n:]
	}
}

func migrate(t *testing.T, r *replica, op string, session uint64, slots []engine.Slot, now int64) string {
	t.Helper()
	e := raft.MigrateEntry(op, session, slots)
	e.Now = now
	return resp(t, r.apply(t, raft.AppendEntry(nil, e)).Replies, 2)
}

// TestMigrateCopiesExactly runs the mover's protocol on two FSMs while a
// random log goes on changing the source: after the export and the last
// round of changed keys, the target holds exactly the source's live keys,
// values and expiry times; the exported source refuses what comes after.
func TestMigrateCopiesExactly(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run("seed="+strconv.Itoa(int(seed)), func(t *testing.T) {
			gen := newLogGen(seed)
			rng := rand.New(rand.NewPCG(seed, 9))
			src := newReplica(testSeed)
			dst := newReplica(testSeed + 1)
			more := func(n int) {
				var log [][]byte
				for range n {
					log = append(log, raft.AppendEntry(nil, gen.next(func(int64) [][]byte { return nil })))
				}
				feed(t, src, log, rng)
			}
			more(800)
			slots := allSlots()
			untrack := src.store.Track(slots)
			defer untrack()
			const session = 77
			if got := migrate(t, dst, raft.MigrateImportBegin, session, slots, gen.now); got != ":1\r\n" {
				t.Fatalf("import-begin: %q", got)
			}
			var keys [][]byte
			src.store.BeginRead()
			for _, s := range slots {
				keys = append(keys, src.store.DB().SlotKeys(s, src.store.DB().SlotLen(s))...)
			}
			src.store.EndRead()
			// The copy, with writes going on between its chunks.
			for len(keys) > 0 {
				n := min(len(keys), 150)
				copyKeys(t, src, dst, session, keys[:n], gen.now)
				keys = keys[n:]
				more(15)
			}
			for round := 0; round < 3; round++ {
				src.store.BeginWrite()
				changed, reset := src.store.TakeChangedLocked()
				src.store.EndWrite()
				if reset {
					t.Fatal("tracker reset without a flush")
				}
				copyKeys(t, src, dst, session, changed, gen.now)
				more(10)
			}
			if got := migrate(t, src, raft.MigrateExport, session, slots, gen.now); got != ":1\r\n" {
				t.Fatalf("export: %q", got)
			}
			frozenAt := gen.now
			before := liveKeys(src, frozenAt)
			// Commands after the export are refused, unapplied.
			more(200)
			if res := src.run(t, raft.EntryCommands, gen.now, 2, "SET fresh v"); resp(t, res.Replies, 2) != "-TRYAGAIN the slot moved to another shard while the command was in flight\r\n" {
				t.Fatalf("SET after export: %q", resp(t, res.Replies, 2))
			}
			if res := src.run(t, raft.EntryExec, gen.now, 2, "SET fresh v", "INCR n"); !strings.HasPrefix(resp(t, res.Replies, 2), "-TRYAGAIN") {
				t.Fatalf("EXEC after export: %q", resp(t, res.Replies, 2))
			}
			if after := liveKeys(src, frozenAt); !sameKeys(before, after) {
				t.Fatal("the exported source changed after the export")
			}
			src.store.BeginWrite()
			changed, _ := src.store.TakeChangedLocked()
			src.store.EndWrite()
			copyKeys(t, src, dst, session, changed, gen.now)
			if got := migrate(t, dst, raft.MigrateImportEnd, session, slots, gen.now); got != ":1\r\n" {
				t.Fatalf("import-end: %q", got)
			}
			want, got := liveKeys(src, gen.now), liveKeys(dst, gen.now)
			if len(want) == 0 {
				t.Fatal("the log left no keys to move")
			}
			if !sameKeys(want, got) {
				for k, v := range want {
					if got[k] != v {
						t.Logf("key %q: source %q target %q", k, v, got[k])
						break
					}
				}
				t.Fatalf("target has %d live keys, source %d; contents differ", len(got), len(want))
			}
			// A late entry of an older attempt changes nothing, and a
			// new attempt does not start over an import done.
			stale := raft.MigrateDataEntry(session+1, [][][]byte{{[]byte("DEL"), []byte(firstKey(want))}})
			stale.Now = gen.now
			if r := resp(t, dst.apply(t, raft.AppendEntry(nil, stale)).Replies, 2); r != ":0\r\n" {
				t.Fatalf("stale data entry applied: %q", r)
			}
			if r := migrate(t, dst, raft.MigrateImportBegin, session+1, slots, gen.now); r != ":2\r\n" {
				t.Fatalf("import-begin over a finished import: %q, want :2", r)
			}
			if !sameKeys(want, liveKeys(dst, gen.now)) {
				t.Fatal("the target changed after the import ended")
			}
			// The slot states survive a snapshot.
			restored := newReplica(testSeed)
			if err := restored.fsm.Restore(nopCloser{bytes.NewReader(snapshot(t, src, nil))}); err != nil {
				t.Fatal(err)
			}
			if !restored.fsm.Exported(5) || restored.fsm.Exported(5) != src.fsm.Exported(5) {
				t.Fatal("a restored source forgot its exported slots")
			}
			// Dropping the source's copy keeps it refusing.
			migrate(t, src, raft.MigrateDrop, session, slots, gen.now)
			if n := len(liveKeys(src, gen.now)); n != 0 {
				t.Fatalf("%d keys left after drop", n)
			}
			if res := src.run(t, raft.EntryCommands, gen.now, 2, "SET fresh v"); !strings.HasPrefix(resp(t, res.Replies, 2), "-TRYAGAIN") {
				t.Fatal("dropped slot accepted a write")
			}
		})
	}
}

func sameKeys(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func firstKey(m map[string]string) string {
	for k := range m {
		return k
	}
	return ""
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }
