package cluster

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/flotilla-db/flotilla/engine"
	"github.com/flotilla-db/flotilla/shard"
)

// The FLOTILLA commands: Flotilla's own administration, what cmd/flotillactl
// talks to. Views (STATUS, MOVES) reply with a JSON bulk string, operations
// with +OK or an integer; errors are -ERR <text>, and FAILOVER sent to a
// node that does not lead the shard answers
//
//	-NOTLEADER <shard-id> <leader ip:port>
//
// (or -TRYAGAIN when the shard has no leader), so that the caller sends it
// again there. Every subcommand is an admin command (COMMAND INFO shows it)
// refused inside MULTI.

func init() {
	serverHandlers["flotilla|status"] = cmdFLOTILLASTATUS
	serverHandlers["flotilla|failover"] = cmdFLOTILLAFAILOVER
	serverHandlers["flotilla|slots"] = cmdFLOTILLASLOTS
	serverHandlers["flotilla|moves"] = cmdFLOTILLAMOVES
	serverHandlers["flotilla|rebalance"] = cmdFLOTILLAREBALANCE
	serverHandlers["flotilla|node"] = cmdFLOTILLANODE
	serverHandlers["flotilla|help"] = cmdFLOTILLAHELP
}

// FlotillaStatus is the reply of FLOTILLA STATUS: the cluster as one node
// sees it. Replicas covers only the replicas this node holds; a caller
// that wants every replica's Raft state asks every node.
type FlotillaStatus struct {
	Node       string          `json:"node"` // the answering node's ID
	Addr       string          `json:"addr"` // its RESP address
	Epoch      uint64          `json:"epoch"`
	Controller string          `json:"controller"` // the configuration group's leader, "" when unknown
	Nodes      []NodeStatus    `json:"nodes"`
	Shards     []ShardStatus   `json:"shards"`
	Replicas   []ReplicaStatus `json:"replicas"`
}

// NodeStatus is one node of the topology.
type NodeStatus struct {
	ID     string `json:"id"`
	Zone   string `json:"zone"`
	Addr   string `json:"addr"`
	Gossip string `json:"gossip"`
	// State is the node's gossip state as the answering node sees it:
	// "alive", "suspect", "dead", "left", or "unknown" (not in the gossip).
	State       string     `json:"state"`
	Alive       bool       `json:"alive"`
	ConfigVoter bool       `json:"config_voter"`
	Shards      []shard.ID `json:"shards"` // replicas held
	Leads       []shard.ID `json:"leads"`  // shards led, as the answering node knows
}

// ShardStatus is one shard of the topology.
type ShardStatus struct {
	ID       shard.ID    `json:"id"`
	Slots    []SlotRange `json:"slots"`
	Replicas []string    `json:"replicas"` // node IDs, the preferred leader first
	Leader   string      `json:"leader"`   // node ID, "" when unknown
}

// ReplicaStatus is the Raft state of one replica held by the answering
// node.
type ReplicaStatus struct {
	Shard        shard.ID `json:"shard"`
	Role         string   `json:"role"`       // "leader" or "follower"
	RaftState    string   `json:"raft_state"` // "leader", "follower", "candidate", "shutdown"
	Term         uint64   `json:"term"`
	CommitIndex  uint64   `json:"commit_index"`
	AppliedIndex uint64   `json:"applied_index"`
	LastIndex    uint64   `json:"last_index"`
	// LastContactMs is how long ago the leader was last heard from: 0 on
	// the leader, -1 when never.
	LastContactMs int64 `json:"last_contact_ms"`
	Keys          int   `json:"keys"`
	// Lag is how many log entries this replica trails by as far as it
	// knows: 0 on the leader, committed but not yet applied entries on a
	// follower. Entries the leader has not sent yet show only against the
	// leader's indexes: flotillactl compares the last indexes of the
	// leader's and the follower's replies.
	Lag uint64 `json:"lag"`
}

// flotillaNode returns the node's cluster part, or writes Redis's error for
// a node without cluster support and returns nil.
func (c *conn) flotillaNode() *clusterNode {
	if c.s.node == nil {
		c.w.WriteError("ERR This instance has cluster support disabled")
	}
	return c.s.node
}

