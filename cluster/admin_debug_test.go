package cluster

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestDebugErrors(t *testing.T) {
	s := startServer(t)
	o := startRedis(t, false)
	f, r := dialRaw(t, s), dialAddr(t, o.addr)
	sameReplies(t, f, r, [][]string{
		{"DEBUG"},
		{"DEBUG", "FOO"},
		{"DEBUG", "foo", "bar"},
		{"DEBUG", "SLEEP"},
		{"DEBUG", "SLEEP", "1", "2"},
		{"DEBUG", "SLEEP", "abc"},
		{"DEBUG", "SLEEP", "-1"},
		{"DEBUG", "SET-ACTIVE-EXPIRE"},
		{"DEBUG", "OBJECT"},
		{"DEBUG", "OBJECT", "a", "b"},
		{"DEBUG", "OBJECT", "nokey"},
		{"DEBUG", "CHANGE-REPL-ID", "x"},
		{"DEBUG", "POPULATE"},
		{"DEBUG", "POPULATE", "-1"},
		{"DEBUG", "POPULATE", "x"},
		{"DEBUG", "POPULATE", "2", "p", "-1"},
		{"DEBUG", "POPULATE", "2", "p", "x"},
		{"DEBUG", "POPULATE", "1", "2", "3", "4"},
		{"DEBUG", "LOG", "hello from the test"},
		{"DEBUG", "LOG"},
		{"DEBUG", "ERROR", "oops: something"},
		{"DEBUG", "ERROR", "multi\r\nline"},
		{"DEBUG", "HELP", "x"},
	}, nil)
	checkHelpSubset(t, f.do("DEBUG", "HELP"), r.do("DEBUG", "HELP"))
}

func TestDebugSleep(t *testing.T) {
	s := startServer(t)
	a, b := dialRaw(t, s), dialRaw(t, s)
	start := time.Now()
	runCases(t, a, []cmdCase{{[]string{"DEBUG", "SLEEP", "0.2"}, "+OK"}})
	if d := time.Since(start); d < 200*time.Millisecond || d > 2*time.Second {
		t.Errorf("DEBUG SLEEP 0.2 took %v", d)
	}
	runCases(t, a, []cmdCase{
		{[]string{"DEBUG", "SLEEP", "0"}, "+OK"},
		{[]string{"DEBUG", "SLEEP", "garbage"}, "+OK"},
		{[]string{"DEBUG", "SLEEP", "-3"}, "+OK"},
	})
	// While one client sleeps, commands on the data wait; PING does not.
	a.send("DEBUG", "SLEEP", "0.3")
	time.Sleep(50 * time.Millisecond)
	start = time.Now()
	runCases(t, b, []cmdCase{{[]string{"PING"}, "+PONG"}})
	if d := time.Since(start); d > 150*time.Millisecond {
		t.Errorf("PING waited %v for DEBUG SLEEP", d)
	}
	runCases(t, b, []cmdCase{{[]string{"SET", "k", "v"}, "+OK"}})
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("SET ran during DEBUG SLEEP (after %v)", d)
	}
	if got := a.read(); got != "+OK" {
		t.Errorf("DEBUG SLEEP = %s", got)
	}
	// Inside MULTI it sleeps too, holding the transaction's lock.
	runCases(t, a, []cmdCase{
		{[]string{"MULTI"}, "+OK"},
		{[]string{"DEBUG", "SLEEP", "0.05"}, "+QUEUED"},
		{[]string{"EXEC"}, "[+OK]"},
	})
	// A shutdown interrupts a long sleep.
	a.send("DEBUG", "SLEEP", "60")
	time.Sleep(50 * time.Millisecond)
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close waited for DEBUG SLEEP 60")
	}
}

