package engine

import (
	"bytes"
	"encoding/binary"
	"slices"
	"unsafe"
)

// listValue is the value of a list key: a chunked deque, as Redis 7.0's
// quicklist. The elements live in chunks (listChunk), each one buffer of
// packed entries, so a list costs a few bytes per element plus a small
// fixed overhead per chunk, never one allocation per element. Push and pop
// at either end are O(1) amortised; access by index walks the chunks, O(n /
// chunk size), and then the entries of one chunk.
//
// The chunk size follows list-max-listpack-size as it was when the list was
// created (Redis fixes a quicklist's fill at creation too): a positive fill
// is the most entries per chunk (and at most 8 KB of them), a negative one
// the most bytes: -1..-5 = 4, 8, 16, 32, 64 KB.
type listValue struct {
	nodes []*listChunk // the live chunks are nodes[head:], never empty ones
	head  int32
	fill  int32
	n     int
}

// listChunk is a buffer of entries in buf[lo:hi], with free room on either
// side so that pushes at both ends rarely move anything. An entry is
//
//	uvarint(len) | bytes | backlen
//
// where backlen encodes len(uvarint)+len 7 bits per byte, read from its last
// byte backwards (a set high bit means "one more byte to the left"), as a
// listpack's backlen: that lets the chunk be walked in both directions.
type listChunk struct {
	p      unsafe.Pointer // the buffer, size bytes
	size   uint32
	lo, hi uint32
	count  uint32
}

const (
	listSizeSafetyLimit = 8192  // quicklist's SIZE_SAFETY_LIMIT
	listMaxChunkCount   = 65535 // a quicklist node counts its entries in 16 bits
	listChunkStructSize = int(unsafe.Sizeof(listChunk{}))
	listValueStructSize = int(unsafe.Sizeof(listValue{}))
	listShrinkMin       = 512 // smaller buffers are never shrunk
)

func newListValue(fill int) *listValue {
	if fill > 1<<30 {
		fill = 1 << 30
	} else if fill < -(1 << 30) {
		fill = -(1 << 30)
	}
	return &listValue{fill: int32(fill)}
}

// Len returns the number of elements.
func (v *listValue) Len() int { return v.n }

// encodingName returns what OBJECT ENCODING says for this value: Redis 7.0
// lists are always quicklists.
func (v *listValue) encodingName() string { return "quicklist" }

// clone returns a deep copy (COPY).
func (v *listValue) clone() *listValue {
	live := v.live()
	w := &listValue{fill: v.fill, n: v.n, nodes: make([]*listChunk, len(live))}
	for i, ch := range live {
		used := ch.used()
		nc := newListChunk(used, false)
		copy(nc.buf(), ch.buf()[ch.lo:ch.hi])
		nc.hi = uint32(used)
		nc.count = ch.count
		w.nodes[i] = nc
	}
	return w
}

// memoryUsage estimates the bytes the value holds (MEMORY USAGE).
func (v *listValue) memoryUsage() int {
	total := listValueStructSize + cap(v.nodes)*8
	for _, ch := range v.live() {
		total += listChunkStructSize + int(ch.size)
	}
	return total
}

// each calls fn for every element, head to tail, until it returns false.
// The slices alias the list: copy them to keep them past the next write.
func (v *listValue) each(fn func(elem []byte) bool) {
	it := v.iterAt(0)
	for {
		b, ok := it.next()
		if !ok || !fn(b) {
			return
		}
	}
}

// chunk sizing

// chunkLimits returns the most bytes and entries one chunk may hold.
func (v *listValue) chunkLimits() (maxBytes, maxCount int) {
	f := int(v.fill)
	if f >= 0 {
		return listSizeSafetyLimit, min(f, listMaxChunkCount)
	}
	level := -f - 1
	if level > 4 {
		level = 4
	}
	return 4096 << level, listMaxChunkCount
}

// allows reports whether an entry of sz bytes may be added to ch, as
// quicklist's _quicklistNodeAllowInsert.
func (v *listValue) allows(ch *listChunk, sz int) bool {
	maxBytes, maxCount := v.chunkLimits()
	return int(ch.count) < maxCount && ch.used()+sz <= maxBytes
}

// entry encoding

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// listEntrySize returns the bytes an element of length n takes in a chunk.
func listEntrySize(n int) int {
	h := uvarintLen(uint64(n)) + n
	return h + uvarintLen(uint64(h))
}