// writeOpError writes err as -ERR <text>, on one line.
func (c *conn) writeOpError(err error) {
	msg := strings.NewReplacer("\r", " ", "\n", " ").Replace(err.Error())
	c.w.WriteError("ERR " + msg)
}

func cmdFLOTILLASTATUS(c *conn, args [][]byte, inExec bool) {
	n := c.flotillaNode()
	if n == nil {
		return
	}
	b, _ := json.Marshal(n.status())
	c.w.WriteBulk(b)
}

// status builds this node's FLOTILLA STATUS.
func (n *clusterNode) status() *FlotillaStatus {
	rt := n.route.Load()
	st := &FlotillaStatus{
		Node:     n.self.ID,
		Addr:     n.self.Addr,
		Nodes:    []NodeStatus{},
		Shards:   []ShardStatus{},
		Replicas: []ReplicaStatus{},
	}
	if g := n.cfgGroup.Load(); g != nil {
		st.Controller = g.Leader()
	}
	t := rt.topo
	if t == nil {
		return st
	}
	st.Epoch = t.Epoch
	states := map[string]string{}
	for name, m := range n.gossipMembers() {
		states[name] = gossipState(m.state)
	}
	leaders := map[shard.ID]string{}
	for _, sh := range t.Shards {
		if l := rt.leaderOf(sh.ID); slices.Contains(sh.Replicas, l) {
			leaders[sh.ID] = l
		}
		st.Shards = append(st.Shards, ShardStatus{ID: sh.ID, Slots: sh.Slots, Replicas: sh.Replicas, Leader: leaders[sh.ID]})
	}
	for _, node := range t.Nodes {
		ns := NodeStatus{
			ID: node.ID, Zone: node.Zone, Addr: node.Addr, Gossip: node.Gossip,
			State:       cmpOr(states[node.ID], "unknown"),
			ConfigVoter: slices.Contains(t.ConfigVoters, node.ID),
			Shards:      []shard.ID{},
			Leads:       []shard.ID{},
		}
		ns.Alive = ns.State == "alive"
		for _, sh := range t.Shards {
			if slices.Contains(sh.Replicas, node.ID) {
				ns.Shards = append(ns.Shards, sh.ID)
			}
			if leaders[sh.ID] == node.ID {
				ns.Leads = append(ns.Leads, sh.ID)
			}
		}
		st.Nodes = append(st.Nodes, ns)
	}
	ids := make([]shard.ID, 0, len(rt.local))
	for id := range rt.local {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if rs, ok := replicaStatus(rt.local[id]); ok {
			st.Replicas = append(st.Replicas, rs)
		}
	}
	return st
}

// replicaStatus reads one local replica's Raft state and key count.
func replicaStatus(rep *shard.Replica) (ReplicaStatus, bool) {
	if rep == nil || rep.Group == nil {
		return ReplicaStatus{}, false
	}
	r := rep.Group.Raft
	state := r.State()
	rs := ReplicaStatus{
		Shard:         rep.ID(),
		Role:          "follower",
		RaftState:     strings.ToLower(state.String()),
		Term:          r.CurrentTerm(),
		CommitIndex:   r.CommitIndex(),
		AppliedIndex:  r.AppliedIndex(),
		LastIndex:     r.LastIndex(),
		LastContactMs: -1,
	}
	if rep.IsLeader() {
		rs.Role = "leader"
		rs.LastContactMs = 0
	} else {
		if t := r.LastContact(); !t.IsZero() {
			rs.LastContactMs = time.Since(t).Milliseconds()
		}
		if rs.CommitIndex > rs.AppliedIndex {
			rs.Lag = rs.CommitIndex - rs.AppliedIndex
		}
	}
	rep.BeginRead()
	rs.Keys = rep.DB().Len()
	rep.EndRead()
	return rs, true
}

