package cluster

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestMemoryUsage(t *testing.T) {
	s := startServer(t)
	r := dialRaw(t, s)
	r.do("SET", "s", "bar")
	r.do("SET", "big", strings.Repeat("x", 10000))
	r.do("RPUSH", "l", "a", "b", "c")
	runCases(t, r, []cmdCase{
		{[]string{"MEMORY", "USAGE", "nokey"}, "(nil)"},
		{[]string{"MEMORY", "USAGE", "s", "SAMPLES", "x"}, "-ERR value is not an integer or out of range"},
		{[]string{"MEMORY", "USAGE", "s", "SAMPLES", "-1"}, "-ERR syntax error"},
		{[]string{"MEMORY", "USAGE", "s", "SAMPLES"}, "-ERR syntax error"},
		{[]string{"MEMORY", "USAGE", "s", "BAR", "1"}, "-ERR syntax error"},
		{[]string{"MEMORY", "USAGE", "nokey", "SAMPLES", "-1"}, "-ERR syntax error"},
		{[]string{"MEMORY", "USAGE"}, "-ERR wrong number of arguments for 'memory|usage' command"},
		{[]string{"MEMORY", "FOO"}, "-ERR unknown subcommand 'FOO'. Try MEMORY HELP."},
	})
	usage := func(args ...string) int64 {
		t.Helper()
		got := r.do(append([]string{"MEMORY", "USAGE"}, args...)...)
		if !matchRe(t, `:\d+`, got) {
			t.Fatalf("MEMORY USAGE %v = %s", args, got)
		}
		return atoi([]byte(got[1:]))
	}
	small, big := usage("s"), usage("big")
	if small < 3 || small > 200 || big < 10000 || big > 11000 {
		t.Errorf("MEMORY USAGE: s %d, big (10000 bytes) %d", small, big)
	}
	if usage("s", "SAMPLES", "0") != small || usage("l", "samples", "3") != usage("l") {
		t.Error("SAMPLES changes the size of values that are not sampled")
	}
	// A large hash is sampled: 5 samples by default, every field with 0.
	args := []string{"HSET", "h"}
	for i := 0; i < 2000; i++ {
		args = append(args, "f"+strconv.Itoa(i), strings.Repeat("v", 50))
	}
	r.do(args...)
	all, def := usage("h", "SAMPLES", "0"), usage("h")
	if all < 2000*50 || def < 2000*50 || def > all*11/10 || def < all*9/10 {
		t.Errorf("hash of 2000 fields: %d (all), %d (default samples)", all, def)
	}
	// RESP3's null.
	r.do("HELLO", "3")
	runCases(t, r, []cmdCase{{[]string{"MEMORY", "USAGE", "nokey"}, "(nil)"}})
	if got := r.do("MEMORY", "USAGE", "s"); got != ":"+strconv.FormatInt(small, 10) {
		t.Errorf("RESP3 MEMORY USAGE s = %s", got)
	}
	// An expired key has no size.
	r.do("SET", "e", "v", "PX", "1")
	for r.do("PTTL", "e") != ":-2" {
	}
	runCases(t, r, []cmdCase{{[]string{"MEMORY", "USAGE", "e"}, "(nil)"}})
}

// statsKeys returns the keys of a rendered MEMORY STATS reply (RESP2: a
// flat array) in order, with db.0's own keys.
func statsKeys(t testing.TB, reply string) []string {
	t.Helper()
	return regexp.MustCompile(`"([a-z][a-z0-9.\-]*)"`).FindAllString(reply, -1)
}

func TestMemoryStats(t *testing.T) {
	s := startServer(t)
	o := startRedis(t, true)
	f, r := dialRaw(t, s), dialAddr(t, o.addr)
	// The fields are Redis's, in its order, with and without keys.
	for _, setup := range [][]string{{"FLUSHALL"}, {"SET", "a", "b"}} {
		f.do(setup...)
		r.do(setup...)
		got, want := f.do("MEMORY", "STATS"), r.do("MEMORY", "STATS")
		if gk, wk := statsKeys(t, got), statsKeys(t, want); strings.Join(gk, " ") != strings.Join(wk, " ") {
			t.Errorf("after %v MEMORY STATS fields\nflotilla: %v\n   redis: %v", setup, gk, wk)
		}
		// RESP2: a flat array of names and integers or doubles (bulk).
		if !matchRe(t, `\[("[a-z0-9.\-]+" (:-?\d+|"-?\d+(\.\d+)?(e[-+]\d+)?"|\[[^\]]*\]) ?)+\]`, got) {
			t.Errorf("MEMORY STATS = %s", got)
		}
	}
	// RESP3: a map with doubles.
	f.do("HELLO", "3")
	got := f.do("MEMORY", "STATS")
	if !strings.HasPrefix(got, `{"peak.allocated": :`) || !strings.Contains(got, `"db.0": {"overhead.hashtable.main": :`) ||
		!matchRe(t, `.*"dataset\.percentage": ,[0-9.e+-]+,.*`, got) || !strings.Contains(got, `"keys.count": :1,`) {
		t.Errorf("RESP3 MEMORY STATS = %s", got)
	}
	// The numbers are the runtime's: the heap is not empty, the peak is at
	// least the current size.
	m := regexp.MustCompile(`"peak.allocated": :(\d+), "total.allocated": :(\d+),`).FindStringSubmatch(got)
	if m == nil || atoi([]byte(m[1])) < atoi([]byte(m[2])) || atoi([]byte(m[2])) <= 0 {
		t.Errorf("peak and total: %v", m)
	}
}

func TestMemoryDoctorAndHelp(t *testing.T) {
	s := startServer(t)
	o := startRedis(t, false)
	f, r := dialRaw(t, s), dialAddr(t, o.addr)
	checkHelpSubset(t, f.do("MEMORY", "HELP"), r.do("MEMORY", "HELP"))
	sameReplies(t, f, r, [][]string{
		{"MEMORY", "USAGE", "nokey"},
		{"MEMORY", "USAGE", "k", "SAMPLES", "x"},
		{"MEMORY", "USAGE", "k", "SAMPLES", "-1"},
		{"MEMORY", "USAGE", "k", "SAMPLES"},
		{"MEMORY", "USAGE", "k", "FOO", "1"},
		{"MEMORY", "NOPE"},
		{"MEMORY", "STATS", "x"},
		{"MEMORY", "DOCTOR", "x"},
		{"MEMORY"},
	}, nil)
	got := f.do("MEMORY", "DOCTOR")
	// A small heap gets the "empty" report, as a fresh Redis.
	if want := r.do("MEMORY", "DOCTOR"); got != want && !strings.HasPrefix(got, `"Sam, I detected a few issues`) {
		t.Errorf("MEMORY DOCTOR\nflotilla: %s\n   redis: %s", got, want)
	}
	// With data: a report of issues or none, in Redis's words.
	f.do("DEBUG", "POPULATE", "100000", "key", "100")
	got = f.do("MEMORY", "DOCTOR")
	if !strings.HasPrefix(got, `"Sam, I detected a few issues in this Redis instance memory implants:\n\n`) &&
		got != `"Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n"` {
		t.Errorf("MEMORY DOCTOR with 10 MB = %s", got)
	}
	f.do("HELLO", "3")
	if got := f.do("MEMORY", "DOCTOR"); !strings.HasPrefix(got, `"Sam, `) && !strings.HasPrefix(got, `"Hi Sam, `) {
		t.Errorf("RESP3 MEMORY DOCTOR = %s", got)
	}
}
