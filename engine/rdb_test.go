package engine

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

func TestCRC64(t *testing.T) {
	if got := crc64Jones(0, []byte("123456789")); got != 0xe9c6d914c4b8d9ca {
		t.Fatalf("crc64(123456789) = %x", got)
	}
	// Incremental equals one-shot, whatever the split.
	data := bytes.Repeat([]byte("flotilla"), 100)
	for _, cut := range []int{0, 1, 7, 8, 9, 400, 799} {
		if crc64Jones(crc64Jones(0, data[:cut]), data[cut:]) != crc64Jones(0, data) {
			t.Fatalf("split at %d", cut)
		}
	}
}

func TestLZF(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	st := &lzfState{htab: make([]uint32, lzfHSize)}
	for i := 0; i < 2000; i++ {
		n := 4 + rng.IntN(3000)
		in := make([]byte, n)
		alphabet := 1 + rng.IntN(255)
		for j := range in {
			if j > 8 && rng.IntN(3) == 0 {
				in[j] = in[j-1-rng.IntN(8)]
			} else {
				in[j] = byte(rng.IntN(alphabet))
			}
		}
		out := make([]byte, n-4)
		c := st.compress(in, out)
		if c == 0 {
			continue
		}
		dec := make([]byte, n)
		if m := lzfDecompress(out[:c], dec); m != n || !bytes.Equal(dec, in) {
			t.Fatalf("round trip of %d bytes failed (%d)", n, m)
		}
		// A wrong size or a damaged stream is refused, never a panic.
		if lzfDecompress(out[:c], make([]byte, n-1)) != -1 {
			t.Fatal("short output accepted")
		}
		bad := bytes.Clone(out[:c])
		bad[rng.IntN(len(bad))] ^= byte(1 + rng.IntN(255))
		lzfDecompress(bad, make([]byte, n))
		lzfDecompress(bad[:len(bad)/2], make([]byte, n))
	}
	if lzfDecompress(nil, make([]byte, 4)) != -1 {
		t.Fatal("empty input accepted")
	}
	// Compressible data compresses; the state wraps its base safely.
	st.base = math.MaxUint32 - 10
	in := bytes.Repeat([]byte("abcdefgh"), 100)
	out := make([]byte, len(in))
	if c := st.compress(in, out); c == 0 || c > 100 {
		t.Fatalf("compressed to %d", c)
	}
}

func TestListpackCodec(t *testing.T) {
	vals := []string{"0", "127", "128", "-1", "-4096", "4095", "4096", "-4097", "32767", "-32768", "32768",
		"8388607", "-8388608", "8388608", "2147483647", "-2147483648", "2147483648", "9223372036854775807",
		"-9223372036854775808", "", "a", strings.Repeat("x", 63), strings.Repeat("x", 64), strings.Repeat("y", 4095),
		strings.Repeat("y", 4096), strings.Repeat("z", 20000), "007", "-0", "1.5"}
	w := newLPWriter(nil)
	for _, v := range vals {
		w.appendString([]byte(v))
	}
	lp := w.finish()
	var got []string
	n, ok := lpValidate(lp, func(s []byte, v int64, isInt bool) bool {
		if isInt {
			got = append(got, strconv.FormatInt(v, 10))
		} else {
			got = append(got, string(s))
		}
		return true
	})
	if !ok || n != len(vals) || strings.Join(got, ",") != strings.Join(vals, ",") {
		t.Fatalf("listpack round trip: %v %d %q", ok, n, got)
	}
	// Every truncation and most single-byte changes are refused; none
	// panics.
	for i := 0; i < len(lp); i += 1 + i/64 {
		if _, ok := lpValidate(lp[:i], nil); ok {
			t.Fatalf("truncated at %d accepted", i)
		}
		for _, x := range []byte{1, 0x80, 0xff} {
			bad := bytes.Clone(lp)
			bad[i] ^= x
			lpValidate(bad, func([]byte, int64, bool) bool { return true })
		}
	}
	// The backlen thresholds are Redis's ("<" 16383).
	for _, l := range []uint64{127, 128, 16382, 16383, 2097150, 2097151, 268435454, 268435455} {
		b := lpPutBacklen(nil, l)
		if len(b) != lpBacklenSize(l) {
			t.Fatalf("backlen %d: %d bytes, size says %d", l, len(b), lpBacklenSize(l))
		}
		if v, ok := lpDecodeBacklen(b, len(b)-1); !ok || v != l {
			t.Fatalf("backlen %d decodes to %d", l, v)
		}
	}
}

