package shard

import (
	"sync"
	"sync/atomic"

	"github.com/flotilla-db/flotilla/engine"
)

// ID names a shard.
type ID uint32

// Shard is one shard's data and the clients waiting on it. Safe for
// concurrent use: reads share the lock, writes hold it alone.
type Shard struct {
	id ID
	db *engine.DB

	mu struct {
		sync.RWMutex
		watched map[string][]*Watch
		blocked map[string][]*Waiter
		ready   []string
		isReady map[string]bool
		// tracker records changes to slots being moved away (migrate.go).
		tracker *tracker
	}
}

// New returns a shard with an empty keyspace whose tables are keyed by seed.
func New(id ID, seed uint64) *Shard {
	s := &Shard{id: id, db: engine.New(seed)}
	s.mu.watched = make(map[string][]*Watch)
	s.mu.blocked = make(map[string][]*Waiter)
	s.mu.isReady = make(map[string]bool)
	s.db.SetNotifier((*notifier)(s))
	return s
}

// ID returns the shard's ID.
func (s *Shard) ID() ID { return s.id }

// DB returns the shard's keyspace. Use it only between BeginRead/EndRead
// or BeginWrite/EndWrite.
func (s *Shard) DB() *engine.DB { return s.db }

// BeginRead takes the read lock: read commands run concurrently.
func (s *Shard) BeginRead() { s.mu.RLock() }

// EndRead releases the read lock.
func (s *Shard) EndRead() { s.mu.RUnlock() }

// BeginWrite takes the write lock.
func (s *Shard) BeginWrite() { s.mu.Lock() }

// EndWrite serves the clients blocked on keys that writes since BeginWrite
// made ready, then releases the write lock. Serving one client may make
// another key ready (BLMOVE pushes), so it loops until nothing is ready.
func (s *Shard) EndWrite() {
	s.ServeReadyLocked()
	s.mu.Unlock()
}

// ServeReadyLocked serves the clients blocked on keys made ready by the
// writes so far, keeping the write lock.
func (s *Shard) ServeReadyLocked() {
	if len(s.mu.ready) == 0 {
		return
	}
	for len(s.mu.ready) > 0 {
		key := s.mu.ready[0]
		s.mu.ready = s.mu.ready[1:]
		delete(s.mu.isReady, key)
		s.serveLocked(key)
	}
	s.mu.ready = s.mu.ready[:0]
}

// Watch is the WATCH state of one client: dirty once any watched key is
// modified. Only its owner's goroutine calls its methods, with the shard's
// write lock held where they say Locked; dirty is set by writers.
type Watch struct {
	dirty atomic.Bool
	keys  []watchedKey
}

type watchedKey struct {
	key string
	// expired says the key was already expired when WATCH ran; deleting
	// it then is no change (as Redis 7.0's watchedKey.expired).
	expired bool
}

// Dirty reports whether a watched key was modified since WATCH, or expired
// since (checked at now with the lock held, as Redis's isWatchedKeyExpired).
func (s *Shard) DirtyLocked(w *Watch, now int64) bool {
	if w.dirty.Load() {
		return true
	}
	for _, wk := range w.keys {
		if !wk.expired && s.db.Expired([]byte(wk.key), now) {
			return true
		}
	}
	return false
}

// Watching reports whether w watches any key.
func (w *Watch) Watching() bool { return len(w.keys) > 0 }

// AddWatchLocked registers w as watching key. Call with the write lock.
func (s *Shard) AddWatchLocked(w *Watch, key string, now int64) {
	for _, wk := range w.keys {
		if wk.key == key {
			return
		}
	}
	w.keys = append(w.keys, watchedKey{key: key, expired: s.db.Expired([]byte(key), now)})
	s.mu.watched[key] = append(s.mu.watched[key], w)
}

// Unwatch forgets every key w watches on this shard and clears its dirty
// flag.
func (s *Shard) Unwatch(w *Watch) {
	s.mu.Lock()
	s.UnwatchLocked(w)
	s.mu.Unlock()
}

// UnwatchLocked is Unwatch with the write lock held.
func (s *Shard) UnwatchLocked(w *Watch) {
	for _, wk := range w.keys {
		list := s.mu.watched[wk.key]
		for i, x := range list {
			if x == w {
				list = append(list[:i], list[i+1:]...)
				break
			}
		}
		if len(list) == 0 {
			delete(s.mu.watched, wk.key)
		} else {
			s.mu.watched[wk.key] = list
		}
	}
	w.keys = nil
	w.dirty.Store(false)
}

