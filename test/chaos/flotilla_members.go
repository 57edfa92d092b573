package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/flotilla-db/flotilla/cluster"
	"github.com/flotilla-db/flotilla/test/localcluster"
)

// Nodes joining and leaving a FlotillaTarget: the Elastic side of it.

var _ Elastic = (*FlotillaTarget)(nil)

// drainTimeout bounds a drain on SIGTERM before the node is killed.
const drainTimeout = 3 * time.Minute

// Spares are the nodes that are neither members nor running.
func (t *FlotillaTarget) Spares() []int {
	var out []int
	for i := 0; i < t.c.Len(); i++ {
		if !t.isMember(i) && !t.c.Node(i).Running {
			out = append(out, i)
		}
	}
	return out
}

// MinMembers is the fewest members the drills keep: the removal of a node
// that would leave fewer than a shard's replicas is refused anyway.
func (t *FlotillaTarget) MinMembers() int { return max(MinMembers, t.replicas) }

// Join starts spare i, empty, with every other node as a gossip seed: the
// controller admits it, placement puts replicas (and, one shard per node,
// a new shard) on it, and the rebalance moves slots to it live. Join waits
// for all of it (see settled).
func (t *FlotillaTarget) Join(ctx context.Context, i int) (string, error) {
	if t.isMember(i) || t.c.Node(i).Running {
		return "", fmt.Errorf("%s is not a spare", nodeName(i))
	}
	before := t.running()
	lastMove := t.lastMoveID(ctx)
	start := time.Now()
	if err := t.c.Wipe(i); err != nil {
		return "", err
	}
	if err := t.c.StartNodes(i); err != nil {
		return "", fmt.Errorf("start %s: %w", nodeName(i), err)
	}
	id, err := localcluster.Do(t.c.Addr(i), 2*time.Second, "CLUSTER", "MYID")
	if err != nil {
		return "", errors.Join(fmt.Errorf("CLUSTER MYID on %s: %w", nodeName(i), err), t.abandon(i))
	}
	// Admitted: a member's topology holds it.
	for !t.listedBy(ctx, before, id) {
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			return "", errors.Join(fmt.Errorf("%s (id %.8s) not admitted within %s", nodeName(i), id, time.Since(start).Round(time.Second)), t.abandon(i))
		}
	}
	admitted := time.Since(start)
	t.setMember(i, id)
	p, err := t.waitSettled(ctx, start)
	moves := t.movesSince(ctx, lastMove)
	desc := fmt.Sprintf("%s (%s, new id %.8s) joins: admitted after %.1fs, %s", nodeName(i), t.c.Node(i).Zone, id, admitted.Seconds(), p)
	if moves != "" {
		desc += "; " + moves
	}
	if err != nil {
		return "", fmt.Errorf("%s: %w", desc, err)
	}
	return desc, nil
}

// abandon stops node i, which did not become a member, and wipes its data:
// it is a spare again.
func (t *FlotillaTarget) abandon(i int) error {
	return errors.Join(t.c.Kill(i), t.c.Wipe(i))
}

