package proto

// Key extraction, as Redis 7.0's db.c: getKeysFromCommandWithSpecs (COMMAND
// GETKEYS, ACL key checks) and getKeysFromCommand (cluster redirection).

// KeyRef is one key argument: its index in args and the key-spec flags
// that apply to it (0 when they come from a getkeys proc that gives none).
type KeyRef struct {
	Pos   int
	Flags KeyFlag
}

// getKeysProc is a native getkeys proc of Redis 7.0: setGetKeys, or
// genericGetKeys(storeKeyOfs, keyCountOfs, firstKeyOfs, keyStep).
type getKeysProc struct {
	set, bitfield                                  bool
	storeKeyOfs, keyCountOfs, firstKeyOfs, keyStep int
}

func numkeysProc(storeKeyOfs, keyCountOfs, firstKeyOfs, keyStep int) *getKeysProc {
	return &getKeysProc{false, false, storeKeyOfs, keyCountOfs, firstKeyOfs, keyStep}
}

// getKeysProcs are the getkeys procs of Redis 7.0 for the commands in the
// table, by the name commands.json gives them.
var getKeysProcs = map[string]*getKeysProc{
	// SET's key is RW when GET is given, else OW.
	"setGetKeys": {set: true},
	// BITFIELD's key is RO when it only GETs.
	"bitfieldGetKeys": {bitfield: true},
	// numkeys at 1, keys from 2.
	"sintercardGetKeys":      numkeysProc(0, 1, 2, 1),
	"zunionInterDiffGetKeys": numkeysProc(0, 1, 2, 1),
	"lmpopGetKeys":           numkeysProc(0, 1, 2, 1),
	"zmpopGetKeys":           numkeysProc(0, 1, 2, 1),
	// timeout at 1, numkeys at 2.
	"blmpopGetKeys": numkeysProc(0, 2, 3, 1),
	"bzmpopGetKeys": numkeysProc(0, 2, 3, 1),
	// destination at 1, listed after the sources.
	"zunionInterDiffStoreGetKeys": numkeysProc(1, 2, 3, 1),
}

// keys runs the proc.
func (p *getKeysProc) keys(dst []KeyRef, args [][]byte) []KeyRef {
	if p.set {
		return setGetKeys(dst, args)
	}
	if p.bitfield {
		return bitfieldGetKeys(dst, args)
	}
	return genericGetKeys(dst, args, p.storeKeyOfs, p.keyCountOfs, p.firstKeyOfs, p.keyStep)
}

// KeyRefs appends to dst the key arguments of args (args[0] is the command
// name) with their flags, as Redis's getKeysFromCommandWithSpecs with
// GET_KEYSPEC_DEFAULT: key specs first (NOT_KEY specs skipped), the
// getkeys proc when the specs fail or their flags vary. When the arguments
// are invalid for the specs it appends nothing. It does not check arity.
func (c *Command) KeyRefs(dst []KeyRef, args [][]byte) []KeyRef {
	if c.keySpecAny && c.keySpecAll&KeyVariableFlags == 0 {
		if out, ok := c.keysFromSpecs(dst, args); ok {
			return out
		}
	}
	if c.getKeys != nil {
		return c.getKeys.keys(dst, args)
	}
	return dst
}

// KeyIndexes appends to dst the indexes in args of the key arguments, as
// KeyRefs.
func (c *Command) KeyIndexes(dst []int, args [][]byte) []int {
	var buf [16]KeyRef
	for _, r := range c.KeyRefs(buf[:0], args) {
		dst = append(dst, r.Pos)
	}
	return dst
}

