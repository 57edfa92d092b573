package engine

import (
	"math"
	"math/big"
	"strconv"
	"unsafe"
)

func init() {
	register("get", cmdGET)
	register("set", cmdSET)
	register("setnx", cmdSETNX)
	register("setex", cmdSETEX)
	register("psetex", cmdPSETEX)
	register("getset", cmdGETSET)
	register("getdel", cmdGETDEL)
	register("getex", cmdGETEX)
	register("mget", cmdMGET)
	register("mset", cmdMSET)
	register("msetnx", cmdMSETNX)
	register("incr", cmdINCR)
	register("decr", cmdDECR)
	register("incrby", cmdINCRBY)
	register("decrby", cmdDECRBY)
	register("incrbyfloat", cmdINCRBYFLOAT)
	register("append", cmdAPPEND)
	register("strlen", cmdSTRLEN)
	register("getrange", cmdGETRANGE)
	register("substr", cmdGETRANGE)
	register("setrange", cmdSETRANGE)
	register("lcs", cmdLCS)
}

// Error texts of the string commands that reply.go does not have.
const (
	errOffsetRange        = "ERR offset is out of range"
	errDecrementOverflow  = "ERR decrement would overflow"
	errBitArgument        = "ERR The bit argument must be 1 or 0."
	errInvalidExpireStart = "ERR invalid expire time in '"
	errLCSType            = "ERR The specified keys must contain string values"
	errLCSIdxLen          = "ERR If you want both the length and indexes, please just use IDX."
	errLCSTooLong         = "ERR String too long for LCS"
	errLCSMemory          = "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"
)

// # String encodings
//
// A string object's enc says what OBJECT ENCODING reports, following the
// object Redis 7.0 would have built for it:
//
//   - strAuto: what tryObjectEncoding makes of a value that came as an
//     argument (SET, MSET, APPEND to a new key...): "int" if it is the
//     canonical form of an int64 of at most 20 bytes, "embstr" up to 44
//     bytes, "raw" above. Small ints (0..9999, also INCR's results in that
//     range) are Redis's shared integers: OBJECT REFCOUNT says 2147483647.
//   - strRaw: "raw"; set by the commands that modify a string in place
//     (APPEND, SETRANGE, SETBIT, BITFIELD), as Redis's dbUnshareStringValue
//     does, and on BITOP's result.
//   - strEmbstr: what createStringObject makes (INCRBYFLOAT's result):
//     "embstr" up to 44 bytes, "raw" above, never "int".
//   - strInt: "int" but not a shared integer: OBJECT REFCOUNT says 1. INCR
//     makes its results outside 0..9999 strInt, and COPY of a small int
//     makes one (as dupStringObject does).
//
// Only strRaw and strInt objects have their bytes modified in place (APPEND,
// SETRANGE, SETBIT; INCR and friends), and such an object always owns its
// buffer: the command that gave it that encoding allocated it (COPY
// allocates too). The buffers of other string objects may be shared with Go
// strings (sharedInt, INCRBYFLOAT's result) and are never written to.
const (
	strAuto   = 0
	strEmbstr = 2
	strInt    = 3

	embstrSizeLimit = 44 // OBJ_ENCODING_EMBSTR_SIZE_LIMIT
	sharedIntegers  = 10000
	sharedRefcount  = 2147483647 // OBJ_SHARED_REFCOUNT
	sdsMaxPrealloc  = 1 << 20    // SDS_MAX_PREALLOC
	maxStringLength = math.MaxUint32
)

// sharedIntDigits holds the decimal forms of 0..9999 back to back, so that
// small integers (Redis's shared integers) cost no allocation.
var sharedIntDigits = func() string {
	b := make([]byte, 0, 38890)
	for i := 0; i < sharedIntegers; i++ {
		b = strconv.AppendInt(b, int64(i), 10)
	}
	return string(b)
}()

// sharedInt returns the decimal form of 0 <= v < sharedIntegers without
// allocating.
func sharedInt(v int64) string {
	var off, n int64
	switch {
	case v < 10:
		off, n = v, 1
	case v < 100:
		off, n = 10+(v-10)*2, 2
	case v < 1000:
		off, n = 190+(v-100)*3, 3
	default:
		off, n = 2890+(v-1000)*4, 4
	}
	return sharedIntDigits[off : off+n]
}

