package proto

// Helpers shared by the command-table tests: start a real redis-server (the
// oracle), talk RESP2/RESP3 to it, and parse replies into an ordered tree
// (RESP3 maps keep their order) that can be re-encoded byte for byte.

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ctRedis is a running redis-server started by a test.
type ctRedis struct {
	addr string
	cmd  *exec.Cmd
	dir  string
}

// ctStartRedis starts redis-server on a free loopback port. It fails the
// test (never skips) when redis-server is missing: the oracle is required.
func ctStartRedis(t testing.TB) *ctRedis {
	t.Helper()
	return ctStartRedisArgs(t)
}

// ctStartRedisArgs is ctStartRedis with extra server options.
func ctStartRedisArgs(t testing.TB, extra ...string) *ctRedis {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server not found on PATH (install Redis 7.0): %v", err)
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatalf("redis-server --version: %v", err)
	}
	if !bytes.Contains(out, []byte("v=7.0.")) {
		t.Fatalf("the oracle must be Redis 7.0, got %s", out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir := t.TempDir()
	args := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir, "--logfile", dir + "/redis.log"}, extra...)
	cmd := exec.Command(bin, args...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	r := &ctRedis{addr: fmt.Sprintf("127.0.0.1:%d", port), cmd: cmd, dir: dir}
	t.Cleanup(r.stop)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", r.addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(dir + "/redis.log")
			t.Fatalf("redis-server did not start: %v\n%s", err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return r
}

func (r *ctRedis) stop() {
	if r.cmd.Process != nil {
		r.cmd.Process.Kill()
		r.cmd.Wait()
	}
}

// ctConn is a client connection to the oracle.
type ctConn struct {
	c  net.Conn
	br *bufio.Reader
}

func (r *ctRedis) dial(t testing.TB, resp int) *ctConn {
	t.Helper()
	c, err := net.Dial("tcp", r.addr)
	if err != nil {
		t.Fatal(err)
	}
	cc := &ctConn{c: c, br: bufio.NewReaderSize(c, 1<<16)}
	t.Cleanup(func() { c.Close() })
	if resp == 3 {
		cc.do(t, "HELLO", "3")
	}
	return cc
}

func ctEncodeCommand(b []byte, args [][]byte) []byte {
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(len(args)), 10)
	b = append(b, '\r', '\n')
	for _, a := range args {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, '\r', '\n')
		b = append(b, a...)
		b = append(b, '\r', '\n')
	}
	return b
}

func ctArgs(args ...string) [][]byte {
	out := make([][]byte, len(args))
	for i, a := range args {
		out[i] = []byte(a)
	}
	return out
}

// pipeline sends every command and returns each reply's raw bytes.
func (cc *ctConn) pipeline(t testing.TB, cmds [][][]byte) [][]byte {
	t.Helper()
	var buf []byte
	for _, c := range cmds {
		buf = ctEncodeCommand(buf, c)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := cc.c.Write(buf)
		errc <- err
	}()
	out := make([][]byte, len(cmds))
	cc.c.SetReadDeadline(time.Now().Add(60 * time.Second))
	for i := range cmds {
		var raw bytes.Buffer
		if _, err := ctReadValue(cc.br, &raw); err != nil {
			t.Fatalf("reading reply to %q: %v", cmds[i], err)
		}
		out[i] = raw.Bytes()
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	return out
}

func (cc *ctConn) doRaw(t testing.TB, args ...string) []byte {
	t.Helper()
	return cc.pipeline(t, [][][]byte{ctArgs(args...)})[0]
}

func (cc *ctConn) do(t testing.TB, args ...string) *ctValue {
	t.Helper()
	return ctMustParse(t, cc.doRaw(t, args...))
}

// ctValue is one RESP2/RESP3 reply. Maps keep their order: Elems holds
// key, value, key, value...
type ctValue struct {
	Kind  byte // + - : $ * % ~ _ , # = ( >
	Str   string
	Int   int64
	Null  bool // $-1 or *-1
	Elems []*ctValue
}

func ctMustParse(t testing.TB, raw []byte) *ctValue {
	t.Helper()
	v, err := ctReadValue(bufio.NewReader(bytes.NewReader(raw)), nil)
	if err != nil {
		t.Fatalf("parse %q: %v", raw, err)
	}
	return v
}

func ctReadLine(br *bufio.Reader, raw *bytes.Buffer) (string, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return "", err
	}
	if raw != nil {
		raw.WriteString(line)
	}
	if !strings.HasSuffix(line, "\r\n") {
		return "", fmt.Errorf("line without CRLF: %q", line)
	}
	return line[:len(line)-2], nil
}

