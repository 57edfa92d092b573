package proto

// The COMMAND command family, replying as Redis 7.0's server.c does.

// ServeCOMMAND answers COMMAND and its subcommands (COUNT, LIST, INFO, DOCS,
// GETKEYS, GETKEYSANDFLAGS, HELP); args is the whole command, args[0]
// being "COMMAND". Commands and subcommands are listed sorted by name
// (Redis lists them in its hash tables' order, which is random per process).
func ServeCOMMAND(w *Writer, args [][]byte) {
	cmd, errMsg := Lookup(args)
	if errMsg != "" {
		w.WriteError(errMsg)
		return
	}
	if cmd.Parent == nil {
		if cmd.Name != "command" {
			w.WriteError("ERR ServeCOMMAND called for '" + cmd.Name + "'")
			return
		}
		w.WriteArray(len(topCommands))
		for _, c := range topCommands {
			writeCommandInfo(w, c)
		}
		return
	}
	switch cmd.subName {
	case "count":
		w.WriteInt(int64(len(topCommands)))
	case "list":
		commandList(w, args)
	case "info":
		commandInfo(w, args)
	case "docs":
		commandDocs(w, args)
	case "getkeys":
		commandGetKeys(w, args, false)
	case "getkeysandflags":
		commandGetKeys(w, args, true)
	case "help":
		writeHelp(w, "COMMAND", commandHelp)
	default:
		w.WriteError("ERR unknown subcommand '" + cmd.subName + "'. Try COMMAND HELP.")
	}
}

var commandHelp = []string{
	"(no subcommand)",
	"    Return details about all Redis commands.",
	"COUNT",
	"    Return the total number of commands in this Redis server.",
	"LIST",
	"    Return a list of all commands in this Redis server.",
	"INFO [<command-name> ...]",
	"    Return details about multiple Redis commands.",
	"    If no command names are given, documentation details for all",
	"    commands are returned.",
	"DOCS [<command-name> ...]",
	"    Return documentation details about multiple Redis commands.",
	"    If no command names are given, documentation details for all",
	"    commands are returned.",
	"GETKEYS <full-command>",
	"    Return the keys from a full Redis command.",
	"GETKEYSANDFLAGS <full-command>",
	"    Return the keys and the access flags from a full Redis command.",
}

