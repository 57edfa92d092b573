package cluster

import (
	"strings"
	"testing"
)

// TestDebugReload saves the keyspace to a snapshot and loads it back: the
// digest, the values, the encodings and the TTLs are unchanged.
func TestDebugReload(t *testing.T) {
	s := startServer(t)
	r := dialRaw(t, s)
	for _, cmd := range [][]string{
		{"SET", "s", "v"}, {"SET", "n", "12345"}, {"PEXPIRE", "s", "100000"},
		{"RPUSH", "l", "a", "b", "c"}, {"SADD", "is", "1", "2", "3"}, {"SADD", "ss", "x", "y"},
		{"HSET", "h", "f", "v"}, {"ZADD", "z", "1", "a", "2.5", "b"},
	} {
		if got := r.do(cmd...); strings.HasPrefix(got, "-") {
			t.Fatalf("%v: %s", cmd, got)
		}
	}
	before := r.do("DEBUG", "DIGEST")
	if before == `"0000000000000000000000000000000000000000"` || len(before) != 42 {
		t.Fatalf("DEBUG DIGEST = %s", before)
	}
	value := r.do("DEBUG", "DIGEST-VALUE", "z", "nokey")
	if got := r.do("DEBUG", "RELOAD"); got != "+OK" {
		t.Fatalf("DEBUG RELOAD = %s", got)
	}
	if got := r.do("DEBUG", "DIGEST"); got != before {
		t.Errorf("digest after reload %s, before %s", got, before)
	}
	if got := r.do("DEBUG", "DIGEST-VALUE", "z", "nokey"); got != value {
		t.Errorf("DIGEST-VALUE after reload %s, before %s", got, value)
	}
	for cmd, want := range map[string]string{
		"LRANGE l 0 -1":      `["a" "b" "c"]`,
		"OBJECT ENCODING is": `"intset"`,
		"OBJECT ENCODING n":  `"int"`,
		"ZSCORE z b":         `"2.5"`,
		"HGET h f":           `"v"`,
		"DBSIZE":             ":7",
	} {
		if got := r.do(strings.Fields(cmd)...); got != want {
			t.Errorf("%s after reload = %s, want %s", cmd, got, want)
		}
	}
	if got := r.do("PTTL", "s"); got <= ":90000" && len(got) < 6 {
		t.Errorf("PTTL after reload = %s", got)
	}
	if got := r.do("FLUSHALL"); got != "+OK" {
		t.Fatal(got)
	}
	if got := r.do("DEBUG", "DIGEST"); got != `"0000000000000000000000000000000000000000"` {
		t.Errorf("digest of an empty keyspace = %s", got)
	}
}
