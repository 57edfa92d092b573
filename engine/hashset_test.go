package engine

import (
	"github.com/flotilla-db/flotilla/engine/scripttest"

	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// hsRun runs one command on db and returns its reply in the script notation.
func hsRun(t testing.TB, db *DB, seed uint64, proto int, args ...string) string {
	t.Helper()
	w := scripttest.NewTextWriter(proto)
	bargs := make([][]byte, len(args))
	for i, a := range args {
		bargs[i] = []byte(a)
	}
	h := Lookup(strings.ToLower(args[0]))
	if h == nil {
		t.Fatalf("no handler for %q", args[0])
	}
	c := &Ctx{DB: db, W: w}
	c.Reset(bargs, 1_700_000_000_000, seed)
	h(c)
	if w.Replies() != 1 {
		t.Fatalf("%q wrote %d replies", args, w.Replies())
	}
	return w.String()
}

// hsEncoding returns what OBJECT ENCODING would say for key.
func hsEncoding(db *DB, key string) string {
	o, ok := db.peek([]byte(key), 1_700_000_000_000)
	if !ok {
		return "(nil)"
	}
	switch o.typ {
	case TypeHash:
		return collection[hashValue](o).encodingName()
	case TypeSet:
		return collection[setValue](o).encodingName()
	}
	return "?"
}

func hsSeq(prefix string, from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, prefix+strconv.Itoa(i))
	}
	return out
}

func hsPairs(n int) []string {
	var out []string
	for i := 1; i <= n; i++ {
		out = append(out, "f"+strconv.Itoa(i), strconv.Itoa(i))
	}
	return out
}

func hsCmd(words ...any) string {
	var parts []string
	for _, w := range words {
		switch v := w.(type) {
		case string:
			parts = append(parts, v)
		case []string:
			parts = append(parts, v...)
		}
	}
	return strings.Join(parts, " ")
}

