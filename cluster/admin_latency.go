package cluster

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

func init() {
	serverHandlers["latency|latest"] = cmdLATENCYLATEST
	serverHandlers["latency|history"] = cmdLATENCYHISTORY
	serverHandlers["latency|reset"] = cmdLATENCYRESET
	serverHandlers["latency|doctor"] = cmdLATENCYDOCTOR
	serverHandlers["latency|help"] = cmdLATENCYHELP
}

// latencyEventView is a copy of one event's samples, taken under the
// monitor's lock.
type latencyEventView struct {
	name    string
	samples []latencySample
	max     int64
}

// snapshot returns a copy of every event, by name (Redis lists them in its
// hash table's order, which has no meaning).
func (m *latencyMonitor) snapshot() []latencyEventView {
	m.mu.Lock()
	out := make([]latencyEventView, 0, len(m.mu.events))
	for name, ev := range m.mu.events {
		out = append(out, latencyEventView{name: name, samples: slices.Clone(ev.samples), max: ev.max})
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b latencyEventView) int { return strings.Compare(a.name, b.name) })
	return out
}

// cmdLATENCYLATEST: for every event, its name, the time and latency of its
// latest sample, and its all-time maximum.
func cmdLATENCYLATEST(c *conn, args [][]byte, inExec bool) {
	events := c.s.latency.snapshot()
	c.w.WriteArray(len(events))
	for _, ev := range events {
		last := ev.samples[len(ev.samples)-1]
		c.w.WriteArray(4)
		c.w.WriteBulkString(ev.name)
		c.w.WriteInt(last.at)
		c.w.WriteInt(last.ms)
		c.w.WriteInt(ev.max)
	}
}

// cmdLATENCYHISTORY: LATENCY HISTORY event, its samples oldest first. The
// event name is matched exactly, as Redis's dictFetchValue does.
func cmdLATENCYHISTORY(c *conn, args [][]byte, inExec bool) {
	m := c.s.latency
	m.mu.Lock()
	var samples []latencySample
	if ev := m.mu.events[string(args[2])]; ev != nil {
		samples = slices.Clone(ev.samples)
	}
	m.mu.Unlock()
	c.w.WriteArray(len(samples))
	for _, s := range samples {
		c.w.WriteArray(2)
		c.w.WriteInt(s.at)
		c.w.WriteInt(s.ms)
	}
}

// cmdLATENCYRESET: LATENCY RESET [event ...], every event when none is
// named; event names are matched case-insensitively. Replies the number of
// events reset.
func cmdLATENCYRESET(c *conn, args [][]byte, inExec bool) {
	m := c.s.latency
	m.mu.Lock()
	n := 0
	if len(args) == 2 {
		n = len(m.mu.events)
		clear(m.mu.events)
	} else {
		for _, a := range args[2:] {
			for name := range m.mu.events {
				if strings.EqualFold(name, string(a)) {
					delete(m.mu.events, name)
					n++
				}
			}
		}
	}
	m.mu.Unlock()
	c.w.WriteInt(int64(n))
}

func cmdLATENCYDOCTOR(c *conn, args [][]byte, inExec bool) {
	c.w.WriteVerbatim("txt", c.s.latencyReport())
}

func cmdLATENCYHELP(c *conn, args [][]byte, inExec bool) {
	writeHelp(c, "LATENCY", []string{
		"DOCTOR",
		"    Return a human readable latency analysis report.",
		"HISTORY <event>",
		"    Return time-latency samples for the <event> class.",
		"LATEST",
		"    Return the latest latency samples for all events.",
		"RESET [<event> ...]",
		"    Reset latency data of one or more <event> classes.",
		"    (default: reset all data for all event classes)",
	})
}

// latencyStats is Redis's struct latencyStats: what the doctor says of an
// event's samples.
type latencyStats struct {
	samples, avg, mad, min, max, period int64
}

func analyzeLatency(ev latencyEventView, now int64) latencyStats {
	var ls latencyStats
	var sum, oldest int64
	for _, s := range ev.samples {
		ls.samples++
		if ls.samples == 1 {
			ls.min, ls.max = s.ms, s.ms
		} else {
			ls.min, ls.max = min(ls.min, s.ms), max(ls.max, s.ms)
		}
		sum += s.ms
		if oldest == 0 || s.at < oldest {
			oldest = s.at
		}
	}
	if ls.samples == 0 {
		return ls
	}
	ls.avg = sum / ls.samples
	ls.period = now - oldest
	if ls.period == 0 {
		ls.period = 1
	}
	var dev int64
	for _, s := range ev.samples {
		d := ls.avg - s.ms
		if d < 0 {
			d = -d
		}
		dev += d
	}
	ls.mad = dev / ls.samples
	return ls
}

