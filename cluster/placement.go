package cluster

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/flotilla-db/flotilla/shard"
)

// Placement decides where replicas and votes go as nodes come and go. It
// is a pure function of the topology and of what the controller observed
// (node health, which groups have settled), run by the controller (the
// configuration group's leader) inside changeTopology, so that the same
// inputs always give the same next topology. It moves in small steps: at
// most one change of membership per shard per step, and only on shards
// whose Raft group already matches the topology (settled), so each
// group's leader reconciles one target at a time (membership.go).

// nodeState is a node's health as the controller sees it.
type nodeState int

const (
	// nodeUp: alive in the gossip.
	nodeUp nodeState = iota
	// nodeDown: dead for less than the grace period (cluster-replace-after):
	// it may come back, so its replicas stay.
	nodeDown
	// nodeFailed: dead for longer: its replicas and its vote are rebuilt on
	// healthy nodes.
	nodeFailed
)

// placementInput is what the controller observed, for place.
type placementInput struct {
	// replicas is the number of replicas a shard should have
	// (cluster-replicas).
	replicas int
	// shardPerNode: cluster-shards 0, one shard per node, so a new node
	// gets a new shard and a removed one takes an empty shard away.
	shardPerNode bool
	// state is each node's health; a node missing from it is down.
	state map[string]nodeState
	// settled are the shards whose group's configuration (as its leader
	// has it, committed) is exactly their Replicas, all voters.
	settled map[shard.ID]bool
	// led are the shards whose group has a leader (it has formed).
	led map[shard.ID]bool
	// configSettled: the configuration group's voters are ConfigVoters.
	configSettled bool
	// joiners are new gossip members to admit.
	joiners []NodeInfo
	// gone are draining nodes that no Raft group holds any more.
	gone map[string]bool
}

// maxRemoved bounds Topology.Removed.
const maxRemoved = 64

// place edits t one step towards a placement in which every shard has
// min(replicas, nodes) replicas on healthy nodes in distinct zones where
// there are enough zones, replicas and preferred leaders are spread
// evenly over the nodes, and the configuration group has 3 voters (5 from
// 5 nodes on) in distinct zones where possible. It returns what it
// changed, for the log; nothing when t is already there.
func place(t *Topology, in placementInput) []string {
	p := &placer{t: t, in: in, zone: map[string]string{}, load: map[string]int{}, leads: map[string]int{}, touched: map[shard.ID]bool{}}
	return p.run()
}

type placer struct {
	t       *Topology
	in      placementInput
	zone    map[string]string
	load    map[string]int // replicas per node
	leads   map[string]int // preferred leaderships per node
	changes []string
	// touched are the shards whose replicas changed in this step.
	touched map[shard.ID]bool
}

func (p *placer) note(format string, args ...any) {
	p.changes = append(p.changes, fmt.Sprintf(format, args...))
}

func (p *placer) draining(id string) bool { return slices.Contains(p.t.Draining, id) }

// bad: a replica on this node is to be rebuilt elsewhere.
func (p *placer) bad(id string) bool {
	st, ok := p.in.state[id]
	return p.draining(id) || (ok && st == nodeFailed) || p.t.Node(id) == nil
}

// candidate: the node may take a new replica or vote now.
func (p *placer) candidate(id string) bool {
	st, ok := p.in.state[id]
	return ok && st == nodeUp && !p.draining(id)
}

func (p *placer) candidates() []string {
	var out []string
	for _, n := range p.t.Nodes {
		if p.candidate(n.ID) {
			out = append(out, n.ID)
		}
	}
	return out
}

// staying counts the nodes not being removed.
func (p *placer) staying() int {
	c := 0
	for _, n := range p.t.Nodes {
		if !p.draining(n.ID) {
			c++
		}
	}
	return c
}

func (p *placer) count() {
	clear(p.load)
	clear(p.leads)
	for _, n := range p.t.Nodes {
		p.zone[n.ID] = n.Zone
	}
	for _, sh := range p.t.Shards {
		for i, r := range sh.Replicas {
			p.load[r]++
			if i == 0 {
				p.leads[r]++
			}
		}
	}
}

