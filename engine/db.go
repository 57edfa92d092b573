package engine

import "sync/atomic"

// DB is a keyspace: the data of one shard (on a single node, of every
// slot), split per hash slot. It has no clock and no random source: every
// operation receives the time and seed it may depend on (see Ctx), so the
// same operations give the same state on every replica.
//
// DB is not safe for concurrent use. Its owner serialises writes and lets
// reads run concurrently with each other only (a sync.RWMutex held by the
// shard); the only state readers change is per-key access time and the
// statistics, both updated atomically.
type DB struct {
	slots     [NumSlots]slotKeys // inline: one cache miss less a lookup
	nkeys     int
	nvolatile int
	seed      uint64
	cfg       Config
	notify    Notifier

	// dirty counts changes, as Redis's rdb_changes_since_last_save.
	dirty int64
	// flushes counts FLUSHALL/FLUSHDB (see Flushes); transient: only its
	// changes within one log entry's apply matter, so snapshots leave it.
	flushes uint64
	stats   Stats

	// cow is the copy-on-write snapshot in progress, if any: every change
	// to a slot first lets it save the slot (beforeWrite).
	cow atomic.Pointer[SnapshotCOW]
}

// slotKeys holds the keys of one slot and the expiry times of those that
// have one (as Redis keeps db->dict and db->expires).
type slotKeys struct {
	keys    Dict[object]
	expires Dict[int64]
}

// Stats are the keyspace counters INFO stats reports. Safe for concurrent use.
type Stats struct {
	Hits    atomic.Int64 // keyspace_hits
	Misses  atomic.Int64 // keyspace_misses
	Expired atomic.Int64 // expired_keys
	Evicted atomic.Int64 // evicted_keys
}

// Notifier receives the effects of writes that clients outside the engine
// wait for. Its methods are called with the DB's write lock held and must not
// call back into the DB.
type Notifier interface {
	// KeyModified is called for every key a write changes, created or
	// deletes (Redis's signalModifiedKey), for WATCH.
	KeyModified(key []byte)
	// KeyReady is called when a list or sorted set at key receives
	// elements, for clients blocked on it (BLPOP, BZPOPMIN...).
	KeyReady(key []byte)
	// Flushed is called when every key is about to be removed (FLUSHALL,
	// FLUSHDB); it may look keys up with Contains.
	Flushed()
}

// Config holds the settings that change how the engine encodes values.
// CONFIG SET changes them; new values apply to conversions from then on, as
// in Redis.
type Config struct {
	HashMaxListpackEntries int   // hash-max-listpack-entries
	HashMaxListpackValue   int   // hash-max-listpack-value
	SetMaxIntsetEntries    int   // set-max-intset-entries
	ZSetMaxListpackEntries int   // zset-max-listpack-entries
	ZSetMaxListpackValue   int   // zset-max-listpack-value
	ListMaxListpackSize    int   // list-max-listpack-size (negative: -1..-5 = 4kb..64kb per node)
	ProtoMaxBulkLen        int64 // proto-max-bulk-len: the largest string APPEND, SETRANGE... may build
}

// DefaultConfig returns Redis 7.0's defaults.
func DefaultConfig() Config {
	return Config{
		HashMaxListpackEntries: 512,
		HashMaxListpackValue:   64,
		SetMaxIntsetEntries:    512,
		ZSetMaxListpackEntries: 128,
		ZSetMaxListpackValue:   64,
		ListMaxListpackSize:    -2,
		ProtoMaxBulkLen:        512 << 20,
	}
}

// New returns an empty DB. seed keys the hash function of every table; all
// replicas of a shard must use the same seed.
func New(seed uint64) *DB {
	db := &DB{seed: seed, cfg: DefaultConfig()}
	db.resetSlots()
	return db
}

func (db *DB) resetSlots() {
	for i := range db.slots {
		db.slots[i] = slotKeys{}
		db.slots[i].keys.seed = db.seed
		db.slots[i].expires.seed = db.seed
	}
}

// Seed returns the hash seed the DB was created with.
func (db *DB) Seed() uint64 { return db.seed }

// SetConfig replaces the encoding settings. Call with the write lock held.
func (db *DB) SetConfig(c Config) { db.cfg = c }

// Config returns the encoding settings.
func (db *DB) Config() Config { return db.cfg }

// SetNotifier installs n (nil to remove). Call with the write lock held.
func (db *DB) SetNotifier(n Notifier) { db.notify = n }

// Len returns the number of keys, counting keys that expired but were not
// deleted yet, as DBSIZE does in Redis.
func (db *DB) Len() int { return db.nkeys }

// VolatileLen returns the number of keys with an expiry time.
func (db *DB) VolatileLen() int { return db.nvolatile }