// putListEntry encodes s at the start of b, which has room for it.
func putListEntry(b []byte, s []byte) int {
	n := binary.PutUvarint(b, uint64(len(s)))
	n += copy(b[n:], s)
	back := uint64(n)
	k := uvarintLen(back)
	for i := n + k - 1; i >= n; i-- {
		c := byte(back & 0x7f)
		back >>= 7
		if i > n {
			c |= 0x80
		}
		b[i] = c
	}
	return n + k
}

// chunks

func newListChunk(capacity int, atEnd bool) *listChunk {
	b := slices.Grow([]byte(nil), capacity)
	b = b[:cap(b)]
	ch := &listChunk{p: unsafe.Pointer(unsafe.SliceData(b)), size: uint32(len(b))}
	if atEnd {
		ch.lo, ch.hi = ch.size, ch.size
	}
	return ch
}

func (ch *listChunk) buf() []byte { return unsafe.Slice((*byte)(ch.p), ch.size) }
func (ch *listChunk) used() int   { return int(ch.hi - ch.lo) }

// entryAt decodes the entry starting at off and returns its bytes and the
// offset of the next entry.
func (ch *listChunk) entryAt(off uint32) ([]byte, uint32) {
	b := unsafe.Slice((*byte)(unsafe.Add(ch.p, off)), ch.hi-off)
	var n uint64
	var h int
	if b[0] < 0x80 {
		n, h = uint64(b[0]), 1
	} else {
		n, h = binary.Uvarint(b)
	}
	end := h + int(n)
	data := b[h:end:end]
	if end < 0x80 {
		end++
	} else {
		end += uvarintLen(uint64(end))
	}
	return data, off + uint32(end)
}

// entryBefore decodes the entry ending at off and returns its bytes and its
// starting offset.
func (ch *listChunk) entryBefore(off uint32) ([]byte, uint32) {
	b := ch.buf()
	i := off - 1
	c := b[i]
	back := uint64(c & 0x7f)
	for shift := 7; c&0x80 != 0; shift += 7 {
		i--
		c = b[i]
		back |= uint64(c&0x7f) << shift
	}
	start := i - uint32(back)
	data, _ := ch.entryAt(start)
	return data, start
}

// offsetOf returns the offset where the k-th entry of ch starts (hi for
// k == count), walking from the nearer end.
func (ch *listChunk) offsetOf(k int) uint32 {
	if k <= int(ch.count)/2 {
		off := ch.lo
		for ; k > 0; k-- {
			_, off = ch.entryAt(off)
		}
		return off
	}
	off := ch.hi
	for j := int(ch.count) - k; j > 0; j-- {
		_, off = ch.entryBefore(off)
	}
	return off
}

// splice replaces the oldLen bytes at off with room for newLen bytes and
// returns where that room starts. It moves the smaller side of the buffer
// when there is room for that, else recentres the entries in the buffer,
// else grows it, keeping the free room on the side being written.
func (ch *listChunk) splice(off uint32, oldLen, newLen int, maxBytes int) uint32 {
	buf := ch.buf()
	lo, hi := int(ch.lo), int(ch.hi)
	o := int(off)
	front, tail := o-lo, hi-o-oldLen
	delta := newLen - oldLen
	if delta <= 0 {
		d := -delta
		if front < tail {
			copy(buf[lo+d:], buf[lo:o])
			ch.lo += uint32(d)
			return off + uint32(d)
		}
		copy(buf[o+newLen:], buf[o+oldLen:hi])
		ch.hi -= uint32(d)
		return off
	}
	if front <= tail && lo >= delta {
		copy(buf[lo-delta:], buf[lo:o])
		ch.lo -= uint32(delta)
		return off - uint32(delta)
	}
	if tail <= front && int(ch.size)-hi >= delta {
		copy(buf[o+newLen:], buf[o+oldLen:hi])
		ch.hi += uint32(delta)
		return off
	}
	need := hi - lo + delta
	if free := int(ch.size) - (hi - lo); free >= delta {
		// Recentre: half the room left in front, half behind.
		s := (free - delta) / 2
		if s > lo {
			copy(buf[s+front+newLen:], buf[o+oldLen:hi])
			copy(buf[s:], buf[lo:o])
		} else {
			copy(buf[s:], buf[lo:o])
			copy(buf[s+front+newLen:], buf[o+oldLen:hi])
		}
		ch.lo, ch.hi = uint32(s), uint32(s+need)
		return uint32(s + front)
	}
	// Grow: a quarter more than needed while small, half more beyond (a
	// small list stays tight, a long one reallocates its edge chunks less
	// often), never beyond the chunk's limit.
	capacity := need
	if ch.count > 0 {
		if need < 256 {
			capacity += need / 4
		} else {
			capacity += need / 2
		}
		if capacity > maxBytes {
			capacity = max(need, maxBytes)
		}
	}
	nb := slices.Grow([]byte(nil), capacity)
	nb = nb[:cap(nb)]
	start := 0
	if front == 0 && tail > 0 {
		start = len(nb) - need // pushing at the head: keep the room in front
	}
	copy(nb[start:], buf[lo:o])
	copy(nb[start+front+newLen:], buf[o+oldLen:hi])
	ch.p = unsafe.Pointer(unsafe.SliceData(nb))
	ch.size = uint32(len(nb))
	ch.lo = uint32(start)
	ch.hi = uint32(start + need)
	return uint32(start + front)
}

