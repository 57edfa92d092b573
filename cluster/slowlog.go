package cluster

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// slowLog keeps the commands that ran longer than slowlog-log-slower-than
// (SLOWLOG GET). Safe for concurrent use.
type slowLog struct {
	threshold atomic.Int64 // µs; negative disables
	mu        struct {
		sync.Mutex
		max     int
		nextID  int64
		entries []slowEntry // newest first
	}
}

type slowEntry struct {
	id       int64
	at       int64 // unix seconds
	duration int64 // µs
	args     []string
	addr     string
	name     string
}

func newSlowLog() *slowLog {
	l := &slowLog{}
	l.threshold.Store(10000)
	l.mu.max = 128
	return l
}

func (l *slowLog) configure(thresholdUs int64, max int) {
	l.threshold.Store(thresholdUs)
	l.mu.Lock()
	l.mu.max = max
	if len(l.mu.entries) > max {
		l.mu.entries = l.mu.entries[:max]
	}
	l.mu.Unlock()
}

// Limits of what an entry keeps, as Redis's SLOWLOG_ENTRY_MAX_ARGC/STRING.
const (
	slowlogMaxArgc   = 32
	slowlogMaxString = 128
)

func (l *slowLog) record(c *conn, args [][]byte, start time.Time, d time.Duration) {
	th := l.threshold.Load()
	us := d.Microseconds()
	if th < 0 || us < th {
		return
	}
	args = slowlogRedacted(args)
	e := slowEntry{at: start.Unix(), duration: us, addr: c.addr, name: *c.name.Load()}
	n := min(len(args), slowlogMaxArgc)
	for i := 0; i < n; i++ {
		if i == slowlogMaxArgc-1 && len(args) > slowlogMaxArgc {
			e.args = append(e.args, "... ("+strconv.Itoa(len(args)-slowlogMaxArgc+1)+" more arguments)")
			break
		}
		a := args[i]
		if len(a) > slowlogMaxString {
			e.args = append(e.args, string(a[:slowlogMaxString])+"... ("+strconv.Itoa(len(a)-slowlogMaxString)+" more bytes)")
		} else {
			e.args = append(e.args, string(a))
		}
	}
	l.mu.Lock()
	e.id = l.mu.nextID
	l.mu.nextID++
	l.mu.entries = append([]slowEntry{e}, l.mu.entries...)
	if len(l.mu.entries) > l.mu.max {
		l.mu.entries = l.mu.entries[:l.mu.max]
	}
	l.mu.Unlock()
}

// latencyMonitor keeps latency spikes per event over
// latency-monitor-threshold ms (LATENCY LATEST/HISTORY). Safe for concurrent
// use.
type latencyMonitor struct {
	threshold atomic.Int64 // ms; 0 disables
	mu        struct {
		sync.Mutex
		events map[string]*latencyEvent
	}
}

type latencySample struct {
	at int64 // unix seconds
	ms int64
}

type latencyEvent struct {
	samples []latencySample // at most 160, oldest first
	max     int64
}

func newLatencyMonitor() *latencyMonitor {
	m := &latencyMonitor{}
	m.mu.events = map[string]*latencyEvent{}
	return m
}

func (m *latencyMonitor) configure(thresholdMs int64) { m.threshold.Store(thresholdMs) }

func (m *latencyMonitor) record(event string, d time.Duration) {
	th := m.threshold.Load()
	ms := d.Milliseconds()
	if th <= 0 || ms < th {
		return
	}
	now := time.Now().Unix()
	m.mu.Lock()
	defer m.mu.Unlock()
	ev := m.mu.events[event]
	if ev == nil {
		ev = &latencyEvent{}
		m.mu.events[event] = ev
	}
	if n := len(ev.samples); n > 0 && ev.samples[n-1].at == now {
		if ms > ev.samples[n-1].ms {
			ev.samples[n-1].ms = ms
		}
	} else {
		ev.samples = append(ev.samples, latencySample{at: now, ms: ms})
		if len(ev.samples) > 160 {
			ev.samples = ev.samples[1:]
		}
	}
	ev.max = max(ev.max, ms)
}
