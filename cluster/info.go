package cluster

import (
	"fmt"
	"math"
	"math/bits"
	"os"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/flotilla-db/flotilla/proto"
)

func init() {
	serverHandlers["info"] = cmdINFO
}

// The sections INFO prints without arguments ("default"), and those only
// "all" or "everything" add, as Redis 7.0.
var (
	defaultSections = []string{"server", "clients", "memory", "persistence", "stats", "replication", "cpu", "modules", "errorstats", "cluster", "keyspace"}
	allSections     = []string{"server", "clients", "memory", "persistence", "stats", "replication", "cpu", "modules", "commandstats", "errorstats", "latencystats", "cluster", "keyspace"}
)

func cmdINFO(c *conn, args [][]byte, inExec bool) {
	want := map[string]bool{}
	if len(args) == 1 {
		for _, s := range defaultSections {
			want[s] = true
		}
	}
	for _, a := range args[1:] {
		s := strings.ToLower(string(a))
		switch s {
		case "default":
			for _, s := range defaultSections {
				want[s] = true
			}
		case "all", "everything":
			for _, s := range allSections {
				want[s] = true
			}
		default:
			want[s] = true
		}
	}
	text := c.s.info(want, inExec)
	c.w.WriteVerbatim("txt", text)
}

// info renders the requested sections in Redis's format and order.
func (s *Server) info(want map[string]bool, inExec bool) string {
	var b strings.Builder
	section := func(name string, fill func(add func(k string, v any))) {
		if !want[strings.ToLower(name)] {
			return
		}
		if b.Len() > 0 {
			b.WriteString("\r\n")
		}
		b.WriteString("# " + name + "\r\n")
		fill(func(k string, v any) {
			b.WriteString(k)
			b.WriteByte(':')
			b.WriteString(fmt.Sprint(v))
			b.WriteString("\r\n")
		})
	}
	now := time.Now()
	uptime := int64(now.Sub(s.started).Seconds())
	var ms runtime.MemStats
	if want["memory"] {
		runtime.ReadMemStats(&ms)
	}
	section("Server", func(add func(string, any)) {
		var uts syscall.Utsname
		syscall.Uname(&uts)
		exe, _ := os.Executable()
		cfgFile := s.cfg.File()
		add("redis_version", RedisVersion)
		add("redis_git_sha1", "00000000")
		add("redis_git_dirty", 0)
		add("redis_build_id", "0")
		add("redis_mode", "cluster")
		add("flotilla_version", Version)
		add("os", utsString(uts.Sysname[:])+" "+utsString(uts.Release[:])+" "+utsString(uts.Machine[:]))
		add("arch_bits", strconv.IntSize)
		add("monotonic_clock", "POSIX clock_gettime")
		add("multiplexing_api", "epoll")
		add("atomicvar_api", "c11-builtin")
		add("go_version", runtime.Version())
		add("process_id", os.Getpid())
		add("process_supervised", "no")
		add("run_id", s.runID)
		add("tcp_port", s.Port())
		add("server_time_usec", now.UnixMicro())
		add("uptime_in_seconds", uptime)
		add("uptime_in_days", uptime/86400)
		add("hz", s.cfg.Get("hz"))
		add("configured_hz", s.cfg.Get("hz"))
		add("lru_clock", now.Unix()&(1<<24-1))
		add("executable", exe)
		add("config_file", cfgFile)
		add("io_threads_active", 0)
	})
	section("Clients", func(add func(string, any)) {
		conns := s.clients()
		blocked := 0
		pubsub := 0
		for _, c := range conns {
			if c.blocked.Load() {
				blocked++
			}
			if c.subCount.Load() > 0 {
				pubsub++
			}
		}
		add("connected_clients", len(conns))
		add("cluster_connections", 0)
		add("maxclients", s.cfg.Get("maxclients"))
		add("client_recent_max_input_buffer", 0)
		add("client_recent_max_output_buffer", 0)
		add("blocked_clients", blocked)
		add("tracking_clients", 0)
		add("pubsub_clients", pubsub)
		add("clients_in_timeout_table", blocked)
	})
	section("Memory", func(add func(string, any)) {
		used := int64(ms.HeapAlloc)
		rss := readRSS()
		peak := s.notePeak(used)
		maxmem := s.cfg.Int("maxmemory")
		add("used_memory", used)
		add("used_memory_human", humanBytes(used))
		add("used_memory_rss", rss)
		add("used_memory_rss_human", humanBytes(rss))
		add("used_memory_peak", peak)
		add("used_memory_peak_human", humanBytes(peak))
		add("used_memory_peak_perc", fmt.Sprintf("%.2f%%", 100*float64(used)/float64(max(peak, 1))))
		add("used_memory_overhead", int64(ms.HeapSys-ms.HeapAlloc))
		add("used_memory_startup", 0)
		add("used_memory_dataset", used)
		add("used_memory_dataset_perc", "100.00%")
		add("allocator_allocated", int64(ms.HeapAlloc))
		add("allocator_active", int64(ms.HeapInuse))
		add("allocator_resident", int64(ms.HeapSys-ms.HeapReleased))
		add("total_system_memory", totalSystemMemory())
		add("total_system_memory_human", humanBytes(totalSystemMemory()))
		add("maxmemory", maxmem)
		add("maxmemory_human", humanBytes(maxmem))
		add("maxmemory_policy", s.cfg.Get("maxmemory-policy"))
		add("allocator_frag_ratio", fmt.Sprintf("%.2f", float64(ms.HeapInuse)/float64(max(ms.HeapAlloc, 1))))
		add("mem_fragmentation_ratio", fmt.Sprintf("%.2f", float64(rss)/float64(max(used, 1))))
		add("mem_allocator", "go-"+runtime.Version())
		add("gc_cycles", ms.NumGC)
		add("gc_heap_goal", heapGoal())
		add("lazyfree_pending_objects", 0)
		add("lazyfreed_objects", 0)
	})
	section("Persistence", func(add func(string, any)) {
		add("loading", 0)
		add("async_loading", 0)
		add("rdb_changes_since_last_save", s.dirty(inExec))
		add("rdb_bgsave_in_progress", 0)
		add("rdb_last_save_time", s.started.Unix())
		add("rdb_last_bgsave_status", "ok")
		add("aof_enabled", 0)
		add("aof_rewrite_in_progress", 0)
		add("aof_last_write_status", "ok")
	})
	section("Stats", func(add func(string, any)) {
		st := s.shard.DB().Stats()
		s.pubsub.mu.RLock()
		nch, npat, nsh := len(s.pubsub.channels), len(s.pubsub.patterns), len(s.pubsub.shard)
		s.pubsub.mu.RUnlock()
		add("total_connections_received", s.stats.connsReceived.Load())
		add("total_commands_processed", s.stats.commands.Load())
		add("instantaneous_ops_per_sec", s.opsPerSec())
		add("total_net_input_bytes", s.stats.netIn.Load())
		add("total_net_output_bytes", s.stats.netOut.Load())
		add("rejected_connections", s.stats.connsRejected.Load())
		add("expired_keys", st.Expired.Load())
		add("evicted_keys", st.Evicted.Load())
		add("keyspace_hits", st.Hits.Load())
		add("keyspace_misses", st.Misses.Load())
		add("pubsub_channels", nch)
		add("pubsub_patterns", npat)
		add("pubsubshard_channels", nsh)
		add("total_error_replies", s.errors.total())
	})
	section("Replication", func(add func(string, any)) {
		add("role", "master")
		add("connected_slaves", 0)
		add("master_failover_state", "no-failover")
		add("master_replid", *s.replID.Load())
		add("master_repl_offset", 0)
	})
	section("CPU", func(add func(string, any)) {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		add("used_cpu_sys", fmt.Sprintf("%.6f", tv(ru.Stime)))
		add("used_cpu_user", fmt.Sprintf("%.6f", tv(ru.Utime)))
		add("used_cpu_sys_children", "0.000000")
		add("used_cpu_user_children", "0.000000")
	})
	section("Modules", func(add func(string, any)) {})
	section("Commandstats", func(add func(string, any)) {
		for _, cmd := range proto.All() {
			st := &s.stats.cmd[cmd.ID]
			calls := st.calls.Load()
			if calls == 0 && st.rejected.Load() == 0 {
				continue
			}
			usec := st.usec.Load()
			add("cmdstat_"+cmd.Name, fmt.Sprintf("calls=%d,usec=%d,usec_per_call=%.2f,rejected_calls=%d,failed_calls=%d",
				calls, usec, float64(usec)/float64(max(calls, 1)), st.rejected.Load(), st.failed.Load()))
		}
	})
	section("Errorstats", func(add func(string, any)) {
		for _, e := range s.errors.list() {
			add("errorstat_"+e.code, fmt.Sprintf("count=%d", e.count))
		}
	})
	section("Latencystats", func(add func(string, any)) {
		for _, cmd := range proto.All() {
			h := &s.stats.latency[cmd.ID]
			if h.count.Load() == 0 {
				continue
			}
			add("latency_percentiles_usec_"+cmd.Name, fmt.Sprintf("p50=%.3f,p99=%.3f,p99.9=%.3f",
				h.percentile(50), h.percentile(99), h.percentile(99.9)))
		}
	})
	section("Cluster", func(add func(string, any)) {
		add("cluster_enabled", 1)
	})
	section("Keyspace", func(add func(string, any)) {
		var keys, expires int
		if s.node != nil {
			keys, expires = s.node.keyCounts()
		} else if inExec {
			keys, expires = s.shard.DB().Len(), s.shard.DB().VolatileLen()
		} else {
			s.shard.BeginRead()
			keys, expires = s.shard.DB().Len(), s.shard.DB().VolatileLen()
			s.shard.EndRead()
		}
		if keys > 0 {
			add("db0", fmt.Sprintf("keys=%d,expires=%d,avg_ttl=0", keys, expires))
		}
	})
	return b.String()
}

