package shard

import "github.com/flotilla-db/flotilla/engine"

// The source side of a live slot move copies a slot's keys while clients
// go on writing them; a tracker records which keys of the moving slots
// writes changed since the mover last looked, so that each round copies
// only those again, and the last round (after the export entry stopped
// every write to the slots) makes the target's copy exact.

// tracker is the set of keys of the tracked slots changed since the last
// TakeChanged. Guarded by the shard's write lock.
type tracker struct {
	slots   map[engine.Slot]bool
	changed map[string]struct{}
	// reset: every key may have changed (a flush, a snapshot restore):
	// the mover copies the slots whole again.
	reset bool
}

// Track starts recording the keys of slots that writes change (one
// tracker per shard: moves from a shard run one at a time), and returns
// the function that stops it.
func (s *Shard) Track(slots []engine.Slot) (untrack func()) {
	t := &tracker{slots: make(map[engine.Slot]bool, len(slots)), changed: map[string]struct{}{}}
	for _, sl := range slots {
		t.slots[sl] = true
	}
	s.mu.Lock()
	s.mu.tracker = t
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		if s.mu.tracker == t {
			s.mu.tracker = nil
		}
		s.mu.Unlock()
	}
}

// TakeChangedLocked returns the keys changed since Track or the last
// call, and whether every key must be taken as changed (also when no
// tracker runs). Call with
// the write lock held, so that no write is between the keys returned and
// the state copied next.
func (s *Shard) TakeChangedLocked() (keys [][]byte, reset bool) {
	t := s.mu.tracker
	if t == nil {
		return nil, true
	}
	keys = make([][]byte, 0, len(t.changed))
	for k := range t.changed {
		keys = append(keys, []byte(k))
	}
	reset = t.reset
	t.changed = map[string]struct{}{}
	t.reset = false
	return keys, reset
}

func (t *tracker) modified(key []byte) {
	if t.slots[engine.KeySlot(key)] {
		t.changed[string(key)] = struct{}{}
	}
}
