package cluster

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"

	hraft "github.com/hashicorp/raft"
)

// configCommand is an entry of the configuration group's log.
type configCommand struct {
	// Op is "init" (the first topology; ignored once there is one) or
	// "set" (a new topology, applied only if the current epoch is
	// PrevEpoch: a compare-and-set, so two controllers cannot interleave
	// changes).
	Op        string    `json:"op"`
	PrevEpoch uint64    `json:"prev_epoch,omitempty"`
	Topology  *Topology `json:"topology"`
}

// configFSM is the configuration group's state machine: the cluster
// topology. Every node follows the group (voters and non-voters) and so
// keeps an up-to-date copy to route from.
type configFSM struct {
	mu       sync.Mutex
	topo     *Topology
	onChange func(*Topology) // called with the new topology, outside mu
}

// configResult is what applying a configCommand returns.
type configResult struct {
	Applied bool
	Err     error
}

func (f *configFSM) Apply(l *hraft.Log) any {
	if l.Type != hraft.LogCommand {
		return nil
	}
	var cmd configCommand
	if err := json.Unmarshal(l.Data, &cmd); err != nil || cmd.Topology == nil {
		// Every replica sees the same bytes: ignoring is deterministic.
		return &configResult{Err: fmt.Errorf("bad configuration entry: %v", err)}
	}
	f.mu.Lock()
	switch {
	case cmd.Op == "init" && f.topo == nil:
	case cmd.Op == "set" && f.topo != nil && f.topo.Epoch == cmd.PrevEpoch:
		cmd.Topology.Epoch = cmd.PrevEpoch + 1
	default:
		f.mu.Unlock()
		return &configResult{}
	}
	if err := cmd.Topology.Validate(); err != nil {
		f.mu.Unlock()
		return &configResult{Err: err}
	}
	f.topo = cmd.Topology
	t := f.topo
	f.mu.Unlock()
	if f.onChange != nil {
		f.onChange(t)
	}
	return &configResult{Applied: true}
}

// current returns the topology (nil before the first one); callers must
// not modify it.
func (f *configFSM) current() *Topology {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.topo
}

func (f *configFSM) Snapshot() (hraft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, err := json.Marshal(f.topo)
	if err != nil {
		return nil, err
	}
	return &configSnapshot{data: b}, nil
}

func (f *configFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var t *Topology
	if err := json.NewDecoder(rc).Decode(&t); err != nil {
		return err
	}
	f.mu.Lock()
	f.topo = t
	f.mu.Unlock()
	if t != nil && f.onChange != nil {
		f.onChange(t)
	}
	return nil
}

type configSnapshot struct{ data []byte }

func (s *configSnapshot) Persist(sink hraft.SnapshotSink) error {
	if _, err := sink.Write(s.data); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *configSnapshot) Release() {}
