package cluster

import (
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/flotilla-db/flotilla/engine"
)

// Config is a node's configuration, with Redis's directive names wherever
// Redis has the setting. It is read from a redis.conf-style file and from
// --name value flags, and changed at run time by CONFIG SET for the
// parameters that allow it. Safe for concurrent use.
type Config struct {
	mu     sync.RWMutex
	values map[string]string // canonical name -> current value, normalised
	file   string            // the config file, for CONFIG REWRITE
	// onChange is called with the lock released after CONFIG SET applied
	// new values, so the server can act on them (limits, encodings...).
	onChange func(names []string)
}

// param describes one configuration directive.
type param struct {
	name    string
	aliases []string
	def     string
	mutable bool
	// norm validates a value and returns its canonical form, or an error
	// worded as Redis words it ("argument must be 'yes' or 'no'").
	norm func(string) (string, error)
}

var params = []*param{
	{name: "port", def: "6379", norm: intRange(0, 65535)},
	{name: "bind", def: "* -::*", norm: normList},
	{name: "protected-mode", def: "yes", mutable: true, norm: normBool},
	{name: "dir", def: ".", norm: normString},
	{name: "requirepass", def: "", mutable: true, norm: normString},
	{name: "maxclients", def: "10000", mutable: true, norm: intRange(1, math.MaxInt32)},
	{name: "timeout", def: "0", mutable: true, norm: intRange(0, math.MaxInt32)},
	{name: "tcp-keepalive", def: "300", mutable: true, norm: intRange(0, math.MaxInt32)},
	{name: "proto-max-bulk-len", def: "536870912", mutable: true, norm: memRange(1024*1024, math.MaxInt64)},
	{name: "client-query-buffer-limit", def: "1073741824", mutable: true, norm: memRange(1024*1024, math.MaxInt64)},
	{name: "loglevel", def: "notice", mutable: true, norm: oneOf("debug", "verbose", "notice", "warning", "nothing")},
	{name: "logfile", def: "", norm: normString},
	{name: "hz", def: "10", mutable: true, norm: intRange(1, 500)},
	{name: "maxmemory", def: "0", mutable: true, norm: memRange(0, math.MaxInt64)},
	{name: "maxmemory-policy", def: "noeviction", mutable: true, norm: oneOf("volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl", "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction")},
	{name: "maxmemory-samples", def: "5", mutable: true, norm: intRange(1, 64)},
	{name: "slowlog-log-slower-than", def: "10000", mutable: true, norm: intRange(-1, math.MaxInt64)},
	{name: "slowlog-max-len", def: "128", mutable: true, norm: intRange(0, math.MaxInt64)},
	{name: "latency-monitor-threshold", def: "0", mutable: true, norm: intRange(0, math.MaxInt64)},
	{name: "hash-max-listpack-entries", aliases: []string{"hash-max-ziplist-entries"}, def: "128", mutable: true, norm: intRange(0, math.MaxInt64)},
	{name: "hash-max-listpack-value", aliases: []string{"hash-max-ziplist-value"}, def: "64", mutable: true, norm: intRange(0, math.MaxInt64)},
	{name: "set-max-intset-entries", def: "512", mutable: true, norm: intRange(0, math.MaxInt64)},
	{name: "zset-max-listpack-entries", aliases: []string{"zset-max-ziplist-entries"}, def: "128", mutable: true, norm: intRange(0, math.MaxInt64)},
	{name: "zset-max-listpack-value", aliases: []string{"zset-max-ziplist-value"}, def: "64", mutable: true, norm: intRange(0, math.MaxInt64)},
	{name: "list-max-listpack-size", aliases: []string{"list-max-ziplist-size"}, def: "-2", mutable: true, norm: intRange(math.MinInt32, math.MaxInt32)},
	{name: "active-expire-effort", def: "1", mutable: true, norm: intRange(1, 10)},
	// io-threads: the threads running the server's code (GOMAXPROCS). 0
	// picks: 1 for a standalone node, as Redis's default (one thread
	// serves every client, and a benchmark client on the same machine
	// keeps a core of its own); every CPU for a cluster node, whose Raft
	// groups, replication and fsyncs run beside the clients.
	{name: "io-threads", def: "0", norm: intRange(0, 128)},
	// Settings Redis tools read; fixed in Flotilla.
	{name: "databases", def: "1", norm: intRange(1, 1)},
	// The cluster: yes runs the node as a member of a Raft-replicated
	// cluster (a one-node cluster by default); no runs a standalone,
	// in-memory node with no replication or persistence.
	{name: "cluster-enabled", def: "yes", norm: oneOf("yes", "no")},
	{name: "cluster-port", def: "0", norm: intRange(0, 65535)},
	{name: "cluster-announce-ip", def: "", norm: normString},
	{name: "node-id", def: "", norm: normNodeID},
	{name: "zone", def: "default", norm: normString},
	{name: "gossip-port", def: "7946", norm: intRange(0, 65535)},
	{name: "metrics-port", def: "9121", norm: intRange(0, 65535)},
	{name: "join", def: "", norm: normFields},
	{name: "bootstrap-expect", def: "1", norm: intRange(1, 1000)},
	{name: "cluster-shards", def: "0", norm: intRange(0, 16384)},
	{name: "cluster-replicas", def: "3", norm: intRange(1, 7)},
	{name: "raft-heartbeat-timeout", def: "250", norm: intRange(10, 60000)},
	{name: "raft-election-timeout", def: "250", norm: intRange(10, 60000)},
	{name: "raft-snapshot-threshold", def: "16384", norm: intRange(16, math.MaxInt32)},
	{name: "read-lease", def: "yes", norm: oneOf("yes", "no")},
	{name: "shutdown-drain", def: "no", mutable: true, norm: normBool},
	{name: "cluster-replace-after", def: "60000", mutable: true, norm: intRange(0, math.MaxInt32)},
	{name: "daemonize", def: "no", norm: oneOf("no")},
	{name: "appendonly", def: "no", norm: oneOf("no")},
	{name: "save", def: "", norm: normString},
}

