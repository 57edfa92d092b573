package cluster

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

func init() {
	serverHandlers["client|id"] = cmdCLIENTID
	serverHandlers["client|setname"] = cmdCLIENTSETNAME
	serverHandlers["client|getname"] = cmdCLIENTGETNAME
	serverHandlers["client|list"] = cmdCLIENTLIST
	serverHandlers["client|info"] = cmdCLIENTINFO
	serverHandlers["client|kill"] = cmdCLIENTKILL
	serverHandlers["client|pause"] = cmdCLIENTPAUSE
	serverHandlers["client|unpause"] = cmdCLIENTUNPAUSE
	serverHandlers["client|no-evict"] = cmdCLIENTNOEVICT
	serverHandlers["client|help"] = cmdCLIENTHELP
}

func cmdCLIENTID(c *conn, args [][]byte, inExec bool) { c.w.WriteInt(int64(c.id)) }

func cmdCLIENTSETNAME(c *conn, args [][]byte, inExec bool) {
	if !validClientName(args[2]) {
		c.w.WriteError(errClientName)
		return
	}
	n := string(args[2])
	c.name.Store(&n)
	c.w.WriteOK()
}

func cmdCLIENTGETNAME(c *conn, args [][]byte, inExec bool) {
	if n := *c.name.Load(); n != "" {
		c.w.WriteBulkString(n)
		return
	}
	c.w.WriteNull()
}

// describe renders the client as a CLIENT LIST line, with Redis 7.0's
// fields. Memory fields are Flotilla's buffers.
func (c *conn) describe(now time.Time) string {
	flags := ""
	if c.subCount.Load() > 0 {
		flags += "P"
	}
	if c.blocked.Load() {
		flags += "b"
	}
	if c.inMulti.Load() {
		flags += "x"
	}
	if flags == "" {
		flags = "N"
	}
	multi := -1
	if c.inMulti.Load() {
		multi = 0
	}
	age := int64(now.Sub(c.created).Seconds())
	idle := (now.UnixMilli() - c.lastActive.Load()) / 1000
	sub, psub, ssub := 0, 0, 0
	c.s.pubsub.mu.RLock()
	sub, psub, ssub = len(c.channels), len(c.patterns), len(c.shardChannels)
	c.s.pubsub.mu.RUnlock()
	return fmt.Sprintf("id=%d addr=%s laddr=%s fd=%d name=%s age=%d idle=%d flags=%s db=0 sub=%d psub=%d ssub=%d multi=%d qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=%s user=%s redir=-1 resp=%d",
		c.id, c.addr, c.laddr, c.id+7, *c.name.Load(), age, idle, flags, sub, psub, ssub, multi,
		*c.lastCmd.Load(), c.userName(), c.resp.Load())
}

func (c *conn) userName() string {
	if v := c.userAtomic.Load(); v != nil {
		return *v
	}
	return "default"
}

func (c *conn) clientType() string {
	if c.subCount.Load() > 0 {
		return "pubsub"
	}
	return "normal"
}

func cmdCLIENTLIST(c *conn, args [][]byte, inExec bool) {
	var ids map[uint64]bool
	typ := ""
	for i := 2; i < len(args); i++ {
		switch {
		case strings.EqualFold(string(args[i]), "TYPE") && i+1 < len(args):
			typ = strings.ToLower(string(args[i+1]))
			switch typ {
			case "normal", "pubsub", "master", "replica", "slave":
			default:
				c.w.WriteError("ERR Unknown client type '" + string(args[i+1]) + "'")
				return
			}
			i++
		case strings.EqualFold(string(args[i]), "ID") && i+1 < len(args):
			ids = map[uint64]bool{}
			for i++; i < len(args); i++ {
				id, err := strconv.ParseUint(string(args[i]), 10, 64)
				if err != nil || id == 0 {
					c.w.WriteError("ERR Invalid client ID")
					return
				}
				ids[id] = true
			}
		default:
			c.w.WriteError("ERR syntax error")
			return
		}
	}
	now := time.Now()
	var b strings.Builder
	for _, x := range c.s.clients() {
		if ids != nil && !ids[x.id] {
			continue
		}
		if typ != "" && x.clientType() != typ {
			continue
		}
		b.WriteString(x.describe(now))
		b.WriteByte('\n')
	}
	c.w.WriteVerbatim("txt", b.String())
}

func cmdCLIENTINFO(c *conn, args [][]byte, inExec bool) {
	c.w.WriteVerbatim("txt", c.describe(time.Now())+"\n")
}

