package engine

import (
	"cmp"
	"math"
	"slices"
	"strconv"
)

func init() {
	register("sadd", cmdSADD)
	register("srem", cmdSREM)
	register("smove", cmdSMOVE)
	register("sismember", cmdSISMEMBER)
	register("smismember", cmdSMISMEMBER)
	register("scard", cmdSCARD)
	register("spop", cmdSPOP)
	register("srandmember", cmdSRANDMEMBER)
	register("smembers", cmdSMEMBERS)
	register("sinter", cmdSINTER)
	register("sintercard", cmdSINTERCARD)
	register("sinterstore", cmdSINTERSTORE)
	register("sunion", cmdSUNION)
	register("sunionstore", cmdSUNIONSTORE)
	register("sdiff", cmdSDIFF)
	register("sdiffstore", cmdSDIFFSTORE)
	register("sscan", cmdSSCAN)
}

// Error texts of the set commands.
const (
	errNumkeysPositive = "ERR numkeys should be greater than 0"
	errNumkeysTooMany  = "ERR Number of keys can't be greater than number of args"
	errLimitNegative   = "ERR LIMIT can't be negative"
)

// setValue is the value of a set key. As in Redis 7.0 it is an "intset"
// (sorted packed integers, see set_intset.go) while every member is an
// integer that fits int64 and there are at most set-max-intset-entries of
// them, else a Dict ("hashtable"); it never converts back.
type setValue struct {
	is   intset
	dict *Dict[struct{}]
}

// Len returns the number of elements.
func (v *setValue) Len() int {
	if v.dict != nil {
		return v.dict.Len()
	}
	return v.is.len()
}

// encodingName returns what OBJECT ENCODING says for this value.
func (v *setValue) encodingName() string {
	if v.dict != nil {
		return "hashtable"
	}
	return "intset"
}

// clone returns a deep copy (COPY). A hashtable copy keeps the layout, so it
// makes the same random choices as the original.
func (v *setValue) clone() *setValue {
	if v.dict == nil {
		return &setValue{is: v.is.clone()}
	}
	d := NewDict[struct{}](v.dict.seed)
	d.Reserve(v.dict.Cap())
	v.dict.EachBucket(func(b int, k string, _ *struct{}) bool {
		d.PlaceAt(b, k, struct{}{})
		return true
	})
	return &setValue{dict: d}
}

// memoryUsage estimates the bytes the value holds (MEMORY USAGE). For a
// hashtable it samples the first members, as Redis's MEMORY USAGE does.
func (v *setValue) memoryUsage() int { return v.memoryUsageSampled(memorySamples) }

// memoryUsageSampled is memoryUsage measuring at most samples elements of
// a hashtable (MEMORY USAGE key SAMPLES n).
func (v *setValue) memoryUsageSampled(samples int) int {
	const header = 48
	if v.dict == nil {
		return header + cap(v.is.data)
	}
	const entry = 4 + 16 // hash + key string header
	total := header + v.dict.Cap()*entry
	sampled, bytes := 0, 0
	v.dict.Each(func(k string, _ *struct{}) bool {
		bytes += allocSize(len(k))
		sampled++
		return sampled < samples
	})
	if sampled > 0 {
		total += bytes * v.dict.Len() / sampled
	}
	return total
}

// each calls fn for every member until it returns false (ZUNIONSTORE and
// friends read sets as sorted sets with score 1).
func (v *setValue) each(fn func(member string) bool) {
	v.iter(func(s string, i int64, isInt bool) bool {
		if isInt {
			s = strconv.FormatInt(i, 10)
		}
		return fn(s)
	})
}

// iter calls fn for every member in encoding order (ascending for an
// intset, Dict order for a hashtable) until it returns false. An intset
// member comes as i with isInt set, a hashtable member as s.
func (v *setValue) iter(fn func(s string, i int64, isInt bool) bool) {
	if v.dict != nil {
		v.dict.Each(func(k string, _ *struct{}) bool { return fn(k, 0, false) })
		return
	}
	for j, n := 0, v.is.len(); j < n; j++ {
		if !fn("", v.is.get(j), true) {
			return
		}
	}
}

