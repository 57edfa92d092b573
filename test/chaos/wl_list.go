package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Lists RPUSHes unique items to a few lists. At the end every acknowledged
// item is present exactly once, no item appears twice, every item present
// was pushed (acknowledged or indeterminate), and no two acknowledged
// RPUSHes to a list returned the same length.
type Lists struct {
	// Keys is how many lists: 4 when zero.
	Keys int

	keys []string
	cnt  counts
	mu   struct {
		sync.Mutex
		acked   map[string]map[string]bool
		indet   map[string]bool
		replies map[string][]int64
	}
}

func (*Lists) Name() string { return "lists" }

func (l *Lists) Setup(ctx context.Context, w *WorkEnv) error {
	if l.Keys <= 0 {
		l.Keys = 4
	}
	l.keys = spreadKeys(w.Prefix+":list:", l.Keys, false)
	l.mu.acked, l.mu.indet, l.mu.replies = map[string]map[string]bool{}, map[string]bool{}, map[string][]int64{}
	for _, k := range l.keys {
		l.mu.acked[k] = map[string]bool{}
	}
	return nil
}

func (l *Lists) Run(ctx context.Context, w *WorkEnv) {
	for i := 0; i < w.Clients; i++ {
		seq := 0
		w.Go(ctx, i, func(ctx context.Context, rng *rand.Rand) {
			k := l.keys[rng.IntN(len(l.keys))]
			item := fmt.Sprintf("i%d.%d", i, seq)
			seq++
			cmd := redis.NewIntCmd(ctx, "rpush", k, item)
			o := w.write(ctx, cmd)
			l.cnt.add(o)
			l.mu.Lock()
			defer l.mu.Unlock()
			switch o {
			case OK:
				w.Recorder.Ack(w.Recorder.Now(), KeySlot(k))
				l.mu.acked[k][item] = true
				l.mu.replies[k] = append(l.mu.replies[k], cmd.Val())
			case Indeterminate:
				l.mu.indet[item] = true
			}
		})
	}
}

func (l *Lists) Check(ctx context.Context, w *WorkEnv) WorkloadResult {
	res := l.cnt.result(l.Name())
	var v violations
	l.mu.Lock()
	defer l.mu.Unlock()
	present := 0
	for _, k := range l.keys {
		cmd, err := w.readBack(ctx, func() redis.Cmder { return redis.NewStringSliceCmd(ctx, "lrange", k, 0, -1) })
		if err != nil {
			v.add("unreadable", "LRANGE %s: %v", k, err)
			continue
		}
		items := cmd.(*redis.StringSliceCmd).Val()
		count := map[string]int{}
		for _, it := range items {
			count[it]++
		}
		for it, n := range count {
			switch {
			case n > 1:
				v.add("duplicate item", "%s holds %s %d times", k, it, n)
			case !l.mu.acked[k][it] && !l.mu.indet[it]:
				v.add("phantom item", "%s holds %s, which no RPUSH to it may have written", k, it)
			}
			if l.mu.indet[it] {
				present++
			}
		}
		for it := range l.mu.acked[k] {
			if count[it] == 0 {
				res.Lost++
				v.add("lost", "acknowledged RPUSH %s %s is missing", k, it)
			}
		}
		seen := map[int64]bool{}
		for _, r := range l.mu.replies[k] {
			if seen[r] {
				v.add("duplicate reply", "two acknowledged RPUSH %s returned length %d", k, r)
			}
			seen[r] = true
		}
	}
	res.Notes = append(res.Notes, fmt.Sprintf("%d of %d indeterminate pushes took effect", present, len(l.mu.indet)))
	res.Violations = v.list()
	return res
}
