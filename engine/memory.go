package engine

import "unsafe"

// Memory accounting for MEMORY USAGE and MEMORY STATS. The numbers are
// estimates of what the Go heap holds for a key, built from each encoding's
// memoryUsage method plus the keyspace's own per-key cost; they are
// Flotilla's bytes, not Redis's (a Go string header is not an sds header).

const (
	// keyEntrySize is what one key costs in its slot's Dict besides the
	// key's bytes: the bucket's hash and its entry (string header and
	// object).
	keyEntrySize = 4 + int(unsafe.Sizeof(dictEntry[object]{}))
	// expireEntrySize is the cost of a key's entry in the expires Dict.
	expireEntrySize = 4 + int(unsafe.Sizeof(dictEntry[int64]{}))
)

// MemoryUsage returns an estimate of the bytes key and its value take, and
// ok=false if the key is missing or expired at now. Collections in a
// hashtable encoding are sampled: samples elements are measured and the
// result scaled to the whole (samples <= 0 measures every element), as
// Redis's MEMORY USAGE key SAMPLES n does. It changes nothing (no access
// time, no statistics) and is safe under the read lock.
func (db *DB) MemoryUsage(key []byte, now int64, samples int) (int64, bool) {
	o, ok := db.peek(key, now)
	if !ok {
		return 0, false
	}
	size := allocSize(len(key)) + keyEntrySize + valueMemory(&o, samples)
	if o.flags&objVolatile != 0 {
		size += expireEntrySize
	}
	return int64(size), true
}

// valueMemory estimates the bytes held by the value of o.
func valueMemory(o *object, samples int) int {
	if samples <= 0 {
		samples = int(^uint(0) >> 1)
	}
	switch o.typ {
	case TypeString:
		return allocSize(int(o.c))
	case TypeList:
		return collection[listValue](*o).memoryUsage()
	case TypeSet:
		return collection[setValue](*o).memoryUsageSampled(samples)
	case TypeZSet:
		return collection[zsetValue](*o).memoryUsage()
	case TypeHash:
		return collection[hashValue](*o).memoryUsageSampled(samples)
	}
	return 0
}

// MemoryOverhead returns what the keyspace's tables cost beyond the keys and
// values themselves, for MEMORY STATS: the buckets of the keys tables
// (main), of the expires tables (expires), and the per-slot structures
// (slotToKeys, Redis's overhead.hashtable.slot-to-keys). Safe under the read
// lock.
func (db *DB) MemoryOverhead() (main, expires, slotToKeys int64) {
	slotToKeys = int64(unsafe.Sizeof(db.slots))
	for i := range db.slots {
		sk := db.slotAt(i)
		if sk == nil {
			continue
		}
		main += int64(sk.keys.Cap() * keyEntrySize)
		expires += int64(sk.expires.Cap() * expireEntrySize)
	}
	return main, expires, slotToKeys
}
