package raft_test

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	hraft "github.com/hashicorp/raft"

	"github.com/flotilla-db/flotilla/proto"
	"github.com/flotilla-db/flotilla/raft"
	"github.com/flotilla-db/flotilla/shard"
)

// A test's keyspaces all use this hash seed, as the replicas of one shard do.
const testSeed = 0x5eed

// replica is one FSM over its own shard store, fed hand-made raft logs.
type replica struct {
	fsm   *raft.FSM
	store *shard.Shard
	index uint64
}

func newReplica(seed uint64) *replica {
	s := shard.New(1, seed)
	return &replica{fsm: raft.NewFSM(s), store: s}
}

func (r *replica) log(data []byte) *hraft.Log {
	r.index++
	return &hraft.Log{Index: r.index, Term: 1, Type: hraft.LogCommand, Data: data}
}

// apply applies one encoded entry and returns its result.
func (r *replica) apply(t testing.TB, data []byte) *raft.Result {
	t.Helper()
	res, ok := r.fsm.Apply(r.log(data)).(*raft.Result)
	if !ok || res == nil {
		t.Fatalf("entry %d applied without a *raft.Result", r.index)
	}
	return res
}

// applyBatch applies encoded entries as one batch.
func (r *replica) applyBatch(t testing.TB, batch [][]byte) []*raft.Result {
	t.Helper()
	logs := make([]*hraft.Log, len(batch))
	for i, d := range batch {
		logs[i] = r.log(d)
	}
	out := r.fsm.ApplyBatch(logs)
	if len(out) != len(logs) {
		t.Fatalf("ApplyBatch returned %d results for %d logs", len(out), len(logs))
	}
	res := make([]*raft.Result, len(out))
	for i, o := range out {
		r, ok := o.(*raft.Result)
		if !ok || r == nil {
			t.Fatalf("entry %d of a batch applied without a *raft.Result", i)
		}
		res[i] = r
	}
	return res
}

func (r *replica) run(t testing.TB, typ raft.EntryType, now int64, protoVer uint8, cmds ...string) *raft.Result {
	t.Helper()
	return r.apply(t, encode(typ, now, 1, protoVer, cmds...))
}

// digests returns the logical and the layout digest of the keyspace.
func (r *replica) digests() (logical, layout [20]byte) {
	r.store.BeginRead()
	defer r.store.EndRead()
	return r.store.DB().Digest(), r.store.DB().LayoutDigest()
}

// encode encodes an entry whose commands are written as space-separated
// words.
func encode(typ raft.EntryType, now int64, seed uint64, protoVer uint8, cmds ...string) []byte {
	e := &raft.Entry{Type: typ, Now: now, Seed: seed, Proto: protoVer}
	for _, c := range cmds {
		e.Cmds = append(e.Cmds, words(c))
	}
	return raft.AppendEntry(nil, e)
}

func words(s string) [][]byte {
	var args [][]byte
	for _, w := range strings.Fields(s) {
		args = append(args, []byte(w))
	}
	return args
}

// resp replays a recording into RESP bytes of version p.
func resp(t testing.TB, rec []byte, p int) string {
	t.Helper()
	w := proto.NewWriter(nil)
	w.SetProto(p)
	if err := raft.Replay(rec, w); err != nil {
		t.Fatalf("replay: %v", err)
	}
	return string(w.Bytes())
}

// memSink is a SnapshotSink that keeps the snapshot in memory.
type memSink struct {
	bytes.Buffer
	closed, canceled bool
}

func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Close() error  { s.closed = true; return nil }
func (s *memSink) Cancel() error { s.canceled = true; return nil }

// snapshot takes a snapshot of r and persists it after more() ran (applies
// go on between Snapshot and Persist, as in a server).
func snapshot(t testing.TB, r *replica, more func()) []byte {
	t.Helper()
	snap, err := r.fsm.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if more != nil {
		more()
	}
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	snap.Release()
	if !sink.closed || sink.canceled {
		t.Fatalf("Persist left the sink closed=%v canceled=%v", sink.closed, sink.canceled)
	}
	return sink.Bytes()
}

