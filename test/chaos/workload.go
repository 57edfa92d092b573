package chaos

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// A Workload drives a cluster with concurrent clients during a drill and
// checks, once the faults are healed, that what it was told happened.
type Workload interface {
	// Name is short and stable: "unique-keys", "registers", ...
	Name() string
	// Setup writes the initial state, before the clock starts.
	Setup(ctx context.Context, w *WorkEnv) error
	// Run starts the workload's clients, each on its own goroutine, and
	// returns at once; they stop when ctx is done, and Run's caller waits
	// for them with w.Wait.
	Run(ctx context.Context, w *WorkEnv)
	// Check reads the final state through w.Client and judges it.
	Check(ctx context.Context, w *WorkEnv) WorkloadResult
}

// WorkEnv is what a workload's clients share: the cluster client, the
// recorder of acknowledged writes, and the run's parameters.
type WorkEnv struct {
	Client   *redis.ClusterClient
	Recorder *Recorder
	// Prefix makes the run's keys unique.
	Prefix string
	// Clients is how many clients this workload runs.
	Clients int
	// Rate is each client's operations per second.
	Rate float64
	// Seed seeds the clients' random choices.
	Seed uint64
	// OutDir is where a workload may save evidence (porcupine's HTML).
	OutDir string
	// Logf reports progress.
	Logf func(format string, args ...any)

	// checkBy bounds the retries of the checks' reads, all together.
	checkBy time.Time

	wg      sync.WaitGroup
	nextCID atomic.Int64
	errs    struct {
		sync.Mutex
		n map[string]int
	}
}

// noteErr tallies the errors of writes that were not acknowledged, by
// kind (digits masked), for the report.
func (w *WorkEnv) noteErr(err error) {
	if err == nil {
		return
	}
	msg := []rune(err.Error())
	for i, r := range msg {
		if r >= '0' && r <= '9' {
			msg[i] = '#'
		}
	}
	kind := string(msg[:min(len(msg), 80)])
	w.errs.Lock()
	if w.errs.n == nil {
		w.errs.n = map[string]int{}
	}
	w.errs.n[kind]++
	w.errs.Unlock()
}

// ErrorKinds returns the most frequent write errors, "count× kind".
func (w *WorkEnv) ErrorKinds(top int) []string {
	w.errs.Lock()
	defer w.errs.Unlock()
	type kc struct {
		k string
		n int
	}
	var all []kc
	for k, n := range w.errs.n {
		all = append(all, kc{k, n})
	}
	slices.SortFunc(all, func(a, b kc) int { return cmp.Or(b.n-a.n, strings.Compare(a.k, b.k)) })
	var out []string
	for _, e := range all[:min(len(all), top)] {
		out = append(out, fmt.Sprintf("%d× %s", e.n, e.k))
	}
	return out
}

// Go runs client number i of the workload on its own goroutine: fn is
// called at most Rate times a second with the client's random source,
// until ctx is done. The ctx fn gets is not cancelled with ctx, so an
// operation in flight when the run ends gets its answer.
func (w *WorkEnv) Go(ctx context.Context, i int, fn func(ctx context.Context, rng *rand.Rand)) {
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		rng := rand.New(rand.NewPCG(w.Seed, uint64(i)+1))
		interval := time.Duration(float64(time.Second) / max(w.Rate, 0.1))
		// Clients start spread over one interval.
		t := time.NewTimer(time.Duration(rng.Int64N(int64(interval))))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			began := time.Now()
			fn(context.WithoutCancel(ctx), rng)
			t.Reset(max(0, interval-time.Since(began)))
		}
	}()
}

// Wait waits for every client started with Go.
func (w *WorkEnv) Wait() { w.wg.Wait() }

// ClientID returns a new porcupine client id. A client whose operation
// stays open-ended takes a new one, as a crashed process would.
func (w *WorkEnv) ClientID() int { return int(w.nextCID.Add(1) - 1) }

