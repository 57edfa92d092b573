package proto

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"strconv"
	"strings"
	"testing"

	"github.com/tidwall/redcon"
)

// FuzzReader checks that the Reader never panics or allocates beyond what
// the input justifies, reads the same whatever the read boundaries, agrees
// with redcon.ReadNextCommand on the RESP commands redcon reads, and that
// what it reads re-encodes (multibulk and inline) into the same commands.
func FuzzReader(f *testing.F) {
	for _, tc := range readerCases {
		if len(tc.in) < 1000 {
			f.Add([]byte(tc.in), uint16(len(tc.in)))
		}
	}
	f.Add(splitStream(), uint16(3))
	f.Add(pipeline16(), uint16(7))
	f.Fuzz(func(t *testing.T, data []byte, seed uint16) {
		whole := readAll(t, bytes.NewReader(data), nil, false)

		// Read boundaries do not matter.
		chunked := readAll(t, &chunkReader{data: data, rng: rand.New(rand.NewSource(int64(seed))), max: 1 + int(seed%97)}, nil, false)
		if !sameResult(whole, chunked) {
			t.Fatalf("at once %v\nin chunks %v", whole, chunked)
		}

		// While unauthenticated: the same, or a prefix and an unauth error.
		unauth := readAll(t, bytes.NewReader(data), nil, true)
		if unauth.err == ErrUnauthMultibulkLength || unauth.err == ErrUnauthBulkLength {
			if len(unauth.cmds) > len(whole.cmds) || !sameResult(unauth, result{cmds: whole.cmds[:len(unauth.cmds)], err: unauth.err}) {
				t.Fatalf("unauthenticated %v\nauthenticated %v", unauth, whole)
			}
		} else if !sameResult(whole, unauth) {
			t.Fatalf("unauthenticated %v\nauthenticated %v", unauth, whole)
		}

		// Memory: the buffer is bounded by the data that arrived, whatever
		// lengths it declares.
		r := NewReader(bytes.NewReader(data), nil)
		for {
			_, err := r.ReadCommands()
			if c := r.BufferCap(); c > 2*len(data)+bigPrealloc+readSize {
				t.Fatalf("buffer of %d bytes for %d bytes of input", c, len(data))
			}
			if cap(r.spans) > 2*len(data)+16 || cap(r.argv) > 2*len(data)+16 {
				t.Fatalf("%d spans for %d bytes of input", cap(r.spans), len(data))
			}
			if err != nil {
				break
			}
		}

		// Differential: the leading RESP commands redcon reads completely,
		// when they are in canonical form (redcon accepts "+1", "01",
		// "-0" as numbers and Redis does not; Redis skips the two bytes
		// after a bulk unchecked, redcon wants \r\n).
		var want [][]string
		rest := data
		canonicalToEnd := false
		for len(rest) > 0 && rest[0] == '*' {
			complete, args, leftover, err := redconNext(rest)
			if !complete || err != nil {
				break
			}
			n := len(rest) - len(leftover)
			enc := redcon.AppendArray(nil, len(args))
			for _, a := range args {
				enc = redcon.AppendBulk(enc, a)
			}
			if !bytes.Equal(enc, rest[:n]) {
				break
			}
			if len(args) > 0 {
				c := make([]string, len(args))
				for i, a := range args {
					c[i] = string(a)
				}
				want = append(want, c)
			}
			rest = leftover
			canonicalToEnd = len(rest) == 0
		}
		if len(whole.cmds) < len(want) || !sameResult(result{cmds: whole.cmds[:len(want)]}, result{cmds: want}) {
			t.Fatalf("redcon reads %q\nwe read %v", want, whole)
		}
		if canonicalToEnd && (whole.err != nil || len(whole.cmds) != len(want)) {
			t.Fatalf("redcon reads all of it as %q\nwe read %v", want, whole)
		}

		// Round trips: what we read, encoded as multibulk, reads back the
		// same; encoded inline with Redis's quoting (sdscatrepr), too.
		var mb []byte
		var inline []byte
		inlineOK := true
		for _, c := range whole.cmds {
			mb = redcon.AppendArray(mb, len(c))
			var line []byte
			for i, a := range c {
				mb = redcon.AppendBulk(mb, []byte(a))
				if i > 0 {
					line = append(line, ' ')
				}
				line = append(line, repr(a)...)
			}
			if len(line) > inlineMax {
				inlineOK = false
			}
			inline = append(append(inline, line...), "\r\n"...)
		}
		if got := readAll(t, bytes.NewReader(mb), nil, false); !sameResult(got, result{cmds: whole.cmds}) {
			t.Fatalf("multibulk round trip: %v\nwant %q", got, whole.cmds)
		}
		if inlineOK {
			if got := readAll(t, bytes.NewReader(inline), nil, false); !sameResult(got, result{cmds: whole.cmds}) {
				t.Fatalf("inline round trip of %q: %v\nwant %q", inline, got, whole.cmds)
			}
		}
	})
}