// SlotKeyIndexes appends to dst the indexes of the arguments that Redis
// Cluster hashes to route the command, as Redis 7.0's getKeysFromCommand
// (used by getNodeByQuery): the getkeys proc when the command has one, else
// the legacy first/last/step range of COMMAND INFO. Unlike KeyIndexes it
// includes NOT_KEY arguments in that range: the shard channels of
// SPUBLISH, SSUBSCRIBE and SUNSUBSCRIBE.
func (c *Command) SlotKeyIndexes(dst []int, args [][]byte) []int {
	if c.getKeys != nil {
		var buf [16]KeyRef
		for _, r := range c.getKeys.keys(buf[:0], args) {
			dst = append(dst, r.Pos)
		}
		return dst
	}
	if c.FirstKey <= 0 {
		return dst
	}
	first, last, step := c.FirstKey, c.LastKey, c.Step
	if last < 0 {
		last += len(args)
	}
	for j := first; j <= last && step > 0; j += step {
		if j >= len(args) {
			continue
		}
		dst = append(dst, j)
	}
	return dst
}

// keysFromSpecs is getKeysUsingKeySpecs with GET_KEYSPEC_DEFAULT; ok is
// false where Redis returns -1 (an invalid or incomplete spec).
func (c *Command) keysFromSpecs(dst []KeyRef, args [][]byte) ([]KeyRef, bool) {
	orig := len(dst)
	argc := len(args)
	for i := range c.KeySpecs {
		spec := &c.KeySpecs[i]
		if spec.Flags&KeyNotKey != 0 {
			continue
		}
		first := 0
		switch spec.BeginSearch.Type {
		case "index":
			first = spec.BeginSearch.Index
		case "keyword":
			sf := spec.BeginSearch.StartFrom
			start, end := argc+sf, 1
			if sf > 0 {
				start, end = sf, argc-1
			}
			for j := start; j != end; {
				if j >= argc || j < 1 {
					break
				}
				if cStringEqualFold(args[j], spec.BeginSearch.Keyword) {
					first = j + 1
					break
				}
				if start <= end {
					j++
				} else {
					j--
				}
			}
			if first == 0 {
				continue // keyword not found
			}
		default:
			return dst[:orig], false
		}
		var last, step int
		switch spec.FindKeys.Type {
		case "range":
			step = spec.FindKeys.KeyStep
			switch {
			case spec.FindKeys.LastKey >= 0:
				last = first + spec.FindKeys.LastKey
			case spec.FindKeys.Limit == 0:
				last = argc + spec.FindKeys.LastKey
			default:
				last = first + ((argc-first)/spec.FindKeys.Limit + spec.FindKeys.LastKey)
			}
		case "keynum":
			step = spec.FindKeys.KeyStep
			idx := first + spec.FindKeys.KeyNumIdx
			if spec.FindKeys.KeyNumIdx >= argc || idx >= argc {
				return dst[:orig], false
			}
			numkeys, ok := string2ll(args[idx])
			if !ok || numkeys < 0 {
				return dst[:orig], false
			}
			first += spec.FindKeys.FirstKey
			last = first + int(int32(numkeys)) - 1 // C's (int) cast
		default:
			return dst[:orig], false
		}
		if last >= argc || last < first || first >= argc {
			return dst[:orig], false
		}
		if step <= 0 {
			return dst[:orig], false
		}
		for j := first; j <= last; j += step {
			dst = append(dst, KeyRef{Pos: j, Flags: spec.Flags})
		}
		if spec.Flags&KeyIncomplete != 0 {
			return dst[:orig], false
		}
	}
	return dst, true
}

// genericGetKeys is Redis's: the number of keys at keyCountOfs (read with
// atoi), keys from firstKeyOfs every keyStep, and a destination key at
// storeKeyOfs (if not 0) listed last.
func genericGetKeys(dst []KeyRef, args [][]byte, storeKeyOfs, keyCountOfs, firstKeyOfs, keyStep int) []KeyRef {
	if keyCountOfs >= len(args) {
		return dst
	}
	num := atoi(args[keyCountOfs])
	if num < 1 || num > (len(args)-firstKeyOfs)/keyStep {
		return dst
	}
	for i := 0; i < num; i++ {
		dst = append(dst, KeyRef{Pos: firstKeyOfs + i*keyStep})
	}
	if storeKeyOfs != 0 {
		dst = append(dst, KeyRef{Pos: storeKeyOfs})
	}
	return dst
}

