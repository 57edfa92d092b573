package cluster

import "time"

// pendingStats gathers the statistics of the commands of one batch (one
// read from the socket) on the connection, to be added to the server's
// shared counters once per batch: with pipelines, shared atomic counters
// touched per command cost more than the commands.
type pendingStats struct {
	cmds     []pendingCmd
	commands int64
	netIn    int64
}

type pendingCmd struct {
	id                  int
	calls, usec, failed int64
	buckets             []bucketCount
}

type bucketCount struct {
	bucket int
	n      int64
}

func (p *pendingStats) add(id int, usec int64, failed bool) {
	p.commands++
	var pc *pendingCmd
	for i := range p.cmds {
		if p.cmds[i].id == id {
			pc = &p.cmds[i]
			break
		}
	}
	if pc == nil {
		// Reuse the entry (and its bucket slice) a previous batch left.
		if n := len(p.cmds); n < cap(p.cmds) {
			p.cmds = p.cmds[:n+1]
			pc = &p.cmds[n]
			*pc = pendingCmd{id: id, buckets: pc.buckets[:0]}
		} else {
			p.cmds = append(p.cmds, pendingCmd{id: id})
			pc = &p.cmds[n]
		}
	}
	pc.calls++
	pc.usec += usec
	if failed {
		pc.failed++
	}
	b := latencyBucket(usec)
	for i := range pc.buckets {
		if pc.buckets[i].bucket == b {
			pc.buckets[i].n++
			return
		}
	}
	pc.buckets = append(pc.buckets, bucketCount{b, 1})
}

// flush adds the batch's statistics to the server's.
func (p *pendingStats) flush(s *Server) {
	for i := range p.cmds {
		pc := &p.cmds[i]
		st := &s.stats.cmd[pc.id]
		st.calls.Add(pc.calls)
		st.usec.Add(pc.usec)
		if pc.failed > 0 {
			st.failed.Add(pc.failed)
		}
		h := &s.stats.latency[pc.id]
		h.count.Add(pc.calls)
		for _, b := range pc.buckets {
			h.buckets[b.bucket].Add(b.n)
		}
	}
	p.cmds = p.cmds[:0]
	if p.commands > 0 {
		s.stats.commands.Add(p.commands)
		p.commands = 0
	}
	if p.netIn > 0 {
		s.stats.netIn.Add(p.netIn)
		p.netIn = 0
	}
}

// tick returns the time now and the time since the last tick: the
// duration of the command that just ran, with one clock read per command.
func (c *conn) tick() (time.Time, time.Duration) {
	now := time.Now()
	d := now.Sub(c.clock)
	c.clock = now
	return now, d
}
