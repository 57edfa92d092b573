package engine

import (
	"bytes"
	"math"
	"strconv"
	"strings"
)

func init() {
	register("del", cmdDEL)
	register("unlink", cmdDEL)
	register("exists", cmdEXISTS)
	register("type", cmdTYPE)
	register("touch", cmdTOUCH)
	register("expire", cmdEXPIRE)
	register("pexpire", cmdPEXPIRE)
	register("expireat", cmdEXPIREAT)
	register("pexpireat", cmdPEXPIREAT)
	register("ttl", cmdTTL)
	register("pttl", cmdPTTL)
	register("expiretime", cmdEXPIRETIME)
	register("pexpiretime", cmdPEXPIRETIME)
	register("persist", cmdPERSIST)
	register("rename", cmdRENAME)
	register("renamenx", cmdRENAMENX)
	register("copy", cmdCOPY)
	register("keys", cmdKEYS)
	register("scan", cmdSCAN)
	register("randomkey", cmdRANDOMKEY)
	register("dbsize", cmdDBSIZE)
	register("flushdb", cmdFLUSHDB)
	register("flushall", cmdFLUSHDB)
	register("object", cmdOBJECT)
}

// Error texts of the keyspace commands that reply.go does not have.
const (
	errSameObject        = "ERR source and destination objects are the same"
	errDBIndexRange      = "ERR DB index is out of range"
	errCopyOtherDB       = "ERR Copying to another database is not allowed in cluster mode"
	errValueOutOfRange   = "ERR value is out of range, value must between -2147483648 and 2147483647"
	errExpireNXIncompat  = "ERR NX and XX, GT or LT options at the same time are not compatible"
	errExpireGTLTIncompa = "ERR GT and LT options at the same time are not compatible"
	errLFUNotSelected    = "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."
)

// numDatabases is Redis's default "databases" (16): in cluster mode only DB
// 0 is usable, but COPY ... DB n still checks n against it.
const numDatabases = 16

// lookupNoTouch is a read lookup with Redis's LOOKUP_NOTOUCH (EXISTS, TYPE,
// TTL, OBJECT): the hit or miss is counted, the access time is left alone.
func (c *Ctx) lookupNoTouch(key []byte) (object, bool) {
	o, ok := c.DB.peek(key, c.Now)
	if ok {
		c.DB.stats.Hits.Add(1)
	} else {
		c.DB.stats.Misses.Add(1)
	}
	return o, ok
}

// KeyInfo returns the type of the value at key, and ok=false if the key is
// missing or expired at now. It changes nothing (no access time, no
// statistics) and is safe under the read lock.
func (db *DB) KeyInfo(key []byte, now int64) (typ Type, ok bool) {
	o, ok := db.peek(key, now)
	if !ok {
		return TypeNone, false
	}
	return o.typ, true
}

// SlotKeys returns up to count keys of slot s, in the slot's table order, for
// CLUSTER GETKEYSINSLOT. Like Redis it includes keys that expired but were
// not deleted yet. Safe under the read lock.
func (db *DB) SlotKeys(s Slot, count int) [][]byte {
	sk := db.slotAt(int(s))
	if sk == nil || count <= 0 {
		return nil
	}
	out := make([][]byte, 0, min(count, sk.keys.Len()))
	sk.keys.Each(func(key string, _ *object) bool {
		out = append(out, []byte(key))
		return len(out) < count
	})
	return out
}

// cmdDEL: DEL key [key ...] (and UNLINK: memory is freed by the GC either way)
func cmdDEL(c *Ctx) {
	n := int64(0)
	for _, key := range c.Args[1:] {
		// lookupWrite deletes an expired key, which then does not count.
		if _, ok := c.lookupWrite(key); ok && c.deleteKey(key) {
			n++
		}
	}
	c.W.WriteInt(n)
}

// cmdEXISTS: EXISTS key [key ...]
func cmdEXISTS(c *Ctx) {
	n := int64(0)
	for _, key := range c.Args[1:] {
		if _, ok := c.lookupNoTouch(key); ok {
			n++
		}
	}
	c.W.WriteInt(n)
}

// cmdTYPE: TYPE key
func cmdTYPE(c *Ctx) {
	o, _ := c.lookupNoTouch(c.Args[1])
	c.W.WriteSimple(o.typ.String())
}

// cmdTOUCH: TOUCH key [key ...]
func cmdTOUCH(c *Ctx) {
	n := int64(0)
	for _, key := range c.Args[1:] {
		if _, ok := c.lookupRead(key); ok {
			n++
		}
	}
	c.W.WriteInt(n)
}