// newSetFor returns an empty set of the encoding Redis's setTypeCreate picks
// for a first member.
func newSetFor(seed uint64, member []byte) *setValue {
	if _, ok := parseInt(member); ok {
		return &setValue{}
	}
	return &setValue{dict: NewDict[struct{}](seed)}
}

// convert turns an intset into a hashtable, presized as Redis does.
func (v *setValue) convert(seed uint64) {
	d := NewDict[struct{}](seed)
	n := v.is.len()
	if n > 0 {
		d.Reserve(dictCapFor(n))
	}
	for j := 0; j < n; j++ {
		d.Set(strconv.FormatInt(v.is.get(j), 10), struct{}{})
	}
	v.dict, v.is = d, intset{}
}

// add adds member (copied) and reports whether it was absent.
func (v *setValue) add(maxIntset int, seed uint64, member []byte) bool {
	if v.dict == nil {
		if iv, ok := parseInt(member); ok {
			return v.addInt(maxIntset, seed, iv)
		}
		v.convert(seed)
		v.dict.Set(string(member), struct{}{})
		return true
	}
	if v.dict.Has(unsafeString(member)) {
		return false
	}
	v.dict.Set(string(member), struct{}{})
	return true
}

// addInt adds an integer member.
func (v *setValue) addInt(maxIntset int, seed uint64, iv int64) bool {
	if v.dict == nil {
		if !v.is.add(iv) {
			return false
		}
		if v.is.len() > maxIntset {
			v.convert(seed)
		}
		return true
	}
	var buf [20]byte
	b := strconv.AppendInt(buf[:0], iv, 10)
	if v.dict.Has(unsafeString(b)) {
		return false
	}
	v.dict.Set(string(b), struct{}{})
	return true
}

// addElem adds a member as iter yields it; a string is shared, not copied
// (strings never change).
func (v *setValue) addElem(maxIntset int, seed uint64, s string, i int64, isInt bool) bool {
	if isInt {
		return v.addInt(maxIntset, seed, i)
	}
	if v.dict == nil {
		if iv, ok := parseInt(unsafeBytes(s)); ok {
			return v.addInt(maxIntset, seed, iv)
		}
		v.convert(seed)
	}
	if v.dict.Has(s) {
		return false
	}
	v.dict.Set(s, struct{}{})
	return true
}

// has reports whether member is in the set.
func (v *setValue) has(member []byte) bool {
	if v.dict != nil {
		return v.dict.Has(unsafeString(member))
	}
	iv, ok := parseInt(member)
	return ok && v.is.contains(iv)
}

// hasElem is has for a member as iter yields it.
func (v *setValue) hasElem(s string, i int64, isInt bool) bool {
	if isInt {
		if v.dict == nil {
			return v.is.contains(i)
		}
		var buf [20]byte
		return v.dict.Has(unsafeString(strconv.AppendInt(buf[:0], i, 10)))
	}
	if v.dict != nil {
		return v.dict.Has(s)
	}
	iv, ok := parseInt(unsafeBytes(s))
	return ok && v.is.contains(iv)
}

// remove deletes member and reports whether it was present.
func (v *setValue) remove(member []byte) bool {
	if v.dict != nil {
		_, ok := v.dict.Delete(unsafeString(member))
		return ok
	}
	iv, ok := parseInt(member)
	return ok && v.is.remove(iv)
}

// removeElem is remove for a member as iter yields it.
func (v *setValue) removeElem(s string, i int64, isInt bool) bool {
	if isInt {
		if v.dict == nil {
			return v.is.remove(i)
		}
		var buf [20]byte
		_, ok := v.dict.Delete(unsafeString(strconv.AppendInt(buf[:0], i, 10)))
		return ok
	}
	return v.remove(unsafeBytes(s))
}

// random returns a random member of a non-empty set: Dict.Random for a
// hashtable, a uniform index for an intset.
func (v *setValue) random(c *Ctx) (s string, i int64, isInt bool) {
	if v.dict != nil {
		k, _, _ := v.dict.Random(c.Rand())
		return k, 0, false
	}
	return "", v.is.get(c.RandN(v.is.len())), true
}

// setReplier writes members, formatting integers without allocating.
type setReplier struct {
	w   Writer
	buf [24]byte
}