// ---- a random log ----

// logGen generates a random shard log: commands over every type, with
// TTLs that run out during the log, randomness (SPOP, SRANDMEMBER...),
// failing commands, transactions, expiry entries and no-ops.
type logGen struct {
	rng  *rand.Rand
	now  int64
	keys []string
}

var kinds = []string{"s", "h", "l", "S", "z"}

func newLogGen(seed uint64) *logGen {
	g := &logGen{rng: rand.New(rand.NewPCG(seed, 1)), now: 1_700_000_000_000}
	for _, k := range kinds {
		for i := 0; i < 8; i++ {
			g.keys = append(g.keys, k+strconv.Itoa(i))
		}
		for i := 0; i < 3; i++ {
			g.keys = append(g.keys, "{t}"+k+strconv.Itoa(i))
		}
	}
	return g
}

func (g *logGen) n(n int) string { return strconv.Itoa(g.rng.IntN(n)) }

// key returns a key for values of kind, now and then any key (WRONGTYPE).
func (g *logGen) key(kind string) string {
	if g.rng.IntN(10) == 0 {
		return g.anyKey()
	}
	return kind + g.n(8)
}

func (g *logGen) anyKey() string { return g.keys[g.rng.IntN(len(g.keys))] }

// tag returns a key of the {t} slot, for commands of several keys.
func (g *logGen) tag(kind string) string {
	if g.rng.IntN(10) == 0 {
		kind = kinds[g.rng.IntN(len(kinds))]
	}
	return "{t}" + kind + g.n(3)
}

func (g *logGen) member() string {
	switch g.rng.IntN(6) {
	case 0, 1:
		return g.n(300)
	case 2:
		return strings.Repeat("x", 1+g.rng.IntN(90))
	}
	return "m" + g.n(200)
}

func (g *logGen) score() string {
	if g.rng.IntN(4) == 0 {
		return strconv.FormatFloat(g.rng.Float64()*100-50, 'g', -1, 64)
	}
	return g.n(40)
}

