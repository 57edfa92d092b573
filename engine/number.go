package engine

import (
	"bytes"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// parseInt parses b as Redis's string2ll does: an optional '-', no '+', no
// spaces, no leading zeros, within int64.
func parseInt(b []byte) (int64, bool) {
	n := len(b)
	if n == 0 || n > 20 {
		return 0, false
	}
	if n == 1 && b[0] == '0' {
		return 0, true
	}
	i := 0
	neg := false
	if b[0] == '-' {
		neg = true
		i++
		if n == 1 {
			return 0, false
		}
	}
	if b[i] < '1' || b[i] > '9' {
		return 0, false
	}
	var v uint64
	for ; i < n; i++ {
		c := b[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if v > (math.MaxUint64-9)/10 {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
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

// parseFloat parses b as Redis parses scores and float arguments (strtod):
// no leading space, nothing after the number, "inf" and "-inf" accepted,
// NaN refused.
func parseFloat(b []byte) (float64, bool) {
	if len(b) == 0 || isSpace(b[0]) {
		return 0, false
	}
	s := unsafeString(b)
	if strings.ContainsRune(s, '_') {
		return 0, false // Go's syntax, not C's
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		// C's strtod saturates to ±HUGE_VAL on overflow, which Redis then
		// refuses; underflow to zero is refused too.
		return 0, false
	}
	if math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// longDoublePrec is the mantissa precision of x86's 80-bit long double,
// which Redis uses for INCRBYFLOAT and HINCRBYFLOAT. Doing that arithmetic
// in big.Float at this precision gives the same digits as Redis.
const longDoublePrec = 64

// parseLongDoubleSyntax parses b with strtold's syntax: no leading space,
// nothing after the number, NaN refused. parseLongDouble adds the range
// checks.
func parseLongDoubleSyntax(b []byte) (*big.Float, bool) {
	if len(b) == 0 || len(b) > 5*1024 || isSpace(b[0]) {
		return nil, false
	}
	s := unsafeString(b)
	if strings.ContainsRune(s, '_') {
		return nil, false
	}
	switch strings.ToLower(strings.TrimPrefix(strings.TrimPrefix(s, "+"), "-")) {
	case "inf", "infinity":
		f := new(big.Float).SetPrec(longDoublePrec).SetInf(s[0] == '-')
		return f, true
	case "nan":
		return nil, false
	}
	f, _, err := big.ParseFloat(s, 0, longDoublePrec, big.ToNearestEven)
	if err != nil {
		return nil, false
	}
	return f, true
}

// formatLongDouble formats v as Redis's ld2string in LD_STR_HUMAN mode:
// "%.17Lf" with trailing zeros (and a trailing dot) removed.
func formatLongDouble(v *big.Float) string {
	if v.IsInf() {
		if v.Sign() > 0 {
			return "inf"
		}
		return "-inf"
	}
	s := v.Text('f', 17)
	if strings.IndexByte(s, '.') >= 0 {
		s = strings.TrimRight(s, "0")
		s = strings.TrimSuffix(s, ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}

// formatDouble formats f as Redis 7.0's addReplyDouble does in RESP2
// ("%.17g", "inf", "-inf").
func formatDouble(f float64) string {
	return string(appendDouble(nil, f))
}

// appendDouble appends f formatted as formatDouble.
func appendDouble(b []byte, f float64) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(b, "inf"...)
	case math.IsInf(f, -1):
		return append(b, "-inf"...)
	}
	return strconv.AppendFloat(b, f, 'g', 17, 64)
}

// Exponent limits of x86's 80-bit long double, as big.Float.MantExp reports
// exponents (|x| = mant × 2^exp with 0.5 <= mant < 1).
const (
	longDoubleMaxExp = 16384  // |x| >= 2^16384 is infinite
	longDoubleMinExp = -16445 // |x| < 2^-16446 (half the least subnormal) rounds to 0
)

// longDoubleOverflows reports whether v, an exact big.Float, is out of a
// long double's range (it would be ±inf).
func longDoubleOverflows(v *big.Float) bool {
	return !v.IsInf() && v.Sign() != 0 && v.MantExp(nil) > longDoubleMaxExp
}

// parseLongDouble is parseLongDoubleSyntax plus strtold's range checks, as
// Redis's string2ld: an overflow, or an underflow to zero, is invalid.
func parseLongDouble(b []byte) (*big.Float, bool) {
	// Go's syntax has binary and octal prefixes; C's strtold has not.
	s := b
	if len(s) > 0 && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	hex := len(s) >= 2 && s[0] == '0' && s[1]|0x20 == 'x'
	if len(s) >= 2 && s[0] == '0' && (s[1]|0x20 == 'b' || s[1]|0x20 == 'o') {
		return nil, false
	}
	// Go takes a binary exponent ('p') after decimal digits too.
	if !hex && bytes.IndexAny(s, "pP") >= 0 {
		return nil, false
	}
	if len(b) >= 5*1024 { // MAX_LONG_DOUBLE_CHARS, including the NUL
		return nil, false
	}
	v, ok := parseLongDoubleSyntax(b)
	if !ok || longDoubleOverflows(v) {
		return nil, false
	}
	if v.Sign() != 0 && !v.IsInf() && v.MantExp(nil) < longDoubleMinExp {
		return nil, false
	}
	return v, true
}