func TestZiplistCodec(t *testing.T) {
	elems := []string{"a", "0", "12", "13", "-1", "127", "-128", "200", "-32768", "70000", "-8388608",
		"9000000", "3000000000", "-9223372036854775808", strings.Repeat("s", 63), strings.Repeat("s", 64),
		strings.Repeat("t", 20000), "007"}
	for i := 0; i < 300; i++ {
		elems = append(elems, "x"+strconv.Itoa(i))
	}
	zl := ziplistOf(elems)
	var got []string
	n, ok := zlValidate(zl, func(s []byte, v int64, isInt bool) bool {
		if isInt {
			got = append(got, strconv.FormatInt(v, 10))
		} else {
			got = append(got, string(s))
		}
		return true
	})
	if !ok || n != len(elems) || strings.Join(got, ",") != strings.Join(elems, ",") {
		t.Fatalf("ziplist round trip: %v %d", ok, n)
	}
	for i := 0; i < len(zl); i += 7 {
		if _, ok := zlValidate(zl[:i], nil); ok {
			t.Fatalf("truncated at %d accepted", i)
		}
		bad := bytes.Clone(zl)
		bad[i] ^= 0x41
		zlValidate(bad, func([]byte, int64, bool) bool { return true })
	}
}

func TestIntsetBlob(t *testing.T) {
	var is intset
	for _, v := range []int64{5, -3, 100000, 1} {
		is.add(v)
	}
	got, ok := intsetFromBlob(intsetBlob(&is, nil))
	if !ok || got.width != is.width || !bytes.Equal(got.data, is.data) {
		t.Fatal("intset round trip")
	}
	bad := intsetBlob(&is, nil)
	bad[8], bad[12] = bad[12], bad[8] // out of order
	if _, ok := intsetFromBlob(bad); ok {
		t.Fatal("unsorted intset accepted")
	}
	for _, b := range [][]byte{nil, {2, 0, 0, 0, 0, 0, 0, 0}, {3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0}, {2, 0, 0, 0, 2, 0, 0, 0, 1, 0}} {
		if _, ok := intsetFromBlob(b); ok {
			t.Fatalf("bad intset %v accepted", b)
		}
	}
}

// TestDumpRestoreRoundTrip DUMPs every type and encoding and RESTOREs it in
// another DB: same contents, same encoding.
func TestDumpRestoreRoundTrip(t *testing.T) {
	const now = 1_700_000_000_000
	src := New(1)
	cfg := src.Config()
	cfg.ListMaxListpackSize = 3
	src.SetConfig(cfg)
	populate(t, src, now)
	dst := New(2)
	dst.SetConfig(cfg)
	for _, k := range allKeys(src) {
		p := parseReply(t, run1(t, src, now, 0, "DUMP", k))[0]
		if r := run1(t, dst, now, 0, "RESTORE", k, "0", p); r != "+OK" {
			t.Fatalf("%s: %s", k, r)
		}
		fs := func(db *DB) func(args ...string) string {
			return func(args ...string) string { return run1(t, db, now, 0, args...) }
		}
		if a, b := contents(t, fs(src), k), contents(t, fs(dst), k); a != b {
			t.Errorf("%s: %.200s vs %.200s", k, a, b)
		}
		want := run1(t, src, now, 0, "OBJECT", "ENCODING", k)
		if o, _ := src.peek([]byte(k), now); o.typ == TypeString {
			// A restored string is encoded as SET would encode it
			// (tryObjectEncoding): a short "raw" string becomes "embstr".
			sv := stringValue(o.bytes())
			want = strconv.Quote(encodingOf(&sv))
		}
		if got := run1(t, dst, now, 0, "OBJECT", "ENCODING", k); got != want {
			t.Errorf("%s: encoding %s, want %s", k, got, want)
		}
		// A payload restores to a value that DUMPs the same.
		if q := parseReply(t, run1(t, dst, now, 0, "DUMP", k))[0]; q != p && !strings.HasPrefix(run1(t, src, now, 0, "TYPE", k), "+set") &&
			!strings.HasPrefix(run1(t, src, now, 0, "TYPE", k), "+hash") {
			t.Errorf("%s: DUMP after RESTORE differs", k)
		}
	}
	checkKeyspace(t, dst)
}