// intObject returns a string object holding the decimal form of v, as
// createStringObjectFromLongLongForValue: shared for 0..9999, otherwise a
// strInt with room for any int64.
func intObject(v int64) object {
	if v >= 0 && v < sharedIntegers {
		return newStringObjectFromString(sharedInt(v))
	}
	buf := strconv.AppendInt(make([]byte, 0, 20), v, 10)
	return object{typ: TypeString, enc: strInt, ptr: unsafe.Pointer(unsafe.SliceData(buf)), n: uint32(len(buf)), c: 20}
}

// stringValue returns the object SET and friends store for an argument (as
// tryObjectEncoding): a copy of b, or a shared integer.
func stringValue(b []byte) object {
	if len(b) <= 4 && len(b) > 0 {
		if v, ok := parseInt(b); ok && v >= 0 {
			return newStringObjectFromString(sharedInt(v))
		}
	}
	return newStringObject(b)
}

// isIntEncodable reports whether tryObjectEncoding would encode b as an int.
func isIntEncodable(b []byte) bool {
	if len(b) > 20 {
		return false
	}
	_, ok := parseInt(b)
	return ok
}

// stringEncoding returns what OBJECT ENCODING says for a string object.
func stringEncoding(o *object) string {
	switch o.enc {
	case strRaw:
		return "raw"
	case strInt:
		return "int"
	case strAuto:
		if isIntEncodable(o.bytes()) {
			return "int"
		}
	}
	if o.n <= embstrSizeLimit {
		return "embstr"
	}
	return "raw"
}

// stringRefcount returns what OBJECT REFCOUNT says for a string object.
func stringRefcount(o *object) int64 {
	if o.enc == strAuto && o.n <= 4 {
		if v, ok := parseInt(o.bytes()); ok && v >= 0 {
			return sharedRefcount
		}
	}
	return 1
}

// cloneString returns a deep copy of a string object, as dupStringObject.
func cloneString(o object) object {
	enc := o.enc
	if enc == strAuto && stringRefcount(&o) == sharedRefcount {
		enc = strInt
	}
	cp := newStringObject(o.bytes())
	cp.enc = enc
	return cp
}

// rawBuffer returns the whole buffer (length o.c) of a strRaw or strInt
// object, which it owns.
func (o *object) rawBuffer() []byte {
	if o.c == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(o.ptr), o.c)
}

// growString returns a strRaw object holding o's bytes (o may be the zero
// object of a missing key), with length at least size, zero-padded, ready to
// be modified in place. Like dbUnshareStringValue followed by sdsgrowzero,
// it copies an object that is not raw yet and grows greedily (doubling below
// 1MB), as sdsMakeRoomFor does.
func growString(o object, size int) object {
	if o.enc == strRaw && size <= int(o.c) {
		if size > int(o.n) {
			clear(o.rawBuffer()[o.n:size])
			o.n = uint32(size)
		}
		return o
	}
	n := max(int(o.n), size)
	capacity := n
	if size > int(o.n) && o.typ != TypeNone {
		// sdsMakeRoomFor's greedy growth.
		if capacity < sdsMaxPrealloc {
			capacity *= 2
		} else {
			capacity += sdsMaxPrealloc
		}
		capacity = min(capacity, maxStringLength)
	}
	var buf []byte
	if capacity > 0 {
		buf = make([]byte, capacity)
		copy(buf, o.bytes())
	}
	r := object{typ: TypeString, enc: strRaw, n: uint32(n), c: uint32(capacity), flags: o.flags, lru: o.lru}
	if capacity > 0 {
		r.ptr = unsafe.Pointer(unsafe.SliceData(buf))
	}
	return r
}

// storeString stores a string object built by a command at key: added if
// the key was missing (existed=false), replaced keeping the expiry time
// otherwise (dbOverwrite).
func (c *Ctx) storeString(key []byte, o object, existed bool) {
	if existed {
		c.DB.updateKey(key, o, c.Now)
	} else {
		c.setKey(key, o, false)
	}
}

