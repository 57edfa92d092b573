package engine

import (
	"github.com/flotilla-db/flotilla/engine/scripttest"

	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// zrun runs one command against db and returns its rendered reply.
func zrun(t testing.TB, db *DB, now int64, seed uint64, resp int, args ...string) (string, *Ctx) {
	t.Helper()
	w := scripttest.NewTextWriter(resp)
	bargs := make([][]byte, len(args))
	for i, a := range args {
		bargs[i] = []byte(a)
	}
	h := Lookup(strings.ToLower(args[0]))
	if h == nil {
		t.Fatalf("no handler for %q", args[0])
	}
	c := &Ctx{DB: db, W: w}
	c.Reset(bargs, now, seed)
	h(c)
	return w.String(), c
}

func zdo(t testing.TB, db *DB, args ...string) string {
	t.Helper()
	out, c := zrun(t, db, 1_700_000_000_000, 1, 2, args...)
	if c.Blocked == nil && out == "" {
		t.Fatalf("%v wrote no reply", args)
	}
	return out
}

func zencoding(t testing.TB, db *DB, key string) string {
	t.Helper()
	o, ok := db.peek([]byte(key), 1_700_000_000_000)
	if !ok {
		return "none"
	}
	if o.typ != TypeZSet {
		t.Fatalf("%s is a %v", key, o.typ)
	}
	return collection[zsetValue](o).encodingName()
}

func TestZsetEncodingThresholds(t *testing.T) {
	db := New(1)
	for i := 0; i < 128; i++ {
		zdo(t, db, "ZADD", "z", strconv.Itoa(i), "m"+strconv.Itoa(i))
	}
	if e := zencoding(t, db, "z"); e != "listpack" {
		t.Fatalf("128 elements: %s", e)
	}
	zdo(t, db, "ZADD", "z", "1", "m1") // an update does not convert
	zdo(t, db, "ZADD", "z", "XX", "1", "new")
	if e := zencoding(t, db, "z"); e != "listpack" {
		t.Fatalf("128 elements after update: %s", e)
	}
	zdo(t, db, "ZINCRBY", "z", "1", "m128")
	if e := zencoding(t, db, "z"); e != "skiplist" {
		t.Fatalf("129 elements: %s", e)
	}
	// Never back, even when emptied down to one element.
	zdo(t, db, "ZREMRANGEBYRANK", "z", "1", "-1")
	if e := zencoding(t, db, "z"); e != "skiplist" || zdo(t, db, "ZCARD", "z") != ":1" {
		t.Fatalf("after ZREMRANGEBYRANK: %s", e)
	}

	m64, m65 := strings.Repeat("x", 64), strings.Repeat("y", 65)
	zdo(t, db, "ZADD", "v", "1", m64)
	if e := zencoding(t, db, "v"); e != "listpack" {
		t.Fatalf("64-byte member: %s", e)
	}
	zdo(t, db, "ZADD", "v", "2", m65)
	if e := zencoding(t, db, "v"); e != "skiplist" {
		t.Fatalf("65-byte member: %s", e)
	}
	zdo(t, db, "ZADD", "w", "2", m65, "1", "a")
	if e := zencoding(t, db, "w"); e != "skiplist" {
		t.Fatalf("new key with a 65-byte member: %s", e)
	}

	// Results of the STORE commands are compact when small, whatever the
	// encoding of their sources.
	zdo(t, db, "ZUNIONSTORE", "u", "1", "v")
	if e := zencoding(t, db, "u"); e != "skiplist" {
		t.Fatalf("ZUNIONSTORE with a long member: %s", e)
	}
	zdo(t, db, "ZRANGESTORE", "u", "v", "0", "0")
	if e := zencoding(t, db, "u"); e != "listpack" {
		t.Fatalf("ZRANGESTORE of one short member: %s", e)
	}
	zdo(t, db, "ZINTERSTORE", "u", "2", "v", "v")
	if e := zencoding(t, db, "u"); e != "skiplist" {
		t.Fatalf("ZINTERSTORE with a long member: %s", e)
	}
	zdo(t, db, "ZDIFFSTORE", "u", "1", "z")
	if e := zencoding(t, db, "u"); e != "listpack" {
		t.Fatalf("ZDIFFSTORE of a one-element skiplist: %s", e)
	}
	big := []string{"ZADD", "big"}
	for i := 0; i < 300; i++ {
		big = append(big, strconv.Itoa(i), "e"+strconv.Itoa(i))
	}
	zdo(t, db, big...)
	if zencoding(t, db, "big") != "skiplist" {
		t.Fatal("300 elements in one ZADD")
	}
	zdo(t, db, "ZRANGESTORE", "u", "big", "0", "127")
	if e := zencoding(t, db, "u"); e != "listpack" {
		t.Fatalf("ZRANGESTORE of 128: %s", e)
	}
	zdo(t, db, "ZRANGESTORE", "u", "big", "0", "128")
	if e := zencoding(t, db, "u"); e != "skiplist" {
		t.Fatalf("ZRANGESTORE of 129: %s", e)
	}
	zdo(t, db, "ZRANGESTORE", "u", "big", "-inf", "127", "BYSCORE")
	if e := zencoding(t, db, "u"); e != "listpack" {
		t.Fatalf("ZRANGESTORE BYSCORE of 128: %s", e)
	}

	// The thresholds come from the config.
	cfg := db.Config()
	cfg.ZSetMaxListpackEntries = 0
	db.SetConfig(cfg)
	zdo(t, db, "ZADD", "zero", "1", "a")
	if e := zencoding(t, db, "zero"); e != "skiplist" {
		t.Fatalf("zset-max-listpack-entries 0: %s", e)
	}
	zdo(t, db, "ZUNIONSTORE", "u", "1", "zero")
	if e := zencoding(t, db, "u"); e != "skiplist" {
		t.Fatalf("ZUNIONSTORE with zset-max-listpack-entries 0: %s", e)
	}
	cfg.ZSetMaxListpackEntries, cfg.ZSetMaxListpackValue = 3, 2
	db.SetConfig(cfg)
	zdo(t, db, "ZADD", "small", "1", "a", "2", "bb", "3", "c")
	if e := zencoding(t, db, "small"); e != "listpack" {
		t.Fatalf("3 elements with max 3: %s", e)
	}
	zdo(t, db, "ZADD", "small", "4", "d")
	if e := zencoding(t, db, "small"); e != "skiplist" {
		t.Fatalf("4 elements with max 3: %s", e)
	}
	zdo(t, db, "ZADD", "small2", "1", "ccc")
	if e := zencoding(t, db, "small2"); e != "skiplist" {
		t.Fatalf("3-byte member with max 2: %s", e)
	}
}

// zrandomCommand returns a random sorted set command over a few keys. The
// "lex" keys keep all scores 0 so lex ranges are well defined.
func zrandomCommand(rng *rand.Rand) []string {
	scores := []string{"0", "1", "2", "-1", "1.5", "inf", "-inf", "3", "10", "0.1", "-2.5", "7", "2"}
	members := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p",
		"q", "r", "s", "t", "longer-member-x", "longer-member-y", ""}
	keys := []string{"k1", "k2", "k3"}
	lexKeys := []string{"lex1", "lex2"}
	sc := func() string { return scores[rng.IntN(len(scores))] }
	mem := func() string { return members[rng.IntN(len(members))] }
	key := func() string { return keys[rng.IntN(len(keys))] }
	lexKey := func() string { return lexKeys[rng.IntN(len(lexKeys))] }
	bound := func() string {
		s := sc()
		if rng.IntN(3) == 0 && !strings.Contains(s, "inf") {
			s = "(" + s
		}
		return s
	}
	lexBound := func() string {
		switch rng.IntN(6) {
		case 0:
			return "-"
		case 1:
			return "+"
		case 2:
			return "(" + mem()
		}
		return "[" + mem()
	}
	idx := func() string { return strconv.Itoa(rng.IntN(30) - 15) }
	limit := func(cmd []string) []string {
		if rng.IntN(3) == 0 {
			cmd = append(cmd, "LIMIT", strconv.Itoa(rng.IntN(6)-1), strconv.Itoa(rng.IntN(8)-2))
		}
		return cmd
	}
	ws := func(cmd []string) []string {
		if rng.IntN(2) == 0 {
			cmd = append(cmd, "WITHSCORES")
		}
		return cmd
	}
	switch rng.IntN(30) {
	case 0, 1, 2, 3:
		cmd := []string{"ZADD", key()}
		for _, f := range []string{"NX", "XX", "GT", "LT", "CH"} {
			if rng.IntN(6) == 0 {
				cmd = append(cmd, f)
			}
		}
		if rng.IntN(6) == 0 {
			return append(cmd, "INCR", sc(), mem())
		}
		for n := 1 + rng.IntN(6); n > 0; n-- {
			cmd = append(cmd, sc(), mem())
		}
		return cmd
	case 4, 5:
		cmd := []string{"ZADD", lexKey()}
		if rng.IntN(4) == 0 {
			cmd = append(cmd, "NX")
		}
		for n := 1 + rng.IntN(6); n > 0; n-- {
			cmd = append(cmd, "0", mem())
		}
		return cmd
	case 6:
		return []string{"ZINCRBY", key(), sc(), mem()}
	case 7:
		k := key()
		if rng.IntN(2) == 0 {
			k = lexKey()
		}
		return []string{"ZREM", k, mem(), mem()}
	case 8:
		return ws([]string{"ZRANGE", key(), idx(), idx()})
	case 9:
		cmd := []string{"ZRANGE", key(), bound(), bound(), "BYSCORE"}
		if rng.IntN(2) == 0 {
			cmd = append(cmd, "REV")
		}
		return ws(limit(cmd))
	case 10:
		cmd := []string{"ZRANGE", lexKey(), lexBound(), lexBound(), "BYLEX"}
		if rng.IntN(2) == 0 {
			cmd = append(cmd, "REV")
		}
		return limit(cmd)
	case 11:
		return ws([]string{"ZREVRANGE", key(), idx(), idx()})
	case 12:
		name := "ZRANGEBYSCORE"
		if rng.IntN(2) == 0 {
			name = "ZREVRANGEBYSCORE"
		}
		return limit(ws([]string{name, key(), bound(), bound()}))
	case 13:
		name := "ZRANGEBYLEX"
		if rng.IntN(2) == 0 {
			name = "ZREVRANGEBYLEX"
		}
		return limit([]string{name, lexKey(), lexBound(), lexBound()})
	case 14:
		return []string{"ZCOUNT", key(), bound(), bound()}
	case 15:
		return []string{"ZLEXCOUNT", lexKey(), lexBound(), lexBound()}
	case 16:
		name := "ZRANK"
		if rng.IntN(2) == 0 {
			name = "ZREVRANK"
		}
		return []string{name, key(), mem()}
	case 17:
		return []string{"ZMSCORE", key(), mem(), mem(), mem()}
	case 18:
		return []string{"ZREMRANGEBYRANK", key(), idx(), idx()}
	case 19:
		return []string{"ZREMRANGEBYSCORE", key(), bound(), bound()}
	case 20:
		return []string{"ZREMRANGEBYLEX", lexKey(), lexBound(), lexBound()}
	case 21:
		name := "ZPOPMIN"
		if rng.IntN(2) == 0 {
			name = "ZPOPMAX"
		}
		if rng.IntN(2) == 0 {
			return []string{name, key()}
		}
		return []string{name, key(), strconv.Itoa(rng.IntN(5))}
	case 22:
		cmd := []string{"ZMPOP", "2", key(), key(), "MIN"}
		if rng.IntN(2) == 0 {
			cmd[4] = "MAX"
		}
		if rng.IntN(2) == 0 {
			cmd = append(cmd, "COUNT", strconv.Itoa(1+rng.IntN(4)))
		}
		return cmd
	case 23:
		ops := []string{"ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"}
		op := ops[rng.IntN(3)]
		cmd := []string{op, key(), "2", key(), key()}
		if op != "ZDIFFSTORE" && rng.IntN(2) == 0 {
			cmd = append(cmd, "WEIGHTS", sc(), sc())
		}
		if op != "ZDIFFSTORE" && rng.IntN(2) == 0 {
			cmd = append(cmd, "AGGREGATE", []string{"SUM", "MIN", "MAX"}[rng.IntN(3)])
		}
		return cmd
	case 24:
		ops := []string{"ZUNION", "ZINTER", "ZDIFF"}
		op := ops[rng.IntN(3)]
		cmd := []string{op, "3", key(), key(), lexKey()}
		if op != "ZDIFF" && rng.IntN(2) == 0 {
			cmd = append(cmd, "WEIGHTS", sc(), sc(), sc())
		}
		return ws(cmd)
	case 25:
		cmd := []string{"ZRANGESTORE", key(), key(), bound(), bound(), "BYSCORE"}
		if rng.IntN(2) == 0 {
			cmd = []string{"ZRANGESTORE", key(), key(), idx(), idx()}
		}
		if rng.IntN(2) == 0 {
			cmd = append(cmd, "REV")
		}
		return cmd
	case 26:
		return []string{"ZINTERCARD", "2", key(), key(), "LIMIT", strconv.Itoa(rng.IntN(3))}
	case 27:
		return []string{"ZCARD", key()}
	case 28:
		return []string{"ZSCORE", key(), mem()}
	default:
		return ws([]string{"ZRANGE", key(), "0", "-1"})
	}
}

