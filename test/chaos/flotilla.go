package chaos

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flotilla-db/flotilla/test/localcluster"
)

// FlotillaOptions say what Flotilla cluster StartFlotilla runs.
type FlotillaOptions struct {
	// Bin is the flotilla binary (make build puts it in bin/flotilla).
	Bin string
	// Nodes and Zones: 3 and 3 when zero; node i is in zone i%Zones.
	// Nodes is the cluster the drill starts with (--bootstrap-expect).
	Nodes, Zones int
	// Spares are more nodes, prepared but not started: node-join starts
	// one into the running cluster, and node-remove makes the node it
	// removed a spare again (its data wiped, so that it joins later as a
	// new node). Spare i is node Nodes+i, on the next addresses.
	Spares int
	// FirstIP is node 0's address, 127.0.0.11 when empty. Partitions cut
	// every packet between node addresses, so a drill needs addresses no
	// other cluster uses meanwhile.
	FirstIP string
	// BaseDir holds the nodes' data (a temporary directory when empty),
	// LogDir their logs (beside the data when empty).
	BaseDir, LogDir string
	// Args are more flotilla flags for every node.
	Args []string
}

// FlotillaTarget is a Flotilla cluster run by package localcluster: one
// process per node on its own loopback address. Its members are the nodes
// the cluster's topology holds; the others are spares (see
// FlotillaOptions.Spares). Safe for concurrent use.
type FlotillaTarget struct {
	c *localcluster.Cluster
	// replicas is cluster-replicas; shardPerNode: cluster-shards 0 (one
	// shard per node).
	replicas     int
	shardPerNode bool

	mu struct {
		sync.Mutex
		member []bool   // by index
		ids    []string // node IDs (CLUSTER MYID) of members, by index
	}
}

var _ Target = (*FlotillaTarget)(nil)

// StartFlotilla starts a Flotilla cluster of o.Nodes nodes (the spares are
// prepared, not started) and returns once every slot is served. Close
// stops it.
func StartFlotilla(ctx context.Context, o FlotillaOptions) (*FlotillaTarget, error) {
	if o.Zones <= 0 {
		o.Zones = 3
	}
	if o.Nodes <= 0 {
		o.Nodes = 3
	}
	c, err := localcluster.Start(localcluster.Options{
		Bin: o.Bin, Nodes: o.Nodes + max(o.Spares, 0), Initial: o.Nodes, JoinAll: true,
		Zones: o.Zones, FirstIP: o.FirstIP,
		BaseDir: o.BaseDir, LogDir: o.LogDir, Args: o.Args,
		StopTimeout: 10 * time.Second,
	})
	if err != nil {
		return nil, err
	}
	t := &FlotillaTarget{c: c, replicas: 3, shardPerNode: true}
	for k := 0; k+1 < len(o.Args); k++ {
		switch o.Args[k] {
		case "--cluster-replicas":
			t.replicas, _ = strconv.Atoi(o.Args[k+1])
		case "--cluster-shards":
			t.shardPerNode = o.Args[k+1] == "0"
		}
	}
	t.mu.member = make([]bool, c.Len())
	t.mu.ids = make([]string, c.Len())
	for i := 0; i < o.Nodes; i++ {
		t.mu.member[i] = true
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := t.WaitHealthy(wctx); err != nil {
		c.Close()
		return nil, err
	}
	for i := 0; i < o.Nodes; i++ {
		id, err := localcluster.Do(c.Addr(i), 2*time.Second, "CLUSTER", "MYID")
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("chaos: CLUSTER MYID on node%d: %w", i+1, err)
		}
		t.mu.ids[i] = id
	}
	return t, nil
}

// Cluster is the underlying local cluster (logs, ports, node state).
func (t *FlotillaTarget) Cluster() *localcluster.Cluster { return t.c }

func (t *FlotillaTarget) Name() string            { return "flotilla" }
func (t *FlotillaTarget) Addrs() []string         { return t.c.Addrs() }
func (t *FlotillaTarget) Addr(i int) string       { return t.c.Addr(i) }
func (t *FlotillaTarget) Nodes() int              { return t.c.Len() }
func (t *FlotillaTarget) NodeIP(i int) string     { return t.c.Node(i).IP }
func (t *FlotillaTarget) NodeZone(i int) string   { return t.c.Node(i).Zone }
func (t *FlotillaTarget) Kill(i int) error        { return t.c.Kill(i) }
func (t *FlotillaTarget) Restart(i int) error     { return t.c.Restart(i) }
func (t *FlotillaTarget) Pause(i int) error       { return t.c.Pause(i) }
func (t *FlotillaTarget) Resume(i int) error      { return t.c.Resume(i) }
func (t *FlotillaTarget) Close() error            { return t.c.Close() }
func (t *FlotillaTarget) LogFile(i int) string    { return t.c.Node(i).LogFile }
func (t *FlotillaTarget) LogTail(i, n int) string { return t.c.LogTail(i, n) }

