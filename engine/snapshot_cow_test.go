package engine

import (
	"bytes"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestSnapshotCOW: a copy-on-write snapshot written out while random
// writes (FLUSHDB among them) go on reads back as the keyspace was when
// it began, layout included; and the writes themselves end as they would
// have without a snapshot.
func TestSnapshotCOW(t *testing.T) {
	n := 6000
	if raceEnabled {
		n = 2000
	}
	for _, seed := range []uint64{7, 8, 9} {
		db, ref := New(42), New(42)
		smallConfig(db)
		smallConfig(ref)
		steps := genSteps(seed, 2*n)
		applySteps(t, db, steps[:n])
		applySteps(t, ref, steps[:n])
		populate(t, db, steps[n].now)
		populate(t, ref, steps[n].now)
		want, wantLayout := db.Digest(), db.LayoutDigest()

		snap := db.BeginSnapshot()
		var out bytes.Buffer
		var wg sync.WaitGroup
		var werr error
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, werr = snap.WriteTo(&out)
		}()
		applySteps(t, db, steps[n:])
		wg.Wait()
		if werr != nil {
			t.Fatal(werr)
		}
		got, err := ReadSnapshot(&out)
		if err != nil {
			t.Fatal(err)
		}
		if got.Digest() != want || got.LayoutDigest() != wantLayout {
			t.Fatalf("seed %d: the snapshot is not the keyspace as it began", seed)
		}
		applySteps(t, ref, steps[n:])
		if db.Digest() != ref.Digest() || db.LayoutDigest() != ref.LayoutDigest() {
			t.Fatalf("seed %d: writes during the snapshot ended differently", seed)
		}
		if db.cow.Load() != nil {
			t.Fatal("the snapshot did not end")
		}
		t.Logf("seed %d: %d keys, longest write pause %v", seed, got.Len(), snap.MaxWritePause())
	}
}

// TestSnapshotCOWAbort: an aborted snapshot stops copying and says so.
func TestSnapshotCOWAbort(t *testing.T) {
	db := New(1)
	applySteps(t, db, genSteps(3, 2000))
	snap := db.BeginSnapshot()
	snap.Abort()
	if db.cow.Load() != nil {
		t.Fatal("still copying after Abort")
	}
	if _, err := snap.WriteTo(&bytes.Buffer{}); err != ErrSnapshotAborted {
		t.Fatalf("WriteTo after Abort: %v", err)
	}
}

// BenchmarkSnapshotCOWPause measures what a snapshot costs writes: the
// longest a SET waits while a snapshot of 1M keys is written out, against
// the time BeginSnapshot holds the writer.
func BenchmarkSnapshotCOWPause(b *testing.B) {
	db := New(1)
	for i := 0; i < 1_000_000; i++ {
		run1(b, db, 1, 0, "SET", "key:"+itoa(i), "value-value-value")
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		snap := db.BeginSnapshot()
		begin := time.Since(start)
		done := make(chan struct{})
		go func() {
			snap.WriteTo(&bytes.Buffer{})
			close(done)
		}()
		var worst time.Duration
		over1ms, sets := 0, 0
		for j := 0; ; j++ {
			select {
			case <-done:
				b.ReportMetric(float64(begin.Microseconds()), "begin-µs")
				b.ReportMetric(float64(worst.Microseconds()), "worst-set-µs")
				b.ReportMetric(float64(snap.MaxWritePause().Microseconds()), "slot-wait-µs")
				b.ReportMetric(float64(over1ms), "sets>1ms")
				b.ReportMetric(float64(sets), "sets")
				goto next
			default:
			}
			s := time.Now()
			run1(b, db, 1, 0, "SET", "key:"+itoa(j*7919%1_000_000), "v2")
			d := time.Since(s)
			worst = max(worst, d)
			sets++
			if d > time.Millisecond {
				over1ms++
			}
		}
	next:
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
