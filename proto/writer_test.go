package proto

import (
	"bytes"
	"errors"
	"io"
	"math"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/redcon"
)

func TestWriterEncoding(t *testing.T) {
	cases := []struct {
		name        string
		write       func(w *Writer)
		resp2, rsp3 string
	}{
		{"simple", func(w *Writer) { w.WriteSimple("OK") }, "+OK\r\n", "+OK\r\n"},
		{"simple newlines", func(w *Writer) { w.WriteSimple("a\r\nb") }, "+a  b\r\n", "+a  b\r\n"},
		{"ok", func(w *Writer) { w.WriteOK() }, "+OK\r\n", "+OK\r\n"},
		{"error", func(w *Writer) { w.WriteError("ERR bad\nthing") }, "-ERR bad thing\r\n", "-ERR bad thing\r\n"},
		{"int", func(w *Writer) { w.WriteInt(-42) }, ":-42\r\n", ":-42\r\n"},
		{"int min", func(w *Writer) { w.WriteInt(math.MinInt64) }, ":-9223372036854775808\r\n", ":-9223372036854775808\r\n"},
		{"bulk", func(w *Writer) { w.WriteBulk([]byte("a\r\nb")) }, "$4\r\na\r\nb\r\n", "$4\r\na\r\nb\r\n"},
		{"empty bulk", func(w *Writer) { w.WriteBulk(nil) }, "$0\r\n\r\n", "$0\r\n\r\n"},
		{"bulk string", func(w *Writer) { w.WriteBulkString("hello") }, "$5\r\nhello\r\n", "$5\r\nhello\r\n"},
		{"null", func(w *Writer) { w.WriteNull() }, "$-1\r\n", "_\r\n"},
		{"null array", func(w *Writer) { w.WriteNullArray() }, "*-1\r\n", "_\r\n"},
		{"array", func(w *Writer) { w.WriteArray(2); w.WriteInt(1); w.WriteNull() }, "*2\r\n:1\r\n$-1\r\n", "*2\r\n:1\r\n_\r\n"},
		{"empty array", func(w *Writer) { w.WriteArray(0) }, "*0\r\n", "*0\r\n"},
		{"map", func(w *Writer) { w.WriteMap(1); w.WriteBulkString("k"); w.WriteInt(1) }, "*2\r\n$1\r\nk\r\n:1\r\n", "%1\r\n$1\r\nk\r\n:1\r\n"},
		{"set", func(w *Writer) { w.WriteSet(1); w.WriteBulkString("m") }, "*1\r\n$1\r\nm\r\n", "~1\r\n$1\r\nm\r\n"},
		{"push", func(w *Writer) { w.WritePush(1); w.WriteBulkString("m") }, "*1\r\n$1\r\nm\r\n", ">1\r\n$1\r\nm\r\n"},
		{"double", func(w *Writer) { w.WriteDouble(0.1) }, "$19\r\n0.10000000000000001\r\n", ",0.10000000000000001\r\n"},
		{"double int", func(w *Writer) { w.WriteDouble(3) }, "$1\r\n3\r\n", ",3\r\n"},
		{"double exp", func(w *Writer) { w.WriteDouble(1e300) }, "$23\r\n1.0000000000000001e+300\r\n", ",1.0000000000000001e+300\r\n"},
		{"double 1e17", func(w *Writer) { w.WriteDouble(1e17) }, "$5\r\n1e+17\r\n", ",1e+17\r\n"},
		{"double 1e16", func(w *Writer) { w.WriteDouble(1e16) }, "$17\r\n10000000000000000\r\n", ",10000000000000000\r\n"},
		{"double small", func(w *Writer) { w.WriteDouble(1e-5) }, "$22\r\n1.0000000000000001e-05\r\n", ",1.0000000000000001e-05\r\n"},
		{"double -0", func(w *Writer) { w.WriteDouble(math.Copysign(0, -1)) }, "$2\r\n-0\r\n", ",-0\r\n"},
		{"double inf", func(w *Writer) { w.WriteDouble(math.Inf(1)) }, "$3\r\ninf\r\n", ",inf\r\n"},
		{"double -inf", func(w *Writer) { w.WriteDouble(math.Inf(-1)) }, "$4\r\n-inf\r\n", ",-inf\r\n"},
		{"double nan", func(w *Writer) { w.WriteDouble(math.NaN()) }, "$3\r\nnan\r\n", ",nan\r\n"},
		{"bool true", func(w *Writer) { w.WriteBool(true) }, ":1\r\n", "#t\r\n"},
		{"bool false", func(w *Writer) { w.WriteBool(false) }, ":0\r\n", "#f\r\n"},
		{"verbatim", func(w *Writer) { w.WriteVerbatim("txt", "hi") }, "$2\r\nhi\r\n", "=6\r\ntxt:hi\r\n"},
		{"verbatim odd format", func(w *Writer) { w.WriteVerbatim("md", "hi") }, "$2\r\nhi\r\n", "=5\r\nmd:hi\r\n"},
		{"raw", func(w *Writer) { w.WriteRaw([]byte("+x\r\n")) }, "+x\r\n", "+x\r\n"},
	}
	for _, tc := range cases {
		for _, proto := range []int{2, 3} {
			var out bytes.Buffer
			w := NewWriter(&out)
			w.SetProto(proto)
			tc.write(w)
			want := tc.resp2
			if proto == 3 {
				want = tc.rsp3
			}
			if string(w.Bytes()) != want || w.Buffered() != len(want) {
				t.Errorf("%s RESP%d: %q, want %q", tc.name, proto, w.Bytes(), want)
			}
			if err := w.Flush(); err != nil || out.String() != want || w.Buffered() != 0 {
				t.Errorf("%s RESP%d: flushed %q, %v", tc.name, proto, out.String(), err)
			}
		}
	}
}