// Members are the nodes the cluster holds now, running or not.
func (t *FlotillaTarget) Members() []int {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []int
	for i, m := range t.mu.member {
		if m {
			out = append(out, i)
		}
	}
	return out
}

// isMember reports whether node i is a member.
func (t *FlotillaTarget) isMember(i int) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.mu.member[i]
}

// setMember records node i as a member with node ID id, or ("") as not
// one.
func (t *FlotillaTarget) setMember(i int, id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.mu.member[i] = id != ""
	t.mu.ids[i] = id
}

// memberIDs maps the members' node IDs to their indexes.
func (t *FlotillaTarget) memberIDs() map[string]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string]int{}
	for i, m := range t.mu.member {
		if m {
			out[t.mu.ids[i]] = i
		}
	}
	return out
}

// RestartAll kills every node with SIGKILL, as a power cut would, then
// starts the members again.
func (t *FlotillaTarget) RestartAll() error {
	if err := t.c.KillAll(); err != nil {
		return err
	}
	return t.c.StartNodes(t.Members()...)
}

// WaitHealthy waits until every running member says cluster_state:ok.
func (t *FlotillaTarget) WaitHealthy(ctx context.Context) error {
	timeout := 2 * time.Minute
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	return t.c.WaitNodesReady(timeout, t.Members()...)
}

// Down returns the members that are not running.
func (t *FlotillaTarget) Down() []int {
	var out []int
	for _, i := range t.Members() {
		if !t.c.Node(i).Running {
			out = append(out, i)
		}
	}
	return out
}

// indexOfAddr maps a host:port (or host) to a node index, -1 if none.
func (t *FlotillaTarget) indexOfAddr(addr string) int {
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	for i := 0; i < t.c.Len(); i++ {
		if t.c.Node(i).IP == host {
			return i
		}
	}
	return -1
}

// running are the members that run and are not paused.
func (t *FlotillaTarget) running() []int {
	var out []int
	for _, i := range t.Members() {
		if n := t.c.Node(i); n.Running && !n.Paused {
			out = append(out, i)
		}
	}
	return out
}

// Shards asks every running node for CLUSTER SHARDS. A shard's leader is
// the master most nodes name; on a tie, one that names itself (a node cut
// off from the others may still believe it leads, so its own word alone
// does not settle it).
func (t *FlotillaTarget) Shards(ctx context.Context) ([]ShardInfo, error) {
	type view struct {
		asker  int
		shards []redis.ClusterShard
	}
	var views []view
	var lastErr error
	for _, i := range t.running() {
		cl := redis.NewClient(&redis.Options{Addr: t.c.Addr(i), MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: 2 * time.Second})
		shards, err := cl.ClusterShards(ctx).Result()
		cl.Close()
		if err != nil {
			lastErr = err
			continue
		}
		views = append(views, view{i, shards})
	}
	if len(views) == 0 {
		if lastErr == nil {
			lastErr = errors.New("no node running")
		}
		return nil, fmt.Errorf("chaos: CLUSTER SHARDS: %w", lastErr)
	}
	// Shards are keyed by their first slot: slots do not move yet.
	type acc struct {
		info  ShardInfo
		self  int
		votes map[int]int
	}
	byStart := map[int]*acc{}
	var starts []int
	for _, v := range views {
		for _, sh := range v.shards {
			if len(sh.Slots) == 0 {
				continue
			}
			start := int(sh.Slots[0].Start)
			a := byStart[start]
			if a == nil {
				a = &acc{self: -1, votes: map[int]int{}}
				for _, r := range sh.Slots {
					a.info.Slots = append(a.info.Slots, [2]int{int(r.Start), int(r.End)})
				}
				byStart[start] = a
				starts = append(starts, start)
			}
			for _, n := range sh.Nodes {
				idx := t.indexOfAddr(n.IP)
				if n.Role != "master" || idx < 0 {
					continue
				}
				a.votes[idx]++
				if idx == v.asker {
					a.self = idx
				}
			}
			if len(a.info.Replicas) == 0 {
				for _, n := range sh.Nodes {
					if idx := t.indexOfAddr(n.IP); idx >= 0 {
						a.info.Replicas = append(a.info.Replicas, idx)
					}
				}
			}
		}
	}
	slices.Sort(starts)
	out := make([]ShardInfo, 0, len(starts))
	for _, s := range starts {
		a := byStart[s]
		leader, best := -1, 0
		for idx := 0; idx < t.c.Len(); idx++ {
			n := a.votes[idx]
			if n > best || n == best && n > 0 && idx == a.self {
				leader, best = idx, n
			}
		}
		a.info.Leader = leader
		members := a.info.Replicas
		a.info.Replicas = nil
		for _, m := range members {
			if m != leader {
				a.info.Replicas = append(a.info.Replicas, m)
			}
		}
		out = append(out, a.info)
	}
	return out, nil
}