func (r *setReplier) elem(s string, i int64, isInt bool) {
	if isInt {
		r.w.WriteBulk(strconv.AppendInt(r.buf[:0], i, 10))
	} else {
		r.w.WriteBulkString(s)
	}
}

// writeAll replies with every member, as a set.
func (r *setReplier) writeAll(v *setValue) {
	r.w.WriteSet(v.Len())
	v.iter(func(s string, i int64, isInt bool) bool {
		r.elem(s, i, isInt)
		return true
	})
}

// setLookupRead returns the set at key for a read command; v is nil when
// the key is missing, ok false after a WRONGTYPE reply.
func setLookupRead(c *Ctx, key []byte) (v *setValue, ok bool) {
	o, ok := c.readType(key, TypeSet)
	if !ok || o.typ == TypeNone {
		return nil, ok
	}
	return collection[setValue](o), true
}

// setLookupWrite is setLookupRead for a write command.
func setLookupWrite(c *Ctx, key []byte) (v *setValue, ok bool) {
	o, ok := c.writeType(key, TypeSet)
	if !ok || o.typ == TypeNone {
		return nil, ok
	}
	return collection[setValue](o), true
}

// cmdSADD: SADD key member [member ...]
func cmdSADD(c *Ctx) {
	key := c.Args[1]
	v, ok := setLookupWrite(c, key)
	if !ok {
		return
	}
	seed := c.DB.Seed()
	created := v == nil
	if created {
		v = newSetFor(seed, c.Args[2])
	}
	maxIntset := c.DB.Config().SetMaxIntsetEntries
	added := 0
	for _, m := range c.Args[2:] {
		if v.add(maxIntset, seed, m) {
			added++
		}
	}
	if created {
		c.setKey(key, newCollection(TypeSet, v), false)
	} else if added > 0 {
		c.modified(key)
	}
	c.W.WriteInt(int64(added))
}

// cmdSREM: SREM key member [member ...]
func cmdSREM(c *Ctx) {
	key := c.Args[1]
	v, ok := setLookupWrite(c, key)
	if !ok {
		return
	}
	if v == nil {
		c.W.WriteInt(0)
		return
	}
	deleted := 0
	removed := false
	for _, m := range c.Args[2:] {
		if v.remove(m) {
			deleted++
			if v.Len() == 0 {
				c.deleteKey(key)
				removed = true
				break
			}
		}
	}
	if deleted > 0 && !removed {
		c.modified(key)
	}
	c.W.WriteInt(int64(deleted))
}

// cmdSMOVE: SMOVE source destination member
func cmdSMOVE(c *Ctx) {
	srcKey, dstKey, member := c.Args[1], c.Args[2], c.Args[3]
	srcObj, srcFound := c.lookupWrite(srcKey)
	dstObj, dstFound := c.lookupWrite(dstKey)
	if !srcFound {
		c.W.WriteInt(0)
		return
	}
	if srcObj.typ != TypeSet || (dstFound && dstObj.typ != TypeSet) {
		c.err(ErrWrongType)
		return
	}
	src := collection[setValue](srcObj)
	var dst *setValue
	if dstFound {
		dst = collection[setValue](dstObj)
	}
	if src == dst {
		if src.has(member) {
			c.W.WriteInt(1)
		} else {
			c.W.WriteInt(0)
		}
		return
	}
	if !src.remove(member) {
		c.W.WriteInt(0)
		return
	}
	if src.Len() == 0 {
		c.deleteKey(srcKey)
	} else {
		c.modified(srcKey)
	}
	seed := c.DB.Seed()
	maxIntset := c.DB.Config().SetMaxIntsetEntries
	if dst == nil {
		dst = newSetFor(seed, member)
		dst.add(maxIntset, seed, member)
		c.setKey(dstKey, newCollection(TypeSet, dst), false)
	} else {
		dst.add(maxIntset, seed, member)
		c.modified(dstKey)
	}
	c.W.WriteInt(1)
}

