package raft

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// EntryType is the first byte of a log entry's payload after the version:
// what the FSM does with it. An unknown type is a broken invariant: the FSM
// panics rather than let replicas diverge.
type EntryType uint8

// The entry types.
const (
	// EntryCommands runs commands one after the other; each has its own
	// reply.
	EntryCommands EntryType = 1
	// EntryExec runs commands as a transaction (MULTI/EXEC): one reply, an
	// array, and blocking commands reply at once.
	EntryExec EntryType = 2
	// EntryExpire deletes the listed keys if they are expired at the
	// entry's time (the leader's active expiry).
	EntryExpire EntryType = 3
	// EntryNoop changes nothing; a new leader commits one to learn its
	// commit index.
	EntryNoop EntryType = 4
	// EntryBatch carries several entries (of several clients), applied
	// one after the other: the leader's group commit puts what waits into
	// one log entry, one append and one fsync per replica.
	EntryBatch EntryType = 5
)

// AppendBatch encodes the encoded entries subs as one EntryBatch entry:
//
//	[version][EntryBatch][count:uvarint] ( [len:uvarint][entry] )*
func AppendBatch(b []byte, subs [][]byte) []byte {
	b = append(b, entryVersion, byte(EntryBatch))
	b = binary.AppendUvarint(b, uint64(len(subs)))
	for _, s := range subs {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

// SplitBatch returns the encoded entries of an EntryBatch entry, aliasing
// data; ok is false when data is not a batch.
func SplitBatch(data []byte) (subs [][]byte, ok bool, err error) {
	if len(data) < 2 || data[1] != byte(EntryBatch) {
		return nil, false, nil
	}
	if data[0] != entryVersion {
		return nil, true, fmt.Errorf("%w %d", ErrEntryVersion, data[0])
	}
	p := data[2:]
	n, k := binary.Uvarint(p)
	if k <= 0 || n > uint64(len(p)) {
		return nil, true, ErrEntryTruncated
	}
	p = p[k:]
	subs = make([][]byte, 0, n)
	for i := uint64(0); i < n; i++ {
		l, k := binary.Uvarint(p)
		if k <= 0 || l > uint64(len(p)-k) {
			return nil, true, ErrEntryTruncated
		}
		subs = append(subs, p[k:k+int(l):k+int(l)])
		p = p[k+int(l):]
	}
	if len(p) != 0 {
		return nil, true, fmt.Errorf("raft: %d bytes after the batch", len(p))
	}
	return subs, true, nil
}

const entryVersion = 1

// Entry is a decoded log entry: the leader stamps Now (unix ms) and Seed,
// so that every replica applies Cmds identically (../shared/DESIGN.md rule
// 1). Proto is the RESP version of the client whose commands these are, for
// the replies that depend on it.
type Entry struct {
	Type  EntryType
	Now   int64
	Seed  uint64
	Proto uint8
	Cmds  [][][]byte
}

// Sentinel errors of DecodeEntry.
var (
	ErrEntryTruncated = errors.New("raft: log entry truncated")
	ErrEntryVersion   = errors.New("raft: unknown log entry version")
)

// AppendEntry encodes e after b:
//
//	[version][type][now:8][seed:8][proto][ncmds:uvarint]
//	  ( [nargs:uvarint] ( [len:uvarint][bytes] )* )*
func AppendEntry(b []byte, e *Entry) []byte {
	b = append(b, entryVersion, byte(e.Type))
	b = binary.BigEndian.AppendUint64(b, uint64(e.Now))
	b = binary.BigEndian.AppendUint64(b, e.Seed)
	b = append(b, e.Proto)
	b = binary.AppendUvarint(b, uint64(len(e.Cmds)))
	for _, cmd := range e.Cmds {
		b = binary.AppendUvarint(b, uint64(len(cmd)))
		for _, arg := range cmd {
			b = binary.AppendUvarint(b, uint64(len(arg)))
			b = append(b, arg...)
		}
	}
	return b
}

// DecodeEntry decodes an entry. The arguments alias data.
func DecodeEntry(data []byte) (*Entry, error) {
	if len(data) < 19 {
		return nil, ErrEntryTruncated
	}
	if data[0] != entryVersion {
		return nil, fmt.Errorf("%w %d", ErrEntryVersion, data[0])
	}
	e := &Entry{
		Type:  EntryType(data[1]),
		Now:   int64(binary.BigEndian.Uint64(data[2:])),
		Seed:  binary.BigEndian.Uint64(data[10:]),
		Proto: data[18],
	}
	p := data[19:]
	next := func() (uint64, bool) {
		v, n := binary.Uvarint(p)
		if n <= 0 {
			return 0, false
		}
		p = p[n:]
		return v, true
	}
	ncmds, ok := next()
	if !ok || ncmds > uint64(len(p)) {
		return nil, ErrEntryTruncated
	}
	e.Cmds = make([][][]byte, 0, ncmds)
	for i := uint64(0); i < ncmds; i++ {
		nargs, ok := next()
		if !ok || nargs > uint64(len(p)) {
			return nil, ErrEntryTruncated
		}
		cmd := make([][]byte, 0, nargs)
		for j := uint64(0); j < nargs; j++ {
			n, ok := next()
			if !ok || n > uint64(len(p)) {
				return nil, ErrEntryTruncated
			}
			cmd = append(cmd, p[:n:n])
			p = p[n:]
		}
		e.Cmds = append(e.Cmds, cmd)
	}
	if len(p) != 0 {
		return nil, fmt.Errorf("raft: %d bytes after the log entry", len(p))
	}
	return e, nil
}
