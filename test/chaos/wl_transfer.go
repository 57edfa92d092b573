package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Transfers moves amounts between accounts that share a slot (a hash tag)
// with MULTI DECRBY from INCRBY to EXEC, no WATCH. The sum of a group's
// accounts never changes: every MGET of a group, during the run and at the
// end, must see it whole.
type Transfers struct {
	// Groups of accounts, each in its own slot: 2 when zero.
	Groups int
	// Accounts per group: 4 when zero.
	Accounts int

	groups [][]string // account keys per group
	cnt    counts
	mu     struct {
		sync.Mutex
		bad []string
	}
}

const initialBalance = 1000

func (*Transfers) Name() string { return "transfers" }

func (t *Transfers) Setup(ctx context.Context, w *WorkEnv) error {
	if t.Groups <= 0 {
		t.Groups = 2
	}
	if t.Accounts <= 0 {
		t.Accounts = 4
	}
	for _, tag := range spreadKeys(w.Prefix+":acct:", t.Groups, true) {
		var accts []string
		args := []any{"mset"}
		for a := 0; a < t.Accounts; a++ {
			k := tag + "a" + strconv.Itoa(a)
			accts = append(accts, k)
			args = append(args, k, initialBalance)
		}
		t.groups = append(t.groups, accts)
		// Before the faults: retrying is safe, MSET of the same values.
		deadline := time.Now().Add(time.Minute)
		for {
			err := w.read(ctx, redis.NewStatusCmd(ctx, args...))
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("transfers: MSET %s: %w", tag, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return nil
}

// sum reads a group's balances with one MGET (one slot, so one consistent
// read) and returns their sum.
func (t *Transfers) sum(ctx context.Context, w *WorkEnv, g int) (int64, []any, error) {
	args := []any{"mget"}
	for _, k := range t.groups[g] {
		args = append(args, k)
	}
	cmd := redis.NewSliceCmd(ctx, args...)
	if err := w.read(ctx, cmd); err != nil {
		return 0, nil, err
	}
	var total int64
	for i, v := range cmd.Val() {
		s, ok := v.(string)
		if !ok {
			return 0, cmd.Val(), fmt.Errorf("%s is %v", t.groups[g][i], v)
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, cmd.Val(), fmt.Errorf("%s = %q", t.groups[g][i], s)
		}
		total += n
	}
	return total, cmd.Val(), nil
}

func (t *Transfers) Run(ctx context.Context, w *WorkEnv) {
	want := int64(initialBalance * t.Accounts)
	for i := 0; i < w.Clients; i++ {
		w.Go(ctx, i, func(ctx context.Context, rng *rand.Rand) {
			g := rng.IntN(len(t.groups))
			if rng.IntN(5) == 0 {
				at := w.Recorder.Now()
				total, vals, err := t.sum(ctx, w, g)
				if err == nil {
					t.cnt.reads.Add(1)
				}
				if vals != nil && (err != nil || total != want) {
					t.mu.Lock()
					t.mu.bad = append(t.mu.bad, fmt.Sprintf("at %.3fs group %d read %v (sum %d, want %d) %v", at.Seconds(), g, vals, total, want, err))
					t.mu.Unlock()
				}
				return
			}
			from := rng.IntN(t.Accounts)
			to := (from + 1 + rng.IntN(t.Accounts-1)) % t.Accounts
			amount := int64(1 + rng.IntN(10))
			// go-redis does not send a transaction again once it may
			// have reached the server (a read error after EXEC is final).
			tctx, cancel := context.WithTimeout(ctx, w.opTimeout())
			_, err := w.Client.TxPipelined(tctx, func(p redis.Pipeliner) error {
				p.DecrBy(tctx, t.groups[g][from], amount)
				p.IncrBy(tctx, t.groups[g][to], amount)
				return nil
			})
			cancel()
			o := classify(err)
			t.cnt.add(o)
			if o != OK {
				w.noteErr(err)
			}
			if o == OK {
				w.Recorder.Ack(w.Recorder.Now(), KeySlot(t.groups[g][0]))
			} else if !isReplyError(err) {
				w.Client.ReloadState(ctx)
			}
		})
	}
}

func (t *Transfers) Check(ctx context.Context, w *WorkEnv) WorkloadResult {
	res := t.cnt.result(t.Name())
	var v violations
	t.mu.Lock()
	for _, b := range t.mu.bad {
		v.add("sum broken during the run", "%s", b)
	}
	t.mu.Unlock()
	want := int64(initialBalance * t.Accounts)
	for g := range t.groups {
		deadline := time.Now().Add(time.Minute)
		for {
			total, vals, err := t.sum(ctx, w, g)
			if err == nil && total == want {
				break
			}
			if vals != nil || time.Now().After(deadline) {
				v.add("final sum broken", "group %d: %v (sum %d, want %d) %v", g, vals, total, want, err)
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	res.Violations = v.list()
	return res
}