// cmdSISMEMBER: SISMEMBER key member
func cmdSISMEMBER(c *Ctx) {
	v, ok := setLookupRead(c, c.Args[1])
	if !ok {
		return
	}
	if v != nil && v.has(c.Args[2]) {
		c.W.WriteInt(1)
	} else {
		c.W.WriteInt(0)
	}
}

// cmdSMISMEMBER: SMISMEMBER key member [member ...]
func cmdSMISMEMBER(c *Ctx) {
	v, ok := setLookupRead(c, c.Args[1])
	if !ok {
		return
	}
	c.W.WriteArray(len(c.Args) - 2)
	for _, m := range c.Args[2:] {
		if v != nil && v.has(m) {
			c.W.WriteInt(1)
		} else {
			c.W.WriteInt(0)
		}
	}
}

// cmdSCARD: SCARD key
func cmdSCARD(c *Ctx) {
	v, ok := setLookupRead(c, c.Args[1])
	if !ok {
		return
	}
	if v == nil {
		c.W.WriteInt(0)
		return
	}
	c.W.WriteInt(int64(v.Len()))
}

// cmdSMEMBERS: SMEMBERS key (in Redis 7.0, SINTER of one key).
func cmdSMEMBERS(c *Ctx) {
	v, ok := setLookupRead(c, c.Args[1])
	if !ok {
		return
	}
	if v == nil {
		c.W.WriteSet(0)
		return
	}
	r := &setReplier{w: c.W}
	r.writeAll(v)
}

// SPOP_MOVE_STRATEGY_MUL in Redis: SPOP with a count builds a new set from
// the members that stay when count is large compared to what remains.
const spopMoveStrategyMul = 5

// cmdSPOP: SPOP key [count]
func cmdSPOP(c *Ctx) {
	if len(c.Args) == 3 {
		spopWithCount(c)
		return
	}
	if len(c.Args) > 3 {
		c.err(ErrSyntax)
		return
	}
	key := c.Args[1]
	v, ok := setLookupWrite(c, key)
	if !ok {
		return
	}
	if v == nil {
		c.W.WriteNull()
		return
	}
	s, i, isInt := v.random(c)
	v.removeElem(s, i, isInt)
	r := &setReplier{w: c.W}
	r.elem(s, i, isInt)
	if v.Len() == 0 {
		c.deleteKey(key)
	} else {
		c.modified(key)
	}
}

func spopWithCount(c *Ctx) {
	l, ok := parseInt(c.Args[2])
	if !ok || l < 0 {
		c.err(ErrPositive)
		return
	}
	count := int(l)
	key := c.Args[1]
	v, ok := setLookupWrite(c, key)
	if !ok {
		return
	}
	if v == nil || count == 0 {
		c.W.WriteSet(0)
		return
	}
	size := v.Len()
	r := &setReplier{w: c.W}

	// CASE 1: count >= size: the whole set (as SUNION of it), then delete.
	if count >= size {
		r.writeAll(sunionDiff(c, []*setValue{v}, setOpUnion))
		c.deleteKey(key)
		return
	}

	remaining := size - count
	c.W.WriteSet(count)
	if remaining*spopMoveStrategyMul > count {
		// CASE 2: pop count random members one by one.
		for ; count > 0; count-- {
			s, i, isInt := v.random(c)
			r.elem(s, i, isInt)
			v.removeElem(s, i, isInt)
		}
	} else {
		// CASE 3: move the members that stay to a new set, reply with
		// what is left in the old one, and keep the new one.
		seed := c.DB.Seed()
		maxIntset := c.DB.Config().SetMaxIntsetEntries
		var newset *setValue
		for ; remaining > 0; remaining-- {
			s, i, isInt := v.random(c)
			if newset == nil {
				if isInt {
					newset = &setValue{}
				} else {
					newset = newSetFor(seed, unsafeBytes(s))
				}
			}
			newset.addElem(maxIntset, seed, s, i, isInt)
			v.removeElem(s, i, isInt)
		}
		v.iter(func(s string, i int64, isInt bool) bool {
			r.elem(s, i, isInt)
			return true
		})
		*v = *newset
	}
	c.modified(key)
}

// SRANDMEMBER_SUB_STRATEGY_MUL in Redis: see hrandSubStrategyMul.
const srandSubStrategyMul = 3

