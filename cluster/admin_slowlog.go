package cluster

import (
	"strings"
)

func init() {
	serverHandlers["slowlog|get"] = cmdSLOWLOGGET
	serverHandlers["slowlog|len"] = cmdSLOWLOGLEN
	serverHandlers["slowlog|reset"] = cmdSLOWLOGRESET
	serverHandlers["slowlog|help"] = cmdSLOWLOGHELP
}

// cmdSLOWLOGGET: SLOWLOG GET [count]. The newest entries first, 10 by
// default, all of them for -1.
func cmdSLOWLOGGET(c *conn, args [][]byte, inExec bool) {
	if len(args) > 3 {
		c.w.WriteError(errSubcommandSyntax(args))
		return
	}
	count := int64(10)
	if len(args) == 3 {
		n, ok := parseLongLong(args[2])
		if !ok || n < -1 {
			c.w.WriteError("ERR count should be greater than or equal to -1")
			return
		}
		count = n
	}
	l := c.s.slowlog
	l.mu.Lock()
	entries := l.mu.entries
	if count >= 0 && int64(len(entries)) > count {
		entries = entries[:count]
	}
	entries = append([]slowEntry(nil), entries...)
	l.mu.Unlock()
	c.w.WriteArray(len(entries))
	for i := range entries {
		e := &entries[i]
		c.w.WriteArray(6)
		c.w.WriteInt(e.id)
		c.w.WriteInt(e.at)
		c.w.WriteInt(e.duration)
		c.w.WriteArray(len(e.args))
		for _, a := range e.args {
			c.w.WriteBulkString(a)
		}
		c.w.WriteBulkString(e.addr)
		c.w.WriteBulkString(e.name)
	}
}

func cmdSLOWLOGLEN(c *conn, args [][]byte, inExec bool) {
	l := c.s.slowlog
	l.mu.Lock()
	n := len(l.mu.entries)
	l.mu.Unlock()
	c.w.WriteInt(int64(n))
}

func cmdSLOWLOGRESET(c *conn, args [][]byte, inExec bool) {
	l := c.s.slowlog
	l.mu.Lock()
	l.mu.entries = nil
	l.mu.Unlock()
	c.w.WriteOK()
}

func cmdSLOWLOGHELP(c *conn, args [][]byte, inExec bool) {
	writeHelp(c, "SLOWLOG", []string{
		"GET [<count>]",
		"    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
		"    Entries are made of:",
		"    id, timestamp, time in microseconds, arguments array, client IP and port,",
		"    client name",
		"LEN",
		"    Return the length of the slowlog.",
		"RESET",
		"    Reset the slowlog.",
	})
}

// slowlogRedacted replaces the arguments that carry passwords (AUTH's,
// HELLO's AUTH pair) with "(redacted)", as Redis's
// redactClientCommandArgument does, so that SLOWLOG GET does not show
// them. args is not modified.
func slowlogRedacted(args [][]byte) [][]byte {
	if len(args) < 2 {
		return args
	}
	redact := func(from, to int) [][]byte {
		out := make([][]byte, len(args))
		copy(out, args)
		for i := from; i < to && i < len(out); i++ {
			out[i] = redactedArg
		}
		return out
	}
	switch {
	case strings.EqualFold(string(args[0]), "auth"):
		return redact(1, len(args))
	case strings.EqualFold(string(args[0]), "hello"):
		// HELLO protover [AUTH username password] [SETNAME clientname]
		for i := 2; i < len(args); {
			more := len(args) - 1 - i
			switch {
			case strings.EqualFold(string(args[i]), "auth") && more >= 2:
				return redact(i+1, i+3)
			case strings.EqualFold(string(args[i]), "setname") && more >= 1:
				i += 2
			default:
				return args
			}
		}
	}
	return args
}

var redactedArg = []byte("(redacted)")