// Remove drains member i out of the cluster, by FLOTILLA NODE REMOVE sent
// to another member (then SIGTERM once the node knows it is removed), or
// by SIGTERM after CONFIG SET shutdown-drain yes (the node drains, then
// exits). The node must leave a `removed` marker in its data dir, which is
// then wiped: it is a spare again. Remove waits for the placement that
// follows (see settled).
func (t *FlotillaTarget) Remove(ctx context.Context, i int, sigterm bool) (string, error) {
	t.mu.Lock()
	id, member := t.mu.ids[i], t.mu.member[i]
	t.mu.Unlock()
	if !member || !t.c.Node(i).Running {
		return "", fmt.Errorf("%s is not a running member", nodeName(i))
	}
	var others []int
	for _, j := range t.running() {
		if j != i {
			others = append(others, j)
		}
	}
	if len(others) == 0 {
		return "", errors.New("no other member running")
	}
	lastMove := t.lastMoveID(ctx)
	start := time.Now()
	how := "FLOTILLA NODE REMOVE"
	// stopped receives the end of the SIGTERM of a draining node; Remove
	// waits for it on every path.
	var stopped chan error
	if sigterm {
		how = "SIGTERM with shutdown-drain yes"
		if _, err := t.admin(ctx, i, "CONFIG", "SET", "shutdown-drain", "yes"); err != nil {
			return "", fmt.Errorf("%s: CONFIG SET shutdown-drain yes: %w", nodeName(i), err)
		}
		stopped = make(chan error, 1)
		go func() { stopped <- t.c.StopWithin(i, drainTimeout) }()
	} else if _, err := t.adminWithin(ctx, 20*time.Second, others[0], "FLOTILLA", "NODE", "REMOVE", id); err != nil {
		return "", fmt.Errorf("FLOTILLA NODE REMOVE %.8s on %s: %w", id, nodeName(others[0]), err)
	}
	// The draining node's exit, once seen.
	var exitErr error
	var exitedAt time.Time
	exited := func() bool {
		if stopped != nil && exitedAt.IsZero() {
			select {
			case exitErr = <-stopped:
				exitedAt = time.Now()
			default:
			}
		}
		return !exitedAt.IsZero()
	}
	fail := func(err error) (string, error) {
		if stopped != nil && !exited() {
			exitErr, exitedAt = <-stopped, time.Now()
		}
		return "", fmt.Errorf("remove %s (id %.8s) by %s: %w", nodeName(i), id, how, errors.Join(err, exitErr))
	}
	// Removed: no other member's topology holds it.
	for t.listedBy(ctx, others, id) {
		if exited() && time.Since(exitedAt) > 15*time.Second {
			return fail(fmt.Errorf("exited %s after SIGTERM but still in the topology 15s later", exitedAt.Sub(start).Round(100*time.Millisecond)))
		}
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			return fail(fmt.Errorf("still in the topology after %s", time.Since(start).Round(time.Second)))
		}
	}
	removed := time.Since(start)
	t.setMember(i, "")
	marker := filepath.Join(t.c.Node(i).DataDir, "removed")
	if stopped != nil {
		if !exited() {
			exitErr = <-stopped
		}
		if exitErr != nil {
			return "", fmt.Errorf("%s drained: %w", nodeName(i), exitErr)
		}
	} else {
		// The node learns it is removed, writes its marker, and keeps
		// answering (-CLUSTERDOWN) until it is stopped.
		for _, err := os.Stat(marker); err != nil; _, err = os.Stat(marker) {
			if sleepCtx(ctx, 100*time.Millisecond) != nil {
				break
			}
		}
		if err := t.c.Stop(i); err != nil {
			return "", err
		}
	}
	ended := time.Since(start)
	var problems []error
	if _, err := os.Stat(marker); err != nil {
		problems = append(problems, fmt.Errorf("%s left no removed marker: %w", nodeName(i), err))
	}
	if err := t.c.Node(i).ExitErr; err != nil {
		problems = append(problems, fmt.Errorf("%s exited with %v", nodeName(i), err))
	}
	if err := t.c.Wipe(i); err != nil {
		problems = append(problems, err)
	}
	p, err := t.waitSettled(ctx, start)
	desc := fmt.Sprintf("remove %s (id %.8s) by %s: out of the topology after %.1fs, exited after %.1fs, %s",
		nodeName(i), id, how, removed.Seconds(), ended.Seconds(), p)
	if moves := t.movesSince(ctx, lastMove); moves != "" {
		desc += "; " + moves
	}
	if err := errors.Join(append(problems, err)...); err != nil {
		return "", fmt.Errorf("%s: %w", desc, err)
	}
	return desc, nil
}

