package cluster

// TEMPORARY: stand-ins for the slot-move and membership operations that
// FLOTILLA SLOTS MOVE, MOVES, REBALANCE and NODE ADD/REMOVE call
// (admin_flotilla.go). They are implemented on other branches (slot moves,
// membership); this file goes away when those are merged.

import (
	"errors"
	"time"

	"github.com/flotilla-db/flotilla/shard"
)

// MoveStatus is one slot move and its progress, as FLOTILLA MOVES reports
// it.
type MoveStatus struct {
	ID        uint64      `json:"id"`
	Slots     []SlotRange `json:"slots"`
	From      shard.ID    `json:"from"`
	To        shard.ID    `json:"to"`
	State     string      `json:"state"`      // "queued", "copying", "handover", "done", "failed: ..."
	KeysMoved int64       `json:"keys_moved"` // filled by the node driving the move (source shard's leader), else 0
	KeysTotal int64       `json:"keys_total"`
	Started   time.Time   `json:"started"`
}

var errNotImplemented = errors.New("not implemented yet")

// moveSlots queues a move of ranges to shard to in the configuration
// group.
func (n *clusterNode) moveSlots(ranges []SlotRange, to shard.ID) (id uint64, err error) {
	return 0, errNotImplemented
}

// moveStatus returns the moves this node knows, with progress if it drives
// them.
func (n *clusterNode) moveStatus() []MoveStatus { return nil }

// rebalance queues the moves that even out the shards.
func (n *clusterNode) rebalance() (queued int, err error) { return 0, errNotImplemented }

// addNode adds the node gossiping at gossipAddr.
func (n *clusterNode) addNode(gossipAddr string) error { return errNotImplemented }

// removeNode drains and removes a node; it returns when the removal is
// queued.
func (n *clusterNode) removeNode(id string) error { return errNotImplemented }
