package engine

import (
	"math"
	"math/big"
	"strconv"
)

func init() {
	register("hset", cmdHSET)
	register("hmset", cmdHMSET)
	register("hsetnx", cmdHSETNX)
	register("hget", cmdHGET)
	register("hmget", cmdHMGET)
	register("hdel", cmdHDEL)
	register("hexists", cmdHEXISTS)
	register("hlen", cmdHLEN)
	register("hstrlen", cmdHSTRLEN)
	register("hgetall", cmdHGETALL)
	register("hkeys", cmdHKEYS)
	register("hvals", cmdHVALS)
	register("hincrby", cmdHINCRBY)
	register("hincrbyfloat", cmdHINCRBYFLOAT)
	register("hscan", cmdHSCAN)
	register("hrandfield", cmdHRANDFIELD)
}

// Error texts of the hash commands.
const (
	errHashValueNaNOrInf   = "ERR value is NaN or Infinity"
	errHashValueOutOfRange = "ERR value is out of range"
	errRangeNotMinLong     = "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
)

// hashValue is the value of a hash key. While it is small it is "listpack"
// encoded: the pairs packed in one []byte, in insertion order (see
// hash_listpack.go). It converts to a Dict ("hashtable") when it gets more
// than hash-max-listpack-entries fields or a field or value longer than
// hash-max-listpack-value bytes, and never converts back, as Redis 7.0.
type hashValue struct {
	lp   []byte        // listpack encoding, when dict is nil
	n    int           // number of pairs in lp
	dict *Dict[string] // hashtable encoding; a field and its value share one allocation
}

// Len returns the number of elements.
func (v *hashValue) Len() int {
	if v.dict != nil {
		return v.dict.Len()
	}
	return v.n
}

// encodingName returns what OBJECT ENCODING says for this value.
func (v *hashValue) encodingName() string {
	if v.dict != nil {
		return "hashtable"
	}
	return "listpack"
}

// clone returns a deep copy (COPY). A hashtable copy keeps the layout, so it
// makes the same random choices as the original.
func (v *hashValue) clone() *hashValue {
	if v.dict == nil {
		return &hashValue{lp: append([]byte(nil), v.lp...), n: v.n}
	}
	d := NewDict[string](v.dict.seed)
	d.Reserve(v.dict.Cap())
	v.dict.EachBucket(func(b int, k string, val *string) bool {
		d.PlaceAt(b, k, *val) // strings are immutable: sharing them is a copy
		return true
	})
	return &hashValue{dict: d}
}

// memoryUsage estimates the bytes the value holds (MEMORY USAGE). For a
// hashtable it samples the first entries, as Redis's MEMORY USAGE does.
func (v *hashValue) memoryUsage() int { return v.memoryUsageSampled(memorySamples) }

// memoryUsageSampled is memoryUsage measuring at most samples elements of
// a hashtable (MEMORY USAGE key SAMPLES n).
func (v *hashValue) memoryUsageSampled(samples int) int {
	const header = 48
	if v.dict == nil {
		return header + cap(v.lp)
	}
	const entry = 4 + 32 // hash + key and value string headers
	total := header + v.dict.Cap()*entry
	sampled, bytes := 0, 0
	v.dict.Each(func(k string, val *string) bool {
		bytes += allocSize(len(k) + len(*val))
		sampled++
		return sampled < samples
	})
	if sampled > 0 {
		total += bytes * v.dict.Len() / sampled
	}
	return total
}

// memorySamples is how many elements memoryUsage looks at in a hashtable.
const memorySamples = 64

// allocSize approximates the bytes Go allocates for n bytes.
func allocSize(n int) int {
	if n == 0 {
		return 0
	}
	if n <= 16 {
		return 16
	}
	return (n + 15) &^ 15
}

// get returns the value of field. The slice aliases the hash.
func (v *hashValue) get(field []byte) ([]byte, bool) {
	if v.dict != nil {
		val, ok := v.dict.Get(unsafeString(field))
		return unsafeBytes(val), ok
	}
	_, vpos := hlpFind(v.lp, field)
	if vpos < 0 {
		return nil, false
	}
	val, _ := hlpNext(v.lp, vpos)
	return val, true
}

func (v *hashValue) exists(field []byte) bool {
	if v.dict != nil {
		return v.dict.Has(unsafeString(field))
	}
	fpos, _ := hlpFind(v.lp, field)
	return fpos >= 0
}

