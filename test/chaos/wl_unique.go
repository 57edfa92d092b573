package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"

	"github.com/redis/go-redis/v9"
)

// UniqueKeys writes keys that are written once each (SET k k) and, at the
// end, reads back every one: an acknowledged key that is missing, or holds
// something else, is a lost write.
type UniqueKeys struct {
	cnt counts
	mu  struct {
		sync.Mutex
		acked, indet []string
	}
}

func (*UniqueKeys) Name() string { return "unique-keys" }

func (u *UniqueKeys) Setup(ctx context.Context, w *WorkEnv) error { return nil }

func (u *UniqueKeys) Run(ctx context.Context, w *WorkEnv) {
	for c := 0; c < w.Clients; c++ {
		seq := 0
		w.Go(ctx, c, func(ctx context.Context, _ *rand.Rand) {
			k := fmt.Sprintf("%s:u:%d:%d", w.Prefix, c, seq)
			seq++
			o := w.write(ctx, redis.NewStatusCmd(ctx, "set", k, k))
			u.cnt.add(o)
			switch o {
			case OK:
				w.Recorder.Ack(w.Recorder.Now(), KeySlot(k))
				u.mu.Lock()
				u.mu.acked = append(u.mu.acked, k)
				u.mu.Unlock()
			case Indeterminate:
				u.mu.Lock()
				u.mu.indet = append(u.mu.indet, k)
				u.mu.Unlock()
			}
		})
	}
}

func (u *UniqueKeys) Check(ctx context.Context, w *WorkEnv) WorkloadResult {
	res := u.cnt.result(u.Name())
	u.mu.Lock()
	acked, indet := u.mu.acked, u.mu.indet
	u.mu.Unlock()
	var v violations
	var mu sync.Mutex
	lost, unreadable, present := 0, 0, 0
	check := func(k string, mustExist bool) {
		cmd, err := w.readBack(ctx, func() redis.Cmder { return redis.NewStringCmd(ctx, "get", k) })
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			unreadable++
			v.add("unreadable", "GET %s: %v", k, err)
			return
		}
		val, gerr := cmd.(*redis.StringCmd).Result()
		switch {
		case gerr == nil && val == k:
			if !mustExist {
				present++
			}
		case gerr == nil:
			v.add("wrong value", "%s = %q, want %q", k, val, k)
			if mustExist {
				lost++
			}
		case mustExist:
			lost++
			v.add("lost", "acknowledged SET %s is missing", k)
		}
	}
	parallel(16, len(acked), func(i int) { check(acked[i], true) })
	parallel(16, len(indet), func(i int) { check(indet[i], false) })
	res.Lost = lost
	res.Violations = v.list()
	res.Notes = append(res.Notes, fmt.Sprintf("%d of %d indeterminate writes took effect", present, len(indet)))
	if unreadable > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("%d keys could not be read back", unreadable))
	}
	return res
}

// parallel calls fn(0..n-1) on up to workers goroutines.
func parallel(workers, n int, fn func(i int)) {
	next := make(chan int)
	var wg sync.WaitGroup
	for g := 0; g < min(workers, n); g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
}
