package proto

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"sync/atomic"
)

// Redis 7.0 constants (server.h, networking.c).
const (
	// DefaultMaxBulkLen is proto-max-bulk-len's default, 512MB.
	DefaultMaxBulkLen = 512 << 20
	// DefaultMaxMultibulkLen is the ceiling Redis 7.0 puts on a multibulk
	// count (INT_MAX in processMultibulkBuffer; 6.2 and older used 1024*1024).
	DefaultMaxMultibulkLen = math.MaxInt32
	// DefaultQueryBufferLimit is client-query-buffer-limit's default, 1GB.
	DefaultQueryBufferLimit = 1 << 30

	// inlineMax is PROTO_INLINE_MAX_SIZE: the longest inline request, and
	// the longest multibulk or bulk count line.
	inlineMax = 64 << 10
	// bigArg is PROTO_MBULK_BIG_ARG: a bulk at least this long gets a buffer
	// sized for it when its header is read.
	bigArg = 32 << 10
	// unauthMaxMultibulk and unauthMaxBulk are the limits for a client that
	// must still authenticate (processMultibulkBuffer, authRequired).
	unauthMaxMultibulk = 10
	unauthMaxBulk      = 16384

	// readSize is PROTO_IOBUF_LEN: the initial buffer and the least free
	// space a read is given.
	readSize = 16 << 10
	// bigPrealloc is the most we allocate ahead of data that has arrived
	// for a declared bulk length: a client that declares $536870911 and
	// sends nothing costs at most this much.
	bigPrealloc = 1 << 20
	// keepBuf is the largest buffer kept between batches. A bigger one (grown
	// for a big request) is dropped at the next call, so the arguments of
	// the batch it served are never overwritten (see Reader.Retainable).
	keepBuf = 64 << 10
	// maxEmptyReads is how many (0, nil) reads in a row make
	// io.ErrNoProgress, as bufio.
	maxEmptyReads = 100
)

// Limits are the request limits a Reader applies. Its fields are read
// atomically when each command is parsed, so the owner (CONFIG SET) may
// Store new values while readers run; one Limits is meant to be shared by
// every connection. A field that is zero or negative means its default.
//
// A Reader parses every command already buffered before the server runs the
// first of them, so a CONFIG SET in the middle of a pipeline applies from
// the next batch, not from the next command as in Redis.
type Limits struct {
	// MaxBulkLen is proto-max-bulk-len (DefaultMaxBulkLen).
	MaxBulkLen atomic.Int64
	// MaxMultibulkLen bounds a multibulk count (DefaultMaxMultibulkLen).
	MaxMultibulkLen atomic.Int64
	// QueryBufferLimit is client-query-buffer-limit
	// (DefaultQueryBufferLimit).
	QueryBufferLimit atomic.Int64
}

// defaultLimits is used by a Reader made with nil Limits.
var defaultLimits Limits

func (l *Limits) maxBulk() int64 {
	if v := l.MaxBulkLen.Load(); v > 0 {
		// Keep offset arithmetic far from overflow.
		return min(v, 1<<50)
	}
	return DefaultMaxBulkLen
}

func (l *Limits) maxMultibulk() int64 {
	if v := l.MaxMultibulkLen.Load(); v > 0 {
		return v
	}
	return DefaultMaxMultibulkLen
}

func (l *Limits) queryBuf() int64 {
	if v := l.QueryBufferLimit.Load(); v > 0 {
		return v
	}
	return DefaultQueryBufferLimit
}

// ProtocolError is a malformed request. Its Error text is what Redis 7.0
// sends after "-ERR "; the server replies "-ERR " + Error() and closes the
// connection.
type ProtocolError struct {
	msg string
}

func (e *ProtocolError) Error() string { return e.msg }