// set sets field to value (copying both) and reports whether the field was
// added. As Redis's hashTypeSet it converts to a hashtable first when field
// or value is too long for a listpack, and after adding a field beyond
// hash-max-listpack-entries.
func (v *hashValue) set(cfg *Config, seed uint64, field, value []byte) bool {
	if v.dict == nil {
		if len(field) > cfg.HashMaxListpackValue || len(value) > cfg.HashMaxListpackValue {
			v.convert(seed)
		} else {
			var added bool
			v.lp, added = hlpSet(v.lp, field, value)
			if added {
				v.n++
				if v.n > cfg.HashMaxListpackEntries {
					v.convert(seed)
				}
			}
			return added
		}
	}
	return hashDictSet(v.dict, field, value)
}

// hashDictSet stores a pair in a hashtable-encoded hash, with the field and
// the value in one allocation.
func hashDictSet(d *Dict[string], field, value []byte) bool {
	buf := make([]byte, len(field)+len(value))
	copy(buf, field)
	copy(buf[len(field):], value)
	s := unsafeString(buf)
	return d.SetKey(s[:len(field)], s[len(field):])
}

// tryConversion converts a listpack to a hashtable before a write whose
// arguments would not fit, as Redis's hashTypeTryConversion: any argument
// longer than hash-max-listpack-value, or a listpack that would pass 1 GB.
func (v *hashValue) tryConversion(cfg *Config, seed uint64, args [][]byte) {
	if v.dict != nil {
		return
	}
	sum := 0
	for _, a := range args {
		if len(a) > cfg.HashMaxListpackValue {
			v.convert(seed)
			return
		}
		sum += len(a)
	}
	if len(v.lp)+sum > hlpLimit {
		v.convert(seed)
	}
}

// convert turns a listpack into a hashtable, presized as Redis does.
func (v *hashValue) convert(seed uint64) {
	d := NewDict[string](seed)
	if v.n > 0 {
		d.Reserve(dictCapFor(v.n))
	}
	for pos := 0; pos < len(v.lp); {
		var f, val []byte
		f, val, pos = hlpPair(v.lp, pos)
		hashDictSet(d, f, val)
	}
	v.dict, v.lp, v.n = d, nil, 0
}

// dictCapFor returns the bucket count a Dict grows to for n keys.
func dictCapFor(n int) int {
	c := dictMinCap
	for n*8 > c*7 {
		c *= 2
	}
	return c
}

// del removes field and reports whether it was there.
func (v *hashValue) del(field []byte) bool {
	if v.dict != nil {
		_, ok := v.dict.Delete(unsafeString(field))
		return ok
	}
	var ok bool
	v.lp, ok = hlpDelete(v.lp, field)
	if ok {
		v.n--
	}
	return ok
}

// each calls fn for every pair, in listpack or Dict order, until it returns
// false. The slices alias the hash.
func (v *hashValue) each(fn func(field, value []byte) bool) {
	if v.dict != nil {
		v.dict.Each(func(k string, val *string) bool {
			return fn(unsafeBytes(k), unsafeBytes(*val))
		})
		return
	}
	for pos := 0; pos < len(v.lp); {
		var f, val []byte
		f, val, pos = hlpPair(v.lp, pos)
		if !fn(f, val) {
			return
		}
	}
}

// hashLookupWrite returns the hash at key for a write command, or a new
// empty one (created) that the caller stores with hashStore.
func hashLookupWrite(c *Ctx, key []byte) (h *hashValue, created, ok bool) {
	o, ok := c.writeType(key, TypeHash)
	if !ok {
		return nil, false, false
	}
	if o.typ == TypeNone {
		return &hashValue{}, true, true
	}
	return collection[hashValue](o), false, true
}

// hashStore stores a created hash, or signals the change of an existing one.
func hashStore(c *Ctx, key []byte, h *hashValue, created bool) {
	if created {
		c.setKey(key, newCollection(TypeHash, h), false)
	} else {
		c.modified(key)
	}
}

// hashLookupRead returns the hash at key for a read command; h is nil when
// the key is missing, ok false after a WRONGTYPE reply.
func hashLookupRead(c *Ctx, key []byte) (h *hashValue, ok bool) {
	o, ok := c.readType(key, TypeHash)
	if !ok || o.typ == TypeNone {
		return nil, ok
	}
	return collection[hashValue](o), true
}

// cmdHSET: HSET key field value [field value ...]
func cmdHSET(c *Ctx) { hsetGeneric(c, false) }

// cmdHMSET: HMSET key field value [field value ...]
func cmdHMSET(c *Ctx) { hsetGeneric(c, true) }

