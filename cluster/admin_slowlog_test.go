package cluster

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// slowlogEntryRe matches one rendered SLOWLOG GET entry: id, unix time,
// duration in µs, the arguments, the client's address and name.
const slowlogEntryRe = `\[:\d+ :\d+ :\d+ \[[^\]]*\] "127\.0\.0\.1:\d+" "[^"]*"\]`

// normSlowlog replaces what differs from run to run (ids, times,
// durations, client ports) in SLOWLOG GET replies.
func normSlowlog(s string) string {
	s = regexp.MustCompile(`\[:\d+ :\d+ :\d+ \[`).ReplaceAllString(s, "[:ID :TIME :US [")
	return regexp.MustCompile(`"127\.0\.0\.1:\d+"`).ReplaceAllString(s, `"ADDR"`)
}

func TestSlowlogCommands(t *testing.T) {
	s := startServer(t, "slowlog-log-slower-than", "0")
	r := dialRaw(t, s)
	runCases(t, r, []cmdCase{
		{[]string{"SLOWLOG", "RESET"}, "+OK"},
		// SLOWLOG RESET itself was logged after it ran.
		{[]string{"SLOWLOG", "LEN"}, ":1"},
		{[]string{"SLOWLOG", "GET", "-2"}, "-ERR count should be greater than or equal to -1"},
		{[]string{"SLOWLOG", "GET", "x"}, "-ERR count should be greater than or equal to -1"},
		{[]string{"SLOWLOG", "GET", "99999999999999999999"}, "-ERR count should be greater than or equal to -1"},
		{[]string{"SLOWLOG", "GET", "1", "2"}, "-ERR unknown subcommand or wrong number of arguments for 'GET'. Try SLOWLOG HELP."},
		{[]string{"slowlog", "get", "1", "2"}, "-ERR unknown subcommand or wrong number of arguments for 'get'. Try SLOWLOG HELP."},
		{[]string{"SLOWLOG", "FOO"}, "-ERR unknown subcommand 'FOO'. Try SLOWLOG HELP."},
		{[]string{"SLOWLOG"}, "-ERR wrong number of arguments for 'slowlog' command"},
		{[]string{"SLOWLOG", "LEN", "x"}, "-ERR wrong number of arguments for 'slowlog|len' command"},
		{[]string{"SLOWLOG", "GET", "0"}, "[]"},
	})
	r.do("SLOWLOG", "RESET")
	r.do("SET", "k", "v")
	r.do("CLIENT", "SETNAME", "me")
	got := r.do("SLOWLOG", "GET")
	if want := `[:ID :TIME :US ["CLIENT" "SETNAME" "me"] "ADDR" "me"] [:ID :TIME :US ["SET" "k" "v"] "ADDR" ""] [:ID :TIME :US ["SLOWLOG" "RESET"] "ADDR" ""]`; normSlowlog(got) != "["+want+"]" {
		t.Errorf("SLOWLOG GET = %s", got)
	}
	// Ids grow; the newest entry comes first; GET 1 gives only it.
	ids := regexp.MustCompile(`\[:(\d+) `).FindAllStringSubmatch(got, -1)
	if len(ids) != 3 || !(atoi([]byte(ids[0][1])) > atoi([]byte(ids[1][1])) && atoi([]byte(ids[1][1])) > atoi([]byte(ids[2][1]))) {
		t.Errorf("entry ids %v are not newest first", ids)
	}
	if one := r.do("SLOWLOG", "GET", "1"); !matchRe(t, `\[`+slowlogEntryRe+`\]`, one) || !strings.Contains(one, `["SLOWLOG" "GET"]`) {
		t.Errorf("SLOWLOG GET 1 = %s", one)
	}
	if all := normSlowlog(r.do("SLOWLOG", "GET", "-1")); strings.Count(all, `"ADDR"`) != 5 {
		t.Errorf("SLOWLOG GET -1 = %s", all)
	}
	// The timestamp is now's; the duration in µs is plausible.
	m := regexp.MustCompile(`^\[\[:\d+ :(\d+) :(\d+) `).FindStringSubmatch(r.do("SLOWLOG", "GET", "1"))
	if m == nil {
		t.Fatal("no entry")
	}
	if ts := atoi([]byte(m[1])); ts < time.Now().Unix()-5 || ts > time.Now().Unix()+1 {
		t.Errorf("entry time %d", ts)
	}

	// Long arguments and argument lists are cut as Redis cuts them.
	r.do("SLOWLOG", "RESET")
	long := strings.Repeat("x", 200)
	args := []string{"MSET"}
	for i := 0; i < 40; i++ {
		args = append(args, "k", long)
	}
	r.do(args...)
	got = r.do("SLOWLOG", "GET", "1")
	if !strings.Contains(got, `"`+strings.Repeat("x", 128)+`... (72 more bytes)"`) || !strings.Contains(got, `"... (50 more arguments)"]`) {
		t.Errorf("SLOWLOG GET of a long command = %s", got)
	}

	// slowlog-max-len bounds the log.
	r.do("CONFIG", "SET", "slowlog-max-len", "2")
	for i := 0; i < 5; i++ {
		r.do("PING")
	}
	runCases(t, r, []cmdCase{{[]string{"SLOWLOG", "LEN"}, ":2"}})
	// A threshold above the commands' time logs nothing.
	r.do("CONFIG", "SET", "slowlog-log-slower-than", "1000000")
	r.do("SLOWLOG", "RESET")
	r.do("PING")
	runCases(t, r, []cmdCase{{[]string{"SLOWLOG", "LEN"}, ":0"}})
	// A negative one disables it.
	r.do("CONFIG", "SET", "slowlog-log-slower-than", "-1")
	r.do("DEBUG", "SLEEP", "0.01")
	runCases(t, r, []cmdCase{{[]string{"SLOWLOG", "LEN"}, ":0"}})
}

