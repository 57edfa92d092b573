package proto

// The command table: one entry per command and subcommand Flotilla
// implements, with the metadata Redis 7.0 keeps for it (arity, flags, key
// positions and key specs, ACL categories, tips, documentation). The data is
// generated from a real Redis 7.0.15 into commands.json (see
// TestGenerateCommandTable) and parsed here at init; it drives command
// lookup and arity checks (Lookup), key extraction (KeyRefs, KeyIndexes,
// SlotKeyIndexes) and the COMMAND command family (ServeCOMMAND).

import (
	_ "embed"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

//go:embed commands.json
var commandsJSON []byte

// Flag is a set of command flags (Redis's CMD_* flags).
type Flag uint32

// Command flags, in the order COMMAND INFO lists them.
const (
	FlagWrite Flag = 1 << iota
	FlagReadonly
	FlagDenyOOM
	FlagModule
	FlagAdmin
	FlagPubSub
	FlagNoScript
	FlagBlocking
	FlagLoading
	FlagStale
	FlagSkipMonitor
	FlagSkipSlowlog
	FlagAsking
	FlagFast
	FlagNoAuth
	FlagMayReplicate // hidden from COMMAND INFO, as in Redis
	FlagSentinel     // hidden
	FlagOnlySentinel // hidden
	FlagNoMandatoryKeys
	FlagProtected // hidden
	FlagNoAsyncLoading
	FlagNoMulti
	FlagMovableKeys
	FlagAllowBusy
)

type flagName[T ~uint32] struct {
	bit    T
	name   string
	hidden bool
}

// flagNames is addReplyFlagsForCommand's table: its order is the reply's.
var flagNames = []flagName[Flag]{
	{FlagWrite, "write", false},
	{FlagReadonly, "readonly", false},
	{FlagDenyOOM, "denyoom", false},
	{FlagModule, "module", false},
	{FlagAdmin, "admin", false},
	{FlagPubSub, "pubsub", false},
	{FlagNoScript, "noscript", false},
	{FlagBlocking, "blocking", false},
	{FlagLoading, "loading", false},
	{FlagStale, "stale", false},
	{FlagSkipMonitor, "skip_monitor", false},
	{FlagSkipSlowlog, "skip_slowlog", false},
	{FlagAsking, "asking", false},
	{FlagFast, "fast", false},
	{FlagNoAuth, "no_auth", false},
	{FlagMayReplicate, "may_replicate", true},
	{FlagSentinel, "sentinel", true},
	{FlagOnlySentinel, "only_sentinel", true},
	{FlagNoMandatoryKeys, "no_mandatory_keys", false},
	{FlagProtected, "protected", true},
	{FlagNoAsyncLoading, "no_async_loading", false},
	{FlagNoMulti, "no_multi", false},
	{FlagMovableKeys, "movablekeys", false},
	{FlagAllowBusy, "allow_busy", false},
}

// Names returns the flag names in COMMAND INFO order, hidden ones included.
func (f Flag) Names() []string { return bitNames(f, flagNames, true) }

func (f Flag) MarshalJSON() ([]byte, error) { return json.Marshal(f.Names()) }

func (f *Flag) UnmarshalJSON(b []byte) error { return unmarshalBits(b, f, flagNames, "command flag") }

// ACLCategory is a set of ACL categories (Redis's ACL_CATEGORY_*).
type ACLCategory uint32

// ACL categories, in the order ACL CAT and COMMAND INFO list them.
const (
	ACLKeyspace ACLCategory = 1 << iota
	ACLRead
	ACLWrite
	ACLSet
	ACLSortedSet
	ACLList
	ACLHash
	ACLString
	ACLBitmap
	ACLHyperLogLog
	ACLGeo
	ACLStream
	ACLPubSub
	ACLAdmin
	ACLFast
	ACLSlow
	ACLBlocking
	ACLDangerous
	ACLConnection
	ACLTransaction
	ACLScripting
)

var aclCategoryNames = []flagName[ACLCategory]{
	{ACLKeyspace, "keyspace", false},
	{ACLRead, "read", false},
	{ACLWrite, "write", false},
	{ACLSet, "set", false},
	{ACLSortedSet, "sortedset", false},
	{ACLList, "list", false},
	{ACLHash, "hash", false},
	{ACLString, "string", false},
	{ACLBitmap, "bitmap", false},
	{ACLHyperLogLog, "hyperloglog", false},
	{ACLGeo, "geo", false},
	{ACLStream, "stream", false},
	{ACLPubSub, "pubsub", false},
	{ACLAdmin, "admin", false},
	{ACLFast, "fast", false},
	{ACLSlow, "slow", false},
	{ACLBlocking, "blocking", false},
	{ACLDangerous, "dangerous", false},
	{ACLConnection, "connection", false},
	{ACLTransaction, "transaction", false},
	{ACLScripting, "scripting", false},
}

// ACLCategoryNames returns every ACL category name (without '@') in Redis's
// order, as ACL CAT lists them.
func ACLCategoryNames() []string {
	out := make([]string, len(aclCategoryNames))
	for i, n := range aclCategoryNames {
		out[i] = n.name
	}
	return out
}

// ACLCategoryByName returns the category named name (without '@'),
// case-insensitively, or 0.
func ACLCategoryByName(name string) ACLCategory {
	for _, n := range aclCategoryNames {
		if asciiEqualFold(n.name, name) {
			return n.bit
		}
	}
	return 0
}

// Names returns the category names (without '@') in Redis's order.
func (c ACLCategory) Names() []string { return bitNames(c, aclCategoryNames, true) }

func (c ACLCategory) MarshalJSON() ([]byte, error) { return json.Marshal(c.Names()) }

func (c *ACLCategory) UnmarshalJSON(b []byte) error {
	return unmarshalBits(b, c, aclCategoryNames, "ACL category")
}

// KeyFlag is a set of key-spec flags (Redis's CMD_KEY_*).
type KeyFlag uint32

// Key-spec flags, in the order Redis lists them.
const (
	KeyRO KeyFlag = 1 << iota
	KeyRW
	KeyOW
	KeyRM
	KeyAccess
	KeyUpdate
	KeyInsert
	KeyDelete
	KeyNotKey
	KeyIncomplete
	KeyVariableFlags
)

var keyFlagNames = []flagName[KeyFlag]{
	{KeyRO, "RO", false},
	{KeyRW, "RW", false},
	{KeyOW, "OW", false},
	{KeyRM, "RM", false},
	{KeyAccess, "access", false},
	{KeyUpdate, "update", false},
	{KeyInsert, "insert", false},
	{KeyDelete, "delete", false},
	{KeyNotKey, "not_key", false},
	{KeyIncomplete, "incomplete", false},
	{KeyVariableFlags, "variable_flags", false},
}

// Names returns the key flag names in Redis's order.
func (f KeyFlag) Names() []string { return bitNames(f, keyFlagNames, true) }

func (f KeyFlag) MarshalJSON() ([]byte, error) { return json.Marshal(f.Names()) }

func (f *KeyFlag) UnmarshalJSON(b []byte) error { return unmarshalBits(b, f, keyFlagNames, "key flag") }

func bitNames[T ~uint32](v T, names []flagName[T], hidden bool) []string {
	out := []string{}
	for _, n := range names {
		if v&n.bit != 0 && (hidden || !n.hidden) {
			out = append(out, n.name)
		}
	}
	return out
}

func unmarshalBits[T ~uint32](b []byte, v *T, names []flagName[T], what string) error {
	var ss []string
	if err := json.Unmarshal(b, &ss); err != nil {
		return err
	}
	*v = 0
next:
	for _, s := range ss {
		for _, n := range names {
			if n.name == s {
				*v |= n.bit
				continue next
			}
		}
		return fmt.Errorf("unknown %s %q", what, s)
	}
	return nil
}

// BeginSearch is a key spec's begin_search part: where the search for keys
// starts. Type is "index" (Index), "keyword" (Keyword searched from
// StartFrom; a negative StartFrom searches backwards from the end) or
// "unknown".
type BeginSearch struct {
	Type      string `json:"type"`
	Index     int    `json:"index,omitempty"`
	Keyword   string `json:"keyword,omitempty"`
	StartFrom int    `json:"startfrom,omitempty"`
}

// FindKeys is a key spec's find_keys part. Type is "range" (LastKey relative
// to the begin index, or negative from the end; KeyStep; Limit),
// "keynum" (the number of keys at KeyNumIdx, the first key FirstKey after
// it; KeyStep) or "unknown".
type FindKeys struct {
	Type      string `json:"type"`
	LastKey   int    `json:"lastkey,omitempty"`
	KeyStep   int    `json:"keystep,omitempty"`
	Limit     int    `json:"limit,omitempty"`
	KeyNumIdx int    `json:"keynumidx,omitempty"`
	FirstKey  int    `json:"firstkey,omitempty"`
}

// KeySpec is one Redis 7 key specification.
type KeySpec struct {
	Notes       string      `json:"notes,omitempty"`
	Flags       KeyFlag     `json:"flags"`
	BeginSearch BeginSearch `json:"begin_search"`
	FindKeys    FindKeys    `json:"find_keys"`
}

// Arg documents one argument (COMMAND DOCS).
type Arg struct {
	Name            string   `json:"name"`
	Type            string   `json:"type"`
	KeySpecIndex    *int     `json:"key_spec_index,omitempty"`
	Token           string   `json:"token,omitempty"`
	Summary         string   `json:"summary,omitempty"`
	Since           string   `json:"since,omitempty"`
	DeprecatedSince string   `json:"deprecated_since,omitempty"`
	Flags           []string `json:"flags,omitempty"`
	Arguments       []*Arg   `json:"arguments,omitempty"`
}

// Docs is a command's documentation (COMMAND DOCS).
type Docs struct {
	Summary         string      `json:"summary,omitempty"`
	Since           string      `json:"since,omitempty"`
	Group           string      `json:"group"`
	Complexity      string      `json:"complexity,omitempty"`
	DocFlags        []string    `json:"doc_flags,omitempty"`
	DeprecatedSince string      `json:"deprecated_since,omitempty"`
	ReplacedBy      string      `json:"replaced_by,omitempty"`
	History         [][2]string `json:"history,omitempty"`
	Arguments       []*Arg      `json:"arguments,omitempty"`
}

// Command is one command or subcommand of the table.
type Command struct {
	// Name is the lowercase full name: "get", or "config|get" for a
	// subcommand.
	Name  string `json:"name"`
	Arity int    `json:"arity"` // negative: at least -Arity arguments
	Flags Flag   `json:"flags"`
	// FirstKey, LastKey and Step are the legacy key range COMMAND INFO
	// shows (LastKey negative: from the end).
	FirstKey      int         `json:"first_key"`
	LastKey       int         `json:"last_key"`
	Step          int         `json:"step"`
	ACLCategories ACLCategory `json:"acl_categories"`
	Tips          []string    `json:"tips,omitempty"`
	KeySpecs      []KeySpec   `json:"key_specs,omitempty"`
	// GetKeysProc names the Redis getkeys_proc of the command, if it has
	// one (see getKeysProcs); it is used when the key specs cannot be.
	GetKeysProc string     `json:"getkeys_proc,omitempty"`
	Docs        Docs       `json:"docs"`
	Subcommands []*Command `json:"subcommands,omitempty"`
	Parent      *Command   `json:"-"`
	Group       string     `json:"-"` // the documentation group: "string", "server"...
	ID          int        `json:"-"` // dense: 0 <= ID < NumCommands()
	subName     string     // "get" for "config|get"
	subs        *nameTable
	getKeys     *getKeysProc // nil without a getkeys proc
	keySpecAll  KeyFlag      // OR of every key spec's flags
	keySpecAny  bool         // some key spec is not NOT_KEY
}

// IsContainer reports whether the command has subcommands.
func (c *Command) IsContainer() bool { return c.subs != nil }

// SubName is the subcommand's own name ("get" for "config|get"), or Name for
// a top-level command.
func (c *Command) SubName() string { return c.subName }

// Subcommand returns the subcommand named name (any case), or nil.
func (c *Command) Subcommand(name []byte) *Command {
	if c.subs == nil {
		return nil
	}
	return c.subs.get(name)
}

// HasKeys reports whether the command has key arguments, as Redis's
// doesCommandHaveKeys: a getkeys proc, or a key spec not marked NOT_KEY.
func (c *Command) HasKeys() bool { return c.getKeys != nil || c.keySpecAny }

type commandTable struct {
	RedisVersion string     `json:"redis_version"`
	Commands     []*Command `json:"commands"`
}

var (
	topCommands []*Command // sorted by name
	allCommands []*Command // by ID
	topByName   *nameTable
)

func init() {
	var t commandTable
	if err := json.Unmarshal(commandsJSON, &t); err != nil {
		panic("proto: commands.json: " + err.Error())
	}
	if err := buildTable(t.Commands); err != nil {
		panic("proto: commands.json: " + err.Error())
	}
}

func buildTable(cmds []*Command) error {
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].Name < cmds[j].Name })
	topCommands = cmds
	allCommands = nil
	topByName = newNameTable(len(cmds))
	var setup func(c *Command, parent *Command) error
	setup = func(c *Command, parent *Command) error {
		c.Parent = parent
		c.Group = c.Docs.Group
		c.ID = len(allCommands)
		allCommands = append(allCommands, c)
		c.subName = c.Name
		if parent != nil {
			if !strings.HasPrefix(c.Name, parent.Name+"|") {
				return fmt.Errorf("subcommand %q of %q", c.Name, parent.Name)
			}
			c.subName = c.Name[len(parent.Name)+1:]
		}
		if c.Name != strings.ToLower(c.Name) {
			return fmt.Errorf("command name %q is not lowercase", c.Name)
		}
		if len(c.subName) > 64 {
			return fmt.Errorf("command name %q too long", c.Name)
		}
		if c.GetKeysProc != "" {
			c.getKeys = getKeysProcs[c.GetKeysProc]
			if c.getKeys == nil {
				return fmt.Errorf("%s: unknown getkeys proc %q", c.Name, c.GetKeysProc)
			}
		}
		for _, ks := range c.KeySpecs {
			c.keySpecAll |= ks.Flags
			if ks.Flags&KeyNotKey == 0 {
				c.keySpecAny = true
			}
		}
		if len(c.Subcommands) > 0 {
			sort.Slice(c.Subcommands, func(i, j int) bool { return c.Subcommands[i].Name < c.Subcommands[j].Name })
			c.subs = newNameTable(len(c.Subcommands))
			for _, s := range c.Subcommands {
				if err := setup(s, c); err != nil {
					return err
				}
				c.subs.add(s)
			}
		}
		return nil
	}
	for _, c := range cmds {
		if c.Name == "" || strings.Contains(c.Name, "|") {
			return fmt.Errorf("bad command name %q", c.Name)
		}
		if topByName.get([]byte(c.Name)) != nil {
			return fmt.Errorf("duplicate command %q", c.Name)
		}
		if err := setup(c, nil); err != nil {
			return err
		}
		topByName.add(c)
	}
	return nil
}