// TestHashSetEncodings checks when hashes and sets convert, by the engine's
// encodingName; with -oracle the same steps run on Redis and every ENC step
// is compared with its OBJECT ENCODING too.
func TestHashSetEncodings(t *testing.T) {
	long := strings.Repeat("x", 65)
	max := strings.Repeat("y", 64)
	cases := []struct {
		name  string
		steps []string
	}{
		{"hash entries", []string{
			hsCmd("HSET h", hsPairs(512)), "ENC h listpack",
			"HSET h f1 again", "ENC h listpack",
			"HSET h f513 513", "ENC h hashtable",
			hsCmd("HDEL h", hsSeq("f", 2, 513)), "ENC h hashtable",
		}},
		{"hash multi-pair conversion", []string{
			hsCmd("HSET h", hsPairs(600)), "ENC h hashtable",
		}},
		{"hash value length", []string{
			"HSET h f " + max, "ENC h listpack",
			"HSET h g " + long, "ENC h hashtable",
			"HSET h2 " + long + " v", "ENC h2 hashtable",
			"HSET h3 a 1 b " + long, "HDEL h3 b", "ENC h3 hashtable",
			"HSETNX h4 a 1", "HSETNX h4 b " + long, "ENC h4 hashtable",
			"HSETNX h5 a 1", "HSETNX h5 a " + long, "ENC h5 listpack",
			"HSET h6 a 1", "HINCRBY h6 " + long + " 1", "ENC h6 hashtable",
			"HSET h7 a 1", "HINCRBYFLOAT h7 b 1e70", "ENC h7 hashtable",
			"HSET h8 a 1", "HINCRBYFLOAT h8 " + long + " 1", "ENC h8 hashtable",
			"HMSET h9 a 1 b " + long, "ENC h9 hashtable",
		}},
		{"hash config", []string{
			"CONFIG SET hash-max-listpack-entries 2",
			"HSET h a 1 b 2", "ENC h listpack",
			"HSET h c 3", "ENC h hashtable",
			"CONFIG SET hash-max-listpack-entries 0",
			"HSET z a 1", "ENC z hashtable",
			"CONFIG SET hash-max-listpack-entries 512",
			"CONFIG SET hash-max-listpack-value 3",
			"HSET v abc def", "ENC v listpack",
			"HINCRBY v n 999", "ENC v listpack",
			"HINCRBY v n 1", "ENC v hashtable",
			"CONFIG SET hash-max-listpack-value 64",
		}},
		{"intset", []string{
			hsCmd("SADD s", hsSeq("", 1, 512)), "ENC s intset",
			"SADD s 1", "ENC s intset",
			"SADD s 513", "ENC s hashtable",
			hsCmd("SREM s", hsSeq("", 2, 513)), "ENC s hashtable",
			"SADD t 1 2 x", "ENC t hashtable",
			"SADD u x 1", "ENC u hashtable",
			"SADD w 9223372036854775807 -9223372036854775808", "ENC w intset",
			"SADD w2 9223372036854775808", "ENC w2 hashtable",
			"SADD w3 -0", "ENC w3 hashtable",
			"SADD w4 01", "ENC w4 hashtable",
			"SADD w5 40000 -40000 5000000000", "ENC w5 intset",
		}},
		{"set config", []string{
			"CONFIG SET set-max-intset-entries 2",
			"SADD s 1 2", "ENC s intset",
			"SADD s 3", "ENC s hashtable",
			"CONFIG SET set-max-intset-entries 0",
			"SADD z 1", "ENC z hashtable",
			"CONFIG SET set-max-intset-entries 512",
		}},
		{"set store results", []string{
			hsCmd("SADD a", hsSeq("", 1, 600)), "ENC a hashtable",
			hsCmd("SADD b", hsSeq("", 1, 10), "x"), "ENC b hashtable",
			"SINTERSTORE d a b", "ENC d intset",
			"SUNIONSTORE d b", "ENC d hashtable",
			"SDIFFSTORE d b a", "ENC d hashtable",
			"SDIFFSTORE d a b", "ENC d hashtable",
			hsCmd("SADD c", hsSeq("", 1, 100)),
			"SDIFFSTORE d a c", "ENC d intset",
			hsCmd("SREM a", hsSeq("", 1, 200)),
			"SDIFFSTORE d a c", "ENC d intset",
			"SUNIONSTORE d c", "ENC d intset",
			"SMOVE b n1 x", "ENC n1 hashtable",
			"SMOVE b n2 5", "ENC n2 intset",
			"SMOVE a n2 y", "ENC n2 intset",
		}},
		{"spop keeps the remaining members' encoding", []string{
			hsCmd("SADD a", hsSeq("", 1, 600)), "ENC a hashtable",
			// Case 3 of SPOP with count builds a new set from the members
			// that stay: here 5 integers, so an intset.
			"SPOP a 595", "ENC a intset",
			hsCmd("SADD b", hsSeq("", 1, 20), "x"), "ENC b hashtable",
			"SREM b x", "SPOP b 19", "ENC b intset",
		}},
	}
	var rc *scripttest.Conn
	if *oracle {
		rc = scripttest.StartOracle(t)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db := New(1)
			if rc != nil {
				rc.Do(t, []string{"FLUSHALL"}, 2)
			}
			for _, step := range tc.steps {
				argv, err := scripttest.SplitCommand(step)
				if err != nil {
					t.Fatal(err)
				}
				short := step
				if len(short) > 60 {
					short = short[:60] + "..."
				}
				switch {
				case argv[0] == "ENC":
					got := hsEncoding(db, argv[1])
					if got != argv[2] {
						t.Errorf("after %s: encoding of %s is %s, want %s", short, argv[1], got, argv[2])
					}
					if rc != nil {
						r := rc.Do(t, []string{"OBJECT", "ENCODING", argv[1]}, 2)
						if r != strconv.Quote(argv[2]) {
							t.Errorf("Redis: encoding of %s is %s, want %s", argv[1], r, argv[2])
						}
					}
				case argv[0] == "CONFIG":
					cfg := db.Config()
					n, _ := strconv.Atoi(argv[3])
					switch argv[2] {
					case "hash-max-listpack-entries":
						cfg.HashMaxListpackEntries = n
					case "hash-max-listpack-value":
						cfg.HashMaxListpackValue = n
					case "set-max-intset-entries":
						cfg.SetMaxIntsetEntries = n
					default:
						t.Fatalf("unknown setting %s", argv[2])
					}
					db.SetConfig(cfg)
					if rc != nil {
						rc.Do(t, argv, 2)
					}
				default:
					got := hsRun(t, db, 1, 2, argv...)
					if strings.HasPrefix(got, "-") {
						t.Fatalf("%s: %s", short, got)
					}
					if rc != nil {
						r := rc.Do(t, argv, 2)
						if argv[0] != "SPOP" && r != got {
							t.Errorf("%s: Redis replies %s, engine %s", short, r, got)
						}
					}
				}
			}
		})
	}
}

