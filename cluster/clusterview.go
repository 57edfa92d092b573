package cluster

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/flotilla-db/flotilla/shard"
)

// How a cluster of Raft groups looks to Redis Cluster clients. A Flotilla
// node may lead some shards and follow others, where a Redis Cluster node
// is one master or one replica. So CLUSTER NODES shows, per node, one
// master line (ID: the node's ID, slots: those of the shards it leads)
// when it leads any shard, and one replica line per shard it follows (ID
// derived from the node's ID and the shard's), a slave of that shard's
// leader. CLUSTER SLOTS and SHARDS use the same IDs, so clients that join
// the two (redis-benchmark --cluster) find each master.

// viewLine is one line of CLUSTER NODES.
type viewLine struct {
	id       string
	node     *NodeInfo
	masterID string // "-" for a master
	myself   bool
	master   bool
	failed   bool
	slots    []SlotRange
	shard    shard.ID // for a replica line
	offset   uint64   // applied index, for replication-offset
}

// viewShard is one shard as clients see it.
type viewShard struct {
	info     *ShardInfo
	leader   string // node ID of the leader, or of the stand-in
	known    bool   // the leader is known (not electing)
	replicas []string
}

// replicaLineID is the CLUSTER NODES ID of node's replica line for shard
// id: stable for the pair.
func replicaLineID(node string, id shard.ID) string {
	sum := sha1.Sum([]byte(node + "/replica/" + strconv.Itoa(int(id))))
	return hex.EncodeToString(sum[:])
}

// shardHexID is the 40-hex-digit shard ID of CLUSTER SHARDS / MYSHARDID.
func shardHexID(id shard.ID) string {
	sum := sha1.Sum([]byte("flotilla/shard/" + strconv.Itoa(int(id))))
	return hex.EncodeToString(sum[:])
}

// clusterView builds the shards and lines as this node sees them now.
func (n *clusterNode) clusterView() (*routeTable, []viewShard, []viewLine) {
	rt := n.route.Load()
	if rt.topo == nil {
		return rt, nil, nil
	}
	dead := n.deadNodes()
	var shards []viewShard
	for i := range rt.topo.Shards {
		sh := &rt.topo.Shards[i]
		v := viewShard{info: sh, replicas: sh.Replicas}
		if l := rt.leaderOf(sh.ID); l != "" && slices.Contains(sh.Replicas, l) && !dead[l] {
			v.leader, v.known = l, true
		} else {
			// No leader known (an election is on): show a live replica,
			// so that every slot keeps an address clients can reach; it
			// answers -CLUSTERDOWN, then -MOVED once the shard has a
			// leader.
			v.leader = sh.Replicas[0]
			for _, r := range sh.Replicas {
				if !dead[r] {
					v.leader = r
					break
				}
			}
		}
		shards = append(shards, v)
	}
	masters := map[string]*viewLine{}
	var lines []viewLine
	var order []string
	for _, v := range shards {
		if _, ok := masters[v.leader]; !ok {
			masters[v.leader] = &viewLine{id: v.leader, node: rt.topo.Node(v.leader), masterID: "-", master: true, failed: dead[v.leader]}
			order = append(order, v.leader)
		}
		m := masters[v.leader]
		m.slots = append(m.slots, v.info.Slots...)
	}
	for _, id := range order {
		m := masters[id]
		slices.SortFunc(m.slots, func(a, b SlotRange) int { return a.Start - b.Start })
		lines = append(lines, *m)
	}
	for _, v := range shards {
		for _, r := range v.replicas {
			if r == v.leader {
				continue
			}
			l := viewLine{id: replicaLineID(r, v.info.ID), node: rt.topo.Node(r), masterID: v.leader, shard: v.info.ID, failed: dead[r]}
			if rep := rt.local[v.info.ID]; rep != nil && r == n.self.ID {
				l.offset = rep.FSM.LastApplied()
			}
			lines = append(lines, l)
		}
	}
	// myself: the master line if this node leads, else its first replica
	// line.
	for i := range lines {
		if lines[i].node != nil && lines[i].node.ID == n.self.ID {
			lines[i].myself = true
			break
		}
	}
	return rt, shards, lines
}