func gossipState(s memberlist.NodeStateType) string {
	switch s {
	case memberlist.StateAlive:
		return "alive"
	case memberlist.StateSuspect:
		return "suspect"
	case memberlist.StateDead:
		return "dead"
	case memberlist.StateLeft:
		return "left"
	}
	return "unknown"
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// cmdFLOTILLAFAILOVER: FLOTILLA FAILOVER <shard-id> [<node-id>], answered
// by the shard's leader. It hands the leadership to node-id, or to the
// most caught-up other replica, through a Raft leadership transfer (which
// lets everything in flight commit first, see shard.Replica.
// TransferLeadership), and replies once the transfer is done. The new
// leader keeps the shard, as after CLUSTER FAILOVER: rebalancing does not
// move it back to its preferred replica.
func cmdFLOTILLAFAILOVER(c *conn, args [][]byte, inExec bool) {
	if len(args) > 4 {
		c.w.WriteError(errSubcommandSyntax(args))
		return
	}
	n := c.flotillaNode()
	if n == nil {
		return
	}
	id, ok := parseShardID(args[2])
	if !ok {
		c.w.WriteError("ERR invalid shard id '" + errorArg(args[2], 128) + "'")
		return
	}
	rt := n.route.Load()
	if rt.topo == nil {
		c.w.WriteError(errNotFormed)
		return
	}
	sh := rt.topo.Shard(id)
	if sh == nil {
		c.w.WriteError("ERR unknown shard " + strconv.Itoa(int(id)))
		return
	}
	target := ""
	if len(args) == 4 {
		target = string(args[3])
		if !slices.Contains(sh.Replicas, target) {
			if rt.topo.Node(target) == nil {
				c.w.WriteError("ERR unknown node " + errorArg(args[3], 128))
			} else {
				c.w.WriteError("ERR node " + target + " holds no replica of shard " + strconv.Itoa(int(id)))
			}
			return
		}
	}
	rep := rt.local[id]
	if rep == nil || !rep.IsLeader() {
		leader := rt.leaderOf(id)
		if node := rt.topo.Node(leader); leader != "" && leader != n.self.ID && node != nil {
			c.w.WriteError("NOTLEADER " + strconv.Itoa(int(id)) + " " + node.Addr)
		} else {
			c.w.WriteError("TRYAGAIN shard " + strconv.Itoa(int(id)) + " has no leader right now")
		}
		return
	}
	if target == n.self.ID {
		// Already here: keep it here.
		n.pin(id, true)
		c.w.WriteOK()
		return
	}
	if target == "" {
		var err error
		if target, err = n.mostCaughtUp(sh); err != nil {
			c.writeOpError(err)
			return
		}
	}
	if err := n.failover(rep, rt.topo.Node(target)); err != nil {
		c.writeOpError(err)
		return
	}
	c.w.WriteOK()
}

// adminChangeTimeout bounds how long an admin command waits to commit its
// change of the configuration (no leader in the configuration group, or a
// node still replaying it after a restart): the client gets an error
// instead of a connection that hangs.
const adminChangeTimeout = 15 * time.Second

// errNotFormed answers the operations that need a topology before the
// cluster has formed.
const errNotFormed = "ERR the cluster is not formed yet"

// failover moves the leadership of rep's shard, led here, to node.
func (n *clusterNode) failover(rep *shard.Replica, node *NodeInfo) error {
	id := rep.ID()
	// The new leader must keep the shard (balanceLeaders would hand it
	// back to the preferred replica): tell it before it leads.
	if err := n.sendPin(node.ID, id, true); err != nil {
		return fmt.Errorf("node %s is not reachable: %v", node.ID, err)
	}
	wasPinned := n.pin(id, false)
	n.log.Info("transferring leadership on FLOTILLA FAILOVER", "shard", id, "to", node.ID)
	if err := rep.TransferLeadership(node.ID, node.Raft); err != nil {
		n.sendPin(node.ID, id, false)
		n.pin(id, wasPinned)
		return fmt.Errorf("leadership transfer of shard %d to %s: %v", id, node.ID, err)
	}
	// The transfer returns once the target was told to run its election;
	// wait (briefly) until this node knows the new leader, so that what
	// the caller asks next shows it.
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) && rep.Leader() != node.ID {
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// pin records whether this node keeps shard id's leadership against
// rebalancing (see balanceLeaders); it returns the previous setting.
func (n *clusterNode) pin(id shard.ID, on bool) (was bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	was = n.mu.pinned[id]
	if on {
		n.mu.pinned[id] = true
	} else {
		delete(n.mu.pinned, id)
	}
	return was
}

// sendPin tells node (over gossip) to keep, or not, shard id's leadership.
func (n *clusterNode) sendPin(node string, id shard.ID, on bool) error {
	if node == n.self.ID {
		n.pin(id, on)
		return nil
	}
	b, _ := json.Marshal(transferRequest{Shard: id, To: node, Pin: &on})
	for _, m := range n.ml.Members() {
		if m.Name == node {
			return n.ml.SendReliable(m, b)
		}
	}
	return errors.New("not in the gossip")
}

// handlePin runs on the node a FLOTILLA FAILOVER moves a leadership to.
func (n *clusterNode) handlePin(req transferRequest) {
	if req.To == n.self.ID {
		n.pin(req.Shard, *req.Pin)
	}
}

// mostCaughtUp picks the replica of sh, other than this node, that has
// applied the most of the shard's log, asking each replica's node for its
// FLOTILLA STATUS; ties go to the replica listed first (the preferred).
func (n *clusterNode) mostCaughtUp(sh *ShardInfo) (string, error) {
	type answer struct {
		applied uint64
		ok      bool
	}
	answers := make([]answer, len(sh.Replicas))
	t := n.route.Load().topo
	var wg sync.WaitGroup
	for i, id := range sh.Replicas {
		node := t.Node(id)
		if id == n.self.ID || node == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := n.peerStatus(node.Addr, time.Second)
			if err != nil {
				return
			}
			for _, r := range st.Replicas {
				if r.Shard == sh.ID {
					answers[i] = answer{applied: r.AppliedIndex, ok: true}
				}
			}
		}()
	}
	wg.Wait()
	best := -1
	for i, a := range answers {
		if a.ok && (best < 0 || a.applied > answers[best].applied) {
			best = i
		}
	}
	if best < 0 {
		return "", fmt.Errorf("no other replica of shard %d answers", sh.ID)
	}
	return sh.Replicas[best], nil
}

// peerStatus asks the node at addr (RESP) for its FLOTILLA STATUS,
// authenticating with this node's requirepass, dialling from this node's
// address.
func (n *clusterNode) peerStatus(addr string, timeout time.Duration) (*FlotillaStatus, error) {
	host, _ := splitHostPort(n.self.Addr)
	d := net.Dialer{Timeout: timeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP(host)}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(timeout))
	var req []byte
	pass := n.s.cfg.Get("requirepass")
	if pass != "" {
		req = appendRESPCommand(req, "AUTH", pass)
	}
	req = appendRESPCommand(req, "FLOTILLA", "STATUS")
	if _, err := nc.Write(req); err != nil {
		return nil, err
	}
	rd := newPeerReader(nc)
	if pass != "" {
		if _, err := rd.reply(); err != nil {
			return nil, err
		}
	}
	b, err := rd.reply()
	if err != nil {
		return nil, err
	}
	var st FlotillaStatus
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("FLOTILLA STATUS of %s: %v", addr, err)
	}
	return &st, nil
}