// checkStringLength is Redis's: size+add must fit in proto-max-bulk-len.
func (c *Ctx) checkStringLength(size, add int64) bool {
	total := size + add
	if total > c.DB.cfg.ProtoMaxBulkLen || total < size || total < add || total > maxStringLength {
		c.err(ErrStringTooLong)
		return false
	}
	return true
}

// lookupReadWrite looks a key up for a write command that reads it as
// Redis's lookupKeyRead does (GETDEL, GETEX, GETSET, SET GET, COPY): an
// expired key is deleted, and the hit or miss is counted.
func (c *Ctx) lookupReadWrite(key []byte) (object, bool) {
	o, ok := c.DB.lookupWrite(key, c.Now)
	if ok {
		c.DB.stats.Hits.Add(1)
	} else {
		c.DB.stats.Misses.Add(1)
	}
	return o, ok
}

// cmdGET: GET key
func cmdGET(c *Ctx) {
	o, ok := c.readType(c.Args[1], TypeString)
	if !ok {
		return
	}
	if o.typ == TypeNone {
		c.W.WriteNull()
		return
	}
	c.W.WriteBulk(o.bytes())
}

// Flags of SET and GETEX options, as Redis's OBJ_* flags.
const (
	setNX = 1 << iota
	setXX
	setGET
	setKeepTTL
	setEX
	setPX
	setEXAT
	setPXAT
	setPersist

	setExpireFlags = setEX | setPX | setEXAT | setPXAT
)

// parseStringOptions parses SET's or GETEX's options from c.Args[from:], as
// parseExtendedStringArgumentsOrReply: allowed says which flags the command
// takes. It returns the flags and the argument of the expire option (nil if
// none), or writes a syntax error and returns ok=false. The expire time is
// validated later (expireMillis), in the order Redis does it.
func (c *Ctx) parseStringOptions(from int, allowed int) (flags int, expire []byte, ok bool) {
	args := c.Args
	for i := from; i < len(args); i++ {
		var f int
		hasArg := false
		switch {
		case c.isArg(i, "NX"):
			f = setNX
		case c.isArg(i, "XX"):
			f = setXX
		case c.isArg(i, "GET"):
			f = setGET
		case c.isArg(i, "KEEPTTL"):
			f = setKeepTTL
		case c.isArg(i, "PERSIST"):
			f = setPersist
		case c.isArg(i, "EX"):
			f, hasArg = setEX, true
		case c.isArg(i, "PX"):
			f, hasArg = setPX, true
		case c.isArg(i, "EXAT"):
			f, hasArg = setEXAT, true
		case c.isArg(i, "PXAT"):
			f, hasArg = setPXAT, true
		}
		if f == 0 || f&allowed == 0 || (hasArg && i+1 >= len(args)) {
			c.err(ErrSyntax)
			return 0, nil, false
		}
		// As Redis: repeating an option is allowed (the last value wins),
		// combining exclusive ones is a syntax error.
		conflict := 0
		switch f {
		case setNX:
			conflict = setXX
		case setXX:
			conflict = setNX
		case setKeepTTL:
			conflict = setExpireFlags | setPersist
		case setPersist:
			conflict = setExpireFlags | setKeepTTL
		case setGET:
		default:
			conflict = setExpireFlags&^f | setKeepTTL | setPersist
		}
		if flags&conflict != 0 {
			c.err(ErrSyntax)
			return 0, nil, false
		}
		flags |= f
		if hasArg {
			i++
			expire = args[i]
		}
	}
	return flags, expire, true
}

// expireMillis turns the argument of an EX/PX/EXAT/PXAT option into an
// absolute time in ms, as getExpireMillisecondsOrReply: cmdName is the
// command named in the error.
func (c *Ctx) expireMillis(flags int, arg []byte, cmdName string) (int64, bool) {
	v, ok := parseInt(arg)
	if !ok {
		c.err(ErrNotInteger)
		return 0, false
	}
	seconds := flags&(setEX|setEXAT) != 0
	if v <= 0 || (seconds && v > math.MaxInt64/1000) {
		c.errInvalidExpire(cmdName)
		return 0, false
	}
	if seconds {
		v *= 1000
	}
	if flags&(setEX|setPX) != 0 {
		if v > math.MaxInt64-c.Now {
			c.errInvalidExpire(cmdName)
			return 0, false
		}
		v += c.Now
	}
	return v, true
}

