package rediscluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/flotilla-db/flotilla/test/chaos"
	"github.com/flotilla-db/flotilla/test/localcluster"
)

// Cluster is a chaos drill target.
var _ chaos.Target = (*Cluster)(nil)

// probeTimeout bounds one question to one node.
const probeTimeout = time.Second

// do sends one command to addr, within ctx and probeTimeout.
func do(ctx context.Context, addr string, args ...string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	timeout := probeTimeout
	if d, ok := ctx.Deadline(); ok {
		if timeout = min(timeout, time.Until(d)); timeout <= 0 {
			return "", context.DeadlineExceeded
		}
	}
	return localcluster.Do(addr, timeout, args...)
}

// view is what one node answered: its CLUSTER NODES lines, and the state
// field of CLUSTER INFO.
type view struct {
	node  int
	lines []nodeLine
	state string
	err   error
}

// views asks every running, unpaused node for its view of the cluster, all
// at once.
func (c *Cluster) views(ctx context.Context) []view {
	var out []view
	for _, n := range c.nodes {
		if running, paused := n.state(); running && !paused {
			out = append(out, view{node: n.index})
		}
	}
	var wg sync.WaitGroup
	for i := range out {
		wg.Go(func() {
			v := &out[i]
			addr := c.nodes[v.node].addr
			text, err := do(ctx, addr, "CLUSTER", "NODES")
			if err == nil {
				v.lines, err = parseNodes(text)
			}
			if err == nil {
				var info string
				info, err = do(ctx, addr, "CLUSTER", "INFO")
				for _, line := range strings.Split(info, "\n") {
					if s, ok := strings.CutPrefix(strings.TrimSpace(line), "cluster_state:"); ok {
						v.state = s
					}
				}
			}
			if err != nil {
				v.err = fmt.Errorf("%s (%s): %w", c.nodes[v.node].name, addr, err)
			}
		})
	}
	wg.Wait()
	return out
}

// indexOf returns the index of the node at ip, or -1.
func (c *Cluster) indexOf(ip string) int {
	for _, n := range c.nodes {
		if n.ip == ip {
			return n.index
		}
	}
	return -1
}

// Shards returns the shards in the order of their first slot, as the nodes
// that answer see them together (a node's own word about itself first, the
// newest config epoch for the rest). A shard's Leader is the master that
// owns its slots, or -1 if that master's process is not running (it was
// killed and no replica has taken over yet); a paused master is still the
// leader until a replica takes over. Replicas are the nodes that follow
// the master, running or not.
func (c *Cluster) Shards(ctx context.Context) ([]chaos.ShardInfo, error) {
	views := c.views(ctx)
	var lines [][]nodeLine
	var errs []error
	for _, v := range views {
		if v.err != nil {
			errs = append(errs, v.err)
			continue
		}
		lines = append(lines, v.lines)
	}
	if len(lines) == 0 {
		return nil, fmt.Errorf("rediscluster: no node answered: %w", errors.Join(errs...))
	}
	return c.shards(merge(lines)), nil
}

func (c *Cluster) shards(t *topology) []chaos.ShardInfo {
	slots, order := t.ranges()
	var out []chaos.ShardInfo
	for _, id := range order {
		s := chaos.ShardInfo{Slots: slots[id], Leader: c.indexOf(t.nodes[id].ip)}
		if s.Leader >= 0 {
			if running, _ := c.nodes[s.Leader].state(); !running {
				s.Leader = -1
			}
		}
		for _, l := range t.nodes {
			if l.replica && l.masterID == id {
				if i := c.indexOf(l.ip); i >= 0 {
					s.Replicas = append(s.Replicas, i)
				}
			}
		}
		slices.Sort(s.Replicas)
		out = append(out, s)
	}
	return out
}