func (g *logGen) cmd() string {
	r := g.rng
	switch r.IntN(52) {
	case 0, 1:
		return "SET " + g.key("s") + " " + g.member()
	case 2:
		return "SET " + g.key("s") + " " + g.member() + " EX " + strconv.Itoa(1+r.IntN(4))
	case 3:
		return "SET " + g.key("s") + " " + g.member() + " PX " + strconv.Itoa(1+r.IntN(3000))
	case 4:
		// Many distinct keys make the keyspace's tables grow and rehash.
		if r.IntN(3) == 0 {
			return "SET k:" + g.n(3000) + " " + g.member() + " PX " + strconv.Itoa(1+r.IntN(60000))
		}
		return "SET p:" + g.n(5000) + " " + g.member()
	case 5:
		return "GET " + g.key("s")
	case 6:
		return "INCRBY " + g.key("s") + " " + g.n(100)
	case 7:
		return "APPEND " + g.key("s") + " " + g.member()
	case 8:
		if r.IntN(2) == 0 {
			return "DEL p:" + g.n(5000) + " p:" + g.n(5000) + " k:" + g.n(3000)
		}
		return "DEL " + g.anyKey() + " " + g.anyKey()
	case 9:
		return "EXPIRE " + g.anyKey() + " " + g.n(5)
	case 10:
		return "PEXPIRE " + g.anyKey() + " " + g.n(2500)
	case 11:
		return "PTTL " + g.anyKey()
	case 12:
		return "PERSIST " + g.anyKey()
	case 13:
		return "RANDOMKEY"
	case 14:
		return "SCAN " + g.n(64) + " COUNT 5"
	case 15:
		return "HSET " + g.key("h") + " " + g.member() + " " + g.member() + " " + g.member() + " " + g.member()
	case 16:
		return "HDEL " + g.key("h") + " " + g.member() + " " + g.member()
	case 17:
		return "HGETALL " + g.key("h")
	case 18:
		return "HINCRBY " + g.key("h") + " " + g.member() + " " + g.n(50)
	case 19:
		return "HRANDFIELD " + g.key("h") + " " + strconv.Itoa(r.IntN(12)-4) + " WITHVALUES"
	case 20, 21:
		args := "RPUSH " + g.key("l")
		for n := r.IntN(12) + 1; n > 0; n-- {
			args += " " + g.member()
		}
		return args
	case 22:
		return "LPUSH " + g.key("l") + " " + g.member() + " " + g.member()
	case 23:
		return "LPOP " + g.key("l") + " " + strconv.Itoa(1+r.IntN(4))
	case 24:
		return "RPOP " + g.key("l")
	case 25:
		return "LRANGE " + g.key("l") + " 0 -1"
	case 26:
		return "LMOVE " + g.tag("l") + " " + g.tag("l") + " LEFT RIGHT"
	case 27:
		return "LINSERT " + g.key("l") + " BEFORE " + g.member() + " " + g.member()
	case 28, 29:
		args := "SADD " + g.key("S")
		for n := r.IntN(20) + 1; n > 0; n-- {
			args += " " + g.member()
		}
		return args
	case 30:
		return "SREM " + g.key("S") + " " + g.member() + " " + g.member()
	case 31:
		return "SPOP " + g.key("S")
	case 32:
		return "SPOP " + g.key("S") + " " + g.n(6)
	case 33:
		return "SRANDMEMBER " + g.key("S") + " " + strconv.Itoa(r.IntN(16)-6)
	case 34:
		return "SMEMBERS " + g.key("S")
	case 35:
		return "SINTERSTORE " + g.tag("S") + " " + g.tag("S") + " " + g.tag("S")
	case 36, 37:
		args := "ZADD " + g.key("z")
		for n := r.IntN(10) + 1; n > 0; n-- {
			args += " " + g.score() + " " + g.member()
		}
		return args
	case 38:
		return "ZINCRBY " + g.key("z") + " " + g.score() + " " + g.member()
	case 39:
		return "ZREM " + g.key("z") + " " + g.member() + " " + g.member()
	case 40:
		return "ZRANGE " + g.key("z") + " 0 -1 WITHSCORES"
	case 41:
		return "ZPOPMIN " + g.key("z") + " " + g.n(3)
	case 42:
		return "ZRANDMEMBER " + g.key("z") + " " + strconv.Itoa(r.IntN(10)-3) + " WITHSCORES"
	case 44, 45, 46, 47, 48, 49, 50:
		return "SET p:" + g.n(5000) + " " + g.member()
	default:
		// Failures: unknown command, wrong arity, syntax error.
		return []string{"NOSUCHCMD " + g.anyKey(), "GET", "SET " + g.anyKey() + " v EX notanumber", "INCR " + g.key("h")}[r.IntN(4)]
	}
}

// next returns the next entry. expired lists keys the "leader" found
// expired at the entry's time, for expiry entries.
func (g *logGen) next(expired func(now int64) [][]byte) *raft.Entry {
	r := g.rng
	// Time goes on, and stands still now and then.
	if r.IntN(4) != 0 {
		g.now += int64(r.IntN(40))
	}
	e := &raft.Entry{Now: g.now, Seed: r.Uint64(), Proto: uint8(2 + r.IntN(2))}
	switch x := r.IntN(20); {
	case x < 14:
		e.Type = raft.EntryCommands
		for n := 1 + r.IntN(5); n > 0; n-- {
			e.Cmds = append(e.Cmds, words(g.cmd()))
		}
	case x == 14:
		// A lone blocking command, which may block.
		e.Type = raft.EntryCommands
		if r.IntN(2) == 0 {
			e.Cmds = [][][]byte{words("BLPOP " + g.key("l") + " " + g.key("l") + " 0")}
		} else {
			e.Cmds = [][][]byte{words("BLMOVE " + g.tag("l") + " " + g.tag("l") + " RIGHT LEFT 0.5")}
		}
	case x < 17:
		e.Type = raft.EntryExec
		for n := r.IntN(5); n > 0; n-- {
			c := g.cmd()
			if r.IntN(5) == 0 {
				c = "BLPOP " + g.key("l") + " 1"
			}
			e.Cmds = append(e.Cmds, words(c))
		}
	case x < 19:
		e.Type = raft.EntryExpire
		keys := expired(e.Now)
		for n := r.IntN(4); n > 0; n-- {
			keys = append(keys, []byte(g.anyKey()))
		}
		if r.IntN(2) == 0 {
			keys = append(keys, []byte("k:"+g.n(3000)))
		}
		for _, k := range keys {
			e.Cmds = append(e.Cmds, [][]byte{k})
		}
	default:
		e.Type = raft.EntryNoop
	}
	return e
}