// redconNext is redcon.ReadNextCommand, whose panics (it slices with a
// negative bulk length such as $-2) count as "not read".
func redconNext(b []byte) (complete bool, args [][]byte, leftover []byte, err error) {
	defer func() {
		if recover() != nil {
			complete, err = false, errors.New("redcon panicked")
		}
	}()
	complete, args, _, leftover, err = redcon.ReadNextCommand(b, nil)
	return
}

// --- Writer ---

// value is a RESP3 value as the test parser reads it. kind is the type
// byte; 'N' is RESP2's null bulk ($-1) and 'A' its null array (*-1).
type value struct {
	kind  byte
	s     string
	i     int64
	f     float64
	elems []value
}

func (v value) String() string {
	switch v.kind {
	case '*', '%', '~', '>':
		parts := make([]string, len(v.elems))
		for i, e := range v.elems {
			parts[i] = e.String()
		}
		return string(v.kind) + "[" + strings.Join(parts, " ") + "]"
	case ':':
		return ":" + strconv.FormatInt(v.i, 10)
	case ',':
		return "," + strconv.FormatFloat(v.f, 'g', -1, 64)
	default:
		return string(v.kind) + strconv.Quote(v.s)
	}
}

var errShort = errors.New("short reply")

// parseRESP reads one RESP2 or RESP3 value from b and returns it and the
// number of bytes it took.
func parseRESP(b []byte, depth int) (value, int, error) {
	if depth > 100 {
		return value{}, 0, errors.New("too deep")
	}
	i := bytes.Index(b, []byte("\r\n"))
	if i < 0 {
		return value{}, 0, errShort
	}
	if i == 0 {
		return value{}, 0, errors.New("empty line")
	}
	kind, line, n := b[0], string(b[1:i]), i+2
	num := func() (int64, error) {
		v, err := strconv.ParseInt(line, 10, 64)
		if err != nil || strconv.FormatInt(v, 10) != line {
			return 0, fmt.Errorf("bad number %q", line)
		}
		return v, nil
	}
	switch kind {
	case '+', '-':
		return value{kind: kind, s: line}, n, nil
	case ':':
		v, err := num()
		return value{kind: kind, i: v}, n, err
	case '_':
		if line != "" {
			return value{}, 0, errors.New("bad null")
		}
		return value{kind: kind}, n, nil
	case '#':
		if line != "t" && line != "f" {
			return value{}, 0, errors.New("bad bool")
		}
		return value{kind: kind, s: line}, n, nil
	case ',':
		if line == "nan" || line == "-nan" {
			return value{kind: kind, f: math.NaN(), s: line}, n, nil
		}
		f, err := strconv.ParseFloat(line, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return value{}, 0, err
		}
		return value{kind: kind, f: f, s: line}, n, nil
	case '$', '=':
		l, err := num()
		if err != nil {
			return value{}, 0, err
		}
		if l == -1 && kind == '$' {
			return value{kind: 'N'}, n, nil
		}
		if l < 0 {
			return value{}, 0, errors.New("bad length")
		}
		if int64(len(b)-n) < l+2 {
			return value{}, 0, errShort
		}
		if b[n+int(l)] != '\r' || b[n+int(l)+1] != '\n' {
			return value{}, 0, errors.New("no CRLF after bulk")
		}
		return value{kind: kind, s: string(b[n : n+int(l)])}, n + int(l) + 2, nil
	case '*', '%', '~', '>':
		l, err := num()
		if err != nil {
			return value{}, 0, err
		}
		if l == -1 && kind == '*' {
			return value{kind: 'A'}, n, nil
		}
		if l < 0 {
			return value{}, 0, errors.New("bad length")
		}
		if kind == '%' {
			l *= 2
		}
		v := value{kind: kind, elems: []value{}}
		for ; l > 0; l-- {
			e, m, err := parseRESP(b[n:], depth+1)
			if err != nil {
				return value{}, 0, err
			}
			v.elems = append(v.elems, e)
			n += m
		}
		return v, n, nil
	}
	return value{}, 0, fmt.Errorf("unknown type %q", kind)
}

