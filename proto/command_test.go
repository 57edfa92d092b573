package proto

import (
	"bytes"
	"fmt"
	"math/rand"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ours runs ServeCOMMAND and returns its reply bytes.
func ours(resp int, args ...string) []byte {
	return oursArgs(resp, ctArgs(args...))
}

func oursArgs(resp int, args [][]byte) []byte {
	w := NewWriter(nil)
	w.SetProto(resp)
	ServeCOMMAND(w, args)
	return append([]byte(nil), w.Bytes()...)
}

// inOracle reports whether a command name (top-level or full subcommand
// name) is one Flotilla implements and Redis 7.0 has.
func inOracle(name string) bool {
	if _, added := addedCommands[name]; added {
		return false
	}
	if !strings.Contains(name, "|") {
		_, ok := implementedCommands[name]
		return ok
	}
	return isImplementedSub(name)
}

// normInfo keeps, in an entry of a COMMAND INFO reply, the subcommands
// compared with the oracle, sorted by name: Redis lists subcommands in the
// order of a hash table seeded at random at start-up.
func normInfo(v *ctValue) {
	if v.Kind != '*' || len(v.Elems) != 10 || v.Elems[9].Kind != '*' {
		return
	}
	subs := v.Elems[9]
	var keep []*ctValue
	for _, s := range subs.Elems {
		if inOracle(s.Elems[0].Str) {
			keep = append(keep, s)
		}
	}
	sort.Slice(keep, func(i, j int) bool { return keep[i].Elems[0].Str < keep[j].Elems[0].Str })
	subs.Elems = keep
}

// normDocs does the same in the docs map of one command.
func normDocs(v *ctValue) {
	for i := 0; i+1 < len(v.Elems); i += 2 {
		if v.Elems[i].Str != "subcommands" {
			continue
		}
		m := v.Elems[i+1]
		type pair struct{ k, v *ctValue }
		var keep []pair
		for j := 0; j+1 < len(m.Elems); j += 2 {
			if inOracle(m.Elems[j].Str) {
				keep = append(keep, pair{m.Elems[j], m.Elems[j+1]})
			}
		}
		sort.Slice(keep, func(a, b int) bool { return keep[a].k.Str < keep[b].k.Str })
		m.Elems = m.Elems[:0]
		for _, p := range keep {
			m.Elems = append(m.Elems, p.k, p.v)
		}
	}
}

func normInfoReply(t *testing.T, raw []byte) []byte {
	v := ctMustParse(t, raw)
	for _, e := range v.Elems {
		normInfo(e)
	}
	return v.encode(nil)
}

func normDocsReply(t *testing.T, raw []byte) []byte {
	v := ctMustParse(t, raw)
	for i := 1; i < len(v.Elems); i += 2 {
		normDocs(v.Elems[i])
	}
	return v.encode(nil)
}

func oracleNames() []string {
	var names []string
	for _, c := range AllWithSubcommands() {
		if inOracle(c.Name) {
			names = append(names, c.Name)
		}
	}
	return names
}

// TestCommandInfoDocsOracle checks COMMAND INFO and COMMAND DOCS of every
// command against Redis 7.0 in RESP2 and RESP3: byte for byte, once the
// subcommands are reduced to the implemented ones and sorted.
func TestCommandInfoDocsOracle(t *testing.T) {
	r := ctStartRedis(t)
	names := oracleNames()
	if len(names) < 200 {
		t.Fatalf("only %d commands", len(names))
	}
	for _, resp := range []int{2, 3} {
		conn := r.dial(t, resp)
		var cmds [][][]byte
		for _, n := range names {
			cmds = append(cmds, ctArgs("COMMAND", "INFO", n), ctArgs("COMMAND", "DOCS", n))
		}
		replies := conn.pipeline(t, cmds)
		for i, n := range names {
			want, got := replies[2*i], ours(resp, "COMMAND", "INFO", n)
			c := ByName(n)
			if len(c.Subcommands) == 0 && !bytes.Equal(got, want) {
				t.Errorf("RESP%d COMMAND INFO %s:\n got %q\nwant %q", resp, n, got, want)
				continue
			}
			if g, w := normInfoReply(t, got), normInfoReply(t, want); !bytes.Equal(g, w) {
				t.Errorf("RESP%d COMMAND INFO %s:\n got %q\nwant %q", resp, n, g, w)
			}
			want, got = replies[2*i+1], ours(resp, "COMMAND", "DOCS", n)
			if len(c.Subcommands) == 0 && !bytes.Equal(got, want) {
				t.Errorf("RESP%d COMMAND DOCS %s:\n got %q\nwant %q", resp, n, got, want)
				continue
			}
			if g, w := normDocsReply(t, got), normDocsReply(t, want); !bytes.Equal(g, w) {
				t.Errorf("RESP%d COMMAND DOCS %s:\n got %q\nwant %q", resp, n, g, w)
			}
		}
	}
}

// TestCommandRepliesOracle compares the other COMMAND replies with Redis's.
func TestCommandRepliesOracle(t *testing.T) {
	r := ctStartRedis(t)
	same := [][]string{
		{"COMMAND", "HELP"},
		{"command", "help"},
		{"COMMAND", "HELP", "x"},
		{"COMMAND", "COUNT", "x"},
		{"COMMAND", "nosuch"},
		{"COMMAND", "LIST", "FILTERBY"},
		{"COMMAND", "LIST", "FILTERBY", "aclcat"},
		{"COMMAND", "LIST", "FILTERBY", "x", "y"},
		{"COMMAND", "LIST", "x"},
		{"COMMAND", "LIST", "FILTERBY", "module", "x"},
		{"COMMAND", "LIST", "FILTERBY", "aclcat", "nosuch"},
		{"COMMAND", "LIST", "FILTERBY", "pattern", "nosuch*"},
		{"COMMAND", "LIST", "FILTERBY", "aclcat", "read", "FILTERBY", "aclcat"},
		{"COMMAND", "INFO", "nosuch"},
		{"COMMAND", "INFO", "get", "nosuch", "GET", "Config|Get", "config|", "|get", "get|x", "a||b", "config|get|x", "CONFIG|NOSUCH"},
		{"COMMAND", "INFO", "get|"},
		{"COMMAND", "INFO", ""},
		{"COMMAND", "DOCS", ""},
		{"COMMAND", "GETKEYS", "", "a"},
		{"COMMAND", "GETKEYS", "get|x", "a"},
		{"COMMAND", "GETKEYS", "CONFIG|GET", "a"},
		{"COMMAND", "DOCS", "nosuch"},
		{"COMMAND", "DOCS", "get", "nosuch", "GET", "Config|Get", "config|", "|get", "get|x", "a||b"},
		{"COMMAND", "DOCS", "nosuch", "nosuch2"},
		{"COMMAND", "GETKEYS"},
		{"COMMAND", "GETKEYSANDFLAGS"},
	}
	for _, resp := range []int{2, 3} {
		conn := r.dial(t, resp)
		for _, args := range same {
			want := conn.doRaw(t, args...)
			got := ours(resp, args...)
			if args[1] == "INFO" || args[1] == "info" {
				got, want = normInfoReply(t, got), normInfoReply(t, want)
			}
			if args[1] == "DOCS" {
				got, want = normDocsReply(t, got), normDocsReply(t, want)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("RESP%d %q:\n got %q\nwant %q", resp, args, got, want)
			}
		}

		// COMMAND COUNT: the implemented commands and the added ones.
		count := ctMustParse(t, ours(resp, "COMMAND", "COUNT"))
		want := len(implementedCommands) + addedTopLevel()
		if count.Kind != ':' || count.Int != int64(want) || Count() != want {
			t.Errorf("COMMAND COUNT = %s, want %d", count, want)
		}

		// COMMAND and COMMAND INFO without names: every command, as
		// COMMAND INFO of each.
		for _, args := range [][]string{{"COMMAND"}, {"COMMAND", "INFO"}} {
			all := ctMustParse(t, ours(resp, args...))
			if len(all.Elems) != Count() {
				t.Fatalf("%q: %d entries", args, len(all.Elems))
			}
			for i, e := range all.Elems {
				c := All()[i]
				one := ctMustParse(t, ours(resp, "COMMAND", "INFO", c.Name))
				if !bytes.Equal(e.encode(nil), one.Elems[0].encode(nil)) {
					t.Errorf("%q: entry of %s differs from COMMAND INFO %s", args, c.Name, c.Name)
				}
			}
		}
		// COMMAND DOCS without names: every command.
		docs := ctMustParse(t, ours(resp, "COMMAND", "DOCS"))
		if len(docs.Elems) != 2*Count() {
			t.Fatalf("COMMAND DOCS: %d entries", len(docs.Elems)/2)
		}
		for i := 0; i < len(docs.Elems); i += 2 {
			name := docs.Elems[i].Str
			one := ctMustParse(t, ours(resp, "COMMAND", "DOCS", name))
			if !bytes.Equal(docs.Elems[i+1].encode(nil), one.Elems[1].encode(nil)) {
				t.Errorf("COMMAND DOCS: entry of %s differs from COMMAND DOCS %s", name, name)
			}
		}

		// COMMAND LIST, with and without filters: the same names as Redis
		// once reduced to the implemented commands.
		filters := [][]string{nil, {"FILTERBY", "pattern", "*"}, {"FILTERBY", "PATTERN", "c*|*"},
			{"filterby", "pattern", "Z*STORE"}, {"FILTERBY", "pattern", "*[gs]et*"},
			{"FILTERBY", "pattern", "cluster|*"}, {"FILTERBY", "pattern", "?et"}}
		for _, cat := range ACLCategoryNames() {
			filters = append(filters, []string{"FILTERBY", "ACLCAT", cat}, []string{"FILTERBY", "aclcat", strings.ToUpper(cat)})
		}
		for _, f := range filters {
			args := append([]string{"COMMAND", "LIST"}, f...)
			want := ctMustParse(t, conn.doRaw(t, args...))
			got := ctMustParse(t, ours(resp, args...))
			var w, g []string
			for _, e := range want.Elems {
				if inOracle(e.Str) {
					w = append(w, e.Str)
				}
			}
			for _, e := range got.Elems {
				if inOracle(e.Str) {
					g = append(g, e.Str)
				}
			}
			sort.Strings(w)
			sort.Strings(g)
			if strings.Join(g, " ") != strings.Join(w, " ") {
				t.Errorf("RESP%d %q:\n got %v\nwant %v", resp, args, g, w)
			}
			if got.Kind != want.Kind {
				t.Errorf("RESP%d %q: reply type %c, want %c", resp, args, got.Kind, want.Kind)
			}
		}
	}
	all := ctMustParse(t, ours(2, "COMMAND", "LIST"))
	if len(all.Elems) != NumCommands() {
		t.Errorf("COMMAND LIST: %d names, want %d", len(all.Elems), NumCommands())
	}
}

// TestLookupErrorsOracle checks Lookup's errors against Redis: unknown
// commands and subcommands, and arity errors (which Redis rejects before
// running the command, so sending them is harmless).
func TestLookupErrorsOracle(t *testing.T) {
	r := ctStartRedis(t)
	long := strings.Repeat("x", 200)
	cases := [][]string{
		{"foo"},
		{"foo", "a", "b"},
		{"FOO", "a"},
		{"foo", ""},
		{"foo", "a\r\nb", "c\nd"},
		{"foo\r\n", "x"},
		{"foo\x00bar", "a\x00b", "c"},
		{long, long},
		{"foo", long[:100], long[:100], "z"},
		{"foo", long[:120], "abcdefghij", "z"},
		{"foo", long[:123], "abcdefghij"},
		{"foo", long[:124], "abcdefghij"},
		{"foo", long[:125], "z"},
		{"foo", long[:126], "z"},
		{"foo", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r", "s", "t", "u", "v", "w", "x", "y", "z", "aa", "bb", "cc", "dd", "ee", "ff", "gg", "hh", "ii", "jj", "kk", "ll", "mm"},
		{"xadd", "s", "*", "f", "v"}, // a Redis command Flotilla lacks: compared for format only below
		{"CONFIG", "nosuch"},
		{"config", "nosuch", "x"},
		{"Config", "NoSuch"},
		{"CONFIG", long},
		{"CONFIG", "a\r\nb"},
		{"CONFIG", "a\x00b"},
		{"config"},
		{"CONFIG", "GET"},
		{"CONFIG", "get"},
		{"CLIENT"},
		{"client", "nosuch"},
		{"OBJECT", "encoding"},
		{"COMMAND", "COUNT", "x"},
		{"GET"},
		{"get", "a", "b"},
		{"SET", "k"},
		{"MSET"},
		{""},
		{"", "a"},
	}
	// Arity errors for every command: one argument too few, and for fixed
	// arities one too many.
	for _, c := range AllWithSubcommands() {
		if !inOracle(c.Name) || c.Name == "quit" {
			continue
		}
		var prefix []string
		if c.Parent != nil {
			prefix = []string{strings.ToUpper(c.Parent.Name), c.SubName()}
		} else {
			prefix = []string{strings.ToUpper(c.Name)}
		}
		n := c.Arity
		if n < 0 {
			n = -n
		}
		if n-1 >= len(prefix) && !(c.IsContainer() && n-1 >= 2) {
			args := append([]string(nil), prefix...)
			for len(args) < n-1 {
				args = append(args, "x")
			}
			cases = append(cases, args)
		}
		if c.Arity > 0 {
			args := append([]string(nil), prefix...)
			for len(args) < n+1 {
				args = append(args, "x")
			}
			cases = append(cases, args)
		}
	}
	for _, resp := range []int{2, 3} {
		conn := r.dial(t, resp)
		var cmds [][][]byte
		for _, c := range cases {
			cmds = append(cmds, ctArgs(c...))
		}
		replies := conn.pipeline(t, cmds)
		checked := 0
		for i, c := range cases {
			cmd, msg := Lookup(ctArgs(c...))
			want := string(replies[i])
			if msg == "" {
				t.Errorf("Lookup(%q) = %s, want an error (Redis: %q)", c, cmd.Name, want)
				continue
			}
			if (cmd != nil) != strings.Contains(msg, "wrong number of arguments") {
				t.Errorf("Lookup(%q) = %v, %q", c, cmd, msg)
			}
			if _, lacks := implementedCommands[strings.ToLower(c[0])]; !lacks && !strings.HasPrefix(want, "-ERR unknown command") {
				// A Redis command Flotilla does not implement.
				if !strings.HasPrefix(msg, "ERR unknown command '") {
					t.Errorf("Lookup(%q) = %q", c, msg)
				}
				continue
			}
			w := NewWriter(nil)
			w.SetProto(resp)
			w.WriteError(msg)
			if got := string(w.Bytes()); got != want {
				t.Errorf("RESP%d Lookup(%q):\n got %q\nwant %q", resp, c, got, want)
			}
			checked++
		}
		if checked < 300 {
			t.Errorf("only %d error cases checked", checked)
		}
	}
}

func TestLookup(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
		err  string
	}{
		{[]string{"get", "k"}, "get", ""},
		{[]string{"GeT", "k"}, "get", ""},
		{[]string{"SET", "k", "v", "EX", "10"}, "set", ""},
		{[]string{"config", "GET", "x"}, "config|get", ""},
		{[]string{"Cluster", "myshardid"}, "cluster|myshardid", ""},
		{[]string{"command"}, "command", ""},
		{[]string{"COMMAND", "docs"}, "command|docs", ""},
		{[]string{"client", "no-evict", "on"}, "client|no-evict", ""},
		{[]string{"client", "tracking", "on"}, "", "ERR unknown subcommand 'tracking'. Try CLIENT HELP."},
		{[]string{"xadd", "s", "*", "f", "v"}, "", "ERR unknown command 'xadd', with args beginning with: 's' '*' 'f' 'v' "},
		{[]string{"get"}, "", "ERR wrong number of arguments for 'get' command"},
		{[]string{"config", "get"}, "", "ERR wrong number of arguments for 'config|get' command"},
		{[]string{"config"}, "", "ERR wrong number of arguments for 'config' command"},
		{nil, "", "ERR unknown command '', with args beginning with: "},
	} {
		c, err := Lookup(ctArgs(tc.args...))
		name := ""
		if c != nil && err == "" {
			name = c.Name
		}
		if name != tc.want || err != tc.err {
			t.Errorf("Lookup(%q) = %q, %q; want %q, %q", tc.args, name, err, tc.want, tc.err)
		}
	}
	for _, args := range [][]string{{"GET", "k"}, {"set", "k", "v"}, {"CONFIG", "GET", "x"}, {"zremrangebyscore", "k", "1", "2"}} {
		argv := ctArgs(args...)
		if n := testing.AllocsPerRun(100, func() { Lookup(argv) }); n != 0 {
			t.Errorf("Lookup(%q) allocates %v times", args, n)
		}
	}
}

func TestTableInvariants(t *testing.T) {
	seen := map[int]bool{}
	for i, c := range AllWithSubcommands() {
		if c.ID != i || seen[c.ID] {
			t.Errorf("%s: ID %d at %d", c.Name, c.ID, i)
		}
		seen[c.ID] = true
		if ByName(c.Name) != c || ByName(strings.ToUpper(c.Name)) != c {
			t.Errorf("ByName(%q) is not the command", c.Name)
		}
		if c.Group == "" {
			t.Errorf("%s: no group", c.Name)
		}
		if c.Parent != nil && c.Parent.Subcommand([]byte(c.SubName())) != c {
			t.Errorf("%s: not found in its parent", c.Name)
		}
		if c.Flags&FlagMovableKeys != 0 && c.GetKeysProc == "" {
			// Fine as long as key specs cover it (keyword/keynum).
			ok := false
			for _, ks := range c.KeySpecs {
				if ks.BeginSearch.Type != "index" || ks.FindKeys.Type != "range" {
					ok = true
				}
			}
			if !ok {
				t.Errorf("%s: movablekeys without keyword/keynum spec or proc", c.Name)
			}
		}
	}
	if NumCommands() != len(seen) {
		t.Errorf("NumCommands %d", NumCommands())
	}
	// Every implemented command and subcommand is in the table.
	for name, subs := range implementedCommands {
		c := ByName(name)
		if c == nil {
			t.Errorf("%s missing", name)
			continue
		}
		for _, s := range subs {
			if c.Subcommand([]byte(s)) == nil {
				t.Errorf("%s|%s missing", name, s)
			}
		}
	}
	if c := ByName("debug"); c.Flags&FlagProtected == 0 {
		t.Errorf("debug is not protected")
	}
	if c := ByName("publish"); c.Flags&FlagMayReplicate == 0 {
		t.Errorf("publish is not may_replicate")
	}
	if ByName("get").Flags != FlagReadonly|FlagFast {
		t.Errorf("get flags %v", ByName("get").Flags.Names())
	}
}

// getKeysCases returns argument lists for COMMAND GETKEYS: random
// invocations built from each command's documented arguments (right and
// wrong), with mutations of their numbers.
func getKeysCases() [][]string {
	rng := rand.New(rand.NewSource(1))
	var cases [][]string
	words := []string{"0", "1", "2", "3", "-1", "2abc", " 2", "+2", "02", "4294967297", "99999999999999999999",
		"x", "GET", "get", "STORE", "LIMIT", "WEIGHTS", "LEFT", "COUNT", "KEYS", ""}
	for _, c := range AllWithSubcommands() {
		if !inOracle(c.Name) {
			continue
		}
		var prefix []string
		if c.Parent != nil {
			prefix = []string{c.Parent.Name, c.SubName()}
		} else {
			prefix = []string{c.Name}
		}
		for i := 0; i < 40; i++ {
			args := append([]string(nil), prefix...)
			args = genArgs(rng, args, c.Docs.Arguments, i%4 == 0)
			switch rng.Intn(6) {
			case 0: // mutate a word
				if len(args) > len(prefix) {
					args[len(prefix)+rng.Intn(len(args)-len(prefix))] = words[rng.Intn(len(words))]
				}
			case 1: // drop the last argument
				if len(args) > len(prefix) {
					args = args[:len(args)-1]
				}
			case 2: // add one
				args = append(args, words[rng.Intn(len(words))])
			}
			cases = append(cases, args)
		}
	}
	// Hand-picked edge cases.
	for _, s := range []string{
		"SET k v", "SET k v GET", "set k v get", "SET k v EX 10 GET", "SET k v gEt", "SET k get", "SET k v GETX",
		"ZUNIONSTORE d 2 a b", "ZUNIONSTORE d 2abc a b", "ZUNIONSTORE d 0 a b", "ZUNIONSTORE d -1 a b", "ZUNIONSTORE d 3 a b",
		"ZUNIONSTORE d 4294967297 a b", "ZUNIONSTORE d 01 a b", "ZUNIONSTORE d +1 a b", "ZUNIONSTORE d ' 1' a b",
		"ZINTERSTORE d 1 a WEIGHTS 2", "ZDIFFSTORE d 2 a b", "ZUNION 2 a b", "ZUNION 2x a b", "ZINTER 1 a", "ZDIFF 3 a b",
		"ZINTERCARD 2 a b", "ZINTERCARD 2z a b LIMIT 1", "SINTERCARD 1 a", "SINTERCARD 1q a b", "SINTERCARD 0 a",
		"LMPOP 2 a b LEFT", "LMPOP 2a a b LEFT", "LMPOP 5 a b LEFT", "BLMPOP 0 2 a b LEFT", "BLMPOP 0 2b a b LEFT",
		"ZMPOP 1 a MIN", "ZMPOP 1x a MIN", "BZMPOP 1 1 a MIN", "BZMPOP 1 1x a MIN",
		"MSET a b c", "MSET a b c d", "MSETNX a b c", "DEL a b c", "BLPOP a b 0", "BRPOPLPUSH a b 0",
		"SPUBLISH ch m", "SSUBSCRIBE a b", "SUNSUBSCRIBE", "PUBLISH ch m", "OBJECT ENCODING k", "MEMORY USAGE k",
		"MEMORY USAGE k SAMPLES 5", "MIGRATE h p k 0 1", "EXISTS a a", "WATCH a b", "RENAME a b", "COPY a b DB 1",
		"GETEX k PERSIST", "CLUSTER COUNTKEYSINSLOT 1", "CLUSTER KEYSLOT k", "DEBUG OBJECT k", "SORT k",
		"CONFIG GET x", "CONFIG", "PING", "GET", "NOSUCH a", "CONFIG NOSUCH a",
	} {
		cases = append(cases, strings.Fields(strings.ReplaceAll(s, "' 1'", "\x01")))
	}
	for _, c := range cases {
		for i := range c {
			if c[i] == "\x01" {
				c[i] = " 1"
			}
		}
	}
	return cases
}

// genArgs appends a random invocation following the documented arguments.
func genArgs(rng *rand.Rand, out []string, args []*Arg, minimal bool) []string {
	for _, a := range args {
		optional, multiple := false, false
		for _, f := range a.Flags {
			optional = optional || f == "optional"
			multiple = multiple || f == "multiple" || f == "multiple_token"
		}
		if optional && (minimal || rng.Intn(2) == 0) {
			continue
		}
		n := 1
		if multiple && !minimal {
			n = 1 + rng.Intn(3)
		}
		for i := 0; i < n; i++ {
			if a.Token != "" && (i == 0 || hasFlag(a, "multiple_token")) {
				out = append(out, a.Token)
			}
			switch a.Type {
			case "key":
				out = append(out, "k"+strconv.Itoa(len(out)))
			case "integer":
				if strings.Contains(a.Name, "numkeys") || a.Name == "count" {
					out = append(out, strconv.Itoa(1+rng.Intn(3)))
				} else {
					out = append(out, strconv.Itoa(rng.Intn(100)))
				}
			case "double":
				out = append(out, "1.5")
			case "unix-time":
				out = append(out, "1700000000")
			case "pattern":
				out = append(out, "*")
			case "pure-token":
			case "oneof":
				out = genArgs(rng, out, []*Arg{a.Arguments[rng.Intn(len(a.Arguments))]}, minimal)
			case "block":
				out = genArgs(rng, out, a.Arguments, minimal)
			default:
				out = append(out, "v"+strconv.Itoa(len(out)))
			}
		}
	}
	return out
}

func hasFlag(a *Arg, f string) bool {
	for _, x := range a.Flags {
		if x == f {
			return true
		}
	}
	return false
}

// TestGetKeysOracle compares COMMAND GETKEYS and GETKEYSANDFLAGS with
// Redis for generated invocations of every command, in RESP2 and RESP3.
func TestGetKeysOracle(t *testing.T) {
	r := ctStartRedis(t)
	cases := getKeysCases()
	for _, resp := range []int{2, 3} {
		conn := r.dial(t, resp)
		var cmds [][][]byte
		for _, c := range cases {
			cmds = append(cmds, ctArgs(append([]string{"COMMAND", "GETKEYS"}, c...)...))
			cmds = append(cmds, ctArgs(append([]string{"COMMAND", "GETKEYSANDFLAGS"}, c...)...))
		}
		replies := conn.pipeline(t, cmds)
		fails := 0
		withKeys := 0
		for i, cmd := range cmds {
			got := oursArgs(resp, cmd)
			want := replies[i]
			if c := ByName(string(cmd[2])); c == nil || (c.IsContainer() && len(cmd) > 3 && c.Subcommand(cmd[3]) == nil) {
				// Not in Flotilla's table (MIGRATE, SORT...).
				want = []byte("-ERR Invalid command specified\r\n")
			}
			if !bytes.Equal(got, want) {
				fails++
				if fails <= 30 {
					t.Errorf("RESP%d %q:\n got %q\nwant %q", resp, cmd, got, want)
				}
			}
			if replies[i][0] != '-' {
				withKeys++
			}
		}
		if fails > 30 {
			t.Errorf("RESP%d: %d GETKEYS mismatches in all", resp, fails)
		}
		if withKeys < len(cmds)/4 {
			t.Errorf("only %d of %d GETKEYS cases found keys", withKeys, len(cmds))
		}
		t.Logf("RESP%d: %d GETKEYS cases, %d with keys", resp, len(cmds), withKeys)
	}
}

func TestKeyIndexes(t *testing.T) {
	for _, tc := range []struct {
		cmd       string
		keys      string
		slotKeys  string
		flagsOfK0 string
	}{
		{"GET k", "1", "1", "RO access"},
		{"SET k v", "1", "1", "OW update"},
		{"SET k v GET", "1", "1", "RW access update"},
		{"MSET a 1 b 2", "1 3", "1 3", "OW update"},
		{"ZUNIONSTORE d 2 a b", "1 3 4", "3 4 1", "OW update"},
		{"ZUNIONSTORE d 2x a b", "3 4 1", "3 4 1", ""},
		{"BLMPOP 0 2 a b LEFT", "3 4", "3 4", "RW access delete"},
		{"SPUBLISH ch m", "", "1", ""},
		{"SSUBSCRIBE a b", "", "1 2", ""},
		{"PING", "", "", ""},
		{"BLPOP a b 0", "1 2", "1 2", "RW access delete"},
	} {
		args := ctArgs(strings.Fields(tc.cmd)...)
		c, err := Lookup(args)
		if c == nil {
			t.Fatalf("%s: %s", tc.cmd, err)
		}
		got := fmt.Sprint(c.KeyIndexes(nil, args))
		if want := "[" + tc.keys + "]"; got != want {
			t.Errorf("%s: KeyIndexes = %s, want %s", tc.cmd, got, want)
		}
		got = fmt.Sprint(c.SlotKeyIndexes(nil, args))
		if want := "[" + tc.slotKeys + "]"; got != want {
			t.Errorf("%s: SlotKeyIndexes = %s, want %s", tc.cmd, got, want)
		}
		if refs := c.KeyRefs(nil, args); len(refs) > 0 {
			if got := strings.Join(refs[0].Flags.Names(), " "); got != tc.flagsOfK0 {
				t.Errorf("%s: flags %q, want %q", tc.cmd, got, tc.flagsOfK0)
			}
		}
	}
	args := ctArgs("MGET", "a", "b", "c")
	c, _ := Lookup(args)
	dst := make([]int, 0, 8)
	if n := testing.AllocsPerRun(100, func() { dst = c.KeyIndexes(dst[:0], args) }); n != 0 {
		t.Errorf("KeyIndexes allocates %v times", n)
	}
}

func TestAtoiString2ll(t *testing.T) {
	for s, want := range map[string]int{"12": 12, " 12": 12, "+3": 3, "-4": -4, "7x": 7, "x": 0, "": 0,
		"4294967297": 1, "99999999999999999999": -1, "-99999999999999999999": 0, "\t\n5": 5} {
		if got := atoi([]byte(s)); got != want {
			t.Errorf("atoi(%q) = %d, want %d", s, got, want)
		}
	}
	for s, want := range map[string]bool{"0": true, "12": true, "-3": true, "01": false, "-0": false, "+1": false,
		" 1": false, "": false, "-": false, "9223372036854775807": true, "9223372036854775808": false,
		"-9223372036854775808": true, "-9223372036854775809": false} {
		if _, ok := string2ll([]byte(s)); ok != want {
			t.Errorf("string2ll(%q) ok = %v, want %v", s, ok, want)
		}
	}
}

func BenchmarkLookup(b *testing.B) {
	for _, args := range [][]string{{"GET", "k"}, {"set", "k", "v"}, {"ZREMRANGEBYSCORE", "k", "1", "2"}, {"CONFIG", "GET", "x"}} {
		argv := ctArgs(args...)
		b.Run(args[0], func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if c, _ := Lookup(argv); c == nil {
					b.Fatal("not found")
				}
			}
		})
	}
}

