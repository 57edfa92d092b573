package raft

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"
	hraft "github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
)

// Timing holds a group's Raft timeouts. The defaults suit loopback and a
// LAN: a follower notices a dead leader after 250-500 ms and the election
// takes one more round, so a shard has a new leader in about a second.
type Timing struct {
	Heartbeat   time.Duration
	Election    time.Duration
	LeaderLease time.Duration
	Commit      time.Duration
}

// DefaultTiming is the timing of every group unless configured otherwise.
var DefaultTiming = Timing{
	Heartbeat:   250 * time.Millisecond,
	Election:    250 * time.Millisecond,
	LeaderLease: 200 * time.Millisecond,
	Commit:      50 * time.Millisecond,
}

// GroupConfig says how to open one Raft group of this node.
type GroupConfig struct {
	ID      GroupID
	Dir     string // the group's own folder: log, stable store, snapshots
	LocalID string // this node's ID, the Raft server ID
	Mux     *Mux
	FSM     hraft.FSM
	// Bootstrap lists the group's first members. When the group has no
	// state yet, it is bootstrapped with them; every member may do so with
	// the same list (hashicorp/raft's documented way to form a cluster).
	Bootstrap []hraft.Server
	Timing    Timing
	// SnapshotThreshold is how many log entries since the last snapshot
	// trigger a new one (log compaction).
	SnapshotThreshold uint64
	Logger            hclog.Logger
	// NoSync skips fsync of the log (tests of logic only; never in a
	// server).
	NoSync bool
}

// Group is one Raft group of this node: hashicorp/raft with a raft-boltdb/v2
// log and stable store, a file snapshot store, and a transport over the
// node's shared Raft port.
type Group struct {
	ID    GroupID
	Raft  *hraft.Raft
	store *raftboltdb.BoltStore
	trans *hraft.NetworkTransport
}

// logCacheSize is how many recent log entries a group keeps decoded in
// memory (each is a batch of commands).
const logCacheSize = 512

// OpenGroup opens (creating if needed) the group's storage and starts its
// Raft instance.
func OpenGroup(cfg GroupConfig) (*Group, error) {
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = hclog.New(&hclog.LoggerOptions{Output: io.Discard, Level: hclog.Off})
	}
	store, err := raftboltdb.New(raftboltdb.Options{
		Path:   filepath.Join(cfg.Dir, "raft.db"),
		NoSync: cfg.NoSync,
		// The freelist is rebuilt on open instead of written at every
		// commit: less to write per fsync on the log's hot path.
		BoltOptions: &bbolt.Options{
			Timeout:         time.Second,
			NoFreelistSync:  true,
			FreelistType:    bbolt.FreelistMapType,
			InitialMmapSize: 64 << 20,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("raft log store: %w", err)
	}
	snaps, err := hraft.NewFileSnapshotStoreWithLogger(cfg.Dir, 2, logger)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("raft snapshot store: %w", err)
	}
	layer, err := cfg.Mux.Layer(cfg.ID)
	if err != nil {
		store.Close()
		return nil, err
	}
	trans := hraft.NewNetworkTransportWithConfig(&hraft.NetworkTransportConfig{
		Stream:  layer,
		MaxPool: 4,
		Timeout: 2 * time.Second,
		Logger:  logger,
	})
	t := cfg.Timing
	if t.Heartbeat == 0 {
		t = DefaultTiming
	}
	rc := hraft.DefaultConfig()
	rc.LocalID = hraft.ServerID(cfg.LocalID)
	rc.HeartbeatTimeout = t.Heartbeat
	rc.ElectionTimeout = t.Election
	rc.LeaderLeaseTimeout = t.LeaderLease
	rc.CommitTimeout = t.Commit
	rc.MaxAppendEntries = 256
	rc.BatchApplyCh = true
	rc.Logger = logger
	rc.NoLegacyTelemetry = true
	if cfg.SnapshotThreshold > 0 {
		rc.SnapshotThreshold = cfg.SnapshotThreshold
		rc.TrailingLogs = cfg.SnapshotThreshold
	}
	rc.SnapshotInterval = 20 * time.Second

	g := &Group{ID: cfg.ID, store: store, trans: trans}
	if len(cfg.Bootstrap) > 0 {
		has, err := hraft.HasExistingState(store, store, snaps)
		if err != nil {
			g.closeStorage()
			return nil, err
		}
		if !has {
			err := hraft.BootstrapCluster(rc, store, store, snaps, trans, hraft.Configuration{Servers: cfg.Bootstrap})
			if err != nil && !errors.Is(err, hraft.ErrCantBootstrap) {
				g.closeStorage()
				return nil, fmt.Errorf("raft bootstrap: %w", err)
			}
		}
	}
	// The last entries stay in memory: replication and the followers'
	// apply read them from there instead of decoding them back from bolt.
	logs, err := hraft.NewLogCache(logCacheSize, store)
	if err != nil {
		g.closeStorage()
		return nil, err
	}
	r, err := hraft.NewRaft(rc, cfg.FSM, logs, store, snaps, trans)
	if err != nil {
		g.closeStorage()
		return nil, err
	}
	g.Raft = r
	return g, nil
}

func (g *Group) closeStorage() {
	g.trans.Close()
	g.store.Close()
}

// Close stops the group's Raft instance and closes its storage. The data
// stays on disk; opening the group again resumes it.
func (g *Group) Close() error {
	err := g.Raft.Shutdown().Error()
	g.closeStorage()
	return err
}

// IsLeader reports whether this node leads the group now (as far as it
// knows; reads confirm it with VerifyLeader).
func (g *Group) IsLeader() bool { return g.Raft.State() == hraft.Leader }

// Leader returns the ID of the group's leader as this node knows it, or ""
// when there is none.
func (g *Group) Leader() string {
	_, id := g.Raft.LeaderWithID()
	return string(id)
}

// Servers returns the group's current configuration.
func (g *Group) Servers() ([]hraft.Server, error) {
	f := g.Raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, err
	}
	return f.Configuration().Servers, nil
}