// SlotLen returns the number of keys in slot s.
func (db *DB) SlotLen(s Slot) int {
	if sk := db.slotAt(int(s)); sk != nil {
		return sk.keys.Len()
	}
	return 0
}

// Flushes returns how many times every key was removed at once: a slot
// being imported (raft/migrate.go) must start over after one.
func (db *DB) Flushes() uint64 { return db.flushes }

// Dirty returns the number of changes applied since the DB was created.
func (db *DB) Dirty() int64 { return db.dirty }

// Stats returns the keyspace counters.
func (db *DB) Stats() *Stats { return &db.stats }

// slotAt returns the keys of slot s, or nil when the slot has none.
func (db *DB) slotAt(s int) *slotKeys {
	sk := &db.slots[s]
	if sk.keys.n == 0 {
		return nil
	}
	return sk
}

func (db *DB) slotOf(key []byte) *slotKeys { return db.slotAt(int(KeySlot(key))) }

func (db *DB) slotOrCreate(key []byte) *slotKeys {
	s := KeySlot(key)
	db.beforeWrite(s)
	return &db.slots[s]
}

// expired reports whether the key behind ref is past its expiry time at now.
// A key whose time equals now is still alive, as in Redis.
func (sk *slotKeys) expired(key string, o *object, now int64) bool {
	if o.flags&objVolatile == 0 {
		return false
	}
	at, _ := sk.expires.Get(key)
	return now > at
}

// peek returns the key's object, treating an expired key as absent, without
// touching its access time or statistics. Safe under the read lock.
func (db *DB) peek(key []byte, now int64) (object, bool) {
	sk := db.slotOf(key)
	if sk == nil {
		return object{}, false
	}
	k := unsafeString(key)
	ref := sk.keys.Ref(k)
	if ref == nil || sk.expired(k, ref, now) {
		return object{}, false
	}
	return ref.load(), true
}

// lookupRead returns the key's object for a read command: an expired key is
// absent (only writes delete it), the access time is updated and the hit or
// miss is counted. Safe under the read lock.
func (db *DB) lookupRead(key []byte, now int64) (object, bool) {
	sk := db.slotOf(key)
	if sk != nil {
		k := unsafeString(key)
		if ref := sk.keys.Ref(k); ref != nil && !sk.expired(k, ref, now) {
			ref.touch(accessClock(now))
			db.stats.Hits.Add(1)
			return ref.load(), true
		}
	}
	db.stats.Misses.Add(1)
	return object{}, false
}

// lookupWrite returns the key's object for a write command, deleting it
// first if it expired.
func (db *DB) lookupWrite(key []byte, now int64) (object, bool) {
	db.beforeWriteKey(key)
	sk := db.slotOf(key)
	if sk == nil {
		return object{}, false
	}
	k := unsafeString(key)
	ref := sk.keys.Ref(k)
	if ref == nil {
		return object{}, false
	}
	if sk.expired(k, ref, now) {
		db.deleteExpired(sk, key)
		return object{}, false
	}
	ref.touch(accessClock(now))
	return ref.load(), true
}

func (db *DB) deleteExpired(sk *slotKeys, key []byte) {
	db.removeKey(sk, key)
	db.stats.Expired.Add(1)
	db.modified(key)
}

// setKey stores o at key, replacing any value. The replaced key's expiry
// time is dropped unless keepTTL. It signals the modification.
func (db *DB) setKey(key []byte, o object, keepTTL bool, now int64) (added bool) {
	sk := db.slotOrCreate(key)
	o.lru = accessClock(now)
	o.flags &^= objVolatile
	if ref := sk.keys.Ref(unsafeString(key)); ref != nil {
		if ref.flags&objVolatile != 0 {
			if keepTTL {
				o.flags |= objVolatile
			} else {
				sk.expires.Delete(unsafeString(key))
				db.nvolatile--
			}
		}
		*ref = o
		db.modified(key)
		return false
	}
	sk.keys.Set(string(key), o)
	db.nkeys++
	db.modified(key)
	return true
}

// updateKey replaces the object at an existing key in place, keeping its
// expiry time; used when a string is rebuilt (APPEND, SETRANGE, INCR...).
// It signals the modification.
func (db *DB) updateKey(key []byte, o object, now int64) {
	db.beforeWriteKey(key)
	sk := db.slotOf(key)
	ref := sk.keys.Ref(unsafeString(key))
	o.flags = ref.flags
	o.lru = accessClock(now)
	*ref = o
	db.modified(key)
}

// deleteKey removes key and its expiry time, signalling the modification.
func (db *DB) deleteKey(key []byte) bool {
	sk := db.slotOf(key)
	if sk == nil || !db.removeKey(sk, key) {
		return false
	}
	db.modified(key)
	return true
}

