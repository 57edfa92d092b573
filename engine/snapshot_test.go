package engine

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// populate fills db with values of every type and encoding, expiring keys
// and Dicts with holes (deleted entries), so that a snapshot has to keep
// bucket positions to reproduce the layout.
func populate(t testing.TB, db *DB, now int64) {
	t.Helper()
	do := func(args ...string) {
		r := run1(t, db, now, 7, args...)
		if strings.HasPrefix(r, "-") {
			t.Fatalf("%q: %s", args, r)
		}
	}
	do("SET", "str", "hello")
	do("SET", "int", "12345")
	do("SET", "small", "7")
	do("SET", "neg", "-42")
	do("SET", "long", strings.Repeat("abc", 40))
	do("APPEND", "raw", "grown in place")
	do("APPEND", "raw", " and again")
	do("INCR", "counter")
	do("INCRBY", "bigcounter", "123456789")
	do("INCRBYFLOAT", "float", "1.5")
	do("SET", "vol", "expiring", "PX", "5000")
	do("SETRANGE", "ranged", "3", "xyz")
	for i := 0; i < 300; i++ {
		do("RPUSH", "list", "e"+strconv.Itoa(i), strconv.Itoa(i*7))
		do("LPUSH", "list", strings.Repeat("L", i%90))
	}
	do("LPOP", "list", "50")
	do("RPUSH", "shortlist", "a", "b", "1")
	do("SADD", "intset", "1", "2", "3", "-7", "100000")
	do("SADD", "intset64", "1", "5000000000")
	for i := 0; i < 600; i++ {
		do("SADD", "bigset", "m"+strconv.Itoa(i))
		do("SADD", "bigintset", strconv.Itoa(i*3))
	}
	for i := 0; i < 600; i += 3 {
		do("SREM", "bigset", "m"+strconv.Itoa(i))
	}
	do("SADD", "strset", "a", "b", "c")
	do("SADD", "smallints", "1", "2", "3")
	do("HSET", "hlp", "f1", "v1", "f2", "2", "f3", strings.Repeat("x", 60))
	for i := 0; i < 700; i++ {
		do("HSET", "hbig", "f"+strconv.Itoa(i), "v"+strconv.Itoa(i))
	}
	for i := 0; i < 700; i += 4 {
		do("HDEL", "hbig", "f"+strconv.Itoa(i))
	}
	do("HSET", "hlong", "f", strings.Repeat("y", 100))
	do("ZADD", "zlp", "1", "a", "2.5", "b", "-inf", "c", "inf", "d", "0.1", "e")
	for i := 0; i < 300; i++ {
		do("ZADD", "zsl", strconv.FormatFloat(float64(i%37)/3, 'f', -1, 64), "m"+strconv.Itoa(i))
	}
	for i := 0; i < 300; i += 5 {
		do("ZREM", "zsl", "m"+strconv.Itoa(i))
	}
	do("ZADD", "zlong", "1", strings.Repeat("z", 80))
	do("EXPIRE", "zsl", "100")
	do("PEXPIRE", "hbig", "1")
	do("SET", "{tag}a", "1")
	do("SET", "{tag}b", "2", "EX", "10")
	for i := 0; i < 200; i++ {
		do("SET", "k"+strconv.Itoa(i), strconv.Itoa(i))
	}
	for i := 0; i < 200; i += 2 {
		do("DEL", "k"+strconv.Itoa(i))
	}
	checkKeyspace(t, db)
}

