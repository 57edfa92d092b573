package engine

// Writer receives a command's reply. proto's RESP writer implements it for a
// client connection in RESP2 or RESP3; the Raft FSM (later) records it so that
// the leader can send a reply computed by Apply. A handler writes exactly one
// reply (an aggregate counts as one, with its elements).
type Writer interface {
	// WriteSimple writes a simple string (+OK).
	WriteSimple(s string)
	// WriteError writes an error; msg starts with its code, e.g.
	// "ERR syntax error" or "WRONGTYPE Operation against ...".
	WriteError(msg string)
	WriteInt(n int64)
	WriteBulk(b []byte)
	WriteBulkString(s string)
	// WriteNull writes the null bulk string ($-1 in RESP2, _ in RESP3).
	WriteNull()
	// WriteNullArray writes the null array (*-1 in RESP2, _ in RESP3).
	WriteNullArray()
	WriteArray(n int)
	// WriteMap starts a map of n key-value pairs (a flat array of 2n
	// elements in RESP2).
	WriteMap(n int)
	// WriteSet starts a set of n elements (an array in RESP2).
	WriteSet(n int)
	// WriteDouble writes a double (a bulk string in RESP2), formatted as
	// Redis 7.0 formats scores (%.17g, "inf", "-inf").
	WriteDouble(f float64)
	// WriteBool writes a boolean (the integer 1 or 0 in RESP2).
	WriteBool(b bool)
	// WriteVerbatim writes a verbatim string of the given three-letter
	// format (a bulk string in RESP2).
	WriteVerbatim(format, s string)
	// Proto returns the protocol version, 2 or 3, for the few replies whose
	// shape differs beyond what the methods above hide.
	Proto() int
}

// Error texts as Redis 7.0 spells them. Handlers write them with
// Writer.WriteError; clients parse the code before the first space.
const (
	ErrSyntax          = "ERR syntax error"
	ErrWrongType       = "WRONGTYPE Operation against a key holding the wrong kind of value"
	ErrNotInteger      = "ERR value is not an integer or out of range"
	ErrNotFloat        = "ERR value is not a valid float"
	ErrOverflow        = "ERR increment or decrement would overflow"
	ErrNoSuchKey       = "ERR no such key"
	ErrIndexOutOfRange = "ERR index out of range"
	ErrNaNOrInfinity   = "ERR increment would produce NaN or Infinity"
	ErrStringTooLong   = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
	ErrBitOffset       = "ERR bit offset is not an integer or out of range"
	ErrBitValue        = "ERR bit is not an integer or out of range"
	ErrTimeout         = "ERR timeout is not a float or out of range"
	ErrTimeoutNegative = "ERR timeout is negative"
	ErrMinMaxFloat     = "ERR min or max is not a float"
	ErrMinMaxLex       = "ERR min or max not valid string range item"
	ErrBusyKey         = "BUSYKEY Target key name already exists."
	ErrBadDump         = "ERR DUMP payload version or checksum are wrong"
	ErrHashNotInteger  = "ERR hash value is not an integer"
	ErrHashNotFloat    = "ERR hash value is not a float"
	ErrPositive        = "ERR value is out of range, must be positive"
	ErrOOM             = "OOM command not allowed when used memory > 'maxmemory'."
)

// errWrongArgs returns the arity error for a command, as Redis words it.
func errWrongArgs(name []byte) string {
	return "ERR wrong number of arguments for '" + lowerASCII(string(name)) + "' command"
}

func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; c >= 'A' && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
