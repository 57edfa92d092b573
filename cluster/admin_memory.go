package cluster

import (
	"runtime"
	"strings"

	"github.com/flotilla-db/flotilla/engine"
)

func init() {
	serverHandlers["memory|usage"] = cmdMEMORYUSAGE
	serverHandlers["memory|stats"] = cmdMEMORYSTATS
	serverHandlers["memory|doctor"] = cmdMEMORYDOCTOR
	serverHandlers["memory|help"] = cmdMEMORYHELP
}

// memoryDefaultSamples is how many elements of a collection MEMORY USAGE
// measures by default (Redis's OBJ_COMPUTE_SIZE_DEF_SAMPLES).
const memoryDefaultSamples = 5

// cmdMEMORYUSAGE: MEMORY USAGE key [SAMPLES count]. The key's and value's
// bytes as the engine estimates them (engine.DB.MemoryUsage); nil if the key
// does not exist.
func cmdMEMORYUSAGE(c *conn, args [][]byte, inExec bool) {
	samples := int64(memoryDefaultSamples)
	for j := 3; j < len(args); j++ {
		if !strings.EqualFold(string(args[j]), "samples") || j+1 >= len(args) {
			c.w.WriteError("ERR syntax error")
			return
		}
		n, ok := parseLongLong(args[j+1])
		if !ok {
			c.w.WriteError(errNotInteger)
			return
		}
		if n < 0 {
			c.w.WriteError("ERR syntax error")
			return
		}
		samples = n // 0: every element
		j++
	}
	var size int64
	var ok bool
	c.withRead(c.shardFor(args), inExec, func(db *engine.DB) {
		size, ok = db.MemoryUsage(args[2], c.s.nowMs(), int(min(samples, 1<<31-1)))
	})
	if !ok {
		c.w.WriteNull()
		return
	}
	c.w.WriteInt(size)
}

// memOverhead is Redis's struct redisMemOverhead, filled with the Go
// runtime's numbers: "allocated" is the live heap (INFO used_memory), the
// allocator's "active" the heap spans in use, its "resident" the heap
// obtained from the OS and not returned.
type memOverhead struct {
	peak, total, startup          int64
	replBacklog, clientsSlaves    int64
	clientsNormal, clusterLinks   int64
	aofBuffer, luaCaches, funcs   int64
	htMain, htExpires, htSlots    int64
	keys                          int64
	overheadTotal, dataset        int64
	bytesPerKey                   int64
	datasetPerc, peakPerc         float32
	allocAllocated, allocActive   int64
	allocResident, rss            int64
	allocFrag, allocRSS, rssExtra float32
	totalFrag                     float32
	allocFragBytes, allocRSSBytes int64
	rssExtraBytes, totalFragBytes int64
	clients                       int
}

func (s *Server) memoryOverhead(inExec bool) memOverhead {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	var m memOverhead
	m.total = int64(ms.HeapAlloc)
	m.peak = s.notePeak(m.total)
	m.clients = len(s.clients())
	read := func() {
		db := s.shard.DB()
		m.htMain, m.htExpires, m.htSlots = db.MemoryOverhead()
		m.keys = int64(db.Len())
	}
	if inExec {
		read()
	} else {
		s.shard.BeginRead()
		read()
		s.shard.EndRead()
	}
	m.overheadTotal = m.startup + m.replBacklog + m.clientsSlaves + m.clientsNormal +
		m.clusterLinks + m.aofBuffer + m.luaCaches + m.funcs
	if m.keys > 0 {
		m.overheadTotal += m.htMain + m.htExpires + m.htSlots
	}
	m.dataset = max(m.total-m.overheadTotal, 0)
	net := int64(1)
	if m.total > m.startup {
		net = m.total - m.startup
	}
	m.datasetPerc = float32(m.dataset) * 100 / float32(net)
	if m.keys > 0 {
		m.bytesPerKey = net / m.keys
	}
	m.peakPerc = float32(m.total) * 100 / float32(max(m.peak, 1))

	m.allocAllocated = int64(ms.HeapAlloc)
	m.allocActive = int64(ms.HeapInuse)
	m.allocResident = int64(ms.HeapSys - ms.HeapReleased)
	m.rss = readRSS()
	ratio := func(a, b int64) float32 {
		if b == 0 {
			return 0
		}
		return float32(a) / float32(b)
	}
	m.allocFrag = ratio(m.allocActive, m.allocAllocated)
	m.allocFragBytes = m.allocActive - m.allocAllocated
	m.allocRSS = ratio(m.allocResident, m.allocActive)
	m.allocRSSBytes = m.allocResident - m.allocActive
	m.rssExtra = ratio(m.rss, m.allocResident)
	m.rssExtraBytes = m.rss - m.allocResident
	m.totalFrag = ratio(m.rss, m.total)
	m.totalFragBytes = m.rss - m.total
	return m
}