// TestZsetEncodingsAgree runs random commands against a DB with the
// default thresholds (mostly listpack), one with everything in the
// skiplist encoding and one with small thresholds (converting often), and
// requires the same replies. With -oracle the replies are also checked
// against Redis.
func TestZsetEncodingsAgree(t *testing.T) {
	var rc *scripttest.Conn
	if *oracle {
		rc = scripttest.StartOracle(t)
	}
	for _, seed := range []uint64{1, 2, 3} {
		rng := rand.New(rand.NewPCG(seed, 99))
		dbs := []*DB{New(1), New(2), New(3)}
		cfg := dbs[1].Config()
		cfg.ZSetMaxListpackEntries = 0
		dbs[1].SetConfig(cfg)
		cfg.ZSetMaxListpackEntries, cfg.ZSetMaxListpackValue = 6, 8
		dbs[2].SetConfig(cfg)
		// Redis runs with the settings of one of the three DBs in turn.
		ref := int(seed-1) % len(dbs)
		if rc != nil {
			rc.Do(t, []string{"FLUSHALL"}, 2)
			rc.Do(t, []string{"CONFIG", "SET", "zset-max-listpack-entries", strconv.Itoa(dbs[ref].Config().ZSetMaxListpackEntries),
				"zset-max-listpack-value", strconv.Itoa(dbs[ref].Config().ZSetMaxListpackValue)}, 2)
		}
		skiplistSeen := false
		for step := 0; step < 4000; step++ {
			cmd := zrandomCommand(rng)
			resp := 2
			if rng.IntN(4) == 0 {
				resp = 3
			}
			var replies [3]string
			for i, db := range dbs {
				replies[i], _ = zrun(t, db, 1_700_000_000_000, uint64(step), resp, cmd...)
			}
			want := replies[0]
			for i, got := range replies[1:] {
				// Only difference allowed: the listpack stores -0 as 0, as
				// Redis's does.
				if negZero.ReplaceAllString(got, "${1}0${2}") != negZero.ReplaceAllString(want, "${1}0${2}") {
					t.Fatalf("seed %d step %d: %q (resp %d)\ndefault: %s\ndb %d:    %s", seed, step, cmd, resp, want, i+1, got)
				}
			}
			if rc != nil {
				if got := rc.Do(t, cmd, resp); got != replies[ref] {
					t.Fatalf("seed %d step %d: %q (resp %d)\nengine: %s\nredis:  %s", seed, step, cmd, resp, replies[ref], got)
				}
			}
			for _, k := range []string{"k1", "k2", "k3", "lex1", "lex2"} {
				if zencoding(t, dbs[1], k) == "listpack" {
					t.Fatalf("%s is a listpack with zset-max-listpack-entries 0", k)
				}
				if zencoding(t, dbs[2], k) == "skiplist" {
					skiplistSeen = true
				}
			}
		}
		if !skiplistSeen {
			t.Fatal("the small-threshold DB never converted")
		}
	}
}