func ctReadValue(br *bufio.Reader, raw *bytes.Buffer) (*ctValue, error) {
	line, err := ctReadLine(br, raw)
	if err != nil {
		return nil, err
	}
	if line == "" {
		return nil, fmt.Errorf("empty line")
	}
	v := &ctValue{Kind: line[0]}
	rest := line[1:]
	switch v.Kind {
	case '+', '-', ',', '(':
		v.Str = rest
	case '#':
		v.Str = rest
	case '_':
	case ':':
		v.Int, err = strconv.ParseInt(rest, 10, 64)
		if err != nil {
			return nil, err
		}
	case '$', '=':
		n, err := strconv.Atoi(rest)
		if err != nil {
			return nil, err
		}
		if n < 0 {
			v.Null = true
			return v, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(br, buf); err != nil {
			return nil, err
		}
		if raw != nil {
			raw.Write(buf)
		}
		v.Str = string(buf[:n])
	case '*', '~', '%', '>':
		n, err := strconv.Atoi(rest)
		if err != nil {
			return nil, err
		}
		if n < 0 {
			v.Null = true
			return v, nil
		}
		if v.Kind == '%' {
			n *= 2
		}
		v.Elems = make([]*ctValue, n)
		for i := range v.Elems {
			if v.Elems[i], err = ctReadValue(br, raw); err != nil {
				return nil, err
			}
		}
	default:
		return nil, fmt.Errorf("unknown reply type %q", line)
	}
	return v, nil
}

// encode writes v back in the protocol it was read in.
func (v *ctValue) encode(b []byte) []byte {
	b = append(b, v.Kind)
	switch v.Kind {
	case '+', '-', ',', '(', '#':
		b = append(b, v.Str...)
	case '_':
	case ':':
		b = strconv.AppendInt(b, v.Int, 10)
	case '$', '=':
		if v.Null {
			return append(b, "-1\r\n"...)
		}
		b = strconv.AppendInt(b, int64(len(v.Str)), 10)
		b = append(b, '\r', '\n')
		b = append(b, v.Str...)
	case '*', '~', '%', '>':
		if v.Null {
			return append(b, "-1\r\n"...)
		}
		n := len(v.Elems)
		if v.Kind == '%' {
			n /= 2
		}
		b = strconv.AppendInt(b, int64(n), 10)
		b = append(b, '\r', '\n')
		for _, e := range v.Elems {
			b = e.encode(b)
		}
		return b
	}
	return append(b, '\r', '\n')
}

func (v *ctValue) String() string {
	var sb strings.Builder
	v.format(&sb)
	return sb.String()
}

func (v *ctValue) format(sb *strings.Builder) {
	switch v.Kind {
	case '+':
		sb.WriteString(v.Str)
	case '-':
		sb.WriteString("(error) " + v.Str)
	case ':':
		sb.WriteString(strconv.FormatInt(v.Int, 10))
	case '$', '=':
		if v.Null {
			sb.WriteString("(nil)")
		} else {
			sb.WriteString(strconv.Quote(v.Str))
		}
	case '_':
		sb.WriteString("(null)")
	case '*', '~', '>', '%':
		if v.Null {
			sb.WriteString("(nil-array)")
			return
		}
		open, close := "[", "]"
		if v.Kind == '%' {
			open, close = "{", "}"
		} else if v.Kind == '~' {
			open = "~["
		}
		sb.WriteString(open)
		for i, e := range v.Elems {
			if i > 0 {
				if v.Kind == '%' && i%2 == 1 {
					sb.WriteString(": ")
				} else {
					sb.WriteString(" ")
				}
			}
			e.format(sb)
		}
		sb.WriteString(close)
	default:
		sb.WriteString(string(v.Kind) + v.Str)
	}
}

// mapGet returns the value under key in a RESP3 map (or a RESP2 flat
// key/value array).
func (v *ctValue) mapGet(key string) *ctValue {
	for i := 0; i+1 < len(v.Elems); i += 2 {
		if v.Elems[i].Str == key {
			return v.Elems[i+1]
		}
	}
	return nil
}