func TestWriterBuffer(t *testing.T) {
	w := NewWriter(nil)
	if w.Proto() != 2 {
		t.Fatalf("default proto %d", w.Proto())
	}
	w.WriteOK()
	n := w.Buffered()
	w.WriteBulkString("partial")
	w.Truncate(n)
	if string(w.Bytes()) != "+OK\r\n" {
		t.Fatalf("%q", w.Bytes())
	}
	// Without a destination Flush keeps the bytes.
	if err := w.Flush(); err != nil || w.Buffered() != n {
		t.Fatalf("%v %d", err, w.Buffered())
	}
	w.Reset()
	if w.Buffered() != 0 {
		t.Fatal("Reset left bytes")
	}

	// A huge reply's buffer is not kept.
	var out bytes.Buffer
	w = NewWriter(&out)
	w.WriteBulk(make([]byte, 2<<20))
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if cap(w.buf) > 1<<20 {
		t.Fatalf("kept a %d-byte buffer", cap(w.buf))
	}

	// A write error comes back from Flush.
	w = NewWriter(failWriter{})
	w.WriteOK()
	if err := w.Flush(); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("got %v", err)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

func TestWriterZeroAlloc(t *testing.T) {
	w := NewWriter(io.Discard)
	w.SetProto(3)
	val := []byte("value")
	if n := testing.AllocsPerRun(1000, func() {
		w.WriteArray(3)
		w.WriteBulk(val)
		w.WriteInt(12345)
		w.WriteDouble(1.5)
		w.WriteMap(1)
		w.WriteBulkString("k")
		w.WriteNull()
		w.Flush()
	}); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

// redisCall sends a command on c and returns its raw reply.
func redisCall(t *testing.T, c net.Conn, args ...string) []byte {
	t.Helper()
	var req []byte
	req = redcon.AppendArray(req, len(args))
	for _, a := range args {
		req = redcon.AppendBulkString(req, a)
	}
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	return redisRead(t, c)
}

// redisRead reads one whole reply from c.
func redisRead(t *testing.T, c net.Conn) []byte {
	t.Helper()
	var reply []byte
	buf := make([]byte, 4096)
	for {
		if _, n, err := parseRESP(reply, 0); err == nil {
			if n != len(reply) {
				t.Fatalf("trailing bytes after reply: %q", reply)
			}
			return reply
		} else if err != errShort {
			t.Fatalf("bad reply %q: %v", reply, err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("reading reply: %v (got %q)", err, reply)
		}
		reply = append(reply, buf[:n]...)
	}
}

// TestWriterRedisOracle compares the Writer's bytes with redis-server's
// replies of the same shape, in RESP2 and RESP3.
func TestWriterRedisOracle(t *testing.T) {
	addr := startRedis(t)
	for _, proto := range []int{2, 3} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if proto == 3 {
			redisCall(t, c, "HELLO", "3")
		}
		same := func(what string, got []byte, write func(w *Writer)) {
			t.Helper()
			w := NewWriter(nil)
			w.SetProto(proto)
			write(w)
			if !bytes.Equal(w.Bytes(), got) {
				t.Errorf("RESP%d %s: we write %q, redis %q", proto, what, w.Bytes(), got)
			}
		}
		key := "z" + strconv.Itoa(proto)
		// A skiplist zset keeps scores as doubles (a listpack keeps
		// their text, and turns "-0" into 0).
		redisCall(t, c, "CONFIG", "SET", "zset-max-listpack-entries", "0")
		for _, s := range []string{"0.1", "1e300", "-0", "3", "1.5e-7", "1e-5", "123456789012345678", "inf", "-inf",
			"1e21", "1e16", "1e17", "12345.6789", "5e-324", "1.7976931348623157e308", "0.30000000000000004", "-2.5", "100"} {
			redisCall(t, c, "ZADD", key, s, "m")
			got := redisCall(t, c, "ZSCORE", key, "m")
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				t.Fatal(err)
			}
			same("ZSCORE "+s, got, func(w *Writer) { w.WriteDouble(f) })
		}
		same("GET missing", redisCall(t, c, "GET", "missing"), func(w *Writer) { w.WriteNull() })
		same("BLPOP timeout", redisCall(t, c, "BLPOP", "missing", "0.01"), func(w *Writer) { w.WriteNullArray() })
		same("SET", redisCall(t, c, "SET", "k", "v"), func(w *Writer) { w.WriteOK() })
		same("INCRBY", redisCall(t, c, "INCRBY", "n"+key, "-7"), func(w *Writer) { w.WriteInt(-7) })
		same("CONFIG GET", redisCall(t, c, "CONFIG", "GET", "maxmemory-policy"), func(w *Writer) {
			w.WriteMap(1)
			w.WriteBulkString("maxmemory-policy")
			w.WriteBulkString("noeviction")
		})
		redisCall(t, c, "SADD", "s"+key, "a")
		same("SMEMBERS", redisCall(t, c, "SMEMBERS", "s"+key), func(w *Writer) {
			w.WriteSet(1)
			w.WriteBulkString("a")
		})
		same("ZRANGE WITHSCORES", redisCall(t, c, "ZRANGE", key, "0", "-1", "WITHSCORES"), func(w *Writer) {
			// 7.0: a flat array in RESP2, an array of [member, score]
			// pairs in RESP3.
			if proto == 2 {
				w.WriteArray(2)
				w.WriteBulkString("m")
				w.WriteDouble(100)
			} else {
				w.WriteArray(1)
				w.WriteArray(2)
				w.WriteBulkString("m")
				w.WriteDouble(100)
			}
		})
		info := redisCall(t, c, "INFO", "keyspace")
		same("INFO", info, func(w *Writer) {
			v, _, err := parseRESP(info, 0)
			if err != nil {
				t.Fatal(err)
			}
			if proto == 3 {
				format, s, _ := strings.Cut(v.s, ":")
				w.WriteVerbatim(format, s)
			} else {
				w.WriteBulkString(v.s)
			}
		})
		same("unknown command", redisCall(t, c, "NOSUCH"), func(w *Writer) {
			w.WriteError("ERR unknown command 'NOSUCH', with args beginning with: ")
		})
		same("SUBSCRIBE", redisCall(t, c, "SUBSCRIBE", "ch"), func(w *Writer) {
			w.WritePush(3)
			w.WriteBulkString("subscribe")
			w.WriteBulkString("ch")
			w.WriteInt(1)
		})
	}
}
