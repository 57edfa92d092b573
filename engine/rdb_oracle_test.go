package engine

import (
	"github.com/flotilla-db/flotilla/engine/scripttest"

	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Cross tests against a real Redis 7.0: payloads DUMPed by Redis must
// RESTORE in Flotilla to the same contents and encoding, and Flotilla's
// payloads must RESTORE in Redis. They need redis-server on PATH and fail
// without it.

// parseReply splits a reply in the script notation into its bulk strings
// (Go-quoted), in order.
func parseReply(t testing.TB, s string) []string {
	t.Helper()
	var out []string
	for i := 0; i < len(s); i++ {
		if s[i] != '"' {
			continue
		}
		j := i + 1
		for ; j < len(s); j++ {
			if s[j] == '\\' {
				j++
				continue
			}
			if s[j] == '"' {
				break
			}
		}
		v, err := strconv.Unquote(s[i : j+1])
		if err != nil {
			t.Fatalf("bad reply %q: %v", s, err)
		}
		out = append(out, v)
		i = j
	}
	return out
}

// contents renders the value at key canonically: unordered collections
// sorted.
func contents(t testing.TB, do func(args ...string) string, key string) string {
	t.Helper()
	typ := strings.Trim(do("TYPE", key), "+")
	switch typ {
	case "string":
		return "string " + do("GET", key)
	case "list":
		return "list " + do("LRANGE", key, "0", "-1")
	case "set":
		m := parseReply(t, do("SMEMBERS", key))
		slices.Sort(m)
		return fmt.Sprintf("set %q", m)
	case "zset":
		return "zset " + do("ZRANGE", key, "0", "-1", "WITHSCORES")
	case "hash":
		kv := parseReply(t, do("HGETALL", key))
		var pairs []string
		for i := 0; i+1 < len(kv); i += 2 {
			pairs = append(pairs, strconv.Quote(kv[i])+":"+strconv.Quote(kv[i+1]))
		}
		slices.Sort(pairs)
		return "hash " + strings.Join(pairs, " ")
	}
	return typ
}

type oracleCase struct {
	name  string
	setup [][]string // run on both sides
	keys  []string
	// sameBytes: Flotilla's DUMP must be byte for byte Redis's (values
	// whose encoding has one serialization).
	sameBytes bool
	// redisConfig and flotillaConfig are applied before the setup.
	redisConfig [][]string
	cfg         func(*Config)
}

func oracleCases() []oracleCase {
	rng := rand.New(rand.NewPCG(3, 4))
	randStr := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return string(b)
	}
	ints := []string{"0", "1", "12", "127", "128", "-1", "-4096", "4095", "4096", "-4097", "32767", "-32768",
		"32768", "8388607", "-8388608", "8388608", "2147483647", "-2147483648", "2147483648",
		"9223372036854775807", "-9223372036854775808", "00123", "+5", "1.5", "-0", " 7"}
	var cases []oracleCase

	// Strings: integer encodings, short, compressible, incompressible.
	var strSetup [][]string
	var strKeys []string
	for i, v := range append(slices.Clone(ints), "", "hello", strings.Repeat("a", 20), strings.Repeat("a", 21),
		strings.Repeat("ab", 300), randStr(100), randStr(5000), strings.Repeat("xyz", 5000), "\x00\x01\xff\r\n") {
		k := "str" + strconv.Itoa(i)
		strSetup = append(strSetup, []string{"SET", k, v})
		strKeys = append(strKeys, k)
	}
	strSetup = append(strSetup, []string{"APPEND", "appended", "abc"}, []string{"APPEND", "appended", "123"},
		[]string{"INCRBY", "incr", "100000"}, []string{"INCRBYFLOAT", "flt", "3.25"},
		[]string{"SETRANGE", "ranged", "100", "x"})
	strKeys = append(strKeys, "appended", "incr", "flt", "ranged")
	cases = append(cases, oracleCase{name: "strings", setup: strSetup, keys: strKeys, sameBytes: true})

	// Lists.
	small := append([]string{"RPUSH", "lsmall"}, ints...)
	small = append(small, "a", strings.Repeat("b", 63), strings.Repeat("c", 64), strings.Repeat("d", 4095),
		strings.Repeat("e", 4096), randStr(300))
	big := []string{"RPUSH", "lbig"}
	for i := 0; i < 3000; i++ {
		big = append(big, "element:"+strconv.Itoa(i*31))
	}
	mixed := []string{"RPUSH", "lmixed"}
	for i := 0; i < 500; i++ {
		mixed = append(mixed, strconv.Itoa(i*i-1000), strings.Repeat("m", i%150))
	}
	cases = append(cases,
		oracleCase{name: "lists", setup: [][]string{small, big, mixed, {"LPUSH", "lpushed", "x", "y", "z"}},
			keys: []string{"lsmall", "lbig", "lmixed", "lpushed"}, sameBytes: true},
		oracleCase{name: "lists fill 5", setup: [][]string{big, mixed}, keys: []string{"lbig", "lmixed"}, sameBytes: true,
			redisConfig: [][]string{{"CONFIG", "SET", "list-max-listpack-size", "5"}},
			cfg:         func(c *Config) { c.ListMaxListpackSize = 5 }},
		oracleCase{name: "lists fill -5", setup: [][]string{big, mixed}, keys: []string{"lbig", "lmixed"}, sameBytes: true,
			redisConfig: [][]string{{"CONFIG", "SET", "list-max-listpack-size", "-5"}},
			cfg:         func(c *Config) { c.ListMaxListpackSize = -5 }},
		// Redis compresses inner nodes: LZF blobs in the payload.
		oracleCase{name: "lists compressed", setup: [][]string{big, mixed}, keys: []string{"lbig", "lmixed"},
			redisConfig: [][]string{{"CONFIG", "SET", "list-compress-depth", "1"}}},
		// Elements above the packed threshold get plain nodes.
		oracleCase{name: "lists plain nodes", setup: [][]string{{"RPUSH", "lplain", "a", strings.Repeat("P", 2000), "b",
			strings.Repeat("Q", 3000), strings.Repeat("R", 1500), "1", "2"}}, keys: []string{"lplain"},
			redisConfig: [][]string{{"DEBUG", "QUICKLIST-PACKED-THRESHOLD", "1000"}}},
	)

	// Sets.
	var intset16, intset32, intset64, bigInts, strs []string
	intset16 = []string{"SADD", "is16", "1", "-5", "300", "32767", "-32768"}
	intset32 = []string{"SADD", "is32", "1", "70000", "-2147483648"}
	intset64 = []string{"SADD", "is64", "1", "9223372036854775807", "-9223372036854775808"}
	bigInts = []string{"SADD", "sbigint"}
	for i := 0; i < 700; i++ {
		bigInts = append(bigInts, strconv.Itoa(i*13))
	}
	strs = []string{"SADD", "sstr"}
	for i := 0; i < 100; i++ {
		strs = append(strs, "member"+strconv.Itoa(i))
	}
	cases = append(cases,
		oracleCase{name: "intsets", setup: [][]string{intset16, intset32, intset64,
			{"SADD", "shrunk", "1", "5000000000"}, {"SREM", "shrunk", "5000000000"}},
			keys: []string{"is16", "is32", "is64", "shrunk"}, sameBytes: true},
		oracleCase{name: "hashtable sets", setup: [][]string{bigInts, strs, {"SADD", "smix", "1", "2", "x"}},
			keys: []string{"sbigint", "sstr", "smix"}},
		// An intset payload beyond the receiver's set-max-intset-entries.
		oracleCase{name: "intset converts on restore", setup: [][]string{bigInts}, keys: []string{"sbigint"},
			redisConfig: [][]string{{"CONFIG", "SET", "set-max-intset-entries", "1000"}},
			cfg:         func(c *Config) { c.SetMaxIntsetEntries = 1000 }},
	)

	// Sorted sets.
	zlp := []string{"ZADD", "zlp", "1.5", "a", "3", "b", "0", "c", "-0", "d", "1e300", "e", "1e18", "f",
		"5e18", "g", "0.1", "h", "inf", "i", "-inf", "j", "-2.5", "k", "4611686018427387904", "l",
		"4611686018427387903", "m", "-17", "n", "3.0000000000000004", "o", "1e-300", "p", "123456789012", "q"}
	zbig := []string{"ZADD", "zbig"}
	for i := 0; i < 300; i++ {
		zbig = append(zbig, strconv.FormatFloat(float64(i%50)/7, 'g', -1, 64), "zm"+strconv.Itoa(i))
	}
	cases = append(cases,
		oracleCase{name: "zsets", setup: [][]string{zlp, zbig, {"ZADD", "zlong", "1", strings.Repeat("L", 100), "2", "x"},
			{"ZADD", "zneg0", "-0", "a"}, {"ZADD", "zint", "1", "1", "2", "2", "3", "300"}},
			keys: []string{"zlp", "zbig", "zlong", "zneg0", "zint"}, sameBytes: true},
		// A listpack payload beyond the receiver's zset-max-listpack-entries.
		oracleCase{name: "zset converts on restore", setup: [][]string{zbig}, keys: []string{"zbig"},
			redisConfig: [][]string{{"CONFIG", "SET", "zset-max-listpack-entries", "1000"}},
			cfg:         func(c *Config) { c.ZSetMaxListpackEntries = 1000 }},
	)

	// Hashes.
	hlp := []string{"HSET", "hlp"}
	for i, v := range ints {
		hlp = append(hlp, "f"+strconv.Itoa(i), v)
	}
	hlp = append(hlp, "123", "numeric field", "", "empty field")
	hbig := []string{"HSET", "hbig"}
	for i := 0; i < 700; i++ {
		hbig = append(hbig, "field:"+strconv.Itoa(i), strconv.Itoa(i*i))
	}
	cases = append(cases,
		oracleCase{name: "hashes", setup: [][]string{hlp, hbig, {"HSET", "hlong", "f", strings.Repeat("v", 100), "g", "1"}},
			keys: []string{"hlp", "hbig", "hlong"}},
		oracleCase{name: "hash listpacks", setup: [][]string{hlp, {"HSET", "hdel", "a", "1", "b", "2", "c", "3"}, {"HDEL", "hdel", "b"}},
			keys: []string{"hlp", "hdel"}, sameBytes: true},
		// Long values in a listpack payload stay in the listpack, as Redis
		// checks only the number of entries on load.
		oracleCase{name: "hash listpack with long values", setup: [][]string{{"HSET", "hlv", "f", strings.Repeat("v", 200)}},
			keys:        []string{"hlv"},
			redisConfig: [][]string{{"CONFIG", "SET", "hash-max-listpack-value", "1000"}},
			cfg:         func(c *Config) { c.HashMaxListpackValue = 1000 }},
	)
	return cases
}

