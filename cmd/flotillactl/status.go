package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flotilla-db/flotilla/cluster"
	"github.com/flotilla-db/flotilla/shard"
)

// The JSON of FLOTILLA STATUS, as the server defines it.
type (
	nodeStatus    = cluster.FlotillaStatus
	nodeInfo      = cluster.NodeStatus
	slotRange     = cluster.SlotRange
	shardInfo     = cluster.ShardStatus
	replicaStatus = cluster.ReplicaStatus
)

// view is the cluster as every node that answered sees it.
type view struct {
	// topo is the status whose topology is shown: the highest epoch
	// among the answers.
	topo *nodeStatus
	// byNode holds each node's own status; a node that did not answer
	// has an entry in errs instead.
	byNode map[string]*nodeStatus
	errs   map[string]error
}

// fetchStatus asks the node at addr for its FLOTILLA STATUS.
func (c *ctl) fetchStatus(ctx context.Context, addr string) (*nodeStatus, error) {
	return fetchStatusFrom(ctx, c.client(addr), addr)
}

func fetchStatusFrom(ctx context.Context, cl *redis.Client, addr string) (*nodeStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	s, err := cl.Do(ctx, "FLOTILLA", "STATUS").Text()
	if err != nil {
		return nil, err
	}
	var st nodeStatus
	if err := json.Unmarshal([]byte(s), &st); err != nil {
		return nil, fmt.Errorf("%s: bad FLOTILLA STATUS reply: %v", addr, err)
	}
	return &st, nil
}

// collect asks the node given on the command line, then every node of the
// topology it knows, for its status.
func (c *ctl) collect(ctx context.Context) (*view, error) {
	first, err := c.fetchStatus(ctx, c.o.addr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.o.addr, err)
	}
	if len(first.Nodes) == 0 {
		return nil, fmt.Errorf("%s: the cluster is not formed yet", c.o.addr)
	}
	v := &view{topo: first, byNode: map[string]*nodeStatus{first.Node: first}, errs: map[string]error{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, n := range first.Nodes {
		if n.ID == first.Node {
			continue
		}
		// The client is made here: ctl's map is not safe for
		// concurrent use.
		cl := c.client(n.Addr)
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := fetchStatusFrom(ctx, cl, n.Addr)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				v.errs[n.ID] = err
				return
			}
			v.byNode[n.ID] = st
		}()
	}
	wg.Wait()
	for _, st := range v.byNode {
		if st.Epoch > v.topo.Epoch {
			v.topo = st
		}
	}
	return v, nil
}

// node returns the topology's node with ID id, or nil.
func (v *view) node(id string) *nodeInfo {
	for i := range v.topo.Nodes {
		if v.topo.Nodes[i].ID == id {
			return &v.topo.Nodes[i]
		}
	}
	return nil
}

// shard returns the topology's shard id, or nil.
func (v *view) shard(id shard.ID) *shardInfo {
	for i := range v.topo.Shards {
		if v.topo.Shards[i].ID == id {
			return &v.topo.Shards[i]
		}
	}
	return nil
}

// replica returns node's own report of its replica of shard, or nil.
func (v *view) replica(node string, shard shard.ID) *replicaStatus {
	st := v.byNode[node]
	if st == nil {
		return nil
	}
	for i := range st.Replicas {
		if st.Replicas[i].Shard == shard {
			return &st.Replicas[i]
		}
	}
	return nil
}

// leader returns the leader of shard: the replica that reports itself
// leader in the highest term, else the leader the topology's node knows.
func (v *view) leader(sh *shardInfo) string {
	best, term := "", uint64(0)
	for _, id := range sh.Replicas {
		if r := v.replica(id, sh.ID); r != nil && r.Role == "leader" && (best == "" || r.Term > term) {
			best, term = id, r.Term
		}
	}
	if best != "" {
		return best
	}
	return sh.Leader
}

// lag returns how many log entries node's replica of sh lacks behind its
// leader (the leader's last index less the replica's, from the two nodes'
// answers; without the leader's, the replica's own count of entries
// committed but not applied), and whether it is known.
func (v *view) lag(sh *shardInfo, leader, node string) (uint64, bool) {
	r := v.replica(node, sh.ID)
	if r == nil {
		return 0, false
	}
	if node == leader {
		return 0, true
	}
	if l := v.replica(leader, sh.ID); l != nil {
		if l.LastIndex > r.LastIndex {
			return l.LastIndex - r.LastIndex, true
		}
		return 0, true
	}
	return r.Lag, true
}