// Flags of EXPIRE's options.
const (
	expireNX = 1 << iota
	expireXX
	expireGT
	expireLT
)

// expireGeneric is Redis's expireGenericCommand: the time argument is
// relative to base (c.Now, or 0 for the *AT forms), in seconds or ms.
func (c *Ctx) expireGeneric(base int64, seconds bool, cmdName string) {
	key := c.Args[1]
	flags := 0
	for i := 3; i < len(c.Args); i++ {
		switch {
		case c.isArg(i, "NX"):
			flags |= expireNX
		case c.isArg(i, "XX"):
			flags |= expireXX
		case c.isArg(i, "GT"):
			flags |= expireGT
		case c.isArg(i, "LT"):
			flags |= expireLT
		default:
			c.err("ERR Unsupported option " + errorArg(c.Args[i], len(c.Args[i])))
			return
		}
	}
	if flags&expireNX != 0 && flags&(expireXX|expireGT|expireLT) != 0 {
		c.err(errExpireNXIncompat)
		return
	}
	if flags&expireGT != 0 && flags&expireLT != 0 {
		c.err(errExpireGTLTIncompa)
		return
	}
	when, ok := parseInt(c.Args[2])
	if !ok {
		c.err(ErrNotInteger)
		return
	}
	if seconds {
		if when > math.MaxInt64/1000 || when < math.MinInt64/1000 {
			c.errInvalidExpire(cmdName)
			return
		}
		when *= 1000
	}
	if when > math.MaxInt64-base {
		c.errInvalidExpire(cmdName)
		return
	}
	when += base
	if _, found := c.lookupWrite(key); !found {
		c.W.WriteInt(0)
		return
	}
	if flags != 0 {
		cur := c.DB.expireAt(key) // -1: no expiry, an infinite TTL
		switch {
		case flags&expireNX != 0 && cur != -1,
			flags&expireXX != 0 && cur == -1,
			flags&expireGT != 0 && (cur == -1 || when <= cur),
			flags&expireLT != 0 && cur != -1 && when >= cur:
			c.W.WriteInt(0)
			return
		}
	}
	if when <= c.Now {
		// A time already past deletes the key (checkAlreadyExpired).
		c.deleteKey(key)
	} else {
		c.DB.setExpire(key, when)
	}
	c.W.WriteInt(1)
}

// cmdEXPIRE: EXPIRE key seconds [NX | XX | GT | LT]
func cmdEXPIRE(c *Ctx) { c.expireGeneric(c.Now, true, "expire") }

// cmdPEXPIRE: PEXPIRE key milliseconds [NX | XX | GT | LT]
func cmdPEXPIRE(c *Ctx) { c.expireGeneric(c.Now, false, "pexpire") }

// cmdEXPIREAT: EXPIREAT key unix-time-seconds [NX | XX | GT | LT]
func cmdEXPIREAT(c *Ctx) { c.expireGeneric(0, true, "expireat") }

// cmdPEXPIREAT: PEXPIREAT key unix-time-milliseconds [NX | XX | GT | LT]
func cmdPEXPIREAT(c *Ctx) { c.expireGeneric(0, false, "pexpireat") }

// ttlGeneric is Redis's ttlGenericCommand: the time left (or the expiry
// time when abs), in ms or rounded to seconds; -2 for a missing key, -1 for
// a key without expiry.
func (c *Ctx) ttlGeneric(ms, abs bool) {
	key := c.Args[1]
	if _, ok := c.lookupNoTouch(key); !ok {
		c.W.WriteInt(-2)
		return
	}
	at := c.DB.expireAt(key)
	if at == -1 {
		c.W.WriteInt(-1)
		return
	}
	ttl := at
	if !abs {
		ttl = at - c.Now
	}
	ttl = max(ttl, 0)
	if !ms {
		// (ttl+500)/1000 without overflowing: Redis's compiled code gives the
		// exact result for PXAT 9223372036854775807 too.
		ttl = ttl/1000 + (ttl%1000+500)/1000
	}
	c.W.WriteInt(ttl)
}

// cmdTTL: TTL key
func cmdTTL(c *Ctx) { c.ttlGeneric(false, false) }

// cmdPTTL: PTTL key
func cmdPTTL(c *Ctx) { c.ttlGeneric(true, false) }

// cmdEXPIRETIME: EXPIRETIME key
func cmdEXPIRETIME(c *Ctx) { c.ttlGeneric(false, true) }

