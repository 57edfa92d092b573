package engine

import "math/bits"

// Dict is a hash table from string keys to values of type V, used for the
// keyspace of each slot and for the large encodings of hashes, sets and
// sorted sets.
//
// It is an open-addressing table with linear probing and backward-shift
// deletion, so it has no tombstones and its layout is a pure function of the
// sequence of operations applied to it and of the hash seed. That property is
// what lets replicas agree on "random" choices: Random(seed) picks the same
// entry on every replica that applied the same log. A snapshot that must keep
// random choices identical records positions (see Each and PlaceAt).
//
// Scan implements Redis's reverse-binary cursor over home buckets, so a full
// scan returns every key that was present for the whole scan at least once,
// even when the table grows or shrinks between calls.
//
// Dict is not safe for concurrent use; the owner serialises access.
type Dict[V any] struct {
	// ents holds the buckets; a bucket whose hash is 0 is empty. Keeping
	// the hash beside the key and value costs four bytes a bucket and saves
	// a cache miss a lookup.
	ents []dictEntry[V]
	n    int
	seed uint64
}

type dictEntry[V any] struct {
	hash uint32 // the key's hash with the top bit set; 0 when empty
	key  string
	val  V
}

const (
	dictMinCap  = 8
	dictHashBit = 1 << 31
)

// NewDict returns an empty Dict whose hash function is keyed by seed.
func NewDict[V any](seed uint64) *Dict[V] {
	return &Dict[V]{seed: seed}
}

// Len returns the number of keys.
func (d *Dict[V]) Len() int { return d.n }

// Cap returns the number of buckets.
func (d *Dict[V]) Cap() int { return len(d.ents) }

func (d *Dict[V]) hashOf(key string) uint32 {
	return uint32(hashString(d.seed, key)) | dictHashBit
}

func (d *Dict[V]) find(key string, h uint32) int {
	if d.n == 0 {
		return -1
	}
	ents := d.ents
	mask := uint32(len(ents) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		e := &ents[i]
		switch e.hash {
		case 0:
			return -1
		case h:
			if e.key == key {
				return int(i)
			}
		}
	}
}

// Get returns the value stored at key.
func (d *Dict[V]) Get(key string) (V, bool) {
	i := d.find(key, d.hashOf(key))
	if i < 0 {
		var zero V
		return zero, false
	}
	return d.ents[i].val, true
}

// Has reports whether key is present.
func (d *Dict[V]) Has(key string) bool {
	return d.find(key, d.hashOf(key)) >= 0
}

// Ref returns a pointer to the value at key, or nil. The pointer is valid
// until the next Set or Delete on this Dict.
func (d *Dict[V]) Ref(key string) *V {
	i := d.find(key, d.hashOf(key))
	if i < 0 {
		return nil
	}
	return &d.ents[i].val
}

// RefKey is Ref that also returns the stored copy of the key, which the
// caller may keep (it does not alias the argument).
func (d *Dict[V]) RefKey(key string) (string, *V) {
	i := d.find(key, d.hashOf(key))
	if i < 0 {
		return "", nil
	}
	return d.ents[i].key, &d.ents[i].val
}

// Set stores val at key and reports whether the key was added. key is kept
// by the Dict when added, so it must not alias memory that changes later.
func (d *Dict[V]) Set(key string, val V) (added bool) {
	h := d.hashOf(key)
	if i := d.find(key, h); i >= 0 {
		d.ents[i].val = val
		return false
	}
	if (d.n+1)*8 > len(d.ents)*7 {
		d.resize(max(dictMinCap, len(d.ents)*2))
	}
	d.insert(h, key, val)
	d.n++
	return true
}

// SetKey is Set that replaces the stored key too; used when the caller keeps
// the key's bytes in one allocation with the value.
func (d *Dict[V]) SetKey(key string, val V) (added bool) {
	h := d.hashOf(key)
	if i := d.find(key, h); i >= 0 {
		d.ents[i].key = key
		d.ents[i].val = val
		return false
	}
	if (d.n+1)*8 > len(d.ents)*7 {
		d.resize(max(dictMinCap, len(d.ents)*2))
	}
	d.insert(h, key, val)
	d.n++
	return true
}

func (d *Dict[V]) insert(h uint32, key string, val V) {
	mask := uint32(len(d.ents) - 1)
	i := h & mask
	for d.ents[i].hash != 0 {
		i = (i + 1) & mask
	}
	d.ents[i] = dictEntry[V]{hash: h, key: key, val: val}
}

// Delete removes key and returns its value.
func (d *Dict[V]) Delete(key string) (V, bool) {
	var zero V
	i := d.find(key, d.hashOf(key))
	if i < 0 {
		return zero, false
	}
	old := d.ents[i].val
	d.removeAt(uint32(i))
	d.n--
	if d.n == 0 {
		d.ents = nil
	} else if len(d.ents) > dictMinCap && d.n*8 < len(d.ents) {
		d.resize(len(d.ents) / 2)
	}
	return old, true
}