// resolveNode finds a node by ID, unique ID prefix, or RESP address.
func (v *view) resolveNode(s string) (*nodeInfo, error) {
	var found []*nodeInfo
	for i := range v.topo.Nodes {
		n := &v.topo.Nodes[i]
		if n.ID == s || n.Addr == s {
			return n, nil
		}
		if strings.HasPrefix(n.ID, strings.ToLower(s)) {
			found = append(found, n)
		}
	}
	switch {
	case len(found) == 1 && len(s) >= 4:
		return found[0], nil
	case len(found) > 1 && len(s) >= 4:
		return nil, fmt.Errorf("node %q is ambiguous: %d node IDs start with it", s, len(found))
	}
	return nil, fmt.Errorf("no node %q in the cluster (give a node ID, a prefix of 4 or more of its digits, or its ip:port)", s)
}

// nodeRow is one line of the nodes table.
type nodeRow struct {
	id, addr, zone, state, config string
	shards, leads                 []shard.ID
}

// shardRow is one line of the shards table.
type shardRow struct {
	id       shard.ID
	slots    []slotRange
	leader   string // address, or "?" when unknown
	replicas []string
	keys     string
	lag      string
}

// replicaRow is one line of the replicas table (status -v).
type replicaRow struct {
	shard                                  shard.ID
	node, role, state                      string
	term, commit, applied, last, lag, keys string
	contact                                string
}

// rows lays the view out as the tables show it.
func (v *view) rows() ([]nodeRow, []shardRow, []replicaRow) {
	leaders := map[shard.ID]string{}
	for i := range v.topo.Shards {
		sh := &v.topo.Shards[i]
		leaders[sh.ID] = v.leader(sh)
	}
	addr := func(id string) string {
		if n := v.node(id); n != nil {
			return n.Addr
		}
		return id
	}
	var nodes []nodeRow
	for _, n := range v.topo.Nodes {
		r := nodeRow{id: n.ID, addr: n.Addr, zone: n.Zone, config: "-"}
		_, up := v.byNode[n.ID]
		gossip := n.State
		switch {
		case up && gossip == "alive":
			r.state = "up"
		case up:
			r.state = "up (gossip: " + gossip + ")"
		case gossip == "alive" || gossip == "suspect":
			r.state = "unreachable (gossip: " + gossip + ")"
		default:
			r.state = "down"
		}
		switch {
		case n.ID == v.topo.Controller:
			r.config = "controller"
		case n.ConfigVoter:
			r.config = "voter"
		}
		for _, sh := range v.topo.Shards {
			if slices.Contains(sh.Replicas, n.ID) {
				r.shards = append(r.shards, sh.ID)
			}
			if leaders[sh.ID] == n.ID {
				r.leads = append(r.leads, sh.ID)
			}
		}
		nodes = append(nodes, r)
	}
	var shards []shardRow
	var reps []replicaRow
	for i := range v.topo.Shards {
		sh := &v.topo.Shards[i]
		leader := leaders[sh.ID]
		r := shardRow{id: sh.ID, slots: sh.Slots, leader: "?", keys: "?", lag: "-"}
		if leader != "" {
			r.leader = addr(leader)
		}
		for _, id := range sh.Replicas {
			r.replicas = append(r.replicas, addr(id))
		}
		if lr := v.replica(leader, sh.ID); lr != nil {
			r.keys = strconv.Itoa(lr.Keys)
		}
		var maxLag uint64
		followers, known := 0, 0
		for _, id := range sh.Replicas {
			rep := v.replica(id, sh.ID)
			lag, ok := v.lag(sh, leader, id)
			if id != leader {
				followers++
				if ok {
					known++
					maxLag = max(maxLag, lag)
				}
			}
			row := replicaRow{shard: sh.ID, node: addr(id), role: "?", state: "?", term: "?", commit: "?", applied: "?", last: "?", lag: "?", keys: "?", contact: "?"}
			if rep != nil {
				row.role, row.state = rep.Role, rep.RaftState
				row.term = strconv.FormatUint(rep.Term, 10)
				row.commit = strconv.FormatUint(rep.CommitIndex, 10)
				row.applied = strconv.FormatUint(rep.AppliedIndex, 10)
				row.last = strconv.FormatUint(rep.LastIndex, 10)
				row.keys = strconv.Itoa(rep.Keys)
				switch {
				case rep.LastContactMs < 0:
					row.contact = "never"
				case rep.Role == "leader":
					row.contact = "-"
				default:
					row.contact = (time.Duration(rep.LastContactMs) * time.Millisecond).String()
				}
			}
			if ok {
				row.lag = strconv.FormatUint(lag, 10)
			}
			reps = append(reps, row)
		}
		switch {
		case followers == 0:
		case known == followers:
			r.lag = strconv.FormatUint(maxLag, 10)
		case known > 0:
			r.lag = strconv.FormatUint(maxLag, 10) + "+?"
		default:
			r.lag = "?"
		}
		shards = append(shards, r)
	}
	slices.SortFunc(shards, func(a, b shardRow) int { return int(a.id) - int(b.id) })
	return nodes, shards, reps
}

