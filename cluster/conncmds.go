package cluster

import (
	"strconv"
	"strings"
	"time"

	"github.com/flotilla-db/flotilla/proto"
)

func init() {
	serverHandlers["ping"] = cmdPING
	serverHandlers["echo"] = cmdECHO
	serverHandlers["quit"] = cmdQUIT
	serverHandlers["reset"] = cmdRESET
	serverHandlers["select"] = cmdSELECT
	serverHandlers["auth"] = cmdAUTH
	serverHandlers["hello"] = cmdHELLO
	serverHandlers["time"] = cmdTIME
	serverHandlers["lastsave"] = cmdLASTSAVE
	serverHandlers["asking"] = cmdASKING
	serverHandlers["readonly"] = cmdREADONLY
	serverHandlers["readwrite"] = cmdREADWRITE
	for _, sub := range []string{"", "|count", "|info", "|docs", "|getkeys", "|getkeysandflags", "|list", "|help"} {
		serverHandlers["command"+sub] = cmdCOMMAND
	}
}

func cmdPING(c *conn, args [][]byte, inExec bool) {
	if len(args) > 2 {
		c.w.WriteError("ERR wrong number of arguments for 'ping' command")
		return
	}
	if c.resp.Load() == 2 && c.subCount.Load() > 0 {
		c.w.WriteArray(2)
		c.w.WriteBulkString("pong")
		if len(args) == 2 {
			c.w.WriteBulk(args[1])
		} else {
			c.w.WriteBulkString("")
		}
		return
	}
	if len(args) == 2 {
		c.w.WriteBulk(args[1])
		return
	}
	c.w.WriteSimple("PONG")
}

func cmdECHO(c *conn, args [][]byte, inExec bool) { c.w.WriteBulk(args[1]) }

func cmdQUIT(c *conn, args [][]byte, inExec bool) {
	c.w.WriteOK()
	c.closeAfter = true
}

func cmdSELECT(c *conn, args [][]byte, inExec bool) {
	id, err := strconv.ParseInt(string(args[1]), 10, 32)
	if err != nil {
		c.w.WriteError("ERR value is not an integer or out of range")
		return
	}
	if id != 0 {
		c.w.WriteError("ERR SELECT is not allowed in cluster mode")
		return
	}
	c.w.WriteOK()
}

func cmdTIME(c *conn, args [][]byte, inExec bool) {
	now := time.Now()
	c.w.WriteArray(2)
	c.w.WriteBulkString(strconv.FormatInt(now.Unix(), 10))
	c.w.WriteBulkString(strconv.FormatInt(int64(now.Nanosecond()/1000), 10))
}

func cmdLASTSAVE(c *conn, args [][]byte, inExec bool) {
	c.w.WriteInt(c.s.started.Unix())
}

func cmdASKING(c *conn, args [][]byte, inExec bool) {
	c.asking = true
	c.w.WriteOK()
}

func cmdREADONLY(c *conn, args [][]byte, inExec bool) {
	c.readonly = true
	c.w.WriteOK()
}

func cmdREADWRITE(c *conn, args [][]byte, inExec bool) {
	c.readonly = false
	c.w.WriteOK()
}

func cmdCOMMAND(c *conn, args [][]byte, inExec bool) { proto.ServeCOMMAND(c.w, args) }

const errWrongPass = "WRONGPASS invalid username-password pair or user is disabled."

// checkPassword authenticates user with pass against requirepass (the
// default user). ACL users come later.
func (c *conn) checkPassword(user, pass []byte) bool {
	if string(user) != "default" {
		return false
	}
	req := c.s.cfg.Get("requirepass")
	return req == "" || string(pass) == req
}

func cmdAUTH(c *conn, args [][]byte, inExec bool) {
	if len(args) > 3 {
		c.w.WriteError("ERR syntax error")
		return
	}
	user, pass := []byte("default"), args[1]
	if len(args) == 2 {
		if c.s.cfg.Get("requirepass") == "" {
			c.w.WriteError("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
			return
		}
	} else {
		user, pass = args[1], args[2]
	}
	if !c.checkPassword(user, pass) {
		c.w.WriteError(errWrongPass)
		return
	}
	c.authed = true
	c.user = string(user)
	c.w.WriteOK()
}

// validClientName reports whether name may be a client name: no spaces,
// newlines or special characters, as Redis's validateClientName.
func validClientName(name []byte) bool {
	for _, ch := range name {
		if ch < '!' || ch > '~' {
			return false
		}
	}
	return true
}

const errClientName = "ERR Client names cannot contain spaces, newlines or special characters."

func cmdHELLO(c *conn, args [][]byte, inExec bool) {
	ver := int64(0)
	next := 1
	if len(args) >= 2 {
		v, err := strconv.ParseInt(string(args[1]), 10, 64)
		if err != nil || strings.HasPrefix(string(args[1]), "+") {
			c.w.WriteError("ERR Protocol version is not an integer or out of range")
			return
		}
		if v < 2 || v > 3 {
			c.w.WriteError("NOPROTO unsupported protocol version")
			return
		}
		ver = v
		next = 2
	}
	var user, pass, name []byte
	for j := next; j < len(args); j++ {
		more := len(args) - 1 - j
		opt := strings.ToUpper(string(args[j]))
		switch {
		case opt == "AUTH" && more >= 2:
			user, pass = args[j+1], args[j+2]
			j += 2
		case opt == "SETNAME" && more >= 1:
			name = args[j+1]
			j++
		default:
			c.w.WriteError("ERR Syntax error in HELLO option '" + string(args[j]) + "'")
			return
		}
	}
	if user != nil {
		if !c.checkPassword(user, pass) {
			c.w.WriteError(errWrongPass)
			return
		}
		c.authed = true
		c.user = string(user)
	}
	if !c.authed {
		c.w.WriteError("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
		return
	}
	if name != nil {
		if !validClientName(name) {
			c.w.WriteError(errClientName)
			return
		}
		n := string(name)
		c.name.Store(&n)
	}
	if ver != 0 {
		c.setProto(int(ver))
	}
	c.w.WriteMap(7)
	c.w.WriteBulkString("server")
	c.w.WriteBulkString("redis")
	c.w.WriteBulkString("version")
	c.w.WriteBulkString(RedisVersion)
	c.w.WriteBulkString("proto")
	c.w.WriteInt(int64(c.resp.Load()))
	c.w.WriteBulkString("id")
	c.w.WriteInt(int64(c.id))
	c.w.WriteBulkString("mode")
	c.w.WriteBulkString("cluster")
	c.w.WriteBulkString("role")
	c.w.WriteBulkString("master")
	c.w.WriteBulkString("modules")
	c.w.WriteArray(0)
}

// cmdRESET returns the connection to its initial state, as Redis's
// resetCommand.
func cmdRESET(c *conn, args [][]byte, inExec bool) {
	if c.multi != nil {
		c.discardMulti()
	}
	c.unwatch()
	c.s.pubsub.unsubscribeAll(c)
	c.setProto(2)
	empty := ""
	c.name.Store(&empty)
	c.readonly, c.asking, c.noEvict = false, false, false
	if c.s.cfg.Get("requirepass") != "" {
		c.authed = false
	}
	c.user = "default"
	c.w.WriteSimple("RESET")
}
