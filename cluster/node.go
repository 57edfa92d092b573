package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/memberlist"
	hraft "github.com/hashicorp/raft"

	"github.com/flotilla-db/flotilla/engine"
	"github.com/flotilla-db/flotilla/raft"
	"github.com/flotilla-db/flotilla/shard"
)

// clusterNode is this node's part of a cluster: its identity, membership
// (memberlist), the configuration group, and the shard replicas it holds.
// Its goroutines stop with close.
type clusterNode struct {
	s    *Server
	log  *slog.Logger
	self NodeInfo
	dir  string

	expect   int // --bootstrap-expect
	shards   int // --cluster-shards
	replicas int // --cluster-replicas
	timing   raft.Timing
	// reconnecting: a reconnectGossip join is out.
	reconnecting atomic.Bool

	mux      *raft.Mux
	bus      *bus
	rpc      *rpcServer
	ml       *memberlist.Memberlist
	cfgFSM   *configFSM
	cfgGroup atomic.Pointer[raft.Group]

	// route is what connections route by; replaced whole on every change.
	route atomic.Pointer[routeTable]
	// leaderEpoch counts changes of the shards' leaders seen by this node
	// (see conn.nudge).
	leaderEpoch atomic.Uint64

	mu struct {
		sync.Mutex
		replicas map[shard.ID]*shard.Replica
		hints    map[shard.ID]string // shard -> leader node ID, from gossip
		alive    map[string]time.Time
		// expireCursor is where active expiry resumes on each shard.
		expireCursor map[shard.ID]uint64
		// pinned are the shards this node leads because an operator
		// asked (CLUSTER FAILOVER): rebalancing leaves them here.
		pinned map[shard.ID]bool
	}
	// movers are the live slot moves this node drives (slotmove.go).
	movers movers
	// balanceFailed is when a transfer of each shard to its preferred
	// replica last failed; owned by loop (balanceLeaders).
	balanceFailed map[shard.ID]time.Time
	topoKick      chan struct{}
	started       time.Time
	stop          chan struct{}
	wg            sync.WaitGroup
	closeMu       sync.Mutex // serialises opening groups with close
	closed        bool

	// mship is the membership work's state (membership.go).
	mship membership
}

// routeTable is an immutable view of the slot map and the local replicas.
type routeTable struct {
	topo   *Topology
	owners *[engine.NumSlots]shard.ID
	// movingTo is the target shard of each slot in a live move.
	movingTo map[int]shard.ID
	local    map[shard.ID]*shard.Replica
	hints    map[shard.ID]string
}

// nodeMeta is a node's memberlist metadata (at most 512 bytes): who it is
// and which shards it leads, so that nodes not holding a shard still know
// its leader.
type nodeMeta struct {
	NodeInfo
	Leads []shard.ID `json:"leads,omitempty"`
	// Formed: the node belongs to a formed cluster (it has a topology), so
	// a new node meeting it joins that cluster instead of forming one.
	Formed bool `json:"formed,omitempty"`
}

func (s *Server) newClusterNode() (*clusterNode, error) {
	cfg := s.cfg
	dir, err := filepath.Abs(cfg.Get("dir"))
	if err != nil {
		return nil, err
	}
	n := &clusterNode{
		s:        s,
		log:      s.log,
		dir:      dir,
		expect:   int(cfg.Int("bootstrap-expect")),
		shards:   int(cfg.Int("cluster-shards")),
		replicas: int(cfg.Int("cluster-replicas")),
		cfgFSM:   &configFSM{},
		topoKick: make(chan struct{}, 1),
		started:  time.Now(),
		stop:     make(chan struct{}),
		timing: raft.Timing{
			Heartbeat:   time.Duration(cfg.Int("raft-heartbeat-timeout")) * time.Millisecond,
			Election:    time.Duration(cfg.Int("raft-election-timeout")) * time.Millisecond,
			LeaderLease: time.Duration(cfg.Int("raft-heartbeat-timeout")) * time.Millisecond * 4 / 5,
			Commit:      raft.DefaultTiming.Commit,
		},
	}
	n.mu.replicas = map[shard.ID]*shard.Replica{}
	n.mu.hints = map[shard.ID]string{}
	n.mu.alive = map[string]time.Time{}
	n.mu.expireCursor = map[shard.ID]uint64{}
	n.mu.pinned = map[shard.ID]bool{}
	n.cfgFSM.onChange = func(*Topology) { n.kick(); n.kickMembership() }
	n.mship.init()
	n.route.Store(&routeTable{})
	return n, nil
}

