package engine

import (
	"bytes"
	"math"
	"strconv"
)

// List commands, as Redis 7.0's t_list.c. The value type, listValue, is in
// list_quicklist.go.

func init() {
	register("lpush", cmdLPUSH)
	register("rpush", cmdRPUSH)
	register("lpushx", cmdLPUSHX)
	register("rpushx", cmdRPUSHX)
	register("lpop", cmdLPOP)
	register("rpop", cmdRPOP)
	register("llen", cmdLLEN)
	register("lrange", cmdLRANGE)
	register("lindex", cmdLINDEX)
	register("lset", cmdLSET)
	register("linsert", cmdLINSERT)
	register("lrem", cmdLREM)
	register("ltrim", cmdLTRIM)
	register("lpos", cmdLPOS)
	register("lmove", cmdLMOVE)
	register("rpoplpush", cmdRPOPLPUSH)
	register("lmpop", cmdLMPOP)
	register("blpop", cmdBLPOP)
	register("brpop", cmdBRPOP)
	register("blmove", cmdBLMOVE)
	register("brpoplpush", cmdBRPOPLPUSH)
	register("blmpop", cmdBLMPOP)
}

// Error texts of the list commands.
const (
	errRankZero = "ERR RANK can't be zero: use 1 to start from the first match, " +
		"2 from the second ... or use negative to start from the end of the list"
	errCountNegative  = "ERR COUNT can't be negative"
	errMaxlenNegative = "ERR MAXLEN can't be negative"
	errNumkeys        = "ERR numkeys should be greater than 0"
	errCountPositive  = "ERR count should be greater than 0"
)

// listRead looks key up for a read command: nil when it is missing;
// ok=false after writing WRONGTYPE.
func (c *Ctx) listRead(key []byte) (v *listValue, ok bool) {
	o, ok := c.readType(key, TypeList)
	if !ok || o.typ == TypeNone {
		return nil, ok
	}
	return collection[listValue](o), true
}

// listWrite is listRead for a write command.
func (c *Ctx) listWrite(key []byte) (v *listValue, ok bool) {
	o, ok := c.writeType(key, TypeList)
	if !ok || o.typ == TypeNone {
		return nil, ok
	}
	return collection[listValue](o), true
}

// listChanged signals a change of the list at key after elements were
// removed, deleting the key when the list became empty.
func (c *Ctx) listChanged(key []byte, v *listValue) {
	if v.Len() == 0 {
		c.deleteKey(key)
	} else {
		c.modified(key)
	}
}

// rangeLong parses arg as Redis's getRangeLongFromObjectOrReply: msg (when
// not empty) is the error for a non-integer or out-of-range value.
func (c *Ctx) rangeLong(arg []byte, lo, hi int64, msg string) (int64, bool) {
	v, ok := parseInt(arg)
	if !ok {
		if msg == "" {
			msg = ErrNotInteger
		}
		c.err(msg)
		return 0, false
	}
	if v < lo || v > hi {
		if msg == "" {
			msg = "ERR value is out of range, value must between " +
				strconv.FormatInt(lo, 10) + " and " + strconv.FormatInt(hi, 10)
		}
		c.err(msg)
		return 0, false
	}
	return v, true
}

// longArg parses an integer argument or writes Redis's error.
func (c *Ctx) longArg(arg []byte) (int64, bool) {
	v, ok := parseInt(arg)
	if !ok {
		c.err(ErrNotInteger)
	}
	return v, ok
}

// listWhere parses LEFT or RIGHT (getListPositionFromObjectOrReply):
// front=true for LEFT.
func (c *Ctx) listWhere(i int) (front, ok bool) {
	switch {
	case c.isArg(i, "LEFT"):
		return true, true
	case c.isArg(i, "RIGHT"):
		return false, true
	}
	c.err(ErrSyntax)
	return false, false
}

// PUSH family

func cmdLPUSH(c *Ctx)  { pushGeneric(c, true, false) }
func cmdRPUSH(c *Ctx)  { pushGeneric(c, false, false) }
func cmdLPUSHX(c *Ctx) { pushGeneric(c, true, true) }
func cmdRPUSHX(c *Ctx) { pushGeneric(c, false, true) }