// feed applies log[from:] to r in random batches and returns the results.
func feed(t testing.TB, r *replica, log [][]byte, rng *rand.Rand) []*raft.Result {
	t.Helper()
	var out []*raft.Result
	for len(log) > 0 {
		n := min(1+rng.IntN(16), len(log))
		if n == 1 && rng.IntN(2) == 0 {
			out = append(out, r.apply(t, log[0]))
		} else {
			out = append(out, r.applyBatch(t, log[:n])...)
		}
		log = log[n:]
	}
	return out
}

func sameResults(t *testing.T, who string, got, want []*raft.Result, offset int) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d results, want %d", who, len(got), len(want))
	}
	bad := 0
	for i := range got {
		g, w := got[i], want[i]
		if !bytes.Equal(g.Replies, w.Replies) || g.Blocked != w.Blocked || g.Now != w.Now {
			t.Errorf("%s: entry %d: result {%.200q %v %d}, want {%.200q %v %d}",
				who, offset+i, resp(t, g.Replies, 3), g.Blocked, g.Now, resp(t, w.Replies, 3), w.Blocked, w.Now)
			if bad++; bad == 5 {
				t.FailNow()
			}
		}
	}
}

// TestFSMDeterminism applies one random log to two replicas, batched
// differently, and to a third restored from a snapshot the first took
// midway: they end with the same state, to the layout of every table, and
// recorded the same replies (../shared/DESIGN.md rule 1).
func TestFSMDeterminism(t *testing.T) {
	entries := 6000
	if testing.Short() {
		entries = 1500
	}
	for _, seed := range []uint64{1, 2} {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			testDeterminism(t, seed, entries)
		})
	}
}

