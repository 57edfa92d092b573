package raft

import (
	"bytes"
	"reflect"
	"testing"
)

func TestEntryRoundTrip(t *testing.T) {
	e := &Entry{Type: EntryExec, Now: 1700000000123, Seed: 42, Proto: 3, Cmds: [][][]byte{
		{[]byte("SET"), []byte("k"), []byte("v")},
		{[]byte("GET"), []byte("")},
		{},
	}}
	got, err := DecodeEntry(AppendEntry(nil, e))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, e) {
		t.Errorf("round trip = %+v, want %+v", got, e)
	}
}

// FuzzDecodeEntry: decoding never panics, and what decodes re-encodes to
// the same bytes.
func FuzzDecodeEntry(f *testing.F) {
	f.Add(AppendEntry(nil, &Entry{Type: EntryCommands, Now: 1, Seed: 2, Proto: 2, Cmds: [][][]byte{{[]byte("SET"), []byte("a"), []byte("b")}}}))
	f.Add(AppendEntry(nil, &Entry{Type: EntryNoop}))
	f.Add([]byte{1, 1, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := DecodeEntry(data)
		if err != nil {
			return
		}
		if again := AppendEntry(nil, e); !bytes.Equal(again, data) {
			// Uvarints have several encodings only with redundant
			// continuation bytes, which AppendUvarint never writes.
			e2, err := DecodeEntry(again)
			if err != nil || !reflect.DeepEqual(e, e2) {
				t.Fatalf("re-encoding changed the entry: %v", err)
			}
		}
	})
}