// pushGeneric: [LR]PUSH[X] key element [element ...]
func pushGeneric(c *Ctx, front, xx bool) {
	key := c.Args[1]
	v, ok := c.listWrite(key)
	if !ok {
		return
	}
	created := v == nil
	if created {
		if xx {
			c.W.WriteInt(0)
			return
		}
		v = newListValue(c.DB.Config().ListMaxListpackSize)
	}
	for _, e := range c.Args[2:] {
		v.push(e, front)
	}
	if created {
		c.setKey(key, newCollection(TypeList, v), false)
	} else {
		c.modified(key)
	}
	c.ready(key)
	c.W.WriteInt(int64(v.Len()))
}

// POP family

func cmdLPOP(c *Ctx) { popGeneric(c, true) }
func cmdRPOP(c *Ctx) { popGeneric(c, false) }

// popGeneric: [LR]POP key [count]
func popGeneric(c *Ctx, front bool) {
	if len(c.Args) > 3 {
		c.wrongArgs()
		return
	}
	hasCount := len(c.Args) == 3
	var count int64
	if hasCount {
		var ok bool
		if count, ok = c.rangeLong(c.Args[2], 0, math.MaxInt64, ErrPositive); !ok {
			return
		}
	}
	key := c.Args[1]
	v, ok := c.listWrite(key)
	if !ok {
		return
	}
	if v == nil {
		if hasCount {
			c.W.WriteNullArray()
		} else {
			c.W.WriteNull()
		}
		return
	}
	if !hasCount {
		c.W.WriteBulk(v.pop(front))
	} else {
		if count == 0 {
			c.W.WriteArray(0)
			return
		}
		c.writePopRange(v, front, count)
	}
	c.listChanged(key, v)
}

// writePopRange replies with up to count elements taken from the head
// (front) or the tail of v, in the order they are popped, and removes them.
func (c *Ctx) writePopRange(v *listValue, front bool, count int64) {
	n := v.Len()
	if count < int64(n) {
		n = int(count)
	}
	c.W.WriteArray(n)
	if front {
		it := v.iterAt(0)
		for i := 0; i < n; i++ {
			b, _ := it.next()
			c.W.WriteBulk(b)
		}
		v.deleteRange(0, n)
	} else {
		it := v.revIterAt(v.Len() - 1)
		for i := 0; i < n; i++ {
			b, _ := it.prev()
			c.W.WriteBulk(b)
		}
		v.deleteRange(v.Len()-n, n)
	}
}

// cmdLLEN: LLEN key
func cmdLLEN(c *Ctx) {
	v, ok := c.listRead(c.Args[1])
	if !ok {
		return
	}
	if v == nil {
		c.W.WriteInt(0)
		return
	}
	c.W.WriteInt(int64(v.Len()))
}

// listRange converts LRANGE/LTRIM indexes as Redis does; empty is true when
// the range selects nothing.
func listRange(start, end int64, n int) (s, e int, empty bool) {
	ln := int64(n)
	if start < 0 {
		start += ln
	}
	if end < 0 {
		end += ln
	}
	if start < 0 {
		start = 0
	}
	if start > end || start >= ln {
		return 0, 0, true
	}
	if end >= ln {
		end = ln - 1
	}
	return int(start), int(end), false
}

// cmdLRANGE: LRANGE key start stop
func cmdLRANGE(c *Ctx) {
	start, ok := c.longArg(c.Args[2])
	if !ok {
		return
	}
	end, ok := c.longArg(c.Args[3])
	if !ok {
		return
	}
	v, ok := c.listRead(c.Args[1])
	if !ok {
		return
	}
	if v == nil {
		c.W.WriteArray(0)
		return
	}
	s, e, empty := listRange(start, end, v.Len())
	if empty {
		c.W.WriteArray(0)
		return
	}
	c.W.WriteArray(e - s + 1)
	it := v.iterAt(s)
	for i := s; i <= e; i++ {
		b, _ := it.next()
		c.W.WriteBulk(b)
	}
}

