package chaos

import (
	"testing"
	"time"
)

func TestOutage(t *testing.T) {
	ms := time.Millisecond
	var acks []ack
	// Shard A (slots 0-99): a write every 10 ms but none in [1000, 1800).
	// Shard B (slots 100-199): a write every 10 ms throughout.
	for at := 0 * ms; at < 4000*ms; at += 10 * ms {
		if at < 1000*ms || at >= 1800*ms {
			acks = append(acks, ack{at: at, slot: 5})
		}
		acks = append(acks, ack{at: at + 5*ms, slot: 150})
	}
	a, b := [][2]int{{0, 99}}, [][2]int{{100, 199}}
	for _, tc := range []struct {
		name     string
		shards   [][][2]int
		from, to time.Duration
		want     time.Duration
	}{
		{"both: A's gap shows through B's writes", [][][2]int{a, b}, 995 * ms, 3000 * ms, 805 * ms},
		{"A alone", [][][2]int{a}, 995 * ms, 3000 * ms, 805 * ms},
		{"B alone", [][][2]int{b}, 995 * ms, 3000 * ms, 10 * ms},
		{"still out at the end", [][][2]int{a}, 1200 * ms, 1500 * ms, 300 * ms},
		{"no slots", nil, 0, 3000 * ms, 0},
	} {
		if got := outage(acks, tc.shards, tc.from, tc.to); got != tc.want {
			t.Errorf("%s: outage = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestBuckets(t *testing.T) {
	r := NewRecorder(time.Now())
	for _, at := range []time.Duration{0, 50, 99, 100, 250, 999} {
		r.Ack(at*time.Millisecond, 1)
	}
	got := r.Buckets(100*time.Millisecond, time.Second)
	want := []int{3, 1, 1, 0, 0, 0, 0, 0, 0, 1, 0}
	if len(got) != len(want) {
		t.Fatalf("Buckets = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Buckets = %v, want %v", got, want)
		}
	}
}
