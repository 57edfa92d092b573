package engine

import (
	"bytes"
	"encoding/binary"
	"math"
	"slices"
	"strconv"
	"sync"
)

func init() {
	register("dump", cmdDUMP)
	register("restore", cmdRESTORE)
}

// Error texts of DUMP and RESTORE.
const (
	errBadDataFormat   = "ERR Bad data format"
	errInvalidTTL      = "ERR Invalid TTL value, must be >= 0"
	errInvalidIdletime = "ERR Invalid IDLETIME value, must be >= 0"
	errInvalidFreq     = "ERR Invalid FREQ value, must be >= 0 and <= 255"
)

// # DUMP payloads
//
// A payload is what Redis 7.0's DUMP returns: one RDB object (its type byte,
// then the value in RDB format), the RDB version (10) as 2 bytes
// little-endian, and the CRC-64 (crc64.go) of everything before it as 8
// bytes little-endian. DUMP writes what Redis would for the value's
// encoding (listpack hashes and sorted sets, intsets, quicklists of
// listpacks, plain hashtable and skiplist forms), compressing strings of
// more than 20 bytes with LZF as rdbcompression does. RESTORE takes every
// encoding Redis 7.0 can load except streams, modules and 2.4's zipmap, and
// checks the payload deeply (sanitize-dump-payload yes): a corrupt one is
// refused with "Bad data format", never stored.

// RDB object types (rdb.h).
const (
	rdbTypeString          = 0
	rdbTypeList            = 1
	rdbTypeSet             = 2
	rdbTypeZSet            = 3
	rdbTypeHash            = 4
	rdbTypeZSet2           = 5
	rdbTypeHashZipmap      = 9
	rdbTypeListZiplist     = 10
	rdbTypeSetIntset       = 11
	rdbTypeZSetZiplist     = 12
	rdbTypeHashZiplist     = 13
	rdbTypeListQuicklist   = 14
	rdbTypeHashListpack    = 16
	rdbTypeZSetListpack    = 17
	rdbTypeListQuicklist2  = 18
	rdbVersion             = 10
	quicklistNodePlain     = 1 // QUICKLIST_NODE_CONTAINER_PLAIN
	quicklistNodePacked    = 2 // QUICKLIST_NODE_CONTAINER_PACKED
	rdbEncInt8             = 0
	rdbEncInt16            = 1
	rdbEncInt32            = 2
	rdbEncLZF              = 3
	rdbFooterSize          = 10 // version (2) + CRC-64 (8)
	lzfMaxExpansion        = 88 // an LZF back reference of 3 bytes expands to at most 264
	quicklistSafetyLimit   = 8192
	quicklistMaxFillCount  = 1<<15 - 1 // FILL_MAX
	rdbMinCompressedLength = 21        // rdbSaveRawString compresses strings longer than 20 bytes
)

// quicklistOptimizationLevel is quicklist's optimization_level: the node
// sizes of list-max-listpack-size -1..-5.
var quicklistOptimizationLevel = [...]int{4096, 8192, 16384, 32768, 65536}

// ---- writing ----

// rdbWriter serializes objects in RDB format.
type rdbWriter struct {
	buf []byte
	lzf *lzfState
	tmp []byte
}

var lzfStatePool = sync.Pool{New: func() any { return &lzfState{htab: make([]uint32, lzfHSize)} }}

func (w *rdbWriter) release() {
	if w.lzf != nil {
		lzfStatePool.Put(w.lzf)
		w.lzf = nil
	}
}

// saveLen writes a length as rdbSaveLen.
func (w *rdbWriter) saveLen(n uint64) {
	switch {
	case n < 1<<6:
		w.buf = append(w.buf, byte(n))
	case n < 1<<14:
		w.buf = append(w.buf, byte(n>>8)|1<<6, byte(n))
	case n <= math.MaxUint32:
		w.buf = append(w.buf, 0x80)
		w.buf = binary.BigEndian.AppendUint32(w.buf, uint32(n))
	default:
		w.buf = append(w.buf, 0x81)
		w.buf = binary.BigEndian.AppendUint64(w.buf, n)
	}
}