func snapshotBytes(t testing.TB, db *DB) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := db.WriteSnapshot(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestSnapshotRoundTrip(t *testing.T) {
	const now = 1_700_000_000_000
	db := New(99)
	cfg := db.Config()
	cfg.ListMaxListpackSize = 7
	db.SetConfig(cfg)
	populate(t, db, now)
	snap := snapshotBytes(t, db)
	got, err := ReadSnapshot(bytes.NewReader(snap))
	if err != nil {
		t.Fatal(err)
	}
	checkKeyspace(t, got)
	sameLayout(t, db, got)
	if got.Seed() != db.Seed() || got.Config() != db.Config() || got.Len() != db.Len() ||
		got.VolatileLen() != db.VolatileLen() || got.Dirty() != db.Dirty() {
		t.Fatalf("header differs: seed %d/%d cfg %+v/%+v len %d/%d", got.Seed(), db.Seed(), got.Config(), db.Config(), got.Len(), db.Len())
	}
	if got.Digest() != db.Digest() {
		t.Error("Digest differs after a snapshot")
	}
	if got.LayoutDigest() != db.LayoutDigest() {
		t.Error("LayoutDigest differs after a snapshot")
	}
	if again := snapshotBytes(t, got); !bytes.Equal(again, snap) {
		t.Error("a restored DB writes another snapshot")
	}
	// Every key answers the same, encodings and idle times included.
	for _, k := range allKeys(db) {
		for _, cmd := range [][]string{{"TYPE", k}, {"OBJECT", "ENCODING", k}, {"OBJECT", "IDLETIME", k},
			{"OBJECT", "REFCOUNT", k}, {"PTTL", k}, {"DUMP", k}} {
			if a, b := run1(t, db, now+5000, 1, cmd...), run1(t, got, now+5000, 1, cmd...); a != b {
				t.Errorf("%q: %s vs %s", cmd, a, b)
			}
		}
	}
	// A DB with nothing in it.
	empty := New(5)
	e2, err := ReadSnapshot(bytes.NewReader(snapshotBytes(t, empty)))
	if err != nil || e2.Len() != 0 || e2.Seed() != 5 || e2.Digest() != ([20]byte{}) {
		t.Fatalf("empty DB: %v", err)
	}
}

func allKeys(db *DB) []string {
	var keys []string
	for i := range db.slots {
		if sk := db.slotAt(i); sk != nil {
			keys = append(keys, sk.keys.Keys()...)
		}
	}
	return keys
}

func TestSnapshotCorruption(t *testing.T) {
	db := New(3)
	populate(t, db, 1_700_000_000_000)
	snap := snapshotBytes(t, db)
	// Truncated anywhere: an error.
	for _, n := range []int{0, 1, 7, 8, 20, len(snap) / 3, len(snap) / 2, len(snap) - 8, len(snap) - 1} {
		if _, err := ReadSnapshot(bytes.NewReader(snap[:n])); !errors.Is(err, ErrSnapshotCorrupt) {
			t.Errorf("truncated at %d: %v", n, err)
		}
	}
	// Any flipped bit: an error, never a panic.
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 300; i++ {
		bad := bytes.Clone(snap)
		bad[rng.IntN(len(bad))] ^= 1 << rng.IntN(8)
		if _, err := ReadSnapshot(bytes.NewReader(bad)); err == nil {
			t.Fatalf("flip %d accepted", i)
		}
	}
	// Trailing bytes are left for the caller.
	r := bytes.NewReader(append(bytes.Clone(snap), "more"...))
	if _, err := ReadSnapshot(r); err != nil || r.Len() != 4 {
		t.Fatalf("trailing data: %v, %d left", err, r.Len())
	}
}

// TestSnapshotBadContents feeds ReadSnapshot well-framed streams with
// inconsistent contents: each must be refused without a panic.
func TestSnapshotBadContents(t *testing.T) {
	db := New(3)
	populate(t, db, 1_700_000_000_000)
	var body bytes.Buffer
	sw := &snapWriter{bw: bufio.NewWriter(&body)}
	sw.writeDB(db)
	sw.bw.Flush()
	raw := body.Bytes()
	rng := rand.New(rand.NewPCG(5, 6))
	n := 800
	if raceEnabled {
		n = 100
	}
	if testing.Short() {
		n = 200
	}
	for i := 0; i < n; i++ {
		bad := bytes.Clone(raw)
		switch rng.IntN(3) {
		case 0:
			bad[rng.IntN(len(bad))] = byte(rng.IntN(256))
		case 1:
			p := rng.IntN(len(bad))
			bad[p] ^= 1 << rng.IntN(8)
		default:
			p := rng.IntN(len(bad))
			bad = append(bad[:p], bad[min(len(bad), p+1+rng.IntN(4)):]...)
		}
		var framed bytes.Buffer
		fw := &frameWriter{w: &framed}
		fw.Write(bad)
		fw.frame(nil)
		got, err := ReadSnapshot(&framed)
		if err == nil {
			// A change that still makes sense (a value or a clock): the
			// DB must be consistent.
			checkKeyspace(t, got)
		}
	}
}

// TestSnapshotLayoutMatters checks that LayoutDigest sees what Digest does
// not: the same data with another layout.
func TestSnapshotLayoutMatters(t *testing.T) {
	a, b := New(1), New(1)
	for i := 0; i < 100; i++ {
		run1(t, a, 0, 0, "SADD", "s", "m"+strconv.Itoa(i))
	}
	for i := 99; i >= 0; i-- {
		run1(t, b, 0, 0, "SADD", "s", "m"+strconv.Itoa(i))
	}
	for i := 100; i < 1000; i++ {
		run1(t, b, 0, 0, "SADD", "s", "m"+strconv.Itoa(i))
	}
	for i := 100; i < 1000; i++ {
		run1(t, b, 0, 0, "SREM", "s", "m"+strconv.Itoa(i))
	}
	if a.Digest() != b.Digest() {
		t.Fatal("same members, different Digest")
	}
	if a.LayoutDigest() == b.LayoutDigest() {
		t.Fatal("different bucket counts, same LayoutDigest")
	}
	c := New(2)
	for i := 0; i < 100; i++ {
		run1(t, c, 0, 0, "SADD", "s", "m"+strconv.Itoa(i))
	}
	if a.Digest() != c.Digest() || a.LayoutDigest() == c.LayoutDigest() {
		t.Fatal("another seed must change LayoutDigest only")
	}
}

// ---- determinism ----

// cmdGen generates random commands over every type, with the keys, values
// and options that make encodings convert and random choices happen.
type cmdGen struct {
	rng  *rand.Rand
	keys []string
}

var genKinds = []string{"s", "l", "S", "h", "z"}

func newCmdGen(seed uint64) *cmdGen {
	g := &cmdGen{rng: rand.New(rand.NewPCG(seed, 77))}
	for _, kind := range genKinds {
		for i := 0; i < 5; i++ {
			g.keys = append(g.keys, kind+strconv.Itoa(i), "{t}"+kind+strconv.Itoa(i%3))
		}
	}
	return g
}

// keyOf returns a key meant for values of a kind (s string, l list, S set,
// h hash, z zset), or now and then any key, for WRONGTYPE and overwrites.
func (g *cmdGen) keyOf(kind string) string {
	if g.rng.IntN(8) == 0 {
		return g.keys[g.rng.IntN(len(g.keys))]
	}
	return kind + strconv.Itoa(g.rng.IntN(5))
}

// tagKey is keyOf for multi-key commands: keys of one slot.
func (g *cmdGen) tagKey(kind string) string {
	if g.rng.IntN(10) == 0 {
		kind = genKinds[g.rng.IntN(len(genKinds))]
	}
	return "{t}" + kind + strconv.Itoa(g.rng.IntN(3))
}

func (g *cmdGen) member() string {
	switch g.rng.IntN(8) {
	case 0, 1, 2:
		return strconv.Itoa(g.rng.IntN(400) - 50)
	case 3:
		return strings.Repeat("w", 10+g.rng.IntN(80))
	case 4:
		return strconv.Itoa(g.rng.IntN(1 << 40))
	}
	return "m" + strconv.Itoa(g.rng.IntN(300))
}

func (g *cmdGen) count() string {
	return strconv.Itoa(g.rng.IntN(30) - 10)
}

func (g *cmdGen) score() string {
	switch g.rng.IntN(5) {
	case 0:
		return strconv.FormatFloat(g.rng.Float64()*100-50, 'f', -1, 64)
	case 1:
		return []string{"inf", "-inf", "0", "-0", "1e300"}[g.rng.IntN(5)]
	}
	return strconv.Itoa(g.rng.IntN(50))
}

func (g *cmdGen) next() []string {
	r := g.rng
	switch r.IntN(62) {
	case 0:
		return []string{"SET", g.keyOf("s"), g.member()}
	case 1:
		return []string{"SET", g.keyOf("s"), g.member(), "PX", strconv.Itoa(r.IntN(5000) + 1)}
	case 2:
		return []string{"GET", g.keyOf("s")}
	case 3:
		return []string{"APPEND", g.keyOf("s"), g.member()}
	case 4:
		return []string{"INCRBY", g.keyOf("s"), strconv.Itoa(r.IntN(100000) - 500)}
	case 5:
		return []string{"DEL", g.keys[g.rng.IntN(len(g.keys))], g.keys[g.rng.IntN(len(g.keys))]}
	case 6:
		return []string{"EXPIRE", g.keys[g.rng.IntN(len(g.keys))], strconv.Itoa(r.IntN(10))}
	case 7:
		return []string{"PERSIST", g.keys[g.rng.IntN(len(g.keys))]}
	case 8:
		return []string{"RANDOMKEY"}
	case 9:
		return []string{"SCAN", strconv.Itoa(r.IntN(64)), "COUNT", strconv.Itoa(r.IntN(10) + 1)}
	case 10:
		return []string{"RENAME", g.tagKey(genKinds[g.rng.IntN(5)]), g.tagKey(genKinds[g.rng.IntN(5)])}
	case 11:
		return []string{"COPY", g.tagKey(genKinds[g.rng.IntN(5)]), g.tagKey(genKinds[g.rng.IntN(5)]), "REPLACE"}
	case 12:
		return []string{"OBJECT", "ENCODING", g.keys[g.rng.IntN(len(g.keys))]}
	case 13:
		args := []string{"RPUSH", g.keyOf("l")}
		for n := r.IntN(20) + 1; n > 0; n-- {
			args = append(args, g.member())
		}
		return args
	case 14:
		return []string{"LPUSH", g.keyOf("l"), g.member(), g.member()}
	case 15:
		return []string{"LPOP", g.keyOf("l"), strconv.Itoa(r.IntN(5) + 1)}
	case 16:
		return []string{"RPOP", g.keyOf("l")}
	case 17:
		return []string{"LRANGE", g.keyOf("l"), strconv.Itoa(r.IntN(20) - 10), strconv.Itoa(r.IntN(40) - 10)}
	case 18:
		return []string{"LINSERT", g.keyOf("l"), "BEFORE", g.member(), g.member()}
	case 19:
		return []string{"LREM", g.keyOf("l"), strconv.Itoa(r.IntN(5) - 2), g.member()}
	case 20:
		return []string{"LTRIM", g.keyOf("l"), strconv.Itoa(r.IntN(5)), strconv.Itoa(r.IntN(100) - 5)}
	case 21:
		return []string{"LMOVE", g.tagKey("l"), g.tagKey("l"), "LEFT", "RIGHT"}
	case 22:
		return []string{"LSET", g.keyOf("l"), strconv.Itoa(r.IntN(10) - 5), g.member()}
	case 23, 24:
		args := []string{"SADD", g.keyOf("S")}
		for n := r.IntN(30) + 1; n > 0; n-- {
			args = append(args, g.member())
		}
		return args
	case 25:
		return []string{"SREM", g.keyOf("S"), g.member(), g.member(), g.member()}
	case 26:
		return []string{"SPOP", g.keyOf("S")}
	case 27:
		return []string{"SPOP", g.keyOf("S"), strconv.Itoa(r.IntN(8))}
	case 28:
		return []string{"SRANDMEMBER", g.keyOf("S"), g.count()}
	case 29:
		return []string{"SRANDMEMBER", g.keyOf("S")}
	case 30:
		return []string{"SMEMBERS", g.keyOf("S")}
	case 31:
		return []string{"SINTERSTORE", g.tagKey("S"), g.tagKey("S"), g.tagKey("S")}
	case 32:
		return []string{"SUNIONSTORE", g.tagKey("S"), g.tagKey("S"), g.tagKey("S")}
	case 33:
		return []string{"SSCAN", g.keyOf("S"), strconv.Itoa(r.IntN(32)), "COUNT", "3"}
	case 34:
		return []string{"SMOVE", g.tagKey("S"), g.tagKey("S"), g.member()}
	case 35, 36:
		args := []string{"HSET", g.keyOf("h")}
		for n := r.IntN(20) + 1; n > 0; n-- {
			args = append(args, g.member(), g.member())
		}
		return args
	case 37:
		return []string{"HDEL", g.keyOf("h"), g.member(), g.member(), g.member()}
	case 38:
		return []string{"HRANDFIELD", g.keyOf("h")}
	case 39:
		return []string{"HRANDFIELD", g.keyOf("h"), g.count(), "WITHVALUES"}
	case 40:
		return []string{"HGETALL", g.keyOf("h")}
	case 41:
		return []string{"HINCRBY", g.keyOf("h"), g.member(), strconv.Itoa(r.IntN(100))}
	case 42:
		return []string{"HSCAN", g.keyOf("h"), strconv.Itoa(r.IntN(32)), "COUNT", "4"}
	case 43:
		return []string{"HRANDFIELD", g.keyOf("h"), g.count()}
	case 44, 45:
		args := []string{"ZADD", g.keyOf("z")}
		for n := r.IntN(20) + 1; n > 0; n-- {
			args = append(args, g.score(), g.member())
		}
		return args
	case 46:
		return []string{"ZREM", g.keyOf("z"), g.member(), g.member()}
	case 47:
		return []string{"ZINCRBY", g.keyOf("z"), g.score(), g.member()}
	case 48:
		return []string{"ZRANGE", g.keyOf("z"), "0", "-1", "WITHSCORES"}
	case 49:
		return []string{"ZRANDMEMBER", g.keyOf("z"), g.count(), "WITHSCORES"}
	case 50:
		return []string{"ZRANDMEMBER", g.keyOf("z")}
	case 51:
		return []string{"ZPOPMIN", g.keyOf("z"), strconv.Itoa(r.IntN(4) + 1)}
	case 52:
		return []string{"ZSCAN", g.keyOf("z"), strconv.Itoa(r.IntN(32)), "COUNT", "5"}
	case 53:
		return []string{"ZUNIONSTORE", g.tagKey("z"), "2", g.tagKey("z"), g.tagKey("z")}
	case 54:
		return []string{"ZRANGESTORE", g.tagKey("z"), g.tagKey("z"), "0", strconv.Itoa(r.IntN(200))}
	case 55:
		return []string{"ZREMRANGEBYRANK", g.keyOf("z"), "0", strconv.Itoa(r.IntN(5))}
	case 56:
		return []string{"DUMP", g.keys[g.rng.IntN(len(g.keys))]}
	case 57:
		return []string{"OBJECT", "IDLETIME", g.keys[g.rng.IntN(len(g.keys))]}
	case 58:
		return []string{"PTTL", g.keys[g.rng.IntN(len(g.keys))]}
	case 59:
		return []string{"SETRANGE", g.keyOf("s"), strconv.Itoa(r.IntN(100)), g.member()}
	case 60:
		return []string{"GETEX", g.keyOf("s"), "PX", strconv.Itoa(r.IntN(3000) + 1)}
	}
	if r.IntN(20) == 0 {
		return []string{"FLUSHDB"}
	}
	return []string{"DBSIZE"}
}

type step struct {
	args []string
	now  int64
	seed uint64
}

func genSteps(seed uint64, n int) []step {
	g := newCmdGen(seed)
	steps := make([]step, n)
	now := int64(1_700_000_000_000)
	for i := range steps {
		switch g.rng.IntN(10) {
		case 0:
			now += int64(g.rng.IntN(4000))
		case 1:
			now += 1
		}
		steps[i] = step{args: g.next(), now: now, seed: g.rng.Uint64()}
	}
	return steps
}

func applySteps(t testing.TB, db *DB, steps []step) []string {
	out := make([]string, len(steps))
	for i, s := range steps {
		out[i] = run1(t, db, s.now, s.seed, s.args...)
	}
	return out
}

// smallConfig makes encodings convert after a few elements.
func smallConfig(db *DB) {
	cfg := db.Config()
	cfg.HashMaxListpackEntries = 16
	cfg.HashMaxListpackValue = 32
	cfg.SetMaxIntsetEntries = 20
	cfg.ZSetMaxListpackEntries = 12
	cfg.ZSetMaxListpackValue = 24
	cfg.ListMaxListpackSize = 5
	db.SetConfig(cfg)
}

// TestDeterminism is the project's design rule in a test: two DBs created
// with the same seed that apply the same commands (with the same times and
// seeds) give the same replies and end in the same state, layout included.
// A third DB is replaced by a copy restored from its snapshot at several
// points of the sequence, and must continue exactly like them.
func TestDeterminism(t *testing.T) {
	n := 40000
	if testing.Short() {
		n = 8000
	}
	const checkpoints = 10
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			steps := genSteps(seed, n)
			a, b, c := New(42), New(42), New(42)
			for _, db := range []*DB{a, b, c} {
				smallConfig(db)
			}
			chunk := n / checkpoints
			for from := 0; from < n; from += chunk {
				part := steps[from:min(n, from+chunk)]
				// Change the settings midway in every DB: conversions
				// follow the new thresholds, new lists get a new fill.
				if from == n/2 {
					for _, db := range []*DB{a, b, c} {
						cfg := db.Config()
						cfg.ListMaxListpackSize = -1
						cfg.ZSetMaxListpackEntries = 30
						db.SetConfig(cfg)
					}
				}
				ra := applySteps(t, a, part)
				rb := applySteps(t, b, part)
				rc := applySteps(t, c, part)
				compareReplies(t, part, ra, rb)
				compareReplies(t, part, ra, rc)
				if a.Digest() != b.Digest() || a.LayoutDigest() != b.LayoutDigest() {
					t.Fatalf("a and b differ after step %d", from+len(part))
				}
				if a.LayoutDigest() != c.LayoutDigest() {
					t.Fatalf("a and the restored DB differ after step %d", from+len(part))
				}
				// Replace c by its snapshot.
				c2, err := ReadSnapshot(bytes.NewReader(snapshotBytes(t, c)))
				if err != nil {
					t.Fatalf("after step %d: %v", from+len(part), err)
				}
				checkKeyspace(t, c2)
				sameLayout(t, c, c2)
				if c2.LayoutDigest() != c.LayoutDigest() || c2.Digest() != c.Digest() || c2.Dirty() != c.Dirty() {
					t.Fatalf("restored DB differs after step %d", from+len(part))
				}
				c = c2
			}
			checkKeyspace(t, a)
			encodingsSeen(t, steps)
		})
	}
}

