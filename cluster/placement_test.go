package cluster

import (
	"fmt"
	"slices"
	"testing"

	"github.com/flotilla-db/flotilla/shard"
)

func testNodes(n, zones int) []NodeInfo {
	var out []NodeInfo
	for i := 0; i < n; i++ {
		out = append(out, testNode(i, zones))
	}
	return out
}

func testNode(i, zones int) NodeInfo {
	return NodeInfo{ID: fmt.Sprintf("n%02d", i), Zone: fmt.Sprintf("z%d", i%zones), Addr: fmt.Sprintf("10.0.0.%d:6379", i)}
}

// settle runs place until it changes nothing, as the controller would with
// every group reconciling at once, and returns the steps taken.
func settle(t *testing.T, topo *Topology, in placementInput) int {
	t.Helper()
	for step := 1; step < 200; step++ {
		in.settled, in.led, in.configSettled = map[shard.ID]bool{}, map[shard.ID]bool{}, true
		for _, sh := range topo.Shards {
			in.settled[sh.ID], in.led[sh.ID] = true, true
		}
		in.gone = map[string]bool{}
		for _, id := range topo.Draining {
			in.gone[id] = !slices.ContainsFunc(topo.Shards, func(sh ShardInfo) bool { return slices.Contains(sh.Replicas, id) })
		}
		changes := place(topo, in)
		in.joiners = nil
		if err := topo.Validate(); err != nil {
			t.Fatalf("step %d: %v after %v", step, err, changes)
		}
		if len(changes) == 0 {
			return step
		}
	}
	t.Fatal("placement does not settle")
	return 0
}

func states(topo *Topology, failed ...string) map[string]nodeState {
	out := map[string]nodeState{}
	for _, n := range topo.Nodes {
		out[n.ID] = nodeUp
		if slices.Contains(failed, n.ID) {
			out[n.ID] = nodeFailed
		}
	}
	return out
}

// checkSpread checks every shard has want replicas on distinct nodes in
// distinct zones (when distinctZones), none on the nodes in avoid, and
// replicas (but on the nodes in exempt) and preferred leaders spread
// within one of even.
func checkSpread(t *testing.T, topo *Topology, want int, distinctZones bool, avoid []string, exempt ...string) {
	t.Helper()
	load, leads := map[string]int{}, map[string]int{}
	zone := map[string]string{}
	for _, n := range topo.Nodes {
		zone[n.ID] = n.Zone
	}
	for _, sh := range topo.Shards {
		if len(sh.Replicas) != want {
			t.Errorf("shard %d has replicas %v, want %d", sh.ID, sh.Replicas, want)
		}
		zs := map[string]bool{}
		for i, r := range sh.Replicas {
			if slices.Contains(avoid, r) {
				t.Errorf("shard %d keeps a replica on %s", sh.ID, r)
			}
			zs[zone[r]] = true
			load[r]++
			if i == 0 {
				leads[r]++
			}
		}
		if distinctZones && len(zs) != len(sh.Replicas) {
			t.Errorf("shard %d replicas %v share zones", sh.ID, sh.Replicas)
		}
	}
	spread := func(what string, m map[string]int) {
		lo, hi := 1<<30, 0
		for _, n := range topo.Nodes {
			if slices.Contains(avoid, n.ID) || what == "replicas" && slices.Contains(exempt, n.ID) {
				continue
			}
			lo, hi = min(lo, m[n.ID]), max(hi, m[n.ID])
		}
		if hi-lo > 1 {
			t.Errorf("%s uneven: %v", what, m)
		}
	}
	spread("replicas", load)
	spread("preferred leaders", leads)
}

func TestPlacementGrowAndShrink(t *testing.T) {
	topo := Plan(testNodes(3, 3), 0, 3)
	in := placementInput{replicas: 3, shardPerNode: true}
	// The plan's shards form.
	in.state = states(topo)
	settle(t, topo, in)
	for _, sh := range topo.Shards {
		if len(sh.Bootstrap) > 0 {
			t.Fatalf("shard %d still bootstraps", sh.ID)
		}
	}
	// Three nodes join, one at a time.
	for i := 3; i < 6; i++ {
		in.joiners = []NodeInfo{testNode(i, 3)}
		settle(t, topo, in)
		in.state = states(topo)
		settle(t, topo, in)
	}
	if len(topo.Nodes) != 6 || len(topo.Shards) != 6 {
		t.Fatalf("after growing: %d nodes, %d shards", len(topo.Nodes), len(topo.Shards))
	}
	checkSpread(t, topo, 3, true, nil)
	if len(topo.ConfigVoters) != 5 {
		t.Errorf("configuration voters %v, want 5", topo.ConfigVoters)
	}
	// Three nodes leave, one at a time.
	for _, id := range []string{"n00", "n04", "n02"} {
		topo.Draining = append(topo.Draining, id)
		settle(t, topo, in)
		if topo.Node(id) != nil || !slices.Contains(topo.Removed, id) {
			t.Fatalf("%s not removed: %+v", id, topo)
		}
	}
	if len(topo.Nodes) != 3 || len(topo.Shards) != 3 {
		t.Fatalf("after shrinking: %d nodes, %d shards", len(topo.Nodes), len(topo.Shards))
	}
	checkSpread(t, topo, 3, true, nil)
	if len(topo.ConfigVoters) != 3 {
		t.Errorf("configuration voters %v, want 3", topo.ConfigVoters)
	}
	// Shard IDs are never reused.
	if topo.LastShardID != 6 {
		t.Errorf("LastShardID %d, want 6", topo.LastShardID)
	}
}

