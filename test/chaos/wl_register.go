package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/redis/go-redis/v9"
)

// Registers runs SET and GET of unique values on a few keys and checks
// that each key's history is linearizable (porcupine, one partition per
// key). A write without a definite outcome stays open-ended: it may take
// effect at any time after its call. After the faults, every key is read
// once more, so a lost acknowledged write shows as a stale final read.
type Registers struct {
	// Keys is how many registers: 8 when zero.
	Keys int
	// CheckTimeout bounds porcupine per key: 2 minutes when zero. A key it
	// cannot decide in time is "unknown", not a violation.
	CheckTimeout time.Duration

	keys []string
	cnt  counts
	mu   struct {
		sync.Mutex
		ops []porcupine.Operation
	}
}

// RegisterInput is a register operation as porcupine sees it.
type RegisterInput struct {
	Key   string
	Write bool
	Value string // the value written
}

// RegisterOutput is a GET's answer ("" and Found false for nil).
type RegisterOutput struct {
	Value string
	Found bool
}

// RegisterModel is a single register per partition, partitioned by key:
// the state is the value, "" before the first write.
var RegisterModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range history {
			k := op.Input.(RegisterInput).Key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		sort.Strings(keys)
		out := make([][]porcupine.Operation, len(keys))
		for i, k := range keys {
			out[i] = byKey[k]
		}
		return out
	},
	Init: func() any { return "" },
	Step: func(state, input, output any) (bool, any) {
		in := input.(RegisterInput)
		if in.Write {
			return true, in.Value
		}
		out := output.(RegisterOutput)
		return out.Value == state.(string) && out.Found == (state.(string) != ""), state
	},
	DescribeOperation: func(input, output any) string {
		in := input.(RegisterInput)
		if in.Write {
			return fmt.Sprintf("set(%s, %s)", in.Key, in.Value)
		}
		out := output.(RegisterOutput)
		if !out.Found {
			return fmt.Sprintf("get(%s) → nil", in.Key)
		}
		return fmt.Sprintf("get(%s) → %s", in.Key, out.Value)
	},
	DescribeState: func(state any) string {
		if state.(string) == "" {
			return "nil"
		}
		return state.(string)
	},
}

// openEnded is the return time of an operation without a definite
// outcome: after everything else in the history.
const openEnded = int64(1) << 62

func (*Registers) Name() string { return "registers" }

func (r *Registers) Setup(ctx context.Context, w *WorkEnv) error {
	if r.Keys <= 0 {
		r.Keys = 8
	}
	r.keys = spreadKeys(w.Prefix+":reg:", r.Keys, false)
	return nil
}

func (r *Registers) record(op porcupine.Operation) {
	r.mu.Lock()
	r.mu.ops = append(r.mu.ops, op)
	r.mu.Unlock()
}

func (r *Registers) Run(ctx context.Context, w *WorkEnv) {
	for c := 0; c < w.Clients; c++ {
		cid := w.ClientID()
		seq := 0
		w.Go(ctx, c, func(ctx context.Context, rng *rand.Rand) {
			k := r.keys[rng.IntN(len(r.keys))]
			if rng.IntN(2) == 0 {
				cmd := redis.NewStringCmd(ctx, "get", k)
				call := w.Recorder.Now()
				err := w.read(ctx, cmd)
				ret := w.Recorder.Now()
				if err != nil && err != redis.Nil {
					return // a failed read has no effect
				}
				r.cnt.reads.Add(1)
				r.record(porcupine.Operation{ClientId: cid, Input: RegisterInput{Key: k},
					Call: int64(call), Output: RegisterOutput{Value: cmd.Val(), Found: err == nil}, Return: int64(ret)})
				return
			}
			v := fmt.Sprintf("w%d.%d", cid, seq)
			seq++
			call := w.Recorder.Now()
			o := w.write(ctx, redis.NewStatusCmd(ctx, "set", k, v))
			ret := w.Recorder.Now()
			r.cnt.add(o)
			op := porcupine.Operation{ClientId: cid, Input: RegisterInput{Key: k, Write: true, Value: v}, Call: int64(call), Return: int64(ret)}
			switch o {
			case OK:
				w.Recorder.Ack(ret, KeySlot(k))
				r.record(op)
			case Indeterminate:
				op.Return = openEnded
				r.record(op)
				// The client moves on as a new process: porcupine's
				// visualization keeps one lane per client.
				cid = w.ClientID()
			}
		})
	}
}