// op is one Writer call (or a container with its elements) drawn by
// FuzzWriter, with the value it must read back as under each protocol.
type op struct {
	kind  byte // the Writer method, see genOp
	s     string
	s2    string
	i     int64
	f     float64
	b     bool
	elems []op
}

type genState struct {
	data []byte
}

func (g *genState) byte() byte {
	if len(g.data) == 0 {
		return 0
	}
	c := g.data[0]
	g.data = g.data[1:]
	return c
}

func (g *genState) bytes(n int) []byte {
	n = min(n, len(g.data))
	b := g.data[:n]
	g.data = g.data[n:]
	return b
}

func (g *genState) str() string { return string(g.bytes(int(g.byte() % 40))) }

func (g *genState) u64() uint64 {
	var b [8]byte
	copy(b[:], g.bytes(8))
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

var specialFloats = []float64{0, math.Copysign(0, -1), 1, -1, 0.1, 1e300, 1e-300, 5e-324, math.MaxFloat64,
	math.Inf(1), math.Inf(-1), 1e16, 1e17, 1e21, 123456789012345678, 1.5e-7, 0.30000000000000004, math.NaN()}

func (g *genState) op(depth int) op {
	k := g.byte() % 16
	if depth > 6 && k >= 6 && k <= 9 {
		k = 3
	}
	o := op{kind: k}
	switch k {
	case 0, 1: // simple, error
		o.s = g.str()
	case 2: // int
		o.i = int64(g.u64())
	case 3, 13: // bulk, bulk string
		o.s = g.str()
	case 6, 7, 8, 9: // array, map, set, push
		n := int(g.byte() % 5)
		if k == 7 {
			n *= 2
		}
		for j := 0; j < n; j++ {
			o.elems = append(o.elems, g.op(depth+1))
		}
	case 10: // double
		if c := g.byte(); c < 128 {
			o.f = specialFloats[int(c)%len(specialFloats)]
		} else {
			o.f = math.Float64frombits(g.u64())
		}
	case 11:
		o.b = g.byte()&1 == 1
	case 12: // verbatim
		o.s2 = string(g.bytes(int(g.byte() % 5)))
		o.s = g.str()
	}
	return o
}

func (o op) write(w *Writer) {
	switch o.kind {
	case 0:
		w.WriteSimple(o.s)
	case 1:
		w.WriteError(o.s)
	case 2:
		w.WriteInt(o.i)
	case 3:
		w.WriteBulk([]byte(o.s))
	case 4:
		w.WriteNull()
	case 5:
		w.WriteNullArray()
	case 6:
		w.WriteArray(len(o.elems))
	case 7:
		w.WriteMap(len(o.elems) / 2)
	case 8:
		w.WriteSet(len(o.elems))
	case 9:
		w.WritePush(len(o.elems))
	case 10:
		w.WriteDouble(o.f)
	case 11:
		w.WriteBool(o.b)
	case 12:
		w.WriteVerbatim(o.s2, o.s)
	case 13:
		w.WriteBulkString(o.s)
	case 14:
		w.WriteOK()
	case 15:
		w.WriteRaw([]byte("+raw\r\n"))
	}
	for _, e := range o.elems {
		e.write(w)
	}
}

func noNewlines(s string) string {
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}

// check compares what was read with what the op must read as.
func (o op) check(v value, proto int) error {
	bad := func() error { return fmt.Errorf("op %d (%+v) read as %v in RESP%d", o.kind, o, v, proto) }
	want := func(kind byte, s string) error {
		if v.kind != kind || v.s != s {
			return bad()
		}
		return nil
	}
	switch o.kind {
	case 0:
		return want('+', noNewlines(o.s))
	case 1:
		return want('-', noNewlines(o.s))
	case 2:
		if v.kind != ':' || v.i != o.i {
			return bad()
		}
	case 3, 13:
		return want('$', o.s)
	case 4:
		if proto == 3 {
			return want('_', "")
		}
		return want('N', "")
	case 5:
		if proto == 3 {
			return want('_', "")
		}
		return want('A', "")
	case 6, 7, 8, 9:
		kind := byte("*%~>"[o.kind-6])
		if proto == 2 {
			kind = '*'
		}
		if v.kind != kind || len(v.elems) != len(o.elems) {
			return bad()
		}
		for i, e := range o.elems {
			if err := e.check(v.elems[i], proto); err != nil {
				return err
			}
		}
	case 10:
		s := v.s
		if proto == 3 {
			if v.kind != ',' {
				return bad()
			}
		} else if v.kind != '$' {
			return bad()
		}
		// Redis's spelling: %.17g, and inf, -inf, nan.
		if s != cDouble(o.f) {
			return fmt.Errorf("double %v written %q, want %q", o.f, s, cDouble(o.f))
		}
		if math.IsNaN(o.f) {
			return nil
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f != o.f || math.Signbit(f) != math.Signbit(o.f) {
			return fmt.Errorf("double %v read back as %q", o.f, s)
		}
	case 11:
		switch {
		case proto == 3 && o.b:
			return want('#', "t")
		case proto == 3:
			return want('#', "f")
		case v.kind != ':' || (v.i == 1) != o.b || v.i < 0 || v.i > 1:
			return bad()
		}
	case 12:
		if proto == 3 {
			return want('=', o.s2+":"+o.s)
		}
		return want('$', o.s)
	case 14:
		return want('+', "OK")
	case 15:
		return want('+', "raw")
	}
	return nil
}

// cDouble is C's printf("%.17g") as Redis uses it, written independently
// of the Writer: the shortest-exact digits are padded or rounded to 17
// significant digits, trailing zeros dropped, exponent form when the
// exponent is below -4 or at least 17, with two exponent digits at least.
func cDouble(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f) && math.Signbit(f):
		return "-nan" // glibc
	case math.IsNaN(f):
		return "nan"
	}
	e := strconv.FormatFloat(f, 'e', 16, 64) // d.dddddddddddddddde±XX: 17 digits
	mant, exps, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(exps)
	neg := strings.HasPrefix(mant, "-")
	digits := strings.Replace(strings.TrimPrefix(mant, "-"), ".", "", 1)
	digits = strings.TrimRight(digits, "0")
	var out string
	if exp < -4 || exp >= 17 {
		out = digits[:1]
		if len(digits) > 1 {
			out += "." + digits[1:]
		}
		sign := "+"
		if exp < 0 {
			sign, exp = "-", -exp
		}
		out += fmt.Sprintf("e%s%02d", sign, exp)
	} else if exp < 0 {
		out = "0." + strings.Repeat("0", -exp-1) + digits
	} else {
		if len(digits) <= exp+1 {
			out = digits + strings.Repeat("0", exp+1-len(digits))
		} else {
			out = digits[:exp+1] + "." + digits[exp+1:]
		}
	}
	if digits == "" {
		out = "0"
	}
	if neg {
		out = "-" + out
	}
	return out
}

