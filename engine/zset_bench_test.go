package engine

import (
	"strconv"
	"testing"
)

// discardWriter is a Writer that drops replies, for benchmarks.
type discardWriter struct{ n int }

func (w *discardWriter) WriteSimple(s string)           { w.n++ }
func (w *discardWriter) WriteError(msg string)          { w.n++ }
func (w *discardWriter) WriteInt(n int64)               { w.n++ }
func (w *discardWriter) WriteBulk(b []byte)             { w.n++ }
func (w *discardWriter) WriteBulkString(s string)       { w.n++ }
func (w *discardWriter) WriteNull()                     { w.n++ }
func (w *discardWriter) WriteNullArray()                { w.n++ }
func (w *discardWriter) WriteArray(n int)               { w.n++ }
func (w *discardWriter) WriteMap(n int)                 { w.n++ }
func (w *discardWriter) WriteSet(n int)                 { w.n++ }
func (w *discardWriter) WriteDouble(f float64)          { w.n++ }
func (w *discardWriter) WriteBool(b bool)               { w.n++ }
func (w *discardWriter) WriteVerbatim(format, s string) { w.n++ }
func (w *discardWriter) Proto() int                     { return 2 }

// zbench runs cmd (whose arguments fill returns for iteration i) b.N times
// on one reused Ctx, as a connection does.
func zbench(b *testing.B, db *DB, fill func(i int, args [][]byte) [][]byte, h Handler) {
	b.Helper()
	c := &Ctx{DB: db, W: &discardWriter{}}
	var args [][]byte
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		args = fill(i, args[:0])
		c.Reset(args, 1_700_000_000_000, uint64(i))
		h(c)
	}
}

func benchMembers(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = []byte("member:" + strconv.Itoa(i*7919%n))
	}
	return out
}

// BenchmarkZAddNew adds new members to one large sorted set (skiplist
// encoding), with scores in random order.
func BenchmarkZAddNew(b *testing.B) { benchZAddNew(b, 1<<16) }

// BenchmarkZAddNewSameScores is BenchmarkZAddNew with only 1024 distinct
// scores, so that ordering compares members.
func BenchmarkZAddNewSameScores(b *testing.B) { benchZAddNew(b, 1024) }

func benchZAddNew(b *testing.B, distinct int) {
	db := New(1)
	members := benchMembers(max(b.N, 1))
	scores := make([][]byte, distinct)
	for i := range scores {
		scores[i] = []byte(strconv.Itoa(i * 7727 % 1000003))
	}
	cmd, key := []byte("zadd"), []byte("z")
	zbench(b, db, func(i int, args [][]byte) [][]byte {
		return append(args, cmd, key, scores[i%len(scores)], members[i])
	}, cmdZADD)
}

// BenchmarkZAddNewListpack adds new members to many small sorted sets
// (listpack encoding, up to 100 elements each).
func BenchmarkZAddNewListpack(b *testing.B) {
	db := New(1)
	members := benchMembers(100)
	keys := make([][]byte, max(b.N/100+1, 1))
	for i := range keys {
		keys[i] = []byte("z:" + strconv.Itoa(i))
	}
	scores := make([][]byte, 100)
	for i := range scores {
		scores[i] = []byte(strconv.Itoa(i * 37 % 100))
	}
	cmd := []byte("zadd")
	zbench(b, db, func(i int, args [][]byte) [][]byte {
		return append(args, cmd, keys[i/100], scores[i%100], members[i%100])
	}, cmdZADD)
}

func benchZScore(b *testing.B, n int) {
	db := New(1)
	members := benchMembers(n)
	c := &Ctx{DB: db, W: &discardWriter{}}
	for i, m := range members {
		c.Reset([][]byte{[]byte("zadd"), []byte("z"), []byte(strconv.Itoa(i)), m}, 0, 0)
		cmdZADD(c)
	}
	cmd, key := []byte("zscore"), []byte("z")
	zbench(b, db, func(i int, args [][]byte) [][]byte {
		return append(args, cmd, key, members[i%n])
	}, cmdZSCORE)
}

// BenchmarkZScore looks up members of a sorted set of 100k elements.
func BenchmarkZScore(b *testing.B) { benchZScore(b, 100_000) }

// BenchmarkZScoreListpack looks up members of a 100-element listpack.
func BenchmarkZScoreListpack(b *testing.B) { benchZScore(b, 100) }

// BenchmarkZRank ranks members of a sorted set of 100k elements.
func BenchmarkZRank(b *testing.B) {
	db := New(1)
	members := benchMembers(100_000)
	c := &Ctx{DB: db, W: &discardWriter{}}
	for i, m := range members {
		c.Reset([][]byte{[]byte("zadd"), []byte("z"), []byte(strconv.Itoa(i % 1000)), m}, 0, 0)
		cmdZADD(c)
	}
	cmd, key := []byte("zrank"), []byte("z")
	zbench(b, db, func(i int, args [][]byte) [][]byte {
		return append(args, cmd, key, members[i%len(members)])
	}, cmdZRANK)
}

// BenchmarkZRangeByScore reads 10 elements by score from 100k.
func BenchmarkZRangeByScore(b *testing.B) {
	db := New(1)
	members := benchMembers(100_000)
	c := &Ctx{DB: db, W: &discardWriter{}}
	for i, m := range members {
		c.Reset([][]byte{[]byte("zadd"), []byte("z"), []byte(strconv.Itoa(i)), m}, 0, 0)
		cmdZADD(c)
	}
	mins := make([][]byte, 1000)
	for i := range mins {
		mins[i] = []byte(strconv.Itoa(i * 97))
	}
	cmd, key, inf, limit, zero, ten := []byte("zrangebyscore"), []byte("z"), []byte("+inf"), []byte("LIMIT"), []byte("0"), []byte("10")
	zbench(b, db, func(i int, args [][]byte) [][]byte {
		return append(args, cmd, key, mins[i%len(mins)], inf, limit, zero, ten)
	}, cmdZRANGEBYSCORE)
}

// BenchmarkZIncrBy changes scores of existing members of 100k.
func BenchmarkZIncrBy(b *testing.B) {
	db := New(1)
	members := benchMembers(100_000)
	c := &Ctx{DB: db, W: &discardWriter{}}
	for i, m := range members {
		c.Reset([][]byte{[]byte("zadd"), []byte("z"), []byte(strconv.Itoa(i)), m}, 0, 0)
		cmdZADD(c)
	}
	cmd, key, one := []byte("zincrby"), []byte("z"), []byte("1")
	zbench(b, db, func(i int, args [][]byte) [][]byte {
		return append(args, cmd, key, one, members[i*31%len(members)])
	}, cmdZINCRBY)
}