func (db *DB) removeKey(sk *slotKeys, key []byte) bool {
	db.beforeWriteKey(key)
	k := unsafeString(key)
	o, ok := sk.keys.Delete(k)
	if !ok {
		return false
	}
	db.nkeys--
	if o.flags&objVolatile != 0 {
		sk.expires.Delete(k)
		db.nvolatile--
	}
	return true
}

// expireAt returns the key's expiry time in unix ms, or -1 if it has none.
// The key must exist.
func (db *DB) expireAt(key []byte) int64 {
	sk := db.slotOf(key)
	if sk == nil {
		return -1
	}
	at, ok := sk.expires.Get(unsafeString(key))
	if !ok {
		return -1
	}
	return at
}

// setExpire gives the existing key an expiry time in unix ms.
func (db *DB) setExpire(key []byte, at int64) {
	db.beforeWriteKey(key)
	sk := db.slotOf(key)
	stored, ref := sk.keys.RefKey(unsafeString(key))
	if ref.flags&objVolatile == 0 {
		ref.flags |= objVolatile
		db.nvolatile++
	}
	// The expires entry shares the key bytes of the keys entry.
	sk.expires.Set(stored, at)
	db.modified(key)
}

// persist removes the key's expiry time and reports whether it had one.
func (db *DB) persist(key []byte) bool {
	db.beforeWriteKey(key)
	sk := db.slotOf(key)
	if sk == nil {
		return false
	}
	ref := sk.keys.Ref(unsafeString(key))
	if ref == nil || ref.flags&objVolatile == 0 {
		return false
	}
	ref.flags &^= objVolatile
	sk.expires.Delete(unsafeString(key))
	db.nvolatile--
	db.modified(key)
	return true
}

// modified counts a change to key and tells the Notifier.
func (db *DB) modified(key []byte) {
	db.dirty++
	if db.notify != nil {
		db.notify.KeyModified(key)
	}
}

// ready tells the Notifier that clients blocked on key may be served.
func (db *DB) ready(key []byte) {
	if db.notify != nil {
		db.notify.KeyReady(key)
	}
}

// Contains reports whether key is in the keyspace, expired or not.
func (db *DB) Contains(key []byte) bool {
	sk := db.slotOf(key)
	return sk != nil && sk.keys.Has(unsafeString(key))
}

// Flush removes every key. The Notifier's Flushed runs first, while the keys
// are still there to look at.
func (db *DB) Flush() {
	if db.notify != nil {
		db.notify.Flushed()
	}
	db.beforeWriteAll()
	db.resetSlots()
	db.flushes++
	db.dirty += int64(db.nkeys)
	db.nkeys, db.nvolatile = 0, 0
}

// ExpiredKeys scans volatile keys from cursor and returns those expired at
// now, at most limit of them after sampling at most 4*limit volatile keys,
// and the cursor to continue from (0 after a full pass). It is what the
// leader's active expiry cycle samples; the deletes then go through
// DeleteExpired (replicated as a write). Safe under the read lock.
func (db *DB) ExpiredKeys(now int64, cursor uint64, limit int) (keys [][]byte, next uint64, sampled int) {
	slot := int(cursor % NumSlots)
	inner := cursor / NumSlots
	for sampled < 4*limit && len(keys) < limit {
		sk := db.slotAt(slot)
		if sk != nil && sk.expires.Len() > 0 {
			inner = sk.expires.Scan(inner, 1, func(k string, at *int64) {
				sampled++
				if now > *at {
					keys = append(keys, []byte(k))
				}
			})
		} else {
			inner = 0
		}
		if inner == 0 {
			slot++
			if slot == NumSlots {
				return keys, 0, sampled
			}
			if db.nvolatile == 0 {
				return keys, 0, sampled
			}
		}
	}
	return keys, inner*NumSlots + uint64(slot), sampled
}

// DeleteExpired deletes those of keys that are expired at now and returns how
// many it deleted. Keys written again since they were sampled survive.
func (db *DB) DeleteExpired(now int64, keys [][]byte) int {
	n := 0
	for _, key := range keys {
		sk := db.slotOf(key)
		if sk == nil {
			continue
		}
		k := unsafeString(key)
		if ref := sk.keys.Ref(k); ref != nil && sk.expired(k, ref, now) {
			db.deleteExpired(sk, key)
			n++
		}
	}
	return n
}

// Expired reports whether key is in the keyspace but past its expiry time at
// now (WATCH treats such a key as changed at EXEC).
func (db *DB) Expired(key []byte, now int64) bool {
	sk := db.slotOf(key)
	if sk == nil {
		return false
	}
	k := unsafeString(key)
	ref := sk.keys.Ref(k)
	return ref != nil && sk.expired(k, ref, now)
}
