package engine

import (
	"bytes"
	"encoding/binary"
	"math"
	"strings"
	"unsafe"
)

// zsetValue is the value of a zset key, in one of Redis's two encodings:
//
//   - "listpack" (sl == nil): the elements sorted by (score, member) in one
//     byte slice, after a 4-byte count (see "listpack entries" below for
//     the format). Lookups are linear, as in Redis; the encoding is used
//     while the set is small.
//   - "skiplist" (sl != nil): a Dict from member to score plus an ordered
//     index with ranks (zbt), sharing the member strings.
//
// A listpack converts to skiplist when it would get more than
// zset-max-listpack-entries elements or a member longer than
// zset-max-listpack-value bytes, as in Redis 7.0; it never converts back,
// except that results built by ZRANGESTORE, ZUNIONSTORE... are created
// compact when small.
type zsetValue struct {
	lp []byte // listpack: a 4-byte element count, then the entries
	sl *zsetSkiplist
}

type zsetSkiplist struct {
	dict     Dict[float64]
	tree     zbt
	memBytes int // total length of the members
}

// Len returns the number of elements.
func (v *zsetValue) Len() int {
	if v.sl != nil {
		return v.sl.tree.length
	}
	return v.lpCount()
}

// lpHdr is the size of the listpack header, the element count.
const lpHdr = 4

func (v *zsetValue) lpCount() int {
	if len(v.lp) < lpHdr {
		return 0
	}
	return int(binary.LittleEndian.Uint32(v.lp))
}

func (v *zsetValue) lpAddCount(d int) {
	binary.LittleEndian.PutUint32(v.lp, uint32(v.lpCount()+d))
}

// encodingName returns what OBJECT ENCODING says for this value.
func (v *zsetValue) encodingName() string {
	if v.sl != nil {
		return "skiplist"
	}
	return "listpack"
}

// clone returns a deep copy (COPY).
func (v *zsetValue) clone() *zsetValue {
	if v.sl == nil {
		return &zsetValue{lp: bytes.Clone(v.lp)}
	}
	// Member strings are immutable: the copy shares them.
	ents := make([]zent, 0, v.sl.tree.length)
	v.sl.tree.each(func(e *zent) bool {
		ents = append(ents, *e)
		return true
	})
	return &zsetValue{sl: newZsetSkiplist(v.sl.dict.seed, ents)}
}

// memoryUsage estimates the bytes the value holds (MEMORY USAGE).
func (v *zsetValue) memoryUsage() int {
	size := int(unsafe.Sizeof(zsetValue{}))
	if v.sl == nil {
		return size + cap(v.lp)
	}
	const bucket = 4 + int(unsafe.Sizeof(dictEntry[float64]{}))
	n := v.sl.tree.length
	// Each member is its own allocation, rounded up by the allocator.
	return size + int(unsafe.Sizeof(zsetSkiplist{})) + v.sl.dict.Cap()*bucket +
		v.sl.tree.memoryUsage() + v.sl.memBytes + n*8
}

func newZsetSkiplist(seed uint64, ents []zent) *zsetSkiplist {
	sl := &zsetSkiplist{}
	sl.dict.seed = seed
	for i := range ents {
		sl.dict.Set(ents[i].member, ents[i].score)
		sl.memBytes += len(ents[i].member)
	}
	sl.tree = zbtBuild(ents)
	return sl
}

// newZsetFromSorted returns a sorted set holding ents (sorted, distinct
// members the value may keep), in the compact encoding when the settings
// allow it.
func newZsetFromSorted(db *DB, ents []zent) *zsetValue {
	maxLen, total := 0, 0
	for i := range ents {
		maxLen = max(maxLen, len(ents[i].member))
		total += lpEntrySize(len(ents[i].member), ents[i].score)
	}
	if len(ents) <= db.cfg.ZSetMaxListpackEntries && maxLen <= db.cfg.ZSetMaxListpackValue {
		lp := make([]byte, lpHdr, allocCap(lpHdr+total))
		binary.LittleEndian.PutUint32(lp, uint32(len(ents)))
		for i := range ents {
			lp = lpAppendEntry(lp, unsafeBytes(ents[i].member), ents[i].score)
		}
		return &zsetValue{lp: lp}
	}
	return &zsetValue{sl: newZsetSkiplist(db.seed, ents)}
}