// TestZsetRangesAgainstModel checks a large skiplist-encoded set against a
// sorted slice for rank and score range queries.
func TestZsetRangesAgainstModel(t *testing.T) {
	db := New(7)
	rng := rand.New(rand.NewPCG(5, 5))
	var model sortedModel
	scores := map[string]float64{}
	for i := 0; i < 3000; i++ {
		m := fmt.Sprintf("m%d", rng.IntN(5000))
		s := float64(rng.IntN(200)) / 4
		if old, ok := scores[m]; ok {
			model.delete(zent{m, old})
		}
		scores[m] = s
		model.insert(zent{m, s})
		zdo(t, db, "ZADD", "z", strconv.FormatFloat(s, 'g', -1, 64), m)
	}
	if zencoding(t, db, "z") != "skiplist" {
		t.Fatal("not a skiplist")
	}
	fmtList := func(ents []zent, withscores bool) string {
		var b strings.Builder
		b.WriteString("[")
		for i, e := range ents {
			if i > 0 {
				b.WriteString(" ")
			}
			b.WriteString(strconv.Quote(e.member))
			if withscores {
				b.WriteString(" " + strconv.Quote(formatDouble(e.score)))
			}
		}
		b.WriteString("]")
		return b.String()
	}
	for k := 0; k < 300; k++ {
		lo, hi := rng.IntN(len(model)), rng.IntN(len(model))
		if got, want := zdo(t, db, "ZRANGE", "z", strconv.Itoa(lo), strconv.Itoa(hi), "WITHSCORES"), fmtList(model[lo:max(lo, hi+1)], true); got != want {
			t.Fatalf("ZRANGE %d %d:\n got %s\nwant %s", lo, hi, got, want)
		}
		min, max := float64(rng.IntN(200))/4, float64(rng.IntN(200))/4
		var in []zent
		for _, e := range model {
			if e.score > min && e.score <= max {
				in = append(in, e)
			}
		}
		ms, xs := "("+formatDouble(min), formatDouble(max)
		if got, want := zdo(t, db, "ZRANGEBYSCORE", "z", ms, xs), fmtList(in, false); got != want {
			t.Fatalf("ZRANGEBYSCORE %s %s:\n got %s\nwant %s", ms, xs, got, want)
		}
		if got, want := zdo(t, db, "ZCOUNT", "z", ms, xs), fmt.Sprintf(":%d", len(in)); got != want {
			t.Fatalf("ZCOUNT %s %s: got %s want %s", ms, xs, got, want)
		}
		rev := slices.Clone(in)
		slices.Reverse(rev)
		off, cnt := rng.IntN(10), rng.IntN(10)
		want := rev[min2(off, len(rev)):min2(off+cnt, len(rev))]
		if got := zdo(t, db, "ZREVRANGEBYSCORE", "z", xs, ms, "LIMIT", strconv.Itoa(off), strconv.Itoa(cnt)); got != fmtList(want, false) {
			t.Fatalf("ZREVRANGEBYSCORE %s %s LIMIT %d %d:\n got %s\nwant %s", xs, ms, off, cnt, got, fmtList(want, false))
		}
		e := model[rng.IntN(len(model))]
		if got, want := zdo(t, db, "ZRANK", "z", e.member), fmt.Sprintf(":%d", slices.Index(model, e)); got != want {
			t.Fatalf("ZRANK %s: got %s want %s", e.member, got, want)
		}
	}
}

