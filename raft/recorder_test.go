package raft

import (
	"bytes"
	"math"
	"testing"

	"github.com/flotilla-db/flotilla/proto"
)

// TestRecorderReplays checks that a recorded reply replays into the same
// RESP bytes as writing it directly, in RESP2 and RESP3.
func TestRecorderReplays(t *testing.T) {
	write := func(w interface {
		WriteSimple(string)
		WriteError(string)
		WriteInt(int64)
		WriteBulk([]byte)
		WriteBulkString(string)
		WriteNull()
		WriteNullArray()
		WriteArray(int)
		WriteMap(int)
		WriteSet(int)
		WriteDouble(float64)
		WriteBool(bool)
		WriteVerbatim(string, string)
	}) {
		w.WriteArray(13)
		w.WriteSimple("OK")
		w.WriteError("ERR boom")
		w.WriteInt(-42)
		w.WriteBulk([]byte("bin\x00ary"))
		w.WriteBulkString("")
		w.WriteNull()
		w.WriteNullArray()
		w.WriteMap(1)
		w.WriteBulkString("k")
		w.WriteSet(0)
		w.WriteDouble(1.5)
		w.WriteDouble(math.Inf(-1))
		w.WriteBool(true)
		w.WriteVerbatim("txt", "hello")
		w.WriteArray(0)
	}
	for _, p := range []int{2, 3} {
		direct := proto.NewWriter(nil)
		direct.SetProto(p)
		write(direct)
		rec := NewRecorder(p)
		write(rec)
		replayed := proto.NewWriter(nil)
		replayed.SetProto(p)
		if err := Replay(rec.Bytes(), replayed); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(direct.Bytes(), replayed.Bytes()) {
			t.Errorf("RESP%d: replay\n%q\nwant\n%q", p, replayed.Bytes(), direct.Bytes())
		}
	}
}

func FuzzReplay(f *testing.F) {
	rec := NewRecorder(2)
	rec.WriteArray(2)
	rec.WriteBulkString("a")
	rec.WriteInt(1)
	f.Add(rec.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		w := proto.NewWriter(nil)
		Replay(data, w) // must not panic
	})
}
