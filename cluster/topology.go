package cluster

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/flotilla-db/flotilla/engine"
	"github.com/flotilla-db/flotilla/shard"
)

// NodeInfo is what the cluster knows of a node: its identity, zone and
// addresses. Nodes advertise it in their memberlist metadata, and the
// configuration group records it.
type NodeInfo struct {
	ID      string `json:"id"`
	Zone    string `json:"zone"`
	Addr    string `json:"addr"`    // RESP, ip:port
	Raft    string `json:"raft"`    // the node's shared Raft port, ip:port
	Gossip  string `json:"gossip"`  // memberlist, ip:port
	Metrics string `json:"metrics"` // HTTP /metrics, ip:port or ""
}

// SlotRange is an inclusive range of hash slots.
type SlotRange struct {
	Start int `json:"start"`
	End   int `json:"end"`
}

// ShardInfo is one shard of the cluster: its slots and the nodes holding
// its replicas. Replicas[0] is the preferred leader.
type ShardInfo struct {
	ID       shard.ID    `json:"id"`
	Slots    []SlotRange `json:"slots"`
	Replicas []string    `json:"replicas"`
	// Bootstrap, set only while a brand-new shard's group forms, is the
	// configuration its first members bootstrap it with (all of them the
	// same). Every other replica joins the running group without
	// bootstrapping: the group's leader adds it (see membership.go).
	Bootstrap []string `json:"bootstrap,omitempty"`
}

// Topology is the cluster configuration kept in the configuration group:
// nodes, shards, the slot map. Epoch grows with every change
// (../shared/DESIGN.md rule 4).
type Topology struct {
	Epoch  uint64      `json:"epoch"`
	Nodes  []NodeInfo  `json:"nodes"`
	Shards []ShardInfo `json:"shards"`
	// ConfigVoters are the nodes voting in the configuration group; the
	// others follow it as non-voters.
	ConfigVoters []string `json:"config_voters"`
	// Moves are the live slot moves under way or queued, in order; a move
	// leaves the list in the change that gives its slots to its target.
	Moves []SlotMove `json:"moves,omitempty"`
	// LastMoveID numbers moves.
	LastMoveID uint64 `json:"last_move_id,omitempty"`
	// RebalancedFor names the nodes and shards (rebalanceKey) the slot
	// map was last laid out for, by the controller's rebalance or by an
	// operator's explicit move: the controller rebalances on its own only
	// once they change, and never undoes an operator's layout meanwhile
	// (not even when it restarts or another node takes over as controller).
	RebalancedFor string `json:"rebalanced_for,omitempty"`
	// Draining are the nodes being removed: placement moves their
	// replicas and votes elsewhere, then they leave (membership.go).
	Draining []string `json:"draining,omitempty"`
	// Removed are the last nodes removed from the cluster, so that a
	// removed node still in the gossip is not admitted again.
	Removed []string `json:"removed,omitempty"`
	// LastShardID is the highest shard ID ever given: shard IDs are never
	// reused (a node that was down may still hold a dropped shard's data).
	LastShardID shard.ID `json:"last_shard_id,omitempty"`
}

// SlotMove is a live move of slots from one shard to another (see
// slotmove.go): queued in the configuration, driven by the source shard's
// leader, done when a configuration change gives the slots to To.
type SlotMove struct {
	ID    uint64      `json:"id"`
	Slots []SlotRange `json:"slots"`
	From  shard.ID    `json:"from"`
	To    shard.ID    `json:"to"`
}

// Node returns the node with ID id, or nil.
func (t *Topology) Node(id string) *NodeInfo {
	for i := range t.Nodes {
		if t.Nodes[i].ID == id {
			return &t.Nodes[i]
		}
	}
	return nil
}

// Shard returns the shard with ID id, or nil.
func (t *Topology) Shard(id shard.ID) *ShardInfo {
	for i := range t.Shards {
		if t.Shards[i].ID == id {
			return &t.Shards[i]
		}
	}
	return nil
}

// SlotOwners returns the shard owning each slot (0 when none).
func (t *Topology) SlotOwners() *[engine.NumSlots]shard.ID {
	var owners [engine.NumSlots]shard.ID
	for _, sh := range t.Shards {
		for _, r := range sh.Slots {
			for s := r.Start; s <= r.End; s++ {
				owners[s] = sh.ID
			}
		}
	}
	return &owners
}