// cmdFLOTILLASLOTS: FLOTILLA SLOTS MOVE <ranges> <shard-id>; replies the
// move's ID.
func cmdFLOTILLASLOTS(c *conn, args [][]byte, inExec bool) {
	if !strings.EqualFold(string(args[2]), "move") {
		c.w.WriteError("ERR syntax error, try FLOTILLA SLOTS MOVE <ranges> <shard-id>")
		return
	}
	n := c.flotillaNode()
	if n == nil {
		return
	}
	ranges, err := parseSlotRanges(string(args[3]))
	if err != nil {
		c.writeOpError(err)
		return
	}
	id, ok := parseShardID(args[4])
	if !ok {
		c.w.WriteError("ERR invalid shard id '" + errorArg(args[4], 128) + "'")
		return
	}
	t := n.route.Load().topo
	if t == nil {
		c.w.WriteError(errNotFormed)
		return
	}
	if t.Shard(id) == nil {
		c.w.WriteError("ERR unknown shard " + strconv.Itoa(int(id)))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), adminChangeTimeout)
	defer cancel()
	moveID, err := n.moveSlots(ctx, ranges, id)
	if err != nil {
		c.writeOpError(err)
		return
	}
	c.w.WriteInt(int64(moveID))
}

// cmdFLOTILLAMOVES: the slot moves this node knows, as a JSON array of
// MoveStatus.
func cmdFLOTILLAMOVES(c *conn, args [][]byte, inExec bool) {
	n := c.flotillaNode()
	if n == nil {
		return
	}
	moves := n.moveStatus()
	if moves == nil {
		moves = []MoveStatus{}
	}
	b, _ := json.Marshal(moves)
	c.w.WriteBulk(b)
}

