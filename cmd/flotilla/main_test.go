package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// These tests run the flotilla binary as a process, as users do.

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "flotilla-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "flotilla")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func need(t *testing.T, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		t.Fatalf("%s is needed (make test installs it): %v", tool, err)
	}
	return p
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startNode runs the binary and waits until it accepts connections.
func startNode(t *testing.T, args ...string) int {
	t.Helper()
	port := freePort(t)
	flags := []string{"--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--dir", t.TempDir(),
		"--gossip-port", "0", "--metrics-port", "0"}
	if len(args) > 0 && !strings.HasPrefix(args[0], "--") {
		// A config file comes first, as in Redis.
		flags = append([]string{args[0]}, append(flags, args[1:]...)...)
	} else {
		flags = append(flags, args...)
	}
	cmd := exec.Command(binary, flags...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			t.Errorf("flotilla did not stop on SIGINT; output:\n%s", out.String())
		}
	})
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return port
		}
		time.Sleep(30 * time.Millisecond)
	}
	t.Fatalf("flotilla did not start:\n%s", out.String())
	return 0
}

func TestBadConfigurationStopsStartup(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "flotilla.conf")
	os.WriteFile(conf, []byte("port 7001\ntimeout soon\n"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{conf}, "timeout: argument couldn't be parsed into an integer"},
		{[]string{"--maxclients", "-1"}, "maxclients: argument must be between"},
		{[]string{"--bogus", "yes"}, "bogus: Bad directive"},
		{[]string{filepath.Join(dir, "missing.conf")}, "can't open config file"},
	} {
		out, err := exec.Command(binary, tc.args...).CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Errorf("%v: exit %v, want 1", tc.args, err)
		}
		if !strings.Contains(string(out), tc.want) {
			t.Errorf("%v: output %q lacks %q", tc.args, out, tc.want)
		}
	}
}

func TestConfigFile(t *testing.T) {
	cli := need(t, "redis-cli")
	conf := filepath.Join(t.TempDir(), "flotilla.conf")
	os.WriteFile(conf, []byte("requirepass s3cret\nmaxclients 77\n"), 0o644)
	port := startNode(t, conf)
	out, _ := exec.Command(cli, "-p", fmt.Sprint(port), "--no-auth-warning", "-a", "s3cret", "CONFIG", "GET", "maxclients").CombinedOutput()
	if got := strings.TrimSpace(string(out)); got != "maxclients\n77" {
		t.Errorf("CONFIG GET maxclients = %q", got)
	}
	out, _ = exec.Command(cli, "-p", fmt.Sprint(port), "PING").CombinedOutput()
	if !strings.Contains(string(out), "NOAUTH Authentication required.") {
		t.Errorf("PING without AUTH = %q", out)
	}
}

func TestRedisCLI(t *testing.T) {
	cli := need(t, "redis-cli")
	port := startNode(t)
	run := func(args ...string) string {
		out, err := exec.Command(cli, append([]string{"-p", fmt.Sprint(port)}, args...)...).CombinedOutput()
		if err != nil {
			t.Errorf("redis-cli %v: %v", args, err)
		}
		return strings.TrimSpace(string(out))
	}
	if got := run("SET", "greeting", "hello"); got != "OK" {
		t.Errorf("SET = %q", got)
	}
	if got := run("-c", "GET", "greeting"); got != "hello" {
		t.Errorf("redis-cli -c GET = %q", got)
	}
	if got := run("RPUSH", "l", "a", "b"); got != "2" {
		t.Errorf("RPUSH = %q", got)
	}
	if got := run("--no-raw", "LRANGE", "l", "0", "-1"); got != "1) \"a\"\n2) \"b\"" {
		t.Errorf("LRANGE = %q", got)
	}
	if got := run("INFO", "server"); !strings.Contains(got, "redis_version:7.0.15") {
		t.Errorf("INFO server = %q", got)
	}
}

// TestRedisCLIInteractiveHints types into an interactive redis-cli (in a
// tmux pane, which gives it a terminal) and reads the hints it shows: they
// come from the command table the node serves.
func TestRedisCLIInteractiveHints(t *testing.T) {
	cli := need(t, "redis-cli")
	tmux := need(t, "tmux")
	port := startNode(t)
	session := fmt.Sprintf("flotilla-test-%d", port)
	if out, err := exec.Command(tmux, "new-session", "-d", "-s", session, "-x", "200", "-y", "20",
		fmt.Sprintf("%s -p %d", cli, port)).CombinedOutput(); err != nil {
		t.Fatalf("tmux: %v %s", err, out)
	}
	defer exec.Command(tmux, "kill-session", "-t", session).Run()
	pane := func() string {
		out, _ := exec.Command(tmux, "capture-pane", "-t", session, "-p").Output()
		return string(out)
	}
	waitFor := func(want string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			if strings.Contains(pane(), want) {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("pane never showed %q:\n%s", want, pane())
	}
	prompt := fmt.Sprintf("127.0.0.1:%d>", port)
	waitFor(prompt)
	exec.Command(tmux, "send-keys", "-t", session, "SET ").Run()
	waitFor("SET key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]")
	exec.Command(tmux, "send-keys", "-t", session, "C-u", "ZUNIONSTORE ").Run()
	waitFor("ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM|MIN|MAX]")
	exec.Command(tmux, "send-keys", "-t", session, "C-u", "SET tmuxkey works", "Enter").Run()
	waitFor("OK")
	exec.Command(tmux, "send-keys", "-t", session, "GET tmuxkey", "Enter").Run()
	waitFor(`"works"`)
}
