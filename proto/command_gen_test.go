package proto

// TestGenerateCommandTable regenerates commands.json from a real Redis 7.0
// (go test ./proto -run TestGenerateCommandTable -regen). It asks the
// server for COMMAND INFO and COMMAND DOCS of every implemented command in
// RESP3, keeps the implemented subcommands, adds what Redis does not show
// (hidden flags, getkeys procs) and CLUSTER MYSHARDID (7.2), and writes
// the table. Review the diff before committing it.

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
)

var regen = flag.Bool("regen", false, "regenerate proto/commands.json from redis-server")

// implementedCommands lists the commands Flotilla implements; nil means
// every subcommand Redis 7.0 has.
var implementedCommands = func() map[string][]string {
	m := map[string][]string{}
	for _, group := range []string{
		// strings
		"GET SET SETNX SETEX PSETEX GETSET GETDEL GETEX MGET MSET MSETNX INCR DECR INCRBY DECRBY INCRBYFLOAT APPEND STRLEN GETRANGE SUBSTR SETRANGE SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD BITFIELD_RO LCS",
		// keys
		"DEL UNLINK EXISTS TYPE TOUCH EXPIRE PEXPIRE EXPIREAT PEXPIREAT TTL PTTL EXPIRETIME PEXPIRETIME PERSIST RENAME RENAMENX COPY KEYS SCAN RANDOMKEY DBSIZE FLUSHDB FLUSHALL OBJECT DUMP RESTORE",
		// hashes
		"HSET HSETNX HGET HMGET HMSET HDEL HEXISTS HLEN HGETALL HKEYS HVALS HINCRBY HINCRBYFLOAT HSTRLEN HSCAN HRANDFIELD",
		// lists
		"LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LLEN LRANGE LINDEX LSET LINSERT LREM LTRIM LPOS LMOVE RPOPLPUSH LMPOP BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP",
		// sets
		"SADD SREM SMEMBERS SISMEMBER SMISMEMBER SCARD SPOP SRANDMEMBER SMOVE SINTER SINTERCARD SINTERSTORE SUNION SUNIONSTORE SDIFF SDIFFSTORE SSCAN",
		// sorted sets
		"ZADD ZINCRBY ZSCORE ZMSCORE ZCARD ZCOUNT ZLEXCOUNT ZRANGE ZRANGESTORE ZRANGEBYSCORE ZREVRANGEBYSCORE ZRANGEBYLEX ZREVRANGEBYLEX ZREVRANGE ZRANK ZREVRANK ZREM ZREMRANGEBYRANK ZREMRANGEBYSCORE ZREMRANGEBYLEX ZPOPMIN ZPOPMAX BZPOPMIN BZPOPMAX ZRANDMEMBER ZSCAN ZUNION ZINTER ZDIFF ZUNIONSTORE ZINTERSTORE ZDIFFSTORE ZINTERCARD ZMPOP BZMPOP",
		// transactions
		"MULTI EXEC DISCARD WATCH UNWATCH",
		// pub/sub
		"SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE PUBLISH PUBSUB SSUBSCRIBE SUNSUBSCRIBE SPUBLISH",
		// connection and server
		"PING ECHO HELLO AUTH SELECT QUIT RESET CLIENT INFO TIME LASTSAVE COMMAND CONFIG MEMORY SLOWLOG LATENCY DEBUG ACL SHUTDOWN WAIT",
		// cluster
		"CLUSTER ASKING READONLY READWRITE",
	} {
		for _, name := range strings.Fields(group) {
			m[strings.ToLower(name)] = nil
		}
	}
	m["client"] = strings.Fields("id setname getname list info kill pause unpause no-evict help")
	m["memory"] = strings.Fields("usage stats doctor help")
	m["latency"] = strings.Fields("latest history reset doctor help")
	m["acl"] = strings.Fields("whoami cat users list getuser setuser deluser help")
	m["cluster"] = strings.Fields("info myid slots shards nodes keyslot countkeysinslot getkeysinslot links failover replicas slaves help")
	return m
}()