// saveRawString writes a string as rdbSaveRawString: integer-encoded when
// it is a short canonical integer that fits 32 bits, LZF-compressed when
// that saves at least 4 bytes, verbatim otherwise.
func (w *rdbWriter) saveRawString(s []byte) {
	if len(s) <= 11 {
		if v, ok := parseInt(s); ok && v >= math.MinInt32 && v <= math.MaxInt32 {
			switch {
			case v >= math.MinInt8 && v <= math.MaxInt8:
				w.buf = append(w.buf, 3<<6|rdbEncInt8, byte(v))
			case v >= math.MinInt16 && v <= math.MaxInt16:
				w.buf = append(w.buf, 3<<6|rdbEncInt16, byte(v), byte(v>>8))
			default:
				w.buf = append(w.buf, 3<<6|rdbEncInt32, byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
			}
			return
		}
	}
	if len(s) >= rdbMinCompressedLength {
		if w.lzf == nil {
			w.lzf = lzfStatePool.Get().(*lzfState)
		}
		outLen := len(s) - 4
		if cap(w.tmp) < outLen {
			w.tmp = make([]byte, outLen)
		}
		out := w.tmp[:outLen]
		if n := w.lzf.compress(s, out); n > 0 {
			w.buf = append(w.buf, 3<<6|rdbEncLZF)
			w.saveLen(uint64(n))
			w.saveLen(uint64(len(s)))
			w.buf = append(w.buf, out[:n]...)
			return
		}
	}
	w.saveLen(uint64(len(s)))
	w.buf = append(w.buf, s...)
}

// saveObject writes o's type byte and value, as rdbSaveObjectType and
// rdbSaveObject do for the encoding Redis would use for it.
func (w *rdbWriter) saveObject(o *object) {
	switch o.typ {
	case TypeString:
		w.buf = append(w.buf, rdbTypeString)
		w.saveRawString(o.bytes())
	case TypeList:
		w.buf = append(w.buf, rdbTypeListQuicklist2)
		w.saveList(collection[listValue](*o))
	case TypeSet:
		v := collection[setValue](*o)
		if v.dict == nil {
			w.buf = append(w.buf, rdbTypeSetIntset)
			blob := intsetBlob(&v.is, nil)
			w.saveRawString(blob)
			return
		}
		w.buf = append(w.buf, rdbTypeSet)
		w.saveLen(uint64(v.dict.Len()))
		v.dict.Each(func(k string, _ *struct{}) bool {
			w.saveRawString(unsafeBytes(k))
			return true
		})
	case TypeZSet:
		v := collection[zsetValue](*o)
		if v.sl == nil {
			w.buf = append(w.buf, rdbTypeZSetListpack)
			lw := newLPWriter(nil)
			v.each(func(m []byte, s float64) bool {
				lw.appendString(m)
				lpAppendScore(&lw, s)
				return true
			})
			w.saveRawString(lw.finish())
			return
		}
		w.buf = append(w.buf, rdbTypeZSet2)
		w.saveLen(uint64(v.sl.tree.length))
		// From the greatest to the smallest, as Redis walks its skiplist.
		for l := v.sl.tree.tail; l != nil; l = l.prev {
			for i := len(l.ents) - 1; i >= 0; i-- {
				w.saveRawString(unsafeBytes(l.ents[i].member))
				w.buf = binary.LittleEndian.AppendUint64(w.buf, math.Float64bits(l.ents[i].score))
			}
		}
	case TypeHash:
		v := collection[hashValue](*o)
		if v.dict == nil {
			w.buf = append(w.buf, rdbTypeHashListpack)
			lw := newLPWriter(nil)
			v.each(func(f, val []byte) bool {
				lw.appendString(f)
				lw.appendString(val)
				return true
			})
			w.saveRawString(lw.finish())
			return
		}
		w.buf = append(w.buf, rdbTypeHash)
		w.saveLen(uint64(v.dict.Len()))
		v.dict.Each(func(f string, val *string) bool {
			w.saveRawString(unsafeBytes(f))
			w.saveRawString(unsafeBytes(*val))
			return true
		})
	default:
		panic("engine: DUMP of an unknown type")
	}
}

// lpAppendScore appends a sorted set score as Redis 7.0's zzlInsertAt
// does: an integer when double2ll allows it, else d2string's "%.17g".
func lpAppendScore(lw *lpWriter, s float64) {
	if s >= -math.MaxInt64/2 && s <= math.MaxInt64/2 && s == math.Trunc(s) {
		lw.appendInt(int64(s))
		return
	}
	var tmp [32]byte
	lw.appendString(appendD2String(tmp[:0], s))
}

// appendD2String formats a double as Redis 7.0's d2string.
func appendD2String(b []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, "nan"...)
	case math.IsInf(f, 1):
		return append(b, "inf"...)
	case math.IsInf(f, -1):
		return append(b, "-inf"...)
	case f == 0:
		if math.Signbit(f) {
			return append(b, "-0"...)
		}
		return append(b, '0')
	case f > -4503599627370495 && f < 4503599627370496 && f == math.Trunc(f):
		return strconv.AppendInt(b, int64(f), 10)
	}
	return appendPercentG17(b, f)
}

