package engine

import (
	"github.com/flotilla-db/flotilla/engine/scripttest"

	"bytes"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// run1 runs one command against db and returns its reply in the script
// notation.
func run1(t testing.TB, db *DB, now int64, seed uint64, args ...string) string {
	t.Helper()
	h := Lookup(strings.ToLower(args[0]))
	if h == nil {
		t.Fatalf("no handler for %q", args[0])
	}
	bargs := make([][]byte, len(args))
	for i, a := range args {
		bargs[i] = []byte(a)
	}
	w := scripttest.NewTextWriter(2)
	c := &Ctx{DB: db, W: w}
	c.Reset(bargs, now, seed)
	h(c)
	if w.Replies() != 1 {
		t.Fatalf("%q wrote %d replies", args, w.Replies())
	}
	return w.String()
}

// checkKeyspace verifies the keyspace's bookkeeping: key and volatile
// counts, and that objVolatile is set exactly on keys with an expires entry.
func checkKeyspace(t testing.TB, db *DB) {
	t.Helper()
	nkeys, nvol := 0, 0
	for s := range db.slots {
		sk := db.slotAt(s)
		if sk == nil {
			continue
		}
		nkeys += sk.keys.Len()
		nvol += sk.expires.Len()
		sk.keys.Each(func(key string, o *object) bool {
			if KeySlotString(key) != Slot(s) {
				t.Errorf("key %q in slot %d, belongs to %d", key, s, KeySlotString(key))
			}
			_, has := sk.expires.Get(key)
			if has != (o.flags&objVolatile != 0) {
				t.Errorf("key %q: volatile flag %v, expires entry %v", key, o.flags&objVolatile != 0, has)
			}
			if o.typ == TypeString && o.n > o.c {
				t.Errorf("key %q: length %d above capacity %d", key, o.n, o.c)
			}
			return true
		})
		sk.expires.Each(func(key string, _ *int64) bool {
			if !sk.keys.Has(key) {
				t.Errorf("expires entry %q without a key", key)
			}
			return true
		})
	}
	if nkeys != db.nkeys || nvol != db.nvolatile {
		t.Errorf("counted %d keys, %d volatile; DB says %d, %d", nkeys, nvol, db.nkeys, db.nvolatile)
	}
}

// recorder is a Notifier that records what it is told.
type recorder struct {
	modified, ready []string
	flushed         int
}

func (r *recorder) KeyModified(key []byte) { r.modified = append(r.modified, string(key)) }
func (r *recorder) KeyReady(key []byte)    { r.ready = append(r.ready, string(key)) }
func (r *recorder) Flushed()               { r.flushed++ }

func TestWrongType(t *testing.T) {
	const now = 1_000_000
	db := New(1)
	db.setKey([]byte("l"), newCollection(TypeList, &listValue{}), false, now)
	db.setKey([]byte("h"), newCollection(TypeHash, &hashValue{}), false, now)
	const wrong = "-" + ErrWrongType
	for _, cmd := range [][]string{
		{"GET", "l"}, {"GETSET", "l", "v"}, {"GETDEL", "l"}, {"GETEX", "l"}, {"GETEX", "l", "EX", "0"},
		{"SET", "l", "v", "GET"}, {"INCR", "l"}, {"DECR", "l"}, {"INCRBY", "l", "1"}, {"DECRBY", "l", "1"},
		{"INCRBYFLOAT", "l", "1"}, {"APPEND", "l", "x"}, {"STRLEN", "l"}, {"GETRANGE", "l", "0", "1"},
		{"SUBSTR", "l", "0", "1"}, {"SETRANGE", "l", "0", "x"}, {"SETRANGE", "l", "0", ""},
		{"SETBIT", "l", "0", "1"}, {"GETBIT", "l", "0"}, {"BITCOUNT", "l"}, {"BITCOUNT", "l", "x", "y"},
		{"BITPOS", "l", "1"}, {"BITPOS", "l", "0", "x"}, {"BITOP", "AND", "d", "l"}, {"BITOP", "OR", "d", "missing", "l"},
		{"BITFIELD", "l", "GET", "u8", "0"}, {"BITFIELD", "l", "SET", "u8", "0", "1"}, {"BITFIELD_RO", "l"},
	} {
		if got := run1(t, db, now, 0, cmd...); got != wrong {
			t.Errorf("%q: got %s", cmd, got)
		}
	}
	// Errors in arguments checked before the lookup win over WRONGTYPE.
	for _, tc := range [][2]string{
		{"INCRBY l x", "-" + ErrNotInteger},
		{"GETRANGE l x 1", "-" + ErrNotInteger},
		{"SETRANGE l -1 x", "-" + errOffsetRange},
		{"SETBIT l -1 1", "-" + ErrBitOffset},
		{"SETBIT l 0 2", "-" + ErrBitValue},
		{"GETBIT l x", "-" + ErrBitOffset},
		{"BITPOS l 2", "-" + errBitArgument},
		{"GETEX l FOO", "-" + ErrSyntax},
		{"BITFIELD l GET x8 0", "-" + errBitfieldType},
		{"LCS l missing", "-" + errLCSType},
		{"LCS missing h", "-" + errLCSType},
		{"SET l v GET EX 0", "-ERR invalid expire time in 'set' command"},
		{"MGET l h missing", "[(nil) (nil) (nil)]"},
		{"SET l v", "+OK"},
		{"TYPE h", "+hash"},
		{"OBJECT REFCOUNT h", ":1"},
		{"SCAN 0 TYPE hash", `["0" ["h"]]`},
		{"SCAN 0 TYPE HASH", `["0" ["h"]]`},
		{"EXISTS h l", ":2"},
		{"RENAME h h2", "+OK"},
		{"TYPE h2", "+hash"},
		{"COPY h2 h3", ":1"},
		{"TYPE h3", "+hash"},
	} {
		cmd, want := tc[0], tc[1]
		if got := run1(t, db, now, 0, strings.Fields(cmd)...); got != want {
			t.Errorf("%s: got %s, want %s", cmd, got, want)
		}
	}
	checkKeyspace(t, db)
}

func TestCopyRenameServeBlockedClients(t *testing.T) {
	db := New(1)
	rec := &recorder{}
	db.SetNotifier(rec)
	db.setKey([]byte("l"), newCollection(TypeList, &listValue{}), false, 0)
	db.setKey([]byte("z"), newCollection(TypeZSet, &zsetValue{}), false, 0)
	db.setKey([]byte("s"), newCollection(TypeSet, &setValue{}), false, 0)
	run1(t, db, 0, 0, "COPY", "l", "l2")
	run1(t, db, 0, 0, "RENAME", "z", "z2")
	run1(t, db, 0, 0, "RENAMENX", "s", "s2")
	run1(t, db, 0, 0, "SET", "str", "v")
	run1(t, db, 0, 0, "COPY", "str", "str2")
	if want := []string{"l2", "z2"}; fmt.Sprint(rec.ready) != fmt.Sprint(want) {
		t.Errorf("ready %v, want %v", rec.ready, want)
	}
	// The copy is a distinct collection.
	a, _ := db.peek([]byte("l"), 0)
	b, _ := db.peek([]byte("l2"), 0)
	if unsafe.Sizeof(listValue{}) > 0 && a.ptr == b.ptr {
		t.Error("COPY shares the collection")
	}
	run1(t, db, 0, 0, "FLUSHALL")
	if rec.flushed != 1 || db.Len() != 0 {
		t.Errorf("flushed %d, %d keys left", rec.flushed, db.Len())
	}
}

func TestSharedIntegers(t *testing.T) {
	for _, v := range []int64{0, 1, 9, 10, 99, 100, 999, 1000, 5432, 9999} {
		if got := sharedInt(v); got != strconv.FormatInt(v, 10) {
			t.Errorf("sharedInt(%d) = %q", v, got)
		}
	}
	db := New(1)
	run1(t, db, 0, 0, "SET", "k", "5")
	run1(t, db, 0, 0, "INCR", "n") // 1, shared
	for _, cmd := range [][]string{
		{"APPEND", "k", "xyz"}, {"SETRANGE", "n", "0", "9"}, {"SETBIT", "k", "0", "1"},
	} {
		run1(t, db, 0, 0, cmd...)
	}
	// Modifying the values in place must not have touched the shared digits.
	if sharedInt(5) != "5" || sharedInt(1) != "1" || sharedInt(9) != "9" {
		t.Fatal("shared integers were modified in place")
	}
	if got := run1(t, db, 0, 0, "GET", "k"); got != `"\xb5xyz"` {
		t.Errorf("GET k = %s", got)
	}
	if got := run1(t, db, 0, 0, "GET", "n"); got != `"9"` {
		t.Errorf("GET n = %s", got)
	}
}

func TestAppendGrowsInPlace(t *testing.T) {
	db := New(1)
	run1(t, db, 0, 0, "SET", "k", "start")
	get := func() object { o, _ := db.peek([]byte("k"), 0); return o }
	run1(t, db, 0, 0, "APPEND", "k", "-")
	first := get()
	if first.enc != strRaw || first.c < first.n*2 {
		t.Fatalf("after APPEND: enc %d, len %d, cap %d", first.enc, first.n, first.c)
	}
	held := first.bytes() // what a reply to GET would alias
	reallocs := 0
	prev := first.ptr
	var want bytes.Buffer
	want.WriteString("start-")
	for i := 0; i < 10000; i++ {
		piece := strconv.Itoa(i)
		want.WriteString(piece)
		run1(t, db, 0, 0, "APPEND", "k", piece)
		if o := get(); o.ptr != prev {
			reallocs++
			prev = o.ptr
		}
	}
	if reallocs > 15 {
		t.Errorf("%d reallocations for 10000 appends: growth is not amortised", reallocs)
	}
	o := get()
	if string(o.bytes()) != want.String() {
		t.Fatal("APPEND lost bytes")
	}
	if string(held) != "start-" {
		t.Errorf("bytes read before an APPEND changed: %q", held)
	}
	checkKeyspace(t, db)
	// The length limit.
	cfg := db.Config()
	cfg.ProtoMaxBulkLen = int64(o.n) + 2
	db.SetConfig(cfg)
	if got := run1(t, db, 0, 0, "APPEND", "k", "abc"); got != "-"+ErrStringTooLong {
		t.Errorf("APPEND past proto-max-bulk-len: %s", got)
	}
	if got := run1(t, db, 0, 0, "APPEND", "k", "ab"); got != ":"+strconv.Itoa(int(o.n)+2) {
		t.Errorf("APPEND up to proto-max-bulk-len: %s", got)
	}
	if got := run1(t, db, 0, 0, "SETRANGE", "k", strconv.Itoa(int(o.n)+2), "x"); got != "-"+ErrStringTooLong {
		t.Errorf("SETRANGE past proto-max-bulk-len: %s", got)
	}
	if got := run1(t, db, 0, 0, "SETBIT", "k", strconv.Itoa((int(o.n)+2)*8), "1"); got != "-"+ErrBitOffset {
		t.Errorf("SETBIT past proto-max-bulk-len: %s", got)
	}
}

func TestSetrangeZeroFills(t *testing.T) {
	db := New(1)
	run1(t, db, 0, 0, "SET", "k", "abcdefgh")
	run1(t, db, 0, 0, "APPEND", "k", "ij") // raw, with spare capacity
	o, _ := db.peek([]byte("k"), 0)
	// Dirty the spare capacity as a later shrink could, then grow into it.
	buf := o.rawBuffer()
	for i := int(o.n); i < len(buf); i++ {
		buf[i] = 'X'
	}
	run1(t, db, 0, 0, "SETRANGE", "k", "12", "z")
	if got := run1(t, db, 0, 0, "GET", "k"); got != `"abcdefghij\x00\x00z"` {
		t.Errorf("GET after SETRANGE past the end: %s", got)
	}
	run1(t, db, 0, 0, "SETBIT", "k", "127", "1")
	if got := run1(t, db, 0, 0, "STRLEN", "k"); got != ":16" {
		t.Errorf("STRLEN after SETBIT: %s", got)
	}
	if got := run1(t, db, 0, 0, "BITCOUNT", "k", "13", "15"); got != ":1" {
		t.Errorf("BITCOUNT of the zero-filled tail: %s", got)
	}
}

// TestScanComplete checks SCAN's guarantee: every key present for the
// whole iteration is returned at least once, while keys are added and
// removed between calls (which resizes the slots' tables), and the
// iteration ends.
func TestScanComplete(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 20; round++ {
		db := New(uint64(round))
		stable := map[string]bool{}
		for i := 0; i < 300; i++ {
			k := fmt.Sprintf("s%d", i)
			if round%2 == 1 {
				k = fmt.Sprintf("{tag}s%d", i) // all in one slot
			}
			run1(t, db, 0, 0, "SET", k, "v")
			stable[k] = true
		}
		seen := map[string]int{}
		cursor := "0"
		calls := 0
		churn := 0
		for {
			count := strconv.Itoa(1 + rng.IntN(30))
			reply := scanReply(t, run1(t, db, 0, 0, "SCAN", cursor, "COUNT", count))
			for _, k := range reply.keys {
				seen[k]++
			}
			cursor = reply.cursor
			calls++
			// Churn: add and remove other keys, growing and shrinking tables.
			n := rng.IntN(40)
			for i := 0; i < n; i++ {
				k := fmt.Sprintf("c%d", churn)
				if round%2 == 1 {
					k = "{tag}" + k
				}
				churn++
				run1(t, db, 0, 0, "SET", k, "v")
			}
			for i, m := 0, rng.IntN(60); i < m; i++ {
				k := fmt.Sprintf("c%d", rng.IntN(churn+1))
				if round%2 == 1 {
					k = "{tag}" + k
				}
				run1(t, db, 0, 0, "DEL", k)
			}
			if cursor == "0" {
				break
			}
			if calls > 100000 {
				t.Fatal("SCAN does not end")
			}
		}
		for k := range stable {
			if seen[k] == 0 {
				t.Fatalf("round %d: SCAN missed %q", round, k)
			}
		}
		checkKeyspace(t, db)
	}
}

type scanResult struct {
	cursor string
	keys   []string
}

// scanReply parses a SCAN reply rendered by textWriter.
func scanReply(t testing.TB, s string) scanResult {
	t.Helper()
	if !strings.HasPrefix(s, `["`) {
		t.Fatalf("not a SCAN reply: %s", s)
	}
	end := strings.Index(s[2:], `"`)
	r := scanResult{cursor: s[2 : 2+end]}
	list := strings.TrimSuffix(strings.TrimPrefix(s[2+end+1:], " ["), "]]")
	for _, f := range strings.Fields(list) {
		k, err := strconv.Unquote(f)
		if err != nil {
			t.Fatalf("bad key %s in %s", f, s)
		}
		r.keys = append(r.keys, k)
	}
	return r
}

func TestScanMatchesKeys(t *testing.T) {
	db := New(7)
	for i := 0; i < 500; i++ {
		run1(t, db, 0, 0, "SET", fmt.Sprintf("key:%d", i), "v")
		if i%3 == 0 {
			run1(t, db, 0, 0, "PEXPIRE", fmt.Sprintf("key:%d", i), "100")
		}
	}
	now := int64(200) // the keys with a TTL are expired, not deleted
	for _, pat := range []string{"*", "key:1*", "key:?", "*[05]", "nomatch*"} {
		var fromKeys []string
		keysReply := run1(t, db, now, 0, "KEYS", pat)
		for _, f := range strings.Fields(strings.Trim(keysReply, "[]")) {
			k, _ := strconv.Unquote(f)
			fromKeys = append(fromKeys, k)
		}
		var want []string
		for i := 0; i < 500; i++ {
			k := fmt.Sprintf("key:%d", i)
			if i%3 != 0 && (pat == "*" || GlobMatch(pat, k, false)) {
				want = append(want, k)
			}
		}
		var fromScan []string
		cursor := "0"
		for {
			r := scanReply(t, run1(t, db, now, 0, "SCAN", cursor, "MATCH", pat, "COUNT", "7"))
			fromScan = append(fromScan, r.keys...)
			if cursor = r.cursor; cursor == "0" {
				break
			}
		}
		sort.Strings(want)
		sort.Strings(fromKeys)
		sort.Strings(fromScan)
		if fmt.Sprint(fromKeys) != fmt.Sprint(want) {
			t.Errorf("KEYS %s: %d keys, want %d", pat, len(fromKeys), len(want))
		}
		if fmt.Sprint(fromScan) != fmt.Sprint(want) {
			t.Errorf("SCAN MATCH %s: %d keys, want %d (a key twice, or one missing)", pat, len(fromScan), len(want))
		}
	}
	if db.Len() != 500 {
		t.Errorf("reads deleted keys: %d left", db.Len())
	}
}

func TestRandomKey(t *testing.T) {
	db := New(3)
	keys := map[string]bool{}
	for i := 0; i < 50; i++ {
		k := fmt.Sprintf("k%d", i)
		keys[k] = true
		run1(t, db, 0, 0, "SET", k, "v")
	}
	// Most keys expire at 1000: RANDOMKEY must skip them.
	for i := 0; i < 45; i++ {
		run1(t, db, 0, 0, "PEXPIREAT", fmt.Sprintf("k%d", i), "1000")
	}
	picked := map[string]int{}
	for seed := uint64(0); seed < 2000; seed++ {
		a := run1(t, db, 0, seed, "RANDOMKEY")
		b := run1(t, db, 0, seed, "RANDOMKEY")
		if a != b {
			t.Fatalf("seed %d: %s then %s", seed, a, b)
		}
		k, _ := strconv.Unquote(a)
		if !keys[k] {
			t.Fatalf("RANDOMKEY returned %s", a)
		}
		picked[k]++
		late := run1(t, db, 1001, seed, "RANDOMKEY")
		k, _ = strconv.Unquote(late)
		if n, _ := strconv.Atoi(strings.TrimPrefix(k, "k")); n < 45 {
			t.Fatalf("RANDOMKEY returned the expired key %s", late)
		}
	}
	if len(picked) < 45 {
		t.Errorf("only %d of 50 keys were ever picked", len(picked))
	}
	for i := 45; i < 50; i++ {
		run1(t, db, 0, 0, "PEXPIREAT", fmt.Sprintf("k%d", i), "1000")
	}
	if got := run1(t, db, 1001, 1, "RANDOMKEY"); got != "(nil)" {
		t.Errorf("RANDOMKEY with every key expired: %s", got)
	}
	if db.Len() != 50 {
		t.Error("RANDOMKEY deleted keys")
	}
}

func TestSlotKeysAndKeyInfo(t *testing.T) {
	db := New(1)
	for i := 0; i < 10; i++ {
		run1(t, db, 0, 0, "SET", fmt.Sprintf("{a}%d", i), "v")
	}
	run1(t, db, 0, 0, "SET", "other", "v")
	s := KeySlotString("a")
	if got := db.SlotKeys(s, 4); len(got) != 4 {
		t.Errorf("SlotKeys(4): %d keys", len(got))
	}
	all := db.SlotKeys(s, 100)
	if len(all) != 10 {
		t.Errorf("SlotKeys(100): %d keys", len(all))
	}
	for _, k := range all {
		if !bytes.HasPrefix(k, []byte("{a}")) {
			t.Errorf("SlotKeys returned %q", k)
		}
	}
	if got := db.SlotKeys(KeySlotString("nothing-here-zz"), 10); len(got) != 0 && KeySlotString("nothing-here-zz") != s {
		t.Errorf("SlotKeys of an empty slot: %q", got)
	}
	run1(t, db, 0, 0, "PEXPIREAT", "other", "10")
	if typ, ok := db.KeyInfo([]byte("other"), 10); !ok || typ != TypeString {
		t.Errorf("KeyInfo at the expiry time: %v %v", typ, ok)
	}
	if _, ok := db.KeyInfo([]byte("other"), 11); ok {
		t.Error("KeyInfo of an expired key")
	}
	if _, ok := db.KeyInfo([]byte("missing"), 0); ok {
		t.Error("KeyInfo of a missing key")
	}
}

// TestKeyspaceInvariants runs random string and key commands, advancing
// time, and checks the keyspace's bookkeeping after each.
func TestKeyspaceInvariants(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	db := New(9)
	keys := []string{"a", "b", "c", "{a}d", "{a}e"}
	key := func() string { return keys[rng.IntN(len(keys))] }
	num := func() string { return strconv.Itoa(rng.IntN(40) - 5) }
	now := int64(1_000_000)
	for i := 0; i < 20000; i++ {
		now += int64(rng.IntN(5))
		var cmd []string
		switch rng.IntN(26) {
		case 0:
			cmd = []string{"SET", key(), num()}
		case 1:
			cmd = []string{"SET", key(), "v", "PX", strconv.Itoa(1 + rng.IntN(20))}
		case 2:
			cmd = []string{"SET", key(), "v", "KEEPTTL"}
		case 3:
			cmd = []string{"PEXPIRE", key(), num()}
		case 4:
			cmd = []string{"PEXPIREAT", key(), strconv.FormatInt(now+int64(rng.IntN(20)-5), 10), []string{"NX", "XX", "GT", "LT"}[rng.IntN(4)]}
		case 5:
			cmd = []string{"PERSIST", key()}
		case 6:
			cmd = []string{"RENAME", key(), key()}
		case 7:
			cmd = []string{"COPY", key(), key(), "REPLACE"}
		case 8:
			cmd = []string{"DEL", key(), key()}
		case 9:
			cmd = []string{"GETEX", key(), "PX", strconv.Itoa(1 + rng.IntN(20))}
		case 10:
			cmd = []string{"GETEX", key(), "PERSIST"}
		case 11:
			cmd = []string{"GETEX", key(), "PXAT", strconv.FormatInt(now+int64(rng.IntN(10)-5), 10)}
		case 12:
			cmd = []string{"APPEND", key(), "xy"}
		case 13:
			cmd = []string{"SETRANGE", key(), num(), "zz"}
		case 14:
			cmd = []string{"SETBIT", key(), num(), "1"}
		case 15:
			cmd = []string{"INCR", key()}
		case 16:
			cmd = []string{"INCRBYFLOAT", key(), "1.5"}
		case 17:
			cmd = []string{"GETSET", key(), "g"}
		case 18:
			cmd = []string{"GETDEL", key()}
		case 19:
			cmd = []string{"MSET", key(), "1", key(), "2"}
		case 20:
			cmd = []string{"MSETNX", key(), "1", key(), "2"}
		case 21:
			cmd = []string{"RENAMENX", key(), key()}
		case 22:
			cmd = []string{"SETEX", key(), "1", "v"}
		case 23:
			cmd = []string{"PSETEX", key(), strconv.Itoa(1 + rng.IntN(20)), "v"}
		case 24:
			if rng.IntN(50) == 0 {
				cmd = []string{"FLUSHDB"}
			} else {
				cmd = []string{"EXPIRE", key(), "0"}
			}
		case 25:
			cmd = []string{"SETNX", key(), "n"}
		}
		run1(t, db, now, uint64(i), cmd...)
		checkKeyspace(t, db)
		if t.Failed() {
			t.Fatalf("after %q at %d", cmd, now)
		}
	}
}

func TestLongDoubleRange(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"1e4932", true}, {"1.2e4932", false}, {"-1.2e4932", false}, {"1e5000", false},
		{"1e-4950", true}, {"4e-4951", true}, {"1e-4951", false}, {"1e-5000", false},
		{"0", true}, {"-0", true}, {"inf", true}, {"0b1", false}, {"-0O7", false}, {"0x1p3", true}, {"100p000", false}, {"1P2", false}, {"0x1P-2", true},
		{strings.Repeat("1", 5119), false}, // overflow
		{"1." + strings.Repeat("0", 5117), true},
		{"1." + strings.Repeat("0", 5118), false}, // 5120 bytes: too long for Redis's buffer
	} {
		if _, ok := parseLongDouble([]byte(tc.in)); ok != tc.ok {
			t.Errorf("parseLongDouble(%.20q) ok=%v, want %v", tc.in, ok, tc.ok)
		}
	}
}