// cmdSRANDMEMBER: SRANDMEMBER key [count]
func cmdSRANDMEMBER(c *Ctx) {
	if len(c.Args) == 3 {
		srandmemberWithCount(c)
		return
	}
	if len(c.Args) > 3 {
		c.err(ErrSyntax)
		return
	}
	v, ok := setLookupRead(c, c.Args[1])
	if !ok {
		return
	}
	if v == nil {
		c.W.WriteNull()
		return
	}
	r := &setReplier{w: c.W}
	r.elem(v.random(c))
}

// srandmemberWithCount follows Redis 7.0's srandmemberWithCountCommand (whose
// replies are arrays, even in RESP3), with the random source replaced by
// c.Rand.
func srandmemberWithCount(c *Ctx) {
	l, ok := parseInt(c.Args[2])
	if !ok {
		c.err(ErrNotInteger)
		return
	}
	if l == math.MinInt64 {
		c.err(errRangeNotMinLong)
		return
	}
	count, uniq := l, true
	if l < 0 {
		count, uniq = -l, false
	}
	v, ok := setLookupRead(c, c.Args[1])
	if !ok {
		return
	}
	if v == nil || count == 0 {
		c.W.WriteArray(0)
		return
	}
	size := int64(v.Len())
	r := &setReplier{w: c.W}

	// CASE 1: negative count (or 1): independent picks, repeats allowed.
	if !uniq || count == 1 {
		c.W.WriteArray(int(count))
		for ; count > 0; count-- {
			r.elem(v.random(c))
		}
		return
	}

	// CASE 2: the whole set.
	if count >= size {
		c.W.WriteArray(int(size))
		v.iter(func(s string, i int64, isInt bool) bool {
			r.elem(s, i, isInt)
			return true
		})
		return
	}
	c.W.WriteArray(int(count))

	// CASE 3: count is close to the size: drop random members from a copy
	// until count remain (the survivors are replied in encoding order).
	if count*srandSubStrategyMul > size {
		type elem struct {
			s     string
			i     int64
			isInt bool
		}
		all := make([]elem, 0, size)
		v.iter(func(s string, i int64, isInt bool) bool {
			all = append(all, elem{s, i, isInt})
			return true
		})
		keep := make([]int32, size)
		for j := range keep {
			keep[j] = int32(j)
		}
		dropped := make([]bool, size)
		for n := size; n > count; n-- {
			j := c.RandN(int(n))
			dropped[keep[j]] = true
			keep[j] = keep[n-1]
		}
		for j, e := range all {
			if !dropped[j] {
				r.elem(e.s, e.i, e.isInt)
			}
		}
		return
	}

	// CASE 4: count is small compared to the size: random picks until
	// count are distinct, replied in the order picked.
	if v.dict == nil {
		seen := make(map[int64]struct{}, count)
		for added := int64(0); added < count; {
			_, i, _ := v.random(c)
			if _, dup := seen[i]; dup {
				continue
			}
			seen[i] = struct{}{}
			added++
			r.elem("", i, true)
		}
		return
	}
	seen := make(map[string]struct{}, count)
	for added := int64(0); added < count; {
		s, _, _ := v.random(c)
		if _, dup := seen[s]; dup {
			continue
		}
		seen[s] = struct{}{}
		added++
		r.elem(s, 0, false)
	}
}

// setLookupMany looks up keys as sets for SINTER, SUNION, SDIFF and their
// STORE forms; a missing key is nil. ok is false after a WRONGTYPE reply.
func setLookupMany(c *Ctx, keys [][]byte, write bool) (sets []*setValue, anyMissing, ok bool) {
	sets = make([]*setValue, len(keys))
	for j, k := range keys {
		var o object
		if write {
			o, ok = c.writeType(k, TypeSet)
		} else {
			o, ok = c.readType(k, TypeSet)
		}
		if !ok {
			return nil, false, false
		}
		if o.typ == TypeNone {
			anyMissing = true
			continue
		}
		sets[j] = collection[setValue](o)
	}
	return sets, anyMissing, true
}