// announceIP is the address peers and clients reach this node at: the
// cluster-announce-ip directive, else the first bind address that is not a
// wildcard, else 127.0.0.1.
func (s *Server) announceIP() string {
	if ip := s.cfg.Get("cluster-announce-ip"); ip != "" {
		return ip
	}
	for _, a := range strings.Fields(s.cfg.Get("bind")) {
		a = strings.TrimPrefix(a, "-")
		if ip := net.ParseIP(a); ip != nil && !ip.IsUnspecified() {
			return a
		}
	}
	return "127.0.0.1"
}

// loadNodeID returns the node's ID: the node-id directive, else the one
// kept in the data dir, else a new one (kept there).
func loadNodeID(dir, configured string) (string, error) {
	path := filepath.Join(dir, "node-id")
	if b, err := os.ReadFile(path); err == nil {
		id := strings.TrimSpace(string(b))
		if configured != "" && configured != id {
			return "", fmt.Errorf("node-id %s differs from the id %s kept in %s", configured, id, path)
		}
		return id, nil
	}
	id := configured
	if id == "" {
		b := make([]byte, 20)
		rand.Read(b)
		id = hex.EncodeToString(b)
	}
	if err := os.WriteFile(path+".tmp", []byte(id+"\n"), 0o640); err != nil {
		return "", err
	}
	return id, os.Rename(path+".tmp", path)
}

// start opens the node's Raft port, joins the gossip, and either resumes
// the cluster recorded in the data dir or waits to form a new one.
func (n *clusterNode) start() error {
	if err := os.MkdirAll(n.dir, 0o750); err != nil {
		return err
	}
	if err := n.checkRemovedMarker(); err != nil {
		return err
	}
	id, err := loadNodeID(n.dir, n.s.cfg.Get("node-id"))
	if err != nil {
		return err
	}
	ip := n.s.announceIP()
	port := n.s.Port()
	raftPort := int(n.s.cfg.Int("cluster-port"))
	if raftPort == 0 {
		// Redis's bus port: the client port + 10000, or any free port
		// when that is out of range.
		raftPort = port + clusterBusPortOffset
		if raftPort > 65535 {
			raftPort = 0
		}
	}
	gossipPort := int(n.s.cfg.Int("gossip-port"))
	n.self = NodeInfo{
		ID:     id,
		Zone:   n.s.cfg.Get("zone"),
		Addr:   net.JoinHostPort(ip, strconv.Itoa(port)),
		Raft:   net.JoinHostPort(ip, strconv.Itoa(raftPort)),
		Gossip: net.JoinHostPort(ip, strconv.Itoa(gossipPort)),
	}
	if mp := n.s.cfg.Int("metrics-port"); mp > 0 {
		n.self.Metrics = net.JoinHostPort(ip, strconv.Itoa(int(mp)))
	}
	n.s.nodeID = id

	ln, err := net.Listen("tcp", n.self.Raft)
	if err != nil {
		return fmt.Errorf("could not listen on the cluster port %s: %w", n.self.Raft, err)
	}
	n.self.Raft = ln.Addr().String()
	n.mux = raft.NewMux(ln, net.ParseIP(ip))
	if n.bus, err = newBus(n); err != nil {
		n.mux.Close()
		return err
	}
	if n.rpc, err = newRPCServer(n); err != nil {
		n.bus.close()
		n.mux.Close()
		return err
	}
	if err := n.startGossip(ip, gossipPort); err != nil {
		n.rpc.close()
		n.bus.close()
		n.mux.Close()
		return err
	}
	if t, err := n.loadTopology(); err != nil {
		n.shutdownGossip()
		n.rpc.close()
		n.bus.close()
		n.mux.Close()
		return err
	} else if me := t.nodeOrNil(n.self.ID); me != nil && (me.Raft != n.self.Raft || me.Addr != n.self.Addr) {
		n.shutdownGossip()
		n.rpc.close()
		n.bus.close()
		n.mux.Close()
		return fmt.Errorf("this node (%s) is recorded in %s at %s (cluster port %s) but is now configured at %s (cluster port %s): its peers know it by the old addresses; start it with the same ports, or remove the data dir to join as a new node",
			n.self.ID, n.topologyPath(), me.Addr, me.Raft, n.self.Addr, n.self.Raft)
	} else if t != nil {
		// A node of a formed cluster: resume at once from what it knew,
		// and follow the configuration group for what changed. Its peers
		// are its gossip seeds too (the --join seed may be itself).
		var peers []string
		for _, x := range t.Nodes {
			if x.ID != n.self.ID {
				peers = append(peers, x.Gossip)
			}
		}
		n.wg.Add(1)
		go n.joinLoop(peers)
		// A restarted node has forgotten which leader it followed, so it
		// would vote at once; waiting a heartbeat timeout first keeps
		// the premise of the leaders' read leases (shard.Replica.grantLease).
		time.Sleep(n.timing.Heartbeat)
		if err := n.openConfigGroup(nil); err != nil {
			close(n.stop)
			n.wg.Wait()
			n.shutdownGossip()
			n.rpc.close()
			n.bus.close()
			n.mux.Close()
			return err
		}
		n.applyTopology(t)
	} else {
		n.wg.Add(1)
		go n.bootstrap()
	}
	n.wg.Add(1)
	go n.loop()
	n.wg.Add(1)
	go n.runMembership()
	return nil
}