// Validate checks the invariants every configuration must keep: each slot
// owned by exactly one shard, each replica a known node, no node twice in
// a shard.
func (t *Topology) Validate() error {
	var owner [engine.NumSlots]shard.ID
	ids := map[shard.ID]bool{}
	for _, sh := range t.Shards {
		if sh.ID == 0 || ids[sh.ID] {
			return fmt.Errorf("shard id %d missing or repeated", sh.ID)
		}
		ids[sh.ID] = true
		if len(sh.Replicas) == 0 {
			return fmt.Errorf("shard %d has no replicas", sh.ID)
		}
		seen := map[string]bool{}
		for _, n := range sh.Replicas {
			if t.Node(n) == nil {
				return fmt.Errorf("shard %d: unknown node %s", sh.ID, n)
			}
			if seen[n] {
				return fmt.Errorf("shard %d: node %s twice", sh.ID, n)
			}
			seen[n] = true
		}
		for _, r := range sh.Slots {
			if r.Start < 0 || r.End >= engine.NumSlots || r.Start > r.End {
				return fmt.Errorf("shard %d: bad slot range %d-%d", sh.ID, r.Start, r.End)
			}
			for s := r.Start; s <= r.End; s++ {
				if owner[s] != 0 {
					return fmt.Errorf("slot %d owned by shards %d and %d", s, owner[s], sh.ID)
				}
				owner[s] = sh.ID
			}
		}
	}
	for s, o := range owner {
		if o == 0 {
			return fmt.Errorf("slot %d has no shard", s)
		}
	}
	if err := t.validateMembers(); err != nil {
		return err
	}
	moving := map[int]bool{}
	for _, m := range t.Moves {
		if m.From == m.To || !ids[m.From] || !ids[m.To] {
			return fmt.Errorf("move %d: bad shards %d -> %d", m.ID, m.From, m.To)
		}
		if len(m.Slots) == 0 {
			return fmt.Errorf("move %d has no slots", m.ID)
		}
		for _, r := range m.Slots {
			if r.Start < 0 || r.End >= engine.NumSlots || r.Start > r.End {
				return fmt.Errorf("move %d: bad slot range %d-%d", m.ID, r.Start, r.End)
			}
			for s := r.Start; s <= r.End; s++ {
				if owner[s] != m.From {
					return fmt.Errorf("move %d: slot %d is not on shard %d", m.ID, s, m.From)
				}
				if moving[s] {
					return fmt.Errorf("slot %d is in two moves", s)
				}
				moving[s] = true
			}
		}
	}
	return nil
}

// Clone returns a deep copy.
func (t *Topology) Clone() *Topology {
	b, _ := json.Marshal(t)
	var c Topology
	json.Unmarshal(b, &c)
	return &c
}

// Plan lays out a new cluster over nodes: shards shards (0: one per node)
// splitting the 16384 slots evenly, each with min(replicas, len(nodes))
// replicas in distinct zones where there are enough zones, the preferred
// leaders spread so that no node is preferred for two shards while another
// is preferred for none. The result depends only on its arguments, so
// every node computing it gets the same.
func Plan(nodes []NodeInfo, shards, replicas int) *Topology {
	nodes = slices.Clone(nodes)
	slices.SortFunc(nodes, func(a, b NodeInfo) int { return cmp.Compare(a.ID, b.ID) })
	if shards <= 0 {
		shards = len(nodes)
	}
	replicas = min(max(replicas, 1), len(nodes))
	t := &Topology{Epoch: 1, Nodes: nodes}
	// Interleave nodes by zone (a1 b1 c1 a2 b2 c2...), so that consecutive
	// picks land in distinct zones.
	byZone := map[string][]string{}
	var zones []string
	for _, n := range nodes {
		if _, ok := byZone[n.Zone]; !ok {
			zones = append(zones, n.Zone)
		}
		byZone[n.Zone] = append(byZone[n.Zone], n.ID)
	}
	slices.Sort(zones)
	var order []string
	for i := 0; len(order) < len(nodes); i++ {
		for _, z := range zones {
			if i < len(byZone[z]) {
				order = append(order, byZone[z][i])
			}
		}
	}
	zoneOf := map[string]string{}
	for _, n := range nodes {
		zoneOf[n.ID] = n.Zone
	}
	load := map[string]int{}
	for i := 0; i < shards; i++ {
		start := i * engine.NumSlots / shards
		end := (i+1)*engine.NumSlots/shards - 1
		leader := order[i%len(order)]
		reps := []string{leader}
		usedZone := map[string]bool{zoneOf[leader]: true}
		// The other replicas: the least loaded nodes, new zones first.
		cands := slices.Clone(order)
		slices.SortStableFunc(cands, func(a, b string) int { return cmp.Compare(load[a], load[b]) })
		for pass := 0; pass < 2 && len(reps) < replicas; pass++ {
			for _, n := range cands {
				if len(reps) == replicas {
					break
				}
				if slices.Contains(reps, n) || (pass == 0 && usedZone[zoneOf[n]]) {
					continue
				}
				reps = append(reps, n)
				usedZone[zoneOf[n]] = true
			}
		}
		for _, n := range reps {
			load[n]++
		}
		t.Shards = append(t.Shards, ShardInfo{
			ID:        shard.ID(i + 1),
			Slots:     []SlotRange{{Start: start, End: end}},
			Replicas:  reps,
			Bootstrap: slices.Clone(reps),
		})
	}
	voters := 3
	if len(order) >= 5 {
		voters = 5
	}
	voters = min(voters, len(order))
	t.ConfigVoters = slices.Clone(order[:voters])
	return t
}