// ConfigLeader returns chaos.ErrUnsupported: Redis Cluster has no
// configuration group; its masters vote on configuration changes.
func (c *Cluster) ConfigLeader(ctx context.Context) (int, error) {
	return -1, chaos.ErrUnsupported
}

// WaitHealthy waits until every running, unpaused node says
// cluster_state:ok, they all agree on which master serves each slot, and
// all 16384 slots are served by masters that answer (running, unpaused, and
// masters by their own word). Killed and paused nodes are left out; a
// paused master therefore has to be replaced first. It returns ctx's error,
// with the last reason, when ctx ends first.
func (c *Cluster) WaitHealthy(ctx context.Context) error {
	for {
		why := c.unhealthy(ctx)
		if why == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("rediscluster: not healthy: %s: %w", why, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// unhealthy says why the cluster is not healthy, or "" if it is.
func (c *Cluster) unhealthy(ctx context.Context) string {
	views := c.views(ctx)
	if len(views) == 0 {
		return "no node is running"
	}
	masters := map[int]bool{} // nodes that say they are masters
	for _, v := range views {
		if v.err != nil {
			return v.err.Error()
		}
		if v.state != "ok" {
			return fmt.Sprintf("%s: cluster_state:%s", c.nodes[v.node].name, v.state)
		}
		for _, l := range v.lines {
			if l.myself && l.master {
				masters[v.node] = true
			}
		}
	}
	first := owners(views[0].lines)
	for _, v := range views[1:] {
		if o := owners(v.lines); *o != *first {
			return fmt.Sprintf("%s and %s disagree on the owners of the slots", c.nodes[views[0].node].name, c.nodes[v.node].name)
		}
	}
	ips := map[string]string{}
	for _, l := range views[0].lines {
		ips[l.id] = l.ip
	}
	for s, id := range first {
		if id == "" {
			return fmt.Sprintf("slot %d has no master", s)
		}
		if i := c.indexOf(ips[id]); i < 0 || !masters[i] {
			return fmt.Sprintf("slot %d is served by %s (%s), which does not answer as a master", s, id, ips[id])
		}
	}
	return ""
}

// Failover sends CLUSTER FAILOVER to a running replica of the shard (the
// index in Shards' order), which takes over from its master with the
// master's agreement, and returns once the replica says it is a master. A
// manual failover needs both to answer: when the master or every replica is
// killed or paused, Failover returns an error wrapping
// chaos.ErrUnsupported at once. It gives up when ctx ends, or 10 s after sending the command (Redis
// itself abandons a manual failover after 5 s).
func (c *Cluster) Failover(ctx context.Context, shard int) error {
	shards, err := c.Shards(ctx)
	if err != nil {
		return err
	}
	if shard < 0 || shard >= len(shards) {
		return fmt.Errorf("rediscluster: no shard %d (%d shards)", shard, len(shards))
	}
	s := shards[shard]
	if s.Leader < 0 {
		return fmt.Errorf("%w: the master of shard %d is down", chaos.ErrUnsupported, shard)
	}
	if _, paused := c.nodes[s.Leader].state(); paused {
		return fmt.Errorf("%w: the master of shard %d is paused", chaos.ErrUnsupported, shard)
	}
	r := -1
	for _, i := range s.Replicas {
		if running, paused := c.nodes[i].state(); running && !paused {
			r = i
			break
		}
	}
	if r < 0 {
		return fmt.Errorf("%w: shard %d has no running replica", chaos.ErrUnsupported, shard)
	}
	n := c.nodes[r]
	if _, err := do(ctx, n.addr, "CLUSTER", "FAILOVER"); err != nil {
		return fmt.Errorf("rediscluster: CLUSTER FAILOVER on %s: %w", n.name, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := do(ctx, n.addr, "INFO", "replication")
		if err == nil && strings.Contains(info, "role:master") {
			return nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return fmt.Errorf("rediscluster: %s did not take over shard %d: %v", n.name, shard, errors.Join(err, ctx.Err()))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