// waitServing waits until every slot has a leader this node knows of (a
// one-node cluster serves as soon as it started, as a Redis server does).
func (n *clusterNode) waitServing(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		rt := n.route.Load()
		if rt.topo != nil {
			ok := true
			for _, sh := range rt.topo.Shards {
				if l := rt.leaderOf(sh.ID); l == "" {
					ok = false
					break
				} else if r := rt.local[sh.ID]; r != nil && l == n.self.ID && !r.IsLeader() {
					ok = false
					break
				}
			}
			if ok {
				return true
			}
		}
		select {
		case <-n.stop:
			return false
		case <-time.After(10 * time.Millisecond):
		}
	}
	return false
}

// srcTransport is memberlist's TCP/UDP transport with TCP dials leaving
// from the node's own address, so that peers (and partition drills) see
// the node as that address.
type srcTransport struct {
	*memberlist.NetTransport
	src net.IP
}

func (t *srcTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout, LocalAddr: &net.TCPAddr{IP: t.src}}
	return d.Dial("tcp", addr)
}

func (t *srcTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	return t.DialTimeout(a.Addr, timeout)
}

func (n *clusterNode) startGossip(ip string, port int) error {
	conf := memberlist.DefaultLANConfig()
	conf.Name = n.self.ID
	conf.BindAddr = ip
	conf.BindPort = port
	conf.AdvertiseAddr = ip
	conf.AdvertisePort = port
	// Failure detection for a LAN: a dead node is known within about a
	// second, so that CLUSTER SLOTS stops sending clients to it (Raft
	// elects the new leader on its own timeouts).
	conf.ProbeInterval = 200 * time.Millisecond
	conf.ProbeTimeout = 100 * time.Millisecond
	conf.SuspicionMult = 2
	conf.GossipInterval = 100 * time.Millisecond
	conf.PushPullInterval = 10 * time.Second
	// A join or push-pull with a node cut off by a partition must not
	// hold reconnectGossip (or shutdown) for memberlist's default 10 s.
	conf.TCPTimeout = 2 * time.Second
	conf.LogOutput = slogWriter{n.log.With("part", "gossip")}
	conf.Delegate = (*gossipDelegate)(n)
	conf.Events = (*gossipEvents)(n)
	nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
		BindAddrs: []string{ip},
		BindPort:  port,
	})
	if err != nil {
		return fmt.Errorf("could not listen on the gossip port %s:%d: %w", ip, port, err)
	}
	if port == 0 {
		port = nt.GetAutoBindPort()
		conf.AdvertisePort = port
		n.self.Gossip = net.JoinHostPort(ip, strconv.Itoa(port))
	}
	conf.Transport = &srcTransport{NetTransport: nt, src: net.ParseIP(ip)}
	ml, err := memberlist.Create(conf)
	if err != nil {
		nt.Shutdown()
		return fmt.Errorf("gossip: %w", err)
	}
	n.ml = ml
	if seeds := n.seeds(); len(seeds) > 0 {
		n.wg.Add(1)
		go n.joinLoop(seeds)
	}
	return nil
}

func (n *clusterNode) shutdownGossip() {
	if n.ml != nil {
		n.ml.Shutdown()
	}
}

// seeds returns the --join addresses, with the default gossip port where
// none is given, leaving out this node itself.
func (n *clusterNode) seeds() []string {
	var out []string
	for _, a := range strings.Fields(n.s.cfg.Get("join")) {
		if _, _, err := net.SplitHostPort(a); err != nil {
			a = net.JoinHostPort(a, n.s.cfg.Get("gossip-port"))
		}
		if a != n.self.Gossip {
			out = append(out, a)
		}
	}
	return out
}

// joinLoop joins the gossip through the seeds, retrying until one answers
// (seeds may start after this node).
func (n *clusterNode) joinLoop(seeds []string) {
	defer n.wg.Done()
	for attempt := 0; ; attempt++ {
		if _, err := n.ml.Join(seeds); err == nil {
			return
		} else if attempt%20 == 0 {
			n.log.Info("waiting to join the cluster", "seeds", seeds, "err", err)
		}
		select {
		case <-n.stop:
			return
		case <-time.After(250 * time.Millisecond):
		}
	}
}