// FuzzWriter writes random sequences of replies in RESP2 and RESP3 and
// reads them back with the test's RESP3 parser.
func FuzzWriter(f *testing.F) {
	f.Add([]byte{0})
	f.Add([]byte("\x06\x03\x00\x05hello\x02\x00\x00\x00\x00\x00\x00\x00\x07\x07\x01\x03\x01k\x0a\x05"))
	f.Add([]byte("\x01\x0c\x03txt\x05hello\x0b\x01\x0a\x81\x40\x09\x21\xfb\x54\x44\x2d\x18\x04\x05"))
	f.Add([]byte("\x00\x00\x04a\r\nb\x01\x03E\nR\x09\x02\x0e\x0f\x0d\x02hi"))
	f.Fuzz(func(t *testing.T, data []byte) {
		g := &genState{data: data}
		var out bytes.Buffer
		w := NewWriter(&out)
		type written struct {
			o     op
			proto int
		}
		var ops []written
		proto := 2 + int(g.byte()&1)
		w.SetProto(proto)
		for len(g.data) > 0 && len(ops) < 200 {
			switch c := g.byte(); {
			case c == 0xfe: // HELLO: switch protocol between replies
				proto = 5 - proto
				w.SetProto(proto)
				continue
			case c == 0xff:
				if err := w.Flush(); err != nil {
					t.Fatal(err)
				}
				continue
			case c == 0xfd: // a reply begun and taken back (Truncate)
				n := w.Buffered()
				g.op(0).write(w)
				w.Truncate(n)
				continue
			}
			o := g.op(0)
			o.write(w)
			ops = append(ops, written{o, proto})
		}
		if w.Proto() != proto {
			t.Fatalf("Proto() = %d, want %d", w.Proto(), proto)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if w.Buffered() != 0 {
			t.Fatal("Flush left bytes")
		}
		b := out.Bytes()
		for _, wr := range ops {
			v, n, err := parseRESP(b, 0)
			if err != nil {
				t.Fatalf("reading %+v: %v in %q", wr.o, err, b)
			}
			if err := wr.o.check(v, wr.proto); err != nil {
				t.Fatal(err)
			}
			b = b[n:]
		}
		if len(b) != 0 {
			t.Fatalf("%d bytes left: %q", len(b), b)
		}
	})
}