var negZero = regexp.MustCompile(`("|,)-0(["\s\]]|$)`)

func min2(a, b int) int { return min(a, b) }

func TestZrandmember(t *testing.T) {
	for _, n := range []int{5, 100, 300} {
		db := New(3)
		args := []string{"ZADD", "z"}
		members := map[string]string{}
		for i := 0; i < n; i++ {
			m := "m" + strconv.Itoa(i)
			args = append(args, strconv.Itoa(i*2), m)
			members[m] = strconv.Itoa(i * 2)
		}
		zdo(t, db, args...)
		parse := func(out string) []string {
			out = strings.TrimSuffix(strings.TrimPrefix(out, "["), "]")
			if out == "" {
				return nil
			}
			var items []string
			for _, f := range strings.Fields(out) {
				s, err := strconv.Unquote(f)
				if err != nil {
					t.Fatalf("bad item %q in %s", f, out)
				}
				items = append(items, s)
			}
			return items
		}
		for _, count := range []int{1, 2, n / 4, n / 3, n / 2, n - 1, n, n + 5, -1, -3, -n, -3 * n} {
			for seed := uint64(0); seed < 20; seed++ {
				a, _ := zrun(t, db, 0, seed, 2, "ZRANDMEMBER", "z", strconv.Itoa(count), "WITHSCORES")
				b, _ := zrun(t, db, 0, seed, 2, "ZRANDMEMBER", "z", strconv.Itoa(count), "WITHSCORES")
				if a != b {
					t.Fatalf("count %d seed %d: not deterministic", count, seed)
				}
				items := parse(a)
				want := count
				if count < 0 {
					want = -count
				} else if count > n {
					want = n
				}
				if len(items) != 2*want {
					t.Fatalf("n %d count %d: %d items", n, count, len(items)/2)
				}
				seen := map[string]bool{}
				for i := 0; i < len(items); i += 2 {
					m, s := items[i], items[i+1]
					if members[m] != s {
						t.Fatalf("count %d: %q with score %q is not an element", count, m, s)
					}
					if count > 0 && seen[m] {
						t.Fatalf("count %d: %q returned twice", count, m)
					}
					seen[m] = true
				}
			}
		}
		// Different seeds choose differently; a single pick covers the set.
		picked := map[string]bool{}
		for seed := uint64(0); seed < uint64(20*n); seed++ {
			out, _ := zrun(t, db, 0, seed, 2, "ZRANDMEMBER", "z")
			picked[strings.Trim(out, `"`)] = true
		}
		if len(picked) < n*9/10 {
			t.Fatalf("n %d: only %d distinct single picks", n, len(picked))
		}
		a, _ := zrun(t, db, 0, 1, 2, "ZRANDMEMBER", "z", strconv.Itoa(n/2))
		b, _ := zrun(t, db, 0, 2, 2, "ZRANDMEMBER", "z", strconv.Itoa(n/2))
		if a == b && n >= 100 {
			t.Fatalf("n %d: seeds 1 and 2 chose the same", n)
		}
	}
}