// TestRestoreEncodings checks the encoding each payload type restores to
// under the receiver's settings, as Redis 7.0's rdbLoadObject decides.
func TestRestoreEncodings(t *testing.T) {
	db := New(1)
	do := func(args ...string) string { return run1(t, db, 0, 0, args...) }
	restore := func(k string, body []byte) string {
		return do("RESTORE", k, "0", payloadOf(body), "REPLACE")
	}
	w := &rdbWriter{}
	// RDB_TYPE_SET: an intset while members are integers and few.
	w.buf = append(w.buf[:0], rdbTypeSet)
	w.saveLen(3)
	for _, m := range []string{"3", "1", "2"} {
		rdbString(w, m)
	}
	if restore("s", w.buf) != "+OK" || do("OBJECT", "ENCODING", "s") != `"intset"` || do("SMEMBERS", "s") != `["1" "2" "3"]` {
		t.Fatal("set of integers")
	}
	w.buf = append(w.buf[:0], rdbTypeSet)
	w.saveLen(2)
	rdbString(w, "1")
	rdbString(w, "x")
	if restore("s", w.buf) != "+OK" || do("OBJECT", "ENCODING", "s") != `"hashtable"` {
		t.Fatal("mixed set")
	}
	// RDB_TYPE_ZSET_2 with unsorted elements, a long member: skiplist.
	w.buf = append(w.buf[:0], rdbTypeZSet2)
	w.saveLen(2)
	rdbString(w, strings.Repeat("m", 65))
	w.buf = binary.LittleEndian.AppendUint64(w.buf, math.Float64bits(2))
	rdbString(w, "a")
	w.buf = binary.LittleEndian.AppendUint64(w.buf, math.Float64bits(1))
	if restore("z", w.buf) != "+OK" || do("OBJECT", "ENCODING", "z") != `"skiplist"` || do("ZRANK", "z", "a") != ":0" {
		t.Fatal("zset2 with a long member")
	}
	// An unsorted listpack is sorted (Redis keeps whatever order it got).
	lw := newLPWriter(nil)
	for _, s := range []string{"b", "2", "a", "1", "c", "-1.5"} {
		lw.appendString([]byte(s))
	}
	body := append([]byte{rdbTypeZSetListpack}, 0)
	w.buf = append(w.buf[:0], rdbTypeZSetListpack)
	w.saveRawString(lw.finish())
	_ = body
	if r := restore("z", w.buf); r != "+OK" || do("ZRANGE", "z", "0", "-1", "WITHSCORES") != `["c" "-1.5" "a" "1" "b" "2"]` {
		t.Fatalf("unsorted listpack: %s %s", r, do("ZRANGE", "z", "0", "-1", "WITHSCORES"))
	}
	// Repeated members, NaN scores, odd element counts: refused.
	for _, elems := range [][]string{{"a", "1", "a", "2"}, {"a", "nan"}, {"a", "1", "b"}, {"a", "x1"}, {}} {
		lw := newLPWriter(nil)
		for _, s := range elems {
			lw.appendString([]byte(s))
		}
		w.buf = append(w.buf[:0], rdbTypeZSetListpack)
		w.saveRawString(lw.finish())
		if r := restore("bad", w.buf); r != "-"+errBadDataFormat {
			t.Fatalf("zset listpack %q: %s", elems, r)
		}
	}
	// Hash listpacks: repeated fields refused, long values kept.
	for _, c := range []struct {
		elems []string
		want  string
	}{
		{[]string{"f", "1", "f", "2"}, "-" + errBadDataFormat},
		{[]string{"f", strings.Repeat("v", 100)}, "+OK"},
		{[]string{"f"}, "-" + errBadDataFormat},
	} {
		lw := newLPWriter(nil)
		for _, s := range c.elems {
			lw.appendString([]byte(s))
		}
		w.buf = append(w.buf[:0], rdbTypeHashListpack)
		w.saveRawString(lw.finish())
		if r := restore("h", w.buf); r != c.want {
			t.Fatalf("hash listpack %.20q: %s", c.elems, r)
		}
	}
	if do("OBJECT", "ENCODING", "h") != `"listpack"` {
		t.Fatal("a long value in a listpack payload stays in the listpack, as in Redis")
	}
	// A quicklist node holding an empty listpack is skipped; only empty
	// nodes: refused.
	empty := newLPWriter(nil)
	emptyLP := empty.finish()
	one := newLPWriter(nil)
	one.appendString([]byte("x"))
	oneLP := one.finish()
	w.buf = append(w.buf[:0], rdbTypeListQuicklist2)
	w.saveLen(3)
	for _, n := range [][]byte{emptyLP, oneLP, []byte("plain element")} {
		if len(n) == len("plain element") {
			w.saveLen(quicklistNodePlain)
		} else {
			w.saveLen(quicklistNodePacked)
		}
		w.saveRawString(n)
	}
	if r := restore("l", w.buf); r != "+OK" || do("LRANGE", "l", "0", "-1") != `["x" "plain element"]` {
		t.Fatalf("quicklist: %s %s", r, do("LRANGE", "l", "0", "-1"))
	}
	w.buf = append(w.buf[:0], rdbTypeListQuicklist2)
	w.saveLen(1)
	w.saveLen(quicklistNodePacked)
	w.saveRawString(emptyLP)
	if r := restore("l", w.buf); r != "-"+errBadDataFormat {
		t.Fatalf("empty quicklist: %s", r)
	}
	// Unknown types, streams, modules, zipmaps.
	for _, typ := range []byte{6, 7, 8, 9, 15, 19, 20, 200} {
		if r := restore("x", []byte{typ, 1, 1, 'a'}); r != "-"+errBadDataFormat {
			t.Fatalf("type %d: %s", typ, r)
		}
	}
	checkKeyspace(t, db)
}