// appendPercentG17 formats f as C's printf("%.17g").
func appendPercentG17(b []byte, f float64) []byte {
	// Go's 'g' with precision 17 matches %.17g except for the exponent,
	// which C writes with at least two digits.
	start := len(b)
	b = strconv.AppendFloat(b, f, 'g', 17, 64)
	for i := start; i < len(b); i++ {
		if b[i] == 'e' {
			// e+5 -> e+05
			if len(b)-i == 3 {
				b = append(b, 0)
				b[i+3] = b[i+2]
				b[i+2] = '0'
			}
			break
		}
	}
	return b
}

// saveList writes a list as Redis 7.0 does (RDB_TYPE_LIST_QUICKLIST_2): the
// number of nodes, then each node's container type and listpack. Nodes are
// cut where Redis's quicklist would cut them when pushing the elements at
// the tail with the list's fill (list-max-listpack-size).
func (w *rdbWriter) saveList(v *listValue) {
	fill := int(v.fill)
	if fill < -5 {
		fill = -5
	} else if fill > quicklistMaxFillCount {
		fill = quicklistMaxFillCount
	}
	type node struct {
		plain bool
		data  []byte
	}
	var nodes []node
	var lw lpWriter
	open := false
	flush := func() {
		if open {
			nodes = append(nodes, node{data: lw.finish()})
			open = false
		}
	}
	v.each(func(e []byte) bool {
		sz := len(e)
		if sz >= rdbPackedLimit {
			flush()
			nodes = append(nodes, node{plain: true, data: e})
			return true
		}
		if open && !quicklistAllowInsert(lw.size(), lw.count, fill, sz) {
			flush()
		}
		if !open {
			lw = newLPWriter(nil)
			open = true
		}
		lw.appendString(e)
		return true
	})
	flush()
	w.saveLen(uint64(len(nodes)))
	for _, n := range nodes {
		if n.plain {
			w.saveLen(quicklistNodePlain)
		} else {
			w.saveLen(quicklistNodePacked)
		}
		w.saveRawString(n.data)
	}
}

// quicklistAllowInsert is quicklist's _quicklistNodeAllowInsert for a node
// of nodeSize bytes and count entries and a new element of sz bytes.
func quicklistAllowInsert(nodeSize, count, fill, sz int) bool {
	newSize := nodeSize + sz + lpSizeEstimateOH
	if fill < 0 {
		if newSize <= quicklistOptimizationLevel[-fill-1] {
			return true
		}
	}
	if newSize > quicklistSafetyLimit {
		return false
	}
	return count < fill
}

// dumpPayload returns the DUMP payload of o.
func dumpPayload(o *object) []byte {
	w := rdbWriter{}
	w.saveObject(o)
	w.release()
	w.buf = append(w.buf, rdbVersion, 0)
	return binary.LittleEndian.AppendUint64(w.buf, crc64Jones(0, w.buf))
}

// verifyDumpPayload checks the footer of a payload: an RDB version not newer
// than ours and a matching CRC-64.
func verifyDumpPayload(p []byte) bool {
	if len(p) < rdbFooterSize {
		return false
	}
	footer := p[len(p)-rdbFooterSize:]
	if int(footer[1])<<8|int(footer[0]) > rdbVersion {
		return false
	}
	return crc64Jones(0, p[:len(p)-8]) == binary.LittleEndian.Uint64(footer[2:])
}

// cmdDUMP: DUMP key
func cmdDUMP(c *Ctx) {
	o, ok := c.lookupRead(c.Args[1])
	if !ok {
		c.W.WriteNull()
		return
	}
	c.W.WriteBulk(dumpPayload(&o))
}