// maybeShrink reallocates the buffer of ch when its entries fill less than a
// quarter of it (after deletes), as a listpack shrinks when entries go.
func (ch *listChunk) maybeShrink() {
	used := ch.used()
	if ch.size < listShrinkMin || used*4 >= int(ch.size) || ch.count == 0 {
		return
	}
	nb := slices.Grow([]byte(nil), used+used/4)
	nb = nb[:cap(nb)]
	lo := (len(nb) - used) / 2
	copy(nb[lo:], ch.buf()[ch.lo:ch.hi])
	ch.p = unsafe.Pointer(unsafe.SliceData(nb))
	ch.size = uint32(len(nb))
	ch.lo, ch.hi = uint32(lo), uint32(lo+used)
}

// insertEntry inserts s as an entry at offset off of ch.
func (ch *listChunk) insertEntry(off uint32, s []byte, maxBytes int) {
	sz := listEntrySize(len(s))
	at := ch.splice(off, 0, sz, maxBytes)
	putListEntry(ch.buf()[at:], s)
	ch.count++
}

// node array

func (v *listValue) live() []*listChunk { return v.nodes[v.head:] }

func (v *listValue) first() *listChunk { return v.nodes[v.head] }
func (v *listValue) last() *listChunk  { return v.nodes[len(v.nodes)-1] }

func (v *listValue) pushFrontNode(ch *listChunk) {
	if v.head == 0 {
		live := len(v.nodes)
		nn := make([]*listChunk, live+max(live, 1))
		copy(nn[len(nn)-live:], v.nodes)
		v.nodes = nn
		v.head = int32(len(nn) - live)
	}
	v.head--
	v.nodes[v.head] = ch
}

func (v *listValue) pushBackNode(ch *listChunk) {
	if len(v.nodes) == cap(v.nodes) && v.head > 0 {
		n := copy(v.nodes, v.nodes[v.head:])
		clear(v.nodes[n:])
		v.nodes = v.nodes[:n]
		v.head = 0
	}
	v.nodes = append(v.nodes, ch)
}

// insertNode inserts ch before the live chunk i.
func (v *listValue) insertNode(i int, ch *listChunk) {
	if i == 0 {
		v.pushFrontNode(ch)
		return
	}
	v.pushBackNode(nil)
	live := v.live()
	copy(live[i+1:], live[i:])
	live[i] = ch
}

// removeNodes removes the live chunks [i, j).
func (v *listValue) removeNodes(i, j int) {
	live := v.live()
	switch {
	case i == j:
		return
	case j == len(live):
		clear(live[i:])
		v.nodes = v.nodes[:int(v.head)+i]
	case i == 0:
		clear(live[:j])
		v.head += int32(j)
	default:
		n := copy(live[i:], live[j:])
		clear(live[i+n:])
		v.nodes = v.nodes[:int(v.head)+i+n]
	}
	if int(v.head) == len(v.nodes) {
		v.nodes = v.nodes[:0]
		v.head = 0
	}
}

// element operations

func (v *listValue) pushFront(s []byte) {
	sz := listEntrySize(len(s))
	maxBytes, _ := v.chunkLimits()
	if len(v.nodes) == int(v.head) || !v.allows(v.first(), sz) {
		v.pushFrontNode(newListChunk(sz, true))
	}
	ch := v.first()
	ch.insertEntry(ch.lo, s, maxBytes)
	v.n++
}

func (v *listValue) pushBack(s []byte) {
	sz := listEntrySize(len(s))
	maxBytes, _ := v.chunkLimits()
	if len(v.nodes) == int(v.head) || !v.allows(v.last(), sz) {
		v.pushBackNode(newListChunk(sz, false))
	}
	ch := v.last()
	ch.insertEntry(ch.hi, s, maxBytes)
	v.n++
}

// push adds s at the head (front) or the tail.
func (v *listValue) push(s []byte, front bool) {
	if front {
		v.pushFront(s)
	} else {
		v.pushBack(s)
	}
}

