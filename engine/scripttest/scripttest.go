// Package scripttest runs Flotilla's script tests: files of Redis commands
// with the replies Redis 7.0 gives to them (see engine/script_test.go for the
// format). It parses the files, renders replies in the script notation (as
// an engine.Writer, or read from a RESP connection), and talks to a real
// redis-server, the oracle the expectations are checked against.
package scripttest

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

// Block is one block of a script: a directive ("run now=1000 resp=3",
// "reset"), commands, and the expected replies, one per command.
type Block struct {
	Directive string
	Cmds      []string
	Want      []string
	Line      int
}

// Parse reads a script file: the comment lines before the first block, and
// the blocks.
func Parse(t testing.TB, path string) (header []string, blocks []Block) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	var cur *Block
	inWant := false
	for i, line := range lines {
		switch {
		case cur == nil && (strings.HasPrefix(line, "#") || strings.TrimSpace(line) == ""):
			if len(blocks) == 0 {
				header = append(header, line)
			}
		case cur == nil:
			if !strings.HasPrefix(line, "run") && line != "reset" {
				t.Fatalf("%s:%d: expected a directive, got %q", path, i+1, line)
			}
			blocks = append(blocks, Block{Directive: line, Line: i + 1})
			cur = &blocks[len(blocks)-1]
			if line == "reset" {
				cur = nil
			}
		case !inWant && line == "----":
			inWant = true
		case !inWant:
			if strings.HasPrefix(line, "#") {
				continue
			}
			cur.Cmds = append(cur.Cmds, line)
		case line == "":
			cur, inWant = nil, false
		default:
			cur.Want = append(cur.Want, line)
		}
	}
	return header, blocks
}

// DirectiveArgs returns the key=value arguments of a directive.
func DirectiveArgs(d string) map[string]string {
	m := map[string]string{}
	for _, f := range strings.Fields(d)[1:] {
		k, v, _ := strings.Cut(f, "=")
		m[k] = v
	}
	return m
}