// ---- listpack entries ----
//
// An entry is uvarint(len) | member | score | trailer. The score is, as in
// Redis's listpack, compact when it is an integer: uvarint(zigzag(v) << 1)
// for integral scores below 2^53 in magnitude (so -0 is stored as 0, as
// Redis's zzlInsertAt does with double2ll), else the byte 0x03 and a
// float32 when that is exact, else the byte 0x01 and the float64. The
// trailer is the size of the rest of the entry as a uvarint with its bytes
// reversed, so the list can be walked backwards.

const (
	lpScoreF64 = 0x01
	lpScoreF32 = 0x03
)

func lpVarintLen(x int) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// lpScoreInt reports whether s is stored as an integer, and its zigzag
// code shifted left.
func lpScoreInt(s float64) (uint64, bool) {
	if s > -(1<<53) && s < 1<<53 && s == math.Trunc(s) {
		v := int64(s)
		return uint64((v<<1)^(v>>63)) << 1, true
	}
	return 0, false
}

func lpScoreSize(s float64) int {
	if u, ok := lpScoreInt(s); ok {
		return lpVarintLen(int(u))
	}
	if float64(float32(s)) == s {
		return 5
	}
	return 9
}

func lpPutScore(dst []byte, s float64) int {
	if u, ok := lpScoreInt(s); ok {
		return binary.PutUvarint(dst, u)
	}
	if f := float32(s); float64(f) == s {
		dst[0] = lpScoreF32
		binary.LittleEndian.PutUint32(dst[1:], math.Float32bits(f))
		return 5
	}
	dst[0] = lpScoreF64
	binary.LittleEndian.PutUint64(dst[1:], math.Float64bits(s))
	return 9
}

// lpScore decodes the score at the start of b and returns its size.
func lpScore(b []byte) (float64, int) {
	// Integers are even, the two tags odd.
	switch c := b[0]; {
	case c == lpScoreF64:
		return math.Float64frombits(binary.LittleEndian.Uint64(b[1:])), 9
	case c == lpScoreF32:
		return float64(math.Float32frombits(binary.LittleEndian.Uint32(b[1:]))), 5
	case c < 0x80:
		z := uint64(c) >> 1
		return float64(int64(z>>1) ^ -int64(z&1)), 1
	}
	u, n := binary.Uvarint(b)
	z := u >> 1
	return float64(int64(z>>1) ^ -int64(z&1)), n
}

// lpScoreLen returns the size of the score at the start of b.
func lpScoreLen(b []byte) int {
	switch c := b[0]; {
	case c == lpScoreF64:
		return 9
	case c == lpScoreF32:
		return 5
	case c < 0x80:
		return 1
	}
	n := 1
	for b[n-1] >= 0x80 {
		n++
	}
	return n
}

func lpEntrySize(memberLen int, score float64) int {
	t := lpVarintLen(memberLen) + memberLen + lpScoreSize(score)
	return t + lpVarintLen(t)
}