func (r *Registers) Check(ctx context.Context, w *WorkEnv) WorkloadResult {
	res := r.cnt.result(r.Name())
	var v violations
	// A final read of every key, after the faults.
	cid := w.ClientID()
	for _, k := range r.keys {
		call := w.Recorder.Now()
		cmd, err := w.readBack(ctx, func() redis.Cmder { return redis.NewStringCmd(ctx, "get", k) })
		if err != nil {
			v.add("unreadable", "final GET %s: %v", k, err)
			continue
		}
		sc := cmd.(*redis.StringCmd)
		r.record(porcupine.Operation{ClientId: cid, Input: RegisterInput{Key: k}, Call: int64(call),
			Output: RegisterOutput{Value: sc.Val(), Found: sc.Err() == nil}, Return: int64(w.Recorder.Now())})
	}
	r.mu.Lock()
	ops := r.mu.ops
	r.mu.Unlock()
	verdicts := CheckRegisters(ops, r.CheckTimeout, w.OutDir)
	res.Linearizable = "ok"
	for _, kv := range verdicts {
		switch kv.Result {
		case porcupine.Illegal:
			res.Linearizable = "illegal"
			v.add("not linearizable", "key %s: %d operations, %s", kv.Key, kv.Ops, kv.Detail)
			if kv.HTML != "" {
				res.Evidence = append(res.Evidence, kv.HTML)
			}
		case porcupine.Unknown:
			if res.Linearizable == "ok" {
				res.Linearizable = "unknown"
			}
			res.Notes = append(res.Notes, fmt.Sprintf("key %s: porcupine did not decide %d operations in time", kv.Key, kv.Ops))
		}
	}
	res.Violations = v.list()
	return res
}

// KeyVerdict is porcupine's verdict on one register.
type KeyVerdict struct {
	Key    string
	Ops    int
	Result porcupine.CheckResult
	Detail string
	HTML   string // the visualization saved for an illegal history
}

// CheckRegisters checks the history of each key apart, in parallel, and
// saves porcupine's visualization of an illegal one in outDir (when not
// empty) as registers-<key>.html.
func CheckRegisters(ops []porcupine.Operation, timeout time.Duration, outDir string) []KeyVerdict {
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	parts := RegisterModel.Partition(ops)
	out := make([]KeyVerdict, len(parts))
	perKey := RegisterModel
	perKey.Partition = nil
	parallel(4, len(parts), func(i int) {
		h := parts[i]
		key := h[0].Input.(RegisterInput).Key
		res, info := porcupine.CheckOperationsVerbose(perKey, h, timeout)
		kv := KeyVerdict{Key: key, Ops: len(h), Result: res}
		if res == porcupine.Illegal {
			kv.Detail = describeIllegal(info)
			if outDir != "" {
				path := filepath.Join(outDir, "registers-"+sanitize(key)+".html")
				if err := porcupine.VisualizePath(perKey, info, path); err == nil {
					kv.HTML = path
				} else {
					kv.Detail += fmt.Sprintf(" (visualization: %v)", err)
				}
			}
		}
		out[i] = kv
	})
	return out
}

// describeIllegal names the operations of the longest partial
// linearization porcupine found, and the first it could not place.
func describeIllegal(info porcupine.LinearizationInfo) string {
	parts := info.PartialLinearizationsOperations()
	var best []porcupine.Operation
	for _, p := range parts {
		for _, lin := range p {
			if len(lin) > len(best) {
				best = lin
			}
		}
	}
	if len(best) == 0 {
		return "no linearization"
	}
	var tail []string
	for _, op := range best[max(0, len(best)-3):] {
		tail = append(tail, fmt.Sprintf("%s [%.3fs,%s]", RegisterModel.DescribeOperation(op.Input, op.Output), float64(op.Call)/1e9, retString(op.Return)))
	}
	return fmt.Sprintf("longest linearizable prefix has %d operations, ending %s", len(best), strings.Join(tail, "; "))
}

func retString(ns int64) string {
	if ns >= openEnded {
		return "∞"
	}
	return fmt.Sprintf("%.3fs", float64(ns)/1e9)
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_' {
			return r
		}
		return '_'
	}, s)
}
