package engine

// Script tests: files in testdata/*.txt hold blocks of commands and the
// replies Redis 7.0 gives to them, run against a DB with an explicit clock.
//
//	# a comment
//	run now=1000 seed=1 resp=2
//	SET k v PX 100
//	GET k
//	----
//	+OK
//	"v"
//
// The state carries over from block to block within a file; "reset" as a
// directive empties the DB. Replies are rendered one per command: +simple,
// -error, :int, "bulk" (Go-quoted), (nil), (nil-array), [a b ...] for
// arrays, {k: v, ...} for maps, ~[...] for sets, ,double, #t/#f.
//
// The expected replies must be what Redis answers. With -oracle (and a
// redis-server on PATH), every block not marked oracle=skip is also sent to a
// real Redis 7.0 and its replies compared with the file, so the expectations
// are checked against Redis rather than against Flotilla. Blocks that depend
// on the clock or on random choices are marked oracle=skip. With -rewrite the
// files are rewritten from the engine's output: review the diff against
// Redis's documented behaviour before committing it.

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	rewrite = flag.Bool("rewrite", false, "rewrite testdata scripts from the engine's replies")
	oracle  = flag.Bool("oracle", false, "also check testdata scripts against a real redis-server")
)

type scriptBlock struct {
	directive string
	cmds      []string
	want      []string
	line      int
}

func parseScript(t *testing.T, path string) (header []string, blocks []scriptBlock) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	var cur *scriptBlock
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
			blocks = append(blocks, scriptBlock{directive: line, line: i + 1})
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
			cur.cmds = append(cur.cmds, line)
		case line == "":
			cur, inWant = nil, false
		default:
			cur.want = append(cur.want, line)
		}
	}
	return header, blocks
}

func directiveArgs(d string) map[string]string {
	m := map[string]string{}
	for _, f := range strings.Fields(d)[1:] {
		k, v, _ := strings.Cut(f, "=")
		m[k] = v
	}
	return m
}

func TestScripts(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.txt")
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) { runScript(t, path) })
	}
}

