package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// KillFault kills a node with SIGKILL and restarts it, with its data,
// after a few seconds. Who picks the victim: "leader" (the leader of a
// random shard), "config-leader" (the configuration group's leader),
// "random" (any node).
type KillFault struct {
	Who string
	// MinHold and MaxHold bound the time the node stays dead: 2-6 s when
	// zero.
	MinHold, MaxHold time.Duration
}

func (f *KillFault) Name() string { return "kill-" + f.Who }

func (f *KillFault) Skip(t Target) string {
	if f.Who != "config-leader" {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := t.ConfigLeader(ctx); errors.Is(err, ErrUnsupported) {
		return fmt.Sprintf("%s has no configuration group", t.Name())
	}
	return ""
}

func (f *KillFault) Inject(ctx context.Context, t Target, rng *rand.Rand) (*Injection, error) {
	shards, err := t.Shards(ctx)
	if err != nil {
		return nil, err
	}
	victim, why := -1, ""
	switch f.Who {
	case "leader":
		victim, why = randomLeader(shards, rng), "leader of a shard"
	case "config-leader":
		if victim, err = t.ConfigLeader(ctx); err != nil {
			return nil, err
		}
		why = "configuration group's leader"
	default:
		m := t.Members()
		victim, why = m[rng.IntN(len(m))], "random node"
	}
	if victim < 0 {
		return nil, errors.New("no shard has a leader")
	}
	affected := touched(shards, victim)
	if err := t.Kill(victim); err != nil {
		return nil, err
	}
	return &Injection{
		Desc:     fmt.Sprintf("kill -9 %s (%s; leads slots %s)", nodeName(victim), why, slotsText(ledBy(shards, victim))),
		Nodes:    []int{victim},
		Affected: affected,
		Hold:     between(rng, cmpOr(f.MinHold, 2*time.Second), cmpOr(f.MaxHold, 6*time.Second)),
		Heal:     func(context.Context) error { return t.Restart(victim) },
	}, nil
}

// PauseFault stops the leader of a random shard with SIGSTOP for longer
// than an election takes (2-4 s), then continues it with SIGCONT: a
// leader that wakes up believing it still leads.
type PauseFault struct {
	MinHold, MaxHold time.Duration
}

func (f *PauseFault) Name() string { return "pause-leader" }

func (f *PauseFault) Inject(ctx context.Context, t Target, rng *rand.Rand) (*Injection, error) {
	shards, err := t.Shards(ctx)
	if err != nil {
		return nil, err
	}
	victim := randomLeader(shards, rng)
	if victim < 0 {
		return nil, errors.New("no shard has a leader")
	}
	affected := touched(shards, victim)
	if err := t.Pause(victim); err != nil {
		return nil, err
	}
	return &Injection{
		Desc:     fmt.Sprintf("SIGSTOP %s (leads slots %s), then SIGCONT", nodeName(victim), slotsText(ledBy(shards, victim))),
		Nodes:    []int{victim},
		Affected: affected,
		Hold:     between(rng, cmpOr(f.MinHold, 2*time.Second), cmpOr(f.MaxHold, 4*time.Second)),
		Heal:     func(context.Context) error { return t.Resume(victim) },
	}, nil
}

// PartitionFault cuts traffic between node addresses with iptables;
// clients, on 127.0.0.1, still reach every node. Kind:
//
//   - "leader": a shard's leader is cut off from every other node, so it
//     can no longer commit but clients can still send it commands;
//   - "split": a random minority of the nodes is cut off from the majority;
//   - "oneway": packets from a shard's leader to the other nodes are
//     dropped, or packets from them to it (TCP then fails both ways on
//     those connections, gossip over UDP only one way);
//   - "reject": a random node's traffic with the others is rejected (TCP
//     reset, ICMP port unreachable) instead of dropped, so every call
//     between them fails at once rather than timing out.
type PartitionFault struct {
	Kind string
	FW   *Firewall
	// Why says why FW is nil.
	Why              string
	MinHold, MaxHold time.Duration
}

func (f *PartitionFault) Name() string { return "partition-" + f.Kind }

func (f *PartitionFault) Skip(t Target) string {
	if f.FW == nil {
		if f.Why != "" {
			return f.Why
		}
		return "no firewall"
	}
	if len(t.Members()) < 3 {
		return "fewer than 3 nodes"
	}
	return ""
}

func (f *PartitionFault) Inject(ctx context.Context, t Target, rng *rand.Rand) (*Injection, error) {
	shards, err := t.Shards(ctx)
	if err != nil {
		return nil, err
	}
	members := t.Members()
	ip := func(idx []int) []string {
		var out []string
		for _, i := range idx {
			out = append(out, t.NodeIP(i))
		}
		return out
	}
	others := func(side []int) []int {
		var out []int
		for _, i := range members {
			if !slices.Contains(side, i) {
				out = append(out, i)
			}
		}
		return out
	}
	inj := &Injection{Hold: between(rng, cmpOr(f.MinHold, 4*time.Second), cmpOr(f.MaxHold, 8*time.Second))}
	var heal func() error
	switch f.Kind {
	case "leader":
		l := randomLeader(shards, rng)
		if l < 0 {
			return nil, errors.New("no shard has a leader")
		}
		inj.Nodes, inj.Affected = []int{l}, touched(shards, l)
		heal, err = f.FW.Partition(Drop, ip(inj.Nodes), ip(others(inj.Nodes)))
		inj.Desc = fmt.Sprintf("isolate %s (leads slots %s) from %s; clients still reach it", nodeName(l), slotsText(ledBy(shards, l)), names(others(inj.Nodes)))
	case "split":
		n := len(members)
		var minority []int
		for _, k := range rng.Perm(n)[:(n-1)/2] {
			minority = append(minority, members[k])
		}
		slices.Sort(minority)
		inj.Nodes, inj.Affected = minority, touched(shards, minority...)
		heal, err = f.FW.Partition(Drop, ip(minority), ip(others(minority)))
		inj.Desc = fmt.Sprintf("split %s | %s (minority leads slots %s)", names(minority), names(others(minority)), slotsText(ledBy(shards, minority...)))
	case "reject":
		v := members[rng.IntN(len(members))]
		inj.Nodes, inj.Affected = []int{v}, touched(shards, v)
		heal, err = f.FW.Partition(Reject, ip(inj.Nodes), ip(others(inj.Nodes)))
		inj.Desc = fmt.Sprintf("reject all traffic between %s (leads slots %s) and %s (TCP reset, ICMP unreachable); clients still reach it", nodeName(v), slotsText(ledBy(shards, v)), names(others(inj.Nodes)))
	case "oneway":
		l := randomLeader(shards, rng)
		if l < 0 {
			return nil, errors.New("no shard has a leader")
		}
		inj.Nodes, inj.Affected = []int{l}, touched(shards, l)
		var made [][2]string
		from, to := []int{l}, others([]int{l})
		if rng.IntN(2) == 0 {
			from, to = to, from
		}
		for _, a := range ip(from) {
			for _, b := range ip(to) {
				if err = f.FW.Drop(a, b); err != nil {
					break
				}
				made = append(made, [2]string{a, b})
			}
		}
		heal = func() error {
			var errs []error
			for _, m := range made {
				errs = append(errs, f.FW.Allow(m[0], m[1]))
			}
			return errors.Join(errs...)
		}
		if err != nil {
			err = errors.Join(err, heal())
		}
		inj.Desc = fmt.Sprintf("drop packets %s → %s (%s leads slots %s)", names(from), names(to), nodeName(l), slotsText(ledBy(shards, l)))
	default:
		return nil, fmt.Errorf("unknown partition kind %q", f.Kind)
	}
	if err != nil {
		return nil, err
	}
	inj.Heal = func(context.Context) error { return heal() }
	return inj, nil
}

// ZoneLossFault kills every node of a random zone at once and restarts
// them after a while: with 3 zones and 3 replicas per shard, no shard
// loses its quorum.
type ZoneLossFault struct {
	MinHold, MaxHold time.Duration
}

func (f *ZoneLossFault) Name() string { return "zone-loss" }

func (f *ZoneLossFault) Skip(t Target) string {
	if len(zones(t)) < 2 {
		return "all nodes are in one zone"
	}
	return ""
}

// zones are the members of t by zone.
func zones(t Target) map[string][]int {
	out := map[string][]int{}
	for _, i := range t.Members() {
		out[t.NodeZone(i)] = append(out[t.NodeZone(i)], i)
	}
	return out
}

func (f *ZoneLossFault) Inject(ctx context.Context, t Target, rng *rand.Rand) (*Injection, error) {
	shards, err := t.Shards(ctx)
	if err != nil {
		return nil, err
	}
	zs := zones(t)
	var zoneNames []string
	for z := range zs {
		zoneNames = append(zoneNames, z)
	}
	slices.Sort(zoneNames)
	zone := zoneNames[rng.IntN(len(zoneNames))]
	victims := zs[zone]
	inj := &Injection{
		Nodes:    victims,
		Affected: touched(shards, victims...),
		Hold:     between(rng, cmpOr(f.MinHold, 5*time.Second), cmpOr(f.MaxHold, 10*time.Second)),
	}
	inj.Desc = fmt.Sprintf("lose %s: kill -9 %s (they lead slots %s)", zone, names(victims), slotsText(ledBy(shards, victims...)))
	errs := make(chan error, len(victims))
	for _, v := range victims {
		go func() { errs <- t.Kill(v) }()
	}
	var all []error
	for range victims {
		all = append(all, <-errs)
	}
	inj.Heal = func(context.Context) error {
		errs := make(chan error, len(victims))
		for _, v := range victims {
			go func() { errs <- t.Restart(v) }()
		}
		var all []error
		for range victims {
			all = append(all, <-errs)
		}
		return errors.Join(all...)
	}
	if err := errors.Join(all...); err != nil {
		return nil, errors.Join(err, inj.Heal(ctx))
	}
	return inj, nil
}

// RestartAllFault kills every node with SIGKILL and starts them all again,
// as after a power cut.
type RestartAllFault struct{}

func (f *RestartAllFault) Name() string { return "restart-all" }

func (f *RestartAllFault) Inject(ctx context.Context, t Target, rng *rand.Rand) (*Injection, error) {
	shards, err := t.Shards(ctx)
	if err != nil {
		return nil, err
	}
	all := t.Members()
	if err := t.RestartAll(); err != nil {
		return nil, err
	}
	return &Injection{Desc: fmt.Sprintf("kill -9 all %d nodes, start them again", len(all)), Nodes: all, Affected: allShards(shards)}, nil
}

// FailoverFault moves a shard's leadership to one of its replicas with
// CLUSTER FAILOVER while clients write: a planned handover must not lose
// or reorder anything.
type FailoverFault struct{}

func (f *FailoverFault) Name() string { return "failover" }

func (f *FailoverFault) Inject(ctx context.Context, t Target, rng *rand.Rand) (*Injection, error) {
	shards, err := t.Shards(ctx)
	if err != nil {
		return nil, err
	}
	for _, s := range rng.Perm(len(shards)) {
		old := shards[s].Leader
		err := t.Failover(ctx, s)
		if errors.Is(err, ErrUnsupported) {
			continue
		}
		if err != nil {
			return nil, err
		}
		// CLUSTER FAILOVER may answer before the handover is over (Redis
		// always does): look for the new leader for a few seconds.
		to := "?"
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			now, err := t.Shards(ctx)
			if err == nil && s < len(now) && now[s].Leader >= 0 {
				to = nodeName(now[s].Leader)
				if now[s].Leader != old {
					break
				}
			}
		}
		if to == nodeNameOr(old) {
			to += " (the leadership did not move)"
		}
		return &Injection{
			Desc:     fmt.Sprintf("CLUSTER FAILOVER of slots %s: %s → %s", slotsText([][][2]int{shards[s].Slots}), nodeNameOr(old), to),
			Nodes:    []int{old},
			Affected: [][][2]int{shards[s].Slots},
		}, nil
	}
	return nil, fmt.Errorf("%w: no shard has a replica that CLUSTER FAILOVER would promote", ErrUnsupported)
}

// randomLeader returns the leader of a random shard that has one, or -1.
func randomLeader(shards []ShardInfo, rng *rand.Rand) int {
	for _, s := range rng.Perm(len(shards)) {
		if shards[s].Leader >= 0 {
			return shards[s].Leader
		}
	}
	return -1
}

func names(idx []int) string {
	var out []string
	for _, i := range idx {
		out = append(out, nodeName(i))
	}
	return strings.Join(out, ",")
}

func nodeNameOr(i int) string {
	if i < 0 {
		return "?"
	}
	return nodeName(i)
}

func cmpOr(a, b time.Duration) time.Duration {
	if a != 0 {
		return a
	}
	return b
}
