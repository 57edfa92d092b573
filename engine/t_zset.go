package engine

import (
	"bytes"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Sorted set commands, as Redis 7.0's t_zset.c. The value and its two
// encodings are in zset_value.go, the ordered index in zset_btree.go.

func init() {
	register("zadd", cmdZADD)
	register("zincrby", cmdZINCRBY)
	register("zscore", cmdZSCORE)
	register("zmscore", cmdZMSCORE)
	register("zcard", cmdZCARD)
	register("zcount", cmdZCOUNT)
	register("zlexcount", cmdZLEXCOUNT)
	register("zrange", cmdZRANGE)
	register("zrangestore", cmdZRANGESTORE)
	register("zrangebyscore", cmdZRANGEBYSCORE)
	register("zrevrangebyscore", cmdZREVRANGEBYSCORE)
	register("zrangebylex", cmdZRANGEBYLEX)
	register("zrevrangebylex", cmdZREVRANGEBYLEX)
	register("zrevrange", cmdZREVRANGE)
	register("zrank", cmdZRANK)
	register("zrevrank", cmdZREVRANK)
	register("zrem", cmdZREM)
	register("zremrangebyrank", cmdZREMRANGEBYRANK)
	register("zremrangebyscore", cmdZREMRANGEBYSCORE)
	register("zremrangebylex", cmdZREMRANGEBYLEX)
	register("zpopmin", cmdZPOPMIN)
	register("zpopmax", cmdZPOPMAX)
	register("bzpopmin", cmdBZPOPMIN)
	register("bzpopmax", cmdBZPOPMAX)
	register("zmpop", cmdZMPOP)
	register("bzmpop", cmdBZMPOP)
	register("zrandmember", cmdZRANDMEMBER)
	register("zscan", cmdZSCAN)
	register("zunion", cmdZUNION)
	register("zinter", cmdZINTER)
	register("zdiff", cmdZDIFF)
	register("zunionstore", cmdZUNIONSTORE)
	register("zinterstore", cmdZINTERSTORE)
	register("zdiffstore", cmdZDIFFSTORE)
	register("zintercard", cmdZINTERCARD)
}

// Error texts of the sorted set commands.
const (
	errZsetNaN         = "ERR resulting score is not a number (NaN)"
	errZaddXXNX        = "ERR XX and NX options at the same time are not compatible"
	errZaddGTLTNX      = "ERR GT, LT, and/or NX options at the same time are not compatible"
	errZaddIncrPair    = "ERR INCR option supports a single increment-element pair"
	errZrangeLimit     = "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
	errZrangeLexScores = "ERR syntax error, WITHSCORES not supported in combination with BYLEX"
	errZWeightFloat    = "ERR weight value is not a float"
	errZLimitNegative  = "ERR LIMIT can't be negative"
	errZNumkeys        = "ERR numkeys should be greater than 0"
	errZCount          = "ERR count should be greater than 0"
	errZRandCountRange = "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
	errZValueRange     = "ERR value is out of range"
	errZInvalidCursor  = "ERR invalid cursor"
)

// ---- number parsing ----

// zparseFloatC parses b as C's strtod would parse all of it: decimal or
// hexadecimal (with or without a binary exponent), inf/infinity. It reports
// erange when the value overflowed to ±inf or underflowed to zero.
func zparseFloatC(b []byte) (f float64, ok, erange bool) {
	if len(b) == 0 || bytes.IndexByte(b, '_') >= 0 {
		return 0, false, false
	}
	s := unsafeString(b)
	j := 0
	if s[0] == '+' || s[0] == '-' {
		j = 1
	}
	hex := len(s) > j+1 && s[j] == '0' && (s[j+1] == 'x' || s[j+1] == 'X')
	if hex && !strings.ContainsAny(s, "pP") {
		s += "p0" // C takes hex floats without exponent, Go does not
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		if ne, isNum := err.(*strconv.NumError); isNum && ne.Err == strconv.ErrRange {
			return f, true, true
		}
		return 0, false, false
	}
	if math.IsNaN(f) {
		return 0, false, false
	}
	if f == 0 {
		// Underflow: a non-zero mantissa that rounded to zero.
		mant := s[j:]
		if hex {
			mant = mant[2:]
			if i := strings.IndexAny(mant, "pP"); i >= 0 {
				mant = mant[:i]
			}
			erange = strings.Trim(mant, "0.") != ""
		} else {
			if i := strings.IndexAny(mant, "eE"); i >= 0 {
				mant = mant[:i]
			}
			erange = strings.Trim(mant, "0.") != ""
		}
	}
	return f, true, erange
}

// zparseScore parses a score, increment or weight as Redis's
// getDoubleFromObject: strtod over the whole string, no leading space, no
// overflow or underflow, no NaN.
func zparseScore(b []byte) (float64, bool) {
	if len(b) == 0 || isSpace(b[0]) || bytes.IndexByte(b, 0) >= 0 {
		return 0, false
	}
	f, ok, erange := zparseFloatC(b)
	if !ok || erange {
		return 0, false
	}
	return f, true
}

// zstrtod parses a range bound as zslParseRange does: strtod on the
// NUL-terminated string, which skips leading spaces, reads "" as 0 and
// saturates on overflow; only NaN and trailing garbage are refused.
func zstrtod(b []byte) (float64, bool) {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	if len(b) == 0 {
		return 0, true
	}
	i := 0
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	f, ok, _ := zparseFloatC(b[i:])
	return f, ok
}

// zparseScoreRange parses min and max as Redis's zslParseRange.
func zparseScoreRange(min, max []byte) (r zscoreRange, ok bool) {
	parse := func(b []byte) (float64, bool, bool) {
		if len(b) > 0 && b[0] == '(' {
			f, ok := zstrtod(b[1:])
			return f, true, ok
		}
		f, ok := zstrtod(b)
		return f, false, ok
	}
	var ok1, ok2 bool
	r.min, r.minex, ok1 = parse(min)
	r.max, r.maxex, ok2 = parse(max)
	return r, ok1 && ok2
}

// zparseLexBound parses one end of a lex range as zslParseLexRangeItem.
// The bound aliases b.
func zparseLexBound(b []byte) (zlexBound, bool) {
	if len(b) == 0 {
		return zlexBound{}, false
	}
	switch b[0] {
	case '+':
		if len(b) > 1 && b[1] != 0 {
			return zlexBound{}, false
		}
		return zlexBound{inf: 1, ex: true}, true
	case '-':
		if len(b) > 1 && b[1] != 0 {
			return zlexBound{}, false
		}
		return zlexBound{inf: -1, ex: true}, true
	case '(':
		return zlexBound{s: unsafeString(b[1:]), ex: true}, true
	case '[':
		return zlexBound{s: unsafeString(b[1:])}, true
	}
	return zlexBound{}, false
}

func zparseLexRange(min, max []byte) (r zlexRange, ok bool) {
	var ok1, ok2 bool
	r.min, ok1 = zparseLexBound(min)
	r.max, ok2 = zparseLexBound(max)
	return r, ok1 && ok2
}

// ---- lookups and replies ----

// zsetOf returns the sorted set of an object of type zset, or nil.
func zsetOf(o object) *zsetValue {
	if o.typ != TypeZSet {
		return nil
	}
	return collection[zsetValue](o)
}

// writeZEntry writes one element of a range reply.
func (c *Ctx) writeZEntry(member []byte, score float64, withscores bool) {
	if withscores && c.W.Proto() > 2 {
		c.W.WriteArray(2)
	}
	c.W.WriteBulk(member)
	if withscores {
		c.W.WriteDouble(score)
	}
}

// writeZArrayLen starts a reply of n elements, WITHSCORES as a flat array
// in RESP2 and as [member, score] pairs in RESP3.
func (c *Ctx) writeZArrayLen(n int, withscores bool) {
	if withscores && c.W.Proto() == 2 {
		n *= 2
	}
	c.W.WriteArray(n)
}

// writeZRanks replies with the elements of ranks [lo, hi], in descending
// order when reverse.
func (c *Ctx) writeZRanks(z *zsetValue, lo, hi int, reverse, withscores bool) {
	if hi < lo {
		c.W.WriteArray(0)
		return
	}
	c.writeZArrayLen(hi-lo+1, withscores)
	if reverse {
		it := z.iterAt(hi)
		for i := hi; i >= lo; i-- {
			m, s := it.entry()
			c.writeZEntry(m, s, withscores)
			it.prev()
		}
		return
	}
	it := z.iterAt(lo)
	for i := lo; i <= hi; i++ {
		m, s := it.entry()
		c.writeZEntry(m, s, withscores)
		it.next()
	}
}

// collectZRanks returns copies of the elements of ranks [lo, hi].
func collectZRanks(z *zsetValue, lo, hi int) []zent {
	if hi < lo {
		return nil
	}
	out := make([]zent, 0, hi-lo+1)
	it := z.iterAt(lo)
	for i := lo; i <= hi; i++ {
		out = append(out, it.ownedEntry())
		it.next()
	}
	return out
}

// storeZResult stores ents (sorted, owned) at dst, or deletes dst when
// there are none, and replies with the number of elements, as the *STORE
// commands do.
func (c *Ctx) storeZResult(dst []byte, ents []zent) {
	if len(ents) == 0 {
		c.W.WriteInt(0)
		c.deleteKey(dst)
		return
	}
	z := newZsetFromSorted(c.DB, ents)
	c.setKey(dst, newCollection(TypeZSet, z), false)
	c.ready(dst)
	c.W.WriteInt(int64(len(ents)))
}

// zsetChanged deletes key when its set became empty, else signals the
// change.
func (c *Ctx) zsetChanged(key []byte, z *zsetValue) {
	if z.Len() == 0 {
		c.deleteKey(key)
	} else {
		c.modified(key)
	}
}

func sortZents(ents []zent) {
	slices.SortFunc(ents, func(a, b zent) int {
		switch {
		case a.score < b.score:
			return -1
		case a.score > b.score:
			return 1
		}
		return strings.Compare(a.member, b.member)
	})
}

// ---- ZADD, ZINCRBY ----

// cmdZADD: ZADD key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]
func cmdZADD(c *Ctx) { zaddGeneric(c, 0) }

// cmdZINCRBY: ZINCRBY key increment member
func cmdZINCRBY(c *Ctx) { zaddGeneric(c, zaddIncr) }

func zaddGeneric(c *Ctx, flags int) {
	args := c.Args
	ch := false
	scoreIdx := 2
	// As Redis, ZINCRBY runs the same option parser (from its increment).
parse:
	for ; scoreIdx < len(args); scoreIdx++ {
		switch {
		case c.isArg(scoreIdx, "nx"):
			flags |= zaddNX
		case c.isArg(scoreIdx, "xx"):
			flags |= zaddXX
		case c.isArg(scoreIdx, "ch"):
			ch = true
		case c.isArg(scoreIdx, "incr"):
			flags |= zaddIncr
		case c.isArg(scoreIdx, "gt"):
			flags |= zaddGT
		case c.isArg(scoreIdx, "lt"):
			flags |= zaddLT
		default:
			break parse
		}
	}
	incr := flags&zaddIncr != 0
	nx, xx := flags&zaddNX != 0, flags&zaddXX != 0
	gt, lt := flags&zaddGT != 0, flags&zaddLT != 0
	elements := len(args) - scoreIdx
	if elements%2 != 0 || elements == 0 {
		c.err(ErrSyntax)
		return
	}
	elements /= 2
	if nx && xx {
		c.err(errZaddXXNX)
		return
	}
	if (gt && nx) || (lt && nx) || (gt && lt) {
		c.err(errZaddGTLTNX)
		return
	}
	if incr && elements > 1 {
		c.err(errZaddIncrPair)
		return
	}
	var buf [16]float64
	scores := buf[:0]
	if elements > len(buf) {
		scores = make([]float64, 0, elements)
	}
	for j := 0; j < elements; j++ {
		f, ok := zparseScore(args[scoreIdx+2*j])
		if !ok {
			c.err(ErrNotFloat)
			return
		}
		scores = append(scores, f)
	}
	key := args[1]
	o, ok := c.writeType(key, TypeZSet)
	if !ok {
		return
	}
	z := zsetOf(o)
	created := false
	if z == nil {
		if xx {
			if incr {
				c.W.WriteNull()
			} else {
				c.W.WriteInt(0)
			}
			return
		}
		z = &zsetValue{}
		created = true
	}
	added, updated, processed := 0, 0, 0
	var score float64
	for j := 0; j < elements; j++ {
		out, ns := z.add(c.DB, scores[j], args[scoreIdx+1+2*j], flags)
		if out&zaddOutNaN != 0 {
			// Only INCR of a single element gets here, before any change.
			c.err(errZsetNaN)
			return
		}
		if out&zaddOutAdded != 0 {
			added++
		}
		if out&zaddOutUpdated != 0 {
			updated++
		}
		if out&zaddOutNop == 0 {
			processed++
		}
		score = ns
	}
	if created {
		if z.Len() > 0 {
			c.setKey(key, newCollection(TypeZSet, z), false)
		}
	} else if added+updated > 0 {
		c.modified(key)
	}
	if added > 0 {
		c.ready(key)
	}
	switch {
	case incr && processed > 0:
		c.W.WriteDouble(score)
	case incr:
		c.W.WriteNull()
	case ch:
		c.W.WriteInt(int64(added + updated))
	default:
		c.W.WriteInt(int64(added))
	}
}

// ---- single-element reads ----

// cmdZSCORE: ZSCORE key member
func cmdZSCORE(c *Ctx) {
	o, ok := c.readType(c.Args[1], TypeZSet)
	if !ok {
		return
	}
	z := zsetOf(o)
	if z == nil {
		c.W.WriteNull()
		return
	}
	if s, found := z.score(c.Args[2]); found {
		c.W.WriteDouble(s)
	} else {
		c.W.WriteNull()
	}
}

// cmdZMSCORE: ZMSCORE key member [member ...]
func cmdZMSCORE(c *Ctx) {
	o, ok := c.readType(c.Args[1], TypeZSet)
	if !ok {
		return
	}
	z := zsetOf(o)
	c.W.WriteArray(len(c.Args) - 2)
	for _, m := range c.Args[2:] {
		if z != nil {
			if s, found := z.score(m); found {
				c.W.WriteDouble(s)
				continue
			}
		}
		c.W.WriteNull()
	}
}

// cmdZCARD: ZCARD key
func cmdZCARD(c *Ctx) {
	o, ok := c.readType(c.Args[1], TypeZSet)
	if !ok {
		return
	}
	if z := zsetOf(o); z != nil {
		c.W.WriteInt(int64(z.Len()))
	} else {
		c.W.WriteInt(0)
	}
}

// cmdZRANK: ZRANK key member
func cmdZRANK(c *Ctx) { zrankGeneric(c, false) }

// cmdZREVRANK: ZREVRANK key member
func cmdZREVRANK(c *Ctx) { zrankGeneric(c, true) }

func zrankGeneric(c *Ctx, reverse bool) {
	o, ok := c.readType(c.Args[1], TypeZSet)
	if !ok {
		return
	}
	z := zsetOf(o)
	if z == nil {
		c.W.WriteNull()
		return
	}
	r, found := z.rankOf(c.Args[2])
	if !found {
		c.W.WriteNull()
		return
	}
	if reverse {
		r = z.Len() - 1 - r
	}
	c.W.WriteInt(int64(r))
}

// ---- counts ----

// cmdZCOUNT: ZCOUNT key min max
func cmdZCOUNT(c *Ctx) {
	r, ok := zparseScoreRange(c.Args[2], c.Args[3])
	if !ok {
		c.err(ErrMinMaxFloat)
		return
	}
	o, ok := c.readType(c.Args[1], TypeZSet)
	if !ok {
		return
	}
	z := zsetOf(o)
	if z == nil {
		c.W.WriteInt(0)
		return
	}
	first, last := z.scoreRange(&r)
	c.W.WriteInt(int64(max(last-first+1, 0)))
}

// cmdZLEXCOUNT: ZLEXCOUNT key min max
func cmdZLEXCOUNT(c *Ctx) {
	r, ok := zparseLexRange(c.Args[2], c.Args[3])
	if !ok {
		c.err(ErrMinMaxLex)
		return
	}
	o, ok := c.readType(c.Args[1], TypeZSet)
	if !ok {
		return
	}
	z := zsetOf(o)
	if z == nil {
		c.W.WriteInt(0)
		return
	}
	first, last := z.lexRange(&r, false)
	c.W.WriteInt(int64(max(last-first+1, 0)))
}

// ---- ZRANGE and friends ----

const (
	zrangeAuto = iota
	zrangeRank
	zrangeScore
	zrangeLex
)

const (
	zdirAuto = iota
	zdirForward
	zdirReverse
)

// cmdZRANGE: ZRANGE key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]
func cmdZRANGE(c *Ctx) { zrangeGeneric(c, 1, nil, zrangeAuto, zdirAuto) }

// cmdZRANGESTORE: ZRANGESTORE dst src min max [BYSCORE | BYLEX] [REV] [LIMIT offset count]
func cmdZRANGESTORE(c *Ctx) { zrangeGeneric(c, 2, c.Args[1], zrangeAuto, zdirAuto) }

// cmdZRANGEBYSCORE: ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]
func cmdZRANGEBYSCORE(c *Ctx) { zrangeGeneric(c, 1, nil, zrangeScore, zdirForward) }

// cmdZREVRANGEBYSCORE: ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]
func cmdZREVRANGEBYSCORE(c *Ctx) { zrangeGeneric(c, 1, nil, zrangeScore, zdirReverse) }

// cmdZRANGEBYLEX: ZRANGEBYLEX key min max [LIMIT offset count]
func cmdZRANGEBYLEX(c *Ctx) { zrangeGeneric(c, 1, nil, zrangeLex, zdirForward) }

// cmdZREVRANGEBYLEX: ZREVRANGEBYLEX key max min [LIMIT offset count]
func cmdZREVRANGEBYLEX(c *Ctx) { zrangeGeneric(c, 1, nil, zrangeLex, zdirReverse) }

// cmdZREVRANGE: ZREVRANGE key start stop [WITHSCORES]
func cmdZREVRANGE(c *Ctx) { zrangeGeneric(c, 1, nil, zrangeRank, zdirReverse) }

// zrangeGeneric is Redis's zrangeGenericCommand: the key at argStart, then
// the range, then options. dst is the destination of ZRANGESTORE, or nil.
func zrangeGeneric(c *Ctx, argStart int, dst []byte, rtype, dir int) {
	args := c.Args
	store := dst != nil
	minIdx, maxIdx := argStart+1, argStart+2
	withscores := false
	var offset, limit int64 = 0, -1
	for j := argStart + 3; j < len(args); j++ {
		left := len(args) - j - 1
		switch {
		case !store && c.isArg(j, "withscores"):
			withscores = true
		case c.isArg(j, "limit") && left >= 2:
			var ok bool
			if offset, ok = parseInt(args[j+1]); !ok {
				c.err(ErrNotInteger)
				return
			}
			if limit, ok = parseInt(args[j+2]); !ok {
				c.err(ErrNotInteger)
				return
			}
			j += 2
		case dir == zdirAuto && c.isArg(j, "rev"):
			dir = zdirReverse
		case rtype == zrangeAuto && c.isArg(j, "bylex"):
			rtype = zrangeLex
		case rtype == zrangeAuto && c.isArg(j, "byscore"):
			rtype = zrangeScore
		default:
			c.err(ErrSyntax)
			return
		}
	}
	if dir == zdirAuto {
		dir = zdirForward
	}
	if rtype == zrangeAuto {
		rtype = zrangeRank
	}
	if limit != -1 && rtype == zrangeRank {
		c.err(errZrangeLimit)
		return
	}
	if withscores && rtype == zrangeLex {
		c.err(errZrangeLexScores)
		return
	}
	reverse := dir == zdirReverse
	if reverse && rtype != zrangeRank {
		minIdx, maxIdx = maxIdx, minIdx
	}
	var start, end int64
	var sr zscoreRange
	var lr zlexRange
	switch rtype {
	case zrangeRank:
		var ok bool
		if start, ok = parseInt(args[minIdx]); !ok {
			c.err(ErrNotInteger)
			return
		}
		if end, ok = parseInt(args[maxIdx]); !ok {
			c.err(ErrNotInteger)
			return
		}
	case zrangeScore:
		var ok bool
		if sr, ok = zparseScoreRange(args[minIdx], args[maxIdx]); !ok {
			c.err(ErrMinMaxFloat)
			return
		}
	case zrangeLex:
		var ok bool
		if lr, ok = zparseLexRange(args[minIdx], args[maxIdx]); !ok {
			c.err(ErrMinMaxLex)
			return
		}
	}

	key := args[argStart]
	var o object
	var ok bool
	if store {
		o, ok = c.writeType(key, TypeZSet)
	} else {
		o, ok = c.readType(key, TypeZSet)
	}
	if !ok {
		return
	}
	z := zsetOf(o)
	if z == nil {
		if store {
			c.storeZResult(dst, nil)
		} else {
			c.W.WriteArray(0)
		}
		return
	}

	// The ranks [lo, hi] to return, read from hi down when reverse.
	n := int64(z.Len())
	lo, hi := int64(0), int64(-1)
	switch rtype {
	case zrangeRank:
		if start < 0 {
			start += n
		}
		if end < 0 {
			end += n
		}
		if start < 0 {
			start = 0
		}
		if start <= end && start < n {
			if end >= n {
				end = n - 1
			}
			lo, hi = start, end
			if reverse {
				lo, hi = n-1-end, n-1-start
			}
		}
	default:
		var first, last int
		if rtype == zrangeScore {
			first, last = z.scoreRange(&sr)
		} else {
			first, last = z.lexRange(&lr, reverse)
		}
		lo, hi = zapplyLimit(int64(first), int64(last), offset, limit, reverse)
	}
	if store {
		c.storeZResult(dst, collectZRanks(z, int(lo), int(hi)))
		return
	}
	c.writeZRanks(z, int(lo), int(hi), reverse, withscores)
}

// zapplyLimit narrows the ranks [first, last] of a range to LIMIT offset
// count, read from last down when reverse. As Redis, a negative offset
// gives nothing and a negative count means all.
func zapplyLimit(first, last, offset, limit int64, reverse bool) (lo, hi int64) {
	if last < first || offset < 0 || offset > last-first || limit == 0 {
		return 0, -1
	}
	if !reverse {
		lo, hi = first+offset, last
		if limit > 0 && limit <= hi-lo {
			hi = lo + limit - 1
		}
		return lo, hi
	}
	lo, hi = first, last-offset
	if limit > 0 && limit <= hi-lo {
		lo = hi - limit + 1
	}
	return lo, hi
}

// ---- removals ----

// cmdZREM: ZREM key member [member ...]
func cmdZREM(c *Ctx) {
	key := c.Args[1]
	o, ok := c.writeType(key, TypeZSet)
	if !ok {
		return
	}
	z := zsetOf(o)
	if z == nil {
		c.W.WriteInt(0)
		return
	}
	deleted := 0
	for _, m := range c.Args[2:] {
		if z.remove(m) {
			deleted++
			if z.Len() == 0 {
				break
			}
		}
	}
	if deleted > 0 {
		c.zsetChanged(key, z)
	}
	c.W.WriteInt(int64(deleted))
}

// cmdZREMRANGEBYRANK: ZREMRANGEBYRANK key start stop
func cmdZREMRANGEBYRANK(c *Ctx) { zremrangeGeneric(c, zrangeRank) }

// cmdZREMRANGEBYSCORE: ZREMRANGEBYSCORE key min max
func cmdZREMRANGEBYSCORE(c *Ctx) { zremrangeGeneric(c, zrangeScore) }

// cmdZREMRANGEBYLEX: ZREMRANGEBYLEX key min max
func cmdZREMRANGEBYLEX(c *Ctx) { zremrangeGeneric(c, zrangeLex) }

func zremrangeGeneric(c *Ctx, rtype int) {
	args := c.Args
	var start, end int64
	var sr zscoreRange
	var lr zlexRange
	var ok bool
	switch rtype {
	case zrangeRank:
		if start, ok = parseInt(args[2]); ok {
			end, ok = parseInt(args[3])
		}
		if !ok {
			c.err(ErrNotInteger)
			return
		}
	case zrangeScore:
		if sr, ok = zparseScoreRange(args[2], args[3]); !ok {
			c.err(ErrMinMaxFloat)
			return
		}
	case zrangeLex:
		if lr, ok = zparseLexRange(args[2], args[3]); !ok {
			c.err(ErrMinMaxLex)
			return
		}
	}
	key := args[1]
	o, ok := c.writeType(key, TypeZSet)
	if !ok {
		return
	}
	z := zsetOf(o)
	if z == nil {
		c.W.WriteInt(0)
		return
	}
	n := int64(z.Len())
	first, last := 0, -1
	switch rtype {
	case zrangeRank:
		if start < 0 {
			start += n
		}
		if end < 0 {
			end += n
		}
		if start < 0 {
			start = 0
		}
		if start <= end && start < n {
			if end >= n {
				end = n - 1
			}
			first, last = int(start), int(end)
		}
	case zrangeScore:
		first, last = z.scoreRange(&sr)
	case zrangeLex:
		first, last = z.lexRange(&lr, false)
	}
	deleted := z.deleteRange(first, last)
	if deleted > 0 {
		c.zsetChanged(key, z)
	}
	c.W.WriteInt(int64(deleted))
}

// ---- pops ----

// cmdZPOPMIN: ZPOPMIN key [count]
func cmdZPOPMIN(c *Ctx) { zpopMinMax(c, false) }

// cmdZPOPMAX: ZPOPMAX key [count]
func cmdZPOPMAX(c *Ctx) { zpopMinMax(c, true) }

func zpopMinMax(c *Ctx, max bool) {
	if len(c.Args) > 3 {
		c.err(ErrSyntax)
		return
	}
	count := int64(-1)
	if len(c.Args) == 3 {
		v, ok := parseInt(c.Args[2])
		if !ok || v < 0 {
			c.err(ErrPositive)
			return
		}
		count = v
	}
	// RESP3 nests [member, score] pairs when a count was given.
	nested := c.W.Proto() > 2 && count != -1
	zpopGeneric(c, c.Args[1:2], max, false, count, nested, false)
}

// zpopGeneric is Redis's genericZpopCommand: it pops up to count elements
// (-1: one, unnested) from the first non-empty key, with the reply shapes of
// ZPOPMIN (emitKey false), BZPOPMIN (emitKey) and ZMPOP (emitKey, nested).
func zpopGeneric(c *Ctx, keys [][]byte, max, emitKey bool, count int64, nested, nilWhenEmpty bool) {
	var key []byte
	var z *zsetValue
	for _, k := range keys {
		o, found := c.lookupWrite(k)
		if !found {
			continue
		}
		if o.typ != TypeZSet {
			c.err(ErrWrongType)
			return
		}
		key, z = k, zsetOf(o)
		break
	}
	if z == nil {
		if nilWhenEmpty {
			c.W.WriteNullArray()
		} else {
			c.W.WriteArray(0)
		}
		return
	}
	if count == 0 {
		c.W.WriteArray(0)
		return
	}
	if count == -1 {
		count = 1
	}
	n := z.Len()
	k := int(min(count, int64(n)))
	switch {
	case !nested && !emitKey:
		c.W.WriteArray(2 * k)
	case nested && !emitKey:
		c.W.WriteArray(k)
	case !nested && emitKey:
		c.W.WriteArray(2*k + 1)
		c.W.WriteBulk(key)
	default:
		c.W.WriteArray(2)
		c.W.WriteBulk(key)
		c.W.WriteArray(k)
	}
	var it zsetIter
	if max {
		it = z.iterAt(n - 1)
	} else {
		it = z.iterAt(0)
	}
	for i := 0; i < k; i++ {
		m, s := it.entry()
		if nested {
			c.W.WriteArray(2)
		}
		c.W.WriteBulk(m)
		c.W.WriteDouble(s)
		if max {
			it.prev()
		} else {
			it.next()
		}
	}
	if max {
		z.deleteRange(n-k, n-1)
	} else {
		z.deleteRange(0, k-1)
	}
	c.zsetChanged(key, z)
}

// cmdBZPOPMIN: BZPOPMIN key [key ...] timeout
func cmdBZPOPMIN(c *Ctx) { bzpopMinMax(c, false) }

// cmdBZPOPMAX: BZPOPMAX key [key ...] timeout
func cmdBZPOPMAX(c *Ctx) { bzpopMinMax(c, true) }

func bzpopMinMax(c *Ctx, max bool) {
	n := len(c.Args)
	blockingZpop(c, c.Args[1:n-1], max, n-1, -1, false)
}

// blockingZpop is Redis's blockingGenericZpopCommand: it pops from the
// first non-empty key, or blocks on all of them.
func blockingZpop(c *Ctx, keys [][]byte, max bool, timeoutIdx int, count int64, nested bool) {
	deadline, ok := c.parseTimeout(c.Args[timeoutIdx])
	if !ok {
		return
	}
	for _, k := range keys {
		o, found := c.lookupWrite(k)
		if !found {
			continue
		}
		if o.typ != TypeZSet {
			c.err(ErrWrongType)
			return
		}
		if zsetOf(o).Len() == 0 {
			continue
		}
		zpopGeneric(c, [][]byte{k}, max, true, count, nested, nested)
		return
	}
	c.block(keys, deadline, true)
}

// cmdZMPOP: ZMPOP numkeys key [key ...] MIN | MAX [COUNT count]
func cmdZMPOP(c *Ctx) { zmpopGeneric(c, 1, false) }

// cmdBZMPOP: BZMPOP timeout numkeys key [key ...] MIN | MAX [COUNT count]
func cmdBZMPOP(c *Ctx) { zmpopGeneric(c, 2, true) }

func zmpopGeneric(c *Ctx, numkeysIdx int, block bool) {
	args := c.Args
	numkeys, ok := parseInt(args[numkeysIdx])
	if !ok || numkeys < 1 {
		c.err(errZNumkeys)
		return
	}
	if numkeys >= int64(len(args)) {
		c.err(ErrSyntax)
		return
	}
	whereIdx := numkeysIdx + int(numkeys) + 1
	if whereIdx >= len(args) {
		c.err(ErrSyntax)
		return
	}
	var max bool
	switch {
	case c.isArg(whereIdx, "min"):
	case c.isArg(whereIdx, "max"):
		max = true
	default:
		c.err(ErrSyntax)
		return
	}
	count := int64(-1)
	for j := whereIdx + 1; j < len(args); j++ {
		if count == -1 && c.isArg(j, "count") && j+1 < len(args) {
			j++
			v, ok := parseInt(args[j])
			if !ok || v < 1 {
				c.err(errZCount)
				return
			}
			count = v
		} else {
			c.err(ErrSyntax)
			return
		}
	}
	if count == -1 {
		count = 1
	}
	keys := args[numkeysIdx+1 : whereIdx]
	if block {
		blockingZpop(c, keys, max, 1, count, true)
		return
	}
	zpopGeneric(c, keys, max, true, count, true, true)
}

// ---- ZRANDMEMBER ----

// cmdZRANDMEMBER: ZRANDMEMBER key [count [WITHSCORES]]
func cmdZRANDMEMBER(c *Ctx) {
	args := c.Args
	if len(args) >= 3 {
		l, ok := parseInt(args[2])
		if !ok {
			c.err(ErrNotInteger)
			return
		}
		if l == math.MinInt64 {
			c.err(errZRandCountRange)
			return
		}
		withscores := false
		if len(args) > 4 || (len(args) == 4 && !c.isArg(3, "withscores")) {
			c.err(ErrSyntax)
			return
		}
		if len(args) == 4 {
			withscores = true
			if l < -math.MaxInt64/2 || l > math.MaxInt64/2 {
				c.err(errZValueRange)
				return
			}
		}
		zrandmemberWithCount(c, l, withscores)
		return
	}
	o, ok := c.readType(args[1], TypeZSet)
	if !ok {
		return
	}
	z := zsetOf(o)
	if z == nil {
		c.W.WriteNull()
		return
	}
	it := z.iterAt(c.RandN(z.Len()))
	m, _ := it.entry()
	c.W.WriteBulk(m)
}

func zrandmemberWithCount(c *Ctx, l int64, withscores bool) {
	o, ok := c.readType(c.Args[1], TypeZSet)
	if !ok {
		return
	}
	z := zsetOf(o)
	if z == nil || l == 0 {
		c.W.WriteArray(0)
		return
	}
	size := z.Len()
	if l < 0 {
		// Repeats allowed: independent picks, in the order drawn.
		count := uint64(-l)
		c.writeZArrayLen(int(count), withscores)
		if z.sl == nil {
			offs := make([]int, 0, size)
			for off := lpHdr; off < len(z.lp); off = lpSkip(z.lp, off) {
				offs = append(offs, off)
			}
			for ; count > 0; count-- {
				m, s, _ := lpEntry(z.lp, offs[c.RandN(size)])
				c.writeZEntry(m, s, withscores)
			}
			return
		}
		for ; count > 0; count-- {
			l, i := z.sl.tree.at(c.RandN(size))
			e := &l.ents[i]
			c.writeZEntry(unsafeBytes(e.member), e.score, withscores)
		}
		return
	}
	count := int(min(l, int64(size)))
	if count == size {
		// The whole set, from the highest score down: Redis reads sorted
		// sets from their tail (zuiInitIterator).
		c.writeZRanks(z, 0, size-1, true, withscores)
		return
	}
	c.writeZArrayLen(count, withscores)
	for _, r := range zrandRanks(c, size, count) {
		it := z.iterAt(r)
		m, s := it.entry()
		c.writeZEntry(m, s, withscores)
	}
}

// zrandRanks returns count distinct ranks in [0, size), ascending, chosen
// with the command's random sequence.
func zrandRanks(c *Ctx, size, count int) []int {
	out := make([]int, 0, count)
	if count*3 > size {
		// Selection sampling: each rank is taken with probability
		// needed/remaining.
		need := count
		for i := 0; i < size && need > 0; i++ {
			if c.RandN(size-i) < need {
				out = append(out, i)
				need--
			}
		}
		return out
	}
	// Floyd's algorithm.
	seen := make(map[int]struct{}, count)
	for j := size - count; j < size; j++ {
		t := c.RandN(j + 1)
		if _, dup := seen[t]; dup {
			t = j
		}
		seen[t] = struct{}{}
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// ---- ZSCAN ----

// zscanParseCursor parses a SCAN cursor as Redis (strtoul: an optional sign,
// a negative cursor wraps around; "" is 0).
func zscanParseCursor(b []byte) (uint64, bool) {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	if len(b) == 0 {
		return 0, true
	}
	if isSpace(b[0]) {
		return 0, false
	}
	neg := false
	i := 0
	if b[0] == '+' || b[0] == '-' {
		neg = b[0] == '-'
		i++
	}
	if i == len(b) {
		return 0, false
	}
	var v uint64
	for ; i < len(b); i++ {
		d := b[i]
		if d < '0' || d > '9' {
			return 0, false
		}
		if v > (math.MaxUint64-uint64(d-'0'))/10 {
			return 0, false
		}
		v = v*10 + uint64(d-'0')
	}
	if neg {
		v = -v
	}
	return v, true
}

// appendListpackScore formats a score as a listpack holds it (an integer
// when it is one, as Redis's zzlInsertAt stores it, else "%.17g").
func appendListpackScore(b []byte, s float64) []byte {
	if s >= -(1<<62) && s <= 1<<62 && s == math.Trunc(s) {
		return strconv.AppendInt(b, int64(s), 10)
	}
	return appendDouble(b, s)
}

// cmdZSCAN: ZSCAN key cursor [MATCH pattern] [COUNT count]
func cmdZSCAN(c *Ctx) {
	args := c.Args
	cursor, ok := zscanParseCursor(args[2])
	if !ok {
		c.err(errZInvalidCursor)
		return
	}
	o, ok := c.readType(args[1], TypeZSet)
	if !ok {
		return
	}
	z := zsetOf(o)
	if z == nil {
		c.W.WriteArray(2)
		c.W.WriteBulkString("0")
		c.W.WriteArray(0)
		return
	}
	count := int64(10)
	var pattern string
	usePattern := false
	for i := 3; i < len(args); i += 2 {
		switch {
		case c.isArg(i, "count") && i+1 < len(args):
			v, ok := parseInt(args[i+1])
			if !ok {
				c.err(ErrNotInteger)
				return
			}
			if v < 1 {
				c.err(ErrSyntax)
				return
			}
			count = v
		case c.isArg(i, "match") && i+1 < len(args):
			pattern = unsafeString(args[i+1])
			usePattern = pattern != "*"
		default:
			c.err(ErrSyntax)
			return
		}
	}
	var ents []zent
	var next uint64
	if z.sl == nil {
		z.each(func(m []byte, s float64) bool {
			if !usePattern || GlobMatch(pattern, unsafeString(m), false) {
				ents = append(ents, zent{member: unsafeString(m), score: s})
			}
			return true
		})
	} else {
		next = z.sl.dict.Scan(cursor, int(min(count, math.MaxInt32)), func(k string, s *float64) {
			if !usePattern || GlobMatch(pattern, k, false) {
				ents = append(ents, zent{member: k, score: *s})
			}
		})
	}
	var buf [32]byte
	c.W.WriteArray(2)
	c.W.WriteBulk(strconv.AppendUint(buf[:0], next, 10))
	c.W.WriteArray(2 * len(ents))
	for i := range ents {
		c.W.WriteBulkString(ents[i].member)
		if z.sl == nil {
			c.W.WriteBulk(appendListpackScore(buf[:0], ents[i].score))
		} else {
			c.W.WriteBulk(appendDouble(buf[:0], ents[i].score))
		}
	}
}

// ---- ZUNION, ZINTER, ZDIFF ----

const (
	zsetOpUnion = iota
	zsetOpInter
	zsetOpDiff
)

const (
	zaggrSum = iota
	zaggrMin
	zaggrMax
)

// zopSrc is one input of ZUNION and friends: a sorted set, or a set read
// as a sorted set with scores 1.
type zopSrc struct {
	z       *zsetValue
	set     *setValue
	weight  float64
	members map[string]struct{} // of set, built when searched
}

func (s *zopSrc) length() int {
	switch {
	case s.z != nil:
		return s.z.Len()
	case s.set != nil:
		return s.set.Len()
	}
	return 0
}

// same reports whether two inputs are the same key's value.
func (s *zopSrc) same(o *zopSrc) bool {
	return (s.z != nil && s.z == o.z) || (s.set != nil && s.set == o.set)
}

// each calls fn for every element; keep says whether member may be kept.
func (s *zopSrc) each(fn func(member string, keep bool, score float64)) {
	switch {
	case s.z != nil && s.z.sl != nil:
		s.z.sl.tree.each(func(e *zent) bool {
			fn(e.member, true, e.score)
			return true
		})
	case s.z != nil:
		s.z.each(func(m []byte, score float64) bool {
			fn(unsafeString(m), false, score)
			return true
		})
	case s.set != nil:
		s.set.each(func(m string) bool {
			fn(m, false, 1)
			return true
		})
	}
}

func (s *zopSrc) find(member string) (float64, bool) {
	switch {
	case s.z != nil:
		return s.z.score(unsafeBytes(member))
	case s.set != nil:
		if s.members == nil {
			s.members = make(map[string]struct{}, s.set.Len())
			s.set.each(func(m string) bool {
				s.members[strings.Clone(m)] = struct{}{}
				return true
			})
		}
		if _, ok := s.members[member]; ok {
			return 1, true
		}
	}
	return 0, false
}

func zaggregate(target *float64, val float64, aggr int) {
	switch aggr {
	case zaggrSum:
		*target += val
		// inf + -inf is NaN; Redis makes it 0.
		if math.IsNaN(*target) {
			*target = 0
		}
	case zaggrMin:
		if val < *target {
			*target = val
		}
	case zaggrMax:
		if val > *target {
			*target = val
		}
	}
}

// cmdZUNION: ZUNION numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]
func cmdZUNION(c *Ctx) { zsetOpGeneric(c, nil, 1, zsetOpUnion, false, "zunion") }

// cmdZINTER: ZINTER numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]
func cmdZINTER(c *Ctx) { zsetOpGeneric(c, nil, 1, zsetOpInter, false, "zinter") }

// cmdZDIFF: ZDIFF numkeys key [key ...] [WITHSCORES]
func cmdZDIFF(c *Ctx) { zsetOpGeneric(c, nil, 1, zsetOpDiff, false, "zdiff") }

// cmdZUNIONSTORE: ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX]
func cmdZUNIONSTORE(c *Ctx) { zsetOpGeneric(c, c.Args[1], 2, zsetOpUnion, false, "zunionstore") }

// cmdZINTERSTORE: ZINTERSTORE destination numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX]
func cmdZINTERSTORE(c *Ctx) { zsetOpGeneric(c, c.Args[1], 2, zsetOpInter, false, "zinterstore") }

// cmdZDIFFSTORE: ZDIFFSTORE destination numkeys key [key ...]
func cmdZDIFFSTORE(c *Ctx) { zsetOpGeneric(c, c.Args[1], 2, zsetOpDiff, false, "zdiffstore") }

// cmdZINTERCARD: ZINTERCARD numkeys key [key ...] [LIMIT limit]
func cmdZINTERCARD(c *Ctx) { zsetOpGeneric(c, nil, 1, zsetOpInter, true, "zintercard") }

// zsetOpGeneric is Redis's zunionInterDiffGenericCommand.
func zsetOpGeneric(c *Ctx, dst []byte, numkeysIdx int, op int, cardOnly bool, name string) {
	args := c.Args
	setnum, ok := parseInt(args[numkeysIdx])
	if !ok {
		c.err(ErrNotInteger)
		return
	}
	if setnum < 1 {
		c.err("ERR at least 1 input key is needed for '" + name + "' command")
		return
	}
	if setnum > int64(len(args)-(numkeysIdx+1)) {
		c.err(ErrSyntax)
		return
	}
	srcs := make([]zopSrc, setnum)
	j := numkeysIdx + 1
	for i := range srcs {
		var o object
		var found bool
		if dst != nil {
			o, found = c.lookupWrite(args[j])
		} else {
			o, found = c.lookupRead(args[j])
		}
		if found {
			switch o.typ {
			case TypeZSet:
				srcs[i].z = collection[zsetValue](o)
			case TypeSet:
				srcs[i].set = collection[setValue](o)
			default:
				c.err(ErrWrongType)
				return
			}
		}
		srcs[i].weight = 1
		j++
	}
	aggr := zaggrSum
	withscores := false
	var limit int64
	for remaining := len(args) - j; remaining > 0; remaining = len(args) - j {
		switch {
		case op != zsetOpDiff && !cardOnly && remaining >= len(srcs)+1 && c.isArg(j, "weights"):
			j++
			for i := range srcs {
				w, ok := zparseScore(args[j])
				if !ok {
					c.err(errZWeightFloat)
					return
				}
				srcs[i].weight = w
				j++
			}
		case op != zsetOpDiff && !cardOnly && remaining >= 2 && c.isArg(j, "aggregate"):
			j++
			switch {
			case c.isArg(j, "sum"):
				aggr = zaggrSum
			case c.isArg(j, "min"):
				aggr = zaggrMin
			case c.isArg(j, "max"):
				aggr = zaggrMax
			default:
				c.err(ErrSyntax)
				return
			}
			j++
		case dst == nil && !cardOnly && c.isArg(j, "withscores"):
			j++
			withscores = true
		case cardOnly && remaining >= 2 && c.isArg(j, "limit"):
			v, ok := parseInt(args[j+1])
			if !ok || v < 0 {
				c.err(errZLimitNegative)
				return
			}
			limit = v
			j += 2
		default:
			c.err(ErrSyntax)
			return
		}
	}
	if op != zsetOpDiff {
		// Smallest first, stable as Redis's qsort (a merge sort in glibc).
		slices.SortStableFunc(srcs, func(a, b zopSrc) int { return a.length() - b.length() })
	}

	var res []zent
	var card int64
	switch op {
	case zsetOpInter:
		if srcs[0].length() == 0 {
			break
		}
		src0 := &srcs[0]
		done := false
		src0.each(func(m string, keep bool, s float64) {
			if done {
				return
			}
			score := src0.weight * s
			if math.IsNaN(score) {
				score = 0
			}
			for k := 1; k < len(srcs); k++ {
				var v float64
				if srcs[k].same(src0) {
					v = s * srcs[k].weight
				} else if fs, found := srcs[k].find(m); found {
					v = fs * srcs[k].weight
				} else {
					return
				}
				zaggregate(&score, v, aggr)
			}
			if cardOnly {
				card++
				if limit > 0 && card >= limit {
					done = true
				}
				return
			}
			if !keep {
				m = strings.Clone(m)
			}
			res = append(res, zent{member: m, score: score})
		})
	case zsetOpUnion:
		index := make(map[string]int, srcs[len(srcs)-1].length())
		for i := range srcs {
			src := &srcs[i]
			if src.length() == 0 {
				continue
			}
			src.each(func(m string, keep bool, s float64) {
				score := src.weight * s
				if math.IsNaN(score) {
					score = 0
				}
				if at, found := index[m]; found {
					zaggregate(&res[at].score, score, aggr)
					return
				}
				if !keep {
					m = strings.Clone(m)
				}
				index[m] = len(res)
				res = append(res, zent{member: m, score: score})
			})
		}
	case zsetOpDiff:
		src0 := &srcs[0]
		if src0.length() == 0 {
			break
		}
		src0.each(func(m string, keep bool, s float64) {
			for k := 1; k < len(srcs); k++ {
				if srcs[k].same(src0) {
					return
				}
				if _, found := srcs[k].find(m); found {
					return
				}
			}
			if !keep {
				m = strings.Clone(m)
			}
			res = append(res, zent{member: m, score: s})
		})
	}

	if cardOnly {
		c.W.WriteInt(card)
		return
	}
	sortZents(res)
	if dst != nil {
		c.storeZResult(dst, res)
		return
	}
	c.writeZArrayLen(len(res), withscores)
	for i := range res {
		c.writeZEntry(unsafeBytes(res[i].member), res[i].score, withscores)
	}
}