var paramsByName = func() map[string]*param {
	m := map[string]*param{}
	for _, p := range params {
		m[p.name] = p
		for _, a := range p.aliases {
			m[a] = p
		}
	}
	return m
}()

// NewConfig returns the default configuration.
func NewConfig() *Config {
	c := &Config{values: map[string]string{}}
	for _, p := range params {
		c.values[p.name] = p.def
	}
	return c
}

// ConfigError is a configuration problem found at start-up; it names the
// directive and, for a file, the line.
type ConfigError struct {
	File      string
	Line      int
	Text      string
	Directive string
	Msg       string
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString("*** FATAL CONFIG FILE ERROR ***\n")
	if e.File != "" {
		fmt.Fprintf(&b, "Reading the configuration file %s, at line %d\n", e.File, e.Line)
	} else {
		b.WriteString("Reading the command line arguments\n")
	}
	fmt.Fprintf(&b, ">>> '%s'\n", e.Text)
	fmt.Fprintf(&b, "%s: %s", e.Directive, e.Msg)
	return b.String()
}

// Load reads the command line as Redis does: an optional config file path
// first, then "--name value ..." directives that override the file.
func Load(args []string) (*Config, error) {
	c := NewConfig()
	if len(args) > 0 && !strings.HasPrefix(args[0], "--") {
		c.file = args[0]
		data, err := os.ReadFile(args[0])
		if err != nil {
			return nil, fmt.Errorf("fatal error, can't open config file '%s': %w", args[0], err)
		}
		if err := c.loadText(string(data), args[0]); err != nil {
			return nil, err
		}
		args = args[1:]
	}
	// Flags: every "--name" starts a directive; the following words are its
	// arguments.
	var lines []string
	for _, a := range args {
		if strings.HasPrefix(a, "--") {
			lines = append(lines, strings.TrimPrefix(a, "--"))
			continue
		}
		if len(lines) == 0 {
			return nil, &ConfigError{Text: a, Directive: a, Msg: "arguments must start with --name"}
		}
		lines[len(lines)-1] += " " + quoteArg(a)
	}
	for _, l := range lines {
		if err := c.applyLine(l, "", 0); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func quoteArg(a string) string {
	if a == "" || strings.ContainsAny(a, " \"'\\\t") {
		return strconv.Quote(a)
	}
	return a
}

func (c *Config) loadText(text, file string) error {
	for i, line := range strings.Split(text, "\n") {
		if err := c.applyLine(line, file, i+1); err != nil {
			return err
		}
	}
	return nil
}

func (c *Config) applyLine(line, file string, n int) error {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' {
		return nil
	}
	argv, err := splitArgs(line)
	if err != nil {
		return &ConfigError{File: file, Line: n, Text: line, Directive: "", Msg: "Unbalanced quotes in configuration line"}
	}
	if len(argv) == 0 {
		return nil
	}
	name := strings.ToLower(argv[0])
	if name == "include" && len(argv) == 2 {
		data, err := os.ReadFile(argv[1])
		if err != nil {
			return &ConfigError{File: file, Line: n, Text: line, Directive: name, Msg: err.Error()}
		}
		return c.loadText(string(data), argv[1])
	}
	p := paramsByName[name]
	if p == nil {
		return &ConfigError{File: file, Line: n, Text: line, Directive: name, Msg: "Bad directive or wrong number of arguments"}
	}
	val := strings.Join(argv[1:], " ")
	if p.name != "bind" && p.name != "save" && len(argv) != 2 {
		return &ConfigError{File: file, Line: n, Text: line, Directive: name, Msg: "wrong number of arguments"}
	}
	v, err := p.norm(val)
	if err != nil {
		return &ConfigError{File: file, Line: n, Text: line, Directive: name, Msg: err.Error()}
	}
	c.values[p.name] = v
	return nil
}

// splitArgs splits a config line as Redis's sdssplitargs.
func splitArgs(line string) ([]string, error) {
	var out []string
	i := 0
	for {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		if i >= len(line) {
			return out, nil
		}
		var cur strings.Builder
		switch line[i] {
		case '"':
			i++
			for {
				if i >= len(line) {
					return nil, errors.New("unbalanced quotes")
				}
				ch := line[i]
				if ch == '\\' && i+1 < len(line) {
					i++
					switch line[i] {
					case 'n':
						cur.WriteByte('\n')
					case 'r':
						cur.WriteByte('\r')
					case 't':
						cur.WriteByte('\t')
					case 'b':
						cur.WriteByte('\b')
					case 'a':
						cur.WriteByte('\a')
					case 'x':
						if i+2 < len(line) {
							if v, err := strconv.ParseUint(line[i+1:i+3], 16, 8); err == nil {
								cur.WriteByte(byte(v))
								i += 2
								break
							}
						}
						cur.WriteByte('x')
					default:
						cur.WriteByte(line[i])
					}
					i++
					continue
				}
				if ch == '"' {
					i++
					if i < len(line) && line[i] != ' ' && line[i] != '\t' {
						return nil, errors.New("unbalanced quotes")
					}
					break
				}
				cur.WriteByte(ch)
				i++
			}
		case '\'':
			i++
			for {
				if i >= len(line) {
					return nil, errors.New("unbalanced quotes")
				}
				if line[i] == '\\' && i+1 < len(line) && line[i+1] == '\'' {
					cur.WriteByte('\'')
					i += 2
					continue
				}
				if line[i] == '\'' {
					i++
					if i < len(line) && line[i] != ' ' && line[i] != '\t' {
						return nil, errors.New("unbalanced quotes")
					}
					break
				}
				cur.WriteByte(line[i])
				i++
			}
		default:
			for i < len(line) && line[i] != ' ' && line[i] != '\t' {
				cur.WriteByte(line[i])
				i++
			}
		}
		out = append(out, cur.String())
	}
}

// Get returns the value of a parameter by canonical name or alias.
func (c *Config) Get(name string) string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if p := paramsByName[name]; p != nil {
		return c.values[p.name]
	}
	return ""
}