// hsParseArray parses a flat array reply of bulk strings in the script
// notation, e.g. ["a" "b"].
func hsParseArray(t testing.TB, s string) []string {
	t.Helper()
	s = strings.TrimPrefix(s, "~")
	if !strings.HasPrefix(s, "[") || !strings.HasSuffix(s, "]") {
		t.Fatalf("not an array: %s", s)
	}
	s = s[1 : len(s)-1]
	var out []string
	for len(s) > 0 {
		q, err := strconv.QuotedPrefix(s)
		if err != nil {
			t.Fatalf("bad element in %s: %v", s, err)
		}
		v, _ := strconv.Unquote(q)
		out = append(out, v)
		s = strings.TrimPrefix(s[len(q):], " ")
	}
	return out
}

func hsDistinct(xs []string) bool {
	seen := map[string]bool{}
	for _, x := range xs {
		if seen[x] {
			return false
		}
		seen[x] = true
	}
	return true
}

// hsSetups builds sets and hashes of several sizes in both encodings.
func hsSetups(t *testing.T) (db *DB, sets, hashes map[string][]string) {
	db = New(7)
	sets = map[string][]string{}
	hashes = map[string][]string{}
	for _, n := range []int{1, 2, 5, 10, 50, 200, 700, 1500} {
		ints := hsSeq("", 1, n)
		strs := hsSeq("m", 1, n)
		si := fmt.Sprintf("si%d", n)
		ss := fmt.Sprintf("ss%d", n)
		hsRun(t, db, 0, 2, append([]string{"SADD", si}, ints...)...)
		hsRun(t, db, 0, 2, append([]string{"SADD", ss}, strs...)...)
		sets[si], sets[ss] = ints, strs
		h := fmt.Sprintf("h%d", n)
		hsRun(t, db, 0, 2, append([]string{"HSET", h}, hsPairs(n)...)...)
		hashes[h] = hsSeq("f", 1, n)
	}
	return db, sets, hashes
}

func TestSetRandomInvariants(t *testing.T) {
	db, sets, _ := hsSetups(t)
	counts := []int{1, 2, 3, 4, 5, 9, 10, 11, 40, 100, 199, 300, 699, 700, 1000}
	for key, members := range sets {
		valid := map[string]bool{}
		for _, m := range members {
			valid[m] = true
		}
		for _, count := range counts {
			for _, neg := range []bool{false, true} {
				n := count
				if neg {
					n = -count
				}
				for seed := uint64(1); seed <= 3; seed++ {
					args := []string{"SRANDMEMBER", key, strconv.Itoa(n)}
					r1 := hsRun(t, db, seed, 2, args...)
					r2 := hsRun(t, db, seed, 2, args...)
					if r1 != r2 {
						t.Fatalf("%v seed %d: not deterministic: %s vs %s", args, seed, r1, r2)
					}
					got := hsParseArray(t, r1)
					want := count
					if !neg && count > len(members) {
						want = len(members)
					}
					if len(got) != want {
						t.Fatalf("%v: %d members, want %d", args, len(got), want)
					}
					for _, m := range got {
						if !valid[m] {
							t.Fatalf("%v: %q is not a member", args, m)
						}
					}
					if !neg && !hsDistinct(got) {
						t.Fatalf("%v: repeated members in %v", args, got)
					}
				}
			}
		}
		one := hsRun(t, db, 5, 2, "SRANDMEMBER", key)
		if v, _ := strconv.Unquote(one); !valid[v] {
			t.Fatalf("SRANDMEMBER %s: %s is not a member", key, one)
		}
	}
	// Different seeds give different choices (over a large set).
	a := hsRun(t, db, 1, 2, "SRANDMEMBER", "ss700", "5")
	b := hsRun(t, db, 2, 2, "SRANDMEMBER", "ss700", "5")
	if a == b {
		t.Errorf("seeds 1 and 2 chose the same members: %s", a)
	}
}

