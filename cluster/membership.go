package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
	hraft "github.com/hashicorp/raft"

	"github.com/flotilla-db/flotilla/raft"
	"github.com/flotilla-db/flotilla/shard"
)

// Membership: nodes join and leave a running cluster.
//
// The controller (the configuration group's leader) watches the gossip:
// it admits new members into the topology, marks nodes dead for longer
// than cluster-replace-after as failed, and runs placement (placement.go)
// to decide each shard's replicas and the configuration group's voters,
// committing each step with changeTopology. The topology is the target;
// each Raft group's leader then changes its group's configuration towards
// it one membership change at a time, as hashicorp/raft expects
// (reconcileGroup): a new replica joins as a non-voter, is promoted once
// it has caught up, and only then is the replica it replaces removed; no
// step leaves the group without a live quorum. A node that no longer
// belongs to a group closes its replica and deletes its data once the
// group's leader has committed a configuration without it.
//
// Removing a node (removeNode, or SIGTERM with shutdown-drain yes) marks
// it draining: placement moves its preferred leaderships, replicas and
// vote away (its leaderships are handed over before it leaves a group),
// and once no group holds it, it leaves the topology (Removed) and then
// the configuration group.

// membership is the membership work's state; its loop is runMembership.
type membership struct {
	kickCh chan struct{}
	// removed: this node was removed from the cluster (see leaveRemoved).
	removed atomic.Bool
	// removedCh is closed once removed is set.
	removedCh chan struct{}
	// noticeRemoved: the controller told this node it is removed.
	noticeRemoved atomic.Bool

	mu struct {
		sync.Mutex
		// reconciling are the groups with a reconcileGroup running.
		reconciling map[raft.GroupID]bool
		// members is the gossip as its events told it (recordMember):
		// memberlist.Members hands out its own nodes, which its goroutines
		// write while a reader looks (seen with -race).
		members map[string]memberView
	}

	// Owned by runMembership.
	deadSince     map[string]time.Time
	warned        map[string]bool
	lastPeerCheck time.Time
}

func (m *membership) init() {
	m.kickCh = make(chan struct{}, 1)
	m.removedCh = make(chan struct{})
	m.mu.reconciling = map[raft.GroupID]bool{}
	m.mu.members = map[string]memberView{}
	m.deadSince = map[string]time.Time{}
	m.warned = map[string]bool{}
}

// memberView is a gossip member as its last event showed it.
type memberView struct {
	meta  nodeMeta
	addr  string // gossip ip:port
	alive bool   // alive or suspect; false once dead or left
	// state is memberlist's state at the last event: alive, dead or
	// left (memberlist tells no event for suspect).
	state memberlist.NodeStateType
}

// recordMember keeps a copy of a member from a memberlist event (called
// with memberlist's lock held, so the node is read safely) and wakes
// runMembership.
func (n *clusterNode) recordMember(m *memberlist.Node, alive bool) {
	v := memberView{addr: m.Address(), alive: alive, state: m.State}
	json.Unmarshal(m.Meta, &v.meta)
	n.mship.mu.Lock()
	n.mship.mu.members[m.Name] = v
	n.mship.mu.Unlock()
	n.kickMembership()
}

// gossipMembers returns a copy of the members as the gossip events told
// them.
func (n *clusterNode) gossipMembers() map[string]memberView {
	n.mship.mu.Lock()
	defer n.mship.mu.Unlock()
	return maps.Clone(n.mship.mu.members)
}

// kickMembership wakes runMembership; memberlist callbacks call it, so it
// never blocks.
func (n *clusterNode) kickMembership() {
	select {
	case n.mship.kickCh <- struct{}{}:
	default:
	}
}

// RPC kinds of membership.
const (
	// rpcGroupInfo asks a node about its member of a group (Shard; 0 is
	// the configuration group): log indexes and, on the leader, the
	// group's configuration.
	rpcGroupInfo = "group-info"
	// rpcTopology asks a node for its copy of the topology.
	rpcTopology = "topology"
	// rpcRemoved tells a node that the cluster removed it.
	rpcRemoved = "removed"
)

// groupInfo answers rpcGroupInfo.
type groupInfo struct {
	Leader  bool   `json:"leader"`
	Last    uint64 `json:"last"`
	Applied uint64 `json:"applied"`
	Commit  uint64 `json:"commit"`
	// On the leader: the latest configuration, and whether it is
	// committed.
	Servers   []hraft.Server `json:"servers,omitempty"`
	Committed bool           `json:"committed,omitempty"`
}