// Int returns a numeric parameter.
func (c *Config) Int(name string) int64 {
	v, _ := strconv.ParseInt(c.Get(name), 10, 64)
	return v
}

// Bool returns a yes/no parameter.
func (c *Config) Bool(name string) bool { return c.Get(name) == "yes" }

// File returns the path of the config file, if any.
func (c *Config) File() string { return c.file }

// Match returns name/value pairs of every parameter (and alias) matching any
// of the glob patterns, as CONFIG GET does in Redis 7.
func (c *Config) Match(patterns []string) [][2]string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	seen := map[string]bool{}
	var out [][2]string
	add := func(name, canonical string) {
		if !seen[name] {
			seen[name] = true
			out = append(out, [2]string{name, c.values[canonical]})
		}
	}
	for _, pat := range patterns {
		lp := strings.ToLower(pat)
		if p := paramsByName[lp]; p != nil && !strings.ContainsAny(lp, "*?[") {
			add(lp, p.name)
			continue
		}
		for _, p := range params {
			if engine.GlobMatch(lp, p.name, true) {
				add(p.name, p.name)
			}
			for _, a := range p.aliases {
				if engine.GlobMatch(lp, a, true) {
					add(a, p.name)
				}
			}
		}
	}
	return out
}

// SetError is a CONFIG SET failure, worded as Redis 7.0 words it.
type SetError struct{ Msg string }