func compareReplies(t *testing.T, steps []step, x, y []string) {
	t.Helper()
	for i := range x {
		if x[i] != y[i] {
			t.Fatalf("step %d %q: %s vs %s", i, steps[i].args, x[i], y[i])
		}
	}
}

// encodingsSeen makes sure the random commands exercised what matters: at
// least the conversions and random picks the test is about.
func encodingsSeen(t *testing.T, steps []step) {
	seen := map[string]bool{}
	for _, s := range steps {
		seen[s.args[0]] = true
	}
	for _, c := range []string{"SPOP", "SRANDMEMBER", "HRANDFIELD", "ZRANDMEMBER", "RANDOMKEY", "SCAN"} {
		if !seen[c] {
			t.Errorf("no %s in the sequence", c)
		}
	}
}

// TestDeterminismEncodings checks that the sequence produces every encoding
// at some point (else the determinism test proves less than it says).
func TestDeterminismEncodings(t *testing.T) {
	steps := genSteps(1, 20000)
	db := New(42)
	smallConfig(db)
	seen := map[string]bool{}
	for i, s := range steps {
		run1(t, db, s.now, s.seed, s.args...)
		if i%50 == 0 {
			for si := range db.slots {
				sk := db.slotAt(si)
				if sk == nil {
					continue
				}
				sk.keys.Each(func(key string, o *object) bool {
					seen[o.typ.String()+"/"+encodingOf(o)] = true
					return true
				})
			}
		}
	}
	for _, e := range []string{"string/int", "string/embstr", "string/raw", "list/quicklist", "set/intset",
		"set/hashtable", "hash/listpack", "hash/hashtable", "zset/listpack", "zset/skiplist"} {
		if !seen[e] {
			t.Errorf("encoding %s never seen", e)
		}
	}
}