// cmdPEXPIRETIME: PEXPIRETIME key
func cmdPEXPIRETIME(c *Ctx) { c.ttlGeneric(true, true) }

// cmdPERSIST: PERSIST key
func cmdPERSIST(c *Ctx) {
	key := c.Args[1]
	if _, ok := c.lookupWrite(key); ok && c.DB.persist(key) {
		c.W.WriteInt(1)
		return
	}
	c.W.WriteInt(0)
}

// addKey stores o at a key known to be missing, with an expiry time at (-1
// for none), as Redis's dbAdd + setExpire: clients blocked on a list or
// sorted set at key are served.
func (c *Ctx) addKey(key []byte, o object, at int64) {
	c.setKey(key, o, false)
	if at != -1 {
		c.DB.setExpire(key, at)
	}
	if o.typ == TypeList || o.typ == TypeZSet {
		c.ready(key)
	}
}

func (c *Ctx) renameGeneric(nx bool) {
	src, dst := c.Args[1], c.Args[2]
	o, ok := c.lookupWrite(src)
	if !ok {
		c.err(ErrNoSuchKey)
		return
	}
	if string(src) == string(dst) {
		if nx {
			c.W.WriteInt(0)
		} else {
			c.ok()
		}
		return
	}
	at := c.DB.expireAt(src)
	if _, exists := c.lookupWrite(dst); exists {
		if nx {
			c.W.WriteInt(0)
			return
		}
		c.deleteKey(dst)
	}
	// The object moves: a raw string's buffer and a collection change owner.
	c.addKey(dst, o, at)
	c.deleteKey(src)
	if nx {
		c.W.WriteInt(1)
	} else {
		c.ok()
	}
}

// cmdRENAME: RENAME key newkey
func cmdRENAME(c *Ctx) { c.renameGeneric(false) }

// cmdRENAMENX: RENAMENX key newkey
func cmdRENAMENX(c *Ctx) { c.renameGeneric(true) }

// cloneObject returns a deep copy of o (COPY).
func cloneObject(o object) object {
	switch o.typ {
	case TypeString:
		return cloneString(o)
	case TypeList:
		return newCollection(TypeList, collection[listValue](o).clone())
	case TypeSet:
		return newCollection(TypeSet, collection[setValue](o).clone())
	case TypeZSet:
		return newCollection(TypeZSet, collection[zsetValue](o).clone())
	case TypeHash:
		return newCollection(TypeHash, collection[hashValue](o).clone())
	}
	panic("engine: cloneObject of an unknown type")
}

// cmdCOPY: COPY source destination [DB destination-db] [REPLACE]
func cmdCOPY(c *Ctx) {
	src, dst := c.Args[1], c.Args[2]
	replace := false
	dbid := int64(0)
	for i := 3; i < len(c.Args); i++ {
		switch {
		case c.isArg(i, "REPLACE"):
			replace = true
		case c.isArg(i, "DB") && i+1 < len(c.Args):
			v, ok := parseInt(c.Args[i+1])
			if !ok {
				c.err(ErrNotInteger)
				return
			}
			if v < math.MinInt32 || v > math.MaxInt32 {
				c.err(errValueOutOfRange)
				return
			}
			if v < 0 || v >= numDatabases {
				c.err(errDBIndexRange)
				return
			}
			dbid = v
			i++
		default:
			c.err(ErrSyntax)
			return
		}
	}
	// Flotilla is always in cluster mode: only DB 0 exists.
	if dbid != 0 {
		c.err(errCopyOtherDB)
		return
	}
	if string(src) == string(dst) {
		c.err(errSameObject)
		return
	}
	o, ok := c.lookupReadWrite(src)
	if !ok {
		c.W.WriteInt(0)
		return
	}
	at := c.DB.expireAt(src)
	if _, exists := c.lookupWrite(dst); exists {
		if !replace {
			c.W.WriteInt(0)
			return
		}
		c.deleteKey(dst)
	}
	c.addKey(dst, cloneObject(o), at)
	c.W.WriteInt(1)
}

// cmdKEYS: KEYS pattern
func cmdKEYS(c *Ctx) {
	pattern := unsafeString(c.Args[1])
	all := pattern == "*"
	var keys []string
	for i := range c.DB.slots {
		sk := c.DB.slotAt(i)
		if sk == nil {
			continue
		}
		sk.keys.Each(func(key string, o *object) bool {
			if (all || GlobMatch(pattern, key, false)) && !sk.expired(key, o, c.Now) {
				keys = append(keys, key)
			}
			return true
		})
	}
	c.W.WriteArray(len(keys))
	for _, k := range keys {
		c.W.WriteBulkString(k)
	}
}

