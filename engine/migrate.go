package engine

// What a live slot move needs of the keyspace: the source's leader copies a
// slot's keys as DUMP payloads (restored on the target with RESTORE ...
// REPLACE ABSTTL, through the target's log), and both sides drop a slot's
// keys whole (the target when an import starts over, the source once the
// move is committed).

// DumpKey returns the DUMP payload of the value at key and its expiry time
// in unix ms (0 when it has none); ok is false when the key is missing or
// expired at now. It changes nothing and is safe under the read lock.
func (db *DB) DumpKey(key []byte, now int64) (payload []byte, expireAt int64, ok bool) {
	o, ok := db.peek(key, now)
	if !ok {
		return nil, 0, false
	}
	if at := db.expireAt(key); at >= 0 {
		expireAt = at
	}
	return dumpPayload(&o), expireAt, true
}

// DropSlot removes every key of slot s and returns how many it removed. It
// does not signal each key (no client of this shard reads or watches a slot
// that is being dropped: it is not, or no longer, the slot's owner).
func (db *DB) DropSlot(s Slot) int {
	sk := db.slotAt(int(s))
	if sk == nil {
		return 0
	}
	db.beforeWrite(s)
	n := sk.keys.Len()
	db.nkeys -= n
	db.nvolatile -= sk.expires.Len()
	db.dirty += int64(n)
	db.slots[s] = slotKeys{}
	db.slots[s].keys.seed = db.seed
	db.slots[s].expires.seed = db.seed
	return n
}