// BenchmarkSnapshot1M measures writing and reading a snapshot of a million
// small string keys (run with -bench Snapshot1M -benchtime 1x).
func BenchmarkSnapshot1M(b *testing.B) {
	db := New(1)
	for i := 0; i < 1_000_000; i++ {
		c := &Ctx{DB: db, W: nopWriter{}}
		key := []byte("key:" + strconv.Itoa(i))
		val := []byte("value:" + strconv.Itoa(i*7))
		c.Reset([][]byte{[]byte("set"), key, val}, 1_700_000_000_000+int64(i), 0)
		cmdSET(c)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var buf bytes.Buffer
		t0 := time.Now()
		if err := db.WriteSnapshot(&buf); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		got, err := ReadSnapshot(bytes.NewReader(buf.Bytes()))
		if err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		if got.Len() != db.Len() {
			b.Fatal("lost keys")
		}
		b.ReportMetric(float64(buf.Len()), "bytes")
		b.ReportMetric(float64(t1.Sub(t0).Milliseconds()), "write-ms")
		b.ReportMetric(float64(t2.Sub(t1).Milliseconds()), "read-ms")
	}
}

// TestSnapshotKnowsEveryField fails when a field is added to a structure a
// snapshot saves, as a reminder to save it too (and to teach sameLayout).
func TestSnapshotKnowsEveryField(t *testing.T) {
	for _, c := range []struct {
		v      any
		fields int
	}{
		{DB{}, 10 /* cow and flushes are transient */}, {slotKeys{}, 2}, {object{}, 7}, {Dict[int]{}, 3}, {listValue{}, 4}, {listChunk{}, 5},
		{setValue{}, 2}, {intset{}, 2}, {hashValue{}, 3}, {zsetValue{}, 2}, {zsetSkiplist{}, 3}, {Config{}, 7},
	} {
		if n := reflect.TypeOf(c.v).NumField(); n != c.fields {
			t.Errorf("%T has %d fields, the snapshot knows %d", c.v, n, c.fields)
		}
	}
}