// front and back return the first and last element of a non-empty list.
func (v *listValue) front() []byte {
	ch := v.first()
	b, _ := ch.entryAt(ch.lo)
	return b
}

func (v *listValue) back() []byte {
	ch := v.last()
	b, _ := ch.entryBefore(ch.hi)
	return b
}

// pop removes the first (front) or last element of a non-empty list and
// returns it. The slice stays valid until the next write to the list.
func (v *listValue) pop(front bool) []byte {
	var b []byte
	if front {
		ch := v.first()
		b, ch.lo = ch.entryAt(ch.lo)
		if ch.count--; ch.count == 0 {
			v.removeNodes(0, 1)
		} else {
			ch.maybeShrink()
		}
	} else {
		ch := v.last()
		b, ch.hi = ch.entryBefore(ch.hi)
		if ch.count--; ch.count == 0 {
			v.removeNodes(len(v.live())-1, len(v.live()))
		} else {
			ch.maybeShrink()
		}
	}
	v.n--
	return b
}

// locate returns the live chunk holding element i (0 <= i < n) and the
// index of the element within it, walking from the nearer end.
func (v *listValue) locate(i int) (ci, k int) {
	live := v.live()
	if i < v.n/2 {
		for ci = 0; ; ci++ {
			c := int(live[ci].count)
			if i < c {
				return ci, i
			}
			i -= c
		}
	}
	j := v.n - 1 - i // index counted from the tail
	for ci = len(live) - 1; ; ci-- {
		c := int(live[ci].count)
		if j < c {
			return ci, c - 1 - j
		}
		j -= c
	}
}

// index returns element i, 0 <= i < n.
func (v *listValue) index(i int) []byte {
	ci, k := v.locate(i)
	ch := v.live()[ci]
	b, _ := ch.entryAt(ch.offsetOf(k))
	return b
}

// set replaces element i, 0 <= i < n, with s.
func (v *listValue) set(i int, s []byte) {
	ci, k := v.locate(i)
	ch := v.live()[ci]
	off := ch.offsetOf(k)
	_, next := ch.entryAt(off)
	oldSz := int(next - off)
	sz := listEntrySize(len(s))
	maxBytes, _ := v.chunkLimits()
	if sz <= oldSz || ch.count == 1 || ch.used()-oldSz+sz <= maxBytes {
		at := ch.splice(off, oldSz, sz, maxBytes)
		putListEntry(ch.buf()[at:], s)
		return
	}
	// Too big for its chunk: delete and insert, which finds it a place.
	v.deleteRange(i, 1)
	v.insert(i, s)
}

// insert inserts s before element i (0 <= i <= n; i == n appends).
func (v *listValue) insert(i int, s []byte) {
	if i == 0 {
		v.pushFront(s)
		return
	}
	if i == v.n {
		v.pushBack(s)
		return
	}
	sz := listEntrySize(len(s))
	maxBytes, _ := v.chunkLimits()
	ci, k := v.locate(i)
	live := v.live()
	ch := live[ci]
	v.n++
	if v.allows(ch, sz) {
		ch.insertEntry(ch.offsetOf(k), s, maxBytes)
		return
	}
	if k == 0 {
		if prev := live[ci-1]; v.allows(prev, sz) {
			prev.insertEntry(prev.hi, s, maxBytes)
			return
		}
		nc := newListChunk(sz, false)
		nc.insertEntry(0, s, maxBytes)
		v.insertNode(ci, nc)
		return
	}
	// Split ch at k: the entries from k on move to a new chunk after it.
	off := ch.offsetOf(k)
	tailBytes := int(ch.hi - off)
	tc := newListChunk(tailBytes, false)
	copy(tc.buf(), ch.buf()[off:ch.hi])
	tc.hi = uint32(tailBytes)
	tc.count = ch.count - uint32(k)
	ch.hi = off
	ch.count = uint32(k)
	v.insertNode(ci+1, tc)
	switch {
	case v.allows(ch, sz):
		ch.insertEntry(ch.hi, s, maxBytes)
	case v.allows(tc, sz):
		tc.insertEntry(tc.lo, s, maxBytes)
	default:
		nc := newListChunk(sz, false)
		nc.insertEntry(0, s, maxBytes)
		v.insertNode(ci+1, nc)
	}
}

