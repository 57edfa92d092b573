package engine

import "testing"

// listBenchWriter discards replies.
type listBenchWriter struct{}

func (listBenchWriter) WriteSimple(string)           {}
func (listBenchWriter) WriteError(string)            {}
func (listBenchWriter) WriteInt(int64)               {}
func (listBenchWriter) WriteBulk([]byte)             {}
func (listBenchWriter) WriteBulkString(string)       {}
func (listBenchWriter) WriteNull()                   {}
func (listBenchWriter) WriteNullArray()              {}
func (listBenchWriter) WriteArray(int)               {}
func (listBenchWriter) WriteMap(int)                 {}
func (listBenchWriter) WriteSet(int)                 {}
func (listBenchWriter) WriteDouble(float64)          {}
func (listBenchWriter) WriteBool(bool)               {}
func (listBenchWriter) WriteVerbatim(string, string) {}
func (listBenchWriter) Proto() int                   { return 2 }

// BenchmarkLPUSH pushes one element per op onto one growing list.
func BenchmarkLPUSH(b *testing.B) {
	db := New(1)
	c := &Ctx{DB: db, W: listBenchWriter{}}
	args := [][]byte{[]byte("lpush"), []byte("mylist"), []byte("element-value-xxxxxxxx")}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		c.Reset(args, listTestNow, 0)
		cmdLPUSH(c)
	}
}

// BenchmarkLPOP pops one element per op from one list, refilled (off the
// clock) when it runs empty.
func BenchmarkLPOP(b *testing.B) {
	db := New(1)
	c := &Ctx{DB: db, W: listBenchWriter{}}
	push := [][]byte{[]byte("rpush"), []byte("mylist"), []byte("element-value-xxxxxxxx")}
	pop := [][]byte{[]byte("lpop"), []byte("mylist")}
	const fill = 1 << 20
	refill := func() {
		for i := 0; i < fill; i++ {
			c.Reset(push, listTestNow, 0)
			cmdRPUSH(c)
		}
	}
	refill()
	b.ReportAllocs()
	b.ResetTimer()
	left := fill
	for i := 0; i < b.N; i++ {
		if left == 0 {
			b.StopTimer()
			refill()
			left = fill
			b.StartTimer()
		}
		c.Reset(pop, listTestNow, 0)
		cmdLPOP(c)
		left--
	}
}