// lpPutEntry writes an entry at the start of dst and returns its size.
func lpPutEntry(dst []byte, member []byte, score float64) int {
	k := binary.PutUvarint(dst, uint64(len(member)))
	k += copy(dst[k:], member)
	k += lpPutScore(dst[k:], score)
	if k < 0x80 {
		dst[k] = byte(k)
		return k + 1
	}
	var tmp [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(tmp[:], uint64(k))
	for i := 0; i < n; i++ {
		dst[k+n-1-i] = tmp[i]
	}
	return k + n
}

func lpAppendEntry(lp []byte, member []byte, score float64) []byte {
	n := len(lp)
	lp = lp[:n+lpEntrySize(len(member), score)]
	lpPutEntry(lp[n:], member, score)
	return lp
}

// lpHead reads the length of the member of the entry at off.
func lpHead(lp []byte, off int) (memberLen, k int) {
	if b := lp[off]; b < 0x80 {
		return int(b), 1
	}
	v, k := binary.Uvarint(lp[off:])
	return int(v), k
}

// lpTail returns the offset after an entry whose body (header, member,
// score) of size t ends at p.
func lpTail(p, t int) int {
	if t < 0x80 {
		return p + 1
	}
	return p + lpVarintLen(t)
}

// lpEntry returns the entry at off and the offset of the next one.
func lpEntry(lp []byte, off int) (member []byte, score float64, next int) {
	L, k := lpHead(lp, off)
	m := off + k
	score, sl := lpScore(lp[m+L:])
	return lp[m : m+L : m+L], score, lpTail(m+L+sl, k+L+sl)
}

// lpSkip returns the offset of the entry after the one at off.
func lpSkip(lp []byte, off int) int {
	L, k := lpHead(lp, off)
	p := off + k + L
	sl := lpScoreLen(lp[p:])
	return lpTail(p+sl, k+L+sl)
}

// lpPrev returns the offset of the entry that ends at end.
func lpPrev(lp []byte, end int) int {
	b := lp[end-1]
	if b < 0x80 {
		return end - 1 - int(b)
	}
	var v uint64
	k, shift := 0, 0
	for i := end - 1; ; i-- {
		b := lp[i]
		v |= uint64(b&0x7f) << shift
		k++
		if b < 0x80 {
			break
		}
		shift += 7
	}
	return end - k - int(v)
}

// lpFind returns the offset, rank and score of member in the listpack.
func (v *zsetValue) lpFind(member []byte) (off, rank int, score float64, ok bool) {
	lp := v.lp
	for off = lpHdr; off < len(lp); {
		L, k := lpHead(lp, off)
		m := off + k
		// The last byte first: members often share a prefix.
		if L == len(member) && (L == 0 || lp[m+L-1] == member[L-1]) && string(lp[m:m+L]) == unsafeString(member) {
			s, _ := lpScore(lp[m+L:])
			return off, rank, s, true
		}
		sl := lpScoreLen(lp[m+L:])
		off = lpTail(m+L+sl, k+L+sl)
		rank++
	}
	return 0, 0, 0, false
}

// lpSeek returns the offset of the entry of the given rank (in [0, n)).
func (v *zsetValue) lpSeek(rank int) int {
	n := v.lpCount()
	if rank <= n/2 {
		off := lpHdr
		for ; rank > 0; rank-- {
			off = lpSkip(v.lp, off)
		}
		return off
	}
	off := len(v.lp)
	for r := n; r > rank; r-- {
		off = lpPrev(v.lp, off)
	}
	return off
}

// allocSizes are the Go allocator's size classes: a byte slice gets the
// capacity of its whole class for free.
var allocSizes = [...]int{8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256,
	288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536, 1792,
	2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728, 10240,
	10880, 12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768}

// allocCap returns the capacity to allocate for n bytes: the size class
// holding n, or whole pages above the largest class.
func allocCap(n int) int {
	if n > allocSizes[len(allocSizes)-1] {
		return (n + 8191) &^ 8191
	}
	lo, hi := 0, len(allocSizes)-1
	for lo < hi {
		m := (lo + hi) / 2
		if allocSizes[m] < n {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return allocSizes[lo]
}

// lpGrow makes room for extra bytes. Like Redis's listpack (realloc'd at
// each insert by jemalloc), the buffer stays close to its size.
func (v *zsetValue) lpGrow(extra int) {
	if len(v.lp) == 0 {
		v.lp = make([]byte, lpHdr, allocCap(lpHdr+extra))
		return
	}
	need := len(v.lp) + extra
	if need <= cap(v.lp) {
		return
	}
	nl := make([]byte, len(v.lp), allocCap(need+need/16))
	copy(nl, v.lp)
	v.lp = nl
}

// lpLocate is lpFind that also returns, when member is absent, the offset
// where (score, member) would be inserted: one pass for ZADD of a new
// member.
func (v *zsetValue) lpLocate(member []byte, score float64) (off int, cur float64, found bool, ins int) {
	lp := v.lp
	ins = -1
	key := unsafeString(member)
	for off = lpHdr; off < len(lp); {
		L, k := lpHead(lp, off)
		m := off + k
		s, sl := lpScore(lp[m+L:])
		if ins < 0 && !(s < score || (s == score && string(lp[m:m+L]) < key)) {
			ins = off
		}
		if L == len(member) && (L == 0 || lp[m+L-1] == member[L-1]) && string(lp[m:m+L]) == key {
			return off, s, true, 0
		}
		off = lpTail(m+L+sl, k+L+sl)
	}
	if ins < 0 {
		ins = max(len(lp), lpHdr)
	}
	return 0, 0, false, ins
}

// lpInsert adds an element, which must not be present.
func (v *zsetValue) lpInsert(score float64, member []byte) {
	off := lpHdr
	for off < len(v.lp) {
		m, s, next := lpEntry(v.lp, off)
		if !zless(s, unsafeString(m), score, unsafeString(member)) {
			break
		}
		off = next
	}
	v.lpInsertAt(off, score, member)
}

// lpInsertAt inserts an element at offset off, which must be its place.
func (v *zsetValue) lpInsertAt(off int, score float64, member []byte) {
	size := lpEntrySize(len(member), score)
	v.lpGrow(size)
	n := len(v.lp)
	v.lp = v.lp[:n+size]
	copy(v.lp[off+size:], v.lp[off:n])
	lpPutEntry(v.lp[off:], member, score)
	v.lpAddCount(1)
}

// lpDeleteBytes removes the entries in lp[from:to], count of them.
func (v *zsetValue) lpDeleteBytes(from, to, count int) {
	n := copy(v.lp[from:], v.lp[to:])
	v.lp = v.lp[:from+n]
	v.lpAddCount(-count)
	if len(v.lp) == lpHdr {
		v.lp = nil
		return
	}
	if cap(v.lp) > 256 && cap(v.lp) > 2*len(v.lp) {
		v.lp = append(make([]byte, 0, allocCap(len(v.lp)+len(v.lp)/16)), v.lp...)
	}
}

// ---- element access ----

// score returns the score of member.
func (v *zsetValue) score(member []byte) (float64, bool) {
	if v.sl != nil {
		return v.sl.dict.Get(unsafeString(member))
	}
	_, _, s, ok := v.lpFind(member)
	return s, ok
}

// rankOf returns the 0-based rank of member in ascending order.
func (v *zsetValue) rankOf(member []byte) (int, bool) {
	if v.sl != nil {
		s, ok := v.sl.dict.Get(unsafeString(member))
		if !ok {
			return 0, false
		}
		return v.sl.tree.rank(s, unsafeString(member)), true
	}
	_, r, _, ok := v.lpFind(member)
	return r, ok
}

// insertNew adds member, which must be absent, with no encoding check.
func (v *zsetValue) insertNew(score float64, member []byte) {
	if v.sl == nil {
		v.lpInsert(score, member)
		return
	}
	ms := string(member)
	v.sl.dict.Set(ms, score)
	v.sl.tree.insert(score, ms)
	v.sl.memBytes += len(ms)
}

// remove deletes member and reports whether it was present.
func (v *zsetValue) remove(member []byte) bool {
	if v.sl == nil {
		off, _, _, ok := v.lpFind(member)
		if !ok {
			return false
		}
		v.lpDeleteBytes(off, lpSkip(v.lp, off), 1)
		return true
	}
	key := unsafeString(member)
	s, ok := v.sl.dict.Get(key)
	if !ok {
		return false
	}
	v.sl.tree.delete(s, key)
	v.sl.dict.Delete(key)
	v.sl.memBytes -= len(member)
	return true
}

// convertToSkiplist changes a listpack into the skiplist encoding.
func (v *zsetValue) convertToSkiplist(seed uint64) {
	if v.sl != nil {
		return
	}
	ents := make([]zent, 0, v.lpCount())
	for off := lpHdr; off < len(v.lp); {
		m, s, next := lpEntry(v.lp, off)
		ents = append(ents, zent{member: string(m), score: s})
		off = next
	}
	v.sl = newZsetSkiplist(seed, ents)
	v.lp = nil
}

// Flags of zsetAdd, as Redis's ZADD_IN_* and ZADD_OUT_*.
const (
	zaddNX = 1 << iota
	zaddXX
	zaddGT
	zaddLT
	zaddIncr
)

const (
	zaddOutNop = 1 << iota
	zaddOutNaN
	zaddOutAdded
	zaddOutUpdated
)

// add is Redis's zsetAdd: it adds or updates member following the flags,
// converting the encoding when needed, and returns the outcome and the
// element's resulting score.
func (v *zsetValue) add(db *DB, score float64, member []byte, flags int) (out int, newScore float64) {
	incr := flags&zaddIncr != 0
	nx, xx := flags&zaddNX != 0, flags&zaddXX != 0
	gt, lt := flags&zaddGT != 0, flags&zaddLT != 0
	if math.IsNaN(score) {
		return zaddOutNaN, 0
	}
	var cur float64
	var found bool
	var lpOff, lpIns int
	if v.sl == nil {
		lpOff, cur, found, lpIns = v.lpLocate(member, score)
	} else {
		cur, found = v.sl.dict.Get(unsafeString(member))
	}
	if found {
		if nx {
			return zaddOutNop, 0
		}
		if incr {
			score += cur
			if math.IsNaN(score) {
				return zaddOutNaN, 0
			}
		}
		if (lt && score >= cur) || (gt && score <= cur) {
			return zaddOutNop, 0
		}
		if score == cur {
			return 0, score
		}
		if v.sl == nil {
			v.lpDeleteBytes(lpOff, lpSkip(v.lp, lpOff), 1)
			v.lpInsert(score, member)
		} else {
			v.sl.updateScore(member, cur, score)
		}
		return zaddOutUpdated, score
	}
	if xx {
		return zaddOutNop, 0
	}
	if v.sl == nil {
		if v.lpCount()+1 > db.cfg.ZSetMaxListpackEntries || len(member) > db.cfg.ZSetMaxListpackValue {
			v.convertToSkiplist(db.seed)
		} else {
			v.lpInsertAt(lpIns, score, member)
			return zaddOutAdded, score
		}
	}
	v.insertNew(score, member)
	return zaddOutAdded, score
}

// updateScore moves member from score cur to score s.
func (sl *zsetSkiplist) updateScore(member []byte, cur, s float64) {
	key, ref := sl.dict.RefKey(unsafeString(member))
	*ref = s
	t := &sl.tree
	// Update in place when the element keeps its position, as Redis's
	// zslUpdateScore does. Position 0 of a leaf is kept by inner nodes as
	// a subtree's smallest element, so it is always moved.
	if l, i := t.leafOf(cur, key); l != nil && i > 0 {
		{
			prev := &l.ents[i-1]
			okPrev := zless(prev.score, prev.member, s, key)
			okNext := false
			if i+1 < len(l.ents) {
				nx := &l.ents[i+1]
				okNext = zless(s, key, nx.score, nx.member)
			} else if l.next == nil {
				okNext = true
			} else {
				nx := &l.next.ents[0]
				okNext = zless(s, key, nx.score, nx.member)
			}
			if okPrev && okNext {
				l.ents[i].score = s
				return
			}
		}
	}
	t.delete(cur, key)
	t.insert(s, key)
}

// leafOf returns the leaf and position of the element (score, member), or
// nil if absent.
func (t *zbt) leafOf(score float64, member string) (*zbtLeaf, int) {
	if t.root == nil {
		return nil, 0
	}
	n := t.root
	for h := t.height; h > 0; h-- {
		in := asInner(n)
		n = in.kids[in.childFor(score, member)].node
	}
	l := asLeaf(n)
	i := l.search(score, member)
	if i == len(l.ents) || l.ents[i].member != member {
		return nil, 0
	}
	return l, i
}

// ---- iteration ----

// zsetIter walks the elements of a zsetValue in either direction.
type zsetIter struct {
	lp  []byte
	off int // listpack: offset of the current entry, -1 past the start
	pos zbtPos
	sl  bool
}

// iterAt returns an iterator on the element of the given rank, which must
// be in [0, Len()).
func (v *zsetValue) iterAt(rank int) zsetIter {
	if v.sl != nil {
		l, i := v.sl.tree.at(rank)
		return zsetIter{pos: zbtPos{leaf: l, i: i}, sl: true}
	}
	return zsetIter{lp: v.lp, off: v.lpSeek(rank)}
}

func (it *zsetIter) valid() bool {
	if it.sl {
		return it.pos.leaf != nil
	}
	return it.off >= 0 && it.off < len(it.lp)
}

// entry returns the current element. The member aliases the value: copy it
// before changing the set.
func (it *zsetIter) entry() ([]byte, float64) {
	if it.sl {
		e := &it.pos.leaf.ents[it.pos.i]
		return unsafeBytes(e.member), e.score
	}
	m, s, _ := lpEntry(it.lp, it.off)
	return m, s
}

// ownedEntry returns the current element with a member string that may be
// kept (shared with the set when it is immutable).
func (it *zsetIter) ownedEntry() zent {
	if it.sl {
		return it.pos.leaf.ents[it.pos.i]
	}
	m, s, _ := lpEntry(it.lp, it.off)
	return zent{member: string(m), score: s}
}

func (it *zsetIter) next() {
	if it.sl {
		it.pos.next()
		return
	}
	it.off = lpSkip(it.lp, it.off)
}

func (it *zsetIter) prev() {
	if it.sl {
		it.pos.prev()
		return
	}
	if it.off == lpHdr {
		it.off = -1
		return
	}
	it.off = lpPrev(it.lp, it.off)
}

// each calls fn for every element in ascending order until it returns false.
func (v *zsetValue) each(fn func(member []byte, score float64) bool) {
	if v.sl != nil {
		v.sl.tree.each(func(e *zent) bool { return fn(unsafeBytes(e.member), e.score) })
		return
	}
	for off := lpHdr; off < len(v.lp); {
		m, s, next := lpEntry(v.lp, off)
		if !fn(m, s) {
			return
		}
		off = next
	}
}

// ---- ranges ----

// deleteRange removes the elements of ranks [first, last] and returns how
// many it removed.
func (v *zsetValue) deleteRange(first, last int) int {
	count := last - first + 1
	if count <= 0 {
		return 0
	}
	if v.sl == nil {
		from := v.lpSeek(first)
		to := from
		for i := 0; i < count; i++ {
			to = lpSkip(v.lp, to)
		}
		v.lpDeleteBytes(from, to, count)
		return count
	}
	sl := v.sl
	t := &sl.tree
	if count > t.length/2 {
		// Cheaper to rebuild from what stays.
		keep := make([]zent, 0, t.length-count)
		r := 0
		t.each(func(e *zent) bool {
			if r < first || r > last {
				keep = append(keep, *e)
			} else {
				sl.dict.Delete(e.member)
				sl.memBytes -= len(e.member)
			}
			r++
			return true
		})
		sl.tree = zbtBuild(keep)
		return count
	}
	victims := make([]zent, 0, count)
	it := v.iterAt(first)
	for i := 0; i < count; i++ {
		victims = append(victims, it.pos.leaf.ents[it.pos.i])
		it.next()
	}
	for i := range victims {
		t.delete(victims[i].score, victims[i].member)
		sl.dict.Delete(victims[i].member)
		sl.memBytes -= len(victims[i].member)
	}
	return count
}

// zscoreRange is a range of scores, as Redis's zrangespec.
type zscoreRange struct {
	min, max     float64
	minex, maxex bool
}

func (r *zscoreRange) gteMin(s float64) bool {
	if r.minex {
		return s > r.min
	}
	return s >= r.min
}

func (r *zscoreRange) lteMax(s float64) bool {
	if r.maxex {
		return s < r.max
	}
	return s <= r.max
}

func (r *zscoreRange) empty() bool {
	return r.min > r.max || (r.min == r.max && (r.minex || r.maxex))
}

// seekRank returns the rank of the first element for which pred holds,
// pred being false then true along the order.
func (v *zsetValue) seekRank(pred func(member []byte, score float64) bool) int {
	if v.sl != nil {
		return v.sl.tree.seek(func(e *zent) bool { return pred(unsafeBytes(e.member), e.score) })
	}
	r := 0
	for off := lpHdr; off < len(v.lp); r++ {
		m, s, next := lpEntry(v.lp, off)
		if pred(m, s) {
			break
		}
		off = next
	}
	return r
}

// scoreRange returns the ranks of the first and last elements in r
// (last < first when none is).
func (v *zsetValue) scoreRange(r *zscoreRange) (first, last int) {
	if r.empty() || v.Len() == 0 {
		return 0, -1
	}
	first = v.seekRank(func(_ []byte, s float64) bool { return r.gteMin(s) })
	last = v.seekRank(func(_ []byte, s float64) bool { return !r.lteMax(s) }) - 1
	return first, last
}

// zlexBound is one end of a lex range: a string, or '-' / '+' (inf -1 / 1),
// which sort before / after every string.
type zlexBound struct {
	s   string
	inf int
	ex  bool
}

// zlexRange is a range of members, as Redis's zlexrangespec.
type zlexRange struct {
	min, max zlexBound
}

// cmpBound compares a member with a bound's value, as Redis's sdscmplex.
func cmpBound(m string, b *zlexBound) int {
	switch b.inf {
	case -1:
		return 1
	case 1:
		return -1
	}
	return strings.Compare(m, b.s)
}

func (r *zlexRange) gteMin(m string) bool {
	c := cmpBound(m, &r.min)
	if r.min.ex {
		return c > 0
	}
	return c >= 0
}

func (r *zlexRange) lteMax(m string) bool {
	c := cmpBound(m, &r.max)
	if r.max.ex {
		return c < 0
	}
	return c <= 0
}

func (r *zlexRange) empty() bool {
	var c int
	a, b := &r.min, &r.max
	switch {
	case a.inf != 0 && a.inf == b.inf:
		c = 0
	case a.inf == -1 || b.inf == 1:
		c = -1
	case a.inf == 1 || b.inf == -1:
		c = 1
	default:
		c = strings.Compare(a.s, b.s)
	}
	return c > 0 || (c == 0 && (a.ex || b.ex))
}

// lexRange returns the ranks of the first and last elements in r. Members
// are expected to share one score; when they do not, the listpack is
// searched as Redis searches it (linearly, from the end the range is read
// from), so the result is Redis's.
func (v *zsetValue) lexRange(r *zlexRange, reverse bool) (first, last int) {
	n := v.Len()
	if r.empty() || n == 0 {
		return 0, -1
	}
	if v.sl != nil {
		first = v.seekRank(func(m []byte, _ float64) bool { return r.gteMin(unsafeString(m)) })
		last = v.seekRank(func(m []byte, _ float64) bool { return !r.lteMax(unsafeString(m)) }) - 1
		return first, last
	}
	// As zzlIsInLexRange: the last element must be >= min, the first <= max.
	lm, _, _ := lpEntry(v.lp, lpPrev(v.lp, len(v.lp)))
	fm, _, _ := lpEntry(v.lp, lpHdr)
	if !r.gteMin(unsafeString(lm)) || !r.lteMax(unsafeString(fm)) {
		return 0, -1
	}
	if !reverse {
		off, rank := lpHdr, 0
		for off < len(v.lp) {
			m, _, next := lpEntry(v.lp, off)
			if r.gteMin(unsafeString(m)) {
				if !r.lteMax(unsafeString(m)) {
					return 0, -1
				}
				break
			}
			off, rank = next, rank+1
		}
		if off >= len(v.lp) {
			return 0, -1
		}
		first, last = rank, rank
		for off = lpSkip(v.lp, off); off < len(v.lp); off = lpSkip(v.lp, off) {
			m, _, _ := lpEntry(v.lp, off)
			if !r.lteMax(unsafeString(m)) {
				break
			}
			last++
		}
		return first, last
	}
	off, rank := len(v.lp), n
	for off > lpHdr {
		off = lpPrev(v.lp, off)
		rank--
		m, _, _ := lpEntry(v.lp, off)
		if r.lteMax(unsafeString(m)) {
			if !r.gteMin(unsafeString(m)) {
				return 0, -1
			}
			first, last = rank, rank
			for off > lpHdr {
				off = lpPrev(v.lp, off)
				m, _, _ := lpEntry(v.lp, off)
				if !r.gteMin(unsafeString(m)) {
					break
				}
				first--
			}
			return first, last
		}
	}
	return 0, -1
}