// normIndex turns a possibly negative index into a position, ok=false when
// it is out of range.
func normIndex(i int64, n int) (int, bool) {
	if i < 0 {
		i += int64(n)
	}
	if i < 0 || i >= int64(n) {
		return 0, false
	}
	return int(i), true
}

// cmdLINDEX: LINDEX key index
func cmdLINDEX(c *Ctx) {
	v, ok := c.listRead(c.Args[1])
	if !ok {
		return
	}
	if v == nil {
		c.W.WriteNull()
		return
	}
	idx, ok := c.longArg(c.Args[2])
	if !ok {
		return
	}
	i, ok := normIndex(idx, v.Len())
	if !ok {
		c.W.WriteNull()
		return
	}
	c.W.WriteBulk(v.index(i))
}

// cmdLSET: LSET key index element
func cmdLSET(c *Ctx) {
	key := c.Args[1]
	v, ok := c.listWrite(key)
	if !ok {
		return
	}
	if v == nil {
		c.err(ErrNoSuchKey)
		return
	}
	idx, ok := c.longArg(c.Args[2])
	if !ok {
		return
	}
	i, ok := normIndex(idx, v.Len())
	if !ok {
		c.err(ErrIndexOutOfRange)
		return
	}
	v.set(i, c.Args[3])
	c.modified(key)
	c.ok()
}

// cmdLINSERT: LINSERT key BEFORE|AFTER pivot element
func cmdLINSERT(c *Ctx) {
	var after bool
	switch {
	case c.isArg(2, "AFTER"):
		after = true
	case c.isArg(2, "BEFORE"):
	default:
		c.err(ErrSyntax)
		return
	}
	key := c.Args[1]
	v, ok := c.listWrite(key)
	if !ok {
		return
	}
	if v == nil {
		c.W.WriteInt(0)
		return
	}
	pivot := c.Args[3]
	it := v.iterAt(0)
	for i := 0; ; i++ {
		b, more := it.next()
		if !more {
			c.W.WriteInt(-1)
			return
		}
		if bytes.Equal(b, pivot) {
			if after {
				i++
			}
			v.insert(i, c.Args[4])
			break
		}
	}
	c.modified(key)
	c.W.WriteInt(int64(v.Len()))
}

// cmdLREM: LREM key count element
func cmdLREM(c *Ctx) {
	count, ok := c.longArg(c.Args[2])
	if !ok {
		return
	}
	key := c.Args[1]
	v, ok := c.listWrite(key)
	if !ok {
		return
	}
	if v == nil {
		c.W.WriteInt(0)
		return
	}
	fromTail := count < 0
	if fromTail {
		count = -count // math.MinInt64 stays negative: no limit, as in Redis
	}
	limit := 0
	if count > 0 && count < int64(v.Len()) {
		limit = int(count)
	}
	removed := v.removeMatches(c.Args[3], limit, fromTail)
	if removed > 0 {
		c.listChanged(key, v)
	}
	c.W.WriteInt(int64(removed))
}

// cmdLTRIM: LTRIM key start stop
func cmdLTRIM(c *Ctx) {
	start, ok := c.longArg(c.Args[2])
	if !ok {
		return
	}
	end, ok := c.longArg(c.Args[3])
	if !ok {
		return
	}
	key := c.Args[1]
	v, ok := c.listWrite(key)
	if !ok {
		return
	}
	if v == nil {
		c.ok()
		return
	}
	n := v.Len()
	s, e, empty := listRange(start, end, n)
	if empty {
		v.deleteRange(0, n)
	} else {
		v.deleteRange(e+1, n-e-1)
		v.deleteRange(0, s)
	}
	c.listChanged(key, v)
	c.ok()
}

