package engine

import (
	"strconv"
	"sync/atomic"
	"unsafe"
)

// Type is the type of value a key holds, as TYPE names it.
type Type uint8

// The value types.
const (
	TypeNone Type = iota
	TypeString
	TypeList
	TypeSet
	TypeZSet
	TypeHash
)

// String returns the name TYPE replies with.
func (t Type) String() string {
	switch t {
	case TypeString:
		return "string"
	case TypeList:
		return "list"
	case TypeSet:
		return "set"
	case TypeZSet:
		return "zset"
	case TypeHash:
		return "hash"
	}
	return "none"
}

// object is what the keyspace stores for a key: 24 bytes, so that the
// keyspace of a million small strings stays compact. A string's bytes are
// behind ptr with length n and capacity c (APPEND grows in place); any other
// type's ptr points to its collection (*listValue, *hashValue, *setValue,
// *zsetValue), whose encoding it keeps itself.
type object struct {
	ptr   unsafe.Pointer
	n     uint32
	c     uint32
	lru   uint32 // access clock, see accessClock; readers update it atomically
	typ   Type
	enc   uint8 // strings: strRaw when the value was modified in place
	flags uint8
}

const (
	// objVolatile marks a key that has an entry in its slot's expires Dict.
	objVolatile = 1 << 0
)

const (
	strRaw = 1 // the string was built by APPEND, SETRANGE, SETBIT...: OBJECT ENCODING says "raw"
)

// newStringObject returns a string object holding a copy of b.
func newStringObject(b []byte) object {
	o := object{typ: TypeString, n: uint32(len(b)), c: uint32(len(b))}
	if len(b) > 0 {
		buf := make([]byte, len(b))
		copy(buf, b)
		o.ptr = unsafe.Pointer(unsafe.SliceData(buf))
	}
	return o
}

// newStringObjectFromString returns a string object that shares s, which
// must not change (Go strings never do).
func newStringObjectFromString(s string) object {
	o := object{typ: TypeString, n: uint32(len(s)), c: uint32(len(s))}
	if len(s) > 0 {
		o.ptr = unsafe.Pointer(unsafe.StringData(s))
	}
	return o
}

// newIntObject returns a string object holding the decimal form of v.
func newIntObject(v int64) object {
	var tmp [20]byte
	return newStringObject(strconv.AppendInt(tmp[:0], v, 10))
}

// bytes returns a string object's value. The slice aliases the keyspace:
// copy it before the next write.
func (o *object) bytes() []byte {
	if o.n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(o.ptr), o.n)
}

// str returns a string object's value without copying; see bytes.
func (o *object) str() string {
	if o.n == 0 {
		return ""
	}
	return unsafe.String((*byte)(o.ptr), o.n)
}

// newCollection returns an object of type t around a collection pointer.
func newCollection[T any](t Type, v *T) object {
	return object{typ: t, ptr: unsafe.Pointer(v)}
}

// collection returns the collection of an object of a non-string type.
func collection[T any](o object) *T { return (*T)(o.ptr) }

// load copies the object for a reader: lru is read atomically, as other
// readers may be updating it.
func (o *object) load() object {
	return object{ptr: o.ptr, n: o.n, c: o.c, lru: atomic.LoadUint32(&o.lru), typ: o.typ, enc: o.enc, flags: o.flags}
}

func (o *object) touch(clock uint32) { atomic.StoreUint32(&o.lru, clock) }
func (o *object) accessed() uint32   { return atomic.LoadUint32(&o.lru) }

// accessClock turns a time in ms into the LRU clock kept per key (seconds,
// wrapping), as Redis's 24-bit LRU clock but wider.
func accessClock(nowMs int64) uint32 { return uint32(nowMs / 1000) }

// unsafeString returns b as a string without copying, for lookups whose
// key does not outlive the call.
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// unsafeBytes returns s as a byte slice without copying; never write to it.
func unsafeBytes(s string) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}
