package cluster

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	hraft "github.com/hashicorp/raft"

	"github.com/flotilla-db/flotilla/engine"
)

func init() {
	serverHandlers["debug"] = cmdDEBUG
}

// cmdDEBUG: the DEBUG subcommands that make sense for Flotilla, with Redis's
// arities and replies. A known subcommand with other arguments, or an
// unknown one, gets Redis's "unknown subcommand or wrong number of
// arguments" error.
//
// Unlike Redis 7.0 (enable-debug-command no), DEBUG is always enabled:
// Flotilla has no such setting yet.
func cmdDEBUG(c *conn, args [][]byte, inExec bool) {
	sub := strings.ToLower(string(args[1]))
	argc := len(args)
	switch {
	case sub == "help" && argc == 2:
		debugHelp(c)
	case sub == "sleep" && argc == 3:
		debugSleep(c, args, inExec)
	case sub == "set-active-expire" && argc == 3:
		c.s.activeExpire.Store(atoi(args[2]) != 0)
		c.w.WriteOK()
	case sub == "object" && argc == 3:
		debugObject(c, args, inExec)
	case sub == "populate" && argc >= 3 && argc <= 5:
		debugPopulate(c, args, inExec)
	case sub == "change-repl-id" && argc == 2:
		c.s.log.Warn("Changing replication IDs after receiving DEBUG change-repl-id")
		id := randomHex(20)
		c.s.replID.Store(&id)
		c.w.WriteOK()
	case sub == "log" && argc == 3:
		c.s.log.Warn("DEBUG LOG: " + string(args[2]))
		c.w.WriteOK()
	case sub == "error" && argc == 3:
		c.w.WriteError(string(args[2]))
	case sub == "digest" && argc == 2:
		var d [20]byte
		if c.s.node != nil {
			// The keys this node holds, over all its replicas: equal on
			// every node once they hold the same shards and caught up.
			for _, rep := range c.s.node.route.Load().local {
				rep.BeginRead()
				x := rep.DB().Digest()
				rep.EndRead()
				for i := range d {
					d[i] ^= x[i]
				}
			}
			c.w.WriteBulkString(hex.EncodeToString(d[:]))
			return
		}
		c.withRead(c.s.shard, inExec, func(db *engine.DB) { d = db.Digest() })
		c.w.WriteBulkString(hex.EncodeToString(d[:]))
	case sub == "digest-value" && argc >= 2:
		now := time.Now().UnixMilli()
		if c.s.node != nil {
			c.w.WriteArray(argc - 2)
			for _, k := range args[2:] {
				sh := c.slotShard(int(engine.KeySlot(k)))
				sh.BeginRead()
				d := sh.DB().KeyDigest(k, now)
				sh.EndRead()
				c.w.WriteBulkString(hex.EncodeToString(d[:]))
			}
			return
		}
		c.withRead(c.s.shard, inExec, func(db *engine.DB) {
			c.w.WriteArray(argc - 2)
			for _, k := range args[2:] {
				d := db.KeyDigest(k, now)
				c.w.WriteBulkString(hex.EncodeToString(d[:]))
			}
		})
	case sub == "reload" && argc >= 2:
		debugReload(c, inExec)
	default:
		c.w.WriteError(errSubcommandSyntax(args))
	}
}

func debugHelp(c *conn) {
	writeHelp(c, "DEBUG", []string{
		"CHANGE-REPL-ID",
		"    Change the replication IDs of the instance.",
		"    Dangerous: should be used only for testing the replication subsystem.",
		"DIGEST",
		"    Output a hex signature representing the current DB content.",
		"DIGEST-VALUE <key> [<key> ...]",
		"    Output a hex signature of the values of all the specified keys.",
		"ERROR <string>",
		"    Return a Redis protocol error with <string> as message. Useful for clients",
		"    unit tests to simulate Redis errors.",
		"LOG <message>",
		"    Write <message> to the server log.",
		"OBJECT <key>",
		"    Show low level info about `key` and associated value.",
		"POPULATE <count> [<prefix>] [<size>]",
		"    Create <count> string keys named key:<num>. If <prefix> is specified then",
		"    it is used instead of the 'key' prefix. These are not propagated to",
		"    replicas. Cluster slots are not respected so keys not belonging to the",
		"    current node can be created in cluster mode.",
		"RELOAD [option ...]",
		"    Save the RDB on disk and reload it back to memory. Valid <option> values:",
		"    * MERGE: conflicting keys will be loaded from RDB.",
		"    * NOFLUSH: the existing database will not be removed before load, but",
		"      conflicting keys will generate an exception and kill the server.",
		"    * NOSAVE: the database will be loaded from an existing RDB file.",
		"    Examples:",
		"    * DEBUG RELOAD: verify that the server is able to persist, flush and reload",
		"      the database.",
		"    * DEBUG RELOAD NOSAVE: replace the current database with the contents of an",
		"      existing RDB file.",
		"    * DEBUG RELOAD NOSAVE NOFLUSH MERGE: add the contents of an existing RDB",
		"      file to the database.",
		"SET-ACTIVE-EXPIRE <0|1>",
		"    Setting it to 0 disables expiring keys in background when they are not",
		"    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
		"    default.",
		"SLEEP <seconds>",
		"    Stop the server for <seconds>. Decimals allowed.",
	})
}