func BenchmarkKeyIndexes(b *testing.B) {
	args := ctArgs("MSET", "a", "1", "b", "2")
	c, _ := Lookup(args)
	dst := make([]int, 0, 8)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		dst = c.KeyIndexes(dst[:0], args)
	}
}

func TestNameTable(t *testing.T) {
	for pos := 0; pos < 8; pos++ {
		for b := 0; b < 256; b++ {
			x := uint64(0x4142435A5B606162) // "bA`[ZCBA" little-endian mix
			x &^= 0xff << (8 * pos)
			x |= uint64(b) << (8 * pos)
			var want uint64
			for i := 0; i < 8; i++ {
				want |= uint64(asciiLower(byte(x>>(8*i)))) << (8 * i)
			}
			if got := lowerWord(x); got != want {
				t.Fatalf("lowerWord(%#x) = %#x, want %#x", x, got, want)
			}
		}
	}
	rng := rand.New(rand.NewSource(2))
	for _, c := range AllWithSubcommands() {
		for i := 0; i < 5; i++ {
			b := []byte(c.Name)
			for j := range b {
				if rng.Intn(2) == 0 {
					b[j] = strings.ToUpper(string(b[j]))[0]
				}
			}
			if ByName(string(b)) != c {
				t.Errorf("ByName(%q) is not %s", b, c.Name)
			}
			// A byte with the high bit set is not a letter.
			b[0] |= 0x80
			if ByName(string(b)) != nil {
				t.Errorf("ByName(%q) found a command", b)
			}
		}
	}
	for _, s := range []string{"", "g", "ge", "gett", "get\x00", "getx", "set ", "zremrangebyscorex", strings.Repeat("a", 100)} {
		if c := ByName(s); c != nil {
			t.Errorf("ByName(%q) = %s", s, c.Name)
		}
	}
}