// listedBy reports whether a node among nodes that answers FLOTILLA STATUS
// holds node id in its topology.
func (t *FlotillaTarget) listedBy(ctx context.Context, nodes []int, id string) bool {
	for _, j := range nodes {
		st, err := t.status(ctx, j)
		if err != nil {
			continue
		}
		for _, n := range st.Nodes {
			if n.ID == id {
				return true
			}
		}
	}
	return false
}

// status reads node i's FLOTILLA STATUS.
func (t *FlotillaTarget) status(ctx context.Context, i int) (*cluster.FlotillaStatus, error) {
	s, err := t.admin(ctx, i, "FLOTILLA", "STATUS")
	if err != nil {
		return nil, err
	}
	var st cluster.FlotillaStatus
	if err := json.Unmarshal([]byte(s), &st); err != nil {
		return nil, fmt.Errorf("FLOTILLA STATUS: %w", err)
	}
	return &st, nil
}

// waitSettled waits until settled finds nothing left to do, and says when
// the replicas were placed and when all was done, counted from start.
func (t *FlotillaTarget) waitSettled(ctx context.Context, start time.Time) (string, error) {
	var placed time.Duration
	for {
		members := t.Members()
		// Nothing else stops a node meanwhile: a member that does not run
		// has crashed, and nothing will settle.
		for _, i := range members {
			if n := t.c.Node(i); !n.Running {
				return "replicas not placed", fmt.Errorf("%s exited (%v) after %s", nodeName(i), n.ExitErr, time.Since(start).Round(100*time.Millisecond))
			}
		}
		isPlaced, why := t.settled(ctx, members)
		if isPlaced && placed == 0 {
			placed = time.Since(start)
		}
		if why == "" {
			return fmt.Sprintf("replicas placed after %.1fs, settled (slots moved, %d members agree) after %.1fs",
				placed.Seconds(), len(members), time.Since(start).Seconds()), nil
		}
		if err := sleepCtx(ctx, 250*time.Millisecond); err != nil {
			p := "replicas not placed"
			if placed > 0 {
				p = fmt.Sprintf("replicas placed after %.1fs", placed.Seconds())
			}
			return p, fmt.Errorf("not settled after %s: %s", time.Since(start).Round(time.Second), why)
		}
	}
}