func runScript(t *testing.T, path string) {
	header, blocks := parseScript(t, path)
	db := New(1)
	var rc *redisConn
	if *oracle {
		rc = startOracle(t)
	}
	var out bytes.Buffer
	for _, h := range header {
		out.WriteString(h + "\n")
	}
	for bi := range blocks {
		b := &blocks[bi]
		if b.directive == "reset" {
			db = New(1)
			if rc != nil {
				rc.do(t, []string{"FLUSHALL"}, 2)
			}
			out.WriteString("reset\n\n")
			continue
		}
		args := directiveArgs(b.directive)
		now, _ := strconv.ParseInt(args["now"], 10, 64)
		if now == 0 {
			now = 1_700_000_000_000
		}
		seed, _ := strconv.ParseUint(args["seed"], 10, 64)
		resp := 2
		if args["resp"] == "3" {
			resp = 3
		}
		var got []string
		for _, line := range b.cmds {
			argv, err := splitCommand(line)
			if err != nil {
				t.Fatalf("%s:%d: %v", path, b.line, err)
			}
			w := &textWriter{proto: resp}
			bargs := make([][]byte, len(argv))
			for i, a := range argv {
				bargs[i] = []byte(a)
			}
			h := Lookup(strings.ToLower(argv[0]))
			if h == nil {
				t.Fatalf("%s:%d: no handler for %q", path, b.line, argv[0])
			}
			c := &Ctx{DB: db, W: w}
			c.Reset(bargs, now, seed)
			h(c)
			if w.replies != 1 {
				t.Errorf("%s:%d: %q wrote %d replies", path, b.line, line, w.replies)
			}
			got = append(got, w.String())
		}
		if !*rewrite && !equalLines(got, b.want) {
			t.Errorf("%s:%d: %s\ngot:\n  %s\nwant:\n  %s", path, b.line, b.directive,
				strings.Join(got, "\n  "), strings.Join(b.want, "\n  "))
		}
		if rc != nil && args["oracle"] != "skip" {
			var redisGot []string
			for _, line := range b.cmds {
				argv, _ := splitCommand(line)
				redisGot = append(redisGot, rc.do(t, argv, resp))
			}
			if !equalLines(redisGot, b.want) {
				t.Errorf("%s:%d: Redis disagrees with the file\nredis:\n  %s\nfile:\n  %s", path, b.line,
					strings.Join(redisGot, "\n  "), strings.Join(b.want, "\n  "))
			}
		}
		out.WriteString(b.directive + "\n")
		for _, c := range b.cmds {
			out.WriteString(c + "\n")
		}
		out.WriteString("----\n")
		for _, g := range got {
			out.WriteString(g + "\n")
		}
		out.WriteString("\n")
	}
	if *rewrite {
		if err := os.WriteFile(path, bytes.TrimRight(out.Bytes(), "\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		f.WriteString("\n")
		f.Close()
	}
}

func equalLines(a, b []string) bool {
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

// splitCommand splits a line as redis-cli does: spaces separate arguments,
// "..." quotes with \n \t \" \\ \xHH escapes, '...' quotes literally.
func splitCommand(line string) ([]string, error) {
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

// textWriter renders a reply in the script notation.
type textWriter struct {
	proto   int
	b       strings.Builder
	stack   []int // elements left in each open aggregate
	closers []string
	replies int
}

func (w *textWriter) String() string { return w.b.String() }
func (w *textWriter) Proto() int     { return w.proto }

func (w *textWriter) item(s string) {
	w.sep()
	w.b.WriteString(s)
	w.done()
}

func (w *textWriter) sep() {
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
func (w *textWriter) done() {
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

func (w *textWriter) open(prefix, closer string, n int) {
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

func (w *textWriter) WriteSimple(s string)     { w.item("+" + s) }
func (w *textWriter) WriteError(msg string)    { w.item("-" + msg) }
func (w *textWriter) WriteInt(n int64)         { w.item(":" + strconv.FormatInt(n, 10)) }
func (w *textWriter) WriteBulk(b []byte)       { w.item(strconv.Quote(string(b))) }
func (w *textWriter) WriteBulkString(s string) { w.item(strconv.Quote(s)) }
func (w *textWriter) WriteNull()               { w.item("(nil)") }
func (w *textWriter) WriteNullArray() {
	if w.proto == 3 {
		w.item("(nil)")
	} else {
		w.item("(nil-array)")
	}
}
func (w *textWriter) WriteArray(n int) { w.open("[", "]", n) }
func (w *textWriter) WriteMap(n int) {
	if w.proto == 3 {
		w.open("{", "}", 2*n)
	} else {
		w.open("[", "]", 2*n)
	}
}
func (w *textWriter) WriteSet(n int) {
	if w.proto == 3 {
		w.open("~[", "]", n)
	} else {
		w.open("[", "]", n)
	}
}
func (w *textWriter) WriteDouble(f float64) {
	s := string(appendDouble(nil, f))
	if w.proto == 3 {
		w.item("," + s)
	} else {
		w.item(strconv.Quote(s))
	}
}
func (w *textWriter) WriteBool(b bool) {
	switch {
	case w.proto == 3 && b:
		w.item("#t")
	case w.proto == 3:
		w.item("#f")
	case b:
		w.item(":1")
	default:
		w.item(":0")
	}
}
func (w *textWriter) WriteVerbatim(format, s string) { w.item(strconv.Quote(s)) }

// The oracle: a real redis-server, spoken to over RESP, whose replies are
// rendered in the same notation.

type redisConn struct {
	conn  net.Conn
	rd    *bufio.Reader
	proto int
}

func startOracle(t *testing.T) *redisConn {
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
	return &redisConn{conn: conn, rd: bufio.NewReader(conn), proto: 2}
}

func (r *redisConn) send(argv []string) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "*%d\r\n", len(argv))
	for _, a := range argv {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	r.conn.Write(b.Bytes())
}

func (r *redisConn) do(t *testing.T, argv []string, proto int) string {
	t.Helper()
	if proto != r.proto {
		r.send([]string{"HELLO", strconv.Itoa(proto)})
		w := &textWriter{proto: proto}
		if err := r.read(w); err != nil {
			t.Fatal(err)
		}
		r.proto = proto
	}
	r.send(argv)
	w := &textWriter{proto: proto}
	if err := r.read(w); err != nil {
		t.Fatal(err)
	}
	return w.String()
}

func (r *redisConn) read(w *textWriter) error {
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
			w.item("," + rest)
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
			w.open("{", "}", 2*n)
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
