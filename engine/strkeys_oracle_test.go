package engine

import (
	"github.com/flotilla-db/flotilla/engine/scripttest"

	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestDifferentialStrings sends random string and key commands to the
// engine and to a real redis-server (with -oracle) and compares every
// reply. It covers the arithmetic of ranges (GETRANGE, SETRANGE, BITCOUNT,
// BITPOS with BYTE and BIT), INCRBYFLOAT's long double digits and the
// encodings OBJECT reports.
func TestDifferentialStrings(t *testing.T) {
	if !*oracle {
		t.Skip("needs -oracle")
	}
	rc := scripttest.StartOracle(t)
	for seed := uint64(0); seed < 5; seed++ {
		rc.Do(t, []string{"FLUSHALL"}, 2)
		differentialStrings(t, rc, rand.New(rand.NewPCG(11, seed)))
	}
}

func differentialStrings(t *testing.T, rc *scripttest.Conn, rng *rand.Rand) {
	db := New(1)
	keys := []string{"a", "b", "{a}c", "n"}
	key := func() string { return keys[rng.IntN(len(keys))] }
	idx := func() string {
		switch rng.IntN(10) {
		case 0:
			return []string{"-9223372036854775808", "9223372036854775807", "-100", "100"}[rng.IntN(4)]
		default:
			return strconv.Itoa(rng.IntN(51) - 25)
		}
	}
	bitIdx := func() string { return strconv.Itoa(rng.IntN(201) - 100) }
	unit := func() []string {
		switch rng.IntN(3) {
		case 0:
			return nil
		case 1:
			return []string{"BYTE"}
		}
		return []string{"BIT"}
	}
	value := func() string {
		switch rng.IntN(6) {
		case 0:
			return strconv.Itoa(rng.IntN(20000) - 100)
		case 1:
			b := make([]byte, rng.IntN(6))
			for i := range b {
				b[i] = byte(rng.IntN(256))
			}
			return string(b)
		case 2:
			return strings.Repeat("x", rng.IntN(60))
		case 3:
			return strconv.FormatFloat(rng.Float64()*1000-500, 'f', rng.IntN(8), 64)
		case 4:
			return []string{"", "0", "-0", "007", "1e3", "0x1A", " 1", "inf", "1.5e-3"}[rng.IntN(9)]
		}
		return "v" + strconv.Itoa(rng.IntN(100))
	}
	float := func() string {
		switch rng.IntN(4) {
		case 0:
			return strconv.FormatFloat(rng.Float64()*100-50, 'f', rng.IntN(20), 64)
		case 1:
			return strconv.FormatFloat(rng.NormFloat64()*1e6, 'e', rng.IntN(10), 64)
		case 2:
			return strconv.Itoa(rng.IntN(2000) - 1000)
		}
		return []string{"0.1", "-0.1", "1e17", "3.0000000000000000001", "0x10", "1e-20", "5.5", "-5.5"}[rng.IntN(8)]
	}
	for i := 0; i < 6000; i++ {
		var cmd []string
		switch rng.IntN(27) {
		case 24:
			cmd = []string{"BITOP", []string{"AND", "OR", "XOR", "NOT"}[rng.IntN(4)], key(), key()}
			if cmd[1] != "NOT" {
				cmd = append(cmd, key())
			}
		case 25:
			cmd = []string{[]string{"BITFIELD", "BITFIELD_RO"}[rng.IntN(2)], key()}
			for range 1 + rng.IntN(4) {
				typ := []string{"i", "u"}[rng.IntN(2)] + strconv.Itoa(1+rng.IntN(64))
				off := strconv.Itoa(rng.IntN(80))
				if rng.IntN(4) == 0 {
					off = "#" + strconv.Itoa(rng.IntN(5))
				}
				v := strconv.FormatInt(rng.Int64()>>rng.IntN(64)-rng.Int64()>>rng.IntN(64), 10)
				switch rng.IntN(4) {
				case 0:
					cmd = append(cmd, "GET", typ, off)
				case 1:
					cmd = append(cmd, "SET", typ, off, v)
				case 2:
					cmd = append(cmd, "INCRBY", typ, off, v)
				case 3:
					cmd = append(cmd, "OVERFLOW", []string{"WRAP", "SAT", "FAIL"}[rng.IntN(3)])
				}
			}
		case 26:
			cmd = []string{"LCS", key(), key()}
			for _, opt := range []string{"IDX", "LEN", "WITHMATCHLEN"} {
				if rng.IntN(3) == 0 {
					cmd = append(cmd, opt)
				}
			}
			if rng.IntN(3) == 0 {
				cmd = append(cmd, "MINMATCHLEN", strconv.Itoa(rng.IntN(4)))
			}
		case 0, 1:
			cmd = []string{"SET", key(), value()}
		case 2:
			cmd = []string{"APPEND", key(), value()}
		case 3:
			cmd = []string{"SETRANGE", key(), strconv.Itoa(rng.IntN(20)), value()}
		case 4:
			cmd = []string{"GETRANGE", key(), idx(), idx()}
		case 5:
			cmd = []string{"SETBIT", key(), strconv.Itoa(rng.IntN(100)), strconv.Itoa(rng.IntN(2))}
		case 6:
			cmd = []string{"GETBIT", key(), strconv.Itoa(rng.IntN(100))}
		case 7:
			switch rng.IntN(3) {
			case 0:
				cmd = []string{"BITCOUNT", key()}
			default:
				cmd = append([]string{"BITCOUNT", key(), bitIdx(), bitIdx()}, unit()...)
			}
		case 8, 9:
			cmd = []string{"BITPOS", key(), strconv.Itoa(rng.IntN(2))}
			switch rng.IntN(4) {
			case 1:
				cmd = append(cmd, bitIdx())
			case 2:
				cmd = append(cmd, bitIdx(), bitIdx())
			case 3:
				cmd = append(append(cmd, bitIdx(), bitIdx()), unit()...)
			}
		case 10, 11:
			cmd = []string{"INCRBYFLOAT", key(), float()}
		case 12:
			cmd = []string{"INCRBY", key(), strconv.Itoa(rng.IntN(30000) - 15000)}
		case 13:
			cmd = []string{"STRLEN", key()}
		case 14:
			cmd = []string{"OBJECT", "ENCODING", key()}
		case 15:
			cmd = []string{"OBJECT", "REFCOUNT", key()}
		case 16:
			cmd = []string{"GETDEL", key()}
		case 17:
			cmd = []string{"COPY", key(), key(), "REPLACE"}
		case 18:
			cmd = []string{"RENAME", key(), key()}
		case 19:
			cmd = []string{"MGET", key(), key(), key()}
		case 20:
			cmd = []string{"MSETNX", key(), value(), key(), value()}
		case 21:
			cmd = []string{"GETSET", key(), value()}
		case 22:
			cmd = []string{"DECRBY", key(), strconv.Itoa(rng.IntN(100))}
		case 23:
			cmd = []string{"GET", key()}
		}
		before := ""
		if len(cmd) > 1 {
			before = run1(t, db, 1_700_000_000_000, 0, "GET", cmd[1])
		}
		got := run1(t, db, 1_700_000_000_000, 0, cmd...)
		want := rc.Do(t, cmd, 2)
		if got != want {
			t.Fatalf("step %d: %q\nengine: %s\nredis:  %s\nvalue before: %s", i, cmd, got, want, before)
		}
	}
}

// TestDifferentialKeys is TestDifferentialStrings for the expiry and key
// commands. The engine runs at the wall clock's time (this is a test), and
// only replies that do not depend on the millisecond are compared: TTL in
// seconds of times far apart, EXPIRETIME of absolute times.
func TestDifferentialKeys(t *testing.T) {
	if !*oracle {
		t.Skip("needs -oracle")
	}
	rc := scripttest.StartOracle(t)
	for seed := uint64(0); seed < 5; seed++ {
		rc.Do(t, []string{"FLUSHALL"}, 2)
		differentialKeys(t, rc, rand.New(rand.NewPCG(21, seed)))
	}
}

func differentialKeys(t *testing.T, rc *scripttest.Conn, rng *rand.Rand) {
	db := New(1)
	keys := []string{"a", "b", "{a}c", "n"}
	key := func() string { return keys[rng.IntN(len(keys))] }
	opts := func() []string {
		all := []string{"NX", "XX", "GT", "LT"}
		var out []string
		for range rng.IntN(3) {
			out = append(out, all[rng.IntN(4)])
		}
		return out
	}
	secs := func() string { return strconv.Itoa((rng.IntN(21) - 3) * 1000) }
	abs := func() string {
		base := time.Now().Unix()
		return strconv.FormatInt(base+int64(rng.IntN(21)-3)*1000, 10)
	}
	for i := 0; i < 5000; i++ {
		var cmd []string
		switch rng.IntN(20) {
		case 0, 1:
			cmd = []string{"SET", key(), "v"}
		case 2:
			cmd = []string{"SET", key(), "v", "EX", strconv.Itoa(1000 * (1 + rng.IntN(10)))}
		case 3:
			cmd = []string{"SET", key(), "v", "KEEPTTL"}
		case 4, 5:
			cmd = append([]string{"EXPIRE", key(), secs()}, opts()...)
		case 6:
			cmd = append([]string{"EXPIREAT", key(), abs()}, opts()...)
		case 7:
			cmd = append([]string{"PEXPIREAT", key(), abs() + "000"}, opts()...)
		case 8:
			cmd = append([]string{"PEXPIRE", key(), secs() + "000"}, opts()...)
		case 9, 10:
			cmd = []string{"TTL", key()}
		case 11:
			cmd = []string{"EXPIRETIME", key()}
		case 12:
			cmd = []string{"PERSIST", key()}
		case 13:
			cmd = []string{"RENAME", key(), key()}
		case 14:
			cmd = []string{"RENAMENX", key(), key()}
		case 15:
			cmd = []string{"COPY", key(), key(), []string{"REPLACE", "DB", "replace"}[rng.IntN(3)], "0"}[:3+rng.IntN(2)]
		case 16:
			cmd = []string{"DEL", key(), key()}
		case 17:
			cmd = []string{"EXISTS", key(), key(), key()}
		case 18:
			cmd = []string{"DBSIZE"}
		case 19:
			cmd = []string{"GETEX", key(), []string{"EX", "EXAT", "PERSIST"}[rng.IntN(3)], abs()}
			if cmd[2] == "PERSIST" {
				cmd = cmd[:3]
			}
		}
		got := run1(t, db, time.Now().UnixMilli(), 0, cmd...)
		want := rc.Do(t, cmd, 2)
		if got != want {
			t.Fatalf("step %d: %q\nengine: %s\nredis:  %s", i, cmd, got, want)
		}
	}
}