// deleteRange removes count elements from index start (a valid range).
func (v *listValue) deleteRange(start, count int) {
	if count <= 0 {
		return
	}
	if count == v.n {
		clear(v.nodes)
		v.nodes, v.head, v.n = v.nodes[:0], 0, 0
		return
	}
	ci, k := v.locate(start)
	v.n -= count
	live := v.live()
	firstDead, lastDead := -1, -1
	for count > 0 {
		ch := live[ci]
		take := min(int(ch.count)-k, count)
		count -= take
		if k == 0 && take == int(ch.count) {
			if firstDead < 0 {
				firstDead = ci
			}
			lastDead = ci + 1
		} else {
			from := ch.offsetOf(k)
			to := from
			for j := 0; j < take; j++ {
				_, to = ch.entryAt(to)
			}
			switch {
			case from == ch.lo:
				ch.lo = to
			case to == ch.hi:
				ch.hi = from
			default:
				maxBytes, _ := v.chunkLimits()
				ch.splice(from, int(to-from), 0, maxBytes)
			}
			ch.count -= uint32(take)
			ch.maybeShrink()
		}
		ci++
		k = 0
	}
	if firstDead >= 0 {
		v.removeNodes(firstDead, lastDead)
	}
}

// removeMatches removes up to limit elements equal to s (limit <= 0: all),
// scanning from the head or from the tail, and returns how many it removed.
func (v *listValue) removeMatches(s []byte, limit int, fromTail bool) int {
	removed := 0
	live := v.live()
	emptied := false
	for j := range live {
		if limit > 0 && removed == limit {
			break
		}
		ci := j
		if fromTail {
			ci = len(live) - 1 - j
		}
		ch := live[ci]
		buf := ch.buf()
		if !fromTail {
			w := ch.lo
			for r := ch.lo; r < ch.hi; {
				if limit > 0 && removed == limit {
					n := copy(buf[w:], buf[r:ch.hi])
					w += uint32(n)
					break
				}
				b, next := ch.entryAt(r)
				if bytes.Equal(b, s) {
					removed++
					ch.count--
				} else {
					if w != r {
						copy(buf[w:], buf[r:next])
					}
					w += next - r
				}
				r = next
			}
			ch.hi = w
		} else {
			w := ch.hi
			for r := ch.hi; r > ch.lo; {
				if limit > 0 && removed == limit {
					n := r - ch.lo
					w -= n
					copy(buf[w:], buf[ch.lo:r])
					break
				}
				b, start := ch.entryBefore(r)
				if bytes.Equal(b, s) {
					removed++
					ch.count--
				} else {
					w -= r - start
					if w != start {
						copy(buf[w:], buf[start:r])
					}
				}
				r = start
			}
			ch.lo = w
		}
		if ch.count == 0 {
			emptied = true
		} else {
			ch.maybeShrink()
		}
	}
	if emptied {
		n := 0
		for _, ch := range live {
			if ch.count > 0 {
				live[n] = ch
				n++
			}
		}
		clear(live[n:])
		v.nodes = v.nodes[:int(v.head)+n]
		if n == 0 {
			v.nodes, v.head = v.nodes[:0], 0
		}
	}
	v.n -= removed
	return removed
}

// iteration

// listIter walks the elements forward (next) or backward (prev).
type listIter struct {
	live []*listChunk
	ci   int
	off  uint32 // forward: start of the next entry; backward: end of it
}

// iterAt returns an iterator whose next returns element i (0 <= i <= n).
func (v *listValue) iterAt(i int) listIter {
	live := v.live()
	if i >= v.n {
		return listIter{live: live, ci: len(live)}
	}
	ci, k := v.locate(i)
	return listIter{live: live, ci: ci, off: live[ci].offsetOf(k)}
}

// revIterAt returns an iterator whose prev returns element i (-1 <= i < n).
func (v *listValue) revIterAt(i int) listIter {
	live := v.live()
	if i < 0 {
		return listIter{live: live, ci: -1}
	}
	ci, k := v.locate(i)
	ch := live[ci]
	_, end := ch.entryAt(ch.offsetOf(k))
	return listIter{live: live, ci: ci, off: end}
}

func (it *listIter) next() ([]byte, bool) {
	if it.ci >= len(it.live) {
		return nil, false
	}
	ch := it.live[it.ci]
	b, next := ch.entryAt(it.off)
	if next >= ch.hi {
		it.ci++
		if it.ci < len(it.live) {
			it.off = it.live[it.ci].lo
		}
	} else {
		it.off = next
	}
	return b, true
}

func (it *listIter) prev() ([]byte, bool) {
	if it.ci < 0 {
		return nil, false
	}
	ch := it.live[it.ci]
	b, start := ch.entryBefore(it.off)
	if start <= ch.lo {
		it.ci--
		if it.ci >= 0 {
			it.off = it.live[it.ci].hi
		}
	} else {
		it.off = start
	}
	return b, true
}