func (c *Ctx) errInvalidExpire(cmdName string) {
	c.err(errInvalidExpireStart + cmdName + "' command")
}

// cmdSET: SET key value [NX | XX] [GET] [EX s | PX ms | EXAT ts | PXAT ms-ts | KEEPTTL]
func cmdSET(c *Ctx) {
	flags, expire, ok := c.parseStringOptions(3, setNX|setXX|setGET|setKeepTTL|setExpireFlags)
	if !ok {
		return
	}
	c.setGeneric(flags, c.Args[1], c.Args[2], expire, "set", false)
}

// setGeneric is Redis's setGenericCommand: it sets key to val with the
// options in flags, replying +OK / null, or 1 / 0 when intReply (SETNX).
func (c *Ctx) setGeneric(flags int, key, val, expire []byte, cmdName string, intReply bool) {
	var at int64
	if expire != nil {
		var ok bool
		if at, ok = c.expireMillis(flags, expire, cmdName); !ok {
			return
		}
	}
	var found bool
	if flags&setGET != 0 {
		var old object
		old, found = c.lookupReadWrite(key)
		if found && old.typ != TypeString {
			c.err(ErrWrongType)
			return
		}
		// The old bytes are not modified by the set below (the object is
		// replaced, not rewritten), so replying first is safe.
		if found {
			c.W.WriteBulk(old.bytes())
		} else {
			c.W.WriteNull()
		}
	} else {
		_, found = c.lookupWrite(key)
	}
	if (flags&setNX != 0 && found) || (flags&setXX != 0 && !found) {
		if flags&setGET == 0 {
			if intReply {
				c.W.WriteInt(0)
			} else {
				c.W.WriteNull()
			}
		}
		return
	}
	c.setKey(key, stringValue(val), flags&setKeepTTL != 0)
	if expire != nil {
		c.DB.setExpire(key, at)
	}
	if flags&setGET == 0 {
		if intReply {
			c.W.WriteInt(1)
		} else {
			c.ok()
		}
	}
}

// cmdSETNX: SETNX key value
func cmdSETNX(c *Ctx) {
	c.setGeneric(setNX, c.Args[1], c.Args[2], nil, "setnx", true)
}

// cmdSETEX: SETEX key seconds value
func cmdSETEX(c *Ctx) {
	c.setGeneric(setEX, c.Args[1], c.Args[3], c.Args[2], "setex", false)
}

// cmdPSETEX: PSETEX key milliseconds value
func cmdPSETEX(c *Ctx) {
	c.setGeneric(setPX, c.Args[1], c.Args[3], c.Args[2], "psetex", false)
}

// getGeneric is Redis's getGenericCommand for write commands: it replies
// with the string at key or null, and returns false after a WRONGTYPE
// error.
func (c *Ctx) getGeneric(key []byte) (o object, found, ok bool) {
	o, found = c.lookupReadWrite(key)
	if !found {
		c.W.WriteNull()
		return o, false, true
	}
	if o.typ != TypeString {
		c.err(ErrWrongType)
		return o, true, false
	}
	c.W.WriteBulk(o.bytes())
	return o, true, true
}

// cmdGETSET: GETSET key value
func cmdGETSET(c *Ctx) {
	if _, _, ok := c.getGeneric(c.Args[1]); !ok {
		return
	}
	c.setKey(c.Args[1], stringValue(c.Args[2]), false)
}

// cmdGETDEL: GETDEL key
func cmdGETDEL(c *Ctx) {
	if _, found, ok := c.getGeneric(c.Args[1]); ok && found {
		c.deleteKey(c.Args[1])
	}
}