func testDeterminism(t *testing.T, seed uint64, entries int) {
	start := time.Now()
	gen := newLogGen(seed)
	a := newReplica(testSeed)
	// The "leader" samples expired keys of a, as a shard's leader does
	// before proposing an expiry entry.
	var cursor uint64
	expired := func(now int64) [][]byte {
		a.store.BeginRead()
		defer a.store.EndRead()
		keys, next, _ := a.store.DB().ExpiredKeys(now, cursor, 8)
		cursor = next
		return keys
	}
	var log [][]byte
	var resA []*raft.Result
	var stats [5]int
	var blocked, deletedByExpire int
	half := entries / 2
	var snap []byte
	var snapNow int64
	var snapDigest, snapLayout [20]byte
	step := func() {
		e := gen.next(expired)
		data := raft.AppendEntry(nil, e)
		log = append(log, data)
		res := a.apply(t, data)
		resA = append(resA, res)
		if res.Now != e.Now {
			t.Fatalf("result Now %d, want %d", res.Now, e.Now)
		}
		stats[e.Type]++
		if res.Blocked {
			blocked++
		}
		if e.Type == raft.EntryExpire {
			w := proto.NewWriter(nil)
			raft.Replay(res.Replies, w)
			n, _ := strconv.Atoi(strings.Trim(string(w.Bytes()), ":\r\n"))
			deletedByExpire += n
		}
	}
	for len(log) < half {
		step()
	}
	snapDigest, snapLayout = a.digests()
	snapNow = a.fsm.LastNow()
	// Persist once a tenth more of the log is applied: the snapshot must
	// not see those entries.
	snap = snapshot(t, a, func() {
		for len(log) < half+entries/10 {
			step()
		}
	})
	for len(log) < entries {
		step()
	}
	genTime := time.Since(start)

	dA, lA := a.digests()
	if a.store.DB().Len() == 0 {
		t.Fatal("the log left an empty keyspace")
	}
	if a.fsm.LastApplied() != uint64(entries) {
		t.Errorf("LastApplied = %d, want %d", a.fsm.LastApplied(), entries)
	}
	if a.fsm.LastNow() != gen.now {
		t.Errorf("LastNow = %d, want %d", a.fsm.LastNow(), gen.now)
	}

	// b: the whole log, in other batches.
	b := newReplica(testSeed)
	resB := feed(t, b, log, rand.New(rand.NewPCG(seed, 2)))
	sameResults(t, "b", resB, resA, 0)
	if dB, lB := b.digests(); dB != dA || lB != lA {
		t.Errorf("b: digest %x layout %x, want %x %x", dB, lB, dA, lA)
	}

	// c: another hash seed, then the snapshot (which carries the seed),
	// then the rest of the log.
	c := newReplica(testSeed + 1)
	c.run(t, raft.EntryCommands, 1, 2, "SET junk 1", "SADD junkset a b c")
	if err := c.fsm.Restore(io.NopCloser(bytes.NewReader(snap))); err != nil {
		t.Fatal(err)
	}
	if got := c.fsm.LastNow(); got != snapNow {
		t.Errorf("restored LastNow = %d, want %d", got, snapNow)
	}
	if d, l := c.digests(); d != snapDigest || l != snapLayout {
		t.Errorf("restored state differs from the snapshotted one")
	}
	c.index = uint64(half)
	resC := feed(t, c, log[half:], rand.New(rand.NewPCG(seed, 3)))
	sameResults(t, "c", resC, resA[half:], half)
	if dC, lC := c.digests(); dC != dA || lC != lA {
		t.Errorf("c: digest %x layout %x, want %x %x", dC, lC, dA, lA)
	}
	t.Logf("%d entries (commands %d, exec %d, expire %d deleting %d keys, noop %d; %d blocked), %d keys at the end, snapshot %d bytes; generated and applied in %v, total %v",
		entries, stats[raft.EntryCommands], stats[raft.EntryExec], stats[raft.EntryExpire], deletedByExpire,
		stats[raft.EntryNoop], blocked, a.store.DB().Len(), len(snap), genTime.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	if deletedByExpire == 0 || blocked == 0 {
		t.Errorf("the log exercised too little: %d keys deleted by expiry entries, %d entries blocked", deletedByExpire, blocked)
	}
}

// TestFSMReplies checks the recorded replies of a few commands, replayed
// into RESP2 and RESP3.
func TestFSMReplies(t *testing.T) {
	cmds := []string{
		"SET k v",
		"GET k",
		"GET missing",
		"INCR k",
		"LPUSH k x",
		"HSET h f 1",
		"HGETALL h",
		"ZADD z 1.5 m",
		"ZSCORE z m",
		"SADD s a",
		"SMEMBERS s",
		"NOSUCHCMD a",
		"GET",
	}
	errs := "-ERR value is not an integer or out of range\r\n" +
		"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
	tail := "-ERR unknown command 'NOSUCHCMD', with args beginning with: 'a' \r\n" +
		"-ERR wrong number of arguments for 'get' command\r\n"
	want := map[int]string{
		2: "+OK\r\n$1\r\nv\r\n$-1\r\n" + errs + ":1\r\n*2\r\n$1\r\nf\r\n$1\r\n1\r\n:1\r\n$3\r\n1.5\r\n:1\r\n*1\r\n$1\r\na\r\n" + tail,
		3: "+OK\r\n$1\r\nv\r\n_\r\n" + errs + ":1\r\n%1\r\n$1\r\nf\r\n$1\r\n1\r\n:1\r\n,1.5\r\n:1\r\n~1\r\n$1\r\na\r\n" + tail,
	}
	for _, p := range []int{2, 3} {
		r := newReplica(testSeed)
		res := r.run(t, raft.EntryCommands, 1000, uint8(p), cmds...)
		if res.Blocked || res.Now != 1000 {
			t.Errorf("RESP%d: Blocked=%v Now=%d", p, res.Blocked, res.Now)
		}
		if got := resp(t, res.Replies, p); got != want[p] {
			t.Errorf("RESP%d replies\n%q\nwant\n%q", p, got, want[p])
		}
	}
}

// TestFSMExec checks that a transaction replies with one array, and that a
// blocking command in it replies null at once.
func TestFSMExec(t *testing.T) {
	for _, p := range []int{2, 3} {
		r := newReplica(testSeed)
		r.run(t, raft.EntryCommands, 1000, uint8(p), "RPUSH full a b")
		before, _ := r.digests()
		res := r.run(t, raft.EntryExec, 1001, uint8(p),
			"SET a 1",
			"BLPOP empty 0",
			"INCR a",
			"LPUSH a x",
			"BLMOVE empty2 dst LEFT RIGHT 0",
			"BLPOP full 0",
		)
		if res.Blocked {
			t.Errorf("RESP%d: a transaction blocked", p)
		}
		null, nullArray := "$-1\r\n", "*-1\r\n"
		if p == 3 {
			null, nullArray = "_\r\n", "_\r\n"
		}
		want := "*6\r\n+OK\r\n" + nullArray + ":2\r\n" +
			"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n" +
			null + "*2\r\n$4\r\nfull\r\n$1\r\na\r\n"
		if got := resp(t, res.Replies, p); got != want {
			t.Errorf("RESP%d exec replies\n%q\nwant\n%q", p, got, want)
		}
		if after, _ := r.digests(); after == before {
			t.Errorf("RESP%d: the transaction changed nothing", p)
		}
		// An empty transaction.
		res = r.run(t, raft.EntryExec, 1002, uint8(p))
		if got := resp(t, res.Replies, p); got != "*0\r\n" {
			t.Errorf("RESP%d: empty exec replied %q", p, got)
		}
	}
}

// TestFSMBlocked checks that a lone blocking command with nothing to serve
// reports Blocked, records no reply and changes nothing, and is served
// once the list has elements.
func TestFSMBlocked(t *testing.T) {
	r := newReplica(testSeed)
	r.run(t, raft.EntryCommands, 1000, 2, "SET k v", "SADD s a b", "ZADD z 1 m")
	d0, l0 := r.digests()
	for _, c := range []string{"BLPOP q 0", "BRPOP q q2 1.5", "BLMOVE q dst LEFT LEFT 0", "BZPOPMIN zq 0", "BLMPOP 0 1 q LEFT"} {
		res := r.run(t, raft.EntryCommands, 2000, 3, c)
		if !res.Blocked || len(res.Replies) != 0 || res.Now != 2000 {
			t.Errorf("%s: Blocked=%v replies=%q Now=%d, want blocked, no reply", c, res.Blocked, res.Replies, res.Now)
		}
		if d, l := r.digests(); d != d0 || l != l0 {
			t.Errorf("%s changed the keyspace", c)
		}
	}
	if r.fsm.LastNow() != 2000 {
		t.Errorf("LastNow = %d, want 2000", r.fsm.LastNow())
	}
	r.run(t, raft.EntryCommands, 2001, 2, "RPUSH q x")
	res := r.run(t, raft.EntryCommands, 2002, 2, "BLPOP q 0")
	if res.Blocked || resp(t, res.Replies, 2) != "*2\r\n$1\r\nq\r\n$1\r\nx\r\n" {
		t.Errorf("BLPOP on a list with an element: Blocked=%v %q", res.Blocked, resp(t, res.Replies, 2))
	}
	// A wrong-type key fails at once, it does not block.
	res = r.run(t, raft.EntryCommands, 2003, 2, "BLPOP k 0")
	if res.Blocked || !strings.HasPrefix(resp(t, res.Replies, 2), "-WRONGTYPE") {
		t.Errorf("BLPOP on a string: Blocked=%v %q", res.Blocked, resp(t, res.Replies, 2))
	}
}

// TestFSMExpireEntry checks that an expiry entry deletes only the listed
// keys that are expired at the entry's time.
func TestFSMExpireEntry(t *testing.T) {
	r := newReplica(testSeed)
	const t0 = 1_700_000_000_000
	r.run(t, raft.EntryCommands, t0, 2,
		"SET a v PX 100", "SET b v PX 1000", "SET c v", "SET d v PX 100", "RPUSH l x", "PEXPIRE l 50")
	contains := func(keys ...string) string {
		r.store.BeginRead()
		defer r.store.EndRead()
		var out []string
		for _, k := range keys {
			if r.store.DB().Contains([]byte(k)) {
				out = append(out, k)
			}
		}
		return strings.Join(out, " ")
	}
	expire := func(now int64, keys ...string) string {
		e := &raft.Entry{Type: raft.EntryExpire, Now: now, Proto: 2}
		for _, k := range keys {
			e.Cmds = append(e.Cmds, [][]byte{[]byte(k)})
		}
		// Some entries carry an empty command: it is skipped.
		e.Cmds = append(e.Cmds, nil)
		return resp(t, r.apply(t, raft.AppendEntry(nil, e)).Replies, 2)
	}
	// At its deadline a key is still alive.
	if got := expire(t0+100, "a", "b", "c", "d", "l", "missing"); got != ":1\r\n" {
		t.Errorf("expire at t0+100 replied %q, want :1 (only l)", got)
	}
	if got := contains("a", "b", "c", "d", "l"); got != "a b c d" {
		t.Errorf("after expire at t0+100: %q remain", got)
	}
	// d is expired but not listed: it stays (as a logically absent key).
	if got := expire(t0+101, "a", "b", "c", "missing"); got != ":1\r\n" {
		t.Errorf("expire at t0+101 replied %q, want :1", got)
	}
	if got := contains("a", "b", "c", "d"); got != "b c d" {
		t.Errorf("after expire at t0+101: %q remain", got)
	}
	// A key written again since it was sampled survives.
	r.run(t, raft.EntryCommands, t0+200, 2, "SET d v2")
	if got := expire(t0+5000, "b", "c", "d"); got != ":1\r\n" {
		t.Errorf("expire at t0+5000 replied %q, want :1", got)
	}
	if got := contains("a", "b", "c", "d"); got != "c d" {
		t.Errorf("after expire at t0+5000: %q remain", got)
	}
}

// TestFSMUnknownEntryPanics checks that an entry the FSM cannot understand
// panics (a replica must not skip what others apply), and releases the
// store's lock on the way.
func TestFSMUnknownEntryPanics(t *testing.T) {
	r := newReplica(testSeed)
	bad := map[string][]byte{
		"unknown type": encode(raft.EntryType(99), 1, 1, 2, "SET a b"),
		"type zero":    encode(raft.EntryType(0), 1, 1, 2),
		"truncated":    encode(raft.EntryCommands, 1, 1, 2, "SET a b")[:25],
		"version":      append([]byte{9}, encode(raft.EntryCommands, 1, 1, 2, "SET a b")[1:]...),
	}
	for name, data := range bad {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			r.fsm.Apply(r.log(data))
		}()
	}
	done := make(chan struct{})
	go func() {
		r.run(t, raft.EntryCommands, 2, 2, "SET a b")
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the store's lock stayed held after a panic")
	}
}