func (s *Server) dirty(inExec bool) int64 {
	if inExec {
		return s.shard.DB().Dirty() - s.savedDirty.Load()
	}
	s.shard.BeginRead()
	defer s.shard.EndRead()
	return s.shard.DB().Dirty() - s.savedDirty.Load()
}

func utsString(b []int8) string {
	var out []byte
	for _, c := range b {
		if c == 0 {
			break
		}
		out = append(out, byte(c))
	}
	return string(out)
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

// humanBytes formats n as Redis's bytesToHuman.
func humanBytes(n int64) string {
	f := float64(n)
	switch {
	case n < 1024:
		return strconv.FormatInt(n, 10) + "B"
	case n < 1024*1024:
		return fmt.Sprintf("%.2fK", f/1024)
	case n < 1024*1024*1024:
		return fmt.Sprintf("%.2fM", f/(1024*1024))
	case n < 1024*1024*1024*1024:
		return fmt.Sprintf("%.2fG", f/(1024*1024*1024))
	default:
		return fmt.Sprintf("%.2fT", f/(1024*1024*1024*1024))
	}
}

func readRSS() int64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

func totalSystemMemory() int64 {
	var si syscall.Sysinfo_t
	if syscall.Sysinfo(&si) != nil {
		return 0
	}
	return int64(si.Totalram) * int64(si.Unit)
}

func heapGoal() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindUint64 {
		return s[0].Value.Uint64()
	}
	return 0
}

