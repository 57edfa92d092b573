package engine

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unsafe"
)

// checkTree verifies every invariant of t: order, counts and smallest
// elements in inner nodes, node sizes, the leaf chain, head, tail, length.
func checkTree(tb testing.TB, t *zbt) []zent {
	tb.Helper()
	if t.root == nil {
		if t.length != 0 || t.head != nil || t.tail != nil || t.height != 0 {
			tb.Fatalf("empty tree with length %d head %p tail %p height %d", t.length, t.head, t.tail, t.height)
		}
		return nil
	}
	var leaves []*zbtLeaf
	var walk func(p unsafe.Pointer, h int, root bool) (int, zent)
	walk = func(p unsafe.Pointer, h int, root bool) (int, zent) {
		if h == 0 {
			l := asLeaf(p)
			if len(l.ents) == 0 || len(l.ents) > zbtLeafMax || cap(l.ents) > zbtLeafMax {
				tb.Fatalf("leaf with %d entries, cap %d", len(l.ents), cap(l.ents))
			}
			leaves = append(leaves, l)
			return len(l.ents), l.ents[0]
		}
		in := asInner(p)
		if len(in.kids) == 0 || len(in.kids) > zbtInnerMax || (root && len(in.kids) < 2) {
			tb.Fatalf("inner node with %d children (root %v)", len(in.kids), root)
		}
		total := 0
		for i := range in.kids {
			n, m := walk(in.kids[i].node, h-1, false)
			if n != in.kids[i].count {
				tb.Fatalf("child %d at height %d counts %d, holds %d", i, h, in.kids[i].count, n)
			}
			if m != in.kids[i].min {
				tb.Fatalf("child %d at height %d has min %v, holds %v", i, h, in.kids[i].min, m)
			}
			total += n
		}
		return total, in.kids[0].min
	}
	total, _ := walk(t.root, t.height, true)
	if total != t.length {
		tb.Fatalf("length %d, holds %d", t.length, total)
	}
	if t.head != leaves[0] || t.tail != leaves[len(leaves)-1] {
		tb.Fatalf("head/tail do not match the leaves")
	}
	var all []zent
	for i, l := range leaves {
		var prev, next *zbtLeaf
		if i > 0 {
			prev = leaves[i-1]
		}
		if i+1 < len(leaves) {
			next = leaves[i+1]
		}
		if l.prev != prev || l.next != next {
			tb.Fatalf("leaf %d badly linked", i)
		}
		all = append(all, l.ents...)
	}
	for i := 1; i < len(all); i++ {
		if !zless(all[i-1].score, all[i-1].member, all[i].score, all[i].member) {
			tb.Fatalf("elements %d and %d out of order: %v %v", i-1, i, all[i-1], all[i])
		}
	}
	return all
}

func zentCmp(a, b zent) int {
	switch {
	case a.score < b.score:
		return -1
	case a.score > b.score:
		return 1
	}
	return strings.Compare(a.member, b.member)
}

// sortedModel is the reference: a sorted slice.
type sortedModel []zent

func (m *sortedModel) insert(e zent) {
	i, _ := slices.BinarySearchFunc(*m, e, zentCmp)
	*m = slices.Insert(*m, i, e)
}

func (m *sortedModel) delete(e zent) bool {
	i, found := slices.BinarySearchFunc(*m, e, zentCmp)
	if !found {
		return false
	}
	*m = slices.Delete(*m, i, i+1)
	return true
}