// TestFSMApplyBatchSkipsOthers checks that logs other than commands
// (configuration changes) give no result but count as applied.
func TestFSMApplyBatchSkipsOthers(t *testing.T) {
	r := newReplica(testSeed)
	logs := []*hraft.Log{
		{Index: 1, Type: hraft.LogCommand, Data: encode(raft.EntryCommands, 10, 1, 2, "SET a 1")},
		{Index: 2, Type: hraft.LogConfiguration, Data: []byte("not an entry")},
		{Index: 3, Type: hraft.LogCommand, Data: encode(raft.EntryNoop, 20, 1, 2)},
	}
	out := r.fsm.ApplyBatch(logs)
	if res, ok := out[0].(*raft.Result); !ok || resp(t, res.Replies, 2) != "+OK\r\n" {
		t.Errorf("result 0 = %#v", out[0])
	}
	if out[1] != nil {
		t.Errorf("a configuration log gave %#v", out[1])
	}
	if res, ok := out[2].(*raft.Result); !ok || len(res.Replies) != 0 || res.Now != 20 {
		t.Errorf("no-op result = %#v", out[2])
	}
	if r.fsm.LastApplied() != 3 || r.fsm.LastNow() != 20 {
		t.Errorf("LastApplied %d LastNow %d, want 3 20", r.fsm.LastApplied(), r.fsm.LastNow())
	}
	// An entry stamped earlier does not move LastNow back.
	r.run(t, raft.EntryNoop, 15, 2)
	if r.fsm.LastNow() != 20 {
		t.Errorf("LastNow went back to %d", r.fsm.LastNow())
	}
}