// The protocol errors with a fixed text. "expected '$', got 'x'" is made for
// the byte found.
var (
	ErrInvalidMultibulkLength = &ProtocolError{"Protocol error: invalid multibulk length"}
	ErrInvalidBulkLength      = &ProtocolError{"Protocol error: invalid bulk length"}
	ErrUnbalancedQuotes       = &ProtocolError{"Protocol error: unbalanced quotes in request"}
	ErrTooBigInline           = &ProtocolError{"Protocol error: too big inline request"}
	ErrTooBigMultibulkCount   = &ProtocolError{"Protocol error: too big mbulk count string"}
	ErrTooBigBulkCount        = &ProtocolError{"Protocol error: too big bulk count string"}
	ErrUnauthMultibulkLength  = &ProtocolError{"Protocol error: unauthenticated multibulk length"}
	ErrUnauthBulkLength       = &ProtocolError{"Protocol error: unauthenticated bulk length"}
)

func errExpectedDollar(c byte) *ProtocolError {
	// addReplyErrorFormat maps \r and \n to spaces.
	if c == '\r' || c == '\n' {
		c = ' '
	}
	return &ProtocolError{"Protocol error: expected '$', got '" + string([]byte{c}) + "'"}
}

// QueryBufferError says the client's unparsed input passed
// client-query-buffer-limit. Redis logs it and closes the connection
// without a reply.
type QueryBufferError struct {
	Len   int64  // bytes buffered and not yet parsed
	Limit int64  // the limit in force
	Head  []byte // the first (up to 64) of those bytes, for the log
}

func (e *QueryBufferError) Error() string {
	return fmt.Sprintf("client reached max query buffer length (%d > %d bytes, qbuf initial bytes: %q)",
		e.Len, e.Limit, e.Head)
}

// Request is one command as a client sent it.
type Request struct {
	// Args are the arguments, the command name first. They alias the
	// Reader's buffer: valid until the next ReadCommands call, and not to
	// be modified beyond their length.
	Args [][]byte
	// Inline is set for an inline (telnet-style) request.
	Inline bool
}

type span struct{ off, n int }

type cmdMeta struct {
	start, n int // arguments spans[start:start+n]
	inline   bool
}

// Reader reads client requests, RESP multibulk or inline, as Redis 7.0's
// processInputBuffer does, with its limits and error texts. It keeps its own
// buffer (a client's query buffer) and the state of a request in progress,
// so a request may arrive split at any byte; a line is scanned once, a bulk
// is not scanned at all. Not safe for concurrent use.
//
// Redis's quirks are kept: a request starting with '*' is multibulk, any
// other inline; the byte after a count line's \r and the two bytes after a
// bulk are skipped unchecked; counts are parsed by string2ll (no '+', no
// leading zeros); a count <= 0 is an empty command; inline lines are split
// by sdssplitargs; a NUL before a line's end hides that end, as C's strchr
// stops there.
//
// Where Redis's outcome depends on how its 16KB reads cut the stream, the
// Reader gives the outcome Redis gives when bytes arrive one at a time,
// whatever the cuts: a line (inline request, count line) longer than 64KB
// is "too big" even if its end has arrived in the same read, where Redis
// accepts up to about 80KB when the line arrives in one piece.
type Reader struct {
	rd  io.Reader
	lim *Limits

	buf []byte // storage; buf[r:w] is data not consumed by complete commands
	r   int    // start of the first command not yet complete
	w   int    // end of data

	// State of the command in progress, starting at r.
	p       int   // parse position: just after the last complete element
	scan    int   // bytes from p known to hold no line end (nulStuck: never)
	mbLeft  int64 // bulks still expected; 0 outside a multibulk
	bulk    int64 // length of the bulk being read; -1 before its header
	curArgs int   // index in spans of the first argument of the command in progress

	spans []span    // arguments of the batch's complete commands, then of the one in progress
	metas []cmdMeta // the batch's complete commands
	argv  [][]byte
	cmds  []Request

	err    error // sticky protocol or query buffer error
	rerr   error // read error that came with data, delivered once the data is used
	unauth bool
	retain bool // the last batch's arguments are never overwritten
	pinned bool // buf has handed out retainable arguments: never reuse its bytes
	lastN  int  // batch size
}