func TestZbtRandomAgainstModel(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3, 42} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, seed*7))
			var tree zbt
			var model sortedModel
			scores := map[string]float64{}
			var names []string
			for step := 0; step < 30000; step++ {
				op := rng.IntN(10)
				switch {
				case op < 5 || len(names) == 0:
					// insert a new member; few distinct scores so members break ties
					m := fmt.Sprintf("m%d", rng.IntN(100000))
					if _, ok := scores[m]; ok {
						continue
					}
					s := float64(rng.IntN(50))
					if rng.IntN(4) == 0 {
						s = float64(step) // increasing: the append path
					}
					if rng.IntN(8) == 0 {
						s = -float64(step) // decreasing: the prepend path
					}
					tree.insert(s, m)
					model.insert(zent{m, s})
					scores[m] = s
					names = append(names, m)
				case op < 8:
					i := rng.IntN(len(names))
					m := names[i]
					s := scores[m]
					if !tree.delete(s, m) || !model.delete(zent{m, s}) {
						t.Fatalf("delete %q %v failed", m, s)
					}
					if tree.delete(s, m) {
						t.Fatalf("deleted %q twice", m)
					}
					delete(scores, m)
					names[i] = names[len(names)-1]
					names = names[:len(names)-1]
				default:
					// update a score through the zset path
					i := rng.IntN(len(names))
					m := names[i]
					old := scores[m]
					s := old + float64(rng.IntN(5)-2)
					sl := &zsetSkiplist{tree: tree}
					sl.dict.Set(m, old)
					sl.updateScore([]byte(m), old, s)
					tree = sl.tree
					model.delete(zent{m, old})
					model.insert(zent{m, s})
					scores[m] = s
				}
				if step%500 == 0 || step > 29900 {
					all := checkTree(t, &tree)
					if !slices.Equal(all, model) {
						t.Fatalf("step %d: tree and model differ", step)
					}
					compareQueries(t, &tree, model, rng)
				}
			}
			// Empty it completely.
			for _, m := range names {
				if !tree.delete(scores[m], m) {
					t.Fatalf("final delete %q", m)
				}
			}
			checkTree(t, &tree)
			if tree.length != 0 || tree.root != nil {
				t.Fatalf("tree not empty")
			}
		})
	}
}

// compareQueries checks rank, at and seek against the model.
func compareQueries(t *testing.T, tree *zbt, model sortedModel, rng *rand.Rand) {
	t.Helper()
	if tree.Len() != len(model) {
		t.Fatalf("Len %d, model %d", tree.Len(), len(model))
	}
	for k := 0; k < 50 && len(model) > 0; k++ {
		r := rng.IntN(len(model))
		e := model[r]
		if got := tree.rank(e.score, e.member); got != r {
			t.Fatalf("rank(%v) = %d, want %d", e, got, r)
		}
		l, i := tree.at(r)
		if l.ents[i] != e {
			t.Fatalf("at(%d) = %v, want %v", r, l.ents[i], e)
		}
		// iterate a few steps both ways
		p := zbtPos{l, i}
		for j := r; j < min(r+70, len(model)); j++ {
			if p.leaf == nil || p.leaf.ents[p.i] != model[j] {
				t.Fatalf("forward iteration from %d wrong at %d", r, j)
			}
			p.next()
		}
		p = zbtPos{l, i}
		for j := r; j >= max(r-70, 0); j-- {
			if p.leaf == nil || p.leaf.ents[p.i] != model[j] {
				t.Fatalf("backward iteration from %d wrong at %d", r, j)
			}
			p.prev()
		}
		th := float64(rng.IntN(60) - 5)
		ex := rng.IntN(2) == 0
		pred := func(e *zent) bool {
			if ex {
				return e.score > th
			}
			return e.score >= th
		}
		want := 0
		for want < len(model) && !pred(&model[want]) {
			want++
		}
		if got := tree.seek(pred); got != want {
			t.Fatalf("seek(score >= %v ex %v) = %d, want %d", th, ex, got, want)
		}
	}
}

func TestZbtBuildAndRangeDelete(t *testing.T) {
	for _, n := range []int{0, 1, 2, 63, 64, 65, 128, 129, 1000, 4097, 70000} {
		ents := make([]zent, n)
		for i := range ents {
			ents[i] = zent{member: fmt.Sprintf("k%07d", i), score: float64(i / 3)}
		}
		tree := zbtBuild(ents)
		all := checkTree(t, &tree)
		if !slices.Equal(all, ents) {
			t.Fatalf("build %d: contents differ", n)
		}
		if n == 0 {
			continue
		}
		// delete ranges through a zsetValue, both the rebuild and the
		// one-by-one paths
		z := &zsetValue{sl: newZsetSkiplist(1, ents)}
		model := slices.Clone(ents)
		rng := rand.New(rand.NewPCG(uint64(n), 9))
		for z.Len() > 0 {
			lo := rng.IntN(z.Len())
			hi := lo + rng.IntN(max(1, min(z.Len()-lo, 1+z.Len()/3)))
			if rng.IntN(5) == 0 {
				lo, hi = 0, z.Len()-1
			}
			if got := z.deleteRange(lo, hi); got != hi-lo+1 {
				t.Fatalf("deleteRange(%d,%d) = %d", lo, hi, got)
			}
			model = slices.Delete(model, lo, hi+1)
			all := checkTree(t, &z.sl.tree)
			if !slices.Equal(all, model) || z.sl.dict.Len() != len(model) {
				t.Fatalf("n=%d: after deleteRange(%d,%d) contents differ", n, lo, hi)
			}
		}
	}
}