// status prints the tables (or, with --json, every node's status).
func (c *ctl) status(ctx context.Context) error {
	v, err := c.collect(ctx)
	if err != nil {
		return err
	}
	if c.o.json {
		return printJSON(c.out, v)
	}
	renderStatus(c.out, v, c.o.verbose)
	return nil
}

// printJSON prints every node's status, keyed by node ID, and the errors
// of the nodes that did not answer.
func printJSON(w io.Writer, v *view) error {
	out := struct {
		Nodes  map[string]*nodeStatus `json:"nodes"`
		Errors map[string]string      `json:"errors,omitempty"`
	}{Nodes: v.byNode, Errors: map[string]string{}}
	for id, err := range v.errs {
		out.Errors[id] = err.Error()
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// renderStatus prints the summary line and the nodes and shards tables
// (and the replicas table when verbose).
func renderStatus(w io.Writer, v *view, verbose bool) {
	nodes, shards, reps := v.rows()
	zones := map[string]bool{}
	for _, n := range v.topo.Nodes {
		zones[n.Zone] = true
	}
	assigned := 0
	for _, sh := range v.topo.Shards {
		assigned += countSlots(sh.Slots)
	}
	ctrl := "unknown"
	if n := v.node(v.topo.Controller); n != nil {
		ctrl = shortID(n.ID, verbose) + " (" + n.Addr + ")"
	}
	fmt.Fprintf(w, "Cluster epoch %d: %s in %s, %s, %d/16384 slots assigned; controller %s.\n",
		v.topo.Epoch, plural(len(v.topo.Nodes), "node"), plural(len(zones), "zone"), plural(len(v.topo.Shards), "shard"), assigned, ctrl)
	for _, id := range sortedKeys(v.errs) {
		addr := "?"
		if n := v.node(id); n != nil {
			addr = n.Addr
		}
		fmt.Fprintf(w, "  %s (%s) did not answer: %v\n", shortID(id, verbose), addr, v.errs[id])
	}

	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tADDRESS\tZONE\tSTATE\tCONFIG\tSHARDS\tLEADS")
	for _, n := range nodes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", shortID(n.id, verbose), n.addr, n.zone, n.state, n.config, idList(n.shards), idList(n.leads))
	}
	tw.Flush()

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SHARD\tSLOTS\tRANGES\tLEADER\tREPLICAS\tKEYS\tLAG")
	for _, s := range shards {
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\t%s\n", s.id, countSlots(s.slots), formatRanges(s.slots), s.leader, strings.Join(s.replicas, ","), s.keys, s.lag)
	}
	tw.Flush()

	if !verbose {
		return
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SHARD\tNODE\tROLE\tRAFT\tTERM\tCOMMIT\tAPPLIED\tLAST\tLAG\tCONTACT\tKEYS")
	for _, r := range reps {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.shard, r.node, r.role, r.state, r.term, r.commit, r.applied, r.last, r.lag, r.contact, r.keys)
	}
	tw.Flush()
}

// shortID shortens a node ID to 12 digits (any unique prefix names a
// node), unless full.
func shortID(id string, full bool) string {
	if full || len(id) <= 12 {
		return id
	}
	return id[:12]
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

func countSlots(rs []slotRange) int {
	n := 0
	for _, r := range rs {
		n += r.End - r.Start + 1
	}
	return n
}

// formatRanges renders slot ranges as "0-99,200,300-310".
func formatRanges(rs []slotRange) string {
	if len(rs) == 0 {
		return "-"
	}
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b slotRange) int { return a.Start - b.Start })
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = strconv.Itoa(r.Start)
		if r.End != r.Start {
			parts[i] += "-" + strconv.Itoa(r.End)
		}
	}
	return strings.Join(parts, ",")
}

// idList renders shard IDs compactly: "1-3,5", or "-" for none.
func idList(ids []shard.ID) string {
	if len(ids) == 0 {
		return "-"
	}
	ids = slices.Clone(ids)
	slices.Sort(ids)
	var rs []slotRange
	for _, id := range ids {
		if n := len(rs); n > 0 && rs[n-1].End+1 == int(id) {
			rs[n-1].End = int(id)
			continue
		}
		rs = append(rs, slotRange{Start: int(id), End: int(id)})
	}
	return formatRanges(rs)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