// ConfigLeader scrapes the running nodes' metrics: the node whose replica
// of the configuration group is in state leader; failing that, the node
// named by flotilla_raft_leader_info{shard="config"} on most nodes.
func (t *FlotillaTarget) ConfigLeader(ctx context.Context) (int, error) {
	port := t.c.Ports().Metrics
	if port == 0 {
		return -1, fmt.Errorf("%w: metrics endpoint disabled", ErrUnsupported)
	}
	votes := map[int]int{}
	var lastErr error
	for _, i := range t.running() {
		self, leaderID, err := scrapeConfigLeader(ctx, net.JoinHostPort(t.c.Node(i).IP, strconv.Itoa(port)))
		if err != nil {
			lastErr = err
			continue
		}
		if self {
			return i, nil
		}
		if j, ok := t.memberIDs()[leaderID]; ok && leaderID != "" {
			votes[j]++
		}
	}
	best, leader := 0, -1
	for j, n := range votes {
		if n > best {
			best, leader = n, j
		}
	}
	if leader >= 0 {
		return leader, nil
	}
	if lastErr == nil {
		lastErr = errors.New("no node knows the configuration group's leader")
	}
	return -1, fmt.Errorf("chaos: config leader: %w", lastErr)
}

// scrapeConfigLeader reads one node's /metrics: whether it leads the
// configuration group, and whom it knows as its leader.
func scrapeConfigLeader(ctx context.Context, hostport string) (self bool, leaderID string, err error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+hostport+"/metrics", nil)
	if err != nil {
		return false, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, "", err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, `shard="config"`) || !strings.HasSuffix(line, " 1") {
			continue
		}
		switch {
		case strings.HasPrefix(line, "flotilla_raft_state{") && strings.Contains(line, `state="leader"`):
			self = true
		case strings.HasPrefix(line, "flotilla_raft_leader_info{"):
			if _, rest, ok := strings.Cut(line, `leader_id="`); ok {
				leaderID, _, _ = strings.Cut(rest, `"`)
			}
		}
	}
	return self, leaderID, sc.Err()
}

// Failover makes a replica of the shard take over its leadership with
// CLUSTER FAILOVER. A Flotilla node given CLUSTER FAILOVER takes over the
// lowest-numbered shard it follows, so only a replica for which this shard
// is that one can do it; when none can, the error wraps ErrUnsupported.
func (t *FlotillaTarget) Failover(ctx context.Context, shard int) error {
	shards, err := t.Shards(ctx)
	if err != nil {
		return err
	}
	if shard < 0 || shard >= len(shards) {
		return fmt.Errorf("chaos: no shard %d", shard)
	}
	live := t.running()
	for _, r := range shards[shard].Replicas {
		if !slices.Contains(live, r) {
			continue
		}
		first := -1
		for j, sh := range shards {
			if sh.Leader != r && (slices.Contains(sh.Replicas, r)) {
				first = j
				break
			}
		}
		if first != shard {
			continue
		}
		cl := redis.NewClient(&redis.Options{Addr: t.c.Addr(r), MaxRetries: -1, ReadTimeout: 10 * time.Second})
		err := cl.ClusterFailover(ctx).Err()
		cl.Close()
		if err != nil {
			return fmt.Errorf("chaos: CLUSTER FAILOVER on node%d: %w", r+1, err)
		}
		return nil
	}
	return fmt.Errorf("%w: no replica of shard %d follows it first", ErrUnsupported, shard)
}