// latencyReport writes LATENCY DOCTOR's report as Redis's
// createLatencyReport, for the events Flotilla records (command,
// fast-command, and the expiry and eviction cycles); the persistence
// advice has no place in a node without AOF or fork.
func (s *Server) latencyReport() string {
	threshold := s.cfg.Int("latency-monitor-threshold")
	events := s.latency.snapshot()
	if len(events) == 0 && threshold == 0 {
		return "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n"
	}
	var (
		b                                      strings.Builder
		adviseSlowlogEnabled, adviseSlowlogTun bool
		adviseSlowlogInspect, adviseScheduler  bool
		adviseHz, adviseLargeObjects           bool
		adviseMassEviction, adviseDisableTHP   bool
		advices                                int
	)
	slowlogThreshold := s.cfg.Int("slowlog-log-slower-than")
	now := time.Now().Unix()
	for i, ev := range events {
		if i == 0 {
			b.WriteString("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n")
		}
		ls := analyzeLatency(ev, now)
		fmt.Fprintf(&b, "%d. %s: %d latency spikes (average %dms, mean deviation %dms, period %.2f sec). Worst all time event %dms.",
			i+1, ev.name, ls.samples, ls.avg, ls.mad, float64(ls.period)/float64(ls.samples), ev.max)
		switch strings.ToLower(ev.name) {
		case "command":
			if slowlogThreshold < 0 {
				adviseSlowlogEnabled = true
				advices++
			} else if slowlogThreshold/1000 > threshold {
				adviseSlowlogTun = true
				advices++
			}
			adviseSlowlogInspect = true
			adviseLargeObjects = true
			advices += 2
		case "fast-command":
			adviseScheduler = true
			advices++
		case "expire-cycle":
			adviseHz = true
			adviseLargeObjects = true
			advices += 2
		case "eviction-del":
			adviseLargeObjects = true
			advices++
		case "eviction-cycle":
			adviseMassEviction = true
			advices++
		}
		b.WriteByte('\n')
	}
	if anonHugePages() > 0 {
		adviseDisableTHP = true
		advices++
	}
	switch {
	case len(events) == 0 && advices == 0:
		b.WriteString("Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n")
	case len(events) > 0 && advices == 0:
		b.WriteString("\nWhile there are latency events logged, I'm not able to suggest any easy fix. Please use the Redis community to get some help, providing this report in your help request.\n")
	default:
		b.WriteString("\nI have a few advices for you:\n\n")
		if adviseSlowlogEnabled {
			fmt.Fprintf(&b, "- There are latency issues with potentially slow commands you are using. Try to enable the Slow Log Redis feature using the command 'CONFIG SET slowlog-log-slower-than %d'. If the Slow log is disabled Redis is not able to log slow commands execution for you.\n", threshold*1000)
		}
		if adviseSlowlogTun {
			fmt.Fprintf(&b, "- Your current Slow Log configuration only logs events that are slower than your configured latency monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than %d'.\n", threshold*1000)
		}
		if adviseSlowlogInspect {
			b.WriteString("- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n")
		}
		if adviseScheduler {
			b.WriteString("- The system is slow to execute Redis code paths not containing system calls. This usually means the system does not provide Redis CPU time to run for long periods. You should try to:\n" +
				"  1) Lower the system load.\n" +
				"  2) Use a computer / VM just for Redis if you are running other software in the same system.\n" +
				"  3) Check if you have a \"noisy neighbour\" problem.\n" +
				"  4) Check with 'redis-cli --intrinsic-latency 100' what is the intrinsic latency in your system.\n" +
				"  5) Check if the problem is allocator-related by recompiling Redis with MALLOC=libc, if you are using Jemalloc. However this may create fragmentation problems.\n")
		}
		if adviseHz && s.cfg.Int("hz") < 100 {
			b.WriteString("- In order to make the Redis keys expiring process more incremental, try to set the 'hz' configuration parameter to 100 using 'CONFIG SET hz 100'.\n")
		}
		if adviseLargeObjects {
			b.WriteString("- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. If you have very large objects that are often deleted, expired, or evicted, try to fragment those objects into multiple smaller objects.\n")
		}
		if adviseMassEviction {
			b.WriteString("- Sudden changes to the 'maxmemory' setting via 'CONFIG SET', or allocation of large objects via sets or sorted sets intersections, STORE option of SORT, Redis Cluster large keys migrations (RESTORE command), may create sudden memory pressure forcing the server to block trying to evict keys. \n")
		}
		if adviseDisableTHP {
			b.WriteString("- I detected a non zero amount of anonymous huge pages used by your process. This creates very serious latency events in different conditions, especially when Redis is persisting on disk. To disable THP support use the command 'echo never > /sys/kernel/mm/transparent_hugepage/enabled', make sure to also add it into /etc/rc.local so that the command will be executed again after a reboot. Note that even if you have already disabled THP, you still need to restart the Redis process to get rid of the huge pages already created.\n")
		}
	}
	return b.String()
}

// anonHugePages returns the bytes of transparent huge pages the process
// uses (AnonHugePages in /proc/self/smaps_rollup), 0 when unknown.
func anonHugePages() int64 {
	data, err := os.ReadFile("/proc/self/smaps_rollup")
	if err != nil {
		return 0
	}
	for _, line := range bytes.Split(data, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte("AnonHugePages:")); ok {
			f := strings.Fields(string(rest))
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}