// deadNodes returns the nodes memberlist considers dead or gone. A node
// it does not know of counts as dead only once this node has been in the
// gossip for a while (just after a restart, every peer is unknown).
func (n *clusterNode) deadNodes() map[string]bool {
	out := map[string]bool{}
	known := map[string]bool{}
	// The gossip events' copies: memberlist.Members hands out nodes its
	// goroutines go on writing.
	for name, m := range n.gossipMembers() {
		known[name] = true
		if m.state == memberlist.StateDead || m.state == memberlist.StateLeft {
			out[name] = true
		}
	}
	if t := n.route.Load().topo; t != nil && time.Since(n.started) > 10*time.Second {
		for _, node := range t.Nodes {
			if !known[node.ID] {
				out[node.ID] = true
			}
		}
	}
	return out
}

func splitHostPort(addr string) (string, int) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return addr, 0
	}
	port, _ := strconv.Atoi(p)
	return h, port
}

func (l *viewLine) busPort() int {
	if l.node == nil {
		return 0
	}
	_, p := splitHostPort(l.node.Raft)
	return p
}

// clusterNodesText renders CLUSTER NODES as Redis's nodes.conf lines.
func (n *clusterNode) clusterNodesText() string {
	rt, _, lines := n.clusterView()
	epoch := "0"
	if rt.topo != nil {
		epoch = strconv.FormatUint(rt.topo.Epoch, 10)
	}
	var b strings.Builder
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	for _, l := range lines {
		ip, port := "", 0
		if l.node != nil {
			ip, port = splitHostPort(l.node.Addr)
		}
		b.WriteString(l.id)
		b.WriteByte(' ')
		b.WriteString(ip + ":" + strconv.Itoa(port) + "@" + strconv.Itoa(l.busPort()))
		b.WriteByte(' ')
		var flags []string
		if l.myself {
			flags = append(flags, "myself")
		}
		if l.master {
			flags = append(flags, "master")
		} else {
			flags = append(flags, "slave")
		}
		if l.failed {
			flags = append(flags, "fail")
		}
		b.WriteString(strings.Join(flags, ","))
		b.WriteByte(' ')
		b.WriteString(l.masterID)
		b.WriteString(" 0 ")
		if l.myself {
			b.WriteString("0")
		} else {
			b.WriteString(now)
		}
		b.WriteString(" " + epoch + " ")
		if l.failed {
			b.WriteString("disconnected")
		} else {
			b.WriteString("connected")
		}
		for _, r := range l.slots {
			b.WriteByte(' ')
			if r.Start == r.End {
				b.WriteString(strconv.Itoa(r.Start))
			} else {
				b.WriteString(strconv.Itoa(r.Start) + "-" + strconv.Itoa(r.End))
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func (c *conn) clusterNODES() {
	c.w.WriteVerbatim("txt", c.s.node.clusterNodesText())
}

// clusterSLOTS: per slot range, the leader first, then the other
// replicas, as Redis 7.0 (ip, port, id, and an empty map of extra
// endpoint details).
func (c *conn) clusterSLOTS() {
	rt, shards, _ := c.s.node.clusterView()
	dead := c.s.node.deadNodes()
	type rng struct {
		r SlotRange
		v viewShard
	}
	var ranges []rng
	for _, v := range shards {
		for _, r := range v.info.Slots {
			ranges = append(ranges, rng{r, v})
		}
	}
	slices.SortFunc(ranges, func(a, b rng) int { return a.r.Start - b.r.Start })
	w := c.w
	w.WriteArray(len(ranges))
	for _, x := range ranges {
		// Failed replicas are left out, as Redis does: clients then stop
		// dialling a dead node.
		nodes := []string{x.v.leader}
		for _, r := range x.v.replicas {
			if r != x.v.leader && !dead[r] {
				nodes = append(nodes, r)
			}
		}
		w.WriteArray(2 + len(nodes))
		w.WriteInt(int64(x.r.Start))
		w.WriteInt(int64(x.r.End))
		for i, id := range nodes {
			info := rt.topo.Node(id)
			ip, port := splitHostPort(info.Addr)
			w.WriteArray(4)
			w.WriteBulkString(ip)
			w.WriteInt(int64(port))
			if i == 0 {
				w.WriteBulkString(id)
			} else {
				w.WriteBulkString(replicaLineID(id, x.v.info.ID))
			}
			w.WriteMap(0)
		}
	}
}

func (c *conn) clusterSHARDS() {
	rt, shards, _ := c.s.node.clusterView()
	dead := c.s.node.deadNodes()
	w := c.w
	w.WriteArray(len(shards))
	for _, v := range shards {
		w.WriteMap(2)
		w.WriteBulkString("slots")
		w.WriteArray(2 * len(v.info.Slots))
		for _, r := range v.info.Slots {
			w.WriteInt(int64(r.Start))
			w.WriteInt(int64(r.End))
		}
		w.WriteBulkString("nodes")
		nodes := []string{v.leader}
		for _, r := range v.replicas {
			if r != v.leader {
				nodes = append(nodes, r)
			}
		}
		w.WriteArray(len(nodes))
		for i, id := range nodes {
			info := rt.topo.Node(id)
			ip, port := splitHostPort(info.Addr)
			lineID, role := id, "master"
			if i > 0 {
				lineID, role = replicaLineID(id, v.info.ID), "replica"
			}
			var offset uint64
			if rep := rt.local[v.info.ID]; rep != nil && id == c.s.node.self.ID {
				offset = rep.FSM.LastApplied()
			}
			health := "online"
			if dead[id] {
				health = "fail"
			}
			w.WriteMap(7)
			w.WriteBulkString("id")
			w.WriteBulkString(lineID)
			w.WriteBulkString("port")
			w.WriteInt(int64(port))
			w.WriteBulkString("ip")
			w.WriteBulkString(ip)
			w.WriteBulkString("endpoint")
			w.WriteBulkString(ip)
			w.WriteBulkString("role")
			w.WriteBulkString(role)
			w.WriteBulkString("replication-offset")
			w.WriteInt(int64(offset))
			w.WriteBulkString("health")
			w.WriteBulkString(health)
		}
	}
}

// clusterINFO: cluster_state is ok when every shard has a leader this
// node knows of.
func (c *conn) clusterINFO() {
	rt, shards, lines := c.s.node.clusterView()
	ok := rt.topo != nil
	slotsOK, slotsFail := 0, 0
	for _, v := range shards {
		n := 0
		for _, r := range v.info.Slots {
			n += r.End - r.Start + 1
		}
		if v.known {
			slotsOK += n
		} else {
			slotsFail += n
			ok = false
		}
	}
	state := "fail"
	if ok {
		state = "ok"
	}
	masters := 0
	for _, l := range lines {
		if l.master && len(l.slots) > 0 {
			masters++
		}
	}
	var epoch uint64
	known := 0
	if rt.topo != nil {
		epoch = rt.topo.Epoch
		known = len(rt.topo.Nodes)
	}
	var b strings.Builder
	for _, kv := range [][2]string{
		{"cluster_state", state},
		{"cluster_slots_assigned", strconv.Itoa(slotsOK + slotsFail)},
		{"cluster_slots_ok", strconv.Itoa(slotsOK)},
		{"cluster_slots_pfail", "0"},
		{"cluster_slots_fail", strconv.Itoa(slotsFail)},
		{"cluster_known_nodes", strconv.Itoa(known)},
		{"cluster_size", strconv.Itoa(masters)},
		{"cluster_current_epoch", strconv.FormatUint(epoch, 10)},
		{"cluster_my_epoch", strconv.FormatUint(epoch, 10)},
		{"cluster_stats_messages_sent", "0"},
		{"cluster_stats_messages_received", "0"},
		{"total_cluster_links_buffer_limit_exceeded", "0"},
	} {
		b.WriteString(kv[0] + ":" + kv[1] + "\r\n")
	}
	c.w.WriteVerbatim("txt", b.String())
}

// clusterMYSHARDID: the shard this node leads, else the first it holds.
func (c *conn) clusterMYSHARDID() {
	rt := c.s.node.route.Load()
	var first shard.ID
	if rt.topo != nil {
		for _, sh := range rt.topo.Shards {
			rep := rt.local[sh.ID]
			if rep == nil {
				continue
			}
			if first == 0 {
				first = sh.ID
			}
			if rep.Group != nil && rep.Group.IsLeader() {
				first = sh.ID
				break
			}
		}
	}
	c.w.WriteBulkString(shardHexID(first))
}

// clusterREPLICAS lists the replica lines of a master line.
func (c *conn) clusterREPLICAS(id string) {
	_, _, lines := c.s.node.clusterView()
	found := false
	for _, l := range lines {
		if l.id == id {
			found = true
		}
	}
	if !found {
		c.w.WriteError("ERR Unknown node " + id)
		return
	}
	text := c.s.node.clusterNodesText()
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		f := strings.Fields(line)
		if len(f) > 3 && f[3] == id {
			out = append(out, line)
		}
	}
	c.w.WriteArray(len(out))
	for _, l := range out {
		c.w.WriteBulkString(l)
	}
}

// slotReplica returns the local replica holding slot, for the commands
// that look at a slot's keys (COUNTKEYSINSLOT, GETKEYSINSLOT): a node
// answers for the slots it holds, as a Redis replica does.
func (c *conn) slotReplica(slot int) *shard.Replica {
	rt := c.s.node.route.Load()
	if rt.owners == nil {
		return nil
	}
	return rt.local[rt.owners[slot]]
}

// clusterFAILOVER makes this node the leader of one shard it follows, as
// a Redis replica takes over from its master: the lowest-numbered one (a
// Flotilla node may follow several). Its leader hands over (a Raft
// leadership transfer, which waits for this node to hold the whole log);
// the reply waits a few seconds for it. The shard then stays here:
// rebalancing does not move it back.
func (c *conn) clusterFAILOVER() {
	n := c.s.node
	rt := n.route.Load()
	var rep *shard.Replica
	for _, r := range rt.local {
		if r.Group != nil && !r.Group.IsLeader() && (rep == nil || r.ID() < rep.ID()) {
			rep = r
		}
	}
	if rep == nil {
		c.w.WriteError("ERR You should send CLUSTER FAILOVER to a replica")
		return
	}
	n.mu.Lock()
	n.mu.pinned[rep.ID()] = true
	n.mu.Unlock()
	if leader := rep.Leader(); leader != "" {
		n.askTransfer(leader, rep.ID())
	}
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) && !rep.IsLeader() {
		time.Sleep(20 * time.Millisecond)
	}
	c.w.WriteOK()
}

// transferRequest asks a shard's leader, over gossip, to hand the
// shard's leadership to a node.
type transferRequest struct {
	Shard shard.ID `json:"shard"`
	To    string   `json:"to"`
	// Pin, when set, makes the message a note to node To rather than a
	// request to the leader: keep (true) or stop keeping (false) the
	// shard's leadership against rebalancing (FLOTILLA FAILOVER).
	Pin *bool `json:"pin,omitempty"`
}

func (n *clusterNode) askTransfer(leader string, id shard.ID) {
	b, _ := json.Marshal(transferRequest{Shard: id, To: n.self.ID})
	for _, m := range n.ml.Members() {
		if m.Name == leader {
			n.ml.SendReliable(m, b)
			return
		}
	}
}

// handleTransfer runs on the leader: it transfers the shard's leadership
// to the asking node.
func (n *clusterNode) handleTransfer(msg []byte) {
	var req transferRequest
	if json.Unmarshal(msg, &req) != nil {
		return
	}
	if req.Pin != nil {
		n.handlePin(req)
		return
	}
	rt := n.route.Load()
	rep := rt.local[req.Shard]
	if rep == nil || rt.topo == nil || !rep.Group.IsLeader() {
		return
	}
	node := rt.topo.Node(req.To)
	if node == nil {
		return
	}
	n.log.Info("transferring leadership on request", "shard", req.Shard, "to", req.To)
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		rep.TransferLeadership(req.To, node.Raft)
	}()
}