// cmdRESTORE: RESTORE key ttl serialized-value [REPLACE] [ABSTTL]
// [IDLETIME seconds] [FREQ frequency]
func cmdRESTORE(c *Ctx) {
	key := c.Args[1]
	replace, absTTL := false, false
	idle, freq := int64(-1), int64(-1)
	for j := 4; j < len(c.Args); j++ {
		additional := len(c.Args) - j - 1
		switch {
		case c.isArg(j, "REPLACE"):
			replace = true
		case c.isArg(j, "ABSTTL"):
			absTTL = true
		case c.isArg(j, "IDLETIME") && additional >= 1 && freq == -1:
			v, ok := parseInt(c.Args[j+1])
			if !ok {
				c.err(ErrNotInteger)
				return
			}
			if v < 0 {
				c.err(errInvalidIdletime)
				return
			}
			idle = v
			j++
		case c.isArg(j, "FREQ") && additional >= 1 && idle == -1:
			v, ok := parseInt(c.Args[j+1])
			if !ok {
				c.err(ErrNotInteger)
				return
			}
			if v < 0 || v > 255 {
				c.err(errInvalidFreq)
				return
			}
			// Without an LFU policy Redis ignores the frequency.
			freq = v
			j++
		default:
			c.err(ErrSyntax)
			return
		}
	}
	if !replace {
		if _, exists := c.lookupWrite(key); exists {
			c.err(ErrBusyKey)
			return
		}
	}
	ttl, ok := parseInt(c.Args[2])
	if !ok {
		c.err(ErrNotInteger)
		return
	}
	if ttl < 0 {
		c.err(errInvalidTTL)
		return
	}
	payload := c.Args[3]
	if !verifyDumpPayload(payload) {
		c.err(ErrBadDump)
		return
	}
	o, ok := loadPayload(c.DB, payload)
	if !ok {
		c.err(errBadDataFormat)
		return
	}
	if replace {
		// dbDelete: the old value goes even if it expired.
		c.deleteKey(key)
	}
	if ttl != 0 && !absTTL {
		ttl += c.Now // wraps as Redis's ttl+=mstime() does
	}
	if ttl != 0 && ttl <= c.Now {
		// checkAlreadyExpired: the key is not created (a replaced one
		// was deleted above).
		c.ok()
		return
	}
	at := int64(-1)
	if ttl != 0 {
		at = ttl
	}
	c.addKey(key, o, at)
	if idle >= 0 {
		clock := int64(accessClock(c.Now))
		c.DB.setAccessClock(key, uint32(max(0, clock-min(idle, clock))))
	}
	c.ok()
}

// setAccessClock sets the LRU clock of an existing key (RESTORE IDLETIME).
func (db *DB) setAccessClock(key []byte, clock uint32) {
	if ref := db.slotOf(key).keys.Ref(unsafeString(key)); ref != nil {
		ref.lru = clock
	}
}

// ---- reading ----

// rdbReader reads an RDB object from a payload held in memory.
type rdbReader struct {
	b   []byte
	pos int
	tmp [24]byte
}

// stable returns s, copied if it lives in r's scratch space (which the
// next loadString reuses).
func (r *rdbReader) stable(s []byte) []byte {
	if len(s) > 0 && &s[0] == &r.tmp[0] {
		return append([]byte(nil), s...)
	}
	return s
}

func (r *rdbReader) remaining() int { return len(r.b) - r.pos }

func (r *rdbReader) readByte() (byte, bool) {
	if r.pos >= len(r.b) {
		return 0, false
	}
	c := r.b[r.pos]
	r.pos++
	return c, true
}

func (r *rdbReader) read(n int) ([]byte, bool) {
	if n < 0 || n > r.remaining() {
		return nil, false
	}
	s := r.b[r.pos : r.pos+n : r.pos+n]
	r.pos += n
	return s, true
}

// loadLen reads a length as rdbLoadLenByRef; encoded reports a special
// string encoding (then n is the RDB_ENC_* value).
func (r *rdbReader) loadLen() (n uint64, encoded, ok bool) {
	c, ok := r.readByte()
	if !ok {
		return 0, false, false
	}
	switch {
	case c>>6 == 3:
		return uint64(c & 0x3F), true, true
	case c>>6 == 0:
		return uint64(c & 0x3F), false, true
	case c>>6 == 1:
		d, ok := r.readByte()
		return uint64(c&0x3F)<<8 | uint64(d), false, ok
	case c == 0x80:
		b, ok := r.read(4)
		if !ok {
			return 0, false, false
		}
		return uint64(binary.BigEndian.Uint32(b)), false, true
	case c == 0x81:
		b, ok := r.read(8)
		if !ok {
			return 0, false, false
		}
		return binary.BigEndian.Uint64(b), false, true
	}
	return 0, false, false
}