// TestFSMRestoreRejectsGarbage checks that a broken snapshot is an error
// and leaves the state alone.
func TestFSMRestoreRejectsGarbage(t *testing.T) {
	r := newReplica(testSeed)
	r.run(t, raft.EntryCommands, 10, 2, "SET a 1", "HSET h f v")
	d0, _ := r.digests()
	snap := snapshot(t, r, nil)
	for name, data := range map[string][]byte{
		"empty":     nil,
		"header":    snap[:8],
		"truncated": snap[:len(snap)-3],
		"garbage":   append(append([]byte(nil), snap[:8]...), "FLOTSNAPxxxxxxxxxxxxxxxxxxxxxxxxxx"...),
	} {
		if err := r.fsm.Restore(io.NopCloser(bytes.NewReader(data))); err == nil {
			t.Errorf("%s: Restore accepted it", name)
		}
		if d, _ := r.digests(); d != d0 {
			t.Errorf("%s: a failed Restore changed the state", name)
		}
	}
}

// fillKeys sets n small keys through the FSM, 1000 per entry.
func fillKeys(t testing.TB, r *replica, n int) {
	e := &raft.Entry{Type: raft.EntryCommands, Now: 1, Proto: 2}
	for i := 0; i < n; i += 1000 {
		e.Cmds = e.Cmds[:0]
		for j := i; j < min(i+1000, n); j++ {
			e.Cmds = append(e.Cmds, [][]byte{[]byte("SET"), []byte("key:" + strconv.Itoa(j)), []byte("value:" + strconv.Itoa(j))})
		}
		r.apply(t, raft.AppendEntry(nil, e))
	}
}

// BenchmarkSnapshotPause measures how long Snapshot holds the write lock
// (FSM.SnapshotPause), which is how long applies stall while a snapshot
// is taken, for keyspaces of small keys.
func BenchmarkSnapshotPause(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprint("keys=", n), func(b *testing.B) {
			r := newReplica(testSeed)
			fillKeys(b, r, n)
			var size int
			var worst time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				snap, err := r.fsm.Snapshot()
				if err != nil {
					b.Fatal(err)
				}
				p := time.Duration(r.fsm.SnapshotPause.Load())
				worst = max(worst, p)
				if size == 0 {
					var sink memSink
					if err := snap.Persist(&sink); err != nil {
						b.Fatal(err)
					}
					size = sink.Len()
				}
				snap.Release()
			}
			b.ReportMetric(float64(size), "snapshot-bytes")
			b.ReportMetric(float64(worst.Milliseconds()), "worst-pause-ms")
			b.Logf("%d keys: snapshot %d bytes, worst pause %v over %d snapshots", n, size, worst, b.N)
		})
	}
}