// nulStuck marks a line whose search hit a NUL byte: Redis searches with
// strchr, which stops there, so that line never ends.
const nulStuck = math.MaxInt

// NewReader returns a Reader of requests from rd under lim, which the owner
// may change later (see Limits). A nil lim means the defaults.
func NewReader(rd io.Reader, lim *Limits) *Reader {
	if lim == nil {
		lim = &defaultLimits
	}
	return &Reader{rd: rd, lim: lim, bulk: -1}
}

// SetAuthRequired tells the Reader whether the client must still
// authenticate (Redis's authRequired): while it must, a multibulk count
// above 10 or a bulk length above 16384 is a protocol error, and
// ReadCommands returns one command at a time so that an AUTH or HELLO takes
// effect before the next command is parsed. New Readers do not require it.
// Call it from the goroutine that calls ReadCommands.
func (r *Reader) SetAuthRequired(v bool) { r.unauth = v }

// Buffered returns the number of bytes read and not yet returned as a
// complete command (CLIENT LIST's qbuf).
func (r *Reader) Buffered() int { return r.w - r.r }

// BufferCap returns the size of the query buffer.
func (r *Reader) BufferCap() int { return len(r.buf) }

// Retainable reports whether the arguments of the last batch live in a
// buffer whose bytes the Reader will not write again (a buffer grown past
// 64KB for a big request): the caller may then keep them (store a big
// value) without copying. Otherwise they may be overwritten once
// ReadCommands is called again.
func (r *Reader) Retainable() bool { return r.retain }

// ReadCommands blocks until at least one complete command is available and
// returns every complete command already buffered (a pipeline is answered
// as a batch). Empty commands (an empty inline line, *0, *-1) are skipped as
// Redis does. The commands and their arguments alias the Reader's buffers
// and stay valid until the next call; reading a pipeline of small commands
// allocates nothing once the buffers have grown.
//
// It returns either commands and a nil error, or no command and an error.
// When malformed input follows complete commands, the commands come first
// and the error at the next call. A *ProtocolError means the server should
// reply "-ERR " + err.Error() and close the connection; a *QueryBufferError
// means close it. Both are final: every later call returns the same error.
// Errors of the underlying reader (io.EOF, a deadline) are returned as they
// come and are not final.
func (r *Reader) ReadCommands() ([]Request, error) {
	r.release()
	if r.err != nil {
		return nil, r.err
	}
	for {
		perr := r.parse()
		if len(r.metas) > 0 {
			r.err = perr
			break
		}
		if perr != nil {
			r.err = perr
			return nil, perr
		}
		if err := r.fill(); err != nil {
			return nil, err
		}
	}
	return r.batch(), nil
}

// release forgets the last batch: its buffer space may now be reused.
func (r *Reader) release() {
	if r.lastN > 0 || len(r.metas) > 0 {
		n := copy(r.spans, r.spans[r.curArgs:])
		r.spans = r.spans[:n]
		r.curArgs = 0
		r.metas = r.metas[:0]
		r.lastN = 0
	}
	r.retain = false
	switch {
	case r.pinned && r.w-r.r <= readSize/2:
		// Leave the big buffer to the arguments that alias it, and
		// shrink back (Redis's clientsCron resizes query buffers).
		r.replace(readSize)
	case r.pinned:
		// Much of a request is pending: keep reading after it; the
		// buffer is replaced when it is full (makeRoom).
	case r.r == r.w && r.r > 0:
		r.shift(r.r)
	}
}

// replace moves the pending data to a new buffer of size bytes.
func (r *Reader) replace(size int) {
	nb := make([]byte, size)
	copy(nb, r.buf[r.r:r.w])
	r.buf = nb
	r.shift(r.r)
	r.pinned = false
}