// removeAt empties bucket i and shifts the following entries of its cluster
// back, so that lookups never meet a hole before their key.
func (d *Dict[V]) removeAt(i uint32) {
	mask := uint32(len(d.ents) - 1)
	var zero dictEntry[V]
	for {
		d.ents[i] = zero
		j := i
		for {
			j = (j + 1) & mask
			h := d.ents[j].hash
			if h == 0 {
				return
			}
			home := h & mask
			// NB: the entry at j may move to i only if its home bucket is not
			// cyclically within (i, j]; otherwise moving it would put it
			// before its home.
			if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
				d.ents[i] = d.ents[j]
				i = j
				break
			}
		}
	}
}

func (d *Dict[V]) resize(n int) {
	old := d.ents
	d.ents = make([]dictEntry[V], n)
	for i := range old {
		if e := &old[i]; e.hash != 0 {
			d.insert(e.hash, e.key, e.val)
		}
	}
}

// Clear removes every key.
func (d *Dict[V]) Clear() {
	d.ents, d.n = nil, 0
}

// Each calls fn for every entry in bucket order until fn returns false. fn
// must not modify the Dict, except through the value pointer.
func (d *Dict[V]) Each(fn func(key string, val *V) bool) {
	for i := range d.ents {
		if e := &d.ents[i]; e.hash != 0 && !fn(e.key, &e.val) {
			return
		}
	}
}

// Keys returns the keys in bucket order.
func (d *Dict[V]) Keys() []string {
	out := make([]string, 0, d.n)
	for i := range d.ents {
		if e := &d.ents[i]; e.hash != 0 {
			out = append(out, e.key)
		}
	}
	return out
}

// Scan visits the keys whose home bucket is the one named by cursor, then
// more buckets until at least count keys were visited or the table is done,
// and returns the next cursor (0 when the scan is complete). fn must not
// modify the Dict.
func (d *Dict[V]) Scan(cursor uint64, count int, fn func(key string, val *V)) uint64 {
	if d.n == 0 {
		return 0
	}
	mask := uint64(len(d.ents) - 1)
	seen := 0
	for {
		home := uint32(cursor & mask)
		for i := home; ; i = (i + 1) & uint32(mask) {
			h := d.ents[i].hash
			if h == 0 {
				break
			}
			if h&uint32(mask) == home {
				fn(d.ents[i].key, &d.ents[i].val)
				seen++
			}
		}
		// Reverse-binary increment of the bits under mask, as Redis's
		// dictScan does: set the bits above mask, reverse, add one, reverse.
		cursor |= ^mask
		cursor = bits.Reverse64(cursor)
		cursor++
		cursor = bits.Reverse64(cursor)
		if cursor == 0 || seen >= count {
			return cursor
		}
	}
}

// Random returns an entry chosen by seed. The choice depends only on the
// seed and on the table's layout, so replicas that applied the same
// operations choose the same entry. It returns false when the Dict is empty.
func (d *Dict[V]) Random(seed uint64) (string, *V, bool) {
	if d.n == 0 {
		return "", nil, false
	}
	mask := uint64(len(d.ents) - 1)
	for i := seed & mask; ; i = (i + 1) & mask {
		if d.ents[i].hash != 0 {
			return d.ents[i].key, &d.ents[i].val, true
		}
	}
}

// EachBucket calls fn with the bucket index of every entry, for snapshots
// that must reproduce the layout exactly (see PlaceAt).
func (d *Dict[V]) EachBucket(fn func(bucket int, key string, val *V) bool) {
	for i := range d.ents {
		if e := &d.ents[i]; e.hash != 0 && !fn(i, e.key, &e.val) {
			return
		}
	}
}

// Reserve makes an empty Dict have exactly capacity buckets (a power of two),
// before PlaceAt restores a recorded layout.
func (d *Dict[V]) Reserve(capacity int) {
	if d.n != 0 || capacity&(capacity-1) != 0 {
		panic("engine: Dict.Reserve on a non-empty dict or with a capacity not a power of two")
	}
	if capacity == 0 {
		d.ents = nil
		return
	}
	d.ents = make([]dictEntry[V], capacity)
}

// PlaceAt puts key at bucket, restoring a layout recorded by EachBucket.
func (d *Dict[V]) PlaceAt(bucket int, key string, val V) {
	if d.ents[bucket].hash != 0 {
		panic("engine: Dict.PlaceAt on an occupied bucket")
	}
	d.ents[bucket] = dictEntry[V]{hash: d.hashOf(key), key: key, val: val}
	d.n++
}