// setGetKeys is Redis's: the key at 1, RW|access|update if a GET argument
// follows the value, OW|update otherwise.
func setGetKeys(dst []KeyRef, args [][]byte) []KeyRef {
	for i := 3; i < len(args); i++ {
		a := args[i]
		if len(a) >= 3 && asciiLower(a[0]) == 'g' && asciiLower(a[1]) == 'e' &&
			asciiLower(a[2]) == 't' && (len(a) == 3 || a[3] == 0) {
			return append(dst, KeyRef{Pos: 1, Flags: KeyRW | KeyAccess | KeyUpdate})
		}
	}
	return append(dst, KeyRef{Pos: 1, Flags: KeyOW | KeyUpdate})
}

// bitfieldGetKeys is Redis 7.0's: the key is read-only when every
// operation is a well-formed GET or OVERFLOW, else read-write.
func bitfieldGetKeys(dst []KeyRef, args [][]byte) []KeyRef {
	readonly := true
	for i := 2; i < len(args); i++ {
		rem := len(args) - i - 1
		a := args[i]
		switch {
		case cStringEqualFold(a, "get") && rem >= 2:
			i += 2
		case (cStringEqualFold(a, "set") || cStringEqualFold(a, "incrby")) && rem >= 3:
			readonly = false
		case cStringEqualFold(a, "overflow") && rem >= 1:
			i++
		default:
			readonly = false
		}
		if !readonly {
			break
		}
	}
	if readonly {
		return append(dst, KeyRef{Pos: 1, Flags: KeyRO | KeyAccess})
	}
	return append(dst, KeyRef{Pos: 1, Flags: KeyRW | KeyAccess | KeyUpdate})
}

// cStringEqualFold is strcasecmp(arg, s) == 0 on a C string: arg ends at
// its first NUL.
func cStringEqualFold(arg []byte, s string) bool {
	arg = cString(arg, len(arg))
	if len(arg) != len(s) {
		return false
	}
	for i := range arg {
		if asciiLower(arg[i]) != asciiLower(s[i]) {
			return false
		}
	}
	return true
}

// string2ll parses as Redis's string2ll: an optional '-', no leading zeros
// (except "0"), no spaces, no '+', within int64.
func string2ll(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	if len(b) == 1 && b[0] == '0' {
		return 0, true
	}
	neg := false
	p := b
	if p[0] == '-' {
		neg = true
		p = p[1:]
		if len(p) == 0 {
			return 0, false
		}
	}
	if p[0] < '1' || p[0] > '9' {
		return 0, false
	}
	var v uint64
	for _, c := range p {
		if c < '0' || c > '9' {
			return 0, false
		}
		if v > (1<<64-1)/10 {
			return 0, false
		}
		v *= 10
		if v > 1<<64-1-uint64(c-'0') {
			return 0, false
		}
		v += uint64(c - '0')
	}
	if neg {
		if v > 1<<63 {
			return 0, false
		}
		return -int64(v), true
	}
	if v > 1<<63-1 {
		return 0, false
	}
	return int64(v), true
}

// atoi is C's atoi on glibc: (int)strtol(s, NULL, 10), so leading white
// space and a sign are accepted, parsing stops at the first non-digit, out
// of range values saturate to LONG_MIN/LONG_MAX before the conversion to a
// 32-bit int keeps their low bits.
func atoi(b []byte) int {
	i := 0
	for i < len(b) && (b[i] == ' ' || (b[i] >= '\t' && b[i] <= '\r')) {
		i++
	}
	neg := false
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		neg = b[i] == '-'
		i++
	}
	var v uint64
	overflow := false
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		if overflow {
			continue
		}
		if v > (1<<63)/10 {
			overflow = true
			continue
		}
		v = v*10 + uint64(b[i]-'0')
		if (!neg && v > 1<<63-1) || (neg && v > 1<<63) {
			overflow = true
		}
	}
	var l int64
	switch {
	case overflow && neg:
		l = -1 << 63
	case overflow:
		l = 1<<63 - 1
	case neg:
		l = -int64(v)
	default:
		l = int64(v)
	}
	return int(int32(l))
}