func hsetGeneric(c *Ctx, hmset bool) {
	if len(c.Args)%2 == 1 {
		c.wrongArgs()
		return
	}
	key := c.Args[1]
	h, created, ok := hashLookupWrite(c, key)
	if !ok {
		return
	}
	cfg := c.DB.Config()
	seed := c.DB.Seed()
	h.tryConversion(&cfg, seed, c.Args[2:])
	added := 0
	for i := 2; i < len(c.Args); i += 2 {
		if h.set(&cfg, seed, c.Args[i], c.Args[i+1]) {
			added++
		}
	}
	hashStore(c, key, h, created)
	if hmset {
		c.ok()
	} else {
		c.W.WriteInt(int64(added))
	}
}

// cmdHSETNX: HSETNX key field value
func cmdHSETNX(c *Ctx) {
	key := c.Args[1]
	h, created, ok := hashLookupWrite(c, key)
	if !ok {
		return
	}
	if !created && h.exists(c.Args[2]) {
		c.W.WriteInt(0)
		return
	}
	cfg := c.DB.Config()
	seed := c.DB.Seed()
	h.tryConversion(&cfg, seed, c.Args[2:4])
	h.set(&cfg, seed, c.Args[2], c.Args[3])
	hashStore(c, key, h, created)
	c.W.WriteInt(1)
}

// cmdHGET: HGET key field
func cmdHGET(c *Ctx) {
	h, ok := hashLookupRead(c, c.Args[1])
	if !ok {
		return
	}
	if h != nil {
		if val, found := h.get(c.Args[2]); found {
			c.W.WriteBulk(val)
			return
		}
	}
	c.W.WriteNull()
}

// cmdHMGET: HMGET key field [field ...]
func cmdHMGET(c *Ctx) {
	h, ok := hashLookupRead(c, c.Args[1])
	if !ok {
		return
	}
	c.W.WriteArray(len(c.Args) - 2)
	for _, f := range c.Args[2:] {
		if h != nil {
			if val, found := h.get(f); found {
				c.W.WriteBulk(val)
				continue
			}
		}
		c.W.WriteNull()
	}
}