// zsetNotes records notifications.
type zsetNotes struct{ modified, ready []string }

func (n *zsetNotes) KeyModified(key []byte) { n.modified = append(n.modified, string(key)) }
func (n *zsetNotes) KeyReady(key []byte)    { n.ready = append(n.ready, string(key)) }
func (n *zsetNotes) Flushed()               {}

func TestZsetBlocking(t *testing.T) {
	db := New(1)
	now := int64(1_000_000)
	out, c := zrun(t, db, now, 0, 2, "BZPOPMIN", "a", "b", "1.5")
	if out != "" || c.Blocked == nil {
		t.Fatalf("BZPOPMIN on missing keys: reply %q, blocked %v", out, c.Blocked)
	}
	if b := c.Blocked; len(b.Keys) != 2 || string(b.Keys[0]) != "a" || string(b.Keys[1]) != "b" || b.Deadline != now+1500 || !b.NullArray {
		t.Fatalf("BZPOPMIN block spec %+v", *b)
	}
	out, c = zrun(t, db, now, 0, 2, "BZMPOP", "0", "2", "a", "b", "MAX", "COUNT", "2")
	if out != "" || c.Blocked == nil || c.Blocked.Deadline != 0 || len(c.Blocked.Keys) != 2 || !c.Blocked.NullArray {
		t.Fatalf("BZMPOP on missing keys: reply %q, blocked %+v", out, c.Blocked)
	}
	out, c = zrun(t, db, now, 0, 2, "BZPOPMAX", "a", "0")
	if out != "" || c.Blocked == nil || c.Blocked.Deadline != 0 {
		t.Fatalf("BZPOPMAX timeout 0: reply %q, blocked %+v", out, c.Blocked)
	}
	// Inside MULTI: the timeout reply at once.
	for _, args := range [][]string{{"BZPOPMIN", "a", "0"}, {"BZMPOP", "0", "1", "a", "MIN"}} {
		for _, resp := range []int{2, 3} {
			w := scripttest.NewTextWriter(resp)
			c := &Ctx{DB: db, W: w, NoBlock: true}
			bargs := make([][]byte, len(args))
			for i := range args {
				bargs[i] = []byte(args[i])
			}
			c.Reset(bargs, now, 0)
			Lookup(strings.ToLower(args[0]))(c)
			want := "(nil-array)"
			if resp == 3 {
				want = "(nil)"
			}
			if w.String() != want || c.Blocked != nil {
				t.Fatalf("%v with NoBlock: %q", args, w.String())
			}
		}
	}

	// A write signals the key ready; the blocked command run again is
	// served.
	notes := &zsetNotes{}
	db.SetNotifier(notes)
	zdo(t, db, "ZADD", "b", "1", "x", "2", "y")
	if !slices.Contains(notes.ready, "b") {
		t.Fatalf("ZADD did not signal b ready: %v", notes.ready)
	}
	if out, c := zrun(t, db, now, 0, 2, "BZPOPMIN", "a", "b", "1.5"); out != `["b" "x" "1"]` || c.Blocked != nil {
		t.Fatalf("BZPOPMIN after ZADD: %q", out)
	}
	if out, _ := zrun(t, db, now, 0, 3, "BZMPOP", "0", "2", "a", "b", "MAX", "COUNT", "2"); out != `["b" [["y" ,2]]]` {
		t.Fatalf("BZMPOP after ZADD: %q", out)
	}
	if zencoding(t, db, "b") != "none" {
		t.Fatal("b not deleted when emptied")
	}
	for _, cmd := range [][]string{
		{"ZINCRBY", "c", "1", "m"},
		{"ZUNIONSTORE", "d", "1", "c"},
		{"ZINTERSTORE", "e", "1", "c"},
		{"ZDIFFSTORE", "f", "1", "c"},
		{"ZRANGESTORE", "g", "c", "0", "-1"},
		{"ZADD", "c", "INCR", "1", "n"},
	} {
		notes.ready, notes.modified = nil, nil
		zdo(t, db, cmd...)
		if !slices.Contains(notes.ready, cmd[1]) || !slices.Contains(notes.modified, cmd[1]) {
			t.Fatalf("%v: ready %v modified %v", cmd, notes.ready, notes.modified)
		}
	}
	// Updates and removals signal modification only.
	for _, cmd := range [][]string{
		{"ZADD", "c", "5", "m"},
		{"ZREM", "c", "m"},
		{"ZPOPMIN", "c"},
	} {
		notes.ready, notes.modified = nil, nil
		zdo(t, db, cmd...)
		if len(notes.ready) != 0 || !slices.Contains(notes.modified, "c") {
			t.Fatalf("%v: ready %v modified %v", cmd, notes.ready, notes.modified)
		}
	}
	// Nothing changed: no signal.
	notes.ready, notes.modified = nil, nil
	zdo(t, db, "ZADD", "d", "NX", "7", "m")
	zdo(t, db, "ZREM", "d", "nosuch")
	zdo(t, db, "ZADD", "nokey", "XX", "1", "a")
	if len(notes.ready)+len(notes.modified) != 0 {
		t.Fatalf("no-op writes signalled: ready %v modified %v", notes.ready, notes.modified)
	}
}

