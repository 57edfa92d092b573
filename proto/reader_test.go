package proto

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"
)

// result is what a Reader made of a whole stream.
type result struct {
	cmds [][]string
	err  error // the final error: a *ProtocolError, *QueryBufferError, or nil for EOF
}

func (r result) String() string {
	return fmt.Sprintf("cmds=%q err=%v", r.cmds, r.err)
}

func sameResult(a, b result) bool {
	if len(a.cmds) != len(b.cmds) {
		return false
	}
	for i := range a.cmds {
		if len(a.cmds[i]) != len(b.cmds[i]) {
			return false
		}
		for j := range a.cmds[i] {
			if a.cmds[i][j] != b.cmds[i][j] {
				return false
			}
		}
	}
	return errText(a.err) == errText(b.err)
}

func errText(err error) string {
	var qe *QueryBufferError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &qe):
		return "query buffer limit"
	default:
		return err.Error()
	}
}

// readAll reads every command of rd. Read errors other than io.EOF are
// retried (iotest.TimeoutReader), so the result is the stream's.
func readAll(t testing.TB, rd io.Reader, lim *Limits, unauth bool) result {
	t.Helper()
	r := NewReader(rd, lim)
	r.SetAuthRequired(unauth)
	var res result
	for i := 0; ; i++ {
		if i > 1<<22 {
			t.Fatal("reader makes no progress")
		}
		cmds, err := r.ReadCommands()
		if len(cmds) > 0 && err != nil {
			t.Fatalf("commands and an error together: %v", err)
		}
		if unauth && len(cmds) > 1 {
			t.Fatalf("%d commands in one batch while unauthenticated", len(cmds))
		}
		for _, c := range cmds {
			if len(c.Args) == 0 {
				t.Fatal("empty command returned")
			}
			args := make([]string, len(c.Args))
			for j, a := range c.Args {
				args[j] = string(a)
			}
			res.cmds = append(res.cmds, args)
		}
		switch {
		case err == nil:
		case err == io.EOF:
			return res
		case errors.Is(err, iotest.ErrTimeout):
		default:
			var pe *ProtocolError
			var qe *QueryBufferError
			if !errors.As(err, &pe) && !errors.As(err, &qe) {
				t.Fatalf("unexpected error %T %v", err, err)
			}
			// Final: the same error again.
			if _, err2 := r.ReadCommands(); err2 != err {
				t.Fatalf("error not sticky: %v then %v", err, err2)
			}
			res.err = err
			return res
		}
	}
}