// Waiter is a client blocked on keys of this shard (BLPOP...).
type Waiter struct {
	keys []string
	// Run runs the client's command again, with the write lock held, when
	// one of its keys is ready. It returns true when the command replied
	// (served, or failed) and false when it would block again.
	Run func(db *engine.DB) bool
	// Served is closed when Run returned true.
	Served chan struct{}
	done   bool
}

// NewWaiter returns a waiter on keys.
func NewWaiter(keys [][]byte, run func(db *engine.DB) bool) *Waiter {
	w := &Waiter{Run: run, Served: make(chan struct{})}
	for _, k := range keys {
		w.keys = append(w.keys, string(k))
	}
	return w
}

// BlockLocked queues w on each of its keys, behind the clients already
// waiting there. Call with the write lock, in the same critical section as
// the command that found nothing to serve, so no push is missed.
func (s *Shard) BlockLocked(w *Waiter) {
	seen := make(map[string]bool, len(w.keys))
	for _, k := range w.keys {
		if seen[k] {
			continue
		}
		seen[k] = true
		s.mu.blocked[k] = append(s.mu.blocked[k], w)
	}
}

// Unblock removes w from the queues (timeout, disconnect, CLIENT KILL) and
// reports whether it was still waiting; false means it was served and its
// reply written.
func (s *Shard) Unblock(w *Waiter) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if w.done {
		return false
	}
	s.removeWaiterLocked(w)
	w.done = true
	return true
}

func (s *Shard) removeWaiterLocked(w *Waiter) {
	for _, k := range w.keys {
		q := s.mu.blocked[k]
		for i, x := range q {
			if x == w {
				q = append(q[:i], q[i+1:]...)
				break
			}
		}
		if len(q) == 0 {
			delete(s.mu.blocked, k)
		} else {
			s.mu.blocked[k] = q
		}
	}
}

// BlockedClients returns the number of clients blocked on this shard.
func (s *Shard) BlockedClients() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	seen := map[*Waiter]bool{}
	for _, q := range s.mu.blocked {
		for _, w := range q {
			seen[w] = true
		}
	}
	return len(seen)
}

// serveLocked serves the clients waiting on key in arrival order, for as
// long as they get served.
func (s *Shard) serveLocked(key string) {
	for {
		q := s.mu.blocked[key]
		if len(q) == 0 {
			return
		}
		w := q[0]
		if !w.Run(s.db) {
			return
		}
		s.removeWaiterLocked(w)
		w.done = true
		close(w.Served)
	}
}

// notifier receives the engine's write notifications, with the write lock
// held.
type notifier Shard

func (n *notifier) KeyModified(key []byte) {
	s := (*Shard)(n)
	if s.mu.tracker != nil {
		s.mu.tracker.modified(key)
	}
	if len(s.mu.watched) == 0 {
		return
	}
	list := s.mu.watched[string(key)]
	for _, w := range list {
		for i := range w.keys {
			wk := &w.keys[i]
			if wk.key != string(key) {
				continue
			}
			if wk.expired && !s.db.Contains(key) {
				// The key was expired at WATCH and is now deleted:
				// logically no change.
				wk.expired = false
				continue
			}
			w.dirty.Store(true)
		}
	}
}

func (n *notifier) KeyReady(key []byte) {
	s := (*Shard)(n)
	if len(s.mu.blocked) == 0 {
		return
	}
	k := string(key)
	if _, waiting := s.mu.blocked[k]; !waiting || s.mu.isReady[k] {
		return
	}
	s.mu.isReady[k] = true
	s.mu.ready = append(s.mu.ready, k)
}

func (n *notifier) Flushed() {
	s := (*Shard)(n)
	if s.mu.tracker != nil {
		s.mu.tracker.reset = true
	}
	// As Redis's touchAllWatchedKeysInDb: a flush modifies the watched keys
	// that existed.
	for k, list := range s.mu.watched {
		if s.db.Contains([]byte(k)) {
			for _, w := range list {
				w.dirty.Store(true)
			}
		}
	}
}

// ReplaceDBLocked swaps in db (DEBUG RELOAD, and later a Raft snapshot
// restore), keeping the notifier. Clients watching keys are marked dirty, as
// every key may have changed. Call with the write lock.
func (s *Shard) ReplaceDBLocked(db *engine.DB) {
	db.SetConfig(s.db.Config())
	db.SetNotifier((*notifier)(s))
	old, st := s.db.Stats(), db.Stats()
	st.Hits.Store(old.Hits.Load())
	st.Misses.Store(old.Misses.Load())
	st.Expired.Store(old.Expired.Load())
	st.Evicted.Store(old.Evicted.Load())
	s.db = db
	if s.mu.tracker != nil {
		s.mu.tracker.reset = true
	}
	for _, list := range s.mu.watched {
		for _, w := range list {
			w.dirty.Store(true)
		}
	}
}