// cmdGETEX: GETEX key [EX s | PX ms | EXAT ts | PXAT ms-ts | PERSIST]
func cmdGETEX(c *Ctx) {
	flags, expire, ok := c.parseStringOptions(2, setExpireFlags|setPersist)
	if !ok {
		return
	}
	key := c.Args[1]
	o, found := c.lookupReadWrite(key)
	if !found {
		c.W.WriteNull()
		return
	}
	if o.typ != TypeString {
		c.err(ErrWrongType)
		return
	}
	var at int64
	if expire != nil {
		if at, ok = c.expireMillis(flags, expire, "getex"); !ok {
			return
		}
	}
	c.W.WriteBulk(o.bytes())
	switch {
	case flags&(setEXAT|setPXAT) != 0 && at <= c.Now:
		// An absolute time already past deletes the key (checkAlreadyExpired).
		c.deleteKey(key)
	case expire != nil:
		c.DB.setExpire(key, at)
	case flags&setPersist != 0:
		c.DB.persist(key)
	}
}

// cmdMGET: MGET key [key ...]
func cmdMGET(c *Ctx) {
	keys := c.Args[1:]
	c.W.WriteArray(len(keys))
	for _, key := range keys {
		o, ok := c.lookupRead(key)
		if !ok || o.typ != TypeString {
			c.W.WriteNull()
			continue
		}
		c.W.WriteBulk(o.bytes())
	}
}

// cmdMSET: MSET key value [key value ...]
func cmdMSET(c *Ctx) {
	if len(c.Args)%2 == 0 {
		c.wrongArgs()
		return
	}
	for i := 1; i < len(c.Args); i += 2 {
		c.setKey(c.Args[i], stringValue(c.Args[i+1]), false)
	}
	c.ok()
}

// cmdMSETNX: MSETNX key value [key value ...]
func cmdMSETNX(c *Ctx) {
	if len(c.Args)%2 == 0 {
		c.wrongArgs()
		return
	}
	for i := 1; i < len(c.Args); i += 2 {
		if _, found := c.lookupWrite(c.Args[i]); found {
			c.W.WriteInt(0)
			return
		}
	}
	for i := 1; i < len(c.Args); i += 2 {
		c.setKey(c.Args[i], stringValue(c.Args[i+1]), false)
	}
	c.W.WriteInt(1)
}

// incrDecr is Redis's incrDecrCommand.
func (c *Ctx) incrDecr(incr int64) {
	key := c.Args[1]
	o, ok := c.writeType(key, TypeString)
	if !ok {
		return
	}
	var v int64
	if o.typ != TypeNone {
		if v, ok = parseInt(o.bytes()); !ok {
			c.err(ErrNotInteger)
			return
		}
	}
	if (incr < 0 && v < 0 && incr < math.MinInt64-v) || (incr > 0 && v > 0 && incr > math.MaxInt64-v) {
		c.err(ErrOverflow)
		return
	}
	v += incr
	if o.enc == strInt && (v < 0 || v >= sharedIntegers) && o.typ != TypeNone {
		// Rewrite the digits in place when they fit, as Redis reuses the
		// object of an unshared integer.
		var tmp [20]byte
		digits := strconv.AppendInt(tmp[:0], v, 10)
		if len(digits) <= int(o.c) {
			o.n = uint32(copy(o.rawBuffer(), digits))
			c.DB.updateKey(key, o, c.Now)
			c.W.WriteInt(v)
			return
		}
	}
	c.storeString(key, intObject(v), o.typ != TypeNone)
	c.W.WriteInt(v)
}

// cmdINCR: INCR key
func cmdINCR(c *Ctx) { c.incrDecr(1) }

// cmdDECR: DECR key
func cmdDECR(c *Ctx) { c.incrDecr(-1) }

// cmdINCRBY: INCRBY key increment
func cmdINCRBY(c *Ctx) {
	incr, ok := parseInt(c.Args[2])
	if !ok {
		c.err(ErrNotInteger)
		return
	}
	c.incrDecr(incr)
}

// cmdDECRBY: DECRBY key decrement
func cmdDECRBY(c *Ctx) {
	incr, ok := parseInt(c.Args[2])
	if !ok {
		c.err(ErrNotInteger)
		return
	}
	if incr == math.MinInt64 {
		c.err(errDecrementOverflow)
		return
	}
	c.incrDecr(-incr)
}