// TestRestoreBlockedClients: RESTORE of a list or sorted set serves
// clients blocked on the key, as dbAdd does.
func TestRestoreBlockedClients(t *testing.T) {
	db := New(1)
	rec := &recorder{}
	db.SetNotifier(rec)
	run1(t, db, 0, 0, "RPUSH", "src", "a")
	p := parseReply(t, run1(t, db, 0, 0, "DUMP", "src"))[0]
	rec.ready = nil
	run1(t, db, 0, 0, "RESTORE", "dst", "0", p)
	if len(rec.ready) != 1 || rec.ready[0] != "dst" {
		t.Fatalf("ready: %q", rec.ready)
	}
}

// restoreSeeds returns the bodies (payloads without their footer) of values
// of every type and encoding, and of the older formats.
func restoreSeeds(t testing.TB) [][]byte {
	db := New(1)
	cfg := db.Config()
	cfg.ListMaxListpackSize = 4
	db.SetConfig(cfg)
	populate(t, db, 1_700_000_000_000)
	var out [][]byte
	for _, k := range allKeys(db) {
		o, _ := db.peek([]byte(k), 0)
		p := dumpPayload(&o)
		if len(p) < 4096 {
			out = append(out, p[:len(p)-rdbFooterSize])
		}
	}
	for _, p := range legacyPayloads() {
		if len(p) < 4096 {
			out = append(out, []byte(p[:len(p)-rdbFooterSize]))
		}
	}
	return out
}

// FuzzRESTORE restores mutated payloads (with a valid checksum, so that the
// body is parsed): RESTORE must reply OK or an error, never panic, and what
// it stores must be a sound value.
func FuzzRESTORE(f *testing.F) {
	for _, b := range restoreSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkRestore(t, body)
	})
}