func TestSpopInvariants(t *testing.T) {
	counts := []int{1, 2, 3, 4, 5, 9, 10, 11, 40, 100, 150, 199, 300, 600, 699, 700, 1000}
	for _, count := range counts {
		for seed := uint64(1); seed <= 3; seed++ {
			var replies [2]string
			for round := 0; round < 2; round++ {
				db, sets, _ := hsSetups(t)
				keys := make([]string, 0, len(sets))
				for key := range sets {
					keys = append(keys, key)
				}
				slices.Sort(keys)
				for _, key := range keys {
					members := sets[key]
					args := []string{"SPOP", key, strconv.Itoa(count)}
					r := hsRun(t, db, seed, 2, args...)
					replies[round] += r
					got := hsParseArray(t, r)
					want := min(count, len(members))
					if len(got) != want || !hsDistinct(got) {
						t.Fatalf("%v: got %d (distinct %v), want %d distinct", args, len(got), hsDistinct(got), want)
					}
					rest := hsParseArray(t, hsRun(t, db, 0, 2, "SMEMBERS", key))
					all := append(append([]string(nil), got...), rest...)
					slices.Sort(all)
					sorted := slices.Clone(members)
					slices.Sort(sorted)
					if !slices.Equal(all, sorted) {
						t.Fatalf("%v: popped + remaining != original members", args)
					}
					if card := hsRun(t, db, 0, 2, "SCARD", key); card != ":"+strconv.Itoa(len(members)-want) {
						t.Fatalf("%v: SCARD %s", args, card)
					}
				}
			}
			if replies[0] != replies[1] {
				t.Fatalf("SPOP count %d seed %d is not deterministic", count, seed)
			}
		}
	}
	// SPOP without count removes the member it returns.
	db, _, _ := hsSetups(t)
	for _, key := range []string{"si10", "ss10", "si700", "ss700"} {
		r := hsRun(t, db, 9, 2, "SPOP", key)
		m, _ := strconv.Unquote(r)
		if hsRun(t, db, 0, 2, "SISMEMBER", key, m) != ":0" {
			t.Fatalf("SPOP %s returned %s, still a member", key, r)
		}
	}
}

func TestHrandfieldInvariants(t *testing.T) {
	db, _, hashes := hsSetups(t)
	counts := []int{1, 2, 3, 4, 5, 9, 10, 11, 40, 100, 199, 300, 699, 700, 1000}
	for key, fields := range hashes {
		valid := map[string]bool{}
		for _, f := range fields {
			valid[f] = true
		}
		for _, count := range counts {
			for _, neg := range []bool{false, true} {
				for _, withValues := range []bool{false, true} {
					n := count
					if neg {
						n = -count
					}
					args := []string{"HRANDFIELD", key, strconv.Itoa(n)}
					if withValues {
						args = append(args, "WITHVALUES")
					}
					r1 := hsRun(t, db, 3, 2, args...)
					if r2 := hsRun(t, db, 3, 2, args...); r1 != r2 {
						t.Fatalf("%v: not deterministic", args)
					}
					got := hsParseArray(t, r1)
					var fs []string
					if withValues {
						for i := 0; i < len(got); i += 2 {
							f, v := got[i], got[i+1]
							if "f"+v != f {
								t.Fatalf("%v: field %q has value %q", args, f, v)
							}
							fs = append(fs, f)
						}
					} else {
						fs = got
					}
					want := count
					if !neg && count > len(fields) {
						want = len(fields)
					}
					if len(fs) != want {
						t.Fatalf("%v: %d fields, want %d", args, len(fs), want)
					}
					for _, f := range fs {
						if !valid[f] {
							t.Fatalf("%v: %q is not a field", args, f)
						}
					}
					if !neg && !hsDistinct(fs) {
						t.Fatalf("%v: repeated fields", args)
					}
				}
			}
		}
		one := hsRun(t, db, 5, 2, "HRANDFIELD", key)
		if v, _ := strconv.Unquote(one); !valid[v] {
			t.Fatalf("HRANDFIELD %s: %s is not a field", key, one)
		}
	}
	// RESP3 WITHVALUES: an array of [field, value] pairs.
	r := hsRun(t, db, 3, 3, "HRANDFIELD", "h700", "3", "WITHVALUES")
	if !strings.HasPrefix(r, "[[\"f") || strings.Count(r, "[") != 4 {
		t.Fatalf("RESP3 HRANDFIELD WITHVALUES: %s", r)
	}
}