// cmdFLOTILLAREBALANCE queues the moves that even out the shards and
// replies how many.
func cmdFLOTILLAREBALANCE(c *conn, args [][]byte, inExec bool) {
	n := c.flotillaNode()
	if n == nil {
		return
	}
	if n.route.Load().topo == nil {
		c.w.WriteError(errNotFormed)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), adminChangeTimeout)
	defer cancel()
	queued, err := n.rebalance(ctx)
	if err != nil {
		c.writeOpError(err)
		return
	}
	c.w.WriteInt(int64(queued))
}

// cmdFLOTILLANODE: FLOTILLA NODE ADD <host[:gossip-port]> | NODE REMOVE
// <node-id>.
func cmdFLOTILLANODE(c *conn, args [][]byte, inExec bool) {
	op := strings.ToLower(string(args[2]))
	if op != "add" && op != "remove" {
		c.w.WriteError("ERR syntax error, try FLOTILLA NODE ADD <host:gossip-port> or FLOTILLA NODE REMOVE <node-id>")
		return
	}
	n := c.flotillaNode()
	if n == nil {
		return
	}
	t := n.route.Load().topo
	if t == nil {
		c.w.WriteError(errNotFormed)
		return
	}
	var err error
	if op == "add" {
		addr, perr := parseGossipAddr(string(args[3]), n.s.cfg.Get("gossip-port"))
		if perr != nil {
			c.writeOpError(perr)
			return
		}
		err = n.addNode(addr)
	} else {
		id := string(args[3])
		if t.Node(id) == nil {
			c.w.WriteError("ERR unknown node " + errorArg(args[3], 128))
			return
		}
		err = n.removeNode(id)
	}
	if err != nil {
		c.writeOpError(err)
		return
	}
	c.w.WriteOK()
}

func cmdFLOTILLAHELP(c *conn, args [][]byte, inExec bool) {
	writeHelp(c, "FLOTILLA", []string{
		"STATUS",
		"    Return this node's view of the cluster as JSON: epoch, controller, nodes,",
		"    shards, and the Raft state of the replicas held on this node.",
		"FAILOVER <shard-id> [<node-id>]",
		"    Move the leadership of <shard-id> to <node-id> (default: its most caught-up",
		"    other replica). Send it to the shard's leader; another node answers",
		"    -NOTLEADER <shard-id> <leader ip:port>.",
		"SLOTS MOVE <ranges> <shard-id>",
		"    Queue a live move of <ranges> (like 0-99,200,300-310) to <shard-id>.",
		"    Return the move's ID.",
		"MOVES",
		"    Return the slot moves in progress, with their progress, as JSON.",
		"REBALANCE",
		"    Queue the slot moves that even out the shards. Return how many.",
		"NODE ADD <host:gossip-port>",
		"    Add the node gossiping at that address to the cluster.",
		"NODE REMOVE <node-id>",
		"    Drain <node-id> (leaderships, replicas, slots) and remove it.",
	})
}

