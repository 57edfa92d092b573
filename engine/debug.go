package engine

import (
	"math"
	"strconv"
)

// ObjectDebug is what DEBUG OBJECT reports about a key's value.
type ObjectDebug struct {
	// Addr is the address of the value's data (DEBUG OBJECT's "Value at"),
	// 0 for an empty string.
	Addr     uintptr
	Type     Type
	Encoding string // as OBJECT ENCODING
	Refcount int64  // as OBJECT REFCOUNT
	// LRU is the key's access clock (unix seconds of its last access),
	// wrapped to 24 bits as Redis's LRU clock.
	LRU uint32
	// Idle is the seconds since the last access, as OBJECT IDLETIME.
	Idle int64
	// SerializedLen estimates the bytes the value takes in an RDB file
	// (Redis 7.0's encodings, without LZF compression).
	SerializedLen int64
	// For a list (encoding quicklist): its chunks, as Redis's quicklist
	// nodes.
	ListNodes      int
	ListLen        int
	ListFill       int
	ListPackedSize int64 // the listpack bytes the chunks' elements make
}

// DebugObject describes the value at key for DEBUG OBJECT, and ok=false if
// the key is missing or expired at now. It changes nothing and is safe under
// the read lock.
func (db *DB) DebugObject(key []byte, now int64) (d ObjectDebug, ok bool) {
	o, ok := db.peek(key, now)
	if !ok {
		return d, false
	}
	d.Addr = uintptr(o.ptr)
	d.Type = o.typ
	d.Encoding = encodingOf(&o)
	d.Refcount = 1
	if o.typ == TypeString {
		d.Refcount = stringRefcount(&o)
	}
	lru := o.accessed()
	d.LRU = lru & (1<<24 - 1)
	if idle := accessClock(now) - lru; idle <= math.MaxInt32 {
		d.Idle = int64(idle)
	}
	d.SerializedLen = serializedLen(&o)
	if o.typ == TypeList {
		v := collection[listValue](o)
		d.ListNodes = len(v.live())
		d.ListLen = v.Len()
		d.ListFill = int(v.fill)
		for _, ch := range v.live() {
			d.ListPackedSize += int64(chunkListpackSize(ch))
		}
	}
	return d, true
}

// Populate creates count string keys named prefix:0, prefix:1... holding
// "value:<n>" (padded with zero bytes or truncated to size when size > 0),
// skipping keys that exist, as Redis's DEBUG POPULATE. A name longer than
// 127 bytes is truncated, as Redis formats it into a 128-byte buffer. It
// returns the number of keys created. Call with the write lock held.
func (db *DB) Populate(count int64, prefix []byte, size int64, now int64) int64 {
	var created int64
	name := make([]byte, 0, 128)
	val := make([]byte, 0, 32)
	for j := int64(0); j < count; j++ {
		name = append(name[:0], prefix...)
		name = append(name, ':')
		name = strconv.AppendInt(name, j, 10)
		if len(name) > 127 {
			name = name[:127]
		}
		if _, exists := db.lookupWrite(name, now); exists {
			continue
		}
		val = append(val[:0], "value:"...)
		val = strconv.AppendInt(val, j, 10)
		var o object
		if size > 0 {
			b := make([]byte, size)
			copy(b, val)
			o = newStringObject(b)
		} else {
			o = newStringObject(val)
		}
		db.setKey(name, o, false, now)
		created++
	}
	return created
}

