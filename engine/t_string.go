package engine

import "math"

func init() {
	register("get", cmdGET)
	register("set", cmdSET)
}

// cmdGET: GET key
func cmdGET(c *Ctx) {
	o, ok := c.readType(c.Args[1], TypeString)
	if !ok {
		return
	}
	if o.typ == TypeNone {
		c.W.WriteNull()
		return
	}
	c.W.WriteBulk(o.bytes())
}

// Flags of SET and GETEX options, as Redis's OBJ_* flags.
const (
	setNX = 1 << iota
	setXX
	setGET
	setKeepTTL
	setEX
	setPX
	setEXAT
	setPXAT
	setPersist
)

// parseExpireOptions parses SET's or GETEX's options from c.Args[from:].
// allowed says which flags the command takes. It returns the flags and the
// absolute expiry time in ms (when an expire option was given), or writes an
// error and returns ok=false.
func (c *Ctx) parseExpireOptions(from int, allowed int, cmdName string) (flags int, at int64, ok bool) {
	const expireFlags = setEX | setPX | setEXAT | setPXAT
	var expireArg []byte
	args := c.Args
	for i := from; i < len(args); i++ {
		var f int
		hasArg := false
		switch {
		case c.isArg(i, "NX"):
			f = setNX
		case c.isArg(i, "XX"):
			f = setXX
		case c.isArg(i, "GET"):
			f = setGET
		case c.isArg(i, "KEEPTTL"):
			f = setKeepTTL
		case c.isArg(i, "PERSIST"):
			f = setPersist
		case c.isArg(i, "EX"):
			f, hasArg = setEX, true
		case c.isArg(i, "PX"):
			f, hasArg = setPX, true
		case c.isArg(i, "EXAT"):
			f, hasArg = setEXAT, true
		case c.isArg(i, "PXAT"):
			f, hasArg = setPXAT, true
		}
		if f == 0 || f&allowed == 0 || (hasArg && i+1 >= len(args)) {
			c.err(ErrSyntax)
			return 0, 0, false
		}
		// As Redis: repeating an option is allowed (the last value wins),
		// combining exclusive ones is a syntax error.
		conflict := 0
		switch f {
		case setNX:
			conflict = setXX
		case setXX:
			conflict = setNX
		case setKeepTTL:
			conflict = expireFlags | setPersist
		case setPersist:
			conflict = expireFlags | setKeepTTL
		case setGET:
		default:
			conflict = expireFlags&^f | setKeepTTL | setPersist
		}
		if flags&conflict != 0 {
			c.err(ErrSyntax)
			return 0, 0, false
		}
		flags |= f
		if hasArg {
			i++
			expireArg = args[i]
		}
	}
	if flags&expireFlags == 0 {
		return flags, 0, true
	}
	v, isInt := parseInt(expireArg)
	if !isInt {
		c.err(ErrNotInteger)
		return 0, 0, false
	}
	invalid := "ERR invalid expire time in '" + cmdName + "' command"
	if v <= 0 || (flags&(setEX|setEXAT) != 0 && v > math.MaxInt64/1000) {
		c.err(invalid)
		return 0, 0, false
	}
	if flags&(setEX|setEXAT) != 0 {
		v *= 1000
	}
	if flags&(setEX|setPX) != 0 {
		if v > math.MaxInt64-c.Now {
			c.err(invalid)
			return 0, 0, false
		}
		v += c.Now
	}
	return flags, v, true
}

// cmdSET: SET key value [NX | XX] [GET] [EX s | PX ms | EXAT ts | PXAT ms-ts | KEEPTTL]
func cmdSET(c *Ctx) {
	flags, at, ok := c.parseExpireOptions(3, setNX|setXX|setGET|setKeepTTL|setEX|setPX|setEXAT|setPXAT, "set")
	if !ok {
		return
	}
	key := c.Args[1]
	old, found := c.lookupWrite(key)
	if flags&setGET != 0 && found && old.typ != TypeString {
		c.err(ErrWrongType)
		return
	}
	if (flags&setNX != 0 && found) || (flags&setXX != 0 && !found) {
		if flags&setGET != 0 {
			if found {
				c.W.WriteBulk(old.bytes())
			} else {
				c.W.WriteNull()
			}
			return
		}
		c.W.WriteNull()
		return
	}
	// Reply with the old value before it is replaced: the bytes stay valid
	// (they are not reused), but write them first for clarity.
	if flags&setGET != 0 {
		if found {
			c.W.WriteBulk(old.bytes())
		} else {
			c.W.WriteNull()
		}
	}
	c.setKey(key, newStringObject(c.Args[2]), flags&setKeepTTL != 0)
	if at != 0 {
		c.DB.setExpire(key, at)
	}
	if flags&setGET == 0 {
		c.ok()
	}
}
