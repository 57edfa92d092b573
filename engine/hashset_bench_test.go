package engine

import (
	"strconv"
	"testing"
)

// hsNopWriter discards replies, so that benchmarks measure the engine.
type hsNopWriter struct{}

func (hsNopWriter) WriteSimple(string)           {}
func (hsNopWriter) WriteError(string)            {}
func (hsNopWriter) WriteInt(int64)               {}
func (hsNopWriter) WriteBulk([]byte)             {}
func (hsNopWriter) WriteBulkString(string)       {}
func (hsNopWriter) WriteNull()                   {}
func (hsNopWriter) WriteNullArray()              {}
func (hsNopWriter) WriteArray(int)               {}
func (hsNopWriter) WriteMap(int)                 {}
func (hsNopWriter) WriteSet(int)                 {}
func (hsNopWriter) WriteDouble(float64)          {}
func (hsNopWriter) WriteBool(bool)               {}
func (hsNopWriter) WriteVerbatim(string, string) {}
func (hsNopWriter) Proto() int                   { return 2 }

func hsBench(b *testing.B, setup [][]string, gen func(i int) [][]byte) {
	db := New(1)
	c := &Ctx{DB: db, W: hsNopWriter{}}
	for _, cmd := range setup {
		args := make([][]byte, len(cmd))
		for i, a := range cmd {
			args[i] = []byte(a)
		}
		c.Reset(args, 1, 0)
		Lookup(cmd[0])(c)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		args := gen(i)
		c.Reset(args, 1, 0)
		Lookup(unsafeString(args[0]))(c)
	}
}

// BenchmarkHSETSmallUpdate overwrites a field of a 10-field listpack hash.
func BenchmarkHSETSmallUpdate(b *testing.B) {
	setup := []string{"hset", "h"}
	for i := 0; i < 10; i++ {
		setup = append(setup, "field"+strconv.Itoa(i), "value"+strconv.Itoa(i))
	}
	args := [][]byte{[]byte("hset"), []byte("h"), []byte("field5"), []byte("VALUE5")}
	hsBench(b, [][]string{setup}, func(int) [][]byte { return args })
}

// BenchmarkHSETSmallAddDelete adds a field to a 10-field listpack hash and
// removes it again.
func BenchmarkHSETSmallAddDelete(b *testing.B) {
	setup := []string{"hset", "h"}
	for i := 0; i < 10; i++ {
		setup = append(setup, "field"+strconv.Itoa(i), "value"+strconv.Itoa(i))
	}
	set := [][]byte{[]byte("hset"), []byte("h"), []byte("extra"), []byte("v")}
	del := [][]byte{[]byte("hdel"), []byte("h"), []byte("extra")}
	hsBench(b, [][]string{setup}, func(i int) [][]byte {
		if i%2 == 0 {
			return set
		}
		return del
	})
}

// BenchmarkHSETNewKey creates small hashes (the key, the hash and its
// listpack are allocated).
func BenchmarkHSETNewKey(b *testing.B) {
	cmds := make([][][]byte, 1<<16)
	for i := range cmds {
		cmds[i] = [][]byte{[]byte("hset"), []byte("key:" + strconv.Itoa(i)), []byte("f"), []byte("v")}
	}
	hsBench(b, nil, func(i int) [][]byte { return cmds[i&(len(cmds)-1)] })
}

// BenchmarkHSETHashtable overwrites a field of a hashtable-encoded hash.
func BenchmarkHSETHashtable(b *testing.B) {
	setup := []string{"hset", "h"}
	for i := 0; i < 1000; i++ {
		setup = append(setup, "field"+strconv.Itoa(i), "value"+strconv.Itoa(i))
	}
	args := [][]byte{[]byte("hset"), []byte("h"), []byte("field5"), []byte("VALUE5")}
	hsBench(b, [][]string{setup}, func(int) [][]byte { return args })
}

// BenchmarkSADDIntset adds existing and new members to an intset.
func BenchmarkSADDIntset(b *testing.B) {
	cmds := make([][][]byte, 256)
	for i := range cmds {
		cmds[i] = [][]byte{[]byte("sadd"), []byte("s"), []byte(strconv.Itoa(i))}
	}
	hsBench(b, nil, func(i int) [][]byte { return cmds[i&255] })
}

// BenchmarkSADDHashtable adds existing members to a hashtable set.
func BenchmarkSADDHashtable(b *testing.B) {
	cmds := make([][][]byte, 256)
	for i := range cmds {
		cmds[i] = [][]byte{[]byte("sadd"), []byte("s"), []byte("member:" + strconv.Itoa(i))}
	}
	hsBench(b, nil, func(i int) [][]byte { return cmds[i&255] })
}

// BenchmarkSISMEMBER looks members up in an intset and a hashtable set.
func BenchmarkSISMEMBER(b *testing.B) {
	setup := [][]string{{"sadd", "i"}, {"sadd", "h"}}
	for i := 0; i < 500; i++ {
		setup[0] = append(setup[0], strconv.Itoa(i))
		setup[1] = append(setup[1], "m"+strconv.Itoa(i))
	}
	qi := [][]byte{[]byte("sismember"), []byte("i"), []byte("250")}
	qh := [][]byte{[]byte("sismember"), []byte("h"), []byte("m250")}
	hsBench(b, setup, func(i int) [][]byte {
		if i%2 == 0 {
			return qi
		}
		return qh
	})
}