type gossipDelegate clusterNode

func (d *gossipDelegate) NodeMeta(limit int) []byte {
	n := (*clusterNode)(d)
	m := nodeMeta{NodeInfo: n.self, Leads: n.ledShards(), Formed: n.cfgFSM.current() != nil}
	b, _ := json.Marshal(m)
	if len(b) > limit {
		m.Leads = nil
		b, _ = json.Marshal(m)
	}
	return b
}
func (d *gossipDelegate) NotifyMsg(b []byte)                         { (*clusterNode)(d).handleTransfer(b) }
func (d *gossipDelegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (d *gossipDelegate) LocalState(join bool) []byte                { return nil }
func (d *gossipDelegate) MergeRemoteState(buf []byte, join bool)     {}

type gossipEvents clusterNode

func (e *gossipEvents) NotifyJoin(m *memberlist.Node)   { (*clusterNode)(e).noteMember(m, true) }
func (e *gossipEvents) NotifyLeave(m *memberlist.Node)  { (*clusterNode)(e).noteMember(m, false) }
func (e *gossipEvents) NotifyUpdate(m *memberlist.Node) { (*clusterNode)(e).noteMember(m, true) }

// noteMember records a member's liveness and the shards it says it leads.
func (n *clusterNode) noteMember(m *memberlist.Node, alive bool) {
	var meta nodeMeta
	json.Unmarshal(m.Meta, &meta)
	n.mu.Lock()
	if alive {
		if _, ok := n.mu.alive[m.Name]; !ok {
			n.mu.alive[m.Name] = time.Now()
		}
	} else {
		delete(n.mu.alive, m.Name)
	}
	changed := false
	for id, leader := range n.mu.hints {
		if leader == m.Name && (!alive || !slices.Contains(meta.Leads, id)) {
			delete(n.mu.hints, id)
			changed = true
		}
	}
	if alive {
		for _, id := range meta.Leads {
			if n.mu.hints[id] != m.Name {
				n.mu.hints[id] = m.Name
				changed = true
			}
		}
	}
	n.mu.Unlock()
	if changed {
		n.kick()
	}
	n.recordMember(m, alive)
}

// members returns the NodeInfo of every live gossip member.
// It reads the gossip events' copies: memberlist.Members hands out nodes
// its goroutines go on writing.
func (n *clusterNode) members() []NodeInfo {
	var out []NodeInfo
	for _, m := range n.gossipMembers() {
		if m.state == memberlist.StateAlive && m.meta.ID != "" {
			out = append(out, m.meta.NodeInfo)
		}
	}
	return out
}

// bootstrap forms the first cluster once bootstrap-expect nodes have met:
// every one of them computes the same plan from the same member list,
// bootstraps the configuration group with the same voters, and the
// group's leader commits the plan.
func (n *clusterNode) bootstrap() {
	defer n.wg.Done()
	var nodes []NodeInfo
	for {
		// A node meeting a formed cluster joins it (membership.go); a
		// node given seeds waits to meet them before it counts members.
		if n.joinsRunningCluster() {
			n.joinRunning()
			return
		}
		nodes = n.members()
		if len(nodes) >= n.expect && (len(n.seeds()) == 0 || n.ml.NumMembers() > 1) {
			break
		}
		select {
		case <-n.stop:
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	slices.SortFunc(nodes, func(a, b NodeInfo) int { return strings.Compare(a.ID, b.ID) })
	nodes = nodes[:n.expect]
	if !slices.ContainsFunc(nodes, func(x NodeInfo) bool { return x.ID == n.self.ID }) {
		n.log.Info("the cluster forms without this node; it joins once formed")
		n.joinRunning()
		return
	}
	plan := Plan(nodes, n.shards, n.replicas)
	var servers []hraft.Server
	for _, x := range nodes {
		sf := hraft.Nonvoter
		if slices.Contains(plan.ConfigVoters, x.ID) {
			sf = hraft.Voter
		}
		servers = append(servers, hraft.Server{Suffrage: sf, ID: hraft.ServerID(x.ID), Address: hraft.ServerAddress(x.Raft)})
	}
	if err := n.openConfigGroup(servers); err != nil {
		n.log.Error("configuration group", "err", err)
		return
	}
	n.log.Info("forming the cluster", "nodes", len(nodes), "shards", len(plan.Shards))
	data, _ := json.Marshal(configCommand{Op: "init", Topology: plan})
	for n.cfgFSM.current() == nil {
		if g := n.cfgGroup.Load(); g != nil && g.IsLeader() {
			g.Raft.Apply(data, 5*time.Second).Error()
		}
		select {
		case <-n.stop:
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (n *clusterNode) openConfigGroup(bootstrap []hraft.Server) error {
	n.closeMu.Lock()
	defer n.closeMu.Unlock()
	if n.closed {
		return ErrServerClosed
	}
	g, err := raft.OpenGroup(raft.GroupConfig{
		ID:                0,
		Dir:               filepath.Join(n.dir, "raft", "config"),
		LocalID:           n.self.ID,
		Mux:               n.mux,
		FSM:               n.cfgFSM,
		Bootstrap:         bootstrap,
		Timing:            n.timing,
		SnapshotThreshold: 1024,
		Logger:            n.hclog("config"),
	})
	if err != nil {
		return err
	}
	n.cfgGroup.Store(g)
	return nil
}

// ErrServerClosed is returned by operations on a closed server.
var ErrServerClosed = errors.New("flotilla: server closed")

func (n *clusterNode) hclog(group string) hclog.Logger {
	level := hclog.Warn
	if n.s.cfg.Get("loglevel") == "debug" {
		level = hclog.Debug
	}
	return hclog.New(&hclog.LoggerOptions{
		Name:   "raft-" + group,
		Level:  level,
		Output: slogWriter{n.log.With("part", "raft-"+group)},
	})
}

func (n *clusterNode) kick() {
	select {
	case n.topoKick <- struct{}{}:
	default:
	}
}

// loop keeps the routing table current with the configuration group,
// advertises leadership changes in gossip, and moves leaderships back to
// their preferred replicas.
func (n *clusterNode) loop() {
	defer n.wg.Done()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var lastLeads []shard.ID
	lastLeaders := map[shard.ID]string{}
	lastBalance := time.Now()
	for {
		select {
		case <-n.stop:
			return
		case <-n.topoKick:
		case <-tick.C:
		}
		if t := n.cfgFSM.current(); t != nil && (n.route.Load().topo == nil || t.Epoch > n.route.Load().topo.Epoch) {
			n.applyTopology(t)
		}
		leads := n.ledShards()
		if !slices.Equal(leads, lastLeads) {
			lastLeads = leads
			n.ml.UpdateNode(time.Second)
		}
		n.refreshRoute()
		n.driveMoves()
		// A shard got a new leader (not its first, and not the same one
		// back after a moment without): clients may route to a dead or
		// deposed node, so nudge them (see conn.nudge).
		changed := false
		for id, l := range n.knownLeaders() {
			if l == "" {
				continue
			}
			if prev, ok := lastLeaders[id]; ok && prev != l {
				changed = true
			}
			lastLeaders[id] = l
		}
		if changed {
			n.leaderEpoch.Add(1)
		}
		if time.Since(lastBalance) > time.Second {
			lastBalance = time.Now()
			n.balanceLeaders()
			n.reconnectGossip()
		}
	}
}

// reconnectGossip joins again, in the background, the nodes of the
// topology that gossip holds dead or does not know. memberlist never
// probes a node it declared dead, so after a partition heals each side
// would go on believing the other dead (CLUSTER INFO cluster_state:fail
// while Raft is whole again); Serf's reconnector does the same for Consul.
func (n *clusterNode) reconnectGossip() {
	t := n.route.Load().topo
	if t == nil || !n.reconnecting.CompareAndSwap(false, true) {
		return
	}
	dead := n.deadNodes()
	var addrs []string
	for _, node := range t.Nodes {
		if node.ID != n.self.ID && dead[node.ID] {
			addrs = append(addrs, node.Gossip)
		}
	}
	if len(addrs) == 0 {
		n.reconnecting.Store(false)
		return
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		defer n.reconnecting.Store(false)
		if _, err := n.ml.Join(addrs); err == nil {
			n.log.Info("gossip: reconnected to nodes held dead", "addrs", addrs)
		}
	}()
}

// knownLeaders returns the leader of each shard as this node knows it.
func (n *clusterNode) knownLeaders() map[shard.ID]string {
	rt := n.route.Load()
	out := map[shard.ID]string{}
	if rt.topo != nil {
		for _, sh := range rt.topo.Shards {
			out[sh.ID] = rt.leaderOf(sh.ID)
		}
	}
	return out
}

// ledShards returns the shards this node leads, sorted.
func (n *clusterNode) ledShards() []shard.ID {
	var out []shard.ID
	for id, r := range n.route.Load().local {
		if r.Group != nil && r.Group.IsLeader() {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// behind reports whether t, the configuration group's state on this node,
// is older than the topology the node routes by. After a restart the group
// restores its last snapshot, then replays the entries after it once a
// leader is known, so for a while it holds older epochs than the topology
// the node saved (topology.json) and resumed from. Nothing may be done by
// an older topology: it would reopen replicas of shards dropped since
// (bootstrapping new, empty groups for shards that were new then) and route
// slots to shards that gave them away. Epochs only grow.
func (n *clusterNode) behind(t *Topology) bool {
	cur := n.route.Load().topo
	return t != nil && cur != nil && t.Epoch < cur.Epoch
}

// applyTopology saves t, opens the replicas of the shards this node holds,
// and routes by t. loop calls it only with a newer epoch than the one
// routed (see behind).
func (n *clusterNode) applyTopology(t *Topology) {
	if err := n.saveTopology(t); err != nil {
		n.log.Error("saving the cluster topology", "err", err)
	}
	n.openPlacedReplicas(t)
	n.refreshRouteWith(t)
}

// openPlacedReplicas opens the replicas t places on this node that are not
// open, and reports whether it opened any.
func (n *clusterNode) openPlacedReplicas(t *Topology) (opened bool) {
	for _, sh := range t.Shards {
		if !slices.Contains(sh.Replicas, n.self.ID) {
			continue
		}
		n.mu.Lock()
		_, open := n.mu.replicas[sh.ID]
		n.mu.Unlock()
		if open {
			continue
		}
		if err := n.openReplica(t, sh); err != nil {
			n.log.Error("opening shard replica", "shard", sh.ID, "err", err)
			continue
		}
		opened = true
	}
	return opened
}

func (n *clusterNode) openReplica(t *Topology, sh ShardInfo) error {
	n.closeMu.Lock()
	defer n.closeMu.Unlock()
	if n.closed {
		return ErrServerClosed
	}
	n.mu.Lock()
	_, open := n.mu.replicas[sh.ID]
	n.mu.Unlock()
	if open {
		return nil // opened meanwhile (membership.go opens too)
	}
	// Only a brand-new shard's first members bootstrap its group, all with
	// the same configuration; any other replica joins the running group
	// when its leader adds it (bootstrapping it with another
	// configuration could form a second group).
	var servers []hraft.Server
	if slices.Contains(sh.Bootstrap, n.self.ID) {
		for _, id := range sh.Bootstrap {
			node := t.Node(id)
			if node == nil {
				return fmt.Errorf("shard %d bootstraps with unknown node %s", sh.ID, id)
			}
			servers = append(servers, hraft.Server{Suffrage: hraft.Voter, ID: hraft.ServerID(id), Address: hraft.ServerAddress(node.Raft)})
		}
	}
	rep := shard.NewReplica(sh.ID, seedOf(sh.ID))
	if n.s.cfg.Bool("read-lease") {
		rep.ReadLease = n.readLease()
	}
	// Leaders heartbeat every tenth of the heartbeat timeout; five
	// missed in a row and the leader is presumed gone.
	rep.LeaderSilence = n.timing.Heartbeat / 2
	// A replica that hears from no leader stops holding clients for one
	// (shard.Replica.Stranded) after four heartbeat timeouts, time for
	// two election rounds; one that lost its leadership and hears from no
	// successor, after one.
	rep.StrandedAfter = 4 * n.timing.Heartbeat
	rep.DeposedAfter = n.timing.Heartbeat
	rep.BeginWrite()
	rep.DB().SetConfig(n.s.cfg.EngineConfig())
	rep.EndWrite()
	g, err := raft.OpenGroup(raft.GroupConfig{
		ID:                raft.GroupID(sh.ID),
		Dir:               filepath.Join(n.dir, "raft", "shard-"+strconv.Itoa(int(sh.ID))),
		LocalID:           n.self.ID,
		Mux:               n.mux,
		FSM:               rep.FSM,
		Bootstrap:         servers,
		Timing:            n.timing,
		SnapshotThreshold: uint64(n.s.cfg.Int("raft-snapshot-threshold")),
		Logger:            n.hclog("shard-" + strconv.Itoa(int(sh.ID))),
	})
	if err != nil {
		return err
	}
	rep.Start(g)
	n.mu.Lock()
	n.mu.replicas[sh.ID] = rep
	n.mu.Unlock()
	return nil
}

// readLease is how long a confirmed leadership serves reads without
// another round (shard.Replica.grantLease says why it is safe): half the
// smaller of the heartbeat timeout, after which followers forget their
// leader, and the leader-lease timeout, after which a leader without a
// quorum steps down.
func (n *clusterNode) readLease() time.Duration {
	return min(n.timing.Heartbeat, n.timing.LeaderLease) / 2
}

// seedOf is the seed of a shard's hash tables: the same on every replica,
// since snapshots preserve the table layout.
func seedOf(id shard.ID) uint64 { return 0x666c6f74696c6c61 ^ uint64(id)*0x9e3779b97f4a7c15 }

func (n *clusterNode) refreshRoute() {
	if t := n.route.Load().topo; t != nil {
		n.refreshRouteWith(t)
	}
}

func (n *clusterNode) refreshRouteWith(t *Topology) {
	old := n.route.Load()
	rt := &routeTable{topo: t, owners: old.owners, movingTo: old.movingTo}
	if old.topo != t || rt.owners == nil {
		rt.owners = t.SlotOwners()
		rt.movingTo = nil
		for _, m := range t.Moves {
			for _, sl := range expandRanges(m.Slots) {
				if rt.movingTo == nil {
					rt.movingTo = map[int]shard.ID{}
				}
				rt.movingTo[int(sl)] = m.To
			}
		}
	}
	n.mu.Lock()
	rt.local = make(map[shard.ID]*shard.Replica, len(n.mu.replicas))
	for id, r := range n.mu.replicas {
		rt.local[id] = r
	}
	rt.hints = make(map[shard.ID]string, len(n.mu.hints))
	for id, l := range n.mu.hints {
		rt.hints[id] = l
	}
	n.mu.Unlock()
	if old.topo == rt.topo && maps.Equal(old.local, rt.local) && maps.Equal(old.hints, rt.hints) {
		return
	}
	n.route.Store(rt)
}

// leaderOf returns the node ID of shard id's leader as this node knows it:
// from its own replica, else from gossip; "" when unknown.
func (rt *routeTable) leaderOf(id shard.ID) string {
	if r := rt.local[id]; r != nil && r.Group != nil {
		if l := r.Leader(); l != "" {
			return l
		}
		return ""
	}
	return rt.hints[id]
}

// balanceLeaders hands the leadership of a shard this node leads to the
// shard's preferred replica when that node has been alive for a while, so
// that leaders spread over the nodes again after failovers.
func (n *clusterNode) balanceLeaders() {
	rt := n.route.Load()
	if rt.topo == nil {
		return
	}
	n.mu.Lock()
	alive := make(map[string]time.Time, len(n.mu.alive))
	for k, v := range n.mu.alive {
		alive[k] = v
	}
	pinned := maps.Clone(n.mu.pinned)
	n.mu.Unlock()
	for id, r := range rt.local {
		sh := rt.topo.Shard(id)
		if sh == nil || !r.IsLeader() || sh.Replicas[0] == n.self.ID || pinned[id] {
			continue
		}
		pref := sh.Replicas[0]
		since, ok := alive[pref]
		if !ok || time.Since(since) < 3*time.Second {
			continue
		}
		// Gossip can hold a node alive that Raft cannot reach (a one-way
		// partition), and a transfer holds the shard's writes until it
		// times out: after a failed one, leave the shard for a while
		// (the drills saw a shard stall 12 s on a transfer retried every
		// second to a cut-off replica).
		if t, ok := n.balanceFailed[id]; ok && time.Since(t) < balanceRetryAfter {
			continue
		}
		// The transfer holds the shard's writes until the replica takes
		// over or it times out: hand over only to a replica that answers
		// over its Raft port (a one-way partition can leave it alive to
		// gossip) and has its replica of the shard open. A node killed
		// and restarted before gossip noticed is alive to gossip all
		// along, and may still be opening its replicas (the transfer then
		// timed out, and the shard stayed off that node for
		// balanceRetryAfter). The transfer itself brings a lagging
		// replica up to date first.
		node := rt.topo.Node(pref)
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		_, err := n.groupInfoAt(ctx, node.Raft, id)
		cancel()
		if err != nil {
			continue
		}
		n.log.Info("transferring leadership to the preferred replica", "shard", id, "to", pref)
		if err := r.TransferLeadership(pref, node.Raft); err != nil {
			n.log.Info("leadership transfer", "shard", id, "to", pref, "err", err)
			if n.balanceFailed == nil {
				n.balanceFailed = map[shard.ID]time.Time{}
			}
			n.balanceFailed[id] = time.Now()
		}
		return // one at a time
	}
}

// balanceRetryAfter is how long balanceLeaders leaves a shard alone after
// a failed transfer to its preferred replica.
const balanceRetryAfter = 30 * time.Second

func (n *clusterNode) topologyPath() string { return filepath.Join(n.dir, "topology.json") }

// saveTopology keeps the last topology seen, so that a restarted node
// routes and opens its replicas before the configuration group is back.
func (n *clusterNode) saveTopology(t *Topology) error {
	b, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return err
	}
	tmp := n.topologyPath() + ".tmp"
	if err := os.WriteFile(tmp, b, 0o640); err != nil {
		return err
	}
	return os.Rename(tmp, n.topologyPath())
}

func (n *clusterNode) loadTopology() (*Topology, error) {
	b, err := os.ReadFile(n.topologyPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var t Topology
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("%s: %w", n.topologyPath(), err)
	}
	return &t, nil
}

// close leaves the gossip and stops every group; data stays on disk.
func (n *clusterNode) close() {
	n.closeMu.Lock()
	n.closed = true
	n.closeMu.Unlock()
	close(n.stop)
	n.wg.Wait()
	n.stopMoves()
	n.mu.Lock()
	reps := n.mu.replicas
	n.mu.replicas = map[shard.ID]*shard.Replica{}
	n.mu.Unlock()
	var wg sync.WaitGroup
	for _, r := range reps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.Close()
		}()
	}
	if g := n.cfgGroup.Load(); g != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g.Close()
		}()
	}
	wg.Wait()
	if n.ml != nil {
		n.ml.Leave(500 * time.Millisecond)
		n.ml.Shutdown()
	}
	n.rpc.close()
	n.bus.close()
	n.mux.Close()
}

// slogWriter adapts a slog.Logger to the io.Writer loggers of hashicorp's
// libraries.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	switch {
	case strings.Contains(msg, "[ERR]"), strings.Contains(msg, "[ERROR]"):
		w.l.Error(msg)
	case strings.Contains(msg, "[WARN]"):
		w.l.Warn(msg)
	case strings.Contains(msg, "[DEBUG]"), strings.Contains(msg, "[TRACE]"):
		w.l.Debug(msg)
	default:
		w.l.Info(msg)
	}
	return len(p), nil
}

// ledReplicas returns the replicas of shards this node leads.
func (n *clusterNode) ledReplicas() []*shard.Replica {
	var out []*shard.Replica
	for _, r := range n.route.Load().local {
		if r.Group != nil && r.IsLeader() {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b *shard.Replica) int { return int(a.ID()) - int(b.ID()) })
	return out
}

// keyCounts sums the keys and volatile keys of the shards this node leads
// (INFO keyspace), as a Redis Cluster master reports its own; the keys of
// slots a move has not handed over are left out as DBSIZE does
// (hiddenSlots).
func (n *clusterNode) keyCounts() (keys, expires int) {
	for _, r := range n.ledReplicas() {
		r.BeginRead()
		keys += visibleLen(r)
		expires += r.DB().VolatileLen()
		r.EndRead()
	}
	return keys, expires
}

// activeExpire is the leader's side of expiry (../shared/DESIGN.md rule
// 1): on each shard it leads it samples volatile keys as Redis's
// activeExpireCycle does and proposes the deletes of those expired; every
// replica applies them at the entry's time.
func (n *clusterNode) activeExpire(s *Server, budget time.Duration) {
	effort := s.cfg.Int("active-expire-effort")
	perLoop := int(20 + 5*(effort-1))
	for _, r := range n.ledReplicas() {
		start := time.Now()
		cursor := n.expireCursor(r.ID())
		for {
			now := time.Now().UnixMilli()
			r.BeginRead()
			if r.DB().VolatileLen() == 0 {
				r.EndRead()
				break
			}
			keys, next, sampled := r.DB().ExpiredKeys(now, cursor, perLoop)
			r.EndRead()
			cursor = next
			if len(keys) > 0 {
				e := &raft.Entry{Type: raft.EntryExpire, Cmds: make([][][]byte, len(keys))}
				for i, k := range keys {
					e.Cmds[i] = [][]byte{k}
				}
				if _, err := r.Propose(e); err != nil {
					break
				}
			}
			if sampled == 0 || len(keys)*10 < sampled || time.Since(start) > budget {
				break
			}
		}
		n.setExpireCursor(r.ID(), cursor)
	}
}

func (n *clusterNode) expireCursor(id shard.ID) uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.mu.expireCursor[id]
}

func (n *clusterNode) setExpireCursor(id shard.ID, c uint64) {
	n.mu.Lock()
	n.mu.expireCursor[id] = c
	n.mu.Unlock()
}

// nodeOrNil is Node on a possibly nil topology.
func (t *Topology) nodeOrNil(id string) *NodeInfo {
	if t == nil {
		return nil
	}
	return t.Node(id)
}