// TestScanFullIteration scans hashtable sets and hashes with small counts
// and checks every member is returned.
func TestScanFullIteration(t *testing.T) {
	db, sets, hashes := hsSetups(t)
	scan := func(cmd, key string, count int, pairs bool) []string {
		var got []string
		cursor := "0"
		for i := 0; ; i++ {
			r := hsRun(t, db, 0, 2, cmd, key, cursor, "COUNT", strconv.Itoa(count))
			// ["cursor" [items]]
			inner := strings.Index(r[1:], "[") + 1
			cur, err := strconv.Unquote(strings.TrimSpace(r[1:inner]))
			if err != nil {
				t.Fatalf("bad reply %s", r)
			}
			items := hsParseArray(t, r[inner:len(r)-1])
			if pairs {
				for j := 0; j < len(items); j += 2 {
					got = append(got, items[j])
				}
			} else {
				got = append(got, items...)
			}
			cursor = cur
			if cursor == "0" {
				return got
			}
			if i > 10000 {
				t.Fatal("scan does not end")
			}
		}
	}
	for key, members := range sets {
		for _, count := range []int{1, 3, 10, 1000} {
			got := scan("SSCAN", key, count, false)
			slices.Sort(got)
			got = slices.Compact(got)
			want := slices.Clone(members)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("SSCAN %s COUNT %d: %d members, want %d", key, count, len(got), len(want))
			}
		}
	}
	for key, fields := range hashes {
		for _, count := range []int{1, 3, 10, 1000} {
			got := scan("HSCAN", key, count, true)
			slices.Sort(got)
			got = slices.Compact(got)
			want := slices.Clone(fields)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("HSCAN %s COUNT %d: %d fields, want %d", key, count, len(got), len(want))
			}
		}
	}
}