// loadPlainLen reads a length as rdbLoadLen(rdb, NULL): the bits of an
// "encoded" first byte count as a 6-bit length.
func (r *rdbReader) loadPlainLen() (uint64, bool) {
	n, _, ok := r.loadLen()
	return n, ok
}

// loadCount reads a length used as a count of items of at least minSize
// bytes each, refusing counts the rest of the payload cannot hold (before
// anything is allocated for them).
func (r *rdbReader) loadCount(minSize int) (int, bool) {
	n, ok := r.loadPlainLen()
	if !ok || n > uint64(r.remaining()/minSize) {
		return 0, false
	}
	return int(n), true
}

// loadString reads a string as rdbGenericLoadStringObject: plain,
// integer-encoded or LZF-compressed. The result aliases the payload or
// scratch space of r: copy it before the next call.
func (r *rdbReader) loadString() ([]byte, bool) {
	n, enc, ok := r.loadLen()
	if !ok {
		return nil, false
	}
	if !enc {
		if n > uint64(r.remaining()) {
			return nil, false
		}
		return r.read(int(n))
	}
	switch n {
	case rdbEncInt8:
		b, ok := r.read(1)
		if !ok {
			return nil, false
		}
		return strconv.AppendInt(r.tmp[:0], int64(int8(b[0])), 10), true
	case rdbEncInt16:
		b, ok := r.read(2)
		if !ok {
			return nil, false
		}
		return strconv.AppendInt(r.tmp[:0], int64(int16(binary.LittleEndian.Uint16(b))), 10), true
	case rdbEncInt32:
		b, ok := r.read(4)
		if !ok {
			return nil, false
		}
		return strconv.AppendInt(r.tmp[:0], int64(int32(binary.LittleEndian.Uint32(b))), 10), true
	case rdbEncLZF:
		clen, ok := r.loadPlainLen()
		if !ok {
			return nil, false
		}
		ulen, ok := r.loadPlainLen()
		if !ok || clen > uint64(r.remaining()) {
			return nil, false
		}
		in, _ := r.read(int(clen))
		if ulen == 0 {
			// lzf_decompress into no room returns 0, which Redis takes
			// for the expected length: an empty string.
			return nil, true
		}
		// A string object holds at most 4 GB (its length is 32 bits).
		if clen == 0 || ulen > clen*lzfMaxExpansion || ulen > maxStringLength {
			return nil, false
		}
		out := make([]byte, ulen)
		if lzfDecompress(in, out) != int(ulen) {
			return nil, false
		}
		return out, true
	}
	return nil, false
}

// loadBinaryDouble reads a little-endian IEEE 754 double (RDB_TYPE_ZSET_2).
func (r *rdbReader) loadBinaryDouble() (float64, bool) {
	b, ok := r.read(8)
	if !ok {
		return 0, false
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(b)), true
}

// loadStringDouble reads a double in the old string form (RDB_TYPE_ZSET):
// a length byte, 253/254/255 for nan/inf/-inf.
func (r *rdbReader) loadStringDouble() (float64, bool) {
	n, ok := r.readByte()
	if !ok {
		return 0, false
	}
	switch n {
	case 255:
		return math.Inf(-1), true
	case 254:
		return math.Inf(1), true
	case 253:
		return math.NaN(), true
	}
	b, ok := r.read(int(n))
	if !ok {
		return 0, false
	}
	return parseScoreString(b, 255)
}

// parseScoreString parses a score stored as a string as Redis reads it:
// old RDB doubles with sscanf("%lg"), listpack and ziplist scores with
// strtod (zzlStrtod, which looks at 127 bytes at most). Both skip leading
// space and take the longest prefix that is a number, so "1.5abc" is 1.5.
// Nothing numeric, or NaN, is refused.
func parseScoreString(b []byte, limit int) (float64, bool) {
	if len(b) > limit {
		b = b[:limit]
	}
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	// Quick path: the whole string.
	if f, ok := parseStrtod(b); ok {
		return f, !math.IsNaN(f)
	}
	for k := len(b) - 1; k > 0; k-- {
		if f, ok := parseStrtod(b[:k]); ok {
			return f, !math.IsNaN(f)
		}
	}
	return 0, false
}