// settled checks the members' views of the cluster: placed when the
// topology holds exactly the members and every shard has its replicas on
// members (one shard per member with cluster-shards 0, a replica on every
// member); why is "" once, moreover, every member is at the same epoch,
// holds exactly the replicas the topology gives it, knows every shard's
// leader, and no slot move is pending anywhere, every shard has slots and
// they are spread evenly (the rebalance after a join or a removal).
func (t *FlotillaTarget) settled(ctx context.Context, members []int) (placed bool, why string) {
	ids := t.memberIDs()
	var views []*cluster.FlotillaStatus
	var pending []string
	for _, i := range members {
		if n := t.c.Node(i); !n.Running || n.Paused {
			return false, nodeName(i) + " is not running"
		}
		st, err := t.status(ctx, i)
		if err != nil {
			return false, fmt.Sprintf("%s: %v", nodeName(i), err)
		}
		views = append(views, st)
		mv, err := t.MoveState(ctx, i)
		if err != nil {
			return false, fmt.Sprintf("%s: FLOTILLA MOVES: %v", nodeName(i), err)
		}
		if mv != "" {
			pending = append(pending, nodeName(i)+": "+mv)
		}
	}
	ref := views[len(views)-1]
	var inTopo []string
	for _, n := range ref.Nodes {
		inTopo = append(inTopo, n.ID)
		if _, ok := ids[n.ID]; !ok {
			return false, fmt.Sprintf("epoch %d: node %.8s is in the topology, not a member", ref.Epoch, n.ID)
		}
	}
	if len(inTopo) != len(ids) {
		return false, fmt.Sprintf("epoch %d: %d nodes in the topology, %d members", ref.Epoch, len(inTopo), len(ids))
	}
	want := min(t.replicas, len(ids))
	holds := map[string][]int{}
	for _, sh := range ref.Shards {
		if len(sh.Replicas) != want {
			return false, fmt.Sprintf("epoch %d: shard %d has %d replicas", ref.Epoch, sh.ID, len(sh.Replicas))
		}
		for _, r := range sh.Replicas {
			if _, ok := ids[r]; !ok {
				return false, fmt.Sprintf("epoch %d: shard %d has a replica on %.8s, not a member", ref.Epoch, sh.ID, r)
			}
			holds[r] = append(holds[r], int(sh.ID))
		}
	}
	if t.shardPerNode && len(ref.Shards) != len(ids) {
		return false, fmt.Sprintf("epoch %d: %d shards for %d members", ref.Epoch, len(ref.Shards), len(ids))
	}
	for id, i := range ids {
		if len(holds[id]) == 0 {
			return false, fmt.Sprintf("epoch %d: %s holds no replica", ref.Epoch, nodeName(i))
		}
	}
	// Placed; now the groups, the moves and the slots.
	for k, v := range views {
		if v.Epoch != ref.Epoch {
			return true, fmt.Sprintf("%s at epoch %d, %s at %d", nodeName(members[k]), v.Epoch, nodeName(members[len(views)-1]), ref.Epoch)
		}
		var local []int
		for _, r := range v.Replicas {
			local = append(local, int(r.Shard))
		}
		slices.Sort(local)
		h := slices.Sorted(slices.Values(holds[v.Node]))
		if !slices.Equal(local, h) {
			return true, fmt.Sprintf("%s keeps replicas of shards %v, holds %v", nodeName(members[k]), local, h)
		}
	}
	if len(pending) > 0 {
		return true, "slot moves pending: " + strings.Join(pending, "; ")
	}
	var counts []string
	even := true
	for _, sh := range ref.Shards {
		if sh.Leader == "" {
			return true, fmt.Sprintf("shard %d has no leader", sh.ID)
		}
		n := 0
		for _, r := range sh.Slots {
			n += r.End - r.Start + 1
		}
		counts = append(counts, fmt.Sprintf("%d:%d", sh.ID, n))
		even = even && n >= NumSlots/len(ref.Shards) && n <= NumSlots/len(ref.Shards)+1
	}
	if !even {
		return true, "slots not spread evenly (shard:slots " + strings.Join(counts, " ") + ")"
	}
	return true, ""
}

// moveView is what the drills read of a FLOTILLA MOVES entry.
type moveView struct {
	ID        uint64 `json:"id"`
	State     string `json:"state"`
	KeysMoved int64  `json:"keys_moved"`
}

// moves reads FLOTILLA MOVES from every running member.
func (t *FlotillaTarget) moves(ctx context.Context) []moveView {
	var out []moveView
	for _, i := range t.running() {
		s, err := t.admin(ctx, i, "FLOTILLA", "MOVES")
		if err != nil {
			continue
		}
		var ms []moveView
		if json.Unmarshal([]byte(s), &ms) == nil {
			out = append(out, ms...)
		}
	}
	return out
}

// lastMoveID is the highest move ID the members report.
func (t *FlotillaTarget) lastMoveID(ctx context.Context) uint64 {
	var last uint64
	for _, m := range t.moves(ctx) {
		last = max(last, m.ID)
	}
	return last
}

// movesSince says how many moves after move ID after the members report
// done, and the keys they copied ("" when none).
func (t *FlotillaTarget) movesSince(ctx context.Context, after uint64) string {
	done := map[uint64]int64{}
	for _, m := range t.moves(ctx) {
		if m.ID > after && m.State == "done" {
			done[m.ID] = max(done[m.ID], m.KeysMoved)
		}
	}
	if len(done) == 0 {
		return ""
	}
	var keys int64
	for _, k := range done {
		keys += k
	}
	return fmt.Sprintf("%d slot moves done, %d keys copied", len(done), keys)
}

// sleepCtx waits for d, or returns ctx's error once it ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}