// cmdLPOS: LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
func cmdLPOS(c *Ctx) {
	ele := c.Args[2]
	rank, count, maxlen := int64(1), int64(-1), int64(0)
	for j := 3; j < len(c.Args); j++ {
		moreArgs := j+1 < len(c.Args)
		var ok bool
		switch {
		case moreArgs && c.isArg(j, "RANK"):
			j++
			if rank, ok = c.longArg(c.Args[j]); !ok {
				return
			}
			if rank == 0 {
				c.err(errRankZero)
				return
			}
		case moreArgs && c.isArg(j, "COUNT"):
			j++
			if count, ok = c.rangeLong(c.Args[j], 0, math.MaxInt64, errCountNegative); !ok {
				return
			}
		case moreArgs && c.isArg(j, "MAXLEN"):
			j++
			if maxlen, ok = c.rangeLong(c.Args[j], 0, math.MaxInt64, errMaxlenNegative); !ok {
				return
			}
		default:
			c.err(ErrSyntax)
			return
		}
	}
	fromTail := false
	if rank < 0 {
		// As Redis: -math.MinInt64 wraps to itself and then every match
		// counts as reaching the rank.
		rank = -rank
		fromTail = true
	}
	v, ok := c.listRead(c.Args[1])
	if !ok {
		return
	}
	if v == nil {
		if count != -1 {
			c.W.WriteArray(0)
		} else {
			c.W.WriteNull()
		}
		return
	}
	n := int64(v.Len())
	var it listIter
	if fromTail {
		it = v.revIterAt(v.Len() - 1)
	} else {
		it = v.iterAt(0)
	}
	var matches int64
	var found []int64 // match positions, with COUNT
	for index := int64(0); maxlen == 0 || index < maxlen; index++ {
		var b []byte
		var more bool
		if fromTail {
			b, more = it.prev()
		} else {
			b, more = it.next()
		}
		if !more {
			break
		}
		if !bytes.Equal(b, ele) {
			continue
		}
		matches++
		if matches < rank {
			continue
		}
		pos := index
		if fromTail {
			pos = n - index - 1
		}
		if count == -1 {
			c.W.WriteInt(pos)
			return
		}
		found = append(found, pos)
		if count != 0 && matches-rank+1 >= count {
			break
		}
	}
	if count == -1 {
		c.W.WriteNull()
		return
	}
	c.W.WriteArray(len(found))
	for _, p := range found {
		c.W.WriteInt(p)
	}
}

// MOVE family

// cmdLMOVE: LMOVE source destination LEFT|RIGHT LEFT|RIGHT
func cmdLMOVE(c *Ctx) {
	from, ok := c.listWhere(3)
	if !ok {
		return
	}
	to, ok := c.listWhere(4)
	if !ok {
		return
	}
	lmoveGeneric(c, from, to)
}

// cmdRPOPLPUSH: RPOPLPUSH source destination
func cmdRPOPLPUSH(c *Ctx) { lmoveGeneric(c, false, true) }

// lmoveGeneric moves an element from the list at Args[1] to the list at
// Args[2] and replies with it (null when the source is missing).
func lmoveGeneric(c *Ctx, from, to bool) {
	srcKey, dstKey := c.Args[1], c.Args[2]
	src, ok := c.listWrite(srcKey)
	if !ok {
		return
	}
	if src == nil {
		c.W.WriteNull()
		return
	}
	dst, ok := c.listWrite(dstKey)
	if !ok {
		return
	}
	var elem []byte
	if from {
		elem = src.front()
	} else {
		elem = src.back()
	}
	c.W.WriteBulk(elem)
	elem = src.pop(from)
	if dst == src {
		// The popped bytes lie in the chunk the push may rearrange.
		elem = bytes.Clone(elem)
	}
	if dst == nil {
		dst = newListValue(c.DB.Config().ListMaxListpackSize)
		dst.push(elem, to)
		c.setKey(dstKey, newCollection(TypeList, dst), false)
	} else {
		dst.push(elem, to)
		c.modified(dstKey)
	}
	c.ready(dstKey)
	c.listChanged(srcKey, src)
}

// LMPOP

// cmdLMPOP: LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]
func cmdLMPOP(c *Ctx) { lmpopGeneric(c, 1, false) }