// TestEncodingsAgree runs the same commands on compact and dict-encoded
// values (thresholds 0 force the dict) and compares the replies, sorting
// those whose order depends on the encoding.
func TestEncodingsAgree(t *testing.T) {
	compact := New(3)
	dict := New(3)
	cfg := dict.Config()
	cfg.HashMaxListpackEntries = 0
	cfg.SetMaxIntsetEntries = 0
	dict.SetConfig(cfg)
	unordered := map[string]bool{
		"HGETALL": true, "HKEYS": true, "HVALS": true, "SMEMBERS": true, "SINTER": true,
		"SUNION": true, "SDIFF": true, "HSCAN": true, "SSCAN": true, "HRANDFIELD": true,
		"SRANDMEMBER": true, "SPOP": true,
	}
	canon := func(argv []string, r string) string {
		cmd := argv[0]
		if !unordered[cmd] || !strings.HasPrefix(r, "[") {
			return r
		}
		if cmd == "HSCAN" || cmd == "SSCAN" {
			r = r[strings.Index(r[1:], "[")+1 : len(r)-1]
		}
		items := hsParseArray(t, r)
		if cmd == "HGETALL" || cmd == "HSCAN" || (cmd == "HRANDFIELD" && len(argv) == 4) {
			var pairs []string
			for i := 0; i < len(items); i += 2 {
				pairs = append(pairs, items[i]+"="+items[i+1])
			}
			items = pairs
		}
		slices.Sort(items)
		return strings.Join(items, ",")
	}
	script := []string{
		"HSET h a 1 b 2 c 3 d 4", "HSET h a 5 e 6", "HGET h a", "HGET h z", "HMGET h a z e",
		"HDEL h b z", "HLEN h", "HEXISTS h c", "HSTRLEN h e", "HGETALL h", "HKEYS h", "HVALS h",
		"HINCRBY h a 10", "HINCRBY h n -3", "HINCRBYFLOAT h f 1.5", "HINCRBYFLOAT h f 0.25",
		"HSETNX h a 0", "HSETNX h g 7", "HGETALL h", "HSCAN h 0 COUNT 100", "HSCAN h 0 MATCH [a-c] COUNT 100",
		"HRANDFIELD h 100", "HRANDFIELD h 100 WITHVALUES", "HDEL h a c d e n f g", "HLEN h",
		"SADD s 1 2 3 4 5", "SADD s 3 6", "SADD t 4 5 6 7 x", "SREM s 1 9", "SCARD s", "SISMEMBER s 2",
		"SMISMEMBER s 1 2 x", "SMEMBERS s", "SINTER s t", "SUNION s t", "SDIFF s t", "SDIFF t s",
		"SINTERCARD 2 s t", "SINTERCARD 2 s t LIMIT 1", "SINTERSTORE d s t", "SMEMBERS d",
		"SUNIONSTORE d s t", "SCARD d", "SDIFFSTORE d t s", "SMEMBERS d", "SMOVE s t 2", "SMOVE t s x",
		"SMEMBERS s", "SMEMBERS t", "SSCAN s 0 COUNT 100", "SSCAN t 0 MATCH [0-9] COUNT 100",
		"SRANDMEMBER s 100", "SPOP s 100", "SCARD s", "SREM t 3 4 5 6 7 2", "SCARD t",
	}
	for _, line := range script {
		argv, _ := scripttest.SplitCommand(line)
		a := canon(argv, hsRun(t, compact, 1, 2, argv...))
		b := canon(argv, hsRun(t, dict, 1, 2, argv...))
		if a != b {
			t.Errorf("%s: compact %s, dict %s", line, a, b)
		}
	}
}

func TestHashSetCloneEachMemory(t *testing.T) {
	db, sets, hashes := hsSetups(t)
	for key, members := range sets {
		o, _ := db.peek([]byte(key), 0)
		v := collection[setValue](o)
		var got []string
		v.each(func(m string) bool { got = append(got, m); return true })
		slices.Sort(got)
		want := slices.Clone(members)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("%s: each gave %d members", key, len(got))
		}
		cl := v.clone()
		if cl.Len() != v.Len() || cl.encodingName() != v.encodingName() {
			t.Fatalf("%s: clone differs", key)
		}
		// A clone makes the same random choices and is independent.
		c1 := &Ctx{Seed: 5}
		c2 := &Ctx{Seed: 5}
		s1, i1, _ := v.random(c1)
		s2, i2, _ := cl.random(c2)
		if s1 != s2 || i1 != i2 {
			t.Fatalf("%s: clone chooses differently", key)
		}
		cl.add(512, 7, []byte("zz"))
		if v.has([]byte("zz")) {
			t.Fatalf("%s: clone shares storage", key)
		}
		if m := v.memoryUsage(); m < v.Len() {
			t.Fatalf("%s: memoryUsage %d", key, m)
		}
		stop := 0
		v.each(func(string) bool { stop++; return false })
		if stop != 1 {
			t.Fatalf("%s: each did not stop", key)
		}
	}
	for key := range hashes {
		o, _ := db.peek([]byte(key), 0)
		v := collection[hashValue](o)
		cl := v.clone()
		cfg := DefaultConfig()
		cl.set(&cfg, 7, []byte("f1"), []byte("changed"))
		if got, _ := v.get([]byte("f1")); string(got) != "1" {
			t.Fatalf("%s: clone shares storage", key)
		}
		if cl.Len() != v.Len() || cl.encodingName() != v.encodingName() {
			t.Fatalf("%s: clone differs", key)
		}
		if m := v.memoryUsage(); m < v.Len() {
			t.Fatalf("%s: memoryUsage %d", key, m)
		}
	}
	// A small listpack costs a few bytes per entry, not a map.
	o, _ := db.peek([]byte("h10"), 0)
	if m := collection[hashValue](o).memoryUsage(); m > 200 {
		t.Errorf("listpack hash of 10 pairs: memoryUsage %d", m)
	}
	o, _ = db.peek([]byte("si50"), 0)
	if m := collection[setValue](o).memoryUsage(); m > 200 {
		t.Errorf("intset of 50 small integers: memoryUsage %d", m)
	}
}