// parseShardID parses a shard ID: a positive decimal integer.
func parseShardID(b []byte) (shard.ID, bool) {
	v, ok := parseLongLong(b)
	if !ok || v <= 0 || v > 1<<32-1 {
		return 0, false
	}
	return shard.ID(v), true
}

// parseSlotRanges parses slot ranges as FLOTILLA SLOTS MOVE takes them:
// comma-separated slots and inclusive ranges, "0-99,200,300-310", each
// within 0-16383. The result is sorted, with overlapping and adjacent
// ranges merged.
func parseSlotRanges(s string) ([]SlotRange, error) {
	if s == "" {
		return nil, errors.New("no slot ranges given")
	}
	var out []SlotRange
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		start, err := parseSlot(lo, part)
		if err != nil {
			return nil, err
		}
		end := start
		if isRange {
			if end, err = parseSlot(hi, part); err != nil {
				return nil, err
			}
			if start > end {
				return nil, fmt.Errorf("invalid slot range '%s': %d is after %d", errorArg([]byte(part), 64), start, end)
			}
		}
		out = append(out, SlotRange{Start: start, End: end})
	}
	slices.SortFunc(out, func(a, b SlotRange) int { return a.Start - b.Start })
	merged := out[:1]
	for _, r := range out[1:] {
		last := &merged[len(merged)-1]
		if r.Start <= last.End+1 {
			last.End = max(last.End, r.End)
			continue
		}
		merged = append(merged, r)
	}
	return merged, nil
}

// parseSlot parses one slot number of part.
func parseSlot(s, part string) (int, error) {
	if s == "" || len(s) > 5 || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("invalid slot range '%s'", errorArg([]byte(part), 64))
	}
	v, _ := strconv.Atoi(s)
	if v >= engine.NumSlots {
		return 0, fmt.Errorf("slot %d is out of range (0-%d)", v, engine.NumSlots-1)
	}
	return v, nil
}

// parseGossipAddr checks a node's gossip address, host[:port], and adds
// defPort when it has none.
func parseGossipAddr(s, defPort string) (string, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		if strings.Contains(s, ":") && !strings.HasPrefix(s, "[") && strings.Count(s, ":") == 1 {
			return "", fmt.Errorf("invalid address '%s', want host:gossip-port", errorArg([]byte(s), 128))
		}
		host, port = strings.Trim(s, "[]"), defPort
	}
	if host == "" || strings.ContainsAny(host, " \t/") {
		return "", fmt.Errorf("invalid address '%s', want host:gossip-port", errorArg([]byte(s), 128))
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return "", fmt.Errorf("invalid port in '%s'", errorArg([]byte(s), 128))
	}
	return net.JoinHostPort(host, strconv.Itoa(p)), nil
}

// appendRESPCommand appends a command as a RESP array of bulk strings.
func appendRESPCommand(b []byte, args ...string) []byte {
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(len(args)), 10)
	b = append(b, "\r\n"...)
	for _, a := range args {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, "\r\n"...)
		b = append(b, a...)
		b = append(b, "\r\n"...)
	}
	return b
}

// peerReader reads the replies a node asks a peer for (peerStatus):
// simple strings, errors and bulk strings.
type peerReader struct{ br *bufio.Reader }

func newPeerReader(r io.Reader) *peerReader { return &peerReader{br: bufio.NewReader(r)} }

// maxPeerReply bounds a bulk reply from a peer.
const maxPeerReply = 64 << 20

func (r *peerReader) reply() ([]byte, error) {
	line, err := r.br.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if line == "" {
		return nil, errors.New("empty reply line")
	}
	switch line[0] {
	case '+':
		return []byte(line[1:]), nil
	case '-':
		return nil, errors.New(line[1:])
	case '$':
		size, err := strconv.Atoi(line[1:])
		if err != nil || size < 0 || size > maxPeerReply {
			return nil, fmt.Errorf("bad bulk length in %q", line)
		}
		buf := make([]byte, size+2)
		if _, err := io.ReadFull(r.br, buf); err != nil {
			return nil, err
		}
		return buf[:size], nil
	}
	return nil, fmt.Errorf("unexpected reply %q", line)
}