// addedCommands are commands Flotilla has that Redis 7.0 lacks; they are
// not compared with the oracle. A name without '|' is a top-level command,
// one with '|' a subcommand of a Redis command or of an added one. CLUSTER
// MYSHARDID comes from Redis 7.2 (src/commands/cluster-myshardid.json
// there: arity 2, STALE, NONDETERMINISTIC_OUTPUT, since 7.2.0; ACL category
// @slow as every command that is not @fast). FLOTILLA is Flotilla's own
// administration family (cluster/admin_flotilla.go); its flags and ACL
// categories follow Redis's rules (ADMIN implies @admin and @dangerous,
// every command that is not FAST is @slow).
var addedCommands = map[string]string{
	"cluster|myshardid": `{
		"name": "cluster|myshardid",
		"arity": 2,
		"flags": ["stale"],
		"first_key": 0, "last_key": 0, "step": 0,
		"acl_categories": ["slow"],
		"tips": ["nondeterministic_output"],
		"docs": {
			"summary": "Returns the shard ID of a node.",
			"since": "7.2.0",
			"group": "cluster",
			"complexity": "O(1)"
		}
	}`,
	"flotilla": `{
		"name": "flotilla",
		"arity": -2,
		"flags": [],
		"first_key": 0, "last_key": 0, "step": 0,
		"acl_categories": ["slow"],
		"docs": {
			"summary": "A container for Flotilla cluster administration commands",
			"since": "0.1.0",
			"group": "cluster",
			"complexity": "Depends on subcommand."
		}
	}`,
	"flotilla|status": `{
		"name": "flotilla|status",
		"arity": 2,
		"flags": ["admin", "noscript", "loading", "stale", "no_multi"],
		"first_key": 0, "last_key": 0, "step": 0,
		"acl_categories": ["admin", "slow", "dangerous"],
		"tips": ["nondeterministic_output"],
		"docs": {
			"summary": "Returns, as JSON, this node's view of the cluster: nodes, shards, and the Raft state of the replicas it holds.",
			"since": "0.1.0",
			"group": "cluster",
			"complexity": "O(N) where N is the number of nodes and shards"
		}
	}`,
	"flotilla|failover": `{
		"name": "flotilla|failover",
		"arity": -3,
		"flags": ["admin", "noscript", "no_multi"],
		"first_key": 0, "last_key": 0, "step": 0,
		"acl_categories": ["admin", "slow", "dangerous"],
		"docs": {
			"summary": "Transfers the leadership of a shard to one of its replicas. Sent to the shard's leader.",
			"since": "0.1.0",
			"group": "cluster",
			"complexity": "O(1)",
			"arguments": [
				{"name": "shard-id", "type": "integer"},
				{"name": "node-id", "type": "string", "flags": ["optional"]}
			]
		}
	}`,
	"flotilla|slots": `{
		"name": "flotilla|slots",
		"arity": 5,
		"flags": ["admin", "noscript", "no_multi"],
		"first_key": 0, "last_key": 0, "step": 0,
		"acl_categories": ["admin", "slow", "dangerous"],
		"docs": {
			"summary": "Queues a live move of slot ranges to a shard. Returns the move's ID.",
			"since": "0.1.0",
			"group": "cluster",
			"complexity": "O(N) where N is the number of slots",
			"arguments": [
				{"name": "move", "type": "pure-token", "token": "MOVE"},
				{"name": "ranges", "type": "string"},
				{"name": "shard-id", "type": "integer"}
			]
		}
	}`,
	"flotilla|moves": `{
		"name": "flotilla|moves",
		"arity": 2,
		"flags": ["admin", "noscript", "loading", "stale", "no_multi"],
		"first_key": 0, "last_key": 0, "step": 0,
		"acl_categories": ["admin", "slow", "dangerous"],
		"tips": ["nondeterministic_output"],
		"docs": {
			"summary": "Returns, as JSON, the slot moves this node knows of, with their progress.",
			"since": "0.1.0",
			"group": "cluster",
			"complexity": "O(N) where N is the number of moves"
		}
	}`,
	"flotilla|rebalance": `{
		"name": "flotilla|rebalance",
		"arity": 2,
		"flags": ["admin", "noscript", "no_multi"],
		"first_key": 0, "last_key": 0, "step": 0,
		"acl_categories": ["admin", "slow", "dangerous"],
		"docs": {
			"summary": "Queues the slot moves that even out the shards. Returns how many were queued.",
			"since": "0.1.0",
			"group": "cluster",
			"complexity": "O(N) where N is the number of slots"
		}
	}`,
	"flotilla|node": `{
		"name": "flotilla|node",
		"arity": 4,
		"flags": ["admin", "noscript", "no_multi"],
		"first_key": 0, "last_key": 0, "step": 0,
		"acl_categories": ["admin", "slow", "dangerous"],
		"docs": {
			"summary": "Adds a node to the cluster by its gossip address, or drains and removes one.",
			"since": "0.1.0",
			"group": "cluster",
			"complexity": "O(1)",
			"arguments": [
				{"name": "operation", "type": "oneof", "arguments": [
					{"name": "add", "type": "block", "arguments": [
						{"name": "add", "type": "pure-token", "token": "ADD"},
						{"name": "gossip-address", "type": "string"}
					]},
					{"name": "remove", "type": "block", "arguments": [
						{"name": "remove", "type": "pure-token", "token": "REMOVE"},
						{"name": "node-id", "type": "string"}
					]}
				]}
			]
		}
	}`,
	"flotilla|help": `{
		"name": "flotilla|help",
		"arity": 2,
		"flags": ["loading", "stale"],
		"first_key": 0, "last_key": 0, "step": 0,
		"acl_categories": ["slow"],
		"docs": {
			"summary": "Show helpful text about the different subcommands",
			"since": "0.1.0",
			"group": "cluster",
			"complexity": "O(1)"
		}
	}`,
}