// ctKeySlot is the Redis Cluster slot of key (CRC16/XMODEM of the key or
// of its hash tag, modulo 16384).
func ctKeySlot(key string) int {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	var crc uint16
	for i := 0; i < len(key); i++ {
		crc ^= uint16(key[i]) << 8
		for b := 0; b < 8; b++ {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc) & 16383
}

// TestSlotKeysOracle checks SlotKeyIndexes against a Redis in cluster mode
// that serves one slot, the slot of hash tag {a}. Inside MULTI (so that
// nothing runs), each invocation is sent with every non-numeric argument
// tagged {a} but one, tagged {b}: Redis queues the command when that
// argument is not one it hashes, and answers CLUSTERDOWN (it is the first
// key) or CROSSSLOT (a later key) when it is.
func TestSlotKeysOracle(t *testing.T) {
	r := ctStartRedisArgs(t, "--cluster-enabled", "yes", "--cluster-require-full-coverage", "no")
	conn := r.dial(t, 2)
	slotA, slotB := ctKeySlot("a"), ctKeySlot("b")
	if v := conn.do(t, "CLUSTER", "ADDSLOTS", strconv.Itoa(slotA)); v.Str != "OK" {
		t.Fatalf("CLUSTER ADDSLOTS: %s", v)
	}
	for i := 0; ; i++ {
		if strings.Contains(conn.do(t, "CLUSTER", "INFO").Str, "cluster_state:ok") {
			break
		}
		if i == 500 {
			t.Fatal("cluster state not ok")
		}
		time.Sleep(20 * time.Millisecond)
	}
	isNumber := func(s string) bool {
		_, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		return err == nil || s == ""
	}
	type probe struct {
		args []string
		want string // "QUEUED", "CLUSTERDOWN" or "CROSSSLOT"
	}
	var probes []probe
	skip := map[string]bool{"multi": true, "exec": true, "discard": true, "watch": true, "quit": true, "reset": true}
	for _, base := range getKeysCases() {
		c, err := Lookup(ctArgs(base...))
		if err != "" || skip[c.Name] {
			continue
		}
		start := 1
		if c.Parent != nil {
			start = 2
		}
		for j := start; j < len(base); j++ {
			if isNumber(base[j]) {
				continue
			}
			args := append([]string(nil), base...)
			for i := start; i < len(args); i++ {
				switch {
				case i == j:
					args[i] = "{b}" + args[i]
				case !isNumber(args[i]):
					args[i] = "{a}" + args[i]
				}
			}
			want := "QUEUED"
			for n, pos := range c.SlotKeyIndexes(nil, ctArgs(args...)) {
				slot := ctKeySlot(args[pos])
				if slot == slotA {
					continue
				}
				if n == 0 && slot != slotB {
					want = "OTHER" // a numeric key: not predictable here
				} else if n == 0 {
					want = "CLUSTERDOWN"
				} else if want == "QUEUED" {
					want = "CROSSSLOT"
				}
				break
			}
			if want != "OTHER" {
				probes = append(probes, probe{args, want})
			}
		}
	}
	var cmds [][][]byte
	cmds = append(cmds, ctArgs("MULTI"))
	for _, p := range probes {
		cmds = append(cmds, ctArgs(p.args...))
	}
	cmds = append(cmds, ctArgs("DISCARD"))
	replies := conn.pipeline(t, cmds)
	counts := map[string]int{}
	fails := 0
	for i, p := range probes {
		reply := string(replies[i+1])
		got := "OTHER"
		switch {
		case reply == "+QUEUED\r\n":
			got = "QUEUED"
		case strings.HasPrefix(reply, "-CLUSTERDOWN Hash slot not served"):
			got = "CLUSTERDOWN"
		case strings.HasPrefix(reply, "-CROSSSLOT"):
			got = "CROSSSLOT"
		}
		if got == "OTHER" {
			continue // rejected for another reason before the slot check
		}
		counts[got]++
		if got != p.want {
			fails++
			if fails <= 20 {
				t.Errorf("%q: Redis %s, SlotKeyIndexes predicts %s", p.args, got, p.want)
			}
		}
	}
	t.Logf("%d probes: %v", len(probes), counts)
	if counts["QUEUED"] < 1000 || counts["CLUSTERDOWN"] < 1000 || counts["CROSSSLOT"] < 1000 {
		t.Errorf("too few probes of some kind: %v", counts)
	}
}