// writeHelp writes a subcommand help reply as Redis's addReplyHelp does.
func writeHelp(w *Writer, name string, lines []string) {
	w.WriteArray(len(lines) + 3)
	w.WriteSimple(name + " <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
	for _, l := range lines {
		w.WriteSimple(l)
	}
	w.WriteSimple("HELP")
	w.WriteSimple("    Prints this help.")
}

func commandInfo(w *Writer, args [][]byte) {
	if len(args) == 2 {
		w.WriteArray(len(topCommands))
		for _, c := range topCommands {
			writeCommandInfo(w, c)
		}
		return
	}
	w.WriteArray(len(args) - 2)
	for _, a := range args[2:] {
		if c := ByName(string(a)); c != nil {
			writeCommandInfo(w, c)
		} else {
			w.WriteNull()
		}
	}
}

func commandDocs(w *Writer, args [][]byte) {
	if len(args) == 2 {
		w.WriteMap(len(topCommands))
		for _, c := range topCommands {
			w.WriteBulkString(c.Name)
			writeCommandDocs(w, c)
		}
		return
	}
	var found []*Command
	for _, a := range args[2:] {
		if c := ByName(string(a)); c != nil {
			found = append(found, c)
		}
	}
	w.WriteMap(len(found))
	for _, c := range found {
		w.WriteBulkString(c.Name)
		writeCommandDocs(w, c)
	}
}

func commandList(w *Writer, args [][]byte) {
	var filter func(*Command) bool
	for i := 2; i < len(args); i++ {
		more := len(args) - 1 - i
		if !asciiEqualFold(string(args[i]), "filterby") || more != 2 {
			w.WriteError("ERR syntax error")
			return
		}
		arg := string(args[i+2])
		switch typ := string(args[i+1]); {
		case asciiEqualFold(typ, "module"):
			filter = func(*Command) bool { return false } // no modules
		case asciiEqualFold(typ, "aclcat"):
			cat := ACLCategoryByName(arg)
			filter = func(c *Command) bool { return cat != 0 && c.ACLCategories&cat != 0 }
		case asciiEqualFold(typ, "pattern"):
			filter = func(c *Command) bool { return cmdGlobMatch(arg, c.Name) }
		default:
			w.WriteError("ERR syntax error")
			return
		}
		i += 2
	}
	var names []string
	var walk func(cmds []*Command)
	walk = func(cmds []*Command) {
		for _, c := range cmds {
			if filter == nil || filter(c) {
				names = append(names, c.Name)
			}
			walk(c.Subcommands)
		}
	}
	walk(topCommands)
	w.WriteArray(len(names))
	for _, n := range names {
		w.WriteBulkString(n)
	}
}

func commandGetKeys(w *Writer, args [][]byte, withFlags bool) {
	argv := args[2:]
	var cmd *Command
	if c := topByName.get(argv[0]); c != nil {
		cmd = c
		if c.subs != nil && len(argv) > 1 {
			cmd = c.subs.get(argv[1])
		}
	}
	switch {
	case cmd == nil:
		w.WriteError("ERR Invalid command specified")
		return
	case !cmd.HasKeys():
		w.WriteError("ERR The command has no key arguments")
		return
	case !cmd.arityOK(len(argv)):
		w.WriteError("ERR Invalid number of arguments specified for command")
		return
	}
	keys := cmd.KeyRefs(nil, argv)
	if len(keys) == 0 {
		if cmd.Flags&FlagNoMandatoryKeys != 0 {
			w.WriteArray(0)
		} else {
			w.WriteError("ERR Invalid arguments specified for command")
		}
		return
	}
	w.WriteArray(len(keys))
	for _, k := range keys {
		if withFlags {
			w.WriteArray(2)
			w.WriteBulk(argv[k.Pos])
			writeFlagSet(w, keyFlagNames, k.Flags)
		} else {
			w.WriteBulk(argv[k.Pos])
		}
	}
}

// writeFlagSet writes the visible flags of v as a set of simple strings.
func writeFlagSet[T ~uint32](w *Writer, names []flagName[T], v T) {
	n := 0
	for _, f := range names {
		if v&f.bit != 0 && !f.hidden {
			n++
		}
	}
	w.WriteSet(n)
	for _, f := range names {
		if v&f.bit != 0 && !f.hidden {
			w.WriteSimple(f.name)
		}
	}
}

// writeCommandInfo is addReplyCommandInfo.
func writeCommandInfo(w *Writer, c *Command) {
	w.WriteArray(10)
	w.WriteBulkString(c.Name)
	w.WriteInt(int64(c.Arity))
	writeFlagSet(w, flagNames, c.Flags)
	w.WriteInt(int64(c.FirstKey))
	w.WriteInt(int64(c.LastKey))
	w.WriteInt(int64(c.Step))
	// ACL categories, as "@name" simple strings.
	n := 0
	for _, f := range aclCategoryNames {
		if c.ACLCategories&f.bit != 0 {
			n++
		}
	}
	w.WriteSet(n)
	for _, f := range aclCategoryNames {
		if c.ACLCategories&f.bit != 0 {
			w.WriteSimple("@" + f.name)
		}
	}
	w.WriteSet(len(c.Tips))
	for _, t := range c.Tips {
		w.WriteBulkString(t)
	}
	w.WriteSet(len(c.KeySpecs))
	for i := range c.KeySpecs {
		writeKeySpec(w, &c.KeySpecs[i])
	}
	if len(c.Subcommands) == 0 {
		w.WriteSet(0)
		return
	}
	w.WriteArray(len(c.Subcommands))
	for _, s := range c.Subcommands {
		writeCommandInfo(w, s)
	}
}

func writeKeySpec(w *Writer, ks *KeySpec) {
	n := 3
	if ks.Notes != "" {
		n++
	}
	w.WriteMap(n)
	if ks.Notes != "" {
		w.WriteBulkString("notes")
		w.WriteBulkString(ks.Notes)
	}
	w.WriteBulkString("flags")
	writeFlagSet(w, keyFlagNames, ks.Flags)

	w.WriteBulkString("begin_search")
	w.WriteMap(2)
	w.WriteBulkString("type")
	w.WriteBulkString(ks.BeginSearch.Type)
	w.WriteBulkString("spec")
	switch ks.BeginSearch.Type {
	case "index":
		w.WriteMap(1)
		w.WriteBulkString("index")
		w.WriteInt(int64(ks.BeginSearch.Index))
	case "keyword":
		w.WriteMap(2)
		w.WriteBulkString("keyword")
		w.WriteBulkString(ks.BeginSearch.Keyword)
		w.WriteBulkString("startfrom")
		w.WriteInt(int64(ks.BeginSearch.StartFrom))
	default:
		w.WriteMap(0)
	}

	w.WriteBulkString("find_keys")
	w.WriteMap(2)
	w.WriteBulkString("type")
	w.WriteBulkString(ks.FindKeys.Type)
	w.WriteBulkString("spec")
	switch ks.FindKeys.Type {
	case "range":
		w.WriteMap(3)
		w.WriteBulkString("lastkey")
		w.WriteInt(int64(ks.FindKeys.LastKey))
		w.WriteBulkString("keystep")
		w.WriteInt(int64(ks.FindKeys.KeyStep))
		w.WriteBulkString("limit")
		w.WriteInt(int64(ks.FindKeys.Limit))
	case "keynum":
		w.WriteMap(3)
		w.WriteBulkString("keynumidx")
		w.WriteInt(int64(ks.FindKeys.KeyNumIdx))
		w.WriteBulkString("firstkey")
		w.WriteInt(int64(ks.FindKeys.FirstKey))
		w.WriteBulkString("keystep")
		w.WriteInt(int64(ks.FindKeys.KeyStep))
	default:
		w.WriteMap(0)
	}
}

// writeCommandDocs is addReplyCommandDocs.
func writeCommandDocs(w *Writer, c *Command) {
	d := &c.Docs
	n := 1
	for _, present := range []bool{d.Summary != "", d.Since != "", d.Complexity != "",
		len(d.DocFlags) > 0, d.DeprecatedSince != "", d.ReplacedBy != "",
		len(d.History) > 0, len(d.Arguments) > 0, len(c.Subcommands) > 0} {
		if present {
			n++
		}
	}
	w.WriteMap(n)
	if d.Summary != "" {
		w.WriteBulkString("summary")
		w.WriteBulkString(d.Summary)
	}
	if d.Since != "" {
		w.WriteBulkString("since")
		w.WriteBulkString(d.Since)
	}
	w.WriteBulkString("group")
	w.WriteBulkString(d.Group)
	if d.Complexity != "" {
		w.WriteBulkString("complexity")
		w.WriteBulkString(d.Complexity)
	}
	if len(d.DocFlags) > 0 {
		w.WriteBulkString("doc_flags")
		w.WriteSet(len(d.DocFlags))
		for _, f := range d.DocFlags {
			w.WriteSimple(f)
		}
	}
	if d.DeprecatedSince != "" {
		w.WriteBulkString("deprecated_since")
		w.WriteBulkString(d.DeprecatedSince)
	}
	if d.ReplacedBy != "" {
		w.WriteBulkString("replaced_by")
		w.WriteBulkString(d.ReplacedBy)
	}
	if len(d.History) > 0 {
		w.WriteBulkString("history")
		w.WriteSet(len(d.History))
		for _, h := range d.History {
			w.WriteArray(2)
			w.WriteBulkString(h[0])
			w.WriteBulkString(h[1])
		}
	}
	if len(d.Arguments) > 0 {
		w.WriteBulkString("arguments")
		writeArgs(w, d.Arguments)
	}
	if len(c.Subcommands) > 0 {
		w.WriteBulkString("subcommands")
		w.WriteMap(len(c.Subcommands))
		for _, s := range c.Subcommands {
			w.WriteBulkString(s.Name)
			writeCommandDocs(w, s)
		}
	}
}

// writeArgs is addReplyCommandArgList.
func writeArgs(w *Writer, args []*Arg) {
	w.WriteArray(len(args))
	for _, a := range args {
		n := 2
		for _, present := range []bool{a.KeySpecIndex != nil, a.Token != "", a.Summary != "",
			a.Since != "", a.DeprecatedSince != "", len(a.Flags) > 0, a.hasSubargs()} {
			if present {
				n++
			}
		}
		w.WriteMap(n)
		w.WriteBulkString("name")
		w.WriteBulkString(a.Name)
		w.WriteBulkString("type")
		w.WriteBulkString(a.Type)
		if a.KeySpecIndex != nil {
			w.WriteBulkString("key_spec_index")
			w.WriteInt(int64(*a.KeySpecIndex))
		}
		if a.Token != "" {
			w.WriteBulkString("token")
			w.WriteBulkString(a.Token)
		}
		if a.Summary != "" {
			w.WriteBulkString("summary")
			w.WriteBulkString(a.Summary)
		}
		if a.Since != "" {
			w.WriteBulkString("since")
			w.WriteBulkString(a.Since)
		}
		if a.DeprecatedSince != "" {
			w.WriteBulkString("deprecated_since")
			w.WriteBulkString(a.DeprecatedSince)
		}
		if len(a.Flags) > 0 {
			w.WriteBulkString("flags")
			w.WriteSet(len(a.Flags))
			for _, f := range a.Flags {
				w.WriteSimple(f)
			}
		}
		if a.hasSubargs() {
			w.WriteBulkString("arguments")
			writeArgs(w, a.Arguments)
		}
	}
}

func (a *Arg) hasSubargs() bool { return a.Type == "oneof" || a.Type == "block" }