// shift moves offsets down by d after the data moved to the buffer's start.
func (r *Reader) shift(d int) {
	if d == 0 {
		return
	}
	for i := r.curArgs; i < len(r.spans); i++ {
		r.spans[i].off -= d
	}
	r.r -= d
	r.w -= d
	r.p -= d
}

func (r *Reader) batch() []Request {
	r.argv = r.argv[:0]
	for _, s := range r.spans[:r.curArgs] {
		r.argv = append(r.argv, r.buf[s.off:s.off+s.n:s.off+s.n])
	}
	r.cmds = r.cmds[:0]
	for _, m := range r.metas {
		r.cmds = append(r.cmds, Request{Args: r.argv[m.start : m.start+m.n : m.start+m.n], Inline: m.inline})
	}
	r.lastN = len(r.cmds)
	r.retain = len(r.buf) > keepBuf
	r.pinned = r.pinned || r.retain
	return r.cmds
}

// fill reads more data into the buffer.
func (r *Reader) fill() error {
	if r.rerr != nil {
		err := r.rerr
		r.rerr = nil
		return err
	}
	r.makeRoom()
	for i := 0; i < maxEmptyReads; i++ {
		n, err := r.rd.Read(r.buf[r.w:])
		if n < 0 || n > len(r.buf)-r.w {
			panic("proto: reader returned an invalid count")
		}
		r.w += n
		if n > 0 {
			r.rerr = err
			// Redis checks the query buffer after each read, before parsing:
			// what is buffered beyond the last complete element.
			if lim := r.lim.queryBuf(); int64(r.w-r.p) > lim {
				head := r.buf[r.p:r.w]
				if len(head) > 64 {
					head = head[:64]
				}
				r.err = &QueryBufferError{Len: int64(r.w - r.p), Limit: lim, Head: append([]byte(nil), head...)}
				return r.err
			}
			return nil
		}
		if err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}

// makeRoom makes free space after w for a read: it compacts the buffer or
// grows it geometrically, and gives a big bulk a buffer of its size at once
// when that size is sane (PROTO_MBULK_BIG_ARG), else grows as data arrives.
func (r *Reader) makeRoom() {
	if r.buf == nil {
		r.buf = make([]byte, readSize)
	}
	kept := r.w - r.r
	target := 0 // bytes from r to the end of the bulk being read
	if r.bulk >= 0 {
		target = r.p + int(r.bulk) + 2 - r.r
	}
	free := len(r.buf) - r.w
	var size int
	switch {
	case r.bulk >= bigArg && target > len(r.buf)-r.r && target-kept <= bigPrealloc &&
		(target >= 2*kept || r.mbLeft == 1):
		// Room for the whole big argument. Unless it is the command's
		// last, this at least doubles the data kept, so growth stays
		// geometric while a command with many big arguments accumulates.
		size = target
	case free > 0:
		return
	default:
		size = max(2*kept, kept+readSize)
		if r.bulk >= bigArg {
			size = max(size, kept+bigPrealloc)
			if r.mbLeft == 1 && size > target {
				size = target
			}
		}
	}
	if size <= len(r.buf) && !r.pinned {
		// Compacting is enough (size >= 2*kept, so this frees at least
		// half the buffer, or it is the big argument's exact room).
		copy(r.buf, r.buf[r.r:r.w])
		r.shift(r.r)
		return
	}
	r.replace(max(size, readSize))
}

// parse parses the buffered data into complete commands, appending them to
// metas, until the data runs out (or after one command while the client
// must authenticate) or an error.
func (r *Reader) parse() error {
	for r.p < r.w {
		if r.unauth && len(r.metas) > 0 {
			return nil
		}
		var done bool
		var err error
		if r.mbLeft == 0 {
			// Between commands: r.p == r.r.
			if r.buf[r.p] == '*' {
				done, err = r.parseMultibulkHeader()
			} else {
				done, err = r.parseInline()
			}
		} else {
			done, err = r.parseBulk()
		}
		if err != nil {
			return err
		}
		if !done {
			return nil
		}
	}
	return nil
}

// line finds the end byte c of the line at p and returns its index from p,
// -1 when more data is needed, or -2 when the line is too long: no c in its
// first inlineMax+1 bytes. That is Redis's "more than PROTO_INLINE_MAX_SIZE
// bytes buffered and no line end" applied to the line itself, as Redis does
// when bytes arrive one at a time; a NUL before c means no line end, as
// Redis's strchr stops there.
func (r *Reader) line(c byte) int {
	n := r.w - r.p
	lim := min(n, inlineMax+1)
	if r.scan < lim {
		seg := r.buf[r.p+r.scan : r.p+lim]
		// Count lines are short: a loop beats two IndexByte calls.
		for k := 0; k < len(seg) && k < 32; k++ {
			switch seg[k] {
			case c:
				return r.scan + k
			case 0:
				r.scan = nulStuck
				return r.tooLong(n)
			}
		}
		j := bytes.IndexByte(seg, c)
		z := j
		if z < 0 {
			z = len(seg)
		}
		switch {
		case bytes.IndexByte(seg[:z], 0) >= 0:
			r.scan = nulStuck
		case j >= 0:
			return r.scan + j
		default:
			r.scan = lim
		}
	}
	return r.tooLong(n)
}

func (r *Reader) tooLong(n int) int {
	if n > inlineMax {
		return -2
	}
	return -1
}

// advance moves the parse position to q and forgets the line scan.
func (r *Reader) advance(q int) {
	r.p = q
	r.scan = 0
}

func (r *Reader) endCommand(inline bool) {
	r.metas = append(r.metas, cmdMeta{start: r.curArgs, n: len(r.spans) - r.curArgs, inline: inline})
	r.curArgs = len(r.spans)
	r.r = r.p
}

// skipCommand drops an empty command.
func (r *Reader) skipCommand() {
	r.spans = r.spans[:r.curArgs]
	r.r = r.p
}

func (r *Reader) parseMultibulkHeader() (bool, error) {
	i := r.line('\r')
	switch {
	case i == -2:
		return false, ErrTooBigMultibulkCount
	case i < 0 || r.p+i+2 > r.w:
		// Redis wants one byte after the \r, and does not check it is \n.
		return false, nil
	}
	ll, ok := parseLL(r.buf[r.p+1 : r.p+i])
	if !ok || ll > r.lim.maxMultibulk() {
		return false, ErrInvalidMultibulkLength
	}
	if ll > unauthMaxMultibulk && r.unauth {
		return false, ErrUnauthMultibulkLength
	}
	r.advance(r.p + i + 2)
	if ll <= 0 {
		r.skipCommand()
		return true, nil
	}
	r.mbLeft = ll
	r.bulk = -1
	return true, nil
}

func (r *Reader) parseBulk() (bool, error) {
	if r.bulk < 0 {
		i := r.line('\r')
		switch {
		case i == -2:
			return false, ErrTooBigBulkCount
		case i < 0 || r.p+i+2 > r.w:
			return false, nil
		}
		if c := r.buf[r.p]; c != '$' {
			return false, errExpectedDollar(c)
		}
		ll, ok := parseLL(r.buf[r.p+1 : r.p+i])
		if !ok || ll < 0 || ll > r.lim.maxBulk() {
			return false, ErrInvalidBulkLength
		}
		if ll > unauthMaxBulk && r.unauth {
			return false, ErrUnauthBulkLength
		}
		r.advance(r.p + i + 2)
		r.bulk = ll
	}
	// The bulk and two more bytes, which Redis skips unchecked.
	if int64(r.w-r.p) < r.bulk+2 {
		return false, nil
	}
	n := int(r.bulk)
	r.spans = append(r.spans, span{r.p, n})
	r.advance(r.p + n + 2)
	r.bulk = -1
	r.mbLeft--
	if r.mbLeft == 0 {
		r.endCommand(false)
	}
	return true, nil
}

func (r *Reader) parseInline() (bool, error) {
	i := r.line('\n')
	switch {
	case i == -2:
		return false, ErrTooBigInline
	case i < 0:
		return false, nil
	}
	s, e := r.p, r.p+i
	if e > s && r.buf[e-1] == '\r' {
		e--
	}
	if !r.splitArgs(s, e) {
		r.spans = r.spans[:r.curArgs]
		return false, ErrUnbalancedQuotes
	}
	r.advance(r.p + i + 1)
	if len(r.spans) == r.curArgs {
		r.skipCommand()
	} else {
		r.endCommand(true)
	}
	return true, nil
}

// splitArgs splits the line buf[s:e], which holds no NUL, as Redis's
// sdssplitargs does, appending a span for each argument. Unquoting happens
// in place: an argument is never longer than its source. It returns false
// for unbalanced quotes.
func (r *Reader) splitArgs(s, e int) bool {
	b := r.buf[:e]
	at := func(j int) byte { // the C string's byte, NUL past the end
		if j < e {
			return b[j]
		}
		return 0
	}
	i := s
	for {
		for i < e && isSpace(b[i]) {
			i++
		}
		if i >= e {
			return true
		}
		start, o := i, i
		inq, insq := false, false
		for done := false; !done; {
			c := at(i)
			switch {
			case inq:
				switch {
				case c == '\\' && at(i+1) == 'x' && isHex(at(i+2)) && isHex(at(i+3)):
					b[o] = unhex(at(i+2))<<4 | unhex(at(i+3))
					o++
					i += 4
				case c == '\\' && at(i+1) != 0:
					i++
					switch c = b[i]; c {
					case 'n':
						c = '\n'
					case 'r':
						c = '\r'
					case 't':
						c = '\t'
					case 'b':
						c = '\b'
					case 'a':
						c = '\a'
					}
					b[o] = c
					o++
					i++
				case c == '"':
					// The closing quote must be followed by a space or
					// nothing at all.
					if n := at(i + 1); n != 0 && !isSpace(n) {
						return false
					}
					done = true
					i++
				case c == 0:
					return false
				default:
					b[o] = c
					o++
					i++
				}
			case insq:
				switch {
				case c == '\\' && at(i+1) == '\'':
					b[o] = '\''
					o++
					i += 2
				case c == '\'':
					if n := at(i + 1); n != 0 && !isSpace(n) {
						return false
					}
					done = true
					i++
				case c == 0:
					return false
				default:
					b[o] = c
					o++
					i++
				}
			default:
				switch c {
				case ' ', '\n', '\r', '\t':
					done = true
					i++
				case 0:
					done = true
				case '"':
					inq = true
					i++
				case '\'':
					insq = true
					i++
				default:
					b[o] = c
					o++
					i++
				}
			}
		}
		r.spans = append(r.spans, span{start, o - start})
	}
}

// isSpace is C's isspace in the C locale.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// parseLL is Redis's string2ll: an optional '-', no '+', no leading zeros,
// no spaces, at most 20 bytes, within int64.
func parseLL(s []byte) (int64, bool) {
	if len(s) == 0 || len(s) >= 21 {
		return 0, false
	}
	if len(s) == 1 && s[0] == '0' {
		return 0, true
	}
	neg := false
	if s[0] == '-' {
		neg = true
		s = s[1:]
		if len(s) == 0 {
			return 0, false
		}
	}
	if s[0] < '1' || s[0] > '9' {
		return 0, false
	}
	var v uint64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		if v > math.MaxUint64/10 {
			return 0, false
		}
		v *= 10
		if v > math.MaxUint64-uint64(c-'0') {
			return 0, false
		}
		v += uint64(c - '0')
	}
	if neg {
		if v > 1<<63 {
			return 0, false
		}
		return -int64(v), true
	}
	if v > math.MaxInt64 {
		return 0, false
	}
	return int64(v), true
}