// redisDefaults puts back the settings oracle cases change.
var redisDefaults = [][]string{
	{"CONFIG", "SET", "list-max-listpack-size", "-2"},
	{"CONFIG", "SET", "list-compress-depth", "0"},
	{"CONFIG", "SET", "set-max-intset-entries", "512"},
	{"CONFIG", "SET", "zset-max-listpack-entries", "128"},
	{"CONFIG", "SET", "hash-max-listpack-value", "64"},
	{"DEBUG", "QUICKLIST-PACKED-THRESHOLD", "1073741824"},
}

func TestDumpRestoreOracle(t *testing.T) {
	rc := scripttest.StartOracle(t)
	const now = 1_700_000_000_000
	for _, oc := range oracleCases() {
		t.Run(oc.name, func(t *testing.T) {
			rc.Do(t, []string{"FLUSHALL"}, 2)
			for _, c := range redisDefaults {
				rc.Do(t, c, 2)
			}
			for _, c := range oc.redisConfig {
				if r := rc.Do(t, c, 2); r != "+OK" {
					t.Fatalf("%q: %s", c, r)
				}
			}
			db := New(1)
			if oc.cfg != nil {
				cfg := db.Config()
				oc.cfg(&cfg)
				db.SetConfig(cfg)
			}
			flo := func(args ...string) string { return run1(t, db, now, 1, args...) }
			red := func(args ...string) string { return rc.Do(t, args, 2) }
			for _, c := range oc.setup {
				if a, b := flo(c...), red(c...); a != b {
					t.Fatalf("setup %q: flotilla %s, redis %s", c[:min(len(c), 3)], a, b)
				}
			}
			// Restore with default settings on both sides.
			for _, c := range redisDefaults {
				rc.Do(t, c, 2)
			}
			db.SetConfig(DefaultConfig())
			for _, key := range oc.keys {
				want := contents(t, red, key)
				if got := contents(t, flo, key); got != want {
					t.Fatalf("%s: setup differs:\nflotilla %.300s\nredis    %.300s", key, got, want)
				}
				redisDump := parseReply(t, red("DUMP", key))[0]
				floDump := parseReply(t, flo("DUMP", key))[0]
				if oc.sameBytes && redisDump != floDump {
					t.Errorf("%s: DUMP differs:\nflotilla %q\nredis    %q", key, trunc(floDump), trunc(redisDump))
				}
				// Redis's payload in Flotilla.
				if r := flo("RESTORE", key+":fromredis", "0", redisDump); r != "+OK" {
					t.Fatalf("%s: Flotilla RESTORE of Redis's payload: %s", key, r)
				}
				if got := contents(t, flo, key+":fromredis"); got != want {
					t.Errorf("%s: restored from Redis:\nflotilla %.300s\nredis    %.300s", key, got, want)
				}
				// Flotilla's payload in Redis.
				if r := red("RESTORE", key+":fromflotilla", "0", floDump); r != "+OK" {
					t.Fatalf("%s: Redis RESTORE of Flotilla's payload: %s", key, r)
				}
				if got := contents(t, red, key+":fromflotilla"); got != want {
					t.Errorf("%s: restored in Redis:\nredis %.300s\nwant  %.300s", key, got, want)
				}
				// Both payloads restore to the same encoding on both sides.
				red("RESTORE", key+":fromredis", "0", redisDump)
				flo("RESTORE", key+":fromflotilla", "0", floDump)
				for _, k := range []string{key + ":fromredis", key + ":fromflotilla"} {
					if a, b := flo("OBJECT", "ENCODING", k), red("OBJECT", "ENCODING", k); a != b {
						t.Errorf("%s: OBJECT ENCODING flotilla %s, redis %s", k, a, b)
					}
				}
			}
		})
	}
}