// All returns every top-level command, sorted by name. The slice must not
// be modified.
func All() []*Command { return topCommands }

// Count returns the number of top-level commands (COMMAND COUNT).
func Count() int { return len(topCommands) }

// AllWithSubcommands returns every command and subcommand indexed by ID.
// The slice must not be modified.
func AllWithSubcommands() []*Command { return allCommands }

// NumCommands returns the number of commands and subcommands: every ID is
// below it, so it sizes per-command statistics arrays.
func NumCommands() int { return len(allCommands) }

// ByName returns the command or subcommand with the given full name
// ("get", "CONFIG|GET"), case-insensitively, as Redis's
// lookupCommandBySds; nil if there is none.
func ByName(name string) *Command {
	parent, sub, ok := strings.Cut(name, "|")
	if ok && strings.Contains(sub, "|") {
		return nil
	}
	c := topByName.get([]byte(parent))
	if c == nil || !ok {
		return c
	}
	return c.Subcommand([]byte(sub))
}

// nameTable finds commands by name case-insensitively without allocating:
// an open-addressing hash table over the lowercase names, hashed with
// FNV-1a on the ASCII-lowercased bytes.
type nameTable struct {
	mask  uint32
	slots []*Command
}

func newNameTable(n int) *nameTable {
	size := 8
	for size < 4*n {
		size *= 2
	}
	return &nameTable{mask: uint32(size - 1), slots: make([]*Command, size)}
}