// checkRestore restores body and, if that worked, works the value hard.
func checkRestore(t *testing.T, body []byte) {
	const now = 1_700_000_000_000
	db := New(1)
	cfg := db.Config()
	cfg.HashMaxListpackEntries, cfg.ZSetMaxListpackEntries, cfg.SetMaxIntsetEntries = 8, 8, 8
	cfg.ListMaxListpackSize = 3
	db.SetConfig(cfg)
	do := func(args ...string) string { return run1(t, db, now, 3, args...) }
	r := do("RESTORE", "k", "0", payloadOf(body))
	if r != "+OK" {
		if r != "-"+errBadDataFormat {
			t.Fatalf("RESTORE: %s", r)
		}
		if db.Len() != 0 {
			t.Fatal("a refused payload left a key")
		}
		return
	}
	checkKeyspace(t, db)
	before := contents(t, do, "k")
	// DUMP and RESTORE again: the same contents.
	p := parseReply(t, do("DUMP", "k"))[0]
	if r := do("RESTORE", "k2", "0", p); r != "+OK" {
		t.Fatalf("re-RESTORE: %s", r)
	}
	if after := contents(t, do, "k2"); after != before {
		t.Fatalf("re-RESTORE changed the value:\n%.300s\n%.300s", before, after)
	}
	// Read and write the value through its commands.
	switch strings.Trim(do("TYPE", "k"), "+") {
	case "string":
		do("APPEND", "k", "x")
		do("GETRANGE", "k", "0", "-1")
		do("INCR", "k")
	case "list":
		do("LINDEX", "k", "-1")
		do("LINSERT", "k", "BEFORE", "1", "ins")
		do("LREM", "k", "0", "a")
		do("RPUSH", "k", "tail")
		do("LPOP", "k", "3")
		do("LRANGE", "k", "0", "-1")
		do("LTRIM", "k", "1", "-2")
	case "set":
		do("SISMEMBER", "k", "1")
		do("SRANDMEMBER", "k", "-5")
		do("SADD", "k", "new", "7")
		do("SPOP", "k", "2")
		do("SSCAN", "k", "0")
		do("SREM", "k", "1", "a")
	case "zset":
		do("ZRANGEBYSCORE", "k", "-inf", "+inf", "WITHSCORES")
		do("ZRANGEBYLEX", "k", "-", "+")
		do("ZREVRANK", "k", "a")
		do("ZADD", "k", "1.5", "new")
		do("ZINCRBY", "k", "2", "a")
		do("ZRANDMEMBER", "k", "-3", "WITHSCORES")
		do("ZPOPMAX", "k")
		do("ZREMRANGEBYSCORE", "k", "0", "1")
		do("ZSCAN", "k", "0")
	case "hash":
		do("HGET", "k", "f1")
		do("HSET", "k", "new", "v", "f1", "w")
		do("HINCRBY", "k", "n", "1")
		do("HRANDFIELD", "k", "-4", "WITHVALUES")
		do("HDEL", "k", "f2", "a")
		do("HSCAN", "k", "0")
	}
	do("DUMP", "k")
	checkKeyspace(t, db)
}

// TestRestoreMutations runs the fuzz target's checks over deterministic
// mutations of the seeds, so that go test covers it without -fuzz.
func TestRestoreMutations(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	seeds := restoreSeeds(t)
	n := 20000
	if testing.Short() || raceEnabled {
		n = 1500
	}
	for i := 0; i < n; i++ {
		body := bytes.Clone(seeds[rng.IntN(len(seeds))])
		for m := 1 + rng.IntN(3); m > 0 && len(body) > 0; m-- {
			p := rng.IntN(len(body))
			switch rng.IntN(5) {
			case 0:
				body[p] = byte(rng.IntN(256))
			case 1:
				body[p] ^= 1 << rng.IntN(8)
			case 2:
				body = body[:p]
			case 3:
				body = append(body[:p], body[min(len(body), p+1+rng.IntN(8)):]...)
			default:
				body = append(body[:p], append([]byte{byte(rng.IntN(256))}, body[p:]...)...)
			}
		}
		checkRestore(t, body)
	}
}
