package cluster

import (
	"strings"
)

// Helpers shared by the administration commands (SLOWLOG, LATENCY, MEMORY,
// DEBUG, CLUSTER, ACL, SHUTDOWN, WAIT: the admin_*.go files).

// parseLongLong parses b as Redis's string2ll: an optional '-', no '+', no
// spaces, no leading zeros, within int64.
func parseLongLong(b []byte) (int64, bool) {
	n := len(b)
	if n == 0 || n > 20 {
		return 0, false
	}
	if n == 1 && b[0] == '0' {
		return 0, true
	}
	i, neg := 0, false
	if b[0] == '-' {
		if n == 1 {
			return 0, false
		}
		neg, i = true, 1
	}
	if b[i] < '1' || b[i] > '9' {
		return 0, false
	}
	var v uint64
	for ; i < n; i++ {
		d := b[i]
		if d < '0' || d > '9' {
			return 0, false
		}
		if v > (1<<64-1-9)/10 {
			return 0, false
		}
		v = v*10 + uint64(d-'0')
	}
	if neg {
		if v > 1<<63 {
			return 0, false
		}
		return -int64(v), true
	}
	if v > 1<<63-1 {
		return 0, false
	}
	return int64(v), true
}

const errNotInteger = "ERR value is not an integer or out of range"

// errorArg formats an argument for an error text as Redis's "%.<n>s" in
// addReplyErrorFormat: it stops at a NUL byte or after n bytes, and
// newlines become spaces.
func errorArg(b []byte, n int) string {
	for i, ch := range b {
		if ch == 0 {
			b = b[:i]
			break
		}
	}
	if len(b) > n {
		b = b[:n]
	}
	out := []byte(string(b))
	for i, ch := range out {
		if ch == '\r' || ch == '\n' {
			out[i] = ' '
		}
	}
	return string(out)
}

// errSubcommandSyntax is Redis's addReplySubcommandSyntaxError: a known
// subcommand with the wrong arguments.
func errSubcommandSyntax(args [][]byte) string {
	return "ERR unknown subcommand or wrong number of arguments for '" + errorArg(args[1], 128) +
		"'. Try " + strings.ToUpper(string(args[0])) + " HELP."
}
