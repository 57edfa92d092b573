package cluster

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestShutdownErrors(t *testing.T) {
	s := startServer(t)
	o := startRedis(t, false)
	f, r := dialRaw(t, s), dialAddr(t, o.addr)
	sameReplies(t, f, r, [][]string{
		{"SHUTDOWN", "foo"},
		{"SHUTDOWN", "ABORT"},
		{"SHUTDOWN", "NOSAVE", "SAVE"},
		{"SHUTDOWN", "ABORT", "NOW"},
		{"SHUTDOWN", "abort", "force"},
		{"MULTI"},
		{"SHUTDOWN"},
		{"EXEC"},
	}, nil)
	select {
	case <-s.Done():
		t.Fatal("the node shut down")
	default:
	}
}

func TestShutdown(t *testing.T) {
	for _, args := range [][]string{{"SHUTDOWN"}, {"SHUTDOWN", "NOSAVE", "NOW", "FORCE"}, {"shutdown", "save"}} {
		s := startServer(t)
		a, b := dialRaw(t, s), dialRaw(t, s)
		// b waits blocked; it is disconnected too.
		b.send("BLPOP", "nolist", "0")
		w := dialRaw(t, s)
		w.send("WAIT", "1", "0")
		time.Sleep(50 * time.Millisecond)
		a.send(args...)
		select {
		case <-s.Done():
		case <-time.After(5 * time.Second):
			t.Fatalf("%v: Done not closed", args)
		}
		// No reply: the connection closes.
		for _, c := range []*rawConn{a, b, w} {
			c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			if n, err := c.nc.Read(make([]byte, 64)); n != 0 || !errors.Is(err, io.EOF) && !isConnReset(err) {
				t.Errorf("%v: read %d bytes, %v; want EOF", args, n, err)
			}
		}
		// The owner's Close then returns: nothing is left waiting.
		done := make(chan struct{})
		go func() { s.Close(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("%v: Close hangs after SHUTDOWN", args)
		}
		if nc, err := net.Dial("tcp", s.Addr()); err == nil {
			nc.Close()
			t.Errorf("%v: still accepting connections", args)
		}
	}
}

func isConnReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

// TestShutdownExitsProcess: SHUTDOWN makes the flotilla binary exit.
func TestShutdownExitsProcess(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Fatal("the node runs on Linux")
	}
	bin := filepath.Join(t.TempDir(), "flotilla")
	build := exec.Command("go", "build", "-o", bin, "github.com/flotilla-db/flotilla/cmd/flotilla")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--loglevel", "warning",
		"--dir", t.TempDir(), "--gossip-port", "0", "--metrics-port", "0")
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	var logs strings.Builder
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			logs.WriteString(sc.Text() + "\n")
		}
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() { cmd.Process.Kill() })
	r := dialAddr(t, "127.0.0.1:"+port)
	runCases(t, r, []cmdCase{{[]string{"SET", "k", "v"}, "+OK"}})
	r.send("SHUTDOWN")
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("flotilla exited with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("flotilla did not exit after SHUTDOWN")
	}
	if !strings.Contains(logs.String(), "User requested shutdown") {
		t.Errorf("log:\n%s", logs.String())
	}
}

func TestWait(t *testing.T) {
	s := startServer(t)
	o := startRedis(t, false)
	f, r := dialRaw(t, s), dialAddr(t, o.addr)
	sameReplies(t, f, r, [][]string{
		{"WAIT", "0", "0"},
		{"WAIT", "-1", "0"},
		{"WAIT", "0", "100"},
		{"WAIT", "x", "0"},
		{"WAIT", "0", "x"},
		{"WAIT", "x", "x"},
		{"WAIT", "0", "-1"},
		{"WAIT", "1", "1.5"},
		{"WAIT", "+1", "0"},
		{"WAIT", "1"},
		{"MULTI"},
		{"WAIT", "1", "0"},
		{"WAIT", "5", "100"},
		{"EXEC"},
	}, nil)
	// With replicas wanted and none there, WAIT waits for the timeout and
	// replies 0, as Redis without replicas.
	start := time.Now()
	runCases(t, f, []cmdCase{{[]string{"WAIT", "1", "200"}, ":0"}})
	if d := time.Since(start); d < 200*time.Millisecond || d > 3*time.Second {
		t.Errorf("WAIT 1 200 took %v", d)
	}
	// Replies queued before it are sent first; the client shows as blocked.
	f.send("SET", "k", "v")
	f.send("WAIT", "2", "0")
	if got := f.read(); got != "+OK" {
		t.Errorf("SET before WAIT = %s", got)
	}
	c := dialRaw(t, s)
	if got := c.do("INFO", "clients"); !strings.Contains(got, `blocked_clients:1\r\n`) {
		t.Errorf("INFO clients while WAIT blocks = %s", got)
	}
	list := c.do("CLIENT", "LIST")
	if !strings.Contains(list, "flags=b ") || !strings.Contains(list, "cmd=wait ") {
		t.Errorf("CLIENT LIST while WAIT blocks = %s", list)
	}
	// A client that leaves while waiting is cleaned up.
	f.nc.Close()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(c.do("INFO", "clients"), `connected_clients:1\r\n`) {
		if time.Now().After(deadline) {
			t.Fatalf("the waiting client was not dropped: %s", c.do("CLIENT", "LIST"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