func TestZsetClone(t *testing.T) {
	db := New(1)
	args := []string{"ZADD", "z"}
	for i := 0; i < 200; i++ {
		args = append(args, strconv.Itoa(i%17), fmt.Sprintf("m%d", i))
	}
	zdo(t, db, args...)
	zdo(t, db, "ZADD", "small", "1", "a", "2", "b")
	for _, key := range []string{"z", "small"} {
		o, _ := db.peek([]byte(key), 0)
		v := collection[zsetValue](o)
		cl := v.clone()
		if cl.encodingName() != v.encodingName() || cl.Len() != v.Len() {
			t.Fatalf("%s: clone differs", key)
		}
		var a, b []zent
		v.each(func(m []byte, s float64) bool { a = append(a, zent{string(m), s}); return true })
		cl.each(func(m []byte, s float64) bool { b = append(b, zent{string(m), s}); return true })
		if !slices.Equal(a, b) {
			t.Fatalf("%s: clone has other elements", key)
		}
		cl.remove([]byte("a"))
		cl.remove([]byte("m1"))
		if v.Len() != len(a) {
			t.Fatalf("%s: changing the clone changed the original", key)
		}
		if v.memoryUsage() <= 0 {
			t.Fatalf("%s: memory usage %d", key, v.memoryUsage())
		}
	}
}