// sameLayout compares two DBs structure by structure: everything a
// snapshot must preserve (it does not rely on the snapshot writer, so it
// also catches what the writer forgets).
func sameLayout(t testing.TB, a, b *DB) {
	t.Helper()
	if a.seed != b.seed || a.cfg != b.cfg || a.nkeys != b.nkeys || a.nvolatile != b.nvolatile || a.dirty != b.dirty {
		t.Fatalf("DB headers differ")
	}
	for s := range a.slots {
		x, y := a.slotAt(s), b.slotAt(s)
		if (x == nil || x.keys.Len() == 0) && (y == nil || y.keys.Len() == 0) {
			continue
		}
		if x == nil || y == nil {
			t.Fatalf("slot %d: present in one DB only", s)
		}
		sameDict(t, &x.keys, &y.keys, func(k string, o, p *object) {
			if o.typ != p.typ || o.enc != p.enc || o.flags != p.flags || o.lru != p.lru || o.n != p.n || o.c != p.c {
				t.Fatalf("key %q: object headers differ: %+v vs %+v", k, *o, *p)
			}
			sameValue(t, k, o, p)
		})
		sameDict(t, &x.expires, &y.expires, func(k string, u, v *int64) {
			if *u != *v {
				t.Fatalf("key %q: expiry %d vs %d", k, *u, *v)
			}
		})
	}
}