// cmdINCRBYFLOAT: INCRBYFLOAT key increment
func cmdINCRBYFLOAT(c *Ctx) {
	key := c.Args[1]
	o, ok := c.writeType(key, TypeString)
	if !ok {
		return
	}
	value := new(big.Float).SetPrec(longDoublePrec)
	if o.typ != TypeNone {
		if value, ok = parseLongDouble(o.bytes()); !ok {
			c.err(ErrNotFloat)
			return
		}
	}
	incr, ok := parseLongDouble(c.Args[2])
	if !ok {
		c.err(ErrNotFloat)
		return
	}
	if value.IsInf() || incr.IsInf() {
		c.err(ErrNaNOrInfinity)
		return
	}
	sum := new(big.Float).SetPrec(longDoublePrec).Add(value, incr)
	if longDoubleOverflows(sum) {
		c.err(ErrNaNOrInfinity)
		return
	}
	s := formatLongDouble(sum)
	n := newStringObjectFromString(s)
	n.enc = strEmbstr
	c.storeString(key, n, o.typ != TypeNone)
	c.W.WriteBulkString(s)
}

// cmdAPPEND: APPEND key value
func cmdAPPEND(c *Ctx) {
	key, val := c.Args[1], c.Args[2]
	o, found := c.lookupWrite(key)
	if !found {
		c.setKey(key, stringValue(val), false)
		c.W.WriteInt(int64(len(val)))
		return
	}
	if o.typ != TypeString {
		c.err(ErrWrongType)
		return
	}
	if !c.checkStringLength(int64(o.n), int64(len(val))) {
		return
	}
	n := int(o.n)
	o = growString(o, n+len(val))
	copy(o.rawBuffer()[n:], val)
	c.DB.updateKey(key, o, c.Now)
	c.W.WriteInt(int64(o.n))
}

// cmdSTRLEN: STRLEN key
func cmdSTRLEN(c *Ctx) {
	o, ok := c.readType(c.Args[1], TypeString)
	if !ok {
		return
	}
	c.W.WriteInt(int64(o.n))
}

// cmdGETRANGE: GETRANGE key start end (and SUBSTR, its old name)
func cmdGETRANGE(c *Ctx) {
	start, ok := parseInt(c.Args[2])
	if !ok {
		c.err(ErrNotInteger)
		return
	}
	end, ok := parseInt(c.Args[3])
	if !ok {
		c.err(ErrNotInteger)
		return
	}
	o, ok := c.readType(c.Args[1], TypeString)
	if !ok {
		return
	}
	if o.typ == TypeNone {
		c.W.WriteBulkString("")
		return
	}
	n := int64(o.n)
	if start < 0 && end < 0 && start > end {
		c.W.WriteBulkString("")
		return
	}
	if start < 0 {
		start += n
	}
	if end < 0 {
		end += n
	}
	start, end = max(start, 0), max(end, 0)
	if end >= n {
		end = n - 1
	}
	if start > end || n == 0 {
		c.W.WriteBulkString("")
		return
	}
	c.W.WriteBulk(o.bytes()[start : end+1])
}

// cmdSETRANGE: SETRANGE key offset value
func cmdSETRANGE(c *Ctx) {
	key, val := c.Args[1], c.Args[3]
	offset, ok := parseInt(c.Args[2])
	if !ok {
		c.err(ErrNotInteger)
		return
	}
	if offset < 0 {
		c.err(errOffsetRange)
		return
	}
	o, ok := c.writeType(key, TypeString)
	if !ok {
		return
	}
	if len(val) == 0 {
		// Setting nothing: the length, and no key created.
		c.W.WriteInt(int64(o.n))
		return
	}
	if !c.checkStringLength(offset, int64(len(val))) {
		return
	}
	existed := o.typ != TypeNone
	o = growString(o, int(offset)+len(val))
	copy(o.rawBuffer()[offset:], val)
	c.storeString(key, o, existed)
	c.W.WriteInt(int64(o.n))
}