func TestZsetParsers(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
		f  float64
	}{
		{"1", true, 1}, {"-1.5", true, -1.5}, {"0x10", true, 16}, {"0x1p4", true, 16}, {"-0X.8", true, -0.5},
		{"inf", true, inf}, {"-Infinity", true, -inf}, {"1e308", true, 1e308}, {"4.9e-324", true, 5e-324},
		{"1e309", false, 0}, {"1e-400", false, 0}, {"0x1p-1080", false, 0}, {"nan", false, 0}, {"", false, 0},
		{" 1", false, 0}, {"1 ", false, 0}, {"1_0", false, 0}, {"1\x00", false, 0}, {"0x", false, 0}, {"0e5", true, 0},
		{"0.000", true, 0}, {"-0", true, 0},
	} {
		f, ok := zparseScore([]byte(tc.in))
		if ok != tc.ok || (ok && f != tc.f) {
			t.Errorf("zparseScore(%q) = %v, %v; want %v, %v", tc.in, f, ok, tc.f, tc.ok)
		}
	}
	for _, tc := range []struct {
		in string
		ok bool
		f  float64
	}{
		{"", true, 0}, {" 1", true, 1}, {"\t-2", true, -2}, {"1e400", true, inf}, {"1e-400", true, 0},
		{"1\x00junk", true, 1}, {"  ", false, 0}, {"1 ", false, 0}, {"nan", false, 0}, {"x", false, 0},
	} {
		f, ok := zstrtod([]byte(tc.in))
		if ok != tc.ok || (ok && f != tc.f) {
			t.Errorf("zstrtod(%q) = %v, %v; want %v, %v", tc.in, f, ok, tc.f, tc.ok)
		}
	}
	for _, tc := range []struct {
		in string
		ok bool
		v  uint64
	}{
		{"0", true, 0}, {"", true, 0}, {"+7", true, 7}, {"-1", true, 1<<64 - 1}, {"18446744073709551615", true, 1<<64 - 1},
		{"18446744073709551616", false, 0}, {" 1", false, 0}, {"1x", false, 0}, {"-", false, 0},
	} {
		v, ok := zscanParseCursor([]byte(tc.in))
		if ok != tc.ok || v != tc.v {
			t.Errorf("zscanParseCursor(%q) = %v, %v", tc.in, v, ok)
		}
	}
}

var inf = func() float64 { f, _ := strconv.ParseFloat("inf", 64); return f }()

// TestZsetListpackEntries walks listpack entries with long members (multi
// byte lengths) both ways.
func TestZsetListpackEntries(t *testing.T) {
	db := New(1)
	cfg := db.Config()
	cfg.ZSetMaxListpackValue = 1 << 20
	db.SetConfig(cfg)
	var model sortedModel
	for i, l := range []int{0, 1, 127, 128, 129, 300, 16383, 16384, 20000, 5} {
		m := strings.Repeat(string(rune('a'+i)), l)
		zdo(t, db, "ZADD", "z", strconv.Itoa(i%3), m)
		model.insert(zent{m, float64(i % 3)})
	}
	if zencoding(t, db, "z") != "listpack" {
		t.Fatal("not a listpack")
	}
	o, _ := db.peek([]byte("z"), 0)
	v := collection[zsetValue](o)
	for r := range model {
		it := v.iterAt(r)
		for j := r; j < len(model); j++ {
			m, s := it.entry()
			if string(m) != model[j].member || s != model[j].score {
				t.Fatalf("forward from %d: entry %d wrong", r, j)
			}
			it.next()
		}
		if it.valid() {
			t.Fatal("iterator valid past the end")
		}
		it = v.iterAt(r)
		for j := r; j >= 0; j-- {
			m, _ := it.entry()
			if string(m) != model[j].member {
				t.Fatalf("backward from %d: entry %d wrong", r, j)
			}
			it.prev()
		}
		if it.valid() {
			t.Fatal("iterator valid before the start")
		}
		if rank, ok := v.rankOf([]byte(model[r].member)); !ok || rank != r {
			t.Fatalf("rankOf %d = %d", r, rank)
		}
	}
	for _, e := range model {
		if !v.remove([]byte(e.member)) {
			t.Fatal("remove failed")
		}
	}
	if v.Len() != 0 || len(v.lp) != 0 {
		t.Fatalf("not empty: %d %d", v.Len(), len(v.lp))
	}
}