// handleMembershipRPC serves the membership RPCs; ok is false for another
// kind.
func (n *clusterNode) handleMembershipRPC(req *rpcRequest, resp *rpcResponse) (out []byte, ok bool) {
	switch req.Kind {
	case rpcGroupInfo:
		g := n.groupOf(req.Shard)
		if g == nil {
			resp.Err = "no member of that group here"
			return nil, true
		}
		info := n.localGroupInfo(g)
		b, _ := json.Marshal(info)
		return b, true
	case rpcTopology:
		b, _ := json.Marshal(n.cfgFSM.current())
		return b, true
	case rpcRemoved:
		n.mship.noticeRemoved.Store(true)
		n.kickMembership()
		return nil, true
	}
	return nil, false
}

// groupOf returns this node's member of group id (0: the configuration
// group), or nil.
func (n *clusterNode) groupOf(id shard.ID) *raft.Group {
	if id == 0 {
		return n.cfgGroup.Load()
	}
	n.mu.Lock()
	r := n.mu.replicas[id]
	n.mu.Unlock()
	if r == nil {
		return nil
	}
	return r.Group
}

func (n *clusterNode) localGroupInfo(g *raft.Group) groupInfo {
	info := groupInfo{Leader: g.IsLeader(), Last: g.Raft.LastIndex(), Applied: g.Raft.AppliedIndex(), Commit: g.Raft.CommitIndex()}
	if info.Leader {
		f := g.Raft.GetConfiguration()
		if f.Error() == nil {
			info.Servers = f.Configuration().Servers
			info.Committed = f.Index() <= g.Raft.CommitIndex()
		}
	}
	return info
}

// groupInfoAt asks the node at raftAddr about its member of group id.
func (n *clusterNode) groupInfoAt(ctx context.Context, raftAddr string, id shard.ID) (*groupInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	resp, out, err := n.rpcCall(ctx, raftAddr, &rpcRequest{Kind: rpcGroupInfo, Shard: id}, nil)
	if err != nil {
		return nil, err
	}
	if resp.Err != "" {
		return nil, errors.New(resp.Err)
	}
	var info groupInfo
	if err := json.Unmarshal(out, &info); err != nil {
		return nil, err
	}
	return &info, nil
}

// joinsRunningCluster reports whether a gossip member other than this
// node belongs to a formed cluster.
func (n *clusterNode) joinsRunningCluster() bool {
	for id, m := range n.gossipMembers() {
		if id != n.self.ID && m.alive && m.meta.Formed {
			return true
		}
	}
	return false
}

// joinRunning makes this node ready to be admitted into a running cluster:
// it opens the configuration group without bootstrapping it, and waits
// for the controller to add it (its topology then arrives through that
// group, and loop opens the replicas placed on it).
func (n *clusterNode) joinRunning() {
	if n.cfgGroup.Load() != nil {
		return
	}
	n.log.Info("joining a running cluster: waiting for the controller to admit this node")
	if err := n.openConfigGroup(nil); err != nil && !errors.Is(err, ErrServerClosed) {
		n.log.Error("configuration group", "err", err)
	}
}

// removedMarker is the file that says the cluster removed this node: its
// data belongs to no cluster any more.
func (n *clusterNode) removedMarker() string { return filepath.Join(n.dir, "removed") }

func (n *clusterNode) checkRemovedMarker() error {
	if _, err := os.Stat(n.removedMarker()); err == nil {
		return fmt.Errorf("this node was removed from its cluster (%s): remove the data dir %s to join a cluster as a new node", n.removedMarker(), n.dir)
	}
	return nil
}

