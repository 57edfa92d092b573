package cluster

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
	"testing"

	"github.com/flotilla-db/flotilla/proto"
)

func TestACLCommands(t *testing.T) {
	s := startServer(t)
	r := dialRaw(t, s)
	runCases(t, r, []cmdCase{
		{[]string{"ACL", "WHOAMI"}, `"default"`},
		{[]string{"ACL", "USERS"}, `["default"]`},
		{[]string{"ACL", "LIST"}, `["user default on nopass ~* &* +@all"]`},
		{[]string{"ACL", "GETUSER", "default"}, `["flags" ["on" "nopass"] "passwords" [] "commands" "+@all" "keys" "~*" "channels" "&*" "selectors" []]`},
		{[]string{"ACL", "GETUSER", "nobody"}, "(nil)"},
		{[]string{"ACL", "GETUSER", "DEFAULT"}, "(nil)"},
		{[]string{"ACL", "CAT"}, `["keyspace" "read" "write" "set" "sortedset" "list" "hash" "string" "bitmap" "hyperloglog" "geo" "stream" "pubsub" "admin" "fast" "slow" "blocking" "dangerous" "connection" "transaction" "scripting"]`},
		{[]string{"ACL", "CAT", "nope"}, "-ERR Unknown category 'nope'"},
		{[]string{"ACL", "CAT", "a", "b"}, "-ERR unknown subcommand or wrong number of arguments for 'CAT'. Try ACL HELP."},
		{[]string{"ACL", "SETUSER", "bob", "on"}, "-ERR ACL users are not supported yet"},
		{[]string{"ACL", "DELUSER", "bob"}, ":0"},
		{[]string{"ACL", "DELUSER", "bob", "default"}, "-ERR The 'default' user cannot be removed"},
		{[]string{"ACL", "DRYRUN", "default", "get", "k"}, "-ERR unknown subcommand 'DRYRUN'. Try ACL HELP."},
		{[]string{"ACL", "GETUSER"}, "-ERR wrong number of arguments for 'acl|getuser' command"},
		{[]string{"ACL"}, "-ERR wrong number of arguments for 'acl' command"},
	})
	// ACL CAT category: the commands (and subcommands) of the table in it.
	for _, cat := range []string{"keyspace", "SLOW", "dangerous", "connection"} {
		got := r.do("ACL", "CAT", cat)
		bit := proto.ACLCategoryByName(cat)
		var want []string
		for _, c := range proto.AllWithSubcommands() {
			if c.ACLCategories&bit != 0 {
				want = append(want, `"`+c.Name+`"`)
			}
		}
		names := strings.Fields(strings.Trim(got, "[]"))
		if len(names) != len(want) || len(want) == 0 {
			t.Errorf("ACL CAT %s: %d names, want %d: %s", cat, len(names), len(want), got)
		}
		seen := map[string]bool{}
		for _, n := range names {
			seen[n] = true
		}
		for _, w := range want {
			if !seen[w] {
				t.Errorf("ACL CAT %s lacks %s", cat, w)
			}
		}
	}
	if got := r.do("ACL", "CAT", "connection"); !strings.Contains(got, `"client|id"`) || !strings.Contains(got, `"ping"`) {
		t.Errorf("ACL CAT connection = %s", got)
	}
	r.do("HELLO", "3")
	runCases(t, r, []cmdCase{
		{[]string{"ACL", "GETUSER", "default"}, `{"flags": ~["on" "nopass"], "passwords": [], "commands": "+@all", "keys": "~*", "channels": "&*", "selectors": []}`},
		{[]string{"ACL", "GETUSER", "nobody"}, "(nil)"},
	})
}

func TestACLWithPassword(t *testing.T) {
	s := startServer(t, "requirepass", "secret")
	r := dialRaw(t, s)
	runCases(t, r, []cmdCase{
		{[]string{"ACL", "WHOAMI"}, "-NOAUTH Authentication required."},
		{[]string{"AUTH", "secret"}, "+OK"},
	})
	sum := sha256.Sum256([]byte("secret"))
	h := hex.EncodeToString(sum[:])
	runCases(t, r, []cmdCase{
		{[]string{"ACL", "WHOAMI"}, `"default"`},
		{[]string{"ACL", "LIST"}, `["user default on #` + h + ` ~* &* +@all"]`},
		{[]string{"ACL", "GETUSER", "default"}, `["flags" ["on"] "passwords" ["` + h + `"] "commands" "+@all" "keys" "~*" "channels" "&*" "selectors" []]`},
		// CONFIG SET requirepass changes the user.
		{[]string{"CONFIG", "SET", "requirepass", ""}, "+OK"},
		{[]string{"ACL", "LIST"}, `["user default on nopass ~* &* +@all"]`},
	})
}

func TestACLMatchesRedis(t *testing.T) {
	s := startServer(t)
	o := startRedis(t, false)
	f, r := dialRaw(t, s), dialAddr(t, o.addr)
	cmds := [][]string{
		{"ACL", "WHOAMI"},
		{"ACL", "USERS"},
		{"ACL", "LIST"},
		{"ACL", "GETUSER", "default"},
		{"ACL", "GETUSER", "x"},
		{"ACL", "CAT"},
		{"ACL", "CAT", "nope"},
		{"ACL", "CAT", "x", "y"},
		{"ACL", "DELUSER", "nobody"},
		{"ACL", "DELUSER", "default"},
		{"ACL", "NOPE"},
		{"CONFIG", "SET", "requirepass", "pw"},
		{"AUTH", "pw"},
		{"ACL", "LIST"},
		{"ACL", "GETUSER", "default"},
		{"HELLO", "3"},
		{"ACL", "GETUSER", "default"},
		{"ACL", "GETUSER", "x"},
		{"CONFIG", "SET", "requirepass", ""},
		{"ACL", "GETUSER", "default"},
	}
	sameReplies(t, f, r, cmds, func(x string) string {
		x = strings.ReplaceAll(x, `"mode": "cluster"`, `"mode": "standalone"`)
		return regexp.MustCompile(`"id": :\d+`).ReplaceAllString(x, `"id": :N`)
	})
	f.do("HELLO", "2")
	r.do("HELLO", "2")
	checkHelpSubset(t, f.do("ACL", "HELP"), r.do("ACL", "HELP"))
}
