package engine

import "unsafe"

// zbt is the ordered index of a sorted set in the "skiplist" encoding: a
// B+tree counted for order statistics, ordered by (score, member bytes).
// It answers what Redis's skiplist with spans answers (rank of an element,
// element at a rank, first element of a range) in O(log n), with no random
// levels, so its shape is a pure function of the operations applied to it.
//
// Leaves hold up to zbtLeafMax elements and are linked both ways for range
// iteration; inner nodes hold, per child, the number of elements under it
// and its smallest element. The member strings are shared with the sorted
// set's Dict.
type zbt struct {
	root   unsafe.Pointer // *zbtLeaf when height == 0, else *zbtInner; nil when empty
	height int
	length int
	head   *zbtLeaf
	tail   *zbtLeaf
}

// zent is one element of a sorted set.
type zent struct {
	member string
	score  float64
}

const (
	zbtLeafMax  = 64
	zbtInnerMax = 64
	zbtLeafMin  = zbtLeafMax / 4
	zbtInnerMin = zbtInnerMax / 4
)

type zbtLeaf struct {
	ents []zent
	prev *zbtLeaf
	next *zbtLeaf
}

type zbtChild struct {
	node  unsafe.Pointer
	count int
	min   zent
}

type zbtInner struct {
	kids []zbtChild
}

// zless reports whether (s1, m1) sorts before (s2, m2): by score, then by
// member bytes, as Redis orders sorted sets.
func zless(s1 float64, m1 string, s2 float64, m2 string) bool {
	return s1 < s2 || (s1 == s2 && m1 < m2)
}

func asLeaf(p unsafe.Pointer) *zbtLeaf   { return (*zbtLeaf)(p) }
func asInner(p unsafe.Pointer) *zbtInner { return (*zbtInner)(p) }

// Len returns the number of elements.
func (t *zbt) Len() int { return t.length }