// cmdCLIENTKILL implements both forms: CLIENT KILL addr:port (replies OK or
// an error) and CLIENT KILL <filter> <value> ... (replies the count).
func cmdCLIENTKILL(c *conn, args [][]byte, inExec bool) {
	if len(args) == 3 {
		addr := string(args[2])
		for _, x := range c.s.clients() {
			if x.addr == addr {
				x.kill()
				if x == c {
					c.closeAfter = true
				}
				c.w.WriteOK()
				return
			}
		}
		c.w.WriteError("ERR No such client")
		return
	}
	if len(args)%2 != 0 {
		c.w.WriteError("ERR syntax error")
		return
	}
	var (
		id, addr, laddr, user, typ string
		skipMe                     = true
	)
	for i := 2; i < len(args); i += 2 {
		v := string(args[i+1])
		switch strings.ToUpper(string(args[i])) {
		case "ID":
			if n, err := strconv.ParseUint(v, 10, 64); err != nil || n == 0 {
				c.w.WriteError("ERR client-id should be greater than 0")
				return
			}
			id = v
		case "TYPE":
			typ = strings.ToLower(v)
			switch typ {
			case "normal", "pubsub", "master", "replica", "slave":
			default:
				c.w.WriteError("ERR Unknown client type '" + v + "'")
				return
			}
		case "ADDR":
			addr = v
		case "LADDR":
			laddr = v
		case "USER":
			if v != "default" {
				c.w.WriteError("ERR No such user '" + v + "'")
				return
			}
			user = v
		case "SKIPME":
			switch strings.ToLower(v) {
			case "yes":
				skipMe = true
			case "no":
				skipMe = false
			default:
				c.w.WriteError("ERR syntax error")
				return
			}
		default:
			c.w.WriteError("ERR syntax error")
			return
		}
	}
	n := 0
	for _, x := range c.s.clients() {
		if (id != "" && strconv.FormatUint(x.id, 10) != id) ||
			(addr != "" && x.addr != addr) ||
			(laddr != "" && x.laddr != laddr) ||
			(user != "" && x.userName() != user) ||
			(typ != "" && x.clientType() != typ) ||
			(skipMe && x == c) {
			continue
		}
		x.kill()
		if x == c {
			c.closeAfter = true
		}
		n++
	}
	c.w.WriteInt(int64(n))
}

func cmdCLIENTPAUSE(c *conn, args [][]byte, inExec bool) {
	ms, err := strconv.ParseInt(string(args[2]), 10, 64)
	if err != nil {
		c.w.WriteError("ERR timeout is not an integer or out of range")
		return
	}
	if ms < 0 {
		c.w.WriteError("ERR timeout is negative")
		return
	}
	all := true
	if len(args) == 4 {
		switch strings.ToUpper(string(args[3])) {
		case "WRITE":
			all = false
		case "ALL":
		default:
			c.w.WriteError("ERR CLIENT PAUSE mode must be WRITE or ALL")
			return
		}
	} else if len(args) > 4 {
		c.w.WriteError("ERR syntax error")
		return
	}
	c.s.pause.start(time.Now().Add(time.Duration(ms)*time.Millisecond), all)
	c.w.WriteOK()
}

func cmdCLIENTUNPAUSE(c *conn, args [][]byte, inExec bool) {
	c.s.pause.stop()
	c.w.WriteOK()
}

func cmdCLIENTNOEVICT(c *conn, args [][]byte, inExec bool) {
	switch strings.ToLower(string(args[2])) {
	case "on":
		c.noEvict = true
	case "off":
		c.noEvict = false
	default:
		c.w.WriteError("ERR syntax error")
		return
	}
	c.w.WriteOK()
}

func cmdCLIENTHELP(c *conn, args [][]byte, inExec bool) {
	writeHelp(c, "CLIENT", []string{
		"CACHING (YES|NO)",
		"    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
		"GETREDIR",
		"    Return the client ID we are redirecting to when tracking is enabled.",
		"GETNAME",
		"    Return the name of the current connection.",
		"ID",
		"    Return the ID of the current connection.",
		"INFO",
		"    Return information about the current client connection.",
		"KILL <ip:port>",
		"    Kill connection made from <ip:port>.",
		"KILL <option> <value> [<option> <value> [...]]",
		"    Kill connections. Options are:",
		"    * ADDR (<ip:port>|<unixsocket>:0)",
		"      Kill connections made from the specified address",
		"    * LADDR (<ip:port>|<unixsocket>:0)",
		"      Kill connections made to specified local address",
		"    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
		"      Kill connections by type.",
		"    * USER <username>",
		"      Kill connections authenticated by <username>.",
		"    * SKIPME (YES|NO)",
		"      Skip killing current connection (default: yes).",
		"    * ID <client-id>",
		"      Kill connections by client id.",
		"LIST [options ...]",
		"    Return information about client connections. Options:",
		"    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
		"      Return clients of specified type.",
		"UNPAUSE",
		"    Stop the current client pause, resuming traffic.",
		"PAUSE <timeout> [WRITE|ALL]",
		"    Suspend all, or just write, clients for <timeout> milliseconds.",
		"REPLY (ON|OFF|SKIP)",
		"    Control the replies sent to the current connection.",
		"SETNAME <name>",
		"    Assign the name <name> to the current connection.",
		"UNBLOCK <clientid> [TIMEOUT|ERROR]",
		"    Unblock the specified blocked client.",
		"TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
		"         [OPTIN] [OPTOUT] [NOLOOP]",
		"    Control server assisted client side caching.",
		"TRACKINGINFO",
		"    Report tracking status for the current connection.",
		"NO-EVICT (ON|OFF)",
		"    Protect current client connection from eviction.",
	})
}
