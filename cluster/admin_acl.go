package cluster

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/flotilla-db/flotilla/proto"
)

// ACL for the one user Flotilla has: "default", allowed everything, whose
// password is requirepass (none: nopass). ACL SETUSER answers an error until
// ACL users arrive.

func init() {
	serverHandlers["acl|whoami"] = cmdACLWHOAMI
	serverHandlers["acl|users"] = cmdACLUSERS
	serverHandlers["acl|list"] = cmdACLLIST
	serverHandlers["acl|getuser"] = cmdACLGETUSER
	serverHandlers["acl|cat"] = cmdACLCAT
	serverHandlers["acl|setuser"] = cmdACLSETUSER
	serverHandlers["acl|deluser"] = cmdACLDELUSER
	serverHandlers["acl|help"] = cmdACLHELP
}

const defaultUser = "default"

func cmdACLWHOAMI(c *conn, args [][]byte, inExec bool) { c.w.WriteBulkString(c.user) }

func cmdACLUSERS(c *conn, args [][]byte, inExec bool) {
	c.w.WriteArray(1)
	c.w.WriteBulkString(defaultUser)
}

// defaultUserPasswords returns the SHA-256 (hex) of the default user's
// passwords, as ACL shows them: requirepass's, or none.
func (s *Server) defaultUserPasswords() []string {
	pass := s.cfg.Get("requirepass")
	if pass == "" {
		return nil
	}
	sum := sha256.Sum256([]byte(pass))
	return []string{hex.EncodeToString(sum[:])}
}

// cmdACLLIST: the default user's rule in ACL file format.
func cmdACLLIST(c *conn, args [][]byte, inExec bool) {
	rule := "user " + defaultUser + " on"
	pws := c.s.defaultUserPasswords()
	if len(pws) == 0 {
		rule += " nopass"
	}
	for _, h := range pws {
		rule += " #" + h
	}
	rule += " ~* &* +@all"
	c.w.WriteArray(1)
	c.w.WriteBulkString(rule)
}

func cmdACLGETUSER(c *conn, args [][]byte, inExec bool) {
	if string(args[2]) != defaultUser {
		c.w.WriteNull()
		return
	}
	pws := c.s.defaultUserPasswords()
	w := c.w
	w.WriteMap(6)
	w.WriteBulkString("flags")
	if len(pws) == 0 {
		w.WriteSet(2)
		w.WriteBulkString("on")
		w.WriteBulkString("nopass")
	} else {
		w.WriteSet(1)
		w.WriteBulkString("on")
	}
	w.WriteBulkString("passwords")
	w.WriteArray(len(pws))
	for _, h := range pws {
		w.WriteBulkString(h)
	}
	w.WriteBulkString("commands")
	w.WriteBulkString("+@all")
	w.WriteBulkString("keys")
	w.WriteBulkString("~*")
	w.WriteBulkString("channels")
	w.WriteBulkString("&*")
	w.WriteBulkString("selectors")
	w.WriteArray(0)
}

// cmdACLCAT: ACL CAT lists the categories; ACL CAT category the commands
// and subcommands in it (in the command table's order; Redis uses its hash
// table's).
func cmdACLCAT(c *conn, args [][]byte, inExec bool) {
	if len(args) > 3 {
		c.w.WriteError(errSubcommandSyntax(args))
		return
	}
	if len(args) == 2 {
		names := proto.ACLCategoryNames()
		c.w.WriteArray(len(names))
		for _, n := range names {
			c.w.WriteBulkString(n)
		}
		return
	}
	cat := proto.ACLCategoryByName(string(args[2]))
	if cat == 0 {
		c.w.WriteError("ERR Unknown category '" + errorArg(args[2], 128) + "'")
		return
	}
	var names []string
	var walk func(cmds []*proto.Command)
	walk = func(cmds []*proto.Command) {
		for _, cmd := range cmds {
			if cmd.ACLCategories&cat != 0 {
				names = append(names, cmd.Name)
			}
			walk(cmd.Subcommands)
		}
	}
	walk(proto.All())
	c.w.WriteArray(len(names))
	for _, n := range names {
		c.w.WriteBulkString(n)
	}
}

func cmdACLSETUSER(c *conn, args [][]byte, inExec bool) {
	c.w.WriteError("ERR ACL users are not supported yet")
}

// cmdACLDELUSER: the default user cannot be removed, as in Redis; no other
// user exists, so nothing else is deleted.
func cmdACLDELUSER(c *conn, args [][]byte, inExec bool) {
	for _, name := range args[2:] {
		if string(name) == defaultUser {
			c.w.WriteError("ERR The 'default' user cannot be removed")
			return
		}
	}
	c.w.WriteInt(0)
}

func cmdACLHELP(c *conn, args [][]byte, inExec bool) {
	writeHelp(c, "ACL", []string{
		"CAT [<category>]",
		"    List all commands that belong to <category>, or all command categories",
		"    when no category is specified.",
		"DELUSER <username> [<username> ...]",
		"    Delete a list of users.",
		"GETUSER <username>",
		"    Get the user's details.",
		"LIST",
		"    Show users details in config file format.",
		"SETUSER <username> <attribute> [<attribute> ...]",
		"    Create or modify a user with the specified attributes.",
		"USERS",
		"    List all the registered usernames.",
		"WHOAMI",
		"    Return the current connection username.",
	})
}
