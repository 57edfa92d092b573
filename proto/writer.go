package proto

import (
	"io"
	"math"
	"strconv"

	"github.com/tidwall/redcon"
)

// Writer encodes replies for one client connection in RESP2 or RESP3 into a
// buffer that Flush sends. It implements engine.Writer. Not safe for
// concurrent use; the connection serialises its writers.
type Writer struct {
	buf   []byte
	proto int
	w     io.Writer
}

// NewWriter returns a RESP2 writer that flushes to w (which may be nil for a
// writer that only buffers).
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: w, proto: 2, buf: make([]byte, 0, 4096)}
}

// SetProto selects RESP2 or RESP3 (HELLO).
func (w *Writer) SetProto(v int) { w.proto = v }

// Proto returns the protocol version, 2 or 3.
func (w *Writer) Proto() int { return w.proto }

// Buffered returns the number of bytes waiting for Flush.
func (w *Writer) Buffered() int { return len(w.buf) }

// Bytes returns the buffered bytes; they are valid until the next write.
func (w *Writer) Bytes() []byte { return w.buf }

// Truncate drops buffered bytes after the first n.
func (w *Writer) Truncate(n int) { w.buf = w.buf[:n] }

// Reset drops every buffered byte.
func (w *Writer) Reset() { w.buf = w.buf[:0] }

// Flush writes the buffered bytes to the connection. A Writer made with a
// nil io.Writer only buffers: Flush keeps the bytes and returns nil.
func (w *Writer) Flush() error {
	if len(w.buf) == 0 || w.w == nil {
		return nil
	}
	_, err := w.w.Write(w.buf)
	if cap(w.buf) > 1<<20 {
		// Do not keep a huge buffer alive after a big reply.
		w.buf = make([]byte, 0, 4096)
	} else {
		w.buf = w.buf[:0]
	}
	return err
}

// WriteRaw appends already encoded bytes.
func (w *Writer) WriteRaw(b []byte) { w.buf = append(w.buf, b...) }

// WriteSimple writes a simple string: +s.
func (w *Writer) WriteSimple(s string) { w.buf = redcon.AppendString(w.buf, s) }

// WriteOK writes +OK.
func (w *Writer) WriteOK() { w.buf = append(w.buf, "+OK\r\n"...) }

// WriteError writes an error: -msg. msg starts with its code ("ERR ...").
func (w *Writer) WriteError(msg string) { w.buf = redcon.AppendError(w.buf, msg) }

// WriteInt writes an integer.
func (w *Writer) WriteInt(n int64) { w.buf = redcon.AppendInt(w.buf, n) }

// WriteBulk writes a bulk string.
func (w *Writer) WriteBulk(b []byte) { w.buf = redcon.AppendBulk(w.buf, b) }

// WriteBulkString writes a bulk string.
func (w *Writer) WriteBulkString(s string) { w.buf = redcon.AppendBulkString(w.buf, s) }

// WriteNull writes the null bulk string: $-1 in RESP2, _ in RESP3.
func (w *Writer) WriteNull() {
	if w.proto == 3 {
		w.buf = append(w.buf, "_\r\n"...)
	} else {
		w.buf = append(w.buf, "$-1\r\n"...)
	}
}

// WriteNullArray writes the null array: *-1 in RESP2, _ in RESP3.
func (w *Writer) WriteNullArray() {
	if w.proto == 3 {
		w.buf = append(w.buf, "_\r\n"...)
	} else {
		w.buf = append(w.buf, "*-1\r\n"...)
	}
}

// WriteArray starts an array of n elements.
func (w *Writer) WriteArray(n int) { w.buf = redcon.AppendArray(w.buf, n) }

// WriteMap starts a map of n pairs: %n in RESP3, *2n in RESP2.
func (w *Writer) WriteMap(n int) {
	if w.proto == 3 {
		w.buf = appendHeader(w.buf, '%', n)
	} else {
		w.buf = redcon.AppendArray(w.buf, 2*n)
	}
}

// WriteSet starts a set of n elements: ~n in RESP3, *n in RESP2.
func (w *Writer) WriteSet(n int) {
	if w.proto == 3 {
		w.buf = appendHeader(w.buf, '~', n)
	} else {
		w.buf = redcon.AppendArray(w.buf, n)
	}
}

// WritePush starts an out-of-band push of n elements: >n in RESP3, *n in
// RESP2 (pub/sub messages).
func (w *Writer) WritePush(n int) {
	if w.proto == 3 {
		w.buf = appendHeader(w.buf, '>', n)
	} else {
		w.buf = redcon.AppendArray(w.buf, n)
	}
}

// WriteDouble writes a double as Redis 7.0 does: ",%.17g" in RESP3, a bulk
// string of the same digits in RESP2, with inf, -inf and nan spelled so.
// (Go's 'g' format with precision 17 chooses between the plain and the
// exponent form, and drops trailing zeros, as C's %.17g does.)
func (w *Writer) WriteDouble(f float64) {
	var tmp [32]byte
	var s []byte
	switch {
	case math.IsInf(f, 1):
		s = append(tmp[:0], "inf"...)
	case math.IsInf(f, -1):
		s = append(tmp[:0], "-inf"...)
	case math.IsNaN(f):
		// glibc's printf spelling; Go's would be "NaN".
		if math.Signbit(f) {
			s = append(tmp[:0], "-nan"...)
		} else {
			s = append(tmp[:0], "nan"...)
		}
	default:
		s = strconv.AppendFloat(tmp[:0], f, 'g', 17, 64)
	}
	if w.proto == 3 {
		w.buf = append(w.buf, ',')
		w.buf = append(w.buf, s...)
		w.buf = append(w.buf, '\r', '\n')
	} else {
		w.buf = redcon.AppendBulk(w.buf, s)
	}
}

// WriteBool writes #t/#f in RESP3, :1/:0 in RESP2.
func (w *Writer) WriteBool(b bool) {
	switch {
	case w.proto == 3 && b:
		w.buf = append(w.buf, "#t\r\n"...)
	case w.proto == 3:
		w.buf = append(w.buf, "#f\r\n"...)
	case b:
		w.buf = append(w.buf, ":1\r\n"...)
	default:
		w.buf = append(w.buf, ":0\r\n"...)
	}
}

// WriteVerbatim writes a verbatim string (=len\r\nfmt:s in RESP3), a bulk
// string in RESP2. format is three bytes ("txt", "mkd") by the RESP3 spec;
// the length is right whatever its length.
func (w *Writer) WriteVerbatim(format, s string) {
	if w.proto != 3 {
		w.buf = redcon.AppendBulkString(w.buf, s)
		return
	}
	w.buf = appendHeader(w.buf, '=', len(format)+1+len(s))
	w.buf = append(w.buf, format...)
	w.buf = append(w.buf, ':')
	w.buf = append(w.buf, s...)
	w.buf = append(w.buf, '\r', '\n')
}

func appendHeader(b []byte, c byte, n int) []byte {
	b = append(b, c)
	b = strconv.AppendInt(b, int64(n), 10)
	return append(b, '\r', '\n')
}
