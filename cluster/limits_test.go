package cluster

import (
	"net"
	"strings"
	"testing"
	"time"
)

func TestProtocolErrorClosesOnlyThatConnection(t *testing.T) {
	s := startServer(t, "proto-max-bulk-len", "1mb")
	good := dialRaw(t, s)
	good.do("SET", "k", "v")
	bad := dialRaw(t, s)
	bad.nc.Write([]byte("*1\r\n$2000000\r\n"))
	if got := bad.read(); got != "-ERR Protocol error: invalid bulk length" {
		t.Errorf("too big bulk = %s", got)
	}
	bad.nc.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := bad.rd.readText(); err == nil {
		t.Errorf("connection still open after a protocol error")
	}
	junk := dialRaw(t, s)
	junk.nc.Write([]byte("*x\r\n"))
	if got := junk.read(); got != "-ERR Protocol error: invalid multibulk length" {
		t.Errorf("bad multibulk = %s", got)
	}
	if got := good.do("GET", "k"); got != `"v"` {
		t.Errorf("other client after protocol errors: %s", got)
	}
}

func TestMaxClients(t *testing.T) {
	s := startServer(t, "maxclients", "2")
	a, b := dialRaw(t, s), dialRaw(t, s)
	a.do("PING")
	b.do("PING")
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 100)
	n, _ := c.Read(buf)
	if got := string(buf[:n]); got != "-ERR max number of clients reached\r\n" {
		t.Errorf("third client got %q", got)
	}
}

func TestIdleTimeout(t *testing.T) {
	s := startServer(t, "timeout", "1")
	r := dialRaw(t, s)
	r.do("PING")
	r.nc.SetReadDeadline(time.Now().Add(4 * time.Second))
	start := time.Now()
	if _, err := r.rd.readText(); err == nil {
		t.Fatal("idle client not closed")
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("closed after %v, before the 1 s timeout", d)
	}
}

// fakeAddrConn is a real connection that reports another remote address,
// to test the protected-mode policy without traffic leaving loopback.
type fakeAddrConn struct {
	net.Conn
	remote net.Addr
}

func (f fakeAddrConn) RemoteAddr() net.Addr { return f.remote }

func TestProtectedMode(t *testing.T) {
	s := startServer(t)
	server, client := net.Pipe()
	defer client.Close()
	remote := &net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 5000}
	done := make(chan bool)
	go func() { done <- s.denyProtected(fakeAddrConn{server, remote}) }()
	buf := make([]byte, 4096)
	n, _ := client.Read(buf)
	if !<-done {
		t.Fatal("a non-loopback client was accepted in protected mode without a password")
	}
	if got := string(buf[:n]); !strings.HasPrefix(got, "-DENIED Redis is running in protected mode") {
		t.Errorf("reply = %q", got)
	}
	// Loopback clients are accepted.
	lo := &net.TCPAddr{IP: net.ParseIP("127.0.0.12"), Port: 5000}
	if s.denyProtected(fakeAddrConn{server, lo}) {
		t.Error("a loopback client was refused")
	}
	// With a password, or protected mode off, everyone is accepted.
	s2 := startServer(t, "requirepass", "x")
	if s2.denyProtected(fakeAddrConn{server, remote}) {
		t.Error("refused with a password set")
	}
	s3 := startServer(t, "protected-mode", "no")
	if s3.denyProtected(fakeAddrConn{server, remote}) {
		t.Error("refused with protected mode off")
	}
}