// cmdMEMORYSTATS: Redis 7.0's fields, in its order, with the Go runtime's
// numbers (see memOverhead). Flotilla keeps no replication backlog, AOF
// buffer, Lua or function caches; client buffers are not accounted yet.
func cmdMEMORYSTATS(c *conn, args [][]byte, inExec bool) {
	m := c.s.memoryOverhead(inExec)
	n := 27
	if m.keys > 0 {
		n++
	}
	w := c.w
	w.WriteMap(n)
	kv := func(k string, v int64) {
		w.WriteBulkString(k)
		w.WriteInt(v)
	}
	kd := func(k string, v float32) {
		w.WriteBulkString(k)
		w.WriteDouble(float64(v))
	}
	kv("peak.allocated", m.peak)
	kv("total.allocated", m.total)
	kv("startup.allocated", m.startup)
	kv("replication.backlog", m.replBacklog)
	kv("clients.slaves", m.clientsSlaves)
	kv("clients.normal", m.clientsNormal)
	kv("cluster.links", m.clusterLinks)
	kv("aof.buffer", m.aofBuffer)
	kv("lua.caches", m.luaCaches)
	kv("functions.caches", m.funcs)
	if m.keys > 0 {
		w.WriteBulkString("db.0")
		w.WriteMap(3)
		kv("overhead.hashtable.main", m.htMain)
		kv("overhead.hashtable.expires", m.htExpires)
		kv("overhead.hashtable.slot-to-keys", m.htSlots)
	}
	kv("overhead.total", m.overheadTotal)
	kv("keys.count", m.keys)
	kv("keys.bytes-per-key", m.bytesPerKey)
	kv("dataset.bytes", m.dataset)
	kd("dataset.percentage", m.datasetPerc)
	kd("peak.percentage", m.peakPerc)
	kv("allocator.allocated", m.allocAllocated)
	kv("allocator.active", m.allocActive)
	kv("allocator.resident", m.allocResident)
	kd("allocator-fragmentation.ratio", m.allocFrag)
	kv("allocator-fragmentation.bytes", m.allocFragBytes)
	kd("allocator-rss.ratio", m.allocRSS)
	kv("allocator-rss.bytes", m.allocRSSBytes)
	kd("rss-overhead.ratio", m.rssExtra)
	kv("rss-overhead.bytes", m.rssExtraBytes)
	kd("fragmentation", m.totalFrag)
	kv("fragmentation.bytes", m.totalFragBytes)
}

func cmdMEMORYDOCTOR(c *conn, args [][]byte, inExec bool) {
	c.w.WriteVerbatim("txt", memoryDoctorReport(c.s.memoryOverhead(inExec)))
}