// cmdLCS: LCS key1 key2 [LEN] [IDX] [MINMATCHLEN min-match-len] [WITHMATCHLEN]
//
// The classic dynamic programming table, walked back from the end as
// Redis's lcsCommand does, so that the LCS string and the ranges are the
// ones Redis picks.
func cmdLCS(c *Ctx) {
	oa, okA := c.lookupRead(c.Args[1])
	ob, okB := c.lookupRead(c.Args[2])
	if (okA && oa.typ != TypeString) || (okB && ob.typ != TypeString) {
		c.err(errLCSType)
		return
	}
	a, b := oa.bytes(), ob.bytes()
	var getLen, getIdx, withMatchLen bool
	var minMatchLen int64
	for j := 3; j < len(c.Args); j++ {
		more := j+1 < len(c.Args)
		switch {
		case c.isArg(j, "IDX"):
			getIdx = true
		case c.isArg(j, "LEN"):
			getLen = true
		case c.isArg(j, "WITHMATCHLEN"):
			withMatchLen = true
		case c.isArg(j, "MINMATCHLEN") && more:
			v, ok := parseInt(c.Args[j+1])
			if !ok {
				c.err(ErrNotInteger)
				return
			}
			minMatchLen = max(v, 0)
			j++
		default:
			c.err(ErrSyntax)
			return
		}
	}
	if getIdx && getLen {
		c.err(errLCSIdxLen)
		return
	}
	if len(a) >= math.MaxUint32-1 || len(b) >= math.MaxUint32-1 {
		c.err(errLCSTooLong)
		return
	}
	alen, blen := len(a), len(b)
	if size := int64(alen+1) * int64(blen+1) * 4; size > c.DB.cfg.ProtoMaxBulkLen {
		c.err(errLCSMemory)
		return
	}
	lcs := make([]uint32, (alen+1)*(blen+1))
	at := func(i, j int) *uint32 { return &lcs[j+i*(blen+1)] }
	for i := 1; i <= alen; i++ {
		for j := 1; j <= blen; j++ {
			if a[i-1] == b[j-1] {
				*at(i, j) = *at(i-1, j-1) + 1
			} else {
				*at(i, j) = max(*at(i-1, j), *at(i, j-1))
			}
		}
	}
	total := *at(alen, blen)
	if getLen {
		c.W.WriteInt(int64(total))
		return
	}
	result := make([]byte, total)
	type match struct{ a0, a1, b0, b1 int }
	var matches []match
	idx := int(total)
	aStart, aEnd, bStart, bEnd := alen, 0, 0, 0 // aStart == alen: no range yet
	for i, j := alen, blen; i > 0 && j > 0; {
		emit := false
		if a[i-1] == b[j-1] {
			result[idx-1] = a[i-1]
			if aStart == alen {
				aStart, aEnd, bStart, bEnd = i-1, i-1, j-1, j-1
			} else if aStart == i && bStart == j {
				aStart--
				bStart--
			} else {
				emit = true
			}
			if aStart == 0 || bStart == 0 {
				emit = true
			}
			idx--
			i--
			j--
		} else {
			if *at(i-1, j) > *at(i, j-1) {
				i--
			} else {
				j--
			}
			if aStart != alen {
				emit = true
			}
		}
		if emit {
			if n := aEnd - aStart + 1; minMatchLen == 0 || int64(n) >= minMatchLen {
				matches = append(matches, match{aStart, aEnd, bStart, bEnd})
			}
			aStart = alen
		}
	}
	if !getIdx {
		c.W.WriteBulk(result)
		return
	}
	c.W.WriteMap(2)
	c.W.WriteBulkString("matches")
	c.W.WriteArray(len(matches))
	for _, m := range matches {
		if withMatchLen {
			c.W.WriteArray(3)
		} else {
			c.W.WriteArray(2)
		}
		c.W.WriteArray(2)
		c.W.WriteInt(int64(m.a0))
		c.W.WriteInt(int64(m.a1))
		c.W.WriteArray(2)
		c.W.WriteInt(int64(m.b0))
		c.W.WriteInt(int64(m.b1))
		if withMatchLen {
			c.W.WriteInt(int64(m.a1 - m.a0 + 1))
		}
	}
	c.W.WriteBulkString("len")
	c.W.WriteInt(int64(total))
}