// addedTopLevel returns how many of addedCommands are top-level commands.
func addedTopLevel() int {
	n := 0
	for name := range addedCommands {
		if !strings.Contains(name, "|") {
			n++
		}
	}
	return n
}

// hiddenFlags are the flags COMMAND INFO does not show (may_replicate,
// protected; Redis 7.0's command table, src/commands/*.json).
var hiddenFlags = map[string]Flag{
	"publish":  FlagMayReplicate,
	"spublish": FlagMayReplicate,
	"debug":    FlagProtected,
}

// getKeysProcOf names the getkeys_proc of the implemented commands that
// have one in Redis 7.0 (the get_keys_function of their JSON files).
var getKeysProcOf = map[string]string{
	"set":         "setGetKeys",
	"bitfield":    "bitfieldGetKeys",
	"sintercard":  "sintercardGetKeys",
	"zunion":      "zunionInterDiffGetKeys",
	"zinter":      "zunionInterDiffGetKeys",
	"zdiff":       "zunionInterDiffGetKeys",
	"zintercard":  "zunionInterDiffGetKeys",
	"zunionstore": "zunionInterDiffStoreGetKeys",
	"zinterstore": "zunionInterDiffStoreGetKeys",
	"zdiffstore":  "zunionInterDiffStoreGetKeys",
	"lmpop":       "lmpopGetKeys",
	"blmpop":      "blmpopGetKeys",
	"zmpop":       "zmpopGetKeys",
	"bzmpop":      "bzmpopGetKeys",
}

// isImplementedSub reports whether a subcommand (full name) is in the table.
func isImplementedSub(full string) bool {
	parent, sub, _ := strings.Cut(full, "|")
	subs, ok := implementedCommands[parent]
	if !ok {
		return false
	}
	if subs == nil {
		return true
	}
	for _, s := range subs {
		if s == sub {
			return true
		}
	}
	return false
}