// storeSetResult stores a STORE command's result at dst (deleting dst when
// it is empty) and replies with its size.
func storeSetResult(c *Ctx, dst []byte, result *setValue) {
	if result == nil || result.Len() == 0 {
		c.deleteKey(dst)
		c.W.WriteInt(0)
		return
	}
	c.setKey(dst, newCollection(TypeSet, result), false)
	c.W.WriteInt(int64(result.Len()))
}

// sinterGeneric follows Redis 7.0's sinterGenericCommand: SINTER (dst nil),
// SINTERSTORE, and SINTERCARD (cardOnly, stopping at limit when > 0).
func sinterGeneric(c *Ctx, keys [][]byte, dst []byte, cardOnly bool, limit int64) {
	sets, anyMissing, ok := setLookupMany(c, keys, dst != nil)
	if !ok {
		return
	}
	// The intersection with an empty set is empty.
	if anyMissing {
		switch {
		case dst != nil:
			storeSetResult(c, dst, nil)
		case cardOnly:
			c.W.WriteInt(0)
		default:
			c.W.WriteSet(0)
		}
		return
	}
	slices.SortStableFunc(sets, func(a, b *setValue) int { return cmp.Compare(a.Len(), b.Len()) })

	var result *setValue
	seed := c.DB.Seed()
	maxIntset := c.DB.Config().SetMaxIntsetEntries
	if dst != nil {
		result = &setValue{}
	}
	var ints []int64
	var strs []string
	var card int64
	sets[0].iter(func(s string, i int64, isInt bool) bool {
		for _, other := range sets[1:] {
			if other != sets[0] && !other.hasElem(s, i, isInt) {
				return true
			}
		}
		switch {
		case result != nil:
			result.addElem(maxIntset, seed, s, i, isInt)
		case cardOnly:
			card++
			if limit > 0 && card == limit {
				return false
			}
		case isInt:
			ints = append(ints, i)
		default:
			strs = append(strs, s)
		}
		return true
	})
	switch {
	case dst != nil:
		storeSetResult(c, dst, result)
	case cardOnly:
		c.W.WriteInt(card)
	default:
		r := &setReplier{w: c.W}
		c.W.WriteSet(len(ints) + len(strs))
		for _, i := range ints {
			r.elem("", i, true)
		}
		for _, s := range strs {
			r.elem(s, 0, false)
		}
	}
}

// cmdSINTER: SINTER key [key ...]
func cmdSINTER(c *Ctx) { sinterGeneric(c, c.Args[1:], nil, false, 0) }

// cmdSINTERSTORE: SINTERSTORE destination key [key ...]
func cmdSINTERSTORE(c *Ctx) { sinterGeneric(c, c.Args[2:], c.Args[1], false, 0) }

// cmdSINTERCARD: SINTERCARD numkeys key [key ...] [LIMIT limit]
func cmdSINTERCARD(c *Ctx) {
	numkeys, ok := parseInt(c.Args[1])
	if !ok || numkeys < 1 {
		c.err(errNumkeysPositive)
		return
	}
	if numkeys > int64(len(c.Args)-2) {
		c.err(errNumkeysTooMany)
		return
	}
	var limit int64
	for j := 2 + int(numkeys); j < len(c.Args); j++ {
		if c.isArg(j, "limit") && j+1 < len(c.Args) {
			j++
			l, valid := parseInt(c.Args[j])
			if !valid || l < 0 {
				c.err(errLimitNegative)
				return
			}
			limit = l
		} else {
			c.err(ErrSyntax)
			return
		}
	}
	sinterGeneric(c, c.Args[2:2+numkeys], nil, true, limit)
}

const (
	setOpUnion = iota
	setOpDiff
)

