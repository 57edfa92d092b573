package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"time"
)

// A Fault is one kind of trouble a drill injects. Faults are pluggable:
// membership changes and slot moves join the drills as more Faults.
type Fault interface {
	// Name is the fault's kind, one word: "kill-leader", "partition-split".
	Name() string
	// Inject does it to the target now, choosing its victims with rng, and
	// says what it did and how to undo it. An error means nothing is left
	// to heal.
	Inject(ctx context.Context, t Target, rng *rand.Rand) (*Injection, error)
}

// Skipper is implemented by faults that cannot run everywhere (partitions
// need root and iptables, a config-leader kill needs a configuration
// group): Skip returns why the fault cannot run on t, or "".
type Skipper interface {
	Skip(t Target) string
}

// Waiter is implemented by faults that cannot run in every state of the
// target: NotNow returns why the fault cannot run now, or "". The runner
// then runs the round's other faults first (a node-remove on a cluster at
// its smallest waits for the round's node-join), and records the reason
// as the fault's error when no other fault is left to run.
type Waiter interface {
	NotNow(t Target) string
}

// Injection is a fault in progress.
type Injection struct {
	// Desc says what was done: "kill -9 node2 (leader of slots 5461-10922)".
	Desc string
	// Nodes are the node indexes the fault hit.
	Nodes []int
	// Affected are the slot ranges of the shards the fault may disturb, one
	// entry per shard; the recovery time is measured on them.
	Affected [][][2]int
	// Hold is how long the fault stays before Heal. Zero for faults that
	// are over when Inject returns (a restart of every node, a failover).
	Hold time.Duration
	// Heal undoes the fault (restart, SIGCONT, remove the rules); nil when
	// there is nothing to undo. The runner calls it exactly once, also
	// when the run is interrupted.
	Heal func(ctx context.Context) error
	// Settled: the fault waited, before Inject returned, until the cluster
	// had settled with every shard led (a node joined or removed), so the
	// runner does not watch for new leaders.
	Settled bool
}

// Registry maps fault names to constructors.
type Registry map[string]func() Fault

// DefaultRegistry lists every fault the drills know. Partition faults use
// fw, which may be nil: they are then skipped, saying why (fwErr).
func DefaultRegistry(fw *Firewall, fwErr error) Registry {
	why := ""
	if fwErr != nil {
		why = fwErr.Error()
	}
	return Registry{
		"kill-leader":        func() Fault { return &KillFault{Who: "leader"} },
		"kill-config-leader": func() Fault { return &KillFault{Who: "config-leader"} },
		"kill-random":        func() Fault { return &KillFault{Who: "random"} },
		"pause-leader":       func() Fault { return &PauseFault{} },
		"partition-leader":   func() Fault { return &PartitionFault{Kind: "leader", FW: fw, Why: why} },
		"partition-split":    func() Fault { return &PartitionFault{Kind: "split", FW: fw, Why: why} },
		"partition-oneway":   func() Fault { return &PartitionFault{Kind: "oneway", FW: fw, Why: why} },
		"partition-reject":   func() Fault { return &PartitionFault{Kind: "reject", FW: fw, Why: why} },
		"zone-loss":          func() Fault { return &ZoneLossFault{} },
		"restart-all":        func() Fault { return &RestartAllFault{} },
		"failover":           func() Fault { return &FailoverFault{} },
		"move-slots":         func() Fault { return &MoveFault{} },
		"move-slots-kill":    func() Fault { return &MoveFault{Kill: true} },
		"node-join":          func() Fault { return &JoinFault{} },
		"node-remove":        func() Fault { return &RemoveFault{} },
	}
}

// Names lists the registry's faults, sorted.
func (r Registry) Names() []string {
	var out []string
	for n := range r {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Parse turns a comma-separated list into faults. "all" (or "") is every
// fault; a name ending in "*" is every fault with that prefix
// ("partition-*", "kill-*").
func (r Registry) Parse(list string) ([]Fault, error) {
	var names []string
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		switch {
		case f == "" || f == "all":
			names = append(names, r.Names()...)
		case strings.HasSuffix(f, "*"):
			n := 0
			for _, name := range r.Names() {
				if strings.HasPrefix(name, strings.TrimSuffix(f, "*")) {
					names = append(names, name)
					n++
				}
			}
			if n == 0 {
				return nil, fmt.Errorf("chaos: no fault matches %q (known: %s)", f, strings.Join(r.Names(), ", "))
			}
		case r[f] != nil:
			names = append(names, f)
		default:
			return nil, fmt.Errorf("chaos: unknown fault %q (known: %s)", f, strings.Join(r.Names(), ", "))
		}
	}
	var out []Fault
	seen := map[string]bool{}
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, r[n]())
		}
	}
	return out, nil
}

// between returns a random duration in [lo, hi].
func between(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(rng.Int64N(int64(hi-lo)+1))
}

// ledBy returns the slot ranges of the shards node i leads, one entry per
// shard.
func ledBy(shards []ShardInfo, nodes ...int) [][][2]int {
	var out [][][2]int
	for _, sh := range shards {
		if slices.Contains(nodes, sh.Leader) {
			out = append(out, sh.Slots)
		}
	}
	return out
}

// touched returns the shards a fault on nodes disturbs: those they lead,
// or every shard when they lead none (a configuration leader, a node with
// replicas only: any shard may feel it, and the recovery is measured on
// all).
func touched(shards []ShardInfo, nodes ...int) [][][2]int {
	if led := ledBy(shards, nodes...); len(led) > 0 {
		return led
	}
	return allShards(shards)
}

// allShards returns every shard's slot ranges.
func allShards(shards []ShardInfo) [][][2]int {
	var out [][][2]int
	for _, sh := range shards {
		out = append(out, sh.Slots)
	}
	return out
}

// slotsText renders shard slot ranges for a description: "0-5460,10923-16383".
func slotsText(shards [][][2]int) string {
	var parts []string
	for _, sh := range shards {
		for _, r := range sh {
			parts = append(parts, fmt.Sprintf("%d-%d", r[0], r[1]))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ",")
}

// nodeName is how reports name node i.
func nodeName(i int) string { return fmt.Sprintf("node%d", i+1) }
