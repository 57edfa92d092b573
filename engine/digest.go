package engine

import (
	"bufio"
	"crypto/sha1"
	"encoding/binary"
	"math"
	"strconv"
)

// Digest returns a digest of the logical state: every key with its type,
// value and expiry time (keys that expired but were not deleted yet count,
// as in DBSIZE). Like Redis's DEBUG DIGEST it does not depend on the order
// keys or unordered elements are stored in, nor on encodings: two DBs
// holding the same data have the same Digest however they came to hold it.
// An empty DB's digest is all zeros.
func (db *DB) Digest() [20]byte {
	var out [20]byte
	var buf []byte
	for i := range db.slots {
		sk := db.slotAt(i)
		if sk == nil {
			continue
		}
		sk.keys.Each(func(key string, o *object) bool {
			at := int64(-1)
			if o.flags&objVolatile != 0 {
				at, _ = sk.expires.Get(key)
			}
			buf = digestAppendString(buf[:0], key)
			buf = append(buf, byte(o.typ))
			buf = binary.LittleEndian.AppendUint64(buf, uint64(at))
			buf = digestValue(buf, o)
			xorDigest(&out, sha1.Sum(buf))
			return true
		})
	}
	return out
}

func digestAppendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func xorDigest(dst *[20]byte, d [20]byte) {
	for i := range dst {
		dst[i] ^= d[i]
	}
}

// digestValue appends the digest material of a value: a list's elements in
// order, the xor of per-element digests for unordered collections.
func digestValue(buf []byte, o *object) []byte {
	var tmp []byte
	var acc [20]byte
	switch o.typ {
	case TypeString:
		return digestAppendString(buf, o.str())
	case TypeList:
		// A long list would make buf large: chain it through SHA-1.
		h := sha1.New()
		collection[listValue](o.load()).each(func(e []byte) bool {
			tmp = digestAppendString(tmp[:0], unsafeString(e))
			h.Write(tmp)
			return true
		})
		return h.Sum(buf)
	case TypeSet:
		collection[setValue](o.load()).iter(func(s string, i int64, isInt bool) bool {
			if isInt {
				tmp = strconv.AppendInt(tmp[:0], i, 10)
				s = unsafeString(tmp)
			}
			xorDigest(&acc, sha1.Sum(unsafeBytes(s)))
			return true
		})
	case TypeZSet:
		collection[zsetValue](o.load()).each(func(m []byte, s float64) bool {
			tmp = digestAppendString(tmp[:0], unsafeString(m))
			tmp = binary.LittleEndian.AppendUint64(tmp, math.Float64bits(s))
			xorDigest(&acc, sha1.Sum(tmp))
			return true
		})
	case TypeHash:
		collection[hashValue](o.load()).each(func(f, v []byte) bool {
			tmp = digestAppendString(tmp[:0], unsafeString(f))
			tmp = digestAppendString(tmp, unsafeString(v))
			xorDigest(&acc, sha1.Sum(tmp))
			return true
		})
	}
	return append(buf, acc[:]...)
}

// LayoutDigest returns a digest of everything a snapshot preserves except
// the LRU clocks and the change counter: the logical state and also the
// hash seed, the encoding settings, every encoding, the bucket of every
// entry of every Dict, the order and bytes of compact encodings, buffer
// capacities. Replicas that applied the same log, or loaded a snapshot of a
// replica that did, have the same LayoutDigest; it is for determinism tests.
func (db *DB) LayoutDigest() [20]byte {
	h := sha1.New()
	bw := bufio.NewWriterSize(h, 64<<10)
	w := &snapWriter{bw: bw, layout: true}
	w.writeDB(db)
	bw.Flush()
	var out [20]byte
	copy(out[:], h.Sum(nil))
	return out
}

// KeyDigest returns the digest of the value at key (DEBUG DIGEST-VALUE):
// zeros for a missing key. Safe under the read lock.
func (db *DB) KeyDigest(key []byte, now int64) [20]byte {
	o, ok := db.peek(key, now)
	if !ok {
		return [20]byte{}
	}
	return sha1.Sum(digestValue(nil, &o))
}