// serializedLen estimates the length of the value's RDB serialization
// (rdbSavedObjectLen), with Redis 7.0's encodings: strings as integers when
// they fit 32 bits, small collections as one listpack or intset blob,
// large ones element by element. LZF compression is not modelled.
func serializedLen(o *object) int64 {
	switch o.typ {
	case TypeString:
		return rdbStringLen(o.bytes())
	case TypeList:
		v := collection[listValue](*o)
		live := v.live()
		n := rdbLenLen(uint64(len(live)))
		for _, ch := range live {
			// The container type, then the node's listpack.
			n += 1 + rdbBlobLen(chunkListpackSize(ch))
		}
		return n
	case TypeSet:
		v := collection[setValue](*o)
		if v.dict == nil {
			return rdbBlobLen(8 + len(v.is.data))
		}
		n := rdbLenLen(uint64(v.dict.Len()))
		v.dict.Each(func(k string, _ *struct{}) bool {
			n += rdbStringLen(unsafeBytes(k))
			return true
		})
		return n
	case TypeZSet:
		v := collection[zsetValue](*o)
		if v.sl == nil {
			size := lpFixedSize
			var buf []byte
			v.each(func(member []byte, score float64) bool {
				buf = appendListpackScore(buf[:0], score)
				size += lpEncodedSize(member) + lpEncodedSize(buf)
				return true
			})
			return rdbBlobLen(size)
		}
		n := rdbLenLen(uint64(v.Len()))
		v.each(func(member []byte, _ float64) bool {
			n += rdbStringLen(member) + 8
			return true
		})
		return n
	case TypeHash:
		v := collection[hashValue](*o)
		if v.dict == nil {
			size := lpFixedSize
			v.each(func(f, val []byte) bool {
				size += lpEncodedSize(f) + lpEncodedSize(val)
				return true
			})
			return rdbBlobLen(size)
		}
		n := rdbLenLen(uint64(v.Len()))
		v.each(func(f, val []byte) bool {
			n += rdbStringLen(f) + rdbStringLen(val)
			return true
		})
		return n
	}
	return 0
}

// lpFixedSize is a listpack's fixed cost: its 6-byte header and end byte.
const lpFixedSize = 7

// chunkListpackSize returns the bytes a listpack holding the chunk's
// elements would take (a quicklist node's sz).
func chunkListpackSize(ch *listChunk) int {
	size := lpFixedSize
	for off := ch.lo; off < ch.hi; {
		var b []byte
		b, off = ch.entryAt(off)
		size += lpEncodedSize(b)
	}
	return size
}

// lpEncodedSize returns the bytes of s as a listpack entry: its encoding (an
// integer when s is one, else a string with a 1, 2 or 5 byte header) and
// its back length.
func lpEncodedSize(s []byte) int {
	var n int
	if v, ok := parseInt(s); ok {
		switch {
		case v >= 0 && v <= 127:
			n = 1
		case v >= -4096 && v <= 4095:
			n = 2
		case v >= math.MinInt16 && v <= math.MaxInt16:
			n = 3
		case v >= -(1<<23) && v < 1<<23:
			n = 4
		case v >= math.MinInt32 && v <= math.MaxInt32:
			n = 5
		default:
			n = 9
		}
	} else {
		switch l := len(s); {
		case l < 64:
			n = 1 + l
		case l < 4096:
			n = 2 + l
		default:
			n = 5 + l
		}
	}
	switch {
	case n <= 127:
		return n + 1
	case n < 16383:
		return n + 2
	case n < 2097151:
		return n + 3
	case n < 268435455:
		return n + 4
	}
	return n + 5
}

// rdbLenLen returns the bytes of an RDB length.
func rdbLenLen(n uint64) int64 {
	switch {
	case n < 1<<6:
		return 1
	case n < 1<<14:
		return 2
	case n <= math.MaxUint32:
		return 5
	}
	return 9
}

// rdbBlobLen returns the bytes of an RDB string of n bytes that is not an
// integer (a listpack or intset blob).
func rdbBlobLen(n int) int64 { return rdbLenLen(uint64(n)) + int64(n) }

// rdbStringLen returns the bytes of s as an RDB string: 2, 3 or 5 bytes for
// an integer that fits 32 bits (rdbTryIntegerEncoding), else its length
// and bytes.
func rdbStringLen(s []byte) int64 {
	if len(s) <= 11 {
		if v, ok := parseInt(s); ok {
			switch {
			case v >= math.MinInt8 && v <= math.MaxInt8:
				return 2
			case v >= math.MinInt16 && v <= math.MaxInt16:
				return 3
			case v >= math.MinInt32 && v <= math.MaxInt32:
				return 5
			}
		}
	}
	return rdbBlobLen(len(s))
}