// parseStrtod parses all of b as C's strtod would, overflow giving ±inf.
func parseStrtod(b []byte) (float64, bool) {
	if len(b) == 0 || bytes.IndexByte(b, '_') >= 0 {
		return 0, false // Go's digit separators are not C's
	}
	f, err := strconv.ParseFloat(unsafeString(b), 64)
	if err != nil && !isRangeErr(err) {
		return 0, false
	}
	return f, true
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// loadPayload reads the object of a verified DUMP payload. Like Redis it
// reads from the whole payload, footer included, and ignores what follows
// the object.
func loadPayload(db *DB, p []byte) (object, bool) {
	r := &rdbReader{b: p}
	t, ok := r.readByte()
	if !ok {
		return object{}, false
	}
	return loadObject(db, r, t)
}

// loadObject reads a value of RDB type t, in the encoding Redis 7.0's
// rdbLoadObject would give it under the DB's settings. Empty collections,
// duplicates and corrupt encodings are refused.
func loadObject(db *DB, r *rdbReader, t byte) (object, bool) {
	cfg := &db.cfg
	switch t {
	case rdbTypeString:
		s, ok := r.loadString()
		if !ok {
			return object{}, false
		}
		return stringValue(s), true

	case rdbTypeList:
		n, ok := r.loadCount(1)
		if !ok || n == 0 {
			return object{}, false
		}
		v := newListValue(cfg.ListMaxListpackSize)
		for ; n > 0; n-- {
			s, ok := r.loadString()
			if !ok {
				return object{}, false
			}
			v.pushBack(s)
		}
		return newCollection(TypeList, v), true

	case rdbTypeListZiplist:
		zl, ok := r.loadString()
		if !ok {
			return object{}, false
		}
		v := newListValue(cfg.ListMaxListpackSize)
		if _, ok := zlValidate(zl, listPusher(v)); !ok || v.Len() == 0 {
			return object{}, false
		}
		return newCollection(TypeList, v), true

	case rdbTypeListQuicklist, rdbTypeListQuicklist2:
		n, ok := r.loadCount(1)
		if !ok || n == 0 {
			return object{}, false
		}
		v := newListValue(cfg.ListMaxListpackSize)
		push := listPusher(v)
		for ; n > 0; n-- {
			container := uint64(quicklistNodePacked)
			if t == rdbTypeListQuicklist2 {
				container, ok = r.loadPlainLen()
				if !ok || (container != quicklistNodePacked && container != quicklistNodePlain) {
					return object{}, false
				}
			}
			data, ok := r.loadString()
			if !ok || len(data) == 0 {
				return object{}, false
			}
			switch {
			case container == quicklistNodePlain:
				v.pushBack(data)
			case t == rdbTypeListQuicklist2:
				_, ok = lpValidate(data, push)
			default:
				_, ok = zlValidate(data, push)
			}
			if !ok {
				return object{}, false
			}
		}
		if v.Len() == 0 {
			return object{}, false
		}
		return newCollection(TypeList, v), true

	case rdbTypeSet:
		return loadSet(db, r)

	case rdbTypeSetIntset:
		b, ok := r.loadString()
		if !ok {
			return object{}, false
		}
		is, ok := intsetFromBlob(b)
		if !ok {
			return object{}, false
		}
		v := &setValue{is: is}
		if is.len() > cfg.SetMaxIntsetEntries {
			v.convert(db.seed)
		}
		return newCollection(TypeSet, v), true

	case rdbTypeZSet, rdbTypeZSet2:
		n, ok := r.loadCount(2)
		if !ok || n == 0 {
			return object{}, false
		}
		ents := make([]zent, 0, n)
		maxLen, total := 0, 0
		for ; n > 0; n-- {
			m, ok := r.loadString()
			if !ok {
				return object{}, false
			}
			var s float64
			if t == rdbTypeZSet2 {
				s, ok = r.loadBinaryDouble()
			} else {
				s, ok = r.loadStringDouble()
			}
			if !ok || math.IsNaN(s) {
				return object{}, false
			}
			maxLen = max(maxLen, len(m))
			total += len(m)
			ents = append(ents, zent{member: string(m), score: s})
		}
		if !sortDistinctZents(ents) {
			return object{}, false
		}
		listpack := len(ents) <= cfg.ZSetMaxListpackEntries && maxLen <= cfg.ZSetMaxListpackValue && total <= lpMaxSafetySize
		return newCollection(TypeZSet, buildZset(db, ents, listpack)), true

	case rdbTypeZSetZiplist, rdbTypeZSetListpack:
		b, ok := r.loadString()
		if !ok {
			return object{}, false
		}
		var ents []zent
		var member []byte
		var odd bool
		collect := func(s []byte, v int64, isInt bool) bool {
			if !odd {
				odd = true
				if isInt {
					member = strconv.AppendInt(nil, v, 10)
				} else {
					member = s
				}
				return true
			}
			odd = false
			score := float64(v)
			if !isInt {
				var ok bool
				if score, ok = parseScoreString(s, 127); !ok {
					return false
				}
			}
			ents = append(ents, zent{member: string(member), score: score})
			return true
		}
		if t == rdbTypeZSetZiplist {
			_, ok = zlValidate(b, collect)
		} else {
			_, ok = lpValidate(b, collect)
		}
		if !ok || odd || len(ents) == 0 {
			return object{}, false
		}
		// Redis keeps these sorted by (score, member) and does not check
		// it on load; sort what is not (the engine relies on the order),
		// refuse a repeated member.
		if !sortDistinctZents(ents) {
			return object{}, false
		}
		return newCollection(TypeZSet, buildZset(db, ents, len(ents) <= cfg.ZSetMaxListpackEntries)), true

	case rdbTypeHash:
		return loadHash(db, r)

	case rdbTypeHashZiplist, rdbTypeHashListpack:
		b, ok := r.loadString()
		if !ok {
			return object{}, false
		}
		var fields, values [][]byte
		var odd bool
		collect := func(s []byte, v int64, isInt bool) bool {
			if isInt {
				s = strconv.AppendInt(nil, v, 10)
			}
			if !odd {
				fields = append(fields, s)
			} else {
				values = append(values, s)
			}
			odd = !odd
			return true
		}
		if t == rdbTypeHashZiplist {
			_, ok = zlValidate(b, collect)
		} else {
			_, ok = lpValidate(b, collect)
		}
		if !ok || odd || len(fields) == 0 || hasDuplicates(fields) {
			return object{}, false
		}
		h := &hashValue{}
		if len(fields) > cfg.HashMaxListpackEntries {
			h.dict = NewDict[string](db.seed)
			h.dict.Reserve(dictCapFor(len(fields)))
			for i := range fields {
				hashDictSet(h.dict, fields[i], values[i])
			}
		} else {
			size := 0
			for i := range fields {
				size += hlpSize(len(fields[i])) + len(fields[i]) + hlpSize(len(values[i])) + len(values[i])
			}
			h.lp = make([]byte, 0, size)
			for i := range fields {
				h.lp = hlpAppendPair(h.lp, fields[i], values[i])
			}
			h.n = len(fields)
		}
		return newCollection(TypeHash, h), true
	}
	return object{}, false
}

// listPusher returns a listpack/ziplist callback that appends each element
// to v.
func listPusher(v *listValue) func(s []byte, n int64, isInt bool) bool {
	var tmp [24]byte
	return func(s []byte, n int64, isInt bool) bool {
		if isInt {
			s = strconv.AppendInt(tmp[:0], n, 10)
		}
		v.pushBack(s)
		return true
	}
}

// loadSet reads an RDB_TYPE_SET as rdbLoadObject: an intset while the
// members are integers and there are at most set-max-intset-entries of
// them, else a hashtable.
func loadSet(db *DB, r *rdbReader) (object, bool) {
	n, ok := r.loadCount(1)
	if !ok || n == 0 {
		return object{}, false
	}
	v := &setValue{}
	toDict := func() {
		d := NewDict[struct{}](db.seed)
		d.Reserve(dictCapFor(n))
		for j := 0; j < v.is.len(); j++ {
			d.Set(strconv.FormatInt(v.is.get(j), 10), struct{}{})
		}
		v.dict, v.is = d, intset{}
	}
	if n > db.cfg.SetMaxIntsetEntries {
		toDict()
	}
	for ; n > 0; n-- {
		s, ok := r.loadString()
		if !ok {
			return object{}, false
		}
		if v.dict == nil {
			if iv, isInt := parseInt(s); isInt {
				if !v.is.add(iv) {
					return object{}, false
				}
				continue
			}
			toDict()
		}
		if !v.dict.Set(string(s), struct{}{}) {
			return object{}, false
		}
	}
	return newCollection(TypeSet, v), true
}

// loadHash reads an RDB_TYPE_HASH as rdbLoadObject: a listpack until a field
// or value is longer than hash-max-listpack-value, a hashtable from the
// start when there are more than hash-max-listpack-entries pairs.
func loadHash(db *DB, r *rdbReader) (object, bool) {
	n, ok := r.loadCount(2)
	if !ok || n == 0 {
		return object{}, false
	}
	cfg := &db.cfg
	h := &hashValue{}
	toDict := func() {
		h.dict = NewDict[string](db.seed)
		h.dict.Reserve(dictCapFor(n))
		for pos := 0; pos < len(h.lp); {
			var f, val []byte
			f, val, pos = hlpPair(h.lp, pos)
			hashDictSet(h.dict, f, val)
		}
		h.lp, h.n = nil, 0
	}
	if n > cfg.HashMaxListpackEntries {
		toDict()
	}
	var seen map[string]struct{}
	for ; n > 0; n-- {
		f, ok := r.loadString()
		if !ok {
			return object{}, false
		}
		f = r.stable(f)
		val, ok := r.loadString()
		if !ok {
			return object{}, false
		}
		if h.dict == nil {
			if seen == nil {
				seen = make(map[string]struct{}, n)
			}
			if _, dup := seen[string(f)]; dup {
				return object{}, false
			}
			if len(f) > cfg.HashMaxListpackValue || len(val) > cfg.HashMaxListpackValue ||
				len(h.lp)+len(f)+len(val) > lpMaxSafetySize {
				toDict()
			} else {
				seen[string(f)] = struct{}{}
				h.lp = hlpAppendPair(h.lp, f, val)
				h.n++
				continue
			}
		}
		if !hashDictSet(h.dict, f, val) {
			return object{}, false
		}
	}
	return newCollection(TypeHash, h), true
}

// hlpAppendPair appends a pair to a hash listpack of the engine's format.
func hlpAppendPair(lp, f, v []byte) []byte {
	n := len(lp)
	lp = hlpGrow(lp, n+hlpSize(len(f))+len(f)+hlpSize(len(v))+len(v))
	hlpPut(lp, hlpPut(lp, n, f), v)
	return lp
}

// sortDistinctZents sorts sorted set elements by (score, member) and
// reports whether the members are distinct.
func sortDistinctZents(ents []zent) bool {
	if hasDuplicateMembers(ents) {
		return false
	}
	sortZents(ents)
	return true
}

// hasDuplicateMembers reports whether two elements have the same member.
func hasDuplicateMembers(ents []zent) bool {
	ms := make([]string, len(ents))
	for i := range ents {
		ms[i] = ents[i].member
	}
	slices.Sort(ms)
	for i := 1; i < len(ms); i++ {
		if ms[i] == ms[i-1] {
			return true
		}
	}
	return false
}

// hasDuplicates reports whether two of the strings are equal.
func hasDuplicates(ss [][]byte) bool {
	ms := make([]string, len(ss))
	for i := range ss {
		ms[i] = unsafeString(ss[i])
	}
	slices.Sort(ms)
	for i := 1; i < len(ms); i++ {
		if ms[i] == ms[i-1] {
			return true
		}
	}
	return false
}

// buildZset returns a sorted set of the sorted, distinct ents (whose
// members it keeps), listpack-encoded if listpack.
func buildZset(db *DB, ents []zent, listpack bool) *zsetValue {
	if !listpack {
		return &zsetValue{sl: newZsetSkiplist(db.seed, ents)}
	}
	total := 0
	for i := range ents {
		total += lpEntrySize(len(ents[i].member), ents[i].score)
	}
	lp := make([]byte, lpHdr, allocCap(lpHdr+total))
	binary.LittleEndian.PutUint32(lp, uint32(len(ents)))
	for i := range ents {
		lp = lpAppendEntry(lp, unsafeBytes(ents[i].member), ents[i].score)
	}
	return &zsetValue{lp: lp}
}

// lzfState is the hash table of LZF compression, reused across calls. It
// holds positions offset by base, so that entries of earlier calls read as
// empty without clearing the table each time (as liblzf's would be with
// INIT_HTAB).
type lzfState struct {
	htab []uint32
	base uint32
}

// compress is lzfCompress with the state's table.
func (st *lzfState) compress(in, out []byte) int {
	if uint64(st.base)+uint64(len(in))+2 > math.MaxUint32 {
		clear(st.htab)
		st.base = 0
	}
	n := lzfCompressBase(in, out, st.htab, st.base)
	st.base += uint32(len(in)) + 1
	return n
}