func trunc(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

// ---- payloads in older formats, which Redis 7.0 still loads ----

// ziplistOf encodes a ziplist as Redis before 7.0 did.
func ziplistOf(elems []string) []byte {
	zl := make([]byte, zlHeaderSize)
	prevlen, tail := 0, zlHeaderSize
	for _, e := range elems {
		tail = len(zl)
		if prevlen < zlBigPrevlen {
			zl = append(zl, byte(prevlen))
		} else {
			zl = append(zl, zlBigPrevlen)
			zl = binary.LittleEndian.AppendUint32(zl, uint32(prevlen))
		}
		if v, ok := parseInt([]byte(e)); ok && len(e) <= 32 {
			switch {
			case v >= 0 && v <= 12:
				zl = append(zl, byte(zlIntImmMin+v))
			case v >= -128 && v <= 127:
				zl = append(zl, zlInt8B, byte(v))
			case v >= -32768 && v <= 32767:
				zl = append(zl, zlInt16B)
				zl = binary.LittleEndian.AppendUint16(zl, uint16(v))
			case v >= -8388608 && v <= 8388607:
				zl = append(zl, zlInt24B, byte(v), byte(v>>8), byte(v>>16))
			case v >= -2147483648 && v <= 2147483647:
				zl = append(zl, zlInt32B)
				zl = binary.LittleEndian.AppendUint32(zl, uint32(v))
			default:
				zl = append(zl, zlInt64B)
				zl = binary.LittleEndian.AppendUint64(zl, uint64(v))
			}
		} else {
			n := len(e)
			switch {
			case n <= 0x3f:
				zl = append(zl, byte(n))
			case n <= 0x3fff:
				zl = append(zl, byte(n>>8)|zlStr14B, byte(n))
			default:
				zl = append(zl, zlStr32B)
				zl = binary.BigEndian.AppendUint32(zl, uint32(n))
			}
			zl = append(zl, e...)
		}
		prevlen = len(zl) - tail
	}
	zl = append(zl, zlEnd)
	binary.LittleEndian.PutUint32(zl, uint32(len(zl)))
	binary.LittleEndian.PutUint32(zl[4:], uint32(tail))
	binary.LittleEndian.PutUint16(zl[8:], uint16(min(len(elems), 65535)))
	return zl
}

// payloadOf wraps an RDB object (type byte and value) into a DUMP payload.
func payloadOf(body []byte) string {
	p := append(bytes.Clone(body), rdbVersion, 0)
	return string(binary.LittleEndian.AppendUint64(p, crc64Jones(0, p)))
}

func rdbString(w *rdbWriter, s string) { w.saveRawString([]byte(s)) }

// legacyPayloads returns payloads in the encodings of RDB versions before
// 10 (and the plain forms), with the contents they hold.
func legacyPayloads() map[string]string {
	out := map[string]string{}
	elems := []string{"a", "1", "-1", "12", "13", "200", "-200", "70000", "-70000", "9000000", "3000000000",
		"-9223372036854775808", strings.Repeat("s", 70), strings.Repeat("t", 20000), "007"}
	for i := 0; i < 300; i++ {
		elems = append(elems, "x"+strconv.Itoa(i))
	}
	// RDB_TYPE_LIST_ZIPLIST
	w := &rdbWriter{}
	w.buf = append(w.buf, rdbTypeListZiplist)
	w.saveRawString(ziplistOf(elems))
	out["list ziplist"] = payloadOf(w.buf)
	// RDB_TYPE_LIST_QUICKLIST: nodes of ziplists.
	w = &rdbWriter{}
	w.buf = append(w.buf, rdbTypeListQuicklist)
	w.saveLen(3)
	w.saveRawString(ziplistOf(elems[:10]))
	w.saveRawString(ziplistOf(elems[10:200]))
	w.saveRawString(ziplistOf(elems[200:]))
	out["list quicklist"] = payloadOf(w.buf)
	// RDB_TYPE_LIST: plain strings.
	w = &rdbWriter{}
	w.buf = append(w.buf, rdbTypeList)
	w.saveLen(uint64(len(elems)))
	for _, e := range elems {
		rdbString(w, e)
	}
	out["list linked"] = payloadOf(w.buf)
	// RDB_TYPE_ZSET_ZIPLIST: member, score pairs sorted by score.
	zs := []string{"a", "-inf", "b", "-1.5", "1", "0", "c", "1", "d", "2.5", strings.Repeat("m", 70), "4", "big", "3000000000", "z", "inf"}
	w = &rdbWriter{}
	w.buf = append(w.buf, rdbTypeZSetZiplist)
	w.saveRawString(ziplistOf(zs))
	out["zset ziplist"] = payloadOf(w.buf)
	// RDB_TYPE_ZSET: scores as strings.
	w = &rdbWriter{}
	w.buf = append(w.buf, rdbTypeZSet)
	w.saveLen(uint64(len(zs) / 2))
	for i := 0; i < len(zs); i += 2 {
		rdbString(w, zs[i])
		switch zs[i+1] {
		case "inf":
			w.buf = append(w.buf, 254)
		case "-inf":
			w.buf = append(w.buf, 255)
		default:
			w.buf = append(w.buf, byte(len(zs[i+1])))
			w.buf = append(w.buf, zs[i+1]...)
		}
	}
	out["zset strings"] = payloadOf(w.buf)
	// RDB_TYPE_HASH_ZIPLIST
	hs := []string{"f1", "v1", "f2", "2", "3", "three", "f4", strings.Repeat("v", 100), "f5", "-9223372036854775808"}
	w = &rdbWriter{}
	w.buf = append(w.buf, rdbTypeHashZiplist)
	w.saveRawString(ziplistOf(hs))
	out["hash ziplist"] = payloadOf(w.buf)
	// RDB_TYPE_HASH, small: a listpack on load.
	w = &rdbWriter{}
	w.buf = append(w.buf, rdbTypeHash)
	w.saveLen(uint64(len(hs) / 2))
	for _, s := range hs {
		rdbString(w, s)
	}
	out["hash plain"] = payloadOf(w.buf)
	// RDB_TYPE_SET with integers only: an intset on load.
	w = &rdbWriter{}
	w.buf = append(w.buf, rdbTypeSet)
	w.saveLen(4)
	for _, s := range []string{"5", "-3", "100000", "9000000000"} {
		rdbString(w, s)
	}
	out["set of ints"] = payloadOf(w.buf)
	// RDB_TYPE_ZSET_2 with a handful of elements: a listpack on load.
	w = &rdbWriter{}
	w.buf = append(w.buf, rdbTypeZSet2)
	w.saveLen(3)
	for i, m := range []string{"c", "a", "b"} {
		rdbString(w, m)
		w.buf = binary.LittleEndian.AppendUint64(w.buf, math.Float64bits(float64(1+i)))
	}
	out["zset2 unordered"] = payloadOf(w.buf)
	return out
}

func TestRestoreLegacyOracle(t *testing.T) {
	rc := scripttest.StartOracle(t)
	db := New(1)
	for name, p := range legacyPayloads() {
		t.Run(name, func(t *testing.T) {
			flo := func(args ...string) string { return run1(t, db, 1_700_000_000_000, 1, args...) }
			red := func(args ...string) string { return rc.Do(t, args, 2) }
			a, b := flo("RESTORE", name, "0", p, "REPLACE"), red("RESTORE", name, "0", p, "REPLACE")
			if a != b {
				t.Fatalf("RESTORE: flotilla %s, redis %s", a, b)
			}
			if b != "+OK" {
				return
			}
			if x, y := contents(t, flo, name), contents(t, red, name); x != y {
				t.Errorf("contents:\nflotilla %.300s\nredis    %.300s", x, y)
			}
			if x, y := flo("OBJECT", "ENCODING", name), red("OBJECT", "ENCODING", name); x != y {
				t.Errorf("encoding: flotilla %s, redis %s", x, y)
			}
		})
	}
}

// TestRestoreSanitizeOracle restores corrupted payloads (with valid
// checksums) in Flotilla and in Redis with sanitize-dump-payload yes: what
// one refuses the other must refuse, what both accept must read the same.
// The known difference: Redis does not look at the scores in a sorted set
// listpack (it does not check their order, and a score that is not a
// number reads as whatever strtod makes of it); Flotilla sorts the
// elements and refuses scores that are not numbers.
var (
	sanitizeSeed = flag.Uint64("sanitize-seed", 22, "seed of TestRestoreSanitizeOracle's mutations")
	sanitizeN    = flag.Int("sanitize-n", 3000, "payloads TestRestoreSanitizeOracle tries")
)

func TestRestoreSanitizeOracle(t *testing.T) {
	rc := scripttest.StartOracle(t)
	red := func(args ...string) string { return rc.Do(t, args, 2) }
	if r := red("CONFIG", "SET", "sanitize-dump-payload", "yes"); r != "+OK" {
		t.Fatal(r)
	}
	rng := rand.New(rand.NewPCG(21, *sanitizeSeed))
	seeds := restoreSeeds(t)
	n := *sanitizeN
	if raceEnabled {
		n /= 10
	}
	if testing.Short() {
		n = 500
	}
	accepted := 0
	for i := 0; i < n; i++ {
		seed := seeds[rng.IntN(len(seeds))]
		body := bytes.Clone(seed)
		for m := 1 + rng.IntN(2); m > 0 && len(body) > 1; m-- {
			p := 1 + rng.IntN(len(body)-1) // keep the type byte
			switch rng.IntN(4) {
			case 0:
				body[p] = byte(rng.IntN(256))
			case 1:
				body[p] ^= 1 << rng.IntN(8)
			case 2:
				body = body[:p]
			default:
				body = append(body[:p], body[min(len(body), p+1+rng.IntN(4)):]...)
			}
		}
		p := payloadOf(body)
		db := New(1)
		flo := func(args ...string) string { return run1(t, db, 1_700_000_000_000, 1, args...) }
		a := flo("RESTORE", "k", "0", p)
		b := red("RESTORE", "k", "0", p, "REPLACE")
		if r := red("PING"); r != "+PONG" {
			t.Fatalf("Redis died on payload %q", p)
		}
		zsetLP := body[0] == rdbTypeZSetListpack || body[0] == rdbTypeZSetZiplist
		if a != b {
			if zsetLP && b == "+OK" {
				continue
			}
			t.Errorf("payload %q (type %d): flotilla %s, redis %s", trunc(p), body[0], a, b)
			continue
		}
		if a != "+OK" {
			continue
		}
		accepted++
		x, y := contents(t, flo, "k"), contents(t, red, "k")
		if x != y && !zsetLP {
			t.Errorf("payload %q: contents\nflotilla %.300s\nredis    %.300s", trunc(p), x, y)
		}
		red("DEL", "k")
	}
	t.Logf("%d of %d corrupted payloads accepted by both", accepted, n)
}