func TestIntset(t *testing.T) {
	var s intset
	vals := []int64{5, -3, 100, 40000, -40000, 1 << 40, -(1 << 40), 0, 7, 1<<63 - 1, -1 << 63}
	for i, v := range vals {
		if !s.add(v) {
			t.Fatalf("add %d: reported present", v)
		}
		if s.add(v) {
			t.Fatalf("add %d twice: reported added", v)
		}
		if s.len() != i+1 {
			t.Fatalf("len %d after %d adds", s.len(), i+1)
		}
		for j := 1; j < s.len(); j++ {
			if s.get(j-1) >= s.get(j) {
				t.Fatalf("not sorted after adding %d", v)
			}
		}
	}
	for _, v := range vals {
		if !s.contains(v) {
			t.Fatalf("%d missing", v)
		}
	}
	if s.contains(6) || s.remove(6) {
		t.Fatal("6 present")
	}
	for _, v := range vals {
		if !s.remove(v) || s.contains(v) {
			t.Fatalf("remove %d", v)
		}
	}
	if s.len() != 0 {
		t.Fatal("not empty")
	}
	// Small values take two bytes each.
	var small intset
	for i := int64(0); i < 100; i++ {
		small.add(i)
	}
	if len(small.data) != 200 {
		t.Fatalf("100 small ints take %d bytes", len(small.data))
	}
}

func TestHashListpack(t *testing.T) {
	var lp []byte
	var added bool
	long := strings.Repeat("L", 300) // a two-byte length header
	lp, added = hlpSet(lp, []byte("a"), []byte("1"))
	if !added {
		t.Fatal("a not added")
	}
	lp, _ = hlpSet(lp, []byte("b"), []byte(long))
	lp, _ = hlpSet(lp, []byte(long), []byte(""))
	lp, added = hlpSet(lp, []byte("a"), []byte(long))
	if added {
		t.Fatal("a added twice")
	}
	lp, _ = hlpSet(lp, []byte("b"), []byte("2"))
	var got []string
	for pos := 0; pos < len(lp); {
		var f, v []byte
		f, v, pos = hlpPair(lp, pos)
		got = append(got, string(f)+"="+string(v))
	}
	want := []string{"a=" + long, "b=2", long + "="}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q", got)
	}
	lp, _ = hlpDelete(lp, []byte("b"))
	lp, _ = hlpDelete(lp, []byte(long))
	if _, ok := hlpDelete(lp, []byte("zz")); ok {
		t.Fatal("deleted a missing field")
	}
	f, v, next := hlpPair(lp, 0)
	if string(f) != "a" || string(v) != long || next != len(lp) {
		t.Fatal("a lost")
	}
}

func TestScanCursorParse(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "": 0, "+5": 5, "-1": -1, "18446744073709551615": -1, "-18446744073709551615": 1} {
		got, ok := hsParseScanCursor([]byte(in))
		if !ok || got != uint64(want) {
			t.Errorf("%q: %d %v", in, got, ok)
		}
	}
	for _, in := range []string{"x", "-", "+", " 1", "1 ", "18446744073709551616", "0x1", "+-1"} {
		if _, ok := hsParseScanCursor([]byte(in)); ok {
			t.Errorf("%q accepted", in)
		}
	}
}