func (e *SetError) Error() string { return e.Msg }

// Set applies name/value pairs atomically: all of them or none, as CONFIG
// SET does in Redis 7.
func (c *Config) Set(pairs [][2]string) error {
	c.mu.Lock()
	next := make(map[string]string, len(pairs))
	var names []string
	for _, kv := range pairs {
		p := paramsByName[strings.ToLower(kv[0])]
		if p == nil {
			c.mu.Unlock()
			return &SetError{"ERR Unknown option or number of arguments for CONFIG SET - '" + kv[0] + "'"}
		}
		if _, dup := next[p.name]; dup {
			c.mu.Unlock()
			return &SetError{"ERR CONFIG SET failed (possibly related to argument '" + kv[0] + "') - duplicate parameter"}
		}
		if !p.mutable {
			c.mu.Unlock()
			return &SetError{"ERR CONFIG SET failed (possibly related to argument '" + kv[0] + "') - can't set immutable config"}
		}
		v, err := p.norm(kv[1])
		if err != nil {
			c.mu.Unlock()
			return &SetError{"ERR CONFIG SET failed (possibly related to argument '" + kv[0] + "') - " + err.Error()}
		}
		next[p.name] = v
		names = append(names, p.name)
	}
	for k, v := range next {
		c.values[k] = v
	}
	fn := c.onChange
	c.mu.Unlock()
	if fn != nil {
		fn(names)
	}
	return nil
}

// Rewrite writes the current values back to the config file, keeping its
// comments and the order of its lines (CONFIG REWRITE).
func (c *Config) Rewrite() error {
	if c.file == "" {
		return errors.New("ERR The server is running without a config file")
	}
	data, err := os.ReadFile(c.file)
	if err != nil {
		return fmt.Errorf("ERR Rewriting config file: %v", err)
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	written := map[string]bool{}
	var out []string
	for _, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		t := strings.TrimSpace(line)
		argv, err := splitArgs(t)
		if t == "" || t[0] == '#' || err != nil || len(argv) == 0 {
			out = append(out, line)
			continue
		}
		p := paramsByName[strings.ToLower(argv[0])]
		if p == nil || written[p.name] {
			if p == nil {
				out = append(out, line)
			}
			continue
		}
		written[p.name] = true
		out = append(out, p.name+" "+formatValue(p, c.values[p.name]))
	}
	for _, p := range params {
		if !written[p.name] && c.values[p.name] != p.def {
			out = append(out, p.name+" "+formatValue(p, c.values[p.name]))
		}
	}
	tmp := c.file + ".tmp"
	if err := os.WriteFile(tmp, []byte(strings.Join(out, "\n")+"\n"), 0o644); err != nil {
		return fmt.Errorf("ERR Rewriting config file: %v", err)
	}
	if err := os.Rename(tmp, c.file); err != nil {
		return fmt.Errorf("ERR Rewriting config file: %v", err)
	}
	return nil
}