// debugSleep: DEBUG SLEEP seconds (decimals allowed, parsed as C's strtod:
// garbage is 0). Redis stops the whole server; Flotilla holds the shard's
// write lock for the time, so every command that touches the data waits,
// while connection-level commands (PING, INFO...) still answer.
func debugSleep(c *conn, args [][]byte, inExec bool) {
	secs := strtod(args[2])
	var d time.Duration
	switch {
	case math.IsNaN(secs) || secs <= 0:
	case secs >= math.MaxInt64/float64(time.Second):
		d = math.MaxInt64
	default:
		d = time.Duration(secs*1e6) * time.Microsecond
	}
	c.withWrite(c.shardFor(args), inExec, func(*engine.DB) {
		if d <= 0 {
			return
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-c.s.ctx.Done():
		}
	})
	c.w.WriteOK()
}

// debugObject: DEBUG OBJECT key, Redis's one-line description. The address
// is the value's in Flotilla's heap; serializedlength is an estimate (see
// engine.DB.DebugObject).
func debugObject(c *conn, args [][]byte, inExec bool) {
	var d engine.ObjectDebug
	var ok bool
	c.withRead(c.shardFor(args), inExec, func(db *engine.DB) {
		d, ok = db.DebugObject(args[2], c.s.nowMs())
	})
	if !ok {
		c.w.WriteError("ERR no such key")
		return
	}
	addr := "(nil)" // glibc's %p of NULL
	if d.Addr != 0 {
		addr = "0x" + strconv.FormatUint(uint64(d.Addr), 16)
	}
	extra := ""
	if d.Encoding == "quicklist" {
		extra = fmt.Sprintf(" ql_nodes:%d ql_avg_node:%.2f ql_listpack_max:%d ql_compressed:0 ql_uncompressed_size:%d",
			d.ListNodes, float64(d.ListLen)/float64(d.ListNodes), d.ListFill, d.ListPackedSize)
	}
	c.w.WriteSimple(fmt.Sprintf("Value at:%s refcount:%d encoding:%s serializedlength:%d lru:%d lru_seconds_idle:%d%s",
		addr, d.Refcount, d.Encoding, d.SerializedLen, d.LRU, d.Idle, extra))
}

// debugPopulate: DEBUG POPULATE count [prefix] [size].
func debugPopulate(c *conn, args [][]byte, inExec bool) {
	const errPositive = "ERR value is out of range, must be positive"
	if c.s.node != nil {
		// Keys made outside the log would differ between replicas.
		c.w.WriteError("ERR DEBUG POPULATE is not supported in cluster mode; write the keys instead")
		return
	}
	count, ok := parseLongLong(args[2])
	if !ok || count < 0 {
		c.w.WriteError(errPositive)
		return
	}
	// Redis first sizes its table for count keys, and fails when it cannot
	// allocate it (8 bytes a bucket).
	if count > totalSystemMemory()/8 {
		c.w.WriteError("ERR OOM in dictTryExpand")
		return
	}
	var size int64
	if len(args) == 5 {
		if size, ok = parseLongLong(args[4]); !ok || size < 0 {
			c.w.WriteError(errPositive)
			return
		}
	}
	prefix := []byte("key")
	if len(args) >= 4 {
		prefix = args[3]
		// Redis formats the name from a C string.
		for i, ch := range prefix {
			if ch == 0 {
				prefix = prefix[:i]
				break
			}
		}
	}
	c.withWrite(c.shardFor(args), inExec, func(db *engine.DB) {
		db.Populate(count, prefix, size, c.s.nowMs())
	})
	c.w.WriteOK()
}

// strtod returns the number at the start of b as C's strtod does (leading
// spaces, a decimal or "inf"/"nan"; 0 when there is none).
func strtod(b []byte) float64 {
	s := strings.TrimLeft(string(b), " \t\n\v\f\r")
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	rest := strings.ToLower(s[i:])
	for _, word := range []string{"infinity", "inf", "nan"} {
		if strings.HasPrefix(rest, word) {
			v, _ := strconv.ParseFloat(s[:i]+word, 64)
			return v
		}
	}
	digits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return 0
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i + 1
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		if j < len(s) && s[j] >= '0' && s[j] <= '9' {
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			i = j
		}
	}
	v, _ := strconv.ParseFloat(s[:i], 64)
	return v
}

// atoi returns the integer at the start of b as C's atoi does (0 when
// there is none).
func atoi(b []byte) int64 {
	s := strings.TrimLeft(string(b), " \t\n\v\f\r")
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	j := i
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	v, err := strconv.ParseInt(s[:j], 10, 64)
	if err != nil && j > i {
		if s[0] == '-' {
			return math.MinInt64
		}
		return math.MaxInt64
	}
	return v
}

// debugReload saves the keyspace to a snapshot and loads it back, as
// DEBUG RELOAD does with an RDB file: a test of the snapshot path.
func debugReload(c *conn, inExec bool) {
	if c.s.node != nil {
		// In a cluster the durable form is the Raft snapshot: take one of
		// every shard this node holds (log compaction included).
		for _, rep := range c.s.node.route.Load().local {
			if err := rep.Group.Raft.Snapshot().Error(); err != nil && !errors.Is(err, hraft.ErrNothingNewToSnapshot) {
				c.w.WriteError("ERR Error trying to save the DB: " + err.Error())
				return
			}
		}
		c.w.WriteOK()
		return
	}
	sh := c.s.shard
	if !inExec {
		sh.BeginWrite()
		defer sh.EndWrite()
	}
	var buf bytes.Buffer
	if err := sh.DB().WriteSnapshot(&buf); err != nil {
		c.w.WriteError("ERR Error trying to save the DB: " + err.Error())
		return
	}
	db, err := engine.ReadSnapshot(&buf)
	if err != nil {
		c.w.WriteError("ERR Error trying to load the DB: " + err.Error())
		return
	}
	sh.ReplaceDBLocked(db)
	c.w.WriteOK()
}