// TestZsetListpackScores checks the compact score encoding round trip.
func TestZsetListpackScores(t *testing.T) {
	vals := []float64{0, 1, -1, 63, 64, -64, -65, 1 << 20, -(1 << 30), 1<<53 - 1, -(1<<53 - 1), 1 << 53, -(1 << 53),
		1 << 62, 1.5, -0.25, 0.1, 1e20, 1e-300, 5e-324, inf, -inf, 123456789.125, 3.4028234663852886e38, 1.7976931348623157e308}
	for _, s := range vals {
		var buf [16]byte
		n := lpPutScore(buf[:], s)
		if n != lpScoreSize(s) {
			t.Errorf("%v: wrote %d bytes, size says %d", s, n, lpScoreSize(s))
		}
		got, m := lpScore(buf[:])
		if got != s || m != n || lpScoreLen(buf[:]) != n {
			t.Errorf("%v: decoded %v in %d bytes (wrote %d)", s, got, m, n)
		}
	}
	var buf [16]byte
	lpPutScore(buf[:], negZeroF())
	if got, _ := lpScore(buf[:]); got != 0 || 1/got < 0 {
		t.Errorf("-0 decoded as %v, want +0 as Redis's listpack", got)
	}
	if lpScoreSize(3) != 1 || lpScoreSize(1.5) != 5 || lpScoreSize(0.1) != 9 {
		t.Errorf("sizes: %d %d %d", lpScoreSize(3), lpScoreSize(1.5), lpScoreSize(0.1))
	}
}

func negZeroF() float64 { z := 0.0; return -z }

// TestZsetConcurrentReads runs the read paths of both encodings from
// several goroutines at once, as the server does under its read lock; with
// -race it finds any hidden write. It calls the value's methods directly:
// going through the commands would also exercise DB.lookupRead, which
// copies the object while other readers update its access time.
func TestZsetConcurrentReads(t *testing.T) {
	db := New(1)
	small := []string{"ZADD", "small"}
	big := []string{"ZADD", "big"}
	for i := 0; i < 300; i++ {
		if i < 50 {
			small = append(small, strconv.Itoa(i%7), "m"+strconv.Itoa(i))
		}
		big = append(big, strconv.Itoa(i%13), "m"+strconv.Itoa(i))
	}
	zdo(t, db, small...)
	zdo(t, db, big...)
	var vals []*zsetValue
	for _, k := range []string{"small", "big"} {
		o, _ := db.peek([]byte(k), 0)
		vals = append(vals, collection[zsetValue](o))
	}
	read := func(z *zsetValue) string {
		var b strings.Builder
		w := scripttest.NewTextWriter(3)
		c := &Ctx{DB: db, W: w}
		c.writeZRanks(z, 3, z.Len()-2, true, true)
		b.WriteString(w.String())
		sr := zscoreRange{min: 1, max: 5, minex: true}
		f, l := z.scoreRange(&sr)
		lr := zlexRange{min: zlexBound{s: "m1"}, max: zlexBound{s: "m3", ex: true}}
		f2, l2 := z.lexRange(&lr, false)
		f3, l3 := z.lexRange(&lr, true)
		s, _ := z.score([]byte("m7"))
		r, _ := z.rankOf([]byte("m20"))
		fmt.Fprint(&b, f, l, f2, l2, f3, l3, s, r)
		z.each(func(m []byte, s float64) bool { b.Write(m); return true })
		if z.sl != nil {
			z.sl.dict.Scan(0, 50, func(k string, v *float64) { b.WriteString(k) })
		}
		src := zopSrc{z: z, weight: 1}
		src.each(func(m string, _ bool, s float64) { b.WriteString(m) })
		return b.String()
	}
	want := []string{read(vals[0]), read(vals[1])}
	done := make(chan string)
	for g := 0; g < 4; g++ {
		go func() {
			for k := 0; k < 30; k++ {
				for i, z := range vals {
					if got := read(z); got != want[i] {
						done <- "concurrent read differs"
						return
					}
				}
			}
			done <- ""
		}()
	}
	for g := 0; g < 4; g++ {
		if msg := <-done; msg != "" {
			t.Error(msg)
		}
	}
}