// cmdHDEL: HDEL key field [field ...]
func cmdHDEL(c *Ctx) {
	key := c.Args[1]
	o, ok := c.writeType(key, TypeHash)
	if !ok {
		return
	}
	if o.typ == TypeNone {
		c.W.WriteInt(0)
		return
	}
	h := collection[hashValue](o)
	deleted := 0
	removed := false
	for _, f := range c.Args[2:] {
		if h.del(f) {
			deleted++
			if h.Len() == 0 {
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

// cmdHEXISTS: HEXISTS key field
func cmdHEXISTS(c *Ctx) {
	h, ok := hashLookupRead(c, c.Args[1])
	if !ok {
		return
	}
	if h != nil && h.exists(c.Args[2]) {
		c.W.WriteInt(1)
	} else {
		c.W.WriteInt(0)
	}
}

// cmdHLEN: HLEN key
func cmdHLEN(c *Ctx) {
	h, ok := hashLookupRead(c, c.Args[1])
	if !ok {
		return
	}
	if h == nil {
		c.W.WriteInt(0)
		return
	}
	c.W.WriteInt(int64(h.Len()))
}

// cmdHSTRLEN: HSTRLEN key field
func cmdHSTRLEN(c *Ctx) {
	h, ok := hashLookupRead(c, c.Args[1])
	if !ok {
		return
	}
	n := 0
	if h != nil {
		if val, found := h.get(c.Args[2]); found {
			n = len(val)
		}
	}
	c.W.WriteInt(int64(n))
}

const (
	hashWantKeys   = 1
	hashWantValues = 2
)

// hgetallGeneric replies with the fields and/or values: a map for HGETALL,
// an array for HKEYS and HVALS.
func hgetallGeneric(c *Ctx, want int) {
	h, ok := hashLookupRead(c, c.Args[1])
	if !ok {
		return
	}
	n := 0
	if h != nil {
		n = h.Len()
	}
	if want == hashWantKeys|hashWantValues {
		c.W.WriteMap(n)
	} else {
		c.W.WriteArray(n)
	}
	if h == nil {
		return
	}
	h.each(func(f, v []byte) bool {
		if want&hashWantKeys != 0 {
			c.W.WriteBulk(f)
		}
		if want&hashWantValues != 0 {
			c.W.WriteBulk(v)
		}
		return true
	})
}

// cmdHGETALL: HGETALL key
func cmdHGETALL(c *Ctx) { hgetallGeneric(c, hashWantKeys|hashWantValues) }

// cmdHKEYS: HKEYS key
func cmdHKEYS(c *Ctx) { hgetallGeneric(c, hashWantKeys) }

// cmdHVALS: HVALS key
func cmdHVALS(c *Ctx) { hgetallGeneric(c, hashWantValues) }

// cmdHINCRBY: HINCRBY key field increment
func cmdHINCRBY(c *Ctx) {
	incr, ok := parseInt(c.Args[3])
	if !ok {
		c.err(ErrNotInteger)
		return
	}
	key, field := c.Args[1], c.Args[2]
	h, created, ok := hashLookupWrite(c, key)
	if !ok {
		return
	}
	var value int64
	if cur, found := h.get(field); found {
		if value, ok = parseInt(cur); !ok {
			c.err(ErrHashNotInteger)
			return
		}
	}
	if (incr < 0 && value < 0 && incr < math.MinInt64-value) ||
		(incr > 0 && value > 0 && incr > math.MaxInt64-value) {
		c.err(ErrOverflow)
		return
	}
	value += incr
	var buf [20]byte
	cfg := c.DB.Config()
	h.set(&cfg, c.DB.Seed(), field, strconv.AppendInt(buf[:0], value, 10))
	hashStore(c, key, h, created)
	c.W.WriteInt(value)
}

// cmdHINCRBYFLOAT: HINCRBYFLOAT key field increment
func cmdHINCRBYFLOAT(c *Ctx) {
	incr, ok := parseLongDouble(c.Args[3])
	if !ok {
		c.err(ErrNotFloat)
		return
	}
	if incr.IsInf() {
		c.err(errHashValueNaNOrInf)
		return
	}
	key, field := c.Args[1], c.Args[2]
	h, created, ok := hashLookupWrite(c, key)
	if !ok {
		return
	}
	value := new(big.Float).SetPrec(longDoublePrec)
	if cur, found := h.get(field); found {
		v, valid := parseLongDouble(cur)
		if !valid {
			c.err(ErrHashNotFloat)
			return
		}
		value.Set(v)
	}
	if value.IsInf() {
		c.err(ErrNaNOrInfinity)
		return
	}
	value.Add(value, incr)
	if value.Sign() != 0 && value.MantExp(nil) > longDoubleMaxExp {
		c.err(ErrNaNOrInfinity)
		return
	}
	out := formatLongDouble(value)
	cfg := c.DB.Config()
	h.set(&cfg, c.DB.Seed(), field, unsafeBytes(out))
	hashStore(c, key, h, created)
	c.W.WriteBulkString(out)
}

// cmdHSCAN: HSCAN key cursor [MATCH pattern] [COUNT count]
func cmdHSCAN(c *Ctx) {
	cursor, ok := hsParseScanCursor(c.Args[2])
	if !ok {
		c.err(errInvalidCursor)
		return
	}
	h, ok := hashLookupRead(c, c.Args[1])
	if !ok {
		return
	}
	if h == nil {
		hsWriteScanReply(c, 0, nil)
		return
	}
	pattern, usePattern, count, ok := hsScanOptions(c, 3)
	if !ok {
		return
	}
	var items [][]byte
	add := func(f, v []byte) {
		if usePattern && !GlobMatch(pattern, unsafeString(f), false) {
			return
		}
		items = append(items, f, v)
	}
	if h.dict == nil {
		// A listpack is returned whole in one call, as Redis does.
		h.each(func(f, v []byte) bool { add(f, v); return true })
		cursor = 0
	} else {
		cursor = h.dict.Scan(cursor, count, func(k string, v *string) {
			add(unsafeBytes(k), unsafeBytes(*v))
		})
	}
	hsWriteScanReply(c, cursor, items)
}

// HRANDFIELD_SUB_STRATEGY_MUL in Redis: the hash is copied and shrunk when
// count*3 > size, else random fields are picked until count are distinct.
const hrandSubStrategyMul = 3

// cmdHRANDFIELD: HRANDFIELD key [count [WITHVALUES]]
func cmdHRANDFIELD(c *Ctx) {
	if len(c.Args) >= 3 {
		l, ok := parseInt(c.Args[2])
		if !ok {
			c.err(ErrNotInteger)
			return
		}
		if l == math.MinInt64 {
			c.err(errRangeNotMinLong)
			return
		}
		withValues := false
		if len(c.Args) > 4 || (len(c.Args) == 4 && !c.isArg(3, "withvalues")) {
			c.err(ErrSyntax)
			return
		} else if len(c.Args) == 4 {
			withValues = true
			if l < -math.MaxInt64/2 || l > math.MaxInt64/2 {
				c.err(errHashValueOutOfRange)
				return
			}
		}
		hrandfieldWithCount(c, l, withValues)
		return
	}
	h, ok := hashLookupRead(c, c.Args[1])
	if !ok {
		return
	}
	if h == nil {
		c.W.WriteNull()
		return
	}
	f, _ := h.randomPair(c, nil)
	c.W.WriteBulk(f)
}

// randomPair returns a random pair: Dict.Random for a hashtable, a uniform
// index for a listpack (offs, when not nil, holds the pair offsets).
func (v *hashValue) randomPair(c *Ctx, offs []int32) (field, value []byte) {
	if v.dict != nil {
		k, val, _ := v.dict.Random(c.Rand())
		return unsafeBytes(k), unsafeBytes(*val)
	}
	i := c.RandN(v.n)
	var pos int
	if offs != nil {
		pos = int(offs[i])
	} else {
		pos = hlpAt(v.lp, i)
	}
	field, value, _ = hlpPair(v.lp, pos)
	return field, value
}

// pairs returns every pair in encoding order, as slices aliasing the hash.
func (v *hashValue) pairs() (fields, values [][]byte) {
	n := v.Len()
	fields = make([][]byte, 0, n)
	values = make([][]byte, 0, n)
	v.each(func(f, val []byte) bool {
		fields = append(fields, f)
		values = append(values, val)
		return true
	})
	return fields, values
}

// hrandfieldWithCount follows Redis 7.0's hrandfieldWithCountCommand: the
// same four cases, with the random source replaced by c.Rand.
func hrandfieldWithCount(c *Ctx, l int64, withValues bool) {
	h, ok := hashLookupRead(c, c.Args[1])
	if !ok {
		return
	}
	if h == nil {
		c.W.WriteArray(0)
		return
	}
	size := int64(h.Len())
	count, uniq := l, true
	if l < 0 {
		count, uniq = -l, false
	}
	if count == 0 {
		c.W.WriteArray(0)
		return
	}
	resp3 := c.W.Proto() == 3
	reply := func(f, v []byte) {
		if withValues && resp3 {
			c.W.WriteArray(2)
		}
		c.W.WriteBulk(f)
		if withValues {
			c.W.WriteBulk(v)
		}
	}
	header := func(n int64) {
		if withValues && !resp3 {
			c.W.WriteArray(int(n * 2))
		} else {
			c.W.WriteArray(int(n))
		}
	}

	// CASE 1: negative count (or 1): independent picks, repeats allowed.
	if !uniq || count == 1 {
		header(count)
		var offs []int32
		if h.dict == nil && count > 1 {
			offs = hlpOffsets(h.lp, h.n)
		}
		for ; count > 0; count-- {
			reply(h.randomPair(c, offs))
		}
		return
	}

	// CASE 2: the whole hash.
	if count >= size {
		header(size)
		h.each(func(f, v []byte) bool { reply(f, v); return true })
		return
	}
	header(count)

	// CASE 3: count is close to the size: drop random pairs from a copy
	// until count remain (the survivors are replied in encoding order).
	if count*hrandSubStrategyMul > size {
		fields, values := h.pairs()
		keep := make([]int32, size)
		for i := range keep {
			keep[i] = int32(i)
		}
		dropped := make([]bool, size)
		for n := size; n > count; n-- {
			j := c.RandN(int(n))
			dropped[keep[j]] = true
			keep[j] = keep[n-1]
		}
		for i := range fields {
			if !dropped[i] {
				reply(fields[i], values[i])
			}
		}
		return
	}

	// CASE 4: count is small compared to the size.
	if h.dict == nil {
		// As lpRandomPairsUnique: one pass picking each pair with
		// probability remaining/left (selection sampling).
		remaining := count
		left := size
		for pos := 0; pos < len(h.lp) && remaining > 0; left-- {
			var f, v []byte
			f, v, pos = hlpPair(h.lp, pos)
			if int64(c.RandN(int(left))) < remaining {
				reply(f, v)
				remaining--
			}
		}
		return
	}
	seen := make(map[string]struct{}, count)
	for added := int64(0); added < count; {
		k, v, _ := h.dict.Random(c.Rand())
		if _, dup := seen[k]; dup {
			continue
		}
		seen[k] = struct{}{}
		added++
		reply(unsafeBytes(k), unsafeBytes(*v))
	}
}