// runMembership is the membership loop: on every node it closes the
// replicas it no longer holds and reconciles the groups it leads; on the
// controller it also admits, replaces and removes nodes.
func (n *clusterNode) runMembership() {
	defer n.wg.Done()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	formed := false
	var last time.Time
	for {
		select {
		case <-n.stop:
			return
		case <-n.mship.kickCh:
		case <-tick.C:
		}
		// Gossip events come in bursts: a round at most every 200 ms.
		if d := time.Since(last); d < 200*time.Millisecond {
			select {
			case <-n.stop:
				return
			case <-time.After(200*time.Millisecond - d):
			}
		}
		last = time.Now()
		t := n.cfgFSM.current()
		if f := t != nil; f != formed {
			formed = f
			n.ml.UpdateNode(time.Second)
		}
		if t == nil || n.mship.removed.Load() || n.behind(t) {
			continue
		}
		if slices.Contains(t.Removed, n.self.ID) || n.mship.noticeRemoved.Load() {
			n.leaveRemoved(t)
			continue
		}
		n.checkRemovedByPeers(t)
		n.dropStaleReplicas(t)
		n.openMissingReplicas(t)
		n.reconcileLedShards(t)
		if g := n.cfgGroup.Load(); g != nil && g.IsLeader() {
			n.control(g, t)
		} else {
			clear(n.mship.deadSince)
		}
	}
}

