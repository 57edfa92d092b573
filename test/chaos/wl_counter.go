package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Counters INCRs a few counters. At the end each must hold at least the
// acknowledged INCRs and at most those plus the indeterminate ones, and
// no two acknowledged INCRs of a counter may have returned the same value
// (a lost or doubled update shows as one of these).
type Counters struct {
	// Keys is how many counters: 4 when zero.
	Keys int

	keys []string
	cnt  counts
	mu   struct {
		sync.Mutex
		acked, indet map[string]int64
		replies      map[string][]int64
	}
}

func (*Counters) Name() string { return "counters" }

func (c *Counters) Setup(ctx context.Context, w *WorkEnv) error {
	if c.Keys <= 0 {
		c.Keys = 4
	}
	c.keys = spreadKeys(w.Prefix+":ctr:", c.Keys, false)
	c.mu.acked, c.mu.indet, c.mu.replies = map[string]int64{}, map[string]int64{}, map[string][]int64{}
	return nil
}

func (c *Counters) Run(ctx context.Context, w *WorkEnv) {
	for i := 0; i < w.Clients; i++ {
		w.Go(ctx, i, func(ctx context.Context, rng *rand.Rand) {
			k := c.keys[rng.IntN(len(c.keys))]
			cmd := redis.NewIntCmd(ctx, "incr", k)
			o := w.write(ctx, cmd)
			c.cnt.add(o)
			c.mu.Lock()
			defer c.mu.Unlock()
			switch o {
			case OK:
				w.Recorder.Ack(w.Recorder.Now(), KeySlot(k))
				c.mu.acked[k]++
				c.mu.replies[k] = append(c.mu.replies[k], cmd.Val())
			case Indeterminate:
				c.mu.indet[k]++
			}
		})
	}
}

func (c *Counters) Check(ctx context.Context, w *WorkEnv) WorkloadResult {
	res := c.cnt.result(c.Name())
	var v violations
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range c.keys {
		cmd, err := w.readBack(ctx, func() redis.Cmder { return redis.NewStringCmd(ctx, "get", k) })
		if err != nil {
			v.add("unreadable", "GET %s: %v", k, err)
			continue
		}
		final := int64(0)
		if s, err := cmd.(*redis.StringCmd).Result(); err == nil {
			if final, err = strconv.ParseInt(s, 10, 64); err != nil {
				v.add("not a number", "%s = %q", k, s)
				continue
			}
		}
		acked, indet := c.mu.acked[k], c.mu.indet[k]
		if final < acked {
			res.Lost += int(acked - final)
			v.add("lost increments", "%s = %d after %d acknowledged INCRs (%d indeterminate)", k, final, acked, indet)
		}
		if final > acked+indet {
			v.add("extra increments", "%s = %d, above %d acknowledged + %d indeterminate INCRs", k, final, acked, indet)
		}
		seen := map[int64]bool{}
		for _, r := range c.mu.replies[k] {
			if seen[r] {
				v.add("duplicate reply", "two acknowledged INCR %s returned %d", k, r)
			}
			seen[r] = true
			if r > final {
				v.add("reply above final", "INCR %s returned %d, final value %d", k, r, final)
			}
		}
		res.Notes = append(res.Notes, fmt.Sprintf("%s = %d (%d acked, %d indeterminate)", k, final, acked, indet))
	}
	res.Violations = v.list()
	return res
}