func TestGenerateCommandTable(t *testing.T) {
	if !*regen {
		t.Skip("run with -regen to regenerate commands.json from redis-server")
	}
	r := ctStartRedis(t)
	conn := r.dial(t, 3)
	version := conn.do(t, "HELLO", "3").mapGet("version").Str

	var names []string
	for n := range implementedCommands {
		names = append(names, n)
	}
	sort.Strings(names)
	var cmds []*Command
	for _, name := range names {
		info := conn.do(t, "COMMAND", "INFO", name)
		if len(info.Elems) != 1 || info.Elems[0].Kind != '*' {
			t.Fatalf("COMMAND INFO %s: %s", name, info)
		}
		c, err := commandFromInfo(info.Elems[0])
		if err != nil {
			t.Fatalf("COMMAND INFO %s: %v", name, err)
		}
		docs := conn.do(t, "COMMAND", "DOCS", name)
		if docs.Kind != '%' || len(docs.Elems) != 2 || docs.Elems[0].Str != name {
			t.Fatalf("COMMAND DOCS %s: %s", name, docs)
		}
		if err := docsInto(c, docs.Elems[1]); err != nil {
			t.Fatalf("COMMAND DOCS %s: %v", name, err)
		}
		// Keep the implemented subcommands only.
		if want := implementedCommands[name]; want != nil {
			var keep []*Command
			for _, s := range c.Subcommands {
				if isImplementedSub(s.Name) {
					keep = append(keep, s)
				}
			}
			if len(keep) != len(want) {
				t.Fatalf("%s: found %d of the subcommands %v", name, len(keep), want)
			}
			c.Subcommands = keep
		}
		cmds = append(cmds, c)
	}
	// Added top-level commands first, so that added subcommands find
	// their parent whatever the map's order.
	var added []string
	for full := range addedCommands {
		added = append(added, full)
	}
	sort.Slice(added, func(i, j int) bool {
		ti, tj := !strings.Contains(added[i], "|"), !strings.Contains(added[j], "|")
		if ti != tj {
			return ti
		}
		return added[i] < added[j]
	})
	for _, full := range added {
		var c Command
		if err := json.Unmarshal([]byte(addedCommands[full]), &c); err != nil {
			t.Fatalf("%s: %v", full, err)
		}
		parent, _, isSub := strings.Cut(full, "|")
		if !isSub {
			cmds = append(cmds, &c)
			continue
		}
		found := false
		for _, p := range cmds {
			if p.Name == parent {
				p.Subcommands = append(p.Subcommands, &c)
				found = true
			}
		}
		if !found {
			t.Fatalf("%s: no parent command %s", full, parent)
		}
	}
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].Name < cmds[j].Name })
	var walk func([]*Command)
	walk = func(cs []*Command) {
		for _, c := range cs {
			sort.Slice(c.Subcommands, func(i, j int) bool { return c.Subcommands[i].Name < c.Subcommands[j].Name })
			c.Flags |= hiddenFlags[c.Name]
			c.GetKeysProc = getKeysProcOf[c.Name]
			walk(c.Subcommands)
		}
	}
	walk(cmds)

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(commandTable{RedisVersion: version, Commands: cmds}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("commands.json", buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote commands.json: %d commands from Redis %s", len(cmds), version)
}

// commandFromInfo builds a Command from one RESP3 COMMAND INFO entry.
func commandFromInfo(v *ctValue) (*Command, error) {
	if len(v.Elems) != 10 {
		return nil, fmt.Errorf("%d fields", len(v.Elems))
	}
	e := v.Elems
	c := &Command{
		Name:     e[0].Str,
		Arity:    int(e[1].Int),
		FirstKey: int(e[3].Int),
		LastKey:  int(e[4].Int),
		Step:     int(e[5].Int),
	}
	for _, f := range e[2].Elems {
		bit, ok := bitByName(flagNames, f.Str)
		if !ok {
			return nil, fmt.Errorf("unknown flag %q", f.Str)
		}
		c.Flags |= bit
	}
	for _, f := range e[6].Elems {
		bit, ok := bitByName(aclCategoryNames, strings.TrimPrefix(f.Str, "@"))
		if !ok {
			return nil, fmt.Errorf("unknown ACL category %q", f.Str)
		}
		c.ACLCategories |= bit
	}
	for _, tip := range e[7].Elems {
		c.Tips = append(c.Tips, tip.Str)
	}
	for _, ks := range e[8].Elems {
		spec, err := keySpecFromInfo(ks)
		if err != nil {
			return nil, fmt.Errorf("key spec: %v", err)
		}
		c.KeySpecs = append(c.KeySpecs, spec)
	}
	for _, s := range e[9].Elems {
		sub, err := commandFromInfo(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", s.Elems[0].Str, err)
		}
		c.Subcommands = append(c.Subcommands, sub)
	}
	return c, nil
}

func bitByName[T ~uint32](names []flagName[T], name string) (T, bool) {
	for _, n := range names {
		if n.name == name {
			return n.bit, true
		}
	}
	return 0, false
}

// ctMapFields walks a RESP3 map, calling f for each key; unknown keys are
// errors so that a field Redis adds is not dropped silently.
func ctMapFields(v *ctValue, f func(key string, val *ctValue) error) error {
	if v.Kind != '%' {
		return fmt.Errorf("not a map: %s", v)
	}
	for i := 0; i < len(v.Elems); i += 2 {
		if err := f(v.Elems[i].Str, v.Elems[i+1]); err != nil {
			return err
		}
	}
	return nil
}

func keySpecFromInfo(v *ctValue) (KeySpec, error) {
	var ks KeySpec
	err := ctMapFields(v, func(k string, val *ctValue) error {
		switch k {
		case "notes":
			ks.Notes = val.Str
		case "flags":
			for _, f := range val.Elems {
				bit, ok := bitByName(keyFlagNames, f.Str)
				if !ok {
					return fmt.Errorf("unknown key flag %q", f.Str)
				}
				ks.Flags |= bit
			}
		case "begin_search":
			return ctMapFields(val, func(k string, val *ctValue) error {
				switch k {
				case "type":
					ks.BeginSearch.Type = val.Str
				case "spec":
					return ctMapFields(val, func(k string, val *ctValue) error {
						switch k {
						case "index":
							ks.BeginSearch.Index = int(val.Int)
						case "keyword":
							ks.BeginSearch.Keyword = val.Str
						case "startfrom":
							ks.BeginSearch.StartFrom = int(val.Int)
						default:
							return fmt.Errorf("begin_search spec field %q", k)
						}
						return nil
					})
				default:
					return fmt.Errorf("begin_search field %q", k)
				}
				return nil
			})
		case "find_keys":
			return ctMapFields(val, func(k string, val *ctValue) error {
				switch k {
				case "type":
					ks.FindKeys.Type = val.Str
				case "spec":
					return ctMapFields(val, func(k string, val *ctValue) error {
						switch k {
						case "lastkey":
							ks.FindKeys.LastKey = int(val.Int)
						case "keystep":
							ks.FindKeys.KeyStep = int(val.Int)
						case "limit":
							ks.FindKeys.Limit = int(val.Int)
						case "keynumidx":
							ks.FindKeys.KeyNumIdx = int(val.Int)
						case "firstkey":
							ks.FindKeys.FirstKey = int(val.Int)
						default:
							return fmt.Errorf("find_keys spec field %q", k)
						}
						return nil
					})
				default:
					return fmt.Errorf("find_keys field %q", k)
				}
				return nil
			})
		default:
			return fmt.Errorf("key spec field %q", k)
		}
		return nil
	})
	return ks, err
}

// docsInto fills c's documentation (and its subcommands') from a RESP3
// COMMAND DOCS entry.
func docsInto(c *Command, v *ctValue) error {
	d := &c.Docs
	return ctMapFields(v, func(k string, val *ctValue) error {
		switch k {
		case "summary":
			d.Summary = val.Str
		case "since":
			d.Since = val.Str
		case "group":
			d.Group = val.Str
		case "complexity":
			d.Complexity = val.Str
		case "doc_flags":
			if len(val.Elems) == 0 {
				return fmt.Errorf("empty doc_flags")
			}
			for _, f := range val.Elems {
				d.DocFlags = append(d.DocFlags, f.Str)
			}
		case "deprecated_since":
			d.DeprecatedSince = val.Str
		case "replaced_by":
			d.ReplacedBy = val.Str
		case "history":
			if len(val.Elems) == 0 {
				return fmt.Errorf("empty history")
			}
			for _, h := range val.Elems {
				if len(h.Elems) != 2 {
					return fmt.Errorf("history entry %s", h)
				}
				d.History = append(d.History, [2]string{h.Elems[0].Str, h.Elems[1].Str})
			}
		case "arguments":
			if len(val.Elems) == 0 {
				return fmt.Errorf("empty arguments")
			}
			args, err := argsFromDocs(val)
			if err != nil {
				return err
			}
			d.Arguments = args
		case "subcommands":
			for i := 0; i < len(val.Elems); i += 2 {
				name := val.Elems[i].Str
				var sub *Command
				for _, s := range c.Subcommands {
					if s.Name == name {
						sub = s
					}
				}
				if sub == nil {
					return fmt.Errorf("docs for unknown subcommand %q", name)
				}
				if err := docsInto(sub, val.Elems[i+1]); err != nil {
					return fmt.Errorf("%s: %v", name, err)
				}
			}
		default:
			return fmt.Errorf("docs field %q", k)
		}
		return nil
	})
}

func argsFromDocs(v *ctValue) ([]*Arg, error) {
	var out []*Arg
	for _, av := range v.Elems {
		a := &Arg{}
		err := ctMapFields(av, func(k string, val *ctValue) error {
			switch k {
			case "name":
				a.Name = val.Str
			case "type":
				a.Type = val.Str
			case "key_spec_index":
				n := int(val.Int)
				a.KeySpecIndex = &n
			case "token":
				a.Token = val.Str
			case "summary":
				a.Summary = val.Str
			case "since":
				a.Since = val.Str
			case "deprecated_since":
				a.DeprecatedSince = val.Str
			case "flags":
				if len(val.Elems) == 0 {
					return fmt.Errorf("empty argument flags")
				}
				for _, f := range val.Elems {
					a.Flags = append(a.Flags, f.Str)
				}
			case "arguments":
				sub, err := argsFromDocs(val)
				if err != nil {
					return err
				}
				a.Arguments = sub
			default:
				return fmt.Errorf("argument field %q", k)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}
