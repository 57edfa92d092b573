package rediscluster

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// create makes the running nodes a cluster with redis-cli --cluster create,
// moves replicas out of their master's zone, and waits until the cluster is
// healthy and every replica is in sync with its master.
func (c *Cluster) create(ctx context.Context) error {
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", strconv.Itoa(c.opts.ReplicasPerMaster), "--cluster-yes")
	cmd := exec.CommandContext(ctx, c.opts.CLI, args...)
	cmd.SysProcAttr = sysProcAttr()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("rediscluster: %s %s: %w\n%s", c.opts.CLI, strings.Join(args, " "), err, out)
	}
	if err := c.waitFormed(ctx, false); err != nil {
		return err
	}
	moved, err := c.placeReplicas(ctx)
	if err != nil {
		return err
	}
	if moved {
		// Let every node learn the new roles before checking the links.
		if err := c.waitFormed(ctx, false); err != nil {
			return err
		}
	}
	return c.waitFormed(ctx, true)
}

// waitFormed waits until the cluster is healthy and has its full shape;
// with links, until every replica's link to its master is up too.
func (c *Cluster) waitFormed(ctx context.Context, links bool) error {
	for {
		why := c.unhealthy(ctx)
		if why == "" {
			why = c.misshapen(ctx, links)
		}
		if why == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("rediscluster: cluster not formed after %s: %s", c.opts.StartTimeout, why)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// misshapen says how the cluster differs from the one Start makes (every
// node up and connected, Masters masters with slots and
// Masters*ReplicasPerMaster replicas of them), or "" if it does not.
func (c *Cluster) misshapen(ctx context.Context, links bool) string {
	views := c.views(ctx)
	if len(views) != len(c.nodes) {
		return fmt.Sprintf("%d of %d nodes running", len(views), len(c.nodes))
	}
	for _, v := range views {
		if v.err != nil {
			return v.err.Error()
		}
		name := c.nodes[v.node].name
		if len(v.lines) != len(c.nodes) {
			return fmt.Sprintf("%s knows %d nodes", name, len(v.lines))
		}
		withSlots := map[string]bool{}
		for _, l := range v.lines {
			if l.master && len(l.slots) > 0 {
				withSlots[l.id] = true
			}
		}
		var replicas int
		for _, l := range v.lines {
			switch {
			case l.fail || !l.linkUp:
				return fmt.Sprintf("%s sees %s (%s) failing or disconnected", name, l.id, l.ip)
			case l.replica && withSlots[l.masterID]:
				replicas++
			case !withSlots[l.id]:
				return fmt.Sprintf("%s sees %s (%s) as neither a master with slots nor a replica of one", name, l.id, l.ip)
			}
		}
		if len(withSlots) != c.opts.Masters || replicas != c.opts.Masters*c.opts.ReplicasPerMaster {
			return fmt.Sprintf("%s sees %d masters and %d replicas", name, len(withSlots), replicas)
		}
		if !links {
			continue
		}
		info, err := do(ctx, c.nodes[v.node].addr, "INFO", "replication")
		if err != nil {
			return fmt.Sprintf("%s: %v", name, err)
		}
		if strings.Contains(info, "role:slave") && !strings.Contains(info, "master_link_status:up") {
			return name + ": replica's link to its master not up yet"
		}
	}
	return ""
}

// placeReplicas makes every replica follow a master in another zone, with
// CLUSTER REPLICATE where redis-cli chose one in the same zone (it only
// knows hosts, and each node is a host of its own). It reports whether it
// moved any.
func (c *Cluster) placeReplicas(ctx context.Context) (bool, error) {
	var lines [][]nodeLine
	for _, v := range c.views(ctx) {
		if v.err != nil {
			return false, v.err
		}
		lines = append(lines, v.lines)
	}
	t := merge(lines)
	shards := c.shards(t)
	ids := map[int]string{} // node index → node id
	for id, l := range t.nodes {
		ids[c.indexOf(l.ip)] = id
	}
	var masters, replicas []int
	current := map[int]int{}
	for _, s := range shards {
		masters = append(masters, s.Leader)
		for _, r := range s.Replicas {
			replicas = append(replicas, r)
			current[r] = s.Leader
		}
	}
	plan, ok := assign(masters, replicas, c.opts.ReplicasPerMaster, current, zoneName)
	if !ok {
		return false, nil // no better placement: keep redis-cli's
	}
	moved := false
	for _, r := range replicas {
		if plan[r] == current[r] {
			continue
		}
		if _, err := do(ctx, c.nodes[r].addr, "CLUSTER", "REPLICATE", ids[plan[r]]); err != nil {
			return false, fmt.Errorf("rediscluster: CLUSTER REPLICATE on %s: %w", c.nodes[r].name, err)
		}
		moved = true
	}
	return moved, nil
}

// assign gives each replica a master in another zone, per replicas to each
// master, keeping a replica's current master where it can. It reports
// false when no such assignment exists.
func assign(masters, replicas []int, per int, current map[int]int, zone func(int) string) (map[int]int, bool) {
	plan := map[int]int{}
	load := map[int]int{}
	var place func(k int) bool
	place = func(k int) bool {
		if k == len(replicas) {
			return true
		}
		r := replicas[k]
		cur, hasCur := current[r]
		candidates := masters
		if hasCur {
			candidates = append([]int{cur}, masters...)
		}
		for _, m := range candidates {
			if load[m] >= per || zone(m) == zone(r) {
				continue
			}
			plan[r] = m
			load[m]++
			if place(k + 1) {
				return true
			}
			load[m]--
		}
		delete(plan, r)
		return false
	}
	if !place(0) {
		return nil, false
	}
	return plan, true
}