func TestStringObjectsOwnRawBuffers(t *testing.T) {
	// A raw string copied by COPY must not share its buffer with the source,
	// since raw buffers are modified in place.
	db := New(1)
	run1(t, db, 0, 0, "SET", "k", "abc")
	run1(t, db, 0, 0, "APPEND", "k", "d")
	run1(t, db, 0, 0, "COPY", "k", "k2")
	run1(t, db, 0, 0, "SETRANGE", "k", "0", "X")
	if got := run1(t, db, 0, 0, "GET", "k2"); got != `"abcd"` {
		t.Errorf("COPY shares a raw buffer: %s", got)
	}
	o, _ := db.peek([]byte("k2"), 0)
	p, _ := db.peek([]byte("k"), 0)
	if unsafe.Pointer(o.ptr) == unsafe.Pointer(p.ptr) {
		t.Error("same buffer")
	}
}

func TestIncrInPlace(t *testing.T) {
	db := New(1)
	run1(t, db, 0, 0, "SET", "k", "99998")
	run1(t, db, 0, 0, "INCR", "k") // a new strInt with room for any int64
	a, _ := db.peek([]byte("k"), 0)
	run1(t, db, 0, 0, "INCR", "k")
	b, _ := db.peek([]byte("k"), 0)
	if a.enc != strInt || a.ptr != b.ptr {
		t.Errorf("INCR of an unshared integer reallocates (enc %d)", a.enc)
	}
	run1(t, db, 0, 0, "COPY", "k", "k2") // "100000", a buffer of exactly 6 bytes
	run1(t, db, 0, 0, "DECRBY", "k", "1")
	for key, want := range map[string]string{"k": `"99999"`, "k2": `"100000"`} {
		if got := run1(t, db, 0, 0, "GET", key); got != want {
			t.Errorf("GET %s = %s, want %s", key, got, want)
		}
	}
	for _, step := range []struct{ cmd, want string }{
		{"INCRBY k2 9900000", ":10000000"}, // more digits than the copy's buffer
		{"GET k2", `"10000000"`},
		{"OBJECT REFCOUNT k2", ":1"},
		{"DECRBY k2 9999999", ":1"}, // back to a shared integer
		{"OBJECT REFCOUNT k2", ":2147483647"},
		{"DECRBY k2 1000", ":-999"},
		{"DECRBY k2 -9223372036854775807", ":9223372036854774808"},
		{"OBJECT ENCODING k2", `"int"`},
		{"APPEND k2 0", ":20"},
		{"OBJECT ENCODING k2", `"raw"`},
	} {
		if got := run1(t, db, 0, 0, strings.Fields(step.cmd)...); got != step.want {
			t.Errorf("%s = %s, want %s", step.cmd, got, step.want)
		}
	}
	if sharedInt(1) != "1" {
		t.Error("a shared integer was modified")
	}
}