// parseScanCursor parses a SCAN cursor as Redis's parseScanCursorOrReply,
// which uses strtoul: an optional sign ("-1" wraps around), leading zeros
// allowed, nothing else; the empty string is 0.
func parseScanCursor(b []byte) (uint64, bool) {
	s := unsafeString(b)
	if s == "" {
		return 0, true
	}
	neg := false
	switch s[0] {
	case '+':
		s = s[1:]
	case '-':
		neg = true
		s = s[1:]
	}
	if s == "" {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, false
	}
	if neg {
		v = -v
	}
	return v, true
}

// cmdSCAN: SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
//
// The cursor names a slot and a position in that slot's table: cursor =
// inner*NumSlots + slot, where inner is the slot's Dict.Scan cursor. A scan
// walks the slots in order, so a full iteration returns every key that was
// present for all of it at least once, as Redis guarantees.
func cmdSCAN(c *Ctx) {
	cursor, ok := parseScanCursor(c.Args[1])
	if !ok {
		c.err(errInvalidCursor)
		return
	}
	count := 10
	pattern, usePattern := "", false
	typeName, useType := "", false
	for i := 2; i < len(c.Args); i += 2 {
		more := i+1 < len(c.Args)
		switch {
		case c.isArg(i, "COUNT") && more:
			v, ok := parseInt(c.Args[i+1])
			if !ok {
				c.err(ErrNotInteger)
				return
			}
			if v < 1 {
				c.err(ErrSyntax)
				return
			}
			count = int(min(v, math.MaxInt32))
		case c.isArg(i, "MATCH") && more:
			pattern = unsafeString(c.Args[i+1])
			usePattern = pattern != "*"
		case c.isArg(i, "TYPE") && more:
			typeName, useType = unsafeString(c.Args[i+1]), true
		default:
			c.err(ErrSyntax)
			return
		}
	}
	var keys []string
	visited := 0
	slot := int(cursor % NumSlots)
	inner := cursor / NumSlots
	var next uint64
	for {
		sk := c.DB.slotAt(int(slot))
		if sk != nil && sk.keys.Len() > 0 {
			inner = sk.keys.Scan(inner, count-visited, func(key string, o *object) {
				visited++
				if usePattern && !GlobMatch(pattern, key, false) {
					return
				}
				if useType && !strings.EqualFold(typeName, o.typ.String()) {
					return
				}
				if sk.expired(key, o, c.Now) {
					return
				}
				keys = append(keys, key)
			})
		} else {
			inner = 0
		}
		if inner == 0 {
			slot++
			if slot == NumSlots {
				next = 0
				break
			}
		}
		if visited >= count {
			next = inner*NumSlots + uint64(slot)
			break
		}
	}
	c.W.WriteArray(2)
	var tmp [20]byte
	c.W.WriteBulk(strconv.AppendUint(tmp[:0], next, 10))
	c.W.WriteArray(len(keys))
	for _, k := range keys {
		c.W.WriteBulkString(k)
	}
}

// randomKeyTries is how many random picks RANDOMKEY tries before it walks
// the keyspace for a key that did not expire.
const randomKeyTries = 16

// cmdRANDOMKEY: RANDOMKEY
//
// A key is chosen with c.Rand: a slot weighted by its number of keys, then
// Dict.Random in it. An expired key is never returned (a read cannot delete
// it, as Redis would): after a few expired picks, the first live key after a
// random position is returned.
func cmdRANDOMKEY(c *Ctx) {
	db := c.DB
	if db.nkeys == 0 {
		c.W.WriteNull()
		return
	}
	var startSlot int
	for try := 0; try < randomKeyTries; try++ {
		r := c.RandN(db.nkeys)
		slot := 0
		for ; slot < NumSlots; slot++ {
			if sk := db.slotAt(int(slot)); sk != nil {
				if r < sk.keys.Len() {
					break
				}
				r -= sk.keys.Len()
			}
		}
		if slot == NumSlots {
			break // nkeys and the slots disagree: cannot happen
		}
		startSlot = slot
		sk := db.slotAt(int(slot))
		key, o, _ := sk.keys.Random(c.Rand())
		if !sk.expired(key, o, c.Now) {
			c.W.WriteBulkString(key)
			return
		}
	}
	// Mostly expired keys: walk from the last slot tried.
	for i := 0; i < NumSlots; i++ {
		sk := db.slotAt(int((startSlot + i) % NumSlots))
		if sk == nil {
			continue
		}
		found := ""
		ok := false
		sk.keys.Each(func(key string, o *object) bool {
			if !sk.expired(key, o, c.Now) {
				found, ok = key, true
				return false
			}
			return true
		})
		if ok {
			c.W.WriteBulkString(found)
			return
		}
	}
	c.W.WriteNull()
}

