package cluster

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestLatencyCommands(t *testing.T) {
	s := startServer(t)
	r := dialRaw(t, s)
	runCases(t, r, []cmdCase{
		{[]string{"LATENCY", "LATEST"}, "[]"},
		{[]string{"LATENCY", "HISTORY", "command"}, "[]"},
		{[]string{"LATENCY", "RESET"}, ":0"},
		{[]string{"LATENCY", "DOCTOR"}, `"I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n"`},
		{[]string{"LATENCY", "HISTORY"}, "-ERR wrong number of arguments for 'latency|history' command"},
		{[]string{"LATENCY", "HISTORY", "a", "b"}, "-ERR wrong number of arguments for 'latency|history' command"},
		{[]string{"LATENCY", "LATEST", "x"}, "-ERR wrong number of arguments for 'latency|latest' command"},
		{[]string{"LATENCY", "FOO"}, "-ERR unknown subcommand 'FOO'. Try LATENCY HELP."},
		{[]string{"LATENCY", "HELP"}, "[+LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are: +DOCTOR +    Return a human readable latency analysis report. +HISTORY <event> +    Return time-latency samples for the <event> class. +LATEST +    Return the latest latency samples for all events. +RESET [<event> ...] +    Reset latency data of one or more <event> classes. +    (default: reset all data for all event classes) +HELP +    Prints this help.]"},
		{[]string{"CONFIG", "SET", "latency-monitor-threshold", "20"}, "+OK"},
	})
	if got := r.do("LATENCY", "DOCTOR"); !strings.HasPrefix(got, `"Dave, no latency spike was observed during the lifetime of this Redis instance`) &&
		!strings.Contains(got, "anonymous huge pages") {
		t.Errorf("LATENCY DOCTOR without events = %s", got)
	}
	start := time.Now().Unix()
	r.do("DEBUG", "SLEEP", "0.05")
	r.do("DEBUG", "SLEEP", "0.03") // same second, smaller: the sample keeps 50
	r.do("PING")                   // fast and quick: no event
	end := time.Now().Unix()
	latest := r.do("LATENCY", "LATEST")
	m := regexp.MustCompile(`^\[\["command" :(\d+) :(\d+) :(\d+)\]\]$`).FindStringSubmatch(latest)
	if m == nil {
		t.Fatalf("LATENCY LATEST = %s", latest)
	}
	if ts := atoi([]byte(m[1])); ts < start || ts > end {
		t.Errorf("sample time %d not in [%d, %d]", ts, start, end)
	}
	if ms, mx := atoi([]byte(m[2])), atoi([]byte(m[3])); ms < 30 || ms > 1000 || mx < 50 || mx > 1000 || mx < ms {
		t.Errorf("latest %dms, max %dms", ms, mx)
	}
	hist := r.do("LATENCY", "HISTORY", "command")
	if !matchRe(t, `\[(\[:\d+ :\d+\] ?){1,2}\]`, hist) {
		t.Errorf("LATENCY HISTORY command = %s", hist)
	}
	runCases(t, r, []cmdCase{
		// HISTORY matches the event name exactly, RESET in any case.
		{[]string{"LATENCY", "HISTORY", "COMMAND"}, "[]"},
		{[]string{"LATENCY", "RESET", "nosuch"}, ":0"},
	})
	doc := r.do("LATENCY", "DOCTOR")
	if !strings.HasPrefix(doc, `"Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n1. command: `) ||
		!matchRe(t, `.*1\. command: \d+ latency spikes \(average \d+ms, mean deviation \d+ms, period \d+\.\d\d sec\)\. Worst all time event \d+ms\.\\n\\nI have a few advices for you:\\n\\n.*`, doc) ||
		!strings.Contains(doc, "- Check your Slow Log to understand what are the commands you are running which are too slow to execute.") {
		t.Errorf("LATENCY DOCTOR = %s", doc)
	}
	runCases(t, r, []cmdCase{
		{[]string{"LATENCY", "RESET", "COMMAND", "command"}, ":1"},
		{[]string{"LATENCY", "LATEST"}, "[]"},
	})
	r.do("DEBUG", "SLEEP", "0.03")
	runCases(t, r, []cmdCase{
		{[]string{"LATENCY", "RESET"}, ":1"},
		{[]string{"LATENCY", "HISTORY", "command"}, "[]"},
	})
}

func TestLatencyMatchesRedis(t *testing.T) {
	s := startServer(t)
	o := startRedis(t, false)
	f, r := dialRaw(t, s), dialAddr(t, o.addr)
	norm := func(s string) string {
		s = regexp.MustCompile(`:1\d{9}\b`).ReplaceAllString(s, ":TIME")
		s = regexp.MustCompile(`\[:TIME :\d+\]`).ReplaceAllString(s, "[:TIME :MS]")
		// Whether the kernel gave the process transparent huge pages
		// depends on the machine's load, not on the server.
		// (the replies are rendered quoted: a newline is a backslash and
		// an n).
		s = regexp.MustCompile(`- I detected a non zero amount of anonymous huge pages.*?\\n`).ReplaceAllString(s, "")
		if s == `"\nI have a few advices for you:\n\n"` {
			s = `"Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n"`
		}
		// How many spikes over what period depends on the machine too: a
		// loaded one stalls an ordinary command past the threshold now and
		// then (seen in full runs of this package: 2 spikes against 1).
		s = regexp.MustCompile(`\d+ latency spikes \(average (\d+ms), mean deviation (\d+ms), period \d+\.\d\d sec\)`).ReplaceAllString(s, "N latency spikes (average $1, mean deviation $2, period N sec)")
		return regexp.MustCompile(`\d+ms`).ReplaceAllString(s, "Nms")
	}
	sameReplies(t, f, r, [][]string{
		{"LATENCY", "DOCTOR"},
		{"LATENCY", "LATEST"},
		{"LATENCY", "RESET"},
		{"CONFIG", "SET", "latency-monitor-threshold", "20"},
		{"LATENCY", "DOCTOR"},
		{"DEBUG", "SLEEP", "0.05"},
		{"LATENCY", "HISTORY", "command"},
		{"LATENCY", "HISTORY", "Command"},
		{"LATENCY", "DOCTOR"},
		{"CONFIG", "SET", "slowlog-log-slower-than", "-1"},
		{"LATENCY", "DOCTOR"},
		{"CONFIG", "SET", "slowlog-log-slower-than", "100000"},
		{"LATENCY", "DOCTOR"},
		{"LATENCY", "RESET", "nosuch", "COMMAND"},
		{"LATENCY", "LATEST"},
		{"LATENCY", "HISTORY"},
		{"LATENCY", "NOPE"},
		{"LATENCY"},
	}, norm)
	checkHelpSubset(t, f.do("LATENCY", "HELP"), r.do("LATENCY", "HELP"))
}