func sameDict[V any](t testing.TB, a, b *Dict[V], val func(k string, x, y *V)) {
	t.Helper()
	if a.n != b.n || a.seed != b.seed || false || len(a.ents) != len(b.ents) {
		t.Fatalf("dicts differ: n %d/%d, buckets %d/%d", a.n, b.n, len(a.ents), len(b.ents))
	}
	for i := range a.ents {
		if a.ents[i].hash != b.ents[i].hash || a.ents[i].key != b.ents[i].key {
			t.Fatalf("bucket %d: %q vs %q", i, a.ents[i].key, b.ents[i].key)
		}
		if a.ents[i].hash != 0 {
			val(a.ents[i].key, &a.ents[i].val, &b.ents[i].val)
		}
	}
}

func sameValue(t testing.TB, k string, o, p *object) {
	t.Helper()
	fail := func(what string) { t.Fatalf("key %q: %s differs", k, what) }
	switch o.typ {
	case TypeString:
		if !bytes.Equal(o.bytes(), p.bytes()) {
			fail("string")
		}
	case TypeList:
		x, y := collection[listValue](*o), collection[listValue](*p)
		if x.fill != y.fill || x.n != y.n || x.head != y.head || len(x.nodes) != len(y.nodes) || cap(x.nodes) != cap(y.nodes) {
			fail("list header")
		}
		for i, ch := range x.live() {
			dh := y.live()[i]
			if ch.size != dh.size || ch.lo != dh.lo || ch.hi != dh.hi || ch.count != dh.count ||
				!bytes.Equal(ch.buf()[ch.lo:ch.hi], dh.buf()[dh.lo:dh.hi]) {
				fail("list chunk")
			}
		}
	case TypeSet:
		x, y := collection[setValue](*o), collection[setValue](*p)
		if (x.dict == nil) != (y.dict == nil) || x.is.width != y.is.width || !bytes.Equal(x.is.data, y.is.data) || cap(x.is.data) != cap(y.is.data) {
			fail("set")
		}
		if x.dict != nil {
			sameDict(t, x.dict, y.dict, func(string, *struct{}, *struct{}) {})
		}
	case TypeHash:
		x, y := collection[hashValue](*o), collection[hashValue](*p)
		if (x.dict == nil) != (y.dict == nil) || x.n != y.n || !bytes.Equal(x.lp, y.lp) || cap(x.lp) != cap(y.lp) {
			fail("hash")
		}
		if x.dict != nil {
			sameDict(t, x.dict, y.dict, func(f string, u, v *string) {
				if *u != *v {
					fail("hash value")
				}
			})
		}
	case TypeZSet:
		x, y := collection[zsetValue](*o), collection[zsetValue](*p)
		if (x.sl == nil) != (y.sl == nil) || !bytes.Equal(x.lp, y.lp) || cap(x.lp) != cap(y.lp) {
			fail("zset")
		}
		if x.sl != nil {
			sameDict(t, &x.sl.dict, &y.sl.dict, func(m string, u, v *float64) {
				if math.Float64bits(*u) != math.Float64bits(*v) {
					fail("zset score")
				}
			})
			if x.sl.memBytes != y.sl.memBytes || x.sl.tree.length != y.sl.tree.length {
				fail("zset index")
			}
			var ex, ey []zent
			x.sl.tree.each(func(e *zent) bool { ex = append(ex, *e); return true })
			y.sl.tree.each(func(e *zent) bool { ey = append(ey, *e); return true })
			if !reflect.DeepEqual(ex, ey) {
				fail("zset order")
			}
		}
	}
}