// cmdDBSIZE: DBSIZE (counting keys that expired but were not deleted yet,
// as Redis)
func cmdDBSIZE(c *Ctx) { c.W.WriteInt(int64(c.DB.Len())) }

// cmdFLUSHDB: FLUSHDB [ASYNC | SYNC] (and FLUSHALL: there is one database)
func cmdFLUSHDB(c *Ctx) {
	switch {
	case len(c.Args) == 1:
	case len(c.Args) == 2 && (c.isArg(1, "ASYNC") || c.isArg(1, "SYNC")):
	default:
		c.err(ErrSyntax)
		return
	}
	c.DB.Flush()
	c.ok()
}

var objectHelp = []string{
	"OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
	"ENCODING <key>",
	"    Return the kind of internal representation used in order to store the value",
	"    associated with a <key>.",
	"FREQ <key>",
	"    Return the access frequency index of the <key>. The returned integer is",
	"    proportional to the logarithm of the recent access frequency of the key.",
	"IDLETIME <key>",
	"    Return the idle time of the <key>, that is the approximated number of",
	"    seconds elapsed since the last access to the key.",
	"REFCOUNT <key>",
	"    Return the number of references of the value associated with the specified",
	"    <key>.",
	"HELP",
	"    Prints this help.",
}

// encodingOf returns what OBJECT ENCODING says for o.
func encodingOf(o *object) string {
	switch o.typ {
	case TypeString:
		return stringEncoding(o)
	case TypeList:
		return collection[listValue](*o).encodingName()
	case TypeSet:
		return collection[setValue](*o).encodingName()
	case TypeZSet:
		return collection[zsetValue](*o).encodingName()
	case TypeHash:
		return collection[hashValue](*o).encodingName()
	}
	return ""
}

// cmdOBJECT: OBJECT ENCODING|FREQ|IDLETIME|REFCOUNT key, OBJECT HELP
func cmdOBJECT(c *Ctx) {
	var sub string
	switch {
	case c.isArg(1, "HELP"):
		sub = "help"
	case c.isArg(1, "ENCODING"):
		sub = "encoding"
	case c.isArg(1, "FREQ"):
		sub = "freq"
	case c.isArg(1, "IDLETIME"):
		sub = "idletime"
	case c.isArg(1, "REFCOUNT"):
		sub = "refcount"
	default:
		c.err("ERR unknown subcommand '" + errorArg(c.Args[1], 128) + "'. Try OBJECT HELP.")
		return
	}
	want := 3
	if sub == "help" {
		want = 2
	}
	if len(c.Args) != want {
		c.err("ERR wrong number of arguments for 'object|" + sub + "' command")
		return
	}
	if sub == "help" {
		c.W.WriteArray(len(objectHelp))
		for _, line := range objectHelp {
			c.W.WriteSimple(line)
		}
		return
	}
	o, ok := c.lookupNoTouch(c.Args[2])
	if !ok {
		c.W.WriteNull()
		return
	}
	switch sub {
	case "encoding":
		c.W.WriteBulkString(encodingOf(&o))
	case "freq":
		c.err(errLFUNotSelected)
	case "idletime":
		idle := accessClock(c.Now) - o.accessed()
		if idle > math.MaxInt32 {
			idle = 0 // accessed "after" now: a clock that went back
		}
		c.W.WriteInt(int64(idle))
	case "refcount":
		if o.typ == TypeString {
			c.W.WriteInt(stringRefcount(&o))
		} else {
			c.W.WriteInt(1)
		}
	}
}

// errorArg formats an argument for an error text as Redis's "%.<n>s" in
// addReplyErrorFormat does: it stops at a NUL byte or after n bytes, and
// newlines become spaces.
func errorArg(b []byte, n int) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	if len(b) > n {
		b = b[:n]
	}
	out := []byte(string(b))
	for i, ch := range out {
		if ch == '\r' || ch == '\n' {
			out[i] = ' '
		}
	}
	return string(out)
}
