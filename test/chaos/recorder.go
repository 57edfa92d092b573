package chaos

import (
	"slices"
	"sync"
	"time"
)

// Recorder keeps the time and slot of every acknowledged write of a run:
// the writes-per-bucket timeline and the recovery time of each fault are
// computed from it. Safe for concurrent use.
type Recorder struct {
	start time.Time

	mu struct {
		sync.Mutex
		acks []ack
	}
}

type ack struct {
	at   time.Duration // since start
	slot uint16
}

// NewRecorder starts the clock of a run.
func NewRecorder(start time.Time) *Recorder { return &Recorder{start: start} }

// Start is the time offsets are measured from.
func (r *Recorder) Start() time.Time { return r.start }

// Since is the offset of t from the start.
func (r *Recorder) Since(t time.Time) time.Duration { return t.Sub(r.start) }

// Now is the offset of now from the start.
func (r *Recorder) Now() time.Duration { return time.Since(r.start) }

// Ack records an acknowledged write to slot at offset at.
func (r *Recorder) Ack(at time.Duration, slot int) {
	r.mu.Lock()
	r.mu.acks = append(r.mu.acks, ack{at: at, slot: uint16(slot)})
	r.mu.Unlock()
}

// sorted returns the acks in time order.
func (r *Recorder) sorted() []ack {
	r.mu.Lock()
	acks := slices.Clone(r.mu.acks)
	r.mu.Unlock()
	slices.SortFunc(acks, func(a, b ack) int { return int(a.at - b.at) })
	return acks
}

// Buckets counts the acknowledged writes per bucket from the start up to
// end.
func (r *Recorder) Buckets(bucket, end time.Duration) []int {
	n := int(end/bucket) + 1
	counts := make([]int, n)
	for _, a := range r.sorted() {
		if a.at < 0 {
			continue
		}
		if i := int(a.at / bucket); i < n {
			counts[i]++
		}
	}
	return counts
}

// Outage returns the recovery time of a fault injected at from: for each
// shard (its slot ranges), the longest time within [from, to] during which
// its slots took no acknowledged write (the gap that contains from counts
// from from; one still open at to counts up to to), the largest over the
// shards. Writes to one shard do not hide another's outage.
func (r *Recorder) Outage(shards [][][2]int, from, to time.Duration) time.Duration {
	return outage(r.sorted(), shards, from, to)
}

// Outages returns each shard's outage, as Outage computes it.
func (r *Recorder) Outages(shards [][][2]int, from, to time.Duration) []time.Duration {
	acks := r.sorted()
	out := make([]time.Duration, len(shards))
	for i, sh := range shards {
		out[i] = outage(acks, [][][2]int{sh}, from, to)
	}
	return out
}

func outage(acks []ack, shards [][][2]int, from, to time.Duration) time.Duration {
	var worst time.Duration
	for _, ranges := range shards {
		in := func(slot int) bool {
			for _, rg := range ranges {
				if slot >= rg[0] && slot <= rg[1] {
					return true
				}
			}
			return false
		}
		prev := from
		var longest time.Duration
		for _, a := range acks {
			if a.at <= from || !in(int(a.slot)) {
				continue
			}
			if a.at > to {
				break
			}
			longest = max(longest, a.at-prev)
			prev = a.at
		}
		longest = max(longest, to-prev)
		worst = max(worst, longest)
	}
	return worst
}
