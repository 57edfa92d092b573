package engine

import (
	"math"
	"strconv"
)

// Helpers shared by SSCAN and HSCAN, following Redis's scanGenericCommand.

const errInvalidCursor = "ERR invalid cursor"

// hsParseScanCursor parses a cursor as Redis's parseScanCursorOrReply does
// with strtoul: an optional sign ("-1" wraps to the largest cursor), digits,
// nothing before or after; an empty string is cursor 0.
func hsParseScanCursor(b []byte) (uint64, bool) {
	if len(b) == 0 {
		return 0, true
	}
	i := 0
	neg := false
	if b[0] == '+' || b[0] == '-' {
		neg = b[0] == '-'
		i++
	}
	if i == len(b) {
		return 0, false
	}
	var v uint64
	overflow := false
	for ; i < len(b); i++ {
		c := b[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (math.MaxUint64-d)/10 {
			overflow = true
		} else {
			v = v*10 + d
		}
	}
	if overflow {
		return 0, false
	}
	if neg {
		v = -v
	}
	return v, true
}

// hsScanOptions parses the MATCH and COUNT options of SSCAN and HSCAN from
// c.Args[from:]. It writes the error and returns ok=false when they are
// invalid.
func hsScanOptions(c *Ctx, from int) (pattern string, usePattern bool, count int, ok bool) {
	count = 10
	for i := from; i < len(c.Args); {
		more := len(c.Args) - i
		switch {
		case c.isArg(i, "count") && more >= 2:
			n, valid := parseInt(c.Args[i+1])
			if !valid {
				c.err(ErrNotInteger)
				return "", false, 0, false
			}
			if n < 1 {
				c.err(ErrSyntax)
				return "", false, 0, false
			}
			count = int(n)
			i += 2
		case c.isArg(i, "match") && more >= 2:
			pattern = unsafeString(c.Args[i+1])
			// "*" matches everything, even the empty string that the
			// matcher itself refuses, as in Redis.
			usePattern = pattern != "*"
			i += 2
		default:
			c.err(ErrSyntax)
			return "", false, 0, false
		}
	}
	return pattern, usePattern, count, true
}

// hsWriteScanReply writes [cursor, items].
func hsWriteScanReply(c *Ctx, cursor uint64, items [][]byte) {
	var buf [20]byte
	c.W.WriteArray(2)
	c.W.WriteBulk(strconv.AppendUint(buf[:0], cursor, 10))
	c.W.WriteArray(len(items))
	for _, it := range items {
		c.W.WriteBulk(it)
	}
}