func (p *placer) run() []string {
	p.admit()
	p.finishRemovals()
	p.count()
	p.clearBootstraps()
	p.configVoters()
	structural := p.createShard() || p.dropShard() || p.retireShard()
	p.count()
	stepped := false
	for i := range p.t.Shards {
		if p.shardStep(&p.t.Shards[i]) {
			stepped = true
			p.count()
		}
	}
	if !structural && !stepped {
		p.balanceReplicas()
	}
	p.count()
	p.preferLeaders()
	if len(p.changes) > 0 {
		p.t.LastShardID = max(p.t.LastShardID, maxShardID(p.t))
	}
	return p.changes
}

// admit adds the new gossip members to the nodes.
func (p *placer) admit() {
	for _, j := range p.in.joiners {
		if j.ID == "" || p.t.Node(j.ID) != nil || slices.Contains(p.t.Removed, j.ID) {
			continue
		}
		p.t.Nodes = append(p.t.Nodes, j)
		p.note("admit node %s (zone %s, %s)", j.ID, j.Zone, j.Addr)
	}
}

// finishRemovals takes the drained nodes out: no shard lists them, they
// do not vote, and no group holds them any more. They stay in Removed so
// that the gossip does not bring them back.
func (p *placer) finishRemovals() {
	for _, id := range slices.Clone(p.t.Draining) {
		if !p.in.gone[id] || slices.Contains(p.t.ConfigVoters, id) {
			continue
		}
		if slices.ContainsFunc(p.t.Shards, func(sh ShardInfo) bool {
			return slices.Contains(sh.Replicas, id) || slices.Contains(sh.Bootstrap, id)
		}) {
			continue
		}
		p.t.Nodes = slices.DeleteFunc(p.t.Nodes, func(n NodeInfo) bool { return n.ID == id })
		p.t.Draining = slices.DeleteFunc(p.t.Draining, func(x string) bool { return x == id })
		p.t.Removed = append(p.t.Removed, id)
		if len(p.t.Removed) > maxRemoved {
			p.t.Removed = slices.Clone(p.t.Removed[len(p.t.Removed)-maxRemoved:])
		}
		p.note("node %s removed", id)
	}
}

// clearBootstraps forgets the bootstrap configuration of shards whose
// group has a leader: a quorum bootstrapped it, and a replica opened from
// now on must join the running group, not bootstrap one.
func (p *placer) clearBootstraps() {
	for i := range p.t.Shards {
		sh := &p.t.Shards[i]
		if len(sh.Bootstrap) > 0 && p.in.led[sh.ID] {
			sh.Bootstrap = nil
			p.note("shard %d formed", sh.ID)
		}
	}
}

// configVoters keeps 3 voters in the configuration group (5 from 5
// healthy nodes on), on healthy nodes, in distinct zones where possible.
// It changes them only once the group matches the last change.
func (p *placer) configVoters() {
	if !p.in.configSettled {
		return
	}
	cands := p.candidates()
	want := 3
	if len(cands) >= 5 {
		want = 5
	}
	want = min(want, p.staying())
	cur := p.t.ConfigVoters
	var keep, bad []string
	for _, v := range cur {
		if p.bad(v) {
			bad = append(bad, v)
		} else {
			keep = append(keep, v)
		}
	}
	for len(keep) > want {
		// Drop a voter of a zone that has two, else the last one.
		victim := len(keep) - 1
		zones := map[string]int{}
		for _, v := range keep {
			zones[p.zone[v]]++
		}
		for i := len(keep) - 1; i >= 0; i-- {
			if zones[p.zone[keep[i]]] > 1 {
				victim = i
				break
			}
		}
		keep = slices.Delete(keep, victim, victim+1)
	}
	for len(keep) < want {
		c := p.pick(cands, keep)
		if c == "" {
			break
		}
		keep = append(keep, c)
	}
	// A voter to be replaced stays until its replacement is found.
	for _, v := range bad {
		if len(keep) >= want {
			break
		}
		if !p.draining(v) {
			keep = append(keep, v)
		}
	}
	if len(keep) == 0 || slices.Equal(keep, cur) {
		return
	}
	p.t.ConfigVoters = keep
	p.note("configuration group voters %v -> %v", cur, keep)
}