// search returns the index of the first element of the leaf not before
// (score, member).
func (l *zbtLeaf) search(score float64, member string) int {
	lo, hi := 0, len(l.ents)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		e := &l.ents[m]
		if zless(e.score, e.member, score, member) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// childFor returns the index of the child whose range holds (score, member):
// the last child whose smallest element is not after it, or 0.
func (in *zbtInner) childFor(score float64, member string) int {
	lo, hi := 1, len(in.kids)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		k := &in.kids[m].min
		if zless(score, member, k.score, k.member) {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo - 1
}

// growEnts returns s with room for one more element, capped at zbtLeafMax.
func growEnts(s []zent, need int) []zent {
	if need <= cap(s) {
		return s
	}
	c := max(4, 2*cap(s))
	c = min(max(c, need), zbtLeafMax)
	ns := make([]zent, len(s), c)
	copy(ns, s)
	return ns
}

func (l *zbtLeaf) insertAt(pos int, e zent) {
	l.ents = growEnts(l.ents, len(l.ents)+1)
	l.ents = l.ents[:len(l.ents)+1]
	copy(l.ents[pos+1:], l.ents[pos:])
	l.ents[pos] = e
}

func (l *zbtLeaf) removeAt(pos int) {
	copy(l.ents[pos:], l.ents[pos+1:])
	l.ents[len(l.ents)-1] = zent{}
	l.ents = l.ents[:len(l.ents)-1]
}

func nodeMin(p unsafe.Pointer, h int) zent {
	if h == 0 {
		return asLeaf(p).ents[0]
	}
	return asInner(p).kids[0].min
}

func nodeSize(p unsafe.Pointer, h int) int {
	if h == 0 {
		return len(asLeaf(p).ents)
	}
	return len(asInner(p).kids)
}

func sumCounts(kids []zbtChild) int {
	n := 0
	for i := range kids {
		n += kids[i].count
	}
	return n
}

// insert adds an element, which must not be present.
func (t *zbt) insert(score float64, member string) {
	e := zent{member: member, score: score}
	if t.root == nil {
		l := &zbtLeaf{ents: make([]zent, 1, 1)}
		l.ents[0] = e
		t.root, t.height, t.head, t.tail, t.length = unsafe.Pointer(l), 0, l, l, 1
		return
	}
	right, rcount, rmin := t.insertNode(t.root, t.height, e)
	t.length++
	if right != nil {
		left := t.root
		r := &zbtInner{kids: make([]zbtChild, 2, 4)}
		r.kids[0] = zbtChild{node: left, count: t.length - rcount, min: nodeMin(left, t.height)}
		r.kids[1] = zbtChild{node: right, count: rcount, min: rmin}
		t.root = unsafe.Pointer(r)
		t.height++
	}
}

// insertNode inserts e under node n of height h. When n splits it returns
// the new right sibling, its element count and its smallest element.
func (t *zbt) insertNode(n unsafe.Pointer, h int, e zent) (unsafe.Pointer, int, zent) {
	if h == 0 {
		l := asLeaf(n)
		pos := l.search(e.score, e.member)
		if len(l.ents) < zbtLeafMax {
			l.insertAt(pos, e)
			return nil, 0, zent{}
		}
		r := &zbtLeaf{}
		switch {
		case pos == len(l.ents) && l.next == nil:
			// Appending past the largest element (increasing scores, a
			// common pattern): keep the full leaf full.
			r.ents = make([]zent, 1, 4)
			r.ents[0] = e
		case pos == 0 && l.prev == nil:
			// Prepending before the smallest: the full leaf moves right.
			r.ents = l.ents
			l.ents = make([]zent, 1, 4)
			l.ents[0] = e
		default:
			mid := len(l.ents) / 2
			r.ents = make([]zent, len(l.ents)-mid, zbtLeafMax)
			copy(r.ents, l.ents[mid:])
			clear(l.ents[mid:])
			l.ents = l.ents[:mid]
			if pos <= mid {
				l.insertAt(pos, e)
			} else {
				r.insertAt(pos-mid, e)
			}
		}
		r.prev, r.next = l, l.next
		if l.next != nil {
			l.next.prev = r
		} else {
			t.tail = r
		}
		l.next = r
		return unsafe.Pointer(r), len(r.ents), r.ents[0]
	}
	in := asInner(n)
	i := in.childFor(e.score, e.member)
	right, rcount, rmin := t.insertNode(in.kids[i].node, h-1, e)
	k := &in.kids[i]
	k.count++
	if zless(e.score, e.member, k.min.score, k.min.member) {
		k.min = e
	}
	if right == nil {
		return nil, 0, zent{}
	}
	k.count -= rcount
	child := zbtChild{node: right, count: rcount, min: rmin}
	if len(in.kids) < zbtInnerMax {
		in.kids = append(in.kids, zbtChild{})
		copy(in.kids[i+2:], in.kids[i+1:])
		in.kids[i+1] = child
		return nil, 0, zent{}
	}
	// Split the inner node, then place the new child.
	mid := len(in.kids) / 2
	r := &zbtInner{kids: make([]zbtChild, len(in.kids)-mid, zbtInnerMax)}
	copy(r.kids, in.kids[mid:])
	clear(in.kids[mid:])
	in.kids = in.kids[:mid]
	if i+1 <= mid {
		in.kids = append(in.kids, zbtChild{})
		copy(in.kids[i+2:], in.kids[i+1:])
		in.kids[i+1] = child
	} else {
		j := i + 1 - mid
		r.kids = append(r.kids, zbtChild{})
		copy(r.kids[j+1:], r.kids[j:])
		r.kids[j] = child
	}
	return unsafe.Pointer(r), sumCounts(r.kids), r.kids[0].min
}

// delete removes the element (score, member) and reports whether it was
// present.
func (t *zbt) delete(score float64, member string) bool {
	if t.root == nil || !t.deleteNode(t.root, t.height, score, member) {
		return false
	}
	t.length--
	for t.height > 0 {
		in := asInner(t.root)
		if len(in.kids) > 1 {
			break
		}
		t.root = in.kids[0].node
		t.height--
	}
	if t.height == 0 && len(asLeaf(t.root).ents) == 0 {
		t.root, t.head, t.tail = nil, nil, nil
	}
	return true
}

func (t *zbt) deleteNode(n unsafe.Pointer, h int, score float64, member string) bool {
	if h == 0 {
		l := asLeaf(n)
		pos := l.search(score, member)
		if pos == len(l.ents) || l.ents[pos].member != member || l.ents[pos].score != score {
			return false
		}
		l.removeAt(pos)
		return true
	}
	in := asInner(n)
	i := in.childFor(score, member)
	if !t.deleteNode(in.kids[i].node, h-1, score, member) {
		return false
	}
	in.kids[i].count--
	t.fixChild(in, i, h-1)
	return true
}

func (t *zbt) unlinkLeaf(l *zbtLeaf) {
	if l.prev != nil {
		l.prev.next = l.next
	} else {
		t.head = l.next
	}
	if l.next != nil {
		l.next.prev = l.prev
	} else {
		t.tail = l.prev
	}
	l.prev, l.next = nil, nil
}

func removeKid(in *zbtInner, i int) {
	copy(in.kids[i:], in.kids[i+1:])
	in.kids[len(in.kids)-1] = zbtChild{}
	in.kids = in.kids[:len(in.kids)-1]
}

// fixChild restores the invariants of child i of in (height ch) after an
// element was removed under it: its smallest element, and its size, by
// merging with or borrowing from a sibling.
func (t *zbt) fixChild(in *zbtInner, i int, ch int) {
	k := &in.kids[i]
	if k.count == 0 {
		if ch == 0 {
			t.unlinkLeaf(asLeaf(k.node))
		}
		removeKid(in, i)
		return
	}
	k.min = nodeMin(k.node, ch)
	minSize := zbtInnerMin
	if ch == 0 {
		minSize = zbtLeafMin
	}
	if nodeSize(k.node, ch) >= minSize || len(in.kids) == 1 {
		return
	}
	a := i
	if i+1 == len(in.kids) {
		a = i - 1
	}
	t.rebalance(in, a, ch)
}

// rebalance merges children a and a+1 of in (height ch) or shares their
// entries evenly when they do not fit comfortably in one node.
func (t *zbt) rebalance(in *zbtInner, a int, ch int) {
	L, R := &in.kids[a], &in.kids[a+1]
	if ch == 0 {
		l, r := asLeaf(L.node), asLeaf(R.node)
		total := len(l.ents) + len(r.ents)
		if total <= zbtLeafMax*3/4 {
			l.ents = growEnts(l.ents, total)
			l.ents = append(l.ents, r.ents...)
			t.unlinkLeaf(r)
			L.count = total
			removeKid(in, a+1)
			return
		}
		want := total / 2
		if len(l.ents) < want {
			k := want - len(l.ents)
			l.ents = growEnts(l.ents, want)
			l.ents = append(l.ents, r.ents[:k]...)
			copy(r.ents, r.ents[k:])
			clear(r.ents[len(r.ents)-k:])
			r.ents = r.ents[:len(r.ents)-k]
		} else {
			k := len(l.ents) - want
			r.ents = growEnts(r.ents, len(r.ents)+k)
			r.ents = r.ents[:len(r.ents)+k]
			copy(r.ents[k:], r.ents)
			copy(r.ents, l.ents[want:])
			clear(l.ents[want:])
			l.ents = l.ents[:want]
		}
		L.count, R.count = len(l.ents), len(r.ents)
		L.min, R.min = l.ents[0], r.ents[0]
		return
	}
	l, r := asInner(L.node), asInner(R.node)
	total := len(l.kids) + len(r.kids)
	if total <= zbtInnerMax*3/4 {
		l.kids = append(l.kids, r.kids...)
		L.count += R.count
		removeKid(in, a+1)
		return
	}
	want := total / 2
	if len(l.kids) < want {
		k := want - len(l.kids)
		l.kids = append(l.kids, r.kids[:k]...)
		copy(r.kids, r.kids[k:])
		clear(r.kids[len(r.kids)-k:])
		r.kids = r.kids[:len(r.kids)-k]
	} else {
		k := len(l.kids) - want
		moved := make([]zbtChild, k, k+len(r.kids))
		copy(moved, l.kids[want:])
		r.kids = append(moved, r.kids...)
		clear(l.kids[want:])
		l.kids = l.kids[:want]
	}
	L.count, R.count = sumCounts(l.kids), sumCounts(r.kids)
	L.min, R.min = l.kids[0].min, r.kids[0].min
}

// rank returns the number of elements before (score, member).
func (t *zbt) rank(score float64, member string) int {
	if t.root == nil {
		return 0
	}
	n, r := t.root, 0
	for h := t.height; h > 0; h-- {
		in := asInner(n)
		i := in.childFor(score, member)
		for j := 0; j < i; j++ {
			r += in.kids[j].count
		}
		n = in.kids[i].node
	}
	return r + asLeaf(n).search(score, member)
}

// at returns the leaf and position of the element of the given 0-based
// rank, which must be in [0, length).
func (t *zbt) at(rank int) (*zbtLeaf, int) {
	if rank == 0 {
		return t.head, 0
	}
	if rank == t.length-1 {
		return t.tail, len(t.tail.ents) - 1
	}
	n := t.root
	for h := t.height; h > 0; h-- {
		in := asInner(n)
		i := 0
		for ; i < len(in.kids)-1 && rank >= in.kids[i].count; i++ {
			rank -= in.kids[i].count
		}
		n = in.kids[i].node
	}
	return asLeaf(n), rank
}

// seek returns the rank of the first element for which pred holds, pred
// being false then true along the order (length if it never holds).
func (t *zbt) seek(pred func(e *zent) bool) int {
	if t.root == nil {
		return 0
	}
	n, r := t.root, 0
	for h := t.height; h > 0; h-- {
		in := asInner(n)
		// The first child whose smallest element satisfies pred; the
		// boundary is in the child before it.
		lo, hi := 0, len(in.kids)
		for lo < hi {
			m := int(uint(lo+hi) >> 1)
			if pred(&in.kids[m].min) {
				hi = m
			} else {
				lo = m + 1
			}
		}
		i := max(lo-1, 0)
		for j := 0; j < i; j++ {
			r += in.kids[j].count
		}
		n = in.kids[i].node
	}
	l := asLeaf(n)
	lo, hi := 0, len(l.ents)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if pred(&l.ents[m]) {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return r + lo
}

// each calls fn for every element in order until it returns false.
func (t *zbt) each(fn func(e *zent) bool) {
	for l := t.head; l != nil; l = l.next {
		for i := range l.ents {
			if !fn(&l.ents[i]) {
				return
			}
		}
	}
}

// zbtBuild returns a tree holding ents, which must be sorted and distinct.
// Nodes are filled evenly, as full as allowed.
func zbtBuild(ents []zent) zbt {
	var t zbt
	n := len(ents)
	if n == 0 {
		return t
	}
	nl := (n + zbtLeafMax - 1) / zbtLeafMax
	level := make([]zbtChild, nl)
	var prev *zbtLeaf
	off := 0
	for i := 0; i < nl; i++ {
		size := n / nl
		if i < n%nl {
			size++
		}
		l := &zbtLeaf{ents: make([]zent, size), prev: prev}
		copy(l.ents, ents[off:off+size])
		off += size
		if prev != nil {
			prev.next = l
		} else {
			t.head = l
		}
		prev = l
		level[i] = zbtChild{node: unsafe.Pointer(l), count: size, min: l.ents[0]}
	}
	t.tail = prev
	h := 0
	for len(level) > 1 {
		np := (len(level) + zbtInnerMax - 1) / zbtInnerMax
		up := make([]zbtChild, np)
		off := 0
		for i := 0; i < np; i++ {
			size := len(level) / np
			if i < len(level)%np {
				size++
			}
			in := &zbtInner{kids: make([]zbtChild, size, min(size+size/4+1, zbtInnerMax))}
			copy(in.kids, level[off:off+size])
			off += size
			up[i] = zbtChild{node: unsafe.Pointer(in), count: sumCounts(in.kids), min: in.kids[0].min}
		}
		level = up
		h++
	}
	t.root, t.height, t.length = level[0].node, h, n
	return t
}

// zbtPos is a position in a zbt, for iteration.
type zbtPos struct {
	leaf *zbtLeaf
	i    int
}

func (p *zbtPos) next() {
	p.i++
	if p.i == len(p.leaf.ents) {
		p.leaf, p.i = p.leaf.next, 0
	}
}

func (p *zbtPos) prev() {
	p.i--
	if p.i < 0 {
		p.leaf = p.leaf.prev
		if p.leaf != nil {
			p.i = len(p.leaf.ents) - 1
		}
	}
}

// memoryUsage estimates the bytes held by the tree's nodes (not the member
// strings, which the Dict accounts for).
func (t *zbt) memoryUsage() int {
	const leafSize = int(unsafe.Sizeof(zbtLeaf{}))
	const entSize = int(unsafe.Sizeof(zent{}))
	const innerSize = int(unsafe.Sizeof(zbtInner{}))
	const childSize = int(unsafe.Sizeof(zbtChild{}))
	total := 0
	for l := t.head; l != nil; l = l.next {
		total += leafSize + cap(l.ents)*entSize
	}
	var walk func(p unsafe.Pointer, h int)
	walk = func(p unsafe.Pointer, h int) {
		if h == 0 {
			return
		}
		in := asInner(p)
		total += innerSize + cap(in.kids)*childSize
		if h > 1 {
			for i := range in.kids {
				walk(in.kids[i].node, h-1)
			}
		}
	}
	if t.root != nil {
		walk(t.root, t.height)
	}
	return total
}