// sunionDiff computes SUNION or SDIFF of sets (nil for a missing key) into
// a new set, following Redis 7.0's sunionDiffGenericCommand, including its
// choice between the two SDIFF algorithms.
func sunionDiff(c *Ctx, sets []*setValue, op int) *setValue {
	seed := c.DB.Seed()
	maxIntset := c.DB.Config().SetMaxIntsetEntries
	dst := &setValue{}
	sameset := false
	for j := 1; j < len(sets); j++ {
		if sets[j] != nil && sets[j] == sets[0] {
			sameset = true
		}
	}
	switch {
	case op == setOpUnion:
		for _, s := range sets {
			if s == nil {
				continue
			}
			s.iter(func(str string, i int64, isInt bool) bool {
				dst.addElem(maxIntset, seed, str, i, isInt)
				return true
			})
		}
	case sameset || sets[0] == nil:
		// A key diffed with itself, or nothing to diff from: empty.
	default:
		// Algorithm 1 is O(N*M) with N the size of the first set and M
		// the number of sets; algorithm 2 is O(N) with N the total of
		// all sizes. Pick the cheaper, as Redis.
		var work1, work2 int64
		for _, s := range sets {
			if s == nil {
				continue
			}
			work1 += int64(sets[0].Len())
			work2 += int64(s.Len())
		}
		work1 /= 2
		if work1 <= work2 {
			others := slices.Clone(sets[1:])
			// Larger sets first: a member found early is dropped early.
			slices.SortStableFunc(others, func(a, b *setValue) int {
				return cmp.Compare(setLen(b), setLen(a))
			})
			sets[0].iter(func(str string, i int64, isInt bool) bool {
				for _, o := range others {
					if o != nil && o.hasElem(str, i, isInt) {
						return true
					}
				}
				dst.addElem(maxIntset, seed, str, i, isInt)
				return true
			})
		} else {
			card := 0
			for j, s := range sets {
				if s == nil {
					continue
				}
				s.iter(func(str string, i int64, isInt bool) bool {
					if j == 0 {
						if dst.addElem(maxIntset, seed, str, i, isInt) {
							card++
						}
					} else if dst.removeElem(str, i, isInt) {
						card--
					}
					return true
				})
				if card == 0 {
					break
				}
			}
		}
	}
	return dst
}

func setLen(v *setValue) int {
	if v == nil {
		return 0
	}
	return v.Len()
}

func sunionDiffCommand(c *Ctx, keys [][]byte, dst []byte, op int) {
	sets, _, ok := setLookupMany(c, keys, dst != nil)
	if !ok {
		return
	}
	result := sunionDiff(c, sets, op)
	if dst != nil {
		storeSetResult(c, dst, result)
		return
	}
	r := &setReplier{w: c.W}
	r.writeAll(result)
}

// cmdSUNION: SUNION key [key ...]
func cmdSUNION(c *Ctx) { sunionDiffCommand(c, c.Args[1:], nil, setOpUnion) }

// cmdSUNIONSTORE: SUNIONSTORE destination key [key ...]
func cmdSUNIONSTORE(c *Ctx) { sunionDiffCommand(c, c.Args[2:], c.Args[1], setOpUnion) }

// cmdSDIFF: SDIFF key [key ...]
func cmdSDIFF(c *Ctx) { sunionDiffCommand(c, c.Args[1:], nil, setOpDiff) }

// cmdSDIFFSTORE: SDIFFSTORE destination key [key ...]
func cmdSDIFFSTORE(c *Ctx) { sunionDiffCommand(c, c.Args[2:], c.Args[1], setOpDiff) }

// cmdSSCAN: SSCAN key cursor [MATCH pattern] [COUNT count]
func cmdSSCAN(c *Ctx) {
	cursor, ok := hsParseScanCursor(c.Args[2])
	if !ok {
		c.err(errInvalidCursor)
		return
	}
	v, ok := setLookupRead(c, c.Args[1])
	if !ok {
		return
	}
	if v == nil {
		hsWriteScanReply(c, 0, nil)
		return
	}
	pattern, usePattern, count, ok := hsScanOptions(c, 3)
	if !ok {
		return
	}
	var items [][]byte
	add := func(m []byte) {
		if usePattern && !GlobMatch(pattern, unsafeString(m), false) {
			return
		}
		items = append(items, m)
	}
	if v.dict == nil {
		// An intset is returned whole in one call, as Redis does.
		for j, n := 0, v.is.len(); j < n; j++ {
			add(strconv.AppendInt(nil, v.is.get(j), 10))
		}
		cursor = 0
	} else {
		cursor = v.dict.Scan(cursor, count, func(k string, _ *struct{}) {
			add(unsafeBytes(k))
		})
	}
	hsWriteScanReply(c, cursor, items)
}