// TestSlowlogRedactsAndSkips: passwords do not reach the log, EXEC is not
// logged but the commands it runs are, as in Redis 7.0.
func TestSlowlogRedactsAndSkips(t *testing.T) {
	s := startServer(t, "slowlog-log-slower-than", "0")
	r := dialRaw(t, s)
	r.do("SLOWLOG", "RESET")
	r.do("AUTH", "default", "secret")
	r.do("HELLO", "2", "AUTH", "default", "pw", "SETNAME", "n")
	r.do("MULTI")
	r.do("SET", "a", "b")
	r.do("EXEC")
	got := normSlowlog(r.do("SLOWLOG", "GET"))
	want := `[[:ID :TIME :US ["SET" "a" "b"] "ADDR" "n"] [:ID :TIME :US ["MULTI"] "ADDR" "n"] ` +
		`[:ID :TIME :US ["HELLO" "2" "AUTH" "(redacted)" "(redacted)" "SETNAME" "n"] "ADDR" "n"] ` +
		`[:ID :TIME :US ["AUTH" "(redacted)" "(redacted)"] "ADDR" ""] [:ID :TIME :US ["SLOWLOG" "RESET"] "ADDR" ""]]`
	if got != want {
		t.Errorf("SLOWLOG GET\n got: %s\nwant: %s", got, want)
	}
}

// TestSlowlogBlockedTime: the time a client waits blocked is not execution
// time; the slow log only sees the command's own work.
func TestSlowlogBlockedTime(t *testing.T) {
	s := startServer(t, "slowlog-log-slower-than", "100000")
	r := dialRaw(t, s)
	r.do("SLOWLOG", "RESET")
	if got := r.do("BLPOP", "nolist", "0.3"); got != "(nil-array)" {
		t.Fatalf("BLPOP = %s", got)
	}
	if got := r.do("WAIT", "1", "300"); got != ":0" {
		t.Fatalf("WAIT = %s", got)
	}
	runCases(t, r, []cmdCase{{[]string{"SLOWLOG", "LEN"}, ":0"}})
	r.do("DEBUG", "SLEEP", "0.15")
	if got := normSlowlog(r.do("SLOWLOG", "GET")); got != `[[:ID :TIME :US ["DEBUG" "SLEEP" "0.15"] "ADDR" ""]]` {
		t.Errorf("SLOWLOG GET = %s", got)
	}
}

func TestSlowlogMatchesRedis(t *testing.T) {
	s := startServer(t, "slowlog-log-slower-than", "0")
	o := startRedis(t, false)
	f, r := dialRaw(t, s), dialAddr(t, o.addr)
	r.do("CONFIG", "SET", "slowlog-log-slower-than", "0")
	cmds := [][]string{
		{"SLOWLOG", "RESET"},
		{"SET", "k", "v"},
		{"AUTH", "default", "pw"},
		{"CLIENT", "SETNAME", "x"},
		{"MULTI"}, {"GET", "k"}, {"EXEC"},
		{"SLOWLOG", "GET"},
		{"SLOWLOG", "GET", "2"},
		{"SLOWLOG", "GET", "0"},
		{"SLOWLOG", "LEN"},
		{"SLOWLOG", "GET", "-5"},
		{"SLOWLOG", "GET", "1", "1"},
		{"SLOWLOG", "NOPE"},
		{"SLOWLOG", "HELP"},
		{"SLOWLOG", "RESET"},
		{"SLOWLOG", "LEN"},
	}
	sameReplies(t, f, r, cmds, normSlowlog)
}