// cmdBLMPOP: BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]
func cmdBLMPOP(c *Ctx) { lmpopGeneric(c, 2, true) }

func lmpopGeneric(c *Ctx, numkeysIdx int, block bool) {
	numkeys, ok := c.rangeLong(c.Args[numkeysIdx], 1, math.MaxInt64, errNumkeys)
	if !ok {
		return
	}
	if numkeys >= int64(len(c.Args)-numkeysIdx-1) {
		c.err(ErrSyntax)
		return
	}
	whereIdx := numkeysIdx + int(numkeys) + 1
	front, ok := c.listWhere(whereIdx)
	if !ok {
		return
	}
	count := int64(-1)
	for j := whereIdx + 1; j < len(c.Args); j++ {
		if count == -1 && j+1 < len(c.Args) && c.isArg(j, "COUNT") {
			j++
			if count, ok = c.rangeLong(c.Args[j], 1, math.MaxInt64, errCountPositive); !ok {
				return
			}
		} else {
			c.err(ErrSyntax)
			return
		}
	}
	if count == -1 {
		count = 1
	}
	keys := c.Args[numkeysIdx+1 : whereIdx : whereIdx]
	if block {
		blockingPop(c, keys, front, 1, count)
		return
	}
	for _, key := range keys {
		v, ok := c.listWrite(key)
		if !ok {
			return
		}
		if v == nil {
			continue
		}
		c.W.WriteArray(2)
		c.W.WriteBulk(key)
		c.writePopRange(v, front, count)
		c.listChanged(key, v)
		return
	}
	c.W.WriteNullArray()
}

// Blocking commands: when they find an element they behave as their
// non-blocking forms, else they block (see Ctx.block) and write nothing.

// cmdBLPOP: BLPOP key [key ...] timeout
func cmdBLPOP(c *Ctx) {
	blockingPop(c, c.Args[1:len(c.Args)-1:len(c.Args)-1], true, len(c.Args)-1, -1)
}

// cmdBRPOP: BRPOP key [key ...] timeout
func cmdBRPOP(c *Ctx) {
	blockingPop(c, c.Args[1:len(c.Args)-1:len(c.Args)-1], false, len(c.Args)-1, -1)
}

// blockingPop is Redis's blockingPopGenericCommand: it pops from the first
// non-empty list of keys, replying [key, element] (count == -1, BLPOP and
// BRPOP) or [key, [elements...]] (BLMPOP), or blocks.
func blockingPop(c *Ctx, keys [][]byte, front bool, timeoutIdx int, count int64) {
	deadline, ok := c.parseTimeout(c.Args[timeoutIdx])
	if !ok {
		return
	}
	for _, key := range keys {
		v, ok := c.listWrite(key)
		if !ok {
			return
		}
		if v == nil {
			continue
		}
		c.W.WriteArray(2)
		c.W.WriteBulk(key)
		if count != -1 {
			c.writePopRange(v, front, count)
		} else {
			c.W.WriteBulk(v.pop(front))
		}
		c.listChanged(key, v)
		return
	}
	c.block(keys, deadline, true)
}

// cmdBLMOVE: BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout
func cmdBLMOVE(c *Ctx) {
	from, ok := c.listWhere(3)
	if !ok {
		return
	}
	to, ok := c.listWhere(4)
	if !ok {
		return
	}
	deadline, ok := c.parseTimeout(c.Args[5])
	if !ok {
		return
	}
	blmoveGeneric(c, from, to, deadline)
}

// cmdBRPOPLPUSH: BRPOPLPUSH source destination timeout
func cmdBRPOPLPUSH(c *Ctx) {
	deadline, ok := c.parseTimeout(c.Args[3])
	if !ok {
		return
	}
	blmoveGeneric(c, false, true, deadline)
}

func blmoveGeneric(c *Ctx, from, to bool, deadline int64) {
	src, ok := c.listWrite(c.Args[1])
	if !ok {
		return
	}
	if src == nil {
		c.block(c.Args[1:2:2], deadline, false)
		return
	}
	lmoveGeneric(c, from, to)
}
