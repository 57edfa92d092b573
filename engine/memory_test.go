package engine

import (
	"strconv"
	"strings"
	"testing"
)

const memNow = 1_700_000_000_000

// TestDebugObjectSerializedLen checks the serialized length estimate against
// what Redis 7.0.15's DEBUG OBJECT says for the same values (values short
// enough that Redis does not LZF-compress them).
func TestDebugObjectSerializedLen(t *testing.T) {
	db := New(1)
	for _, cmd := range []string{
		"SET s bar",
		"SET i 12345",
		"SET big 123456789012",
		"RPUSH l a b c",
		"HSET h a 1 b 2",
		"SADD st 1 2 3",
		"SADD ss a b c",
		"ZADD z 1 a 2 b",
		"ZADD zf 1.5 a",
	} {
		hsRun(t, db, 1, 2, strings.Fields(cmd)...)
	}
	for _, tc := range []struct {
		key, enc   string
		serialized int64
	}{
		{"s", "embstr", 4},
		{"i", "int", 3},
		{"big", "int", 13},
		{"l", "quicklist", 19},
		{"h", "listpack", 18},
		{"st", "intset", 15},
		{"ss", "hashtable", 7},
		{"z", "listpack", 18},
		{"zf", "listpack", 16},
	} {
		d, ok := db.DebugObject([]byte(tc.key), memNow)
		if !ok {
			t.Fatalf("%s: missing", tc.key)
		}
		if d.Encoding != tc.enc || d.SerializedLen != tc.serialized {
			t.Errorf("%s: encoding %s serializedlength %d, want %s %d", tc.key, d.Encoding, d.SerializedLen, tc.enc, tc.serialized)
		}
	}
	d, _ := db.DebugObject([]byte("l"), memNow)
	if d.ListNodes != 1 || d.ListLen != 3 || d.ListFill != -2 || d.ListPackedSize != 16 {
		t.Errorf("quicklist details %+v, want 1 node of 3, fill -2, 16 bytes", d)
	}
	if d.LRU != uint32(memNow/1000)&(1<<24-1) || d.Idle != 0 {
		t.Errorf("lru %d idle %d", d.LRU, d.Idle)
	}
	if d, _ := db.DebugObject([]byte("l"), memNow+5000); d.Idle != 5 {
		t.Errorf("idle after 5s = %d", d.Idle)
	}
	if _, ok := db.DebugObject([]byte("nokey"), memNow); ok {
		t.Error("DebugObject of a missing key")
	}
}

func TestMemoryUsage(t *testing.T) {
	db := New(1)
	hsRun(t, db, 1, 2, "SET", "k", "v")
	hsRun(t, db, 1, 2, "SET", "big", strings.Repeat("x", 1000))
	small, ok := db.MemoryUsage([]byte("k"), memNow, 5)
	if !ok || small <= 0 {
		t.Fatalf("MemoryUsage(k) = %d %v", small, ok)
	}
	big, _ := db.MemoryUsage([]byte("big"), memNow, 5)
	if big < 1000 || big <= small {
		t.Errorf("MemoryUsage(big) = %d, small %d", big, small)
	}
	if _, ok := db.MemoryUsage([]byte("nokey"), memNow, 5); ok {
		t.Error("MemoryUsage of a missing key")
	}
	hsRun(t, db, 1, 2, "PEXPIREAT", "k", strconv.Itoa(memNow+10))
	withTTL, _ := db.MemoryUsage([]byte("k"), memNow, 5)
	if withTTL <= small {
		t.Errorf("a TTL costs nothing: %d vs %d", withTTL, small)
	}
	if _, ok := db.MemoryUsage([]byte("k"), memNow+11, 5); ok {
		t.Error("MemoryUsage of an expired key")
	}

	// A hashtable-encoded hash: sampling every element and the default
	// agree when the elements are alike, and the size grows with them.
	args := []string{"HSET", "h"}
	for i := 0; i < 1000; i++ {
		args = append(args, "field:"+strconv.Itoa(i), strings.Repeat("v", 100))
	}
	hsRun(t, db, 1, 2, args...)
	all, _ := db.MemoryUsage([]byte("h"), memNow, 0)
	five, _ := db.MemoryUsage([]byte("h"), memNow, 5)
	if all < 1000*100 || five < 1000*100 {
		t.Errorf("hash of 100 KB: %d (all) %d (5 samples)", all, five)
	}
	if d := all - five; d > all/10 || d < -all/10 {
		t.Errorf("sampled %d vs all %d", five, all)
	}

	main, expires, slots := db.MemoryOverhead()
	if main <= 0 || expires <= 0 || slots <= 0 {
		t.Errorf("MemoryOverhead = %d %d %d", main, expires, slots)
	}
}

func TestPopulate(t *testing.T) {
	db := New(1)
	hsRun(t, db, 1, 2, "SET", "key:1", "mine")
	if n := db.Populate(3, []byte("key"), 0, memNow); n != 2 {
		t.Errorf("Populate created %d keys, want 2", n)
	}
	for key, want := range map[string]string{"key:0": `"value:0"`, "key:1": `"mine"`, "key:2": `"value:2"`} {
		if got := hsRun(t, db, 1, 2, "GET", key); got != want {
			t.Errorf("GET %s = %s, want %s", key, got, want)
		}
	}
	db.Populate(2, []byte("p"), 10, memNow)
	if got := hsRun(t, db, 1, 2, "GET", "p:1"); got != strconv.Quote("value:1\x00\x00\x00") {
		t.Errorf("padded value = %s", got)
	}
	db.Populate(1, []byte("q"), 3, memNow)
	if got := hsRun(t, db, 1, 2, "GET", "q:0"); got != `"val"` {
		t.Errorf("truncated value = %s", got)
	}
	long := strings.Repeat("x", 200)
	db.Populate(1, []byte(long), 0, memNow)
	if !db.Contains([]byte(long[:127])) {
		t.Error("a long name is not truncated to 127 bytes")
	}
}