func TestDebugSetActiveExpire(t *testing.T) {
	s := startServer(t, "hz", "100")
	r := dialRaw(t, s)
	runCases(t, r, []cmdCase{{[]string{"DEBUG", "SET-ACTIVE-EXPIRE", "0"}, "+OK"}})
	for i := 0; i < 50; i++ {
		r.do("SET", "k"+strconv.Itoa(i), "v", "PX", "10")
	}
	time.Sleep(300 * time.Millisecond)
	// Expired but not deleted: DBSIZE counts them, as Redis's.
	runCases(t, r, []cmdCase{{[]string{"DBSIZE"}, ":50"}})
	runCases(t, r, []cmdCase{{[]string{"DEBUG", "SET-ACTIVE-EXPIRE", "1"}, "+OK"}})
	deadline := time.Now().Add(5 * time.Second)
	for r.do("DBSIZE") != ":0" {
		if time.Now().After(deadline) {
			t.Fatalf("active expiry did not resume: DBSIZE %s", r.do("DBSIZE"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Like C's atoi: garbage is 0, a leading number counts.
	runCases(t, r, []cmdCase{{[]string{"DEBUG", "SET-ACTIVE-EXPIRE", "x"}, "+OK"}})
	if s.activeExpire.Load() {
		t.Error(`SET-ACTIVE-EXPIRE x left active expiry on`)
	}
	r.do("DEBUG", "SET-ACTIVE-EXPIRE", " 7abc")
	if !s.activeExpire.Load() {
		t.Error(`SET-ACTIVE-EXPIRE " 7abc" left active expiry off`)
	}
}

// normDebugObject replaces what differs from Redis in DEBUG OBJECT: the
// address, the LRU clock and idle time (timing), and the serialized length
// of values Redis LZF-compresses (our estimate is uncompressed).
func normDebugObject(s string) string {
	s = regexp.MustCompile(`Value at:0x[0-9a-f]+`).ReplaceAllString(s, "Value at:ADDR")
	return regexp.MustCompile(`lru:\d+ lru_seconds_idle:\d+`).ReplaceAllString(s, "lru:L lru_seconds_idle:I")
}

func TestDebugObject(t *testing.T) {
	s := startServer(t)
	o := startRedis(t, false)
	f, r := dialRaw(t, s), dialAddr(t, o.addr)
	setup := [][]string{
		{"SET", "s", "bar"},
		{"SET", "i", "12345"},
		{"SET", "neg", "-100"},
		{"SET", "big", "123456789012"},
		{"SET", "e", ""},
		{"RPUSH", "l", "a", "b", "c", "1000", "-70000"},
		{"HSET", "h", "a", "1", "b", "2"},
		{"SADD", "st", "1", "2", "3"},
		{"SADD", "ss", "a", "b", "c"},
		{"ZADD", "z", "1", "a", "2.5", "b"},
		{"SET", "sh", "5"},
	}
	cmds := append([][]string{}, setup...)
	for _, k := range []string{"s", "i", "neg", "big", "l", "h", "st", "ss", "z", "sh", "nokey"} {
		cmds = append(cmds, []string{"DEBUG", "OBJECT", k})
	}
	sameReplies(t, f, r, cmds, normDebugObject)
	// An empty string has no data: glibc prints a NULL %p as "(nil)"; Redis
	// always has an object to point at.
	if got := f.do("DEBUG", "OBJECT", "e"); !matchRe(t, `\+Value at:\S+ refcount:1 encoding:embstr serializedlength:1 lru:\d+ lru_seconds_idle:\d+`, got) {
		t.Errorf("DEBUG OBJECT e = %s", got)
	}
	// The LRU clock is Redis's: unix seconds on 24 bits; idle grows.
	got := f.do("DEBUG", "OBJECT", "s")
	m := regexp.MustCompile(`lru:(\d+) lru_seconds_idle:(\d+)$`).FindStringSubmatch(got)
	if m == nil {
		t.Fatalf("DEBUG OBJECT s = %s", got)
	}
	if lru, now := atoi([]byte(m[1])), time.Now().Unix()&(1<<24-1); lru > now || lru < now-5 {
		t.Errorf("lru %d, clock %d", lru, now)
	}
	// A long list spans several chunks.
	args := []string{"RPUSH", "long"}
	for i := 0; i < 2000; i++ {
		args = append(args, strings.Repeat("x", 20))
	}
	f.do(args...)
	got = f.do("DEBUG", "OBJECT", "long")
	m = regexp.MustCompile(`encoding:quicklist serializedlength:(\d+) lru:\d+ lru_seconds_idle:\d+ ql_nodes:(\d+) ql_avg_node:(\d+\.\d\d) ql_listpack_max:-2 ql_compressed:0 ql_uncompressed_size:(\d+)$`).FindStringSubmatch(got)
	if m == nil {
		t.Fatalf("DEBUG OBJECT long = %s", got)
	}
	nodes, size := atoi([]byte(m[2])), atoi([]byte(m[4]))
	if nodes < 2 || size < 2000*22 || m[3] != strconv.FormatFloat(2000/float64(nodes), 'f', 2, 64) {
		t.Errorf("DEBUG OBJECT long = %s", got)
	}
}

func TestDebugPopulate(t *testing.T) {
	s := startServer(t)
	o := startRedis(t, false)
	f, r := dialRaw(t, s), dialAddr(t, o.addr)
	sameReplies(t, f, r, [][]string{
		{"SET", "key:1", "mine"},
		{"DEBUG", "POPULATE", "3"},
		{"DBSIZE"},
		{"GET", "key:0"},
		{"GET", "key:1"},
		{"GET", "key:2"},
		{"DEBUG", "POPULATE", "2", "p", "10"},
		{"GET", "p:1"},
		{"DEBUG", "POPULATE", "2", "q", "3"},
		{"GET", "q:0"},
		{"DEBUG", "POPULATE", "0"},
		{"DEBUG", "POPULATE", "1", strings.Repeat("n", 130)},
		{"KEYS", "nnn*"},
		{"SET", "t:0", "v", "PX", "1"},
		{"DEBUG", "SLEEP", "0.01"},
		{"DEBUG", "POPULATE", "1", "t"},
		{"GET", "t:0"},
		{"DBSIZE"},
	}, nil)
	// More keys than memory could hold fail at once.
	runCases(t, f, []cmdCase{{[]string{"DEBUG", "POPULATE", "9223372036854775807"}, "-ERR OOM in dictTryExpand"}})
	// Inside MULTI.
	runCases(t, f, []cmdCase{
		{[]string{"MULTI"}, "+OK"},
		{[]string{"DEBUG", "POPULATE", "5", "m"}, "+QUEUED"},
		{[]string{"EXISTS", "m:4"}, "+QUEUED"},
		{[]string{"EXEC"}, "[+OK :1]"},
	})
}

func TestDebugChangeReplID(t *testing.T) {
	s := startServer(t)
	r := dialRaw(t, s)
	replid := func() string {
		m := regexp.MustCompile(`master_replid:([0-9a-f]{40})\\r\\n`).FindStringSubmatch(r.do("INFO", "replication"))
		if m == nil {
			t.Fatal("no master_replid in INFO")
		}
		return m[1]
	}
	before := replid()
	runCases(t, r, []cmdCase{{[]string{"DEBUG", "CHANGE-REPL-ID"}, "+OK"}})
	if after := replid(); after == before {
		t.Errorf("master_replid %s unchanged", after)
	}
}