func TestPlacementReplacesFailedNode(t *testing.T) {
	topo := Plan(testNodes(6, 3), 0, 3)
	in := placementInput{replicas: 3, shardPerNode: true, state: states(topo)}
	settle(t, topo, in)
	// Down within the grace period: nothing moves.
	in.state = states(topo)
	in.state["n01"] = nodeDown
	before := topo.Clone()
	settle(t, topo, in)
	if fmt.Sprint(before.Shards) != fmt.Sprint(topo.Shards) {
		t.Fatalf("a down node's replicas moved: %v -> %v", before.Shards, topo.Shards)
	}
	// Failed: rebuilt elsewhere, in distinct zones (two nodes per zone),
	// so n04, the other node of n01's zone, takes all of n01's.
	in.state = states(topo, "n01")
	settle(t, topo, in)
	checkSpread(t, topo, 3, true, []string{"n01"}, "n04")
	if slices.Contains(topo.ConfigVoters, "n01") || len(topo.ConfigVoters) != 5 {
		t.Errorf("voters %v", topo.ConfigVoters)
	}
	// It comes back: it gets replicas again.
	in.state = states(topo)
	settle(t, topo, in)
	checkSpread(t, topo, 3, true, nil)
}

func TestPlacementZoneLoss(t *testing.T) {
	topo := Plan(testNodes(6, 3), 0, 3)
	in := placementInput{replicas: 3, shardPerNode: true, state: states(topo)}
	settle(t, topo, in)
	// Zone z0 (n00, n03) fails for good: 3 replicas on the 4 nodes left,
	// sharing zones, no shard dropped.
	in.state = states(topo, "n00", "n03")
	settle(t, topo, in)
	if len(topo.Shards) != 6 {
		t.Fatalf("%d shards", len(topo.Shards))
	}
	checkSpread(t, topo, 3, false, []string{"n00", "n03"})
	if len(topo.ConfigVoters) != 3 {
		t.Errorf("voters %v, want 3 of the 4 nodes left", topo.ConfigVoters)
	}
	// The zone comes back: distinct zones again, spread evenly.
	in.state = states(topo)
	settle(t, topo, in)
	checkSpread(t, topo, 3, true, nil)
}

func TestPlacementWaitsForSettledGroups(t *testing.T) {
	topo := Plan(testNodes(3, 3), 0, 3)
	for i := range topo.Shards {
		topo.Shards[i].Bootstrap = nil
	}
	topo.Nodes = append(topo.Nodes, testNode(3, 3))
	in := placementInput{replicas: 3, shardPerNode: true, state: states(topo), settled: map[shard.ID]bool{}, led: map[shard.ID]bool{}, configSettled: false}
	before := topo.Clone()
	changes := place(topo, in)
	// Only the new shard: no settled shard to move, no configuration
	// change before the group matches the last one.
	if len(changes) != 1 || len(topo.Shards) != 4 || fmt.Sprint(topo.Shards[:3]) != fmt.Sprint(before.Shards) || !slices.Equal(topo.ConfigVoters, before.ConfigVoters) {
		t.Fatalf("changes %v", changes)
	}
	if sh := topo.Shards[3]; sh.Replicas[0] != "n03" || !slices.Equal(sh.Bootstrap, sh.Replicas) || len(sh.Slots) != 0 {
		t.Fatalf("new shard %+v", sh)
	}
}

// finishMoves gives every queued move's slots to its target, as the live
// moves do when they end.
func finishMoves(topo *Topology) {
	for _, m := range topo.Moves {
		for i := range topo.Shards {
			sh := &topo.Shards[i]
			var keep []int
			for _, r := range sh.Slots {
				for x := r.Start; x <= r.End; x++ {
					moved := false
					for _, mr := range m.Slots {
						moved = moved || sh.ID == m.From && x >= mr.Start && x <= mr.End
					}
					if !moved {
						keep = append(keep, x)
					}
				}
			}
			if sh.ID == m.To {
				for _, mr := range m.Slots {
					for x := mr.Start; x <= mr.End; x++ {
						keep = append(keep, x)
					}
				}
				slices.Sort(keep)
			}
			sh.Slots = rangesOf(keep)
		}
	}
	topo.Moves = nil
}

// TestPlacementRetiresShard drains a node of a cluster whose shards all
// have slots: one shard's slots move to the others, then it is dropped.
func TestPlacementRetiresShard(t *testing.T) {
	topo := Plan(testNodes(4, 3), 0, 3)
	in := placementInput{replicas: 3, shardPerNode: true, state: states(topo)}
	settle(t, topo, in)
	topo.Draining = append(topo.Draining, "n01")
	settle(t, topo, in)
	if len(topo.Moves) == 0 || len(topo.Shards) != 4 {
		t.Fatalf("no shard retiring: %d shards, moves %v", len(topo.Shards), topo.Moves)
	}
	from := topo.Moves[0].From
	for _, m := range topo.Moves {
		if m.From != from || m.To == from {
			t.Fatalf("moves %v", topo.Moves)
		}
	}
	finishMoves(topo)
	if err := topo.Validate(); err != nil {
		t.Fatal(err)
	}
	settle(t, topo, in)
	if len(topo.Shards) != 3 || topo.Shard(from) != nil || topo.Node("n01") != nil {
		t.Fatalf("after the moves: shards %v, n01 %v", topo.Shards, topo.Node("n01"))
	}
	checkSpread(t, topo, 3, false, nil) // zone z1 left with n01
	// The slots went evenly to the others.
	for _, sh := range topo.Shards {
		n := 0
		for _, r := range sh.Slots {
			n += r.End - r.Start + 1
		}
		if n < 16384/3-1 || n > 16384/3+2 {
			t.Errorf("shard %d has %d slots", sh.ID, n)
		}
	}
}
