package cluster

import (
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Helpers of the administration command tests (admin_*_test.go).

// needBinary returns the path of a Redis tool the test needs. A missing one
// fails the test: CI installs them, and a skipped check is no check.
func needBinary(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("this test needs %s (Redis 7.0) on PATH: %v", name, err)
	}
	return p
}

// redisOracle is a real redis-server the tests compare Flotilla's replies
// with.
type redisOracle struct {
	addr string
	port int
}

// startRedis starts a redis-server 7.0 on a free port (with DEBUG enabled),
// stopped when the test ends. With cluster set it is a one-node cluster
// that owns every slot, its config epoch bumped to 1, as Flotilla's node.
func startRedis(t testing.TB, cluster bool) *redisOracle {
	t.Helper()
	bin := needBinary(t, "redis-server")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir := t.TempDir()
	args := []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", dir, "--enable-debug-command", "yes", "--daemonize", "no", "--logfile", ""}
	if cluster {
		args = append(args, "--cluster-enabled", "yes", "--cluster-config-file", dir+"/nodes.conf")
	}
	cmd := exec.Command(bin, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	o := &redisOracle{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), port: port}
	r := dialAddr(t, o.addr)
	if v := r.do("INFO", "server"); !strings.Contains(v, "redis_version:7.0.") {
		t.Fatalf("the oracle must be Redis 7.0: %s", v)
	}
	if cluster {
		r.do("CLUSTER", "ADDSLOTSRANGE", "0", "16383")
		r.do("CLUSTER", "BUMPEPOCH")
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(r.do("CLUSTER", "INFO"), "cluster_state:ok") {
			if time.Now().After(deadline) {
				t.Fatal("the Redis cluster did not become ok")
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return o
}

// dialAddr opens a raw RESP connection to addr.
func dialAddr(t testing.TB, addr string) *rawConn {
	t.Helper()
	var nc net.Conn
	var err error
	for i := 0; i < 100; i++ {
		if nc, err = net.Dial("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawConn{t: t, nc: nc, rd: newRespReader(nc)}
}

// cmdCase is one command and the reply expected, rendered as rawConn.do
// renders it.
type cmdCase struct {
	args []string
	want string
}

// runCases runs the cases in order on r and reports every mismatch.
func runCases(t testing.TB, r *rawConn, cases []cmdCase) {
	t.Helper()
	for _, tc := range cases {
		if got := r.do(tc.args...); got != tc.want {
			t.Errorf("%q\n got: %s\nwant: %s", tc.args, got, tc.want)
		}
	}
}

// sameReplies runs each command on Flotilla (f) and on Redis (o), in order,
// and reports the replies that differ after norm (nil: none) rewrote both.
func sameReplies(t testing.TB, f, o *rawConn, cmds [][]string, norm func(string) string) {
	t.Helper()
	if norm == nil {
		norm = func(s string) string { return s }
	}
	for _, args := range cmds {
		got, want := norm(f.do(args...)), norm(o.do(args...))
		if got != want {
			t.Errorf("%q\nflotilla: %s\n   redis: %s", args, got, want)
		}
	}
}

// helpLines returns the lines of a rendered HELP reply.
func helpLines(t testing.TB, reply string) []string {
	t.Helper()
	if !strings.HasPrefix(reply, "[+") || !strings.HasSuffix(reply, "]") {
		t.Fatalf("not a HELP reply: %s", reply)
	}
	parts := strings.Split(reply[1:len(reply)-1], " +")
	parts[0] = strings.TrimPrefix(parts[0], "+")
	return parts
}

// checkHelpSubset checks a HELP reply of Flotilla against Redis's: the same
// title and HELP lines, and the subcommands Flotilla lists described by
// exactly Redis's lines, in Redis's order.
func checkHelpSubset(t testing.TB, got, redis string) {
	t.Helper()
	ours, theirs := helpLines(t, got), helpLines(t, redis)
	j := 0
	for _, l := range ours {
		for j < len(theirs) && theirs[j] != l {
			j++
		}
		if j == len(theirs) {
			t.Errorf("HELP line %q is not one of Redis's (or is out of order)\nflotilla: %s\n   redis: %s", l, got, redis)
			return
		}
		j++
	}
	if ours[0] != theirs[0] || ours[len(ours)-1] != theirs[len(theirs)-1] {
		t.Errorf("HELP title or tail differ\nflotilla: %s\n   redis: %s", got, redis)
	}
}

// matchRe reports whether s matches the anchored regular expression re.
func matchRe(t testing.TB, re, s string) bool {
	t.Helper()
	return regexp.MustCompile("^(?:" + re + ")$").MatchString(s)
}