// notePeak records the peak of used memory.
func (s *Server) notePeak(used int64) int64 {
	for {
		p := s.peakMemory.Load()
		if used <= p {
			return p
		}
		if s.peakMemory.CompareAndSwap(p, used) {
			return used
		}
	}
}

// opsPerSec is the instantaneous command rate, sampled by the cron.
func (s *Server) opsPerSec() int64 { return s.opsRate.Load() }

// errorStats counts error replies by code (INFO errorstats).
type errorStats struct {
	mu     sync.Mutex
	counts map[string]int64
	all    int64
}

type errorCount struct {
	code  string
	count int64
}

func (e *errorStats) add(msg []byte) {
	code := msg
	if i := slices.Index(code, ' '); i >= 0 {
		code = code[:i]
	}
	e.mu.Lock()
	if e.counts == nil {
		e.counts = map[string]int64{}
	}
	if len(e.counts) < 128 || e.counts[string(code)] > 0 {
		e.counts[string(code)]++
	}
	e.all++
	e.mu.Unlock()
}

func (e *errorStats) total() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.all
}

func (e *errorStats) list() []errorCount {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]errorCount, 0, len(e.counts))
	for k, v := range e.counts {
		out = append(out, errorCount{k, v})
	}
	slices.SortFunc(out, func(a, b errorCount) int { return strings.Compare(a.code, b.code) })
	return out
}

func (e *errorStats) reset() {
	e.mu.Lock()
	e.counts, e.all = nil, 0
	e.mu.Unlock()
}

// latencyHistogram records command durations in log-linear buckets (four
// per power of two of microseconds), for INFO latencystats and metrics.
// Safe for concurrent use.
type latencyHistogram struct {
	count   atomic.Int64
	buckets [latencyBuckets]atomic.Int64
}

const latencyBuckets = 4 * 40

func latencyBucket(us int64) int {
	if us < 4 {
		return int(max(us, 0))
	}
	exp := 63 - bits.LeadingZeros64(uint64(us)) // us in [2^exp, 2^(exp+1))
	sub := (us >> (exp - 2)) & 3                // the next two bits
	b := 4*(exp-1) + int(sub)
	return min(b, latencyBuckets-1)
}

// bucketUpper returns the largest duration (µs) that falls in bucket b.
func bucketUpper(b int) float64 {
	if b < 4 {
		return float64(b)
	}
	exp := b/4 + 1
	sub := int64(b % 4)
	lo := (int64(4) + sub) << (exp - 2)
	return float64(lo + (int64(1) << (exp - 2)) - 1)
}

func (h *latencyHistogram) record(us int64) {
	h.count.Add(1)
	h.buckets[latencyBucket(us)].Add(1)
}

func (h *latencyHistogram) percentile(p float64) float64 {
	n := h.count.Load()
	if n == 0 {
		return 0
	}
	target := int64(math.Ceil(float64(n) * p / 100))
	var seen int64
	for b := range h.buckets {
		seen += h.buckets[b].Load()
		if seen >= target {
			return bucketUpper(b)
		}
	}
	return bucketUpper(latencyBuckets - 1)
}

func (h *latencyHistogram) reset() {
	h.count.Store(0)
	for b := range h.buckets {
		h.buckets[b].Store(0)
	}
}
