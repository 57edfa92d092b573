package raft

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/flotilla-db/flotilla/engine"
)

// Recorder is an engine.Writer that records a reply, so that the FSM can
// compute a command's reply on apply and hand it to the leader's client
// connection, which replays it into its own RESP writer. Not safe for
// concurrent use.
type Recorder struct {
	proto int
	buf   []byte
}

// NewRecorder returns a Recorder for replies in RESP version proto.
func NewRecorder(proto int) *Recorder { return &Recorder{proto: proto} }

// Bytes returns the recording.
func (r *Recorder) Bytes() []byte { return r.buf }

// Reset drops the recording and sets the protocol version.
func (r *Recorder) Reset(proto int) {
	r.buf = r.buf[:0]
	r.proto = proto
}

const (
	opSimple byte = iota + 1
	opError
	opInt
	opBulk
	opNull
	opNullArray
	opArray
	opMap
	opSet
	opDouble
	opBool
	opVerbatim
)

func (r *Recorder) str(op byte, s string) {
	r.buf = append(r.buf, op)
	r.buf = binary.AppendUvarint(r.buf, uint64(len(s)))
	r.buf = append(r.buf, s...)
}

func (r *Recorder) num(op byte, n int64) {
	r.buf = append(r.buf, op)
	r.buf = binary.AppendVarint(r.buf, n)
}

func (r *Recorder) WriteSimple(s string)     { r.str(opSimple, s) }
func (r *Recorder) WriteError(msg string)    { r.str(opError, msg) }
func (r *Recorder) WriteInt(n int64)         { r.num(opInt, n) }
func (r *Recorder) WriteBulk(b []byte)       { r.str(opBulk, string(b)) }
func (r *Recorder) WriteBulkString(s string) { r.str(opBulk, s) }
func (r *Recorder) WriteNull()               { r.buf = append(r.buf, opNull) }
func (r *Recorder) WriteNullArray()          { r.buf = append(r.buf, opNullArray) }
func (r *Recorder) WriteArray(n int)         { r.num(opArray, int64(n)) }
func (r *Recorder) WriteMap(n int)           { r.num(opMap, int64(n)) }
func (r *Recorder) WriteSet(n int)           { r.num(opSet, int64(n)) }
func (r *Recorder) WriteDouble(f float64)    { r.num(opDouble, int64(math.Float64bits(f))) }
func (r *Recorder) WriteBool(b bool) {
	v := int64(0)
	if b {
		v = 1
	}
	r.num(opBool, v)
}
func (r *Recorder) WriteVerbatim(format, s string) { r.str(opVerbatim, format+s) }
func (r *Recorder) Proto() int                     { return r.proto }

// Replay writes every reply of a recording into w.
func Replay(rec []byte, w engine.Writer) error {
	for len(rec) > 0 {
		op := rec[0]
		rec = rec[1:]
		switch op {
		case opSimple, opError, opBulk, opVerbatim:
			n, k := binary.Uvarint(rec)
			if k <= 0 || n > uint64(len(rec)-k) {
				return fmt.Errorf("raft: corrupt reply recording")
			}
			s := rec[k : k+int(n)]
			rec = rec[k+int(n):]
			switch op {
			case opSimple:
				w.WriteSimple(string(s))
			case opError:
				w.WriteError(string(s))
			case opBulk:
				w.WriteBulk(s)
			default:
				if len(s) < 3 {
					return fmt.Errorf("raft: corrupt reply recording")
				}
				w.WriteVerbatim(string(s[:3]), string(s[3:]))
			}
		case opNull:
			w.WriteNull()
		case opNullArray:
			w.WriteNullArray()
		case opInt, opArray, opMap, opSet, opDouble, opBool:
			v, k := binary.Varint(rec)
			if k <= 0 {
				return fmt.Errorf("raft: corrupt reply recording")
			}
			rec = rec[k:]
			switch op {
			case opInt:
				w.WriteInt(v)
			case opArray:
				w.WriteArray(int(v))
			case opMap:
				w.WriteMap(int(v))
			case opSet:
				w.WriteSet(int(v))
			case opDouble:
				w.WriteDouble(math.Float64frombits(uint64(v)))
			case opBool:
				w.WriteBool(v != 0)
			}
		default:
			return fmt.Errorf("raft: unknown reply op %d", op)
		}
	}
	return nil
}

// IsErrorReply reports whether a recording starts with an error reply.
func IsErrorReply(rec []byte) bool { return len(rec) > 0 && rec[0] == opError }
