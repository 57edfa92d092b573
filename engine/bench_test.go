package engine

import (
	"strconv"
	"testing"
)

// nopWriter is a Writer that discards replies, for benchmarks.
type nopWriter struct{}

func (nopWriter) WriteSimple(string)           {}
func (nopWriter) WriteError(string)            {}
func (nopWriter) WriteInt(int64)               {}
func (nopWriter) WriteBulk([]byte)             {}
func (nopWriter) WriteBulkString(string)       {}
func (nopWriter) WriteNull()                   {}
func (nopWriter) WriteNullArray()              {}
func (nopWriter) WriteArray(int)               {}
func (nopWriter) WriteMap(int)                 {}
func (nopWriter) WriteSet(int)                 {}
func (nopWriter) WriteDouble(float64)          {}
func (nopWriter) WriteBool(bool)               {}
func (nopWriter) WriteVerbatim(string, string) {}
func (nopWriter) Proto() int                   { return 2 }

// benchKeys returns n distinct keys built before the timer starts.
func benchKeys(n int) [][]byte {
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = []byte("key:" + strconv.Itoa(i))
	}
	return keys
}

// benchRun runs h with args as a server would: one Ctx reused per
// connection, Reset per command.
func benchRun(c *Ctx, h Handler, args [][]byte) {
	c.Reset(args, 1_700_000_000_000, 0)
	h(c)
}

const benchKeyspace = 100_000

func BenchmarkGET(b *testing.B) {
	db := New(1)
	keys := benchKeys(benchKeyspace)
	c := &Ctx{DB: db, W: nopWriter{}}
	set := Lookup("set")
	val := []byte("a value of some thirty bytes..")
	for _, k := range keys {
		benchRun(c, set, [][]byte{[]byte("SET"), k, val})
	}
	get := Lookup("get")
	args := [][]byte{[]byte("GET"), nil}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		args[1] = keys[i%benchKeyspace]
		benchRun(c, get, args)
	}
}

// BenchmarkSETNew sets keys that do not exist yet.
func BenchmarkSETNew(b *testing.B) {
	keys := benchKeys(benchKeyspace)
	set := Lookup("set")
	val := []byte("a value of some thirty bytes..")
	args := [][]byte{[]byte("SET"), nil, val}
	b.ReportAllocs()
	b.ResetTimer()
	var c *Ctx
	for i := 0; i < b.N; i++ {
		if i%benchKeyspace == 0 {
			b.StopTimer()
			c = &Ctx{DB: New(1), W: nopWriter{}}
			b.StartTimer()
		}
		args[1] = keys[i%benchKeyspace]
		benchRun(c, set, args)
	}
}

// BenchmarkSETExisting overwrites existing keys.
func BenchmarkSETExisting(b *testing.B) {
	db := New(1)
	keys := benchKeys(benchKeyspace)
	c := &Ctx{DB: db, W: nopWriter{}}
	set := Lookup("set")
	val := []byte("a value of some thirty bytes..")
	for _, k := range keys {
		benchRun(c, set, [][]byte{[]byte("SET"), k, val})
	}
	args := [][]byte{[]byte("SET"), nil, val}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		args[1] = keys[i%benchKeyspace]
		benchRun(c, set, args)
	}
}

// BenchmarkINCR increments values above Redis's shared integers.
func BenchmarkINCR(b *testing.B) {
	db := New(1)
	keys := benchKeys(1000)
	c := &Ctx{DB: db, W: nopWriter{}}
	incr, set := Lookup("incr"), Lookup("set")
	for _, k := range keys {
		benchRun(c, set, [][]byte{[]byte("SET"), k, []byte("1000000")})
	}
	args := [][]byte{[]byte("INCR"), nil}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		args[1] = keys[i%len(keys)]
		benchRun(c, incr, args)
	}
}

// BenchmarkINCRSmall keeps the values within Redis's shared integers.
func BenchmarkINCRSmall(b *testing.B) {
	db := New(1)
	c := &Ctx{DB: db, W: nopWriter{}}
	incr, set := Lookup("incr"), Lookup("set")
	args := [][]byte{[]byte("INCR"), []byte("counter")}
	reset := [][]byte{[]byte("SET"), []byte("counter"), []byte("0")}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%5000 == 0 {
			benchRun(c, set, reset)
		}
		benchRun(c, incr, args)
	}
}

func BenchmarkAPPEND(b *testing.B) {
	db := New(1)
	c := &Ctx{DB: db, W: nopWriter{}}
	appendH, del := Lookup("append"), Lookup("del")
	args := [][]byte{[]byte("APPEND"), []byte("log"), []byte("0123456789")}
	reset := [][]byte{[]byte("DEL"), []byte("log")}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%100_000 == 0 {
			benchRun(c, del, reset)
		}
		benchRun(c, appendH, args)
	}
}
