package engine

import (
	"math"
	"strings"
)

// Ctx is one execution of a command: its arguments, the time and random
// seed it may depend on, and where its reply goes. The server reuses one Ctx
// per connection; the Raft FSM builds one per log entry from the time and
// seed the leader stamped into it.
type Ctx struct {
	DB   *DB
	Args [][]byte // Args[0] is the command name
	// Now is the time in unix milliseconds the command runs at. Expiry and
	// relative TTLs use it, never the wall clock.
	Now int64
	// Seed seeds the choices of SPOP, SRANDMEMBER, HRANDFIELD... Every
	// replica given the same seed chooses the same elements.
	Seed uint64
	W    Writer

	// NoBlock makes blocking commands reply at once when they would block
	// (inside MULTI/EXEC).
	NoBlock bool
	// Blocked is set by a blocking command that would block; see BlockSpec.
	Blocked *BlockSpec

	rng     uint64
	rngInit bool
}

// Handler executes a command. The arity in proto's command table was
// checked before it runs, so len(c.Args) satisfies it.
type Handler func(c *Ctx)

var handlers = map[string]Handler{}

// register adds the handler of a command (lowercase name); called from
// init functions of the files that implement each command family.
func register(name string, h Handler) {
	if _, dup := handlers[name]; dup {
		panic("engine: command registered twice: " + name)
	}
	handlers[name] = h
}

// Lookup returns the handler of the command with the given lowercase name,
// or nil if the engine does not implement it.
func Lookup(name string) Handler { return handlers[name] }

// Commands returns the names of every command the engine implements.
func Commands() []string {
	out := make([]string, 0, len(handlers))
	for name := range handlers {
		out = append(out, name)
	}
	return out
}

// Reset prepares c for another command.
func (c *Ctx) Reset(args [][]byte, now int64, seed uint64) {
	c.Args, c.Now, c.Seed = args, now, seed
	c.rngInit = false
	c.Blocked = nil
}

// Rand returns the next number of the command's deterministic random
// sequence (splitmix64 seeded by Seed).
func (c *Ctx) Rand() uint64 {
	if !c.rngInit {
		c.rng, c.rngInit = c.Seed, true
	}
	c.rng += 0x9e3779b97f4a7c15
	z := c.rng
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// RandN returns a deterministic random number in [0, n).
func (c *Ctx) RandN(n int) int {
	if n <= 0 {
		return 0
	}
	return int(c.Rand() % uint64(n))
}

func (c *Ctx) err(msg string) { c.W.WriteError(msg) }

func (c *Ctx) ok() { c.W.WriteSimple("OK") }

// wrongArgs writes the arity error for this command.
func (c *Ctx) wrongArgs() { c.W.WriteError(errWrongArgs(c.Args[0])) }

// lookupRead: see DB.lookupRead.
func (c *Ctx) lookupRead(key []byte) (object, bool) { return c.DB.lookupRead(key, c.Now) }

// lookupWrite: see DB.lookupWrite.
func (c *Ctx) lookupWrite(key []byte) (object, bool) { return c.DB.lookupWrite(key, c.Now) }

// readType looks key up for a read command. If it holds a value of another
// type than t it writes WRONGTYPE and returns ok=false; if it is missing it
// returns ok=true with o.typ == TypeNone.
func (c *Ctx) readType(key []byte, t Type) (o object, ok bool) {
	o, found := c.DB.lookupRead(key, c.Now)
	if found && o.typ != t {
		c.err(ErrWrongType)
		return o, false
	}
	return o, true
}

// writeType is readType for a write command (expired keys are deleted).
func (c *Ctx) writeType(key []byte, t Type) (o object, ok bool) {
	o, found := c.DB.lookupWrite(key, c.Now)
	if found && o.typ != t {
		c.err(ErrWrongType)
		return o, false
	}
	return o, true
}

// setKey: see DB.setKey.
func (c *Ctx) setKey(key []byte, o object, keepTTL bool) bool {
	return c.DB.setKey(key, o, keepTTL, c.Now)
}

// deleteKey: see DB.deleteKey.
func (c *Ctx) deleteKey(key []byte) bool { return c.DB.deleteKey(key) }

// modified signals an in-place change of the collection at key.
func (c *Ctx) modified(key []byte) { c.DB.modified(key) }

// ready signals that elements were added to the list or sorted set at key.
func (c *Ctx) ready(key []byte) { c.DB.ready(key) }

// isArg reports whether argument i equals word, ignoring ASCII case.
func (c *Ctx) isArg(i int, word string) bool {
	return len(c.Args[i]) == len(word) && strings.EqualFold(unsafeString(c.Args[i]), word)
}

// BlockSpec is what a blocking command (BLPOP, BZPOPMIN, BLMOVE...) leaves
// in Ctx.Blocked when it found nothing to serve: it wrote no reply, and the
// server parks the client until a write makes one of Keys ready (then it runs
// the same command again) or until Deadline passes (then it replies with the
// timeout reply).
type BlockSpec struct {
	Keys [][]byte
	// Deadline is the unix ms after which the client gets the timeout
	// reply; 0 blocks forever.
	Deadline int64
	// NullArray says the timeout reply is the null array (BLPOP, BZPOPMIN,
	// BLMPOP...); otherwise it is the null bulk string (BLMOVE, BRPOPLPUSH).
	NullArray bool
}

// block parks the client (see BlockSpec), unless c.NoBlock: then the
// command replies at once as if its timeout had passed, as Redis does for
// blocking commands inside MULTI.
func (c *Ctx) block(keys [][]byte, deadline int64, nullArray bool) {
	if c.NoBlock {
		if nullArray {
			c.W.WriteNullArray()
		} else {
			c.W.WriteNull()
		}
		return
	}
	c.Blocked = &BlockSpec{Keys: keys, Deadline: deadline, NullArray: nullArray}
}

// parseTimeout parses a blocking command's timeout in seconds (a double, as
// Redis 6+ takes it) into an absolute deadline in ms, 0 for "forever".
func (c *Ctx) parseTimeout(arg []byte) (deadline int64, ok bool) {
	f, valid := parseLongDouble(arg)
	if !valid {
		c.err(ErrTimeout)
		return 0, false
	}
	// As Redis 7.0's getTimeoutFromObjectOrReply: seconds to ms, rounded
	// up, cast to long long. A value beyond long long casts to LLONG_MIN on
	// x86, hence "timeout is negative" for inf or 1e400; a deadline past
	// the end of time blocks forever.
	secs, _ := f.Float64()
	tval := math.Ceil(secs * 1000)
	if math.IsInf(tval, 0) || tval >= math.MaxInt64 || tval < 0 {
		c.err(ErrTimeoutNegative)
		return 0, false
	}
	if tval == 0 {
		return 0, true
	}
	if int64(tval) > math.MaxInt64-c.Now {
		return 0, true
	}
	return c.Now + int64(tval), true
}