// EqualLines reports whether two renderings are the same.
func EqualLines(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// SplitCommand splits a line as redis-cli does: spaces separate arguments,
// "..." quotes with \n \t \" \\ \xHH escapes, '...' quotes literally.
func SplitCommand(line string) ([]string, error) {
	var out []string
	i := 0
	for {
		for i < len(line) && line[i] == ' ' {
			i++
		}
		if i == len(line) {
			return out, nil
		}
		var cur strings.Builder
		switch line[i] {
		case '"':
			i++
			for {
				if i >= len(line) {
					return nil, fmt.Errorf("unbalanced quotes in %q", line)
				}
				ch := line[i]
				if ch == '"' {
					i++
					break
				}
				if ch == '\\' && i+1 < len(line) {
					i++
					switch line[i] {
					case 'n':
						cur.WriteByte('\n')
					case 'r':
						cur.WriteByte('\r')
					case 't':
						cur.WriteByte('\t')
					case 'x':
						v, err := strconv.ParseUint(line[i+1:i+3], 16, 8)
						if err != nil {
							return nil, err
						}
						cur.WriteByte(byte(v))
						i += 2
					default:
						cur.WriteByte(line[i])
					}
					i++
					continue
				}
				cur.WriteByte(ch)
				i++
			}
		case '\'':
			i++
			j := strings.IndexByte(line[i:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unbalanced quotes in %q", line)
			}
			cur.WriteString(line[i : i+j])
			i += j + 1
		default:
			for i < len(line) && line[i] != ' ' {
				cur.WriteByte(line[i])
				i++
			}
		}
		out = append(out, cur.String())
	}
}

// TextWriter renders a reply in the script notation; it implements
// engine.Writer.
type TextWriter struct {
	proto   int
	b       strings.Builder
	stack   []int // elements left in each open aggregate
	closers []string
	replies int
}

// NewTextWriter returns a writer rendering for RESP version proto.
func NewTextWriter(proto int) *TextWriter { return &TextWriter{proto: proto} }

// Replies returns how many complete replies were written.
func (w *TextWriter) Replies() int { return w.replies }

func (w *TextWriter) String() string { return w.b.String() }
func (w *TextWriter) Proto() int     { return w.proto }

// Item writes one rendered element.
func (w *TextWriter) Item(s string) {
	w.sep()
	w.b.WriteString(s)
	w.done()
}

func (w *TextWriter) sep() {
	if n := len(w.stack); n > 0 {
		if w.b.Len() > 0 {
			last := w.b.String()[w.b.Len()-1]
			if last != '[' && last != '{' {
				if w.closers[n-1] == "}" && w.stack[n-1]%2 == 1 {
					w.b.WriteString(": ")
				} else if w.closers[n-1] == "}" {
					w.b.WriteString(", ")
				} else {
					w.b.WriteString(" ")
				}
			}
		}
	}
}

// done closes finished aggregates after an element.
func (w *TextWriter) done() {
	for {
		n := len(w.stack)
		if n == 0 {
			w.replies++
			return
		}
		w.stack[n-1]--
		if w.stack[n-1] > 0 {
			return
		}
		w.b.WriteString(w.closers[n-1])
		w.stack, w.closers = w.stack[:n-1], w.closers[:n-1]
	}
}

// Open starts an aggregate of n elements.
func (w *TextWriter) Open(prefix, closer string, n int) {
	w.sep()
	w.b.WriteString(prefix)
	if n == 0 {
		w.b.WriteString(closer)
		w.done()
		return
	}
	w.stack = append(w.stack, n)
	w.closers = append(w.closers, closer)
}

func (w *TextWriter) WriteSimple(s string)     { w.Item("+" + s) }
func (w *TextWriter) WriteError(msg string)    { w.Item("-" + msg) }
func (w *TextWriter) WriteInt(n int64)         { w.Item(":" + strconv.FormatInt(n, 10)) }
func (w *TextWriter) WriteBulk(b []byte)       { w.Item(strconv.Quote(string(b))) }
func (w *TextWriter) WriteBulkString(s string) { w.Item(strconv.Quote(s)) }
func (w *TextWriter) WriteNull()               { w.Item("(nil)") }
func (w *TextWriter) WriteNullArray() {
	if w.proto == 3 {
		w.Item("(nil)")
	} else {
		w.Item("(nil-array)")
	}
}
func (w *TextWriter) WriteArray(n int) { w.Open("[", "]", n) }
func (w *TextWriter) WriteMap(n int) {
	if w.proto == 3 {
		w.Open("{", "}", 2*n)
	} else {
		w.Open("[", "]", 2*n)
	}
}
func (w *TextWriter) WriteSet(n int) {
	if w.proto == 3 {
		w.Open("~[", "]", n)
	} else {
		w.Open("[", "]", n)
	}
}
func (w *TextWriter) WriteDouble(f float64) {
	s := formatDouble(f)
	if w.proto == 3 {
		w.Item("," + s)
	} else {
		w.Item(strconv.Quote(s))
	}
}
func (w *TextWriter) WriteBool(b bool) {
	switch {
	case w.proto == 3 && b:
		w.Item("#t")
	case w.proto == 3:
		w.Item("#f")
	case b:
		w.Item(":1")
	default:
		w.Item(":0")
	}
}
func (w *TextWriter) WriteVerbatim(format, s string) { w.Item(strconv.Quote(s)) }

// The oracle: a real redis-server, spoken to over RESP, whose replies are
// rendered in the same notation.

// Conn is a RESP connection whose replies are rendered in the script
// notation.
type Conn struct {
	conn  net.Conn
	rd    *bufio.Reader
	proto int
}

// StartOracle starts a redis-server on a free port for the test and
// returns a connection to it. It fails the test when redis-server is
// missing: CI installs it.
func StartOracle(t testing.TB) *Conn {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("-oracle needs redis-server on PATH: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir := t.TempDir()
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "no", "--dir", dir, "--enable-debug-command", "yes")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var conn net.Conn
	for i := 0; i < 100; i++ {
		conn, err = net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &Conn{conn: conn, rd: bufio.NewReader(conn), proto: 2}
}

func (r *Conn) send(argv []string) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "*%d\r\n", len(argv))
	for _, a := range argv {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	r.conn.Write(b.Bytes())
}

// Dial connects to a RESP server.
func Dial(t testing.TB, addr string) *Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &Conn{conn: conn, rd: bufio.NewReader(conn), proto: 2}
}

// Do sends argv and returns the rendered reply, switching the connection
// to RESP version proto first (HELLO) when needed.
func (r *Conn) Do(t testing.TB, argv []string, proto int) string {
	t.Helper()
	if proto != r.proto {
		r.send([]string{"HELLO", strconv.Itoa(proto)})
		w := NewTextWriter(proto)
		if err := r.read(w); err != nil {
			t.Fatal(err)
		}
		r.proto = proto
	}
	r.send(argv)
	w := NewTextWriter(proto)
	if err := r.read(w); err != nil {
		t.Fatal(err)
	}
	return w.String()
}

func (r *Conn) read(w *TextWriter) error {
	line, err := r.rd.ReadString('\n')
	if err != nil {
		return err
	}
	line = strings.TrimSuffix(line, "\r\n")
	typ, rest := line[0], line[1:]
	n, _ := strconv.Atoi(rest)
	switch typ {
	case '+':
		w.WriteSimple(rest)
	case '-':
		w.WriteError(rest)
	case ':':
		v, _ := strconv.ParseInt(rest, 10, 64)
		w.WriteInt(v)
	case '$', '=':
		if n < 0 {
			w.WriteNull()
			return nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r.rd, buf); err != nil {
			return err
		}
		s := string(buf[:n])
		if typ == '=' {
			s = s[4:]
		}
		w.WriteBulkString(s)
	case '_':
		w.WriteNull()
	case ',':
		f, _ := strconv.ParseFloat(rest, 64)
		if rest == "inf" || rest == "-inf" {
			w.Item("," + rest)
		} else {
			w.WriteDouble(f)
		}
	case '#':
		w.WriteBool(rest == "t")
	case '*', '%', '~', '>':
		if n < 0 {
			w.WriteNullArray()
			return nil
		}
		count := n
		switch typ {
		case '*', '>':
			w.WriteArray(n)
		case '%':
			w.Open("{", "}", 2*n)
			count = 2 * n
		case '~':
			w.WriteSet(n)
		}
		for i := 0; i < count; i++ {
			if err := r.read(w); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("unexpected reply %q", line)
	}
	return nil
}

func formatDouble(f float64) string {
	switch {
	case f > 1.7976931348623157e308:
		return "inf"
	case f < -1.7976931348623157e308:
		return "-inf"
	}
	return strconv.FormatFloat(f, 'g', 17, 64)
}
