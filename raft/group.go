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
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
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
	// server; boltdb only).
	NoSync bool
	// LogStore names the log and stable store: LogStoreBoltDB (the
	// default) or LogStoreWAL. A group keeps the store it was created
	// with: opening it with the other one is refused.
	LogStore string
}

// The log stores a group can use.
const (
	// LogStoreBoltDB is github.com/hashicorp/raft-boltdb/v2: a bbolt
	// B+tree; every append is one bbolt commit, two fdatasyncs.
	LogStoreBoltDB = "boltdb"
	// LogStoreWAL is github.com/hashicorp/raft-wal: append-only segment
	// files, one fsync per append; its term and vote live in a small
	// bbolt file beside them. Consul's log store since it replaced
	// raft-boltdb for the same reason: fewer syncs per write.
	LogStoreWAL = "wal"
)

// logStore is what a group needs of its log store: hashicorp/raft's log
// and stable stores, closed with the group.
type logStore interface {
	hraft.LogStore
	hraft.StableStore
	Close() error
}

// Group is one Raft group of this node: hashicorp/raft with a raft-boltdb/v2
// log and stable store, a file snapshot store, and a transport over the
// node's shared Raft port.
type Group struct {
	ID    GroupID
	Raft  *hraft.Raft
	store logStore
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
	store, err := openLogStore(cfg)
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

// openLogStore opens the group's log store of the kind cfg names, in its
// folder: raft.db for boltdb, wal/ for the WAL.
func openLogStore(cfg GroupConfig) (logStore, error) {
	boltPath := filepath.Join(cfg.Dir, "raft.db")
	walDir := filepath.Join(cfg.Dir, "wal")
	kind := cfg.LogStore
	if kind == "" {
		kind = LogStoreBoltDB
	}
	// A group's log lives in one store for good: opening the other
	// would start an empty log beside the real one (a replica that has
	// forgotten what it acknowledged).
	other, otherKind := walDir, LogStoreWAL
	if kind == LogStoreWAL {
		other, otherKind = boltPath, LogStoreBoltDB
	}
	if _, err := os.Stat(other); err == nil {
		return nil, fmt.Errorf("%s holds a %s log (%s) but raft-log-store is %s: a data dir keeps the log store it was created with", cfg.Dir, otherKind, filepath.Base(other), kind)
	}
	switch kind {
	case LogStoreBoltDB:
		return raftboltdb.New(raftboltdb.Options{
			Path:   boltPath,
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
	case LogStoreWAL:
		if err := os.MkdirAll(walDir, 0o750); err != nil {
			return nil, err
		}
		// The WAL's Close leaves its meta store open (raft-wal v0.4.0),
		// holding the bbolt file lock: a reopened group would wait on it
		// for good. The group owns the meta store and closes it.
		meta := &metadb.BoltMetaDB{}
		w, err := wal.Open(walDir, wal.WithMetaStore(meta))
		if err != nil {
			meta.Close()
			return nil, err
		}
		return walStore{w, meta}, nil
	default:
		return nil, fmt.Errorf("unknown log store %q (boltdb or wal)", kind)
	}
}

// walStore is the WAL with the meta store it does not close itself.
type walStore struct {
	*wal.WAL
	meta *metadb.BoltMetaDB
}

func (s walStore) Close() error {
	err := s.WAL.Close()
	if merr := s.meta.Close(); err == nil {
		err = merr
	}
	return err
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