func hashName(name []byte) uint32 {
	const k = 0x9E3779B97F4A7C15
	h := uint64(len(name)) * k
	for len(name) >= 8 {
		h = (h ^ lowerWord(binary.LittleEndian.Uint64(name))) * k
		h ^= h >> 29
		name = name[8:]
	}
	if len(name) > 0 {
		var w uint64
		for i, c := range name {
			w |= uint64(c) << (8 * i)
		}
		h = (h ^ lowerWord(w)) * k
	}
	h ^= h >> 32
	return uint32(h)
}

// lowerWord lowercases the ASCII letters of 8 bytes at once.
func lowerWord(x uint64) uint64 {
	const ones = 0x0101010101010101
	b := x & (0x7f * ones)
	ge := b + (0x80-'A')*ones   // high bit set where b >= 'A'
	gt := b + (0x80-'Z'-1)*ones // high bit set where b > 'Z'
	upper := ge &^ gt &^ x & (0x80 * ones)
	return x | upper>>2
}

func (t *nameTable) add(c *Command) {
	i := hashName([]byte(c.subName)) & t.mask
	for t.slots[i] != nil {
		i = (i + 1) & t.mask
	}
	t.slots[i] = c
}

func (t *nameTable) get(name []byte) *Command {
	for i := hashName(name) & t.mask; ; i = (i + 1) & t.mask {
		c := t.slots[i]
		if c == nil {
			return nil
		}
		if len(c.subName) == len(name) && equalLower(c.subName, name) {
			return c
		}
	}
}