// chunkReader returns data in chunks of sizes drawn from rng (1..max).
type chunkReader struct {
	data []byte
	rng  *rand.Rand
	max  int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := 1 + c.rng.Intn(c.max)
	n = min(n, len(p), len(c.data))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

// splitReader returns data[:k] then the rest.
type splitReader struct {
	data []byte
	k    int
}

func (s *splitReader) Read(p []byte) (int, error) {
	if len(s.data) == 0 {
		return 0, io.EOF
	}
	n := len(s.data)
	if s.k > 0 {
		n = s.k
	}
	n = min(n, len(p))
	copy(p, s.data[:n])
	s.data = s.data[n:]
	s.k -= n
	return n, nil
}

type readerCase struct {
	name   string
	in     string
	want   [][]string
	err    error
	unauth bool
}

func cmd(args ...string) []string { return args }

var bigInline = strings.Repeat("A", inlineMax)

var readerCases = []readerCase{
	{name: "multibulk", in: "*1\r\n$4\r\nPING\r\n", want: [][]string{cmd("PING")}},
	{name: "multibulk args", in: "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n", want: [][]string{cmd("SET", "k", "")}},
	{name: "binary bulk", in: "*2\r\n$4\r\nECHO\r\n$5\r\na\x00\r\nb\r\n", want: [][]string{cmd("ECHO", "a\x00\r\nb")}},
	{name: "pipeline", in: "*1\r\n$4\r\nPING\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$1\r\nx\r\n", want: [][]string{cmd("PING"), cmd("PING"), cmd("ECHO", "x")}},
	{name: "inline crlf", in: "PING\r\n", want: [][]string{cmd("PING")}},
	{name: "inline lf", in: "ECHO hi\n", want: [][]string{cmd("ECHO", "hi")}},
	{name: "empty lines", in: "\r\n\n   \r\n\t\nPING\n", want: [][]string{cmd("PING")}},
	{name: "empty commands", in: "*0\r\n*-1\r\n*-5\r\nPING\r\n", want: [][]string{cmd("PING")}},
	{name: "spaces", in: "  SET   k \t v  \r\n", want: [][]string{cmd("SET", "k", "v")}},
	{name: "quotes", in: `SET k "a b" 'c d' "" ''` + "\n", want: [][]string{cmd("SET", "k", "a b", "c d", "", "")}},
	{name: "double quote escapes", in: `ECHO "\x41\x4a\x4A\xfF\n\r\t\b\a\"\\\q\xzz\x4"` + "\n", want: [][]string{cmd("ECHO", "AJJ\xff\n\r\t\b\a\"\\qxzzx4")}},
	{name: "single quote escapes", in: `ECHO 'it\'s \n \\ x'` + "\n", want: [][]string{cmd("ECHO", `it's \n \\ x`)}},
	{name: "single quote escaped at end", in: `ECHO 'a\\'` + "\n", err: ErrUnbalancedQuotes},
	{name: "quote inside token", in: `ECHO a"b c"` + "\n", want: [][]string{cmd("ECHO", "ab c")}},
	{name: "quote then vtab", in: "ECHO \"a\"\v\n", want: [][]string{cmd("ECHO", "a")}},
	{name: "vtab inside token", in: "ECHO a\vb\n", want: [][]string{cmd("ECHO", "a\vb")}},
	{name: "leading vtab", in: "\v\fECHO x\n", want: [][]string{cmd("ECHO", "x")}},
	{name: "cr separates", in: "ECHO a\rb\r\r\n", want: [][]string{cmd("ECHO", "a", "b")}},
	{name: "high bytes", in: "ECHO \x80\xff\n", want: [][]string{cmd("ECHO", "\x80\xff")}},
	{name: "dollar inline", in: "$3\r\n", want: [][]string{cmd("$3")}},
	{name: "unbalanced double", in: "ECHO \"a\n", err: ErrUnbalancedQuotes},
	{name: "unbalanced single", in: "ECHO 'a\n", err: ErrUnbalancedQuotes},
	{name: "text after double", in: "ECHO \"a\"b\n", err: ErrUnbalancedQuotes},
	{name: "text after single", in: "ECHO 'a'b\n", err: ErrUnbalancedQuotes},
	{name: "backslash at end", in: "ECHO \"a\\\n", err: ErrUnbalancedQuotes},
	{name: "unbalanced after commands", in: "PING\r\nECHO \"x\r\n", want: [][]string{cmd("PING")}, err: ErrUnbalancedQuotes},
	{name: "cr not lf after count", in: "*1\rX$4\r\nPING\r\n", want: [][]string{cmd("PING")}},
	{name: "no crlf after bulk", in: "*1\r\n$4\r\nPINGXY*1\r\n$4\r\nPING\r\n", want: [][]string{cmd("PING"), cmd("PING")}},
	{name: "bulk needs two more bytes", in: "*1\r\n$4\r\nPING\r"},
	{name: "count needs byte after cr", in: "*1\r"},
	{name: "incomplete", in: "*2\r\n$3\r\nGET\r\n$3\r\nke"},
	{name: "plus count", in: "*+1\r\n", err: ErrInvalidMultibulkLength},
	{name: "zero padded count", in: "*01\r\n", err: ErrInvalidMultibulkLength},
	{name: "minus zero count", in: "*-0\r\n", err: ErrInvalidMultibulkLength},
	{name: "empty count", in: "*\r\n", err: ErrInvalidMultibulkLength},
	{name: "space in count", in: "*1 \r\n", err: ErrInvalidMultibulkLength},
	{name: "count overflow", in: "*99999999999999999999\r\n", err: ErrInvalidMultibulkLength},
	{name: "count too long", in: "*000000000000000000001\r\n", err: ErrInvalidMultibulkLength},
	{name: "count above INT_MAX", in: "*2147483648\r\n", err: ErrInvalidMultibulkLength},
	{name: "count INT_MAX", in: "*2147483647\r\n"},
	{name: "count lf before cr", in: "*1\n$4\r\nPING\r\n", err: ErrInvalidMultibulkLength},
	{name: "expected dollar", in: "*1\r\nX\r\n", err: errExpectedDollar('X')},
	{name: "expected dollar got cr", in: "*1\r\n\r\n", err: &ProtocolError{"Protocol error: expected '$', got ' '"}},
	{name: "expected dollar got lf", in: "*1\r\n\n\r\n", err: &ProtocolError{"Protocol error: expected '$', got ' '"}},
	{name: "expected dollar got colon", in: "*2\r\n$1\r\na\r\n:1\r\n", err: errExpectedDollar(':')},
	{name: "negative bulk", in: "*1\r\n$-1\r\n", err: ErrInvalidBulkLength},
	{name: "plus bulk", in: "*1\r\n$+1\r\n", err: ErrInvalidBulkLength},
	{name: "empty bulk length", in: "*1\r\n$\r\n", err: ErrInvalidBulkLength},
	{name: "bulk above max", in: "*1\r\n$536870913\r\n", err: ErrInvalidBulkLength},
	{name: "bulk max", in: "*1\r\n$536870912\r\n"},
	{name: "bulk lf before cr", in: "*1\r\n$4\nPING\r\n", err: ErrInvalidBulkLength},
	{name: "too big mbulk count", in: "*" + strings.Repeat("1", inlineMax), err: ErrTooBigMultibulkCount},
	{name: "mbulk count at limit", in: "*" + strings.Repeat("1", inlineMax-1)},
	{name: "mbulk count cr at limit", in: "*" + strings.Repeat("1", inlineMax-1) + "\r", err: nil},
	{name: "too big bulk count", in: "*1\r\n$" + strings.Repeat("1", inlineMax), err: ErrTooBigBulkCount},
	{name: "bulk count at limit", in: "*1\r\n$" + strings.Repeat("1", inlineMax-1)},
	{name: "too big inline", in: bigInline + "A", err: ErrTooBigInline},
	{name: "inline at limit", in: bigInline + "\n", want: [][]string{cmd(bigInline)}},
	{name: "inline at limit crlf", in: bigInline + "\r\n", err: ErrTooBigInline},
	{name: "inline nul waits", in: "PING a\x00b\nPING\n"},
	{name: "inline nul too big", in: "PING a\x00b\n" + bigInline, err: ErrTooBigInline},
	{name: "count nul waits", in: "*1\x00\r\n$4\r\nPING\r\n"},
	{name: "count nul too big", in: "*1\x00\r\n" + bigInline, err: ErrTooBigMultibulkCount},
	{name: "bulk count nul too big", in: "*1\r\n$\x00" + bigInline, err: ErrTooBigBulkCount},
	{name: "error after commands", in: "PING\r\n*1\r\n$4\r\nPING\r\n*x\r\n", want: [][]string{cmd("PING"), cmd("PING")}, err: ErrInvalidMultibulkLength},
	{name: "big bulk", in: "*2\r\n$4\r\nECHO\r\n$100000\r\n" + strings.Repeat("v", 100000) + "\r\n",
		want: [][]string{cmd("ECHO", strings.Repeat("v", 100000))}},
	{name: "unauth count", in: "*11\r\n", err: ErrUnauthMultibulkLength, unauth: true},
	{name: "unauth count ok", in: "*10\r\n", unauth: true},
	{name: "unauth invalid first", in: "*11x\r\n", err: ErrInvalidMultibulkLength, unauth: true},
	{name: "unauth bulk", in: "*1\r\n$16385\r\n", err: ErrUnauthBulkLength, unauth: true},
	{name: "unauth bulk ok", in: "*1\r\n$16384\r\n", unauth: true},
	{name: "unauth invalid bulk first", in: "*1\r\n$536870913\r\n", err: ErrInvalidBulkLength, unauth: true},
	{name: "unauth inline unlimited args", in: "EXISTS a b c d e f g h i j k l\r\n", want: [][]string{cmd("EXISTS", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l")}, unauth: true},
	{name: "unauth pipeline", in: "PING\r\n*1\r\n$4\r\nPING\r\nPING\r\n", want: [][]string{cmd("PING"), cmd("PING"), cmd("PING")}, unauth: true},
}

func TestReaderCases(t *testing.T) {
	for _, tc := range readerCases {
		t.Run(tc.name, func(t *testing.T) {
			want := result{cmds: tc.want, err: tc.err}
			got := readAll(t, strings.NewReader(tc.in), nil, tc.unauth)
			if !sameResult(got, want) {
				t.Fatalf("got %v\nwant %v", got, want)
			}
			// The same whatever the read boundaries.
			for name, rd := range map[string]io.Reader{
				"one byte": iotest.OneByteReader(strings.NewReader(tc.in)),
				"half":     iotest.HalfReader(strings.NewReader(tc.in)),
				"data+EOF": iotest.DataErrReader(strings.NewReader(tc.in)),
				"timeout":  iotest.TimeoutReader(strings.NewReader(tc.in)),
				"chunks":   &chunkReader{data: []byte(tc.in), rng: rand.New(rand.NewSource(1)), max: 7},
			} {
				if got := readAll(t, rd, nil, tc.unauth); !sameResult(got, want) {
					t.Fatalf("%s: got %v\nwant %v", name, got, want)
				}
			}
		})
	}
}

// splitStream is a pipeline mixing every kind of request.
func splitStream() []byte {
	var b []byte
	b = append(b, "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n"...)
	b = append(b, "\r\n*0\r\nPING\r\n*-1\r\n"...)
	b = append(b, `SET "k \x41" 'v\'v' x"y z"`+"\n"...)
	b = append(b, "*1\rX$4\r\nPING\r\n"...)
	b = append(b, "*2\r\n$4\r\nECHO\r\n$0\r\n\r\n"...)
	b = append(b, "*2\r\n$4\r\nECHO\r\n$40000\r\n"...)
	b = append(b, bytes.Repeat([]byte("0123456789"), 4000)...)
	b = append(b, "\r\n   \n"...)
	b = append(b, "*4\r\n$4\r\nMSET\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\nECHO tail\n"...)
	return b
}

func TestReaderSplits(t *testing.T) {
	stream := splitStream()
	want := readAll(t, bytes.NewReader(stream), nil, false)
	if len(want.cmds) != 8 || want.err != nil {
		t.Fatalf("whole stream: %v", want)
	}
	for k := 1; k < len(stream); k++ {
		got := readAll(t, &splitReader{data: stream, k: k}, nil, false)
		if !sameResult(got, want) {
			t.Fatalf("split at %d: got %v", k, got)
		}
	}
	if got := readAll(t, iotest.OneByteReader(bytes.NewReader(stream)), nil, false); !sameResult(got, want) {
		t.Fatalf("one byte: got %v", got)
	}
	rng := rand.New(rand.NewSource(42))
	for i := 0; i < 200; i++ {
		max := 1 + rng.Intn(20000)
		got := readAll(t, &chunkReader{data: stream, rng: rng, max: max}, nil, false)
		if !sameResult(got, want) {
			t.Fatalf("random chunks (max %d): got %v", max, got)
		}
	}
	// Every split point of every error case, too.
	for _, tc := range readerCases {
		if len(tc.in) > 200 {
			continue
		}
		want := result{cmds: tc.want, err: tc.err}
		for k := 1; k < len(tc.in); k++ {
			if got := readAll(t, &splitReader{data: []byte(tc.in), k: k}, nil, tc.unauth); !sameResult(got, want) {
				t.Fatalf("%s split at %d: got %v want %v", tc.name, k, got, want)
			}
		}
	}
}

// TestReaderBatch checks that a pipeline comes back as one batch, that the
// arguments alias the buffer, and that an error after commands waits.
func TestReaderBatch(t *testing.T) {
	in := "PING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\nECHO \"a b\"\r\n*x\r\n"
	r := NewReader(strings.NewReader(in), nil)
	cmds, err := r.ReadCommands()
	if err != nil || len(cmds) != 3 {
		t.Fatalf("got %d commands, %v", len(cmds), err)
	}
	if !cmds[0].Inline || cmds[1].Inline || !cmds[2].Inline {
		t.Fatalf("inline flags %v %v %v", cmds[0].Inline, cmds[1].Inline, cmds[2].Inline)
	}
	if string(cmds[2].Args[1]) != "a b" || cap(cmds[1].Args[1]) != 2 {
		t.Fatalf("args %q cap %d", cmds[2].Args, cap(cmds[1].Args[1]))
	}
	if r.Buffered() != len("*x\r\n") {
		t.Fatalf("buffered %d", r.Buffered())
	}
	if _, err := r.ReadCommands(); err != ErrInvalidMultibulkLength {
		t.Fatalf("got %v", err)
	}
}

// TestReaderAuth checks that the limits follow SetAuthRequired between
// commands of one pipeline, as AUTH in a pipeline does in Redis.
func TestReaderAuth(t *testing.T) {
	in := "AUTH pw\r\n*12\r\n" + strings.Repeat("$1\r\nx\r\n", 12)
	r := NewReader(strings.NewReader(in), nil)
	r.SetAuthRequired(true)
	cmds, err := r.ReadCommands()
	if err != nil || len(cmds) != 1 || string(cmds[0].Args[0]) != "AUTH" {
		t.Fatalf("%v %v", cmds, err)
	}
	r.SetAuthRequired(false)
	cmds, err = r.ReadCommands()
	if err != nil || len(cmds) != 1 || len(cmds[0].Args) != 12 {
		t.Fatalf("%v %v", cmds, err)
	}
}

// TestReaderLimitsChange checks that limits are read at each command.
func TestReaderLimitsChange(t *testing.T) {
	var lim Limits
	pr, pw := io.Pipe()
	r := NewReader(pr, &lim)
	go pw.Write([]byte("*1\r\n$10\r\n0123456789\r\n"))
	if cmds, err := r.ReadCommands(); err != nil || len(cmds) != 1 {
		t.Fatalf("%v %v", cmds, err)
	}
	lim.MaxBulkLen.Store(9)
	go pw.Write([]byte("*1\r\n$10\r\n"))
	if _, err := r.ReadCommands(); err != ErrInvalidBulkLength {
		t.Fatalf("got %v", err)
	}

	var lim2 Limits
	lim2.MaxMultibulkLen.Store(2)
	if got := readAll(t, strings.NewReader("*2\r\n$1\r\na\r\n$1\r\nb\r\n*3\r\n"), &lim2, false); got.err != ErrInvalidMultibulkLength || len(got.cmds) != 1 {
		t.Fatalf("got %v", got)
	}
}

func TestReaderQueryBufferLimit(t *testing.T) {
	var lim Limits
	lim.QueryBufferLimit.Store(1 << 20)
	// A bulk bigger than the limit: the unparsed part outgrows it.
	in := "*2\r\n$3\r\nSET\r\n$2000000\r\n" + strings.Repeat("x", 1100000)
	got := readAll(t, strings.NewReader(in), &lim, false)
	var qe *QueryBufferError
	if !errors.As(got.err, &qe) || qe.Limit != 1<<20 || qe.Len <= 1<<20 || string(qe.Head) != strings.Repeat("x", 64) ||
		!strings.Contains(qe.Error(), "max query buffer length") {
		t.Fatalf("got %v", got)
	}
	// Complete arguments and commands do not count, as in Redis, where
	// they have left the query buffer.
	in = "*3\r\n$3\r\nSET\r\n$900000\r\n" + strings.Repeat("x", 900000) + "\r\n$900000\r\n" + strings.Repeat("y", 900000) + "\r\n"
	in += in
	got = readAll(t, strings.NewReader(in), &lim, false)
	if got.err != nil || len(got.cmds) != 2 {
		t.Fatalf("got err %v, %d commands", got.err, len(got.cmds))
	}
}

// TestReaderHugeDeclaredBulk checks that a declared length is not trusted
// for allocation: a client declaring $536870911 and sending nothing costs
// little, and a big bulk that does arrive costs about its size.
func TestReaderHugeDeclaredBulk(t *testing.T) {
	r := NewReader(strings.NewReader("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$536870911\r\nabc"), nil)
	if _, err := r.ReadCommands(); err != io.EOF {
		t.Fatalf("got %v", err)
	}
	if c := r.BufferCap(); c > 2*bigPrealloc {
		t.Fatalf("buffer of %d bytes for a bulk that did not arrive", c)
	}

	const n = 50 << 20
	head := "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$" + strconv.Itoa(n) + "\r\n"
	body := io.MultiReader(strings.NewReader(head), io.LimitReader(zeros{}, n), strings.NewReader("\r\nPING\r\n"))
	r = NewReader(body, nil)
	cmds, err := r.ReadCommands()
	if err != nil || len(cmds) != 1 || len(cmds[0].Args[2]) != n {
		t.Fatalf("%d commands, %v", len(cmds), err)
	}
	if c := r.BufferCap(); c > n+len(head)+2+readSize {
		t.Fatalf("buffer of %d bytes for a %d-byte bulk", c, n)
	}
	if !r.Retainable() {
		t.Fatal("big buffer not retainable")
	}
	arg := cmds[0].Args[2]
	cmds, err = r.ReadCommands()
	if err != nil || len(cmds) != 1 || string(cmds[0].Args[0]) != "PING" {
		t.Fatalf("%v %v", cmds, err)
	}
	if r.BufferCap() > keepBuf {
		t.Fatalf("big buffer kept: %d", r.BufferCap())
	}
	for _, c := range arg {
		if c != 0 {
			t.Fatal("retained argument overwritten")
		}
	}
}

// TestReaderRetainable checks that arguments of a batch from a big buffer
// survive the reads and commands that follow, and the buffer shrinks back.
func TestReaderRetainable(t *testing.T) {
	val := strings.Repeat("v", 3000000)
	in := "*3\r\n$4\r\nECHO\r\n$3000000\r\n" + val + "\r\n$1\r\nx\r\n" +
		strings.Repeat("PING\r\n", 100000) +
		"*2\r\n$4\r\nECHO\r\n$2000000\r\n" + strings.Repeat("w", 2000000) + "\r\n" +
		strings.Repeat("PING\r\n", 100000)
	r := NewReader(&chunkReader{data: []byte(in), rng: rand.New(rand.NewSource(3)), max: 1 << 20}, nil)
	var kept [][]byte
	n := 0
	for {
		cmds, err := r.ReadCommands()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if r.Retainable() {
			for _, c := range cmds {
				kept = append(kept, c.Args...)
			}
		}
		n += len(cmds)
	}
	if n != 200002 {
		t.Fatalf("%d commands", n)
	}
	if len(kept) < 3 || string(kept[1]) != val || string(kept[2]) != "x" {
		t.Fatalf("retained arguments changed (%d kept)", len(kept))
	}
	for _, a := range kept[3:] {
		if string(a) != "PING" && string(a) != "ECHO" && string(a) != strings.Repeat("w", 2000000) {
			t.Fatalf("retained argument changed: %q", a)
		}
	}
	if r.BufferCap() > keepBuf {
		t.Fatalf("buffer of %d bytes kept", r.BufferCap())
	}
}

// TestReaderManyBigArgs checks that a command of many big arguments is read
// in linear time (no copy of the whole command per argument).
func TestReaderManyBigArgs(t *testing.T) {
	const args, size = 200, 300 << 10 // 60MB in all
	var b bytes.Buffer
	b.WriteString("*" + strconv.Itoa(args) + "\r\n")
	val := bytes.Repeat([]byte{'v'}, size)
	for i := 0; i < args; i++ {
		b.WriteString("$" + strconv.Itoa(size) + "\r\n")
		b.Write(val)
		b.WriteString("\r\n")
	}
	cr := &countingReader{r: iotest.HalfReader(bytes.NewReader(b.Bytes()))}
	r := NewReader(cr, nil)
	start := time.Now()
	cmds, err := r.ReadCommands()
	if err != nil || len(cmds) != 1 || len(cmds[0].Args) != args {
		t.Fatalf("%v", err)
	}
	if c := r.BufferCap(); c > 2*b.Len()+bigPrealloc {
		t.Fatalf("buffer %d for %d bytes", c, b.Len())
	}
	t.Logf("%d bytes in %v, buffer %d", b.Len(), time.Since(start), r.BufferCap())
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

type countingReader struct {
	r     io.Reader
	reads int
}

func (c *countingReader) Read(p []byte) (int, error) {
	c.reads++
	return c.r.Read(p)
}

func TestReaderNoProgress(t *testing.T) {
	r := NewReader(iotest.ErrReader(nil), nil)
	if _, err := r.ReadCommands(); err != io.ErrNoProgress {
		t.Fatalf("got %v", err)
	}
}

func TestParseLL(t *testing.T) {
	for s, want := range map[string]int64{
		"0": 0, "1": 1, "-1": -1, "9223372036854775807": 1<<63 - 1, "-9223372036854775808": -1 << 63,
	} {
		if v, ok := parseLL([]byte(s)); !ok || v != want {
			t.Errorf("%q: %d %v", s, v, ok)
		}
	}
	for _, s := range []string{"", "-", "+1", "01", "-0", "00", " 1", "1 ", "1a", "9223372036854775808", "-9223372036854775809", "18446744073709551616", "99999999999999999999"} {
		if v, ok := parseLL([]byte(s)); ok {
			t.Errorf("%q: accepted as %d", s, v)
		}
	}
}

// repeatReader returns the same bytes forever.
type repeatReader struct {
	data []byte
	off  int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.data[r.off:])
		n += c
		r.off = (r.off + c) % len(r.data)
	}
	return n, nil
}

// pipeline16 is 16 small commands, as a client pipelines them.
func pipeline16() []byte {
	var b []byte
	for i := 0; i < 8; i++ {
		b = append(b, "*3\r\n$3\r\nSET\r\n$6\r\nkey:00\r\n$5\r\nvalue\r\n"...)
		b = append(b, "*2\r\n$3\r\nGET\r\n$6\r\nkey:00\r\n"...)
	}
	return b
}

// oneShot returns the pipeline once per Read, as a client that sends a
// pipeline and waits for its replies.
type oneShot struct{ data []byte }

func (o oneShot) Read(p []byte) (int, error) { return copy(p, o.data), nil }

func TestReaderZeroAlloc(t *testing.T) {
	r := NewReader(oneShot{pipeline16()}, nil)
	for i := 0; i < 10; i++ {
		if cmds, err := r.ReadCommands(); err != nil || len(cmds) != 16 {
			t.Fatalf("%d %v", len(cmds), err)
		}
	}
	if n := testing.AllocsPerRun(1000, func() {
		cmds, err := r.ReadCommands()
		if err != nil || len(cmds) != 16 {
			t.Fatalf("%d %v", len(cmds), err)
		}
	}); n != 0 {
		t.Fatalf("%v allocations per pipeline", n)
	}
	// A stream whose commands straddle reads, too.
	r = NewReader(&repeatReader{data: pipeline16()}, nil)
	for i := 0; i < 100; i++ {
		r.ReadCommands()
	}
	if n := testing.AllocsPerRun(1000, func() {
		if _, err := r.ReadCommands(); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("%v allocations per batch", n)
	}
}

func BenchmarkReadPipeline16(b *testing.B) {
	p := pipeline16()
	r := NewReader(oneShot{p}, nil)
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		cmds, err := r.ReadCommands()
		if err != nil || len(cmds) != 16 {
			b.Fatal(len(cmds), err)
		}
	}
}

func BenchmarkReadStream(b *testing.B) {
	p := pipeline16()
	r := NewReader(&repeatReader{data: p}, nil)
	b.ReportAllocs()
	n := 0
	for n < b.N {
		cmds, err := r.ReadCommands()
		if err != nil {
			b.Fatal(err)
		}
		n += len(cmds)
	}
}

func BenchmarkReadBigBulk(b *testing.B) {
	const size = 8 << 20
	msg := append([]byte("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$"+strconv.Itoa(size)+"\r\n"), make([]byte, size)...)
	msg = append(msg, "\r\n"...)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		r := NewReader(&chunkReader{data: msg, rng: rand.New(rand.NewSource(1)), max: 64 << 10}, nil)
		if cmds, err := r.ReadCommands(); err != nil || len(cmds) != 1 {
			b.Fatal(err)
		}
	}
}

// --- Against a real redis-server ---

// startRedis starts redis-server on a free port with extra config
// arguments and returns its address. A missing redis-server fails the test:
// CI installs it, and these tests are the check that our texts are Redis's.
func startRedis(t *testing.T, args ...string) string {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server not found in PATH: this test compares the reader with Redis 7.0; install it (apt-get install redis-server): %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	all := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--daemonize", "no", "--logfile", "", "--loglevel", "warning", "--dir", t.TempDir()}, args...)
	cmd := exec.Command(path, all...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if i > 200 {
			t.Fatalf("redis-server did not start: %v\n%s", err, out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return addr
}

// redisReply sends in on a new connection and returns what Redis replied,
// whether it closed the connection, and the connection's local address.
func redisReply(addr string, in []byte) (reply []byte, closed bool, local string, err error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, false, "", err
	}
	defer c.Close()
	local = c.LocalAddr().String()
	go c.Write(in) // Redis may close before reading it all
	buf := make([]byte, 4096)
	for {
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		n, err := c.Read(buf)
		reply = append(reply, buf[:n]...)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return reply, false, local, nil
			}
			return reply, true, local, nil // EOF or reset
		}
	}
}

// monitor collects MONITOR lines by client address.
type monitor struct {
	mu    sync.Mutex
	lines map[string][]string
	seen  chan string
}

func startMonitor(t *testing.T, addr string) *monitor {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	br := bufio.NewReader(c)
	c.Write([]byte("MONITOR\r\n"))
	if l, err := br.ReadString('\n'); err != nil || l != "+OK\r\n" {
		t.Fatalf("MONITOR: %q %v", l, err)
	}
	m := &monitor{lines: map[string][]string{}, seen: make(chan string, 1000)}
	go func() {
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				return
			}
			// +1700000000.123456 [0 127.0.0.1:5555] "PING"
			l = strings.TrimSuffix(strings.TrimPrefix(l, "+"), "\r\n")
			i := strings.Index(l, " [")
			j := strings.Index(l, "] ")
			if i < 0 || j < i {
				continue
			}
			f := strings.Fields(l[i+2 : j])
			peer := f[len(f)-1]
			m.mu.Lock()
			m.lines[peer] = append(m.lines[peer], l[j+2:])
			m.mu.Unlock()
			select {
			case m.seen <- l[j+2:]:
			default:
			}
		}
	}()
	return m
}