func formatValue(p *param, v string) string {
	if p.name == "bind" || p.name == "save" {
		if v == "" {
			return `""`
		}
		return v
	}
	return quoteArg(v)
}

// EngineConfig returns the settings the engine encodes values by.
func (c *Config) EngineConfig() engine.Config {
	return engine.Config{
		HashMaxListpackEntries: int(c.Int("hash-max-listpack-entries")),
		HashMaxListpackValue:   int(c.Int("hash-max-listpack-value")),
		SetMaxIntsetEntries:    int(c.Int("set-max-intset-entries")),
		ZSetMaxListpackEntries: int(c.Int("zset-max-listpack-entries")),
		ZSetMaxListpackValue:   int(c.Int("zset-max-listpack-value")),
		ListMaxListpackSize:    int(c.Int("list-max-listpack-size")),
		ProtoMaxBulkLen:        c.Int("proto-max-bulk-len"),
	}
}

// Validators, with Redis's wording.

func intRange(lo, hi int64) func(string) (string, error) {
	return func(s string) (string, error) {
		v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return "", errors.New("argument couldn't be parsed into an integer")
		}
		if v < lo || v > hi {
			return "", fmt.Errorf("argument must be between %d and %d inclusive", lo, hi)
		}
		return strconv.FormatInt(v, 10), nil
	}
}

func memRange(lo, hi int64) func(string) (string, error) {
	return func(s string) (string, error) {
		v, ok := parseMemory(s)
		if !ok {
			return "", errors.New("argument must be a memory value")
		}
		if v < lo || v > hi {
			return "", fmt.Errorf("argument must be between %d and %d inclusive", lo, hi)
		}
		return strconv.FormatInt(v, 10), nil
	}
}

// parseMemory parses "1gb", "512mb", "100k" as Redis's memtoull: k/m/g are
// powers of 1000, kb/mb/gb powers of 1024, case-insensitive.
func parseMemory(s string) (int64, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	mul := int64(1)
	for _, u := range []struct {
		suffix string
		mul    int64
	}{{"kb", 1 << 10}, {"mb", 1 << 20}, {"gb", 1 << 30}, {"k", 1000}, {"m", 1000 * 1000}, {"g", 1000 * 1000 * 1000}, {"b", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mul = strings.TrimSuffix(s, u.suffix), u.mul
			break
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 || (mul > 1 && v > math.MaxInt64/mul) {
		return 0, false
	}
	return v * mul, true
}

func normBool(s string) (string, error) {
	switch strings.ToLower(s) {
	case "yes":
		return "yes", nil
	case "no":
		return "no", nil
	}
	return "", errors.New("argument must be 'yes' or 'no'")
}

func oneOf(vals ...string) func(string) (string, error) {
	return func(s string) (string, error) {
		ls := strings.ToLower(s)
		if slices.Contains(vals, ls) {
			return ls, nil
		}
		return "", errors.New("argument(s) must be one of the following: " + strings.Join(vals, ", "))
	}
}

func normString(s string) (string, error) { return s, nil }

func normList(s string) (string, error) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return "", errors.New("Too many bind addresses specified")
	}
	return strings.Join(f, " "), nil
}

func normFields(s string) (string, error) { return strings.Join(strings.Fields(s), " "), nil }

// normNodeID accepts a node ID as Redis Cluster spells them: 40 lowercase
// hex digits.
func normNodeID(s string) (string, error) {
	if s == "" {
		return s, nil
	}
	if len(s) != 40 {
		return "", errors.New("node id must be 40 hexadecimal characters")
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "", errors.New("node id must be 40 hexadecimal characters")
		}
	}
	return s, nil
}