// equalLower reports whether name, ASCII-lowercased, is lower.
func equalLower(lower string, name []byte) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// Lookup resolves the command (and subcommand) named by args and checks its
// arity, as Redis's processCommand does. It returns the command and "", or
// an error reply as Redis 7.0 gives it, ready for Writer.WriteError:
//
//   - nil, "ERR unknown command '...', with args beginning with: ..."
//   - nil, "ERR unknown subcommand '...'. Try CONFIG HELP."
//   - the command, "ERR wrong number of arguments for 'get' command": the
//     command is returned so that the caller can account the rejected call
//     to it. For EXEC the text is "EXECABORT Transaction discarded because
//     of: wrong number of arguments for 'exec' command", and the caller
//     must also discard the client's transaction, as Redis's
//     execCommandAbort does.
//
// Check the error, not the command. Lookup does not allocate when the
// command is found with a valid arity. (Redis 7.0 answers QUIT before the
// lookup, whatever its arguments: the caller handles that.)
func Lookup(args [][]byte) (*Command, string) {
	if len(args) == 0 {
		return nil, unknownCommandError(args)
	}
	c := topByName.get(args[0])
	if c == nil {
		return nil, unknownCommandError(args)
	}
	if c.subs != nil && len(args) > 1 {
		s := c.subs.get(args[1])
		if s == nil {
			return nil, unknownSubcommandError(args)
		}
		c = s
	}
	if !c.arityOK(len(args)) {
		msg := "wrong number of arguments for '" + c.Name + "' command"
		if c.Name == "exec" {
			return c, "EXECABORT Transaction discarded because of: " + msg
		}
		return c, "ERR " + msg
	}
	return c, ""
}