// memoryDoctorReport is Redis's getMemoryDoctorReport on Flotilla's
// numbers. Replica buffers and the script cache do not exist here.
func memoryDoctorReport(m memOverhead) string {
	const mb10 = 10 << 20
	var (
		empty, bigPeak, highFrag, highAllocFrag bool
		highAllocRSS, highProcRSS, bigClientBuf bool
		reports                                 int
	)
	if m.total < 5<<20 {
		empty = true
		reports++
	} else {
		if float32(m.peak)/float32(m.total) > 1.5 {
			bigPeak = true
			reports++
		}
		if m.totalFrag > 1.4 && m.totalFragBytes > mb10 {
			highFrag = true
			reports++
		}
		if m.allocFrag > 1.1 && m.allocFragBytes > mb10 {
			highAllocFrag = true
			reports++
		}
		if m.allocRSS > 1.1 && m.allocRSSBytes > mb10 {
			highAllocRSS = true
			reports++
		}
		if m.rssExtra > 1.1 && m.rssExtraBytes > mb10 {
			highProcRSS = true
			reports++
		}
		if m.clients > 0 && m.clientsNormal/int64(m.clients) > 200<<10 {
			bigClientBuf = true
			reports++
		}
	}
	if reports == 0 {
		return "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n"
	}
	if empty {
		return "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n"
	}
	var b strings.Builder
	b.WriteString("Sam, I detected a few issues in this Redis instance memory implants:\n\n")
	if bigPeak {
		b.WriteString(" * Peak memory: In the past this instance used more than 150% the memory that is currently using. The allocator is normally not able to release memory after a peak, so you can expect to see a big fragmentation ratio, however this is actually harmless and is only due to the memory peak, and if the Redis instance Resident Set Size (RSS) is currently bigger than expected, the memory will be used as soon as you fill the Redis instance with more data. If the memory peak was only occasional and you want to try to reclaim memory, please try the MEMORY PURGE command, otherwise the only other option is to shutdown and restart the instance.\n\n")
	}
	if highFrag {
		b.WriteString(" * High total RSS: This instance has a memory fragmentation and RSS overhead greater than 1.4 (this means that the Resident Set Size of the Redis process is much larger than the sum of the logical allocations Redis performed). This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. If the problem is a large peak memory, then there is no issue. Otherwise, make sure you are using the Jemalloc allocator and not the default libc malloc. Note: The currently used allocator is \"go-" + runtime.Version() + "\".\n\n")
	}
	if highAllocFrag {
		b.WriteString(" * High allocator fragmentation: This instance has an allocator external fragmentation greater than 1.1. This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. You can try enabling 'activedefrag' config option.\n\n")
	}
	if highAllocRSS {
		b.WriteString(" * High allocator RSS overhead: This instance has an RSS memory overhead is greater than 1.1 (this means that the Resident Set Size of the allocator is much larger than the sum what the allocator actually holds). This problem is usually due to a large peak memory (check if there is a peak memory entry above in the report), you can try the MEMORY PURGE command to reclaim it.\n\n")
	}
	if highProcRSS {
		b.WriteString(" * High process RSS overhead: This instance has non-allocator RSS memory overhead is greater than 1.1 (this means that the Resident Set Size of the Redis process is much larger than the RSS the allocator holds). This problem may be due to Lua scripts or Modules.\n\n")
	}
	if bigClientBuf {
		b.WriteString(" * Big client buffers: The clients output buffers in this instance are greater than 200K per client (on average). This may result from different causes, like Pub/Sub clients subscribed to channels bot not receiving data fast enough, so that data piles on the Redis instance output buffer, or clients sending commands with large replies or very large sequences of commands in the same pipeline. Please use the CLIENT LIST command in order to investigate the issue if it causes problems in your instance, or to understand better why certain clients are using a big amount of memory.\n\n")
	}
	b.WriteString("I'm here to keep you safe, Sam. I want to help you.\n")
	return b.String()
}

func cmdMEMORYHELP(c *conn, args [][]byte, inExec bool) {
	writeHelp(c, "MEMORY", []string{
		"DOCTOR",
		"    Return memory problems reports.",
		"STATS",
		"    Return information about the memory usage of the server.",
		"USAGE <key> [SAMPLES <count>]",
		"    Return memory in bytes used by <key> and its value. Nested values are",
		"    sampled up to <count> times (default: 5, 0 means sample all).",
	})
}