// pick returns the best node of cands to add to a set already holding
// members: a zone the set does not use, then the least loaded, then the
// lowest ID; "" when every candidate is in the set or in exclude.
func (p *placer) pick(cands, members []string, exclude ...string) string {
	used := map[string]bool{}
	for _, m := range members {
		used[p.zone[m]] = true
	}
	best := ""
	better := func(a, b string) bool {
		if b == "" {
			return true
		}
		return cmp.Or(
			cmp.Compare(boolInt(used[p.zone[a]]), boolInt(used[p.zone[b]])),
			cmp.Compare(p.load[a], p.load[b]),
			cmp.Compare(p.leads[a], p.leads[b]),
			cmp.Compare(a, b),
		) < 0
	}
	for _, c := range cands {
		if !slices.Contains(members, c) && !slices.Contains(exclude, c) && better(c, best) {
			best = c
		}
	}
	return best
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (p *placer) replicaTarget() int {
	return max(1, min(p.in.replicas, p.staying()))
}

// createShard adds an empty shard when there are more healthy nodes than
// shards (one shard per node): its preferred leader is the node leading
// the fewest shards (the new node), its other replicas the least loaded
// nodes of other zones. Its group bootstraps with that configuration;
// slots come to it by live moves (rebalance).
func (p *placer) createShard() bool {
	cands := p.candidates()
	if !p.in.shardPerNode || len(p.t.Shards) >= len(cands) {
		return false
	}
	r := p.replicaTarget()
	if len(cands) < r {
		return false
	}
	leader := slices.MinFunc(cands, func(a, b string) int {
		return cmp.Or(cmp.Compare(p.leads[a], p.leads[b]), cmp.Compare(p.load[a], p.load[b]), cmp.Compare(a, b))
	})
	reps := []string{leader}
	for len(reps) < r {
		c := p.pick(cands, reps)
		if c == "" {
			return false
		}
		reps = append(reps, c)
	}
	id := max(p.t.LastShardID, maxShardID(p.t)) + 1
	p.t.Shards = append(p.t.Shards, ShardInfo{ID: id, Slots: []SlotRange{}, Replicas: reps, Bootstrap: slices.Clone(reps)})
	p.t.LastShardID = id
	p.note("new shard %d on %v", id, reps)
	return true
}

// dropShard removes a shard without slots when there are more shards than
// nodes staying (one shard per node), as after a node is removed.
func (p *placer) dropShard() bool {
	if !p.in.shardPerNode || len(p.t.Shards) <= p.staying() {
		return false
	}
	victim := -1
	for i, sh := range p.t.Shards {
		if len(sh.Slots) > 0 || len(sh.Bootstrap) > 0 || slices.ContainsFunc(p.t.Moves, func(m SlotMove) bool { return m.From == sh.ID || m.To == sh.ID }) {
			continue
		}
		// Rather the shard of a leaving node, else the newest.
		if victim < 0 || p.bad(sh.Replicas[0]) && !p.bad(p.t.Shards[victim].Replicas[0]) ||
			p.bad(sh.Replicas[0]) == p.bad(p.t.Shards[victim].Replicas[0]) && sh.ID > p.t.Shards[victim].ID {
			victim = i
		}
	}
	if victim < 0 {
		return false
	}
	p.note("drop empty shard %d", p.t.Shards[victim].ID)
	p.t.Shards = slices.Delete(p.t.Shards, victim, victim+1)
	return true
}

// retireShard empties a shard by live slot moves (slotmove.go) when there
// are more shards than nodes staying (one shard per node) and none is
// empty yet: its slots go to the shards with the fewest, and dropShard
// removes it once the moves are done. Rather the shard of a leaving node,
// else the one with the fewest slots.
func (p *placer) retireShard() bool {
	if !p.in.shardPerNode || len(p.t.Shards) <= p.staying() || len(p.t.Moves) > 0 || len(p.t.Shards) < 2 {
		return false
	}
	count := map[shard.ID]int{}
	for _, sh := range p.t.Shards {
		if len(sh.Bootstrap) > 0 {
			return false
		}
		for _, r := range sh.Slots {
			count[sh.ID] += r.End - r.Start + 1
		}
	}
	victim := -1
	for i, sh := range p.t.Shards {
		if victim < 0 {
			victim = i
			continue
		}
		v := p.t.Shards[victim]
		if cmp.Or(-cmp.Compare(boolInt(p.bad(sh.Replicas[0])), boolInt(p.bad(v.Replicas[0]))),
			cmp.Compare(count[sh.ID], count[v.ID]), -cmp.Compare(sh.ID, v.ID)) < 0 {
			victim = i
		}
	}
	from := p.t.Shards[victim].ID
	var slots []int
	for _, r := range p.t.Shards[victim].Slots {
		for x := r.Start; x <= r.End; x++ {
			slots = append(slots, x)
		}
	}
	others := len(p.t.Shards) - 1
	for len(slots) > 0 {
		// The shard with the fewest slots takes the next share.
		var to shard.ID
		for _, sh := range p.t.Shards {
			if sh.ID != from && (to == 0 || count[sh.ID] < count[to]) {
				to = sh.ID
			}
		}
		n := min(len(slots), maxSlotsPerMove, max(1, (len(slots)+others-1)/others))
		p.t.LastMoveID++
		p.t.Moves = append(p.t.Moves, SlotMove{ID: p.t.LastMoveID, Slots: rangesOf(slots[:n]), From: from, To: to})
		count[to] += n
		slots = slots[n:]
	}
	p.note("retire shard %d: its slots move to the other shards", from)
	return true
}

// shardStep moves one settled shard one step: replicas on leaving or
// failed nodes are replaced (the new ones join first, see
// reconcileGroup), missing replicas added, extra ones removed, and a zone
// used twice traded for an unused one.
func (p *placer) shardStep(sh *ShardInfo) bool {
	if len(sh.Bootstrap) > 0 || !p.in.settled[sh.ID] {
		return false
	}
	cands := p.candidates()
	r := p.replicaTarget()
	var good, bad []string
	for _, x := range sh.Replicas {
		if p.bad(x) {
			bad = append(bad, x)
		} else {
			good = append(good, x)
		}
	}
	target := slices.Clone(good)
	for len(target) < r {
		c := p.pick(cands, target, sh.Replicas...)
		if c == "" {
			break
		}
		target = append(target, c)
	}
	// Replicas to replace stay until a replacement is found (a failed node
	// may come back; a leaving one waits for room).
	for _, x := range bad {
		if len(target) < r && p.t.Node(x) != nil {
			target = append(target, x)
		}
	}
	for len(target) > r {
		target = slices.Delete(target, p.surplus(target), p.surplus(target)+1)
	}
	if len(target) == len(sh.Replicas) && len(bad) == 0 {
		target = p.zoneFix(target, cands)
	}
	if slices.Equal(target, sh.Replicas) {
		return false
	}
	p.note("shard %d replicas %v -> %v", sh.ID, sh.Replicas, target)
	sh.Replicas = target
	p.touched[sh.ID] = true
	return true
}

// surplus is the index of the replica to give up in a set too large: one
// in a zone used twice, else the most loaded, never the first (the
// preferred leader) while there is another.
func (p *placer) surplus(set []string) int {
	zones := map[string]int{}
	for _, x := range set {
		zones[p.zone[x]]++
	}
	best := len(set) - 1
	for i := len(set) - 1; i >= 1; i-- {
		a, b := set[i], set[best]
		if cmp.Or(cmp.Compare(boolInt(zones[p.zone[a]] > 1), boolInt(zones[p.zone[b]] > 1)),
			cmp.Compare(p.load[a], p.load[b])) > 0 {
			best = i
		}
	}
	return best
}

// zoneFix trades a replica of a zone the shard uses twice for a healthy
// node of a zone it does not use, if there is one.
func (p *placer) zoneFix(set, cands []string) []string {
	zones := map[string]int{}
	for _, x := range set {
		zones[p.zone[x]]++
	}
	dup := false
	for _, c := range zones {
		dup = dup || c > 1
	}
	if !dup {
		return set
	}
	c := p.pick(cands, set)
	if c == "" || zones[p.zone[c]] > 0 {
		return set
	}
	i := p.surplus(set)
	if zones[p.zone[set[i]]] < 2 {
		return set
	}
	out := slices.Delete(slices.Clone(set), i, i+1)
	return append(out, c)
}

// balanceReplicas moves one replica from a more loaded healthy node to a
// node with two fewer, on a settled shard where that keeps its zones
// distinct; the most loaded pairs first. (Zones come first: with two
// nodes in a zone and one failed, the other holds every replica of it.)
func (p *placer) balanceReplicas() {
	cands := p.candidates()
	byLoad := slices.Clone(cands)
	slices.SortStableFunc(byLoad, func(a, b string) int { return cmp.Compare(p.load[a], p.load[b]) })
	for i := len(byLoad) - 1; i > 0; i-- {
		hi := byLoad[i]
		for _, lo := range byLoad[:i] {
			if p.load[hi]-p.load[lo] < 2 {
				break
			}
			for j := range p.t.Shards {
				sh := &p.t.Shards[j]
				if len(sh.Bootstrap) > 0 || !p.in.settled[sh.ID] || !slices.Contains(sh.Replicas, hi) || slices.Contains(sh.Replicas, lo) {
					continue
				}
				rest := slices.DeleteFunc(slices.Clone(sh.Replicas), func(x string) bool { return x == hi })
				if distinctZones(p, append(slices.Clone(rest), lo)) < distinctZones(p, sh.Replicas) {
					continue
				}
				target := append(rest, lo)
				p.note("shard %d replicas %v -> %v (balance)", sh.ID, sh.Replicas, target)
				sh.Replicas = target
				p.touched[sh.ID] = true
				return
			}
		}
	}
}

func distinctZones(p *placer, set []string) int {
	z := map[string]bool{}
	for _, x := range set {
		z[p.zone[x]] = true
	}
	return len(z)
}

// preferLeaders orders replicas so that the preferred leader
// (Replicas[0], where balanceLeaders moves the leadership) is healthy, and
// moves one preference from the node preferred most to a replica
// preferred two fewer times. Only on settled shards: the new first
// replica must already vote.
func (p *placer) preferLeaders() {
	moved := false
	for i := range p.t.Shards {
		sh := &p.t.Shards[i]
		if len(sh.Bootstrap) > 0 || !p.in.settled[sh.ID] || p.touched[sh.ID] || len(sh.Replicas) < 2 {
			continue
		}
		j := p.bestLeader(sh)
		if j < 0 {
			continue
		}
		if p.bad(sh.Replicas[0]) {
			p.toFront(sh, j)
			continue
		}
		if !moved && p.leads[sh.Replicas[j]] <= p.leads[sh.Replicas[0]]-2 {
			p.toFront(sh, j)
			moved = true
		}
	}
}

// bestLeader returns the index of the healthy replica of sh, other than
// the first, preferred fewest times; -1 when there is none.
func (p *placer) bestLeader(sh *ShardInfo) int {
	best := -1
	for j := 1; j < len(sh.Replicas); j++ {
		x := sh.Replicas[j]
		if !p.candidate(x) {
			continue
		}
		if best < 0 || cmp.Or(cmp.Compare(p.leads[x], p.leads[sh.Replicas[best]]), cmp.Compare(p.load[x], p.load[sh.Replicas[best]])) < 0 {
			best = j
		}
	}
	return best
}

func (p *placer) toFront(sh *ShardInfo, j int) {
	old := slices.Clone(sh.Replicas)
	x := sh.Replicas[j]
	sh.Replicas = append([]string{x}, slices.Delete(slices.Clone(sh.Replicas), j, j+1)...)
	p.leads[old[0]]--
	p.leads[x]++
	p.note("shard %d preferred leader %s -> %s", sh.ID, old[0], x)
}

func maxShardID(t *Topology) shard.ID {
	var m shard.ID
	for _, sh := range t.Shards {
		m = max(m, sh.ID)
	}
	return m
}

// validateMembers checks the membership fields: draining and voting nodes
// are nodes, removed ones are not.
func (t *Topology) validateMembers() error {
	for _, id := range t.Draining {
		if t.Node(id) == nil {
			return fmt.Errorf("draining node %s is not a node", id)
		}
	}
	for _, id := range t.ConfigVoters {
		if t.Node(id) == nil {
			return fmt.Errorf("configuration voter %s is not a node", id)
		}
	}
	for _, id := range t.Removed {
		if t.Node(id) != nil {
			return fmt.Errorf("removed node %s is still a node", id)
		}
	}
	for _, sh := range t.Shards {
		for _, id := range sh.Bootstrap {
			if t.Node(id) == nil {
				return fmt.Errorf("shard %d bootstraps with unknown node %s", sh.ID, id)
			}
		}
	}
	return nil
}