func (c *Command) arityOK(argc int) bool {
	return !((c.Arity > 0 && c.Arity != argc) || argc < -c.Arity)
}

// cString returns b as C's printf("%.*s") sees it: up to the first NUL,
// at most max bytes.
func cString(b []byte, max int) []byte {
	for i, c := range b {
		if c == 0 {
			b = b[:i]
			break
		}
	}
	if len(b) > max {
		b = b[:max]
	}
	return b
}

// mapNewlines replaces CR and LF with spaces, as Redis does on error
// messages built from user input.
func mapNewlines(b []byte) string {
	for i, c := range b {
		if c == '\r' || c == '\n' {
			b[i] = ' '
		}
	}
	return string(b)
}

func unknownCommandError(args [][]byte) string {
	var name []byte
	if len(args) > 0 {
		name = args[0]
	}
	b := []byte("ERR unknown command '")
	b = append(b, cString(name, 128)...)
	b = append(b, "', with args beginning with: "...)
	n := 0
	for i := 1; i < len(args) && n < 128; i++ {
		a := cString(args[i], 128-n)
		b = append(b, '\'')
		b = append(b, a...)
		b = append(b, '\'', ' ')
		n += len(a) + 3
	}
	return mapNewlines(b)
}

func unknownSubcommandError(args [][]byte) string {
	b := []byte("ERR unknown subcommand '")
	b = append(b, cString(args[1], 128)...)
	b = append(b, "'. Try "...)
	b = append(b, strings.ToUpper(string(cString(args[0], len(args[0]))))...)
	b = append(b, " HELP."...)
	return mapNewlines(b)
}

// asciiEqualFold compares as C's strcasecmp does in the C locale.
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if asciiLower(a[i]) != asciiLower(b[i]) {
			return false
		}
	}
	return true
}

func asciiLower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