// sync waits until the monitor has seen a marker command sent after
// everything else.
func (m *monitor) sync(t *testing.T, addr string) {
	marker := fmt.Sprintf("marker-%d", time.Now().UnixNano())
	if _, _, _, err := redisReply(addr, []byte("ECHO "+marker+"\r\n")); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(5 * time.Second)
	for {
		select {
		case l := <-m.seen:
			if strings.Contains(l, marker) {
				return
			}
		case <-deadline:
			t.Fatal("monitor did not see the marker")
		}
	}
}

// repr is Redis's sdscatrepr.
func repr(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', '"':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\a':
			b.WriteString(`\a`)
		case '\b':
			b.WriteString(`\b`)
		default:
			if c >= 0x20 && c < 0x7f {
				b.WriteByte(c)
			} else {
				fmt.Fprintf(&b, `\x%02x`, c)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// monitored says whether Redis runs (and so MONITOR shows) a command: the
// oracle inputs use only these.
func monitored(args []string) bool {
	switch strings.ToLower(args[0]) {
	case "exists":
		return len(args) >= 2
	case "echo":
		return len(args) == 2
	case "ping":
		return len(args) <= 2
	}
	return false
}

// oracleCases are inputs whose outcome we compare with redis-server's:
// the commands it runs (seen by MONITOR), the error it replies, and whether
// it closes the connection.
func oracleCases() []string {
	in := []string{
		"*1\r\n$4\r\nPING\r\n",
		"*3\r\n$6\r\nEXISTS\r\n$3\r\na\x00b\r\n$4\r\n\r\n\t\"\r\n",
		"PING\r\n",
		"ECHO hi\n",
		"\r\n\n   \r\n\t\nPING\n",
		"*0\r\n*-1\r\n*-5\r\nPING\r\n",
		"  EXISTS   k \t v  \r\n",
		`EXISTS k "a b" 'c d' "" ''` + "\n",
		`ECHO "\x41\x4a\x4A\xfF\n\r\t\b\a\"\\\q\xzz\x4"` + "\n",
		`ECHO 'it\'s \n \\'` + "\n",
		`ECHO 'it\'s \n \\ x'` + "\n",
		`ECHO a"b c"` + "\n",
		"ECHO \"a\"\v\n",
		"ECHO a\vb\n",
		"\v\fECHO x\n",
		"EXISTS a\rb\r\r\n",
		"ECHO \x80\xff\n",
		"ECHO \"a\n",
		"ECHO 'a\n",
		"ECHO \"a\"b\n",
		"ECHO 'a'b\n",
		"ECHO \"a\\\n",
		"PING\r\nECHO \"x\r\n",
		"*1\rX$4\r\nPING\r\n",
		"*1\r\n$4\r\nPINGXY*1\r\n$4\r\nPING\r\n",
		"*1\r\n$4\r\nPING\r",
		"*1\r",
		"*+1\r\n",
		"*01\r\n",
		"*-0\r\n",
		"*\r\n",
		"*1 \r\n",
		"*99999999999999999999\r\n",
		"*000000000000000000001\r\n",
		"*2147483648\r\n",
		"*2147483647\r\n",
		"*1\n$4\r\nPING\r\n",
		"*1\r\nX\r\n",
		"*1\r\n\r\n",
		"*1\r\n\n\r\n",
		"*2\r\n$4\r\nECHO\r\n:1\r\n",
		"*1\r\n$\xff\r\n",
		"*1\r\n\xff\r\n",
		"*1\r\n$-1\r\n",
		"*1\r\n$+1\r\n",
		"*1\r\n$\r\n",
		"*1\r\n$536870913\r\n",
		"*1\r\n$536870912\r\n",
		"*1\r\n$4\nPING\r\n",
		"*" + strings.Repeat("1", inlineMax),
		"*1\r\n$" + strings.Repeat("1", inlineMax),
		bigInline + "A",
		"PING a\x00b\nPING\n",
		"PING a\x00b\n" + bigInline[:inlineMax-len("PING a\x00b\n")+1],
		"*1\x00\r\n$4\r\nPING\r\n",
		"*1\x00\r\n" + bigInline[:inlineMax-len("*1\x00\r\n")+1],
		"PING\r\n*1\r\n$4\r\nPING\r\n*x\r\n",
		"*2\r\n$4\r\nECHO\r\n$40000\r\n" + strings.Repeat("v", 40000) + "\r\n",
		"*2\r\n$4\r\nECHO\r\n$3\r\nabc\r\n*1\r\n$4\r\nPING",
	}
	rng := rand.New(rand.NewSource(7))
	// Random inline lines of quotes, escapes and blanks.
	alphabet := []byte("ab \t\v\f\r\"'\\xn0F\x80")
	for i := 0; i < 60; i++ {
		line := []byte("EXISTS ")
		for j := rng.Intn(12); j > 0; j-- {
			line = append(line, alphabet[rng.Intn(len(alphabet))])
		}
		in = append(in, string(line)+"\n")
	}
	return in
}

func TestRedisOracle(t *testing.T) {
	addr := startRedis(t)
	mon := startMonitor(t, addr)
	compareWithRedis(t, addr, mon, oracleCases(), nil, false)
}

func TestRedisOracleUnauthenticated(t *testing.T) {
	addr := startRedis(t, "--requirepass", "secret")
	compareWithRedis(t, addr, nil, []string{
		"*11\r\n",
		"*10\r\n",
		"*11x\r\n",
		"*1\r\n$16385\r\n",
		"*1\r\n$16384\r\n",
		"*1\r\n$536870913\r\n",
		"*2\r\n$4\r\nPING\r\n$16385\r\n",
		"EXISTS a b c d e f g h i j k l\r\n",
	}, nil, true)
}

func TestRedisOracleQueryBuffer(t *testing.T) {
	addr := startRedis(t, "--client-query-buffer-limit", "1mb")
	var lim Limits
	lim.QueryBufferLimit.Store(1 << 20)
	compareWithRedis(t, addr, nil, []string{
		"*2\r\n$4\r\nECHO\r\n$2000000\r\n" + strings.Repeat("x", 1100000),
		"*2\r\n$4\r\nECHO\r\n$2000000\r\n" + strings.Repeat("x", 900000),
	}, &lim, false)
}

func compareWithRedis(t *testing.T, addr string, mon *monitor, cases []string, lim *Limits, unauth bool) {
	type outcome struct {
		reply  []byte
		closed bool
		local  string
		err    error
	}
	outs := make([]outcome, len(cases))
	var wg sync.WaitGroup
	for i, in := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := &outs[i]
			o.reply, o.closed, o.local, o.err = redisReply(addr, []byte(in))
		}()
	}
	wg.Wait()
	if mon != nil {
		mon.sync(t, addr)
	}
	for i, in := range cases {
		o := outs[i]
		if o.err != nil {
			t.Fatal(o.err)
		}
		ours := readAll(t, strings.NewReader(in), lim, unauth)
		if slow := readAll(t, iotest.OneByteReader(strings.NewReader(in)), lim, unauth); !sameResult(slow, ours) {
			t.Errorf("%q: byte at a time %v, at once %v", trunc(in), slow, ours)
		}
		var pe *ProtocolError
		var qe *QueryBufferError
		switch {
		case errors.As(ours.err, &pe):
			want := "-ERR " + pe.Error() + "\r\n"
			if !o.closed || !bytes.HasSuffix(o.reply, []byte(want)) {
				t.Errorf("%q: we say %q; redis replied %q (closed %v)", trunc(in), want, trunc(string(o.reply)), o.closed)
			}
		case errors.As(ours.err, &qe):
			if !o.closed || bytes.Contains(o.reply, []byte("-ERR Protocol")) {
				t.Errorf("%q: we hit the query buffer limit; redis replied %q (closed %v)", trunc(in), o.reply, o.closed)
			}
		default:
			if o.closed || bytes.Contains(o.reply, []byte("Protocol error")) {
				t.Errorf("%q: we see no error; redis replied %q (closed %v)", trunc(in), o.reply, o.closed)
			}
		}
		if mon == nil {
			continue
		}
		var want []string
		for _, c := range ours.cmds {
			if monitored(c) {
				parts := make([]string, len(c))
				for j, a := range c {
					parts[j] = repr(a)
				}
				want = append(want, strings.Join(parts, " "))
			}
		}
		mon.mu.Lock()
		got := mon.lines[o.local]
		mon.mu.Unlock()
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%q: redis ran\n%s\nwe read\n%s", trunc(in), strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

func trunc(s string) string {
	if len(s) > 80 {
		return s[:80] + fmt.Sprintf("...(%d bytes)", len(s))
	}
	return s
}