// WorkloadResult is a workload's share of the report.
type WorkloadResult struct {
	Name string `json:"name"`
	// Writes by outcome.
	Acked         int64 `json:"acked"`
	Failed        int64 `json:"failed"`
	Indeterminate int64 `json:"indeterminate"`
	// Reads that returned a value (registers, transfer sums).
	Reads int64 `json:"reads,omitempty"`
	// Lost counts acknowledged writes absent from the final state.
	Lost int `json:"lost"`
	// Linearizable is porcupine's verdict for the registers: "ok",
	// "illegal" or "unknown" (the checker timed out).
	Linearizable string `json:"linearizable,omitempty"`
	// Violations say what went wrong, one line each (the first few of a
	// kind, then a count).
	Violations []string `json:"violations,omitempty"`
	// Notes are facts worth reading that are not violations: how many
	// indeterminate writes took effect, say.
	Notes []string `json:"notes,omitempty"`
	// Evidence are files saved beside the report.
	Evidence []string `json:"evidence,omitempty"`
}

// Passed reports whether the workload found nothing wrong.
func (r *WorkloadResult) Passed() bool {
	return len(r.Violations) == 0 && r.Lost == 0 && r.Linearizable != "illegal"
}

// counts are a workload's write outcomes.
type counts struct {
	acked, failed, indet, reads atomic.Int64
}

func (c *counts) add(o Outcome) {
	switch o {
	case OK:
		c.acked.Add(1)
	case Failed:
		c.failed.Add(1)
	default:
		c.indet.Add(1)
	}
}

func (c *counts) result(name string) WorkloadResult {
	return WorkloadResult{Name: name, Acked: c.acked.Load(), Failed: c.failed.Load(), Indeterminate: c.indet.Load(), Reads: c.reads.Load()}
}

// violations collects violation lines, keeping the first few of each kind.
type violations struct {
	kinds map[string]int
	lines []string
}

const maxExamples = 5

func (v *violations) add(kind, format string, args ...any) {
	if v.kinds == nil {
		v.kinds = map[string]int{}
	}
	v.kinds[kind]++
	if v.kinds[kind] <= maxExamples {
		v.lines = append(v.lines, kind+": "+fmt.Sprintf(format, args...))
	}
}

func (v *violations) list() []string {
	out := v.lines
	for kind, n := range v.kinds {
		if n > maxExamples {
			out = append(out, fmt.Sprintf("%s: %d in all", kind, n))
		}
	}
	return out
}

// spreadKeys returns n keys named prefix+i(+suffix) whose slots are spread
// evenly over the slot space, key i in the i-th n-th of it, so that a few
// keys still land on every shard. With tag, the name is a hash tag
// ({prefix...}) so that keys built on it share its slot.
func spreadKeys(prefix string, n int, tag bool) []string {
	keys := make([]string, n)
	for i := range keys {
		lo, hi := i*NumSlots/n, (i+1)*NumSlots/n
		for j := 0; ; j++ {
			k := prefix + strconv.Itoa(i) + "." + strconv.Itoa(j)
			if tag {
				k = "{" + k + "}"
			}
			if s := KeySlot(k); s >= lo && s < hi {
				keys[i] = k
				break
			}
		}
	}
	return keys
}

// readBack runs a read until it gets a definite answer (a value or nil),
// retrying errors for up to a minute (and not past the checks' deadline):
// after a drill the cluster may still be settling, and only a definite
// answer says anything about a write.
func (w *WorkEnv) readBack(ctx context.Context, cmd func() redis.Cmder) (redis.Cmder, error) {
	deadline := time.Now().Add(time.Minute)
	if !w.checkBy.IsZero() && w.checkBy.Before(deadline) {
		deadline = w.checkBy
	}
	for {
		c := cmd()
		err := w.read(ctx, c)
		if err == nil || err == redis.Nil {
			return c, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return c, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// DefaultWorkloads are the drills' workloads: unique keys, registers,
// counters, lists and transfers.
func DefaultWorkloads() []Workload {
	return []Workload{&UniqueKeys{}, &Registers{Keys: 8}, &Counters{Keys: 4}, &Lists{Keys: 4}, &Transfers{Groups: 2, Accounts: 4}}
}