// opContext returns a context that ends after d or when the node stops.
// Its watcher goroutine ends with the context (call cancel).
func (n *clusterNode) opContext(d time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	go func() {
		select {
		case <-n.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// gossipAlive returns the nodes the gossip holds alive (or suspects, for
// the second or so before it declares them dead), this node included.
func (n *clusterNode) gossipAlive() map[string]bool {
	out := map[string]bool{n.self.ID: true}
	for id, m := range n.gossipMembers() {
		if m.alive {
			out[id] = true
		}
	}
	return out
}

// replaceAfter is the grace period after which a dead node is replaced
// (cluster-replace-after; 0: never).
func (n *clusterNode) replaceAfter() time.Duration {
	return time.Duration(n.s.cfg.Int("cluster-replace-after")) * time.Millisecond
}

// control is the controller's round: observe, place, commit, and
// reconcile the configuration group's membership.
func (n *clusterNode) control(g *raft.Group, t *Topology) {
	ctx, cancel := n.opContext(10 * time.Second)
	defer cancel()

	in := placementInput{
		replicas:     n.replicas,
		shardPerNode: n.shards == 0,
		state:        map[string]nodeState{},
		settled:      map[shard.ID]bool{},
		led:          map[shard.ID]bool{},
		gone:         map[string]bool{},
	}
	// Health: a node is failed once the gossip has held it dead for the
	// grace period, counted from when this controller first saw it so
	// (a new controller waits a whole period again).
	alive := n.gossipAlive()
	grace := n.replaceAfter()
	now := time.Now()
	for _, x := range t.Nodes {
		switch {
		case alive[x.ID]:
			in.state[x.ID] = nodeUp
			delete(n.mship.deadSince, x.ID)
		default: // dead, left, or not met since this node started
			since, ok := n.mship.deadSince[x.ID]
			if !ok {
				since = now
				n.mship.deadSince[x.ID] = now
			}
			if grace > 0 && now.Sub(since) >= grace {
				if in.state[x.ID] = nodeFailed; !n.mship.warned["failed "+x.ID] {
					n.mship.warned["failed "+x.ID] = true
					n.log.Warn("membership: node dead for longer than cluster-replace-after; rebuilding its replicas elsewhere", "node", x.ID, "addr", x.Addr)
				}
			} else {
				in.state[x.ID] = nodeDown
			}
		}
		if in.state[x.ID] != nodeFailed {
			delete(n.mship.warned, "failed "+x.ID)
		}
	}
	// New members, and removed ones still about.
	for _, m := range n.gossipMembers() {
		meta := m.meta
		if !m.alive || meta.ID == "" || meta.ID == n.self.ID {
			continue
		}
		switch {
		case t.Node(meta.ID) != nil:
		case slices.Contains(t.Removed, meta.ID):
			n.tellRemoved(ctx, meta.NodeInfo)
		case meta.Formed:
			if !n.mship.warned["foreign "+meta.ID] {
				n.mship.warned["foreign "+meta.ID] = true
				n.log.Warn("membership: a gossip member belongs to another cluster; not admitting it", "node", meta.ID, "addr", meta.Addr)
			}
		default:
			in.joiners = append(in.joiners, meta.NodeInfo)
		}
	}
	// The groups as their leaders have them.
	infos := n.shardGroupInfos(ctx, t)
	allKnown := true
	for _, sh := range t.Shards {
		info := infos[sh.ID]
		if info == nil {
			allKnown = false
			continue
		}
		in.led[sh.ID] = true
		in.settled[sh.ID] = info.Committed && sameVoters(info.Servers, sh.Replicas, nil)
	}
	cfgServers, cfgErr := g.Servers()
	in.configSettled = cfgErr == nil && votersOf(cfgServers).equal(t.ConfigVoters)
	for _, id := range t.Draining {
		if !allKnown || cfgErr != nil || slices.Contains(votersOf(cfgServers), id) {
			continue
		}
		held := false
		for _, info := range infos {
			held = held || slices.ContainsFunc(info.Servers, func(s hraft.Server) bool { return string(s.ID) == id })
		}
		in.gone[id] = !held
	}

	var changes []string
	_, err := n.changeTopology(ctx, func(next *Topology) error {
		changes = place(next, in)
		if len(changes) == 0 {
			return errNoChange
		}
		return nil
	})
	switch {
	case err != nil:
		n.log.Warn("membership: placement change not committed", "err", err)
	case len(changes) > 0:
		for _, c := range changes {
			n.log.Info("membership: " + c)
		}
	}
	if cur := n.cfgFSM.current(); cur != nil {
		var nonvoters []string
		for _, x := range cur.Nodes {
			if !slices.Contains(cur.ConfigVoters, x.ID) {
				nonvoters = append(nonvoters, x.ID)
			}
		}
		if _, err := n.reconcileGroup(ctx, 0, g, cur, cur.ConfigVoters, nonvoters, n.transferConfig); err != nil {
			n.log.Info("membership: configuration group", "err", err)
		}
		// Once nothing moves, slots may go to the new shards (live
		// moves, rebalance).
		if err == nil && len(changes) == 0 && allKnown && len(cur.Draining) == 0 && len(cur.Moves) == 0 {
			settled := true
			for _, sh := range cur.Shards {
				settled = settled && in.settled[sh.ID] && len(sh.Bootstrap) == 0
			}
			if settled && rebalanceKey(cur) != cur.RebalancedFor {
				if queued, err := n.rebalance(ctx); err != nil {
					n.log.Warn("membership: rebalance", "err", err)
				} else if queued > 0 {
					n.log.Info("membership: rebalance queued slot moves", "moves", queued)
				}
			}
		}
	}
}

// rebalanceKey names the set of nodes and shards, so that rebalance runs
// once per change of them.
func rebalanceKey(t *Topology) string {
	var b strings.Builder
	for _, x := range t.Nodes {
		b.WriteString(x.ID[:min(8, len(x.ID))])
		b.WriteByte(',')
	}
	for _, sh := range t.Shards {
		b.WriteString(strconv.Itoa(int(sh.ID)))
		b.WriteByte(',')
	}
	return b.String()
}

// shardGroupInfos asks every shard's leader, at once, for its group's
// configuration; a shard whose leader is unknown or does not answer is
// missing from the result.
func (n *clusterNode) shardGroupInfos(ctx context.Context, t *Topology) map[shard.ID]*groupInfo {
	rt := n.route.Load()
	var mu sync.Mutex
	out := map[shard.ID]*groupInfo{}
	var wg sync.WaitGroup
	for _, sh := range t.Shards {
		l := rt.leaderOf(sh.ID)
		if l == "" {
			n.mu.Lock()
			l = n.mu.hints[sh.ID]
			n.mu.Unlock()
		}
		node := t.Node(l)
		if node == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			info, err := n.groupInfoAt(ctx, node.Raft, sh.ID)
			if err != nil || !info.Leader {
				return
			}
			mu.Lock()
			out[sh.ID] = info
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// voterList is a set of voters' IDs.
type voterList []string

func votersOf(servers []hraft.Server) voterList {
	var out voterList
	for _, s := range servers {
		if s.Suffrage == hraft.Voter {
			out = append(out, string(s.ID))
		}
	}
	return out
}

func (v voterList) equal(ids []string) bool {
	a, b := slices.Clone([]string(v)), slices.Clone(ids)
	sort.Strings(a)
	sort.Strings(b)
	return slices.Equal(a, b)
}

// sameVoters reports whether servers are exactly voters (all voting) and
// nonvoters (none voting).
func sameVoters(servers []hraft.Server, voters, nonvoters []string) bool {
	if len(servers) != len(voters)+len(nonvoters) {
		return false
	}
	for _, s := range servers {
		id := string(s.ID)
		switch {
		case s.Suffrage == hraft.Voter && slices.Contains(voters, id):
		case s.Suffrage != hraft.Voter && slices.Contains(nonvoters, id):
		default:
			return false
		}
	}
	return true
}

// tellRemoved tells a removed node still in the gossip that it is out
// (it may have been down when it was removed, so never saw it).
func (n *clusterNode) tellRemoved(ctx context.Context, node NodeInfo) {
	if n.mship.warned["told "+node.ID] {
		return
	}
	n.mship.warned["told "+node.ID] = true
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if _, _, err := n.rpcCall(ctx, node.Raft, &rpcRequest{Kind: rpcRemoved}, nil); err != nil {
		delete(n.mship.warned, "told "+node.ID)
	}
}

// transferConfig hands the configuration group's leadership (the
// controller) to node id.
func (n *clusterNode) transferConfig(g *raft.Group, id, addr string) error {
	return g.Raft.LeadershipTransferToServer(hraft.ServerID(id), hraft.ServerAddress(addr)).Error()
}

// reconcileLedShards starts, for each shard this node leads, a
// reconcileGroup towards the shard's replicas, unless one is running.
func (n *clusterNode) reconcileLedShards(t *Topology) {
	for id, r := range n.route.Load().local {
		sh := t.Shard(id)
		if sh == nil || r.Group == nil || !r.Group.IsLeader() {
			continue
		}
		gid := raft.GroupID(id)
		n.mship.mu.Lock()
		busy := n.mship.mu.reconciling[gid]
		n.mship.mu.reconciling[gid] = true
		n.mship.mu.Unlock()
		if busy {
			continue
		}
		replicas := slices.Clone(sh.Replicas)
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			defer func() {
				n.mship.mu.Lock()
				delete(n.mship.mu.reconciling, gid)
				n.mship.mu.Unlock()
			}()
			ctx, cancel := n.opContext(15 * time.Second)
			defer cancel()
			transfer := func(_ *raft.Group, to, addr string) error { return r.TransferLeadership(to, addr) }
			changed, err := n.reconcileGroup(ctx, id, r.Group, t, replicas, nil, transfer)
			if err != nil {
				n.log.Info("membership: shard group", "shard", id, "err", err)
			} else if changed {
				n.kickMembership()
			}
		}()
	}
}

// catchUpSlack is how many log entries a non-voter may lag behind the
// leader and still be promoted: it is then replicating in step, not
// installing a snapshot or far behind.
const catchUpSlack = 128

// reconcileGroup makes one change of group gid's configuration towards
// voters and nonvoters, on its leader (this node), and reports whether it
// made one (nextGroupChange decides which). hashicorp/raft takes one
// change at a time (it waits until the last is committed), and prevIndex
// makes each change a compare-and-set on the configuration the decision
// was made from.
func (n *clusterNode) reconcileGroup(ctx context.Context, gid shard.ID, g *raft.Group, t *Topology,
	voters, nonvoters []string, transfer func(g *raft.Group, id, addr string) error) (bool, error) {
	if !g.IsLeader() {
		return false, nil
	}
	f := g.Raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return false, err
	}
	servers := f.Configuration().Servers
	idx := f.Index()
	if idx > g.Raft.CommitIndex() {
		return false, nil // the last change is not committed yet
	}
	known := func(id string) bool { return t.Node(id) != nil }
	voters = slices.DeleteFunc(slices.Clone(voters), func(id string) bool { return !known(id) })
	nonvoters = slices.DeleteFunc(slices.Clone(nonvoters), func(id string) bool { return !known(id) })
	if sameVoters(servers, voters, nonvoters) {
		return false, nil
	}
	caughtUp := func(id string) bool {
		info, err := n.groupInfoAt(ctx, t.Node(id).Raft, gid)
		return err == nil && info.Last+catchUpSlack >= g.Raft.LastIndex()
	}
	c, ok := nextGroupChange(servers, voters, nonvoters, n.self.ID, n.gossipAlive(), caughtUp)
	if !ok {
		return false, nil
	}
	const timeout = 5 * time.Second
	id := hraft.ServerID(c.id)
	n.log.Info("membership: "+c.op, "group", gid, "node", c.id)
	switch c.op {
	case opAddNonvoter:
		return true, g.Raft.AddNonvoter(id, hraft.ServerAddress(t.Node(c.id).Raft), idx, timeout).Error()
	case opPromote:
		return true, g.Raft.AddVoter(id, hraft.ServerAddress(t.Node(c.id).Raft), idx, timeout).Error()
	case opDemote:
		return true, g.Raft.DemoteVoter(id, idx, timeout).Error()
	case opRemove:
		return true, g.Raft.RemoveServer(id, idx, timeout).Error()
	case opTransfer:
		return true, transfer(g, c.id, t.Node(c.id).Raft)
	}
	return false, nil
}

// Changes of a group's configuration.
const (
	opAddNonvoter = "add a non-voter"
	opPromote     = "promote a caught-up non-voter"
	opDemote      = "demote a voter"
	opRemove      = "remove a member"
	opTransfer    = "hand the leadership over before leaving the group"
)

// groupChange is one change of a group's configuration: op on node id.
type groupChange struct {
	op, id string
}

// nextGroupChange decides the next change of a group's configuration
// (servers, as its leader self has it) towards voters and nonvoters. The
// order keeps the group safe and available:
//
//  1. a member it lacks joins as a non-voter (it catches up without
//     counting towards the quorum);
//  2. a non-voter to vote is promoted once it has caught up;
//  3. a voter not to vote is demoted or removed once every voter to be
//     is one (so the group never shrinks before it grew), or at once if
//     it is dead (a dead voter only weighs on the quorum); if it is the
//     leader itself, the leadership goes to a caught-up voter to be
//     first;
//  4. a non-voter not to be a member is removed.
//
// No change is made after which the voters could not form a quorum of
// the nodes known alive. ok is false when no change can be made now.
func nextGroupChange(servers []hraft.Server, voters, nonvoters []string, self string,
	alive map[string]bool, caughtUp func(id string) bool) (c groupChange, ok bool) {
	member := func(id string) *hraft.Server {
		for i := range servers {
			if string(servers[i].ID) == id {
				return &servers[i]
			}
		}
		return nil
	}
	cur := []string(votersOf(servers))
	quorate := func(vs []string) bool {
		up := 0
		for _, v := range vs {
			if alive[v] {
				up++
			}
		}
		return len(vs) > 0 && up >= len(vs)/2+1
	}
	// 1.
	for _, id := range append(slices.Clone(voters), nonvoters...) {
		if member(id) == nil {
			return groupChange{opAddNonvoter, id}, true
		}
	}
	// 2.
	for _, id := range voters {
		if s := member(id); s.Suffrage != hraft.Voter && alive[id] &&
			quorate(append(slices.Clone(cur), id)) && caughtUp(id) {
			return groupChange{opPromote, id}, true
		}
	}
	// 3.
	allIn := !slices.ContainsFunc(voters, func(id string) bool { return member(id).Suffrage != hraft.Voter })
	leaving := slices.DeleteFunc(slices.Clone(cur), func(v string) bool { return slices.Contains(voters, v) })
	slices.SortStableFunc(leaving, func(a, b string) int { return boolInt(alive[a]) - boolInt(alive[b]) })
	for _, v := range leaving {
		if alive[v] && !allIn {
			continue
		}
		if !quorate(slices.DeleteFunc(slices.Clone(cur), func(x string) bool { return x == v })) {
			continue
		}
		if v == self {
			for _, to := range voters {
				if alive[to] && slices.Contains(cur, to) && caughtUp(to) {
					return groupChange{opTransfer, to}, true
				}
			}
			return groupChange{}, false
		}
		if slices.Contains(nonvoters, v) {
			return groupChange{opDemote, v}, true
		}
		return groupChange{opRemove, v}, true
	}
	// 4.
	for _, s := range servers {
		id := string(s.ID)
		if s.Suffrage != hraft.Voter && !slices.Contains(voters, id) && !slices.Contains(nonvoters, id) {
			return groupChange{opRemove, id}, true
		}
	}
	return groupChange{}, false
}

// dropStaleReplicas closes the replicas this node no longer holds and
// deletes their data: a shard the topology dropped, or one whose leader
// has committed a configuration without this node. The topology alone
// is not enough for the latter: this node's copy may be older than the
// one that placed the replica here (while the configuration group
// replays its log), and a member that deleted its log could vote a
// committed entry away.
func (n *clusterNode) dropStaleReplicas(t *Topology) {
	known := max(t.LastShardID, maxShardID(t))
	for id, r := range n.route.Load().local {
		sh := t.Shard(id)
		if sh != nil && slices.Contains(sh.Replicas, n.self.ID) {
			continue
		}
		if sh == nil {
			// Shard IDs are never reused: a shard missing from a topology
			// that has seen its ID was dropped.
			if id > known {
				continue
			}
			n.log.Info("membership: the shard was dropped; deleting its replica", "shard", id)
			n.deleteReplica(id, r)
			continue
		}
		if r.Group == nil || r.Group.IsLeader() {
			continue // the leader hands over first (reconcileGroup)
		}
		l := r.Group.Leader()
		if l == "" {
			n.mu.Lock()
			l = n.mu.hints[id]
			n.mu.Unlock()
		}
		node := t.Node(l)
		if node == nil || l == n.self.ID {
			continue
		}
		info, err := n.groupInfoAt(context.Background(), node.Raft, id)
		if err != nil || !info.Leader || !info.Committed ||
			slices.ContainsFunc(info.Servers, func(s hraft.Server) bool { return string(s.ID) == n.self.ID }) {
			continue
		}
		n.log.Info("membership: this node left the shard's group; deleting its replica", "shard", id)
		n.deleteReplica(id, r)
	}
}

// openMissingReplicas opens the replicas t places here that are not
// open: loop opens them when the epoch changes, but a replica closed by
// dropStaleReplicas just before a newer topology placed it here again
// would otherwise wait for the next change.
func (n *clusterNode) openMissingReplicas(t *Topology) {
	if n.openPlacedReplicas(t) {
		n.refreshRoute()
	}
}

// deleteReplica closes a replica and deletes its data, unless the
// current topology places it here again.
func (n *clusterNode) deleteReplica(id shard.ID, r *shard.Replica) {
	n.closeMu.Lock()
	defer n.closeMu.Unlock()
	if n.closed {
		return
	}
	if t := n.cfgFSM.current(); t != nil && !n.mship.removed.Load() {
		if sh := t.Shard(id); sh != nil && slices.Contains(sh.Replicas, n.self.ID) {
			return
		}
	}
	n.mu.Lock()
	if n.mu.replicas[id] != r {
		n.mu.Unlock()
		return
	}
	delete(n.mu.replicas, id)
	delete(n.mu.pinned, id)
	n.mu.Unlock()
	n.refreshRoute()
	if err := r.Close(); err != nil {
		n.log.Warn("membership: closing a replica", "shard", id, "err", err)
	}
	if err := os.RemoveAll(n.shardDir(id)); err != nil {
		n.log.Warn("membership: deleting a replica's data", "shard", id, "err", err)
	}
}

func (n *clusterNode) shardDir(id shard.ID) string {
	return filepath.Join(n.dir, "raft", "shard-"+strconv.Itoa(int(id)))
}

// leaveRemoved ends this node's part in the cluster once it is removed:
// its replicas go (no group holds them any more), a marker keeps it from
// starting again on this data, and it leaves the gossip. The server keeps
// running (answering -CLUSTERDOWN) until it is stopped.
func (n *clusterNode) leaveRemoved(t *Topology) {
	if !n.mship.removed.CompareAndSwap(false, true) {
		return
	}
	n.log.Warn("membership: this node was removed from the cluster")
	for id, r := range n.route.Load().local {
		n.deleteReplica(id, r)
	}
	if err := os.WriteFile(n.removedMarker(), []byte("removed at epoch "+strconv.FormatUint(t.Epoch, 10)+"\n"), 0o640); err != nil {
		n.log.Error("membership: writing the removed marker", "err", err)
	}
	n.ml.Leave(time.Second)
	close(n.mship.removedCh)
}

// checkRemovedByPeers asks the other nodes, every few seconds, whether
// this draining node was removed, when it has lost contact with the
// configuration group: the controller removes it from the group right
// after the topology change, which may not reach it.
func (n *clusterNode) checkRemovedByPeers(t *Topology) {
	g := n.cfgGroup.Load()
	if !slices.Contains(t.Draining, n.self.ID) || g == nil || g.IsLeader() ||
		time.Since(g.Raft.LastContact()) < 2*time.Second || time.Since(n.mship.lastPeerCheck) < 2*time.Second {
		return
	}
	n.mship.lastPeerCheck = time.Now()
	for _, x := range t.Nodes {
		if x.ID == n.self.ID {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, out, err := n.rpcCall(ctx, x.Raft, &rpcRequest{Kind: rpcTopology}, nil)
		cancel()
		var peer *Topology
		if err != nil || json.Unmarshal(out, &peer) != nil || peer == nil {
			continue
		}
		if slices.Contains(peer.Removed, n.self.ID) {
			n.mship.noticeRemoved.Store(true)
			n.kickMembership()
		}
		return
	}
}

// Errors of removeNode.
var (
	// ErrUnknownNode: no node of the cluster has that ID.
	ErrUnknownNode = errors.New("cluster: no such node")
	// ErrTooFewNodes: removing the node would leave shards fewer replicas.
	ErrTooFewNodes = errors.New("cluster: too few nodes would remain")
)

// removeNode starts the removal of node id: it is marked draining, and
// the controller moves its leaderships, replicas and vote to other nodes
// before it leaves the groups and the topology (see the top of this
// file). It returns once the mark is committed; waitNodeRemoved waits for
// the end. It refuses a removal that would leave shards fewer replicas
// than they have (fewer nodes than cluster-replicas). Safe for concurrent
// use; a node already removed or draining is not an error.
func (n *clusterNode) removeNode(id string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	_, err := n.changeTopology(ctx, func(t *Topology) error {
		if slices.Contains(t.Removed, id) || slices.Contains(t.Draining, id) {
			return errNoChange
		}
		if t.Node(id) == nil {
			return fmt.Errorf("%w: %s", ErrUnknownNode, id)
		}
		staying := 0
		for _, x := range t.Nodes {
			if !slices.Contains(t.Draining, x.ID) {
				staying++
			}
		}
		if staying-1 < min(n.replicas, staying) {
			return fmt.Errorf("%w: removing %s would leave %d nodes, fewer than the %d replicas of a shard", ErrTooFewNodes, id, staying-1, min(n.replicas, staying))
		}
		t.Draining = append(t.Draining, id)
		return nil
	})
	if err == nil {
		n.log.Info("membership: removing node", "node", id)
	}
	return err
}

// waitNodeRemoved waits until node id has left the cluster.
func (n *clusterNode) waitNodeRemoved(ctx context.Context, id string) error {
	for {
		if id == n.self.ID && n.mship.removed.Load() {
			return nil
		}
		if t := n.cfgFSM.current(); t != nil && slices.Contains(t.Removed, id) && id != n.self.ID {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-n.stop:
			return ErrServerClosed
		case <-n.mship.removedCh:
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// addNode has this node join the gossip of the node at gossipAddr (a
// node started without --join, waiting to be admitted), and waits until
// the controller has admitted it.
func (n *clusterNode) addNode(gossipAddr string) error {
	if _, _, err := splitHostPortStrict(gossipAddr); err != nil {
		gossipAddr = gossipAddr + ":" + n.s.cfg.Get("gossip-port")
	}
	if _, err := n.ml.Join([]string{gossipAddr}); err != nil {
		return fmt.Errorf("cluster: could not reach the gossip of %s: %w", gossipAddr, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		t := n.cfgFSM.current()
		for _, m := range n.gossipMembers() {
			if m.addr != gossipAddr {
				continue
			}
			meta := m.meta
			switch {
			case t != nil && t.Node(meta.ID) != nil:
				return nil
			case t != nil && slices.Contains(t.Removed, meta.ID):
				return fmt.Errorf("cluster: node %s at %s was removed from this cluster; start it on an empty data dir", meta.ID, gossipAddr)
			case meta.Formed:
				return fmt.Errorf("cluster: node %s at %s belongs to another cluster", meta.ID, gossipAddr)
			}
		}
		select {
		case <-n.stop:
			return ErrServerClosed
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("cluster: the node at %s was not admitted within 30 s", gossipAddr)
}

func splitHostPortStrict(a string) (string, string, error) {
	i := strings.LastIndexByte(a, ':')
	if i < 0 || strings.HasSuffix(a, "]") {
		return "", "", errors.New("no port")
	}
	return a[:i], a[i+1:], nil
}

// Drain removes this node from the cluster before it stops (SIGTERM with
// shutdown-drain yes): its leaderships and replicas move to other nodes
// first, so that no shard is short of a replica while it is gone. It
// returns once the node is removed, or ctx ends.
func (s *Server) Drain(ctx context.Context) error {
	n := s.node
	if n == nil {
		return nil
	}
	if err := n.removeNode(n.self.ID); err != nil {
		return err
	}
	return n.waitNodeRemoved(ctx, n.self.ID)
}

// DrainOnShutdown reports whether the node drains before it stops
// (shutdown-drain).
func (s *Server) DrainOnShutdown() bool { return s.node != nil && s.cfg.Bool("shutdown-drain") }
