package engine

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// checkList verifies the invariants of v's chunks and that it holds want.
func checkList(t *testing.T, v *listValue, want [][]byte) {
	t.Helper()
	if v.Len() != len(want) {
		t.Fatalf("Len = %d, want %d", v.Len(), len(want))
	}
	maxBytes, maxCount := v.chunkLimits()
	total := 0
	for ci, ch := range v.live() {
		if ch == nil || ch.count == 0 {
			t.Fatalf("chunk %d is empty or nil", ci)
		}
		if ch.lo > ch.hi || ch.hi > ch.size {
			t.Fatalf("chunk %d: lo %d hi %d size %d", ci, ch.lo, ch.hi, ch.size)
		}
		if int(ch.count) > max(maxCount, 1) {
			t.Fatalf("chunk %d holds %d entries, limit %d", ci, ch.count, maxCount)
		}
		if ch.count > 1 && ch.used() > maxBytes {
			t.Fatalf("chunk %d holds %d bytes, limit %d", ci, ch.used(), maxBytes)
		}
		// Forward and backward walks agree on the entries.
		var fwd [][]byte
		for off := ch.lo; off < ch.hi; {
			var b []byte
			b, off = ch.entryAt(off)
			fwd = append(fwd, b)
		}
		if len(fwd) != int(ch.count) {
			t.Fatalf("chunk %d: walked %d entries, count %d", ci, len(fwd), ch.count)
		}
		k := len(fwd)
		for off := ch.hi; off > ch.lo; {
			var b []byte
			b, off = ch.entryBefore(off)
			k--
			if !bytes.Equal(b, fwd[k]) {
				t.Fatalf("chunk %d: backward walk differs at %d", ci, k)
			}
		}
		for _, b := range fwd {
			if total >= len(want) || !bytes.Equal(b, want[total]) {
				t.Fatalf("element %d differs", total)
			}
			total++
		}
	}
	if total != len(want) {
		t.Fatalf("chunks hold %d elements, want %d", total, len(want))
	}
	// Iterators and index agree.
	it := v.iterAt(0)
	for i := range want {
		b, ok := it.next()
		if !ok || !bytes.Equal(b, want[i]) {
			t.Fatalf("iterator differs at %d", i)
		}
	}
	if _, ok := it.next(); ok {
		t.Fatal("iterator did not end")
	}
	rit := v.revIterAt(len(want) - 1)
	for i := len(want) - 1; i >= 0; i-- {
		b, ok := rit.prev()
		if !ok || !bytes.Equal(b, want[i]) {
			t.Fatalf("reverse iterator differs at %d", i)
		}
	}
	if _, ok := rit.prev(); ok {
		t.Fatal("reverse iterator did not end")
	}
}

func randElem(r *rand.Rand) []byte {
	var n int
	switch r.IntN(10) {
	case 0:
		n = 0
	case 1:
		n = 100 + r.IntN(200) // two-byte lengths
	case 2:
		if r.IntN(20) == 0 {
			n = 16000 + r.IntN(10000) // three-byte lengths, bigger than a chunk
		}
	default:
		n = 1 + r.IntN(3)
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = "abcdefghij"[r.IntN(10)]
	}
	return b
}

// TestListModel applies random operations to a list and to a slice and
// compares them, for several chunk sizes.
func TestListModel(t *testing.T) {
	for _, fill := range []int{-1, -2, -5, -6, 0, 1, 2, 3, 5, 128} {
		t.Run(fmt.Sprint("fill", fill), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(fill+100), 7))
			v := newListValue(fill)
			var m [][]byte
			maxChunks := 0
			for step := 0; step < 8000; step++ {
				switch op := r.IntN(100); {
				case op < 20:
					e := randElem(r)
					v.pushFront(e)
					m = append([][]byte{e}, m...)
				case op < 40:
					e := randElem(r)
					v.pushBack(e)
					m = append(m, e)
				case op < 50 && len(m) > 0:
					front := r.IntN(2) == 0
					var want []byte
					if front {
						want, m = m[0], m[1:]
					} else {
						want, m = m[len(m)-1], m[:len(m)-1]
					}
					want = bytes.Clone(want)
					if got := v.pop(front); !bytes.Equal(got, want) {
						t.Fatalf("step %d: pop = %q, want %q", step, got, want)
					}
				case op < 60:
					i := r.IntN(len(m) + 1)
					e := randElem(r)
					v.insert(i, e)
					m = append(m[:i], append([][]byte{e}, m[i:]...)...)
				case op < 70 && len(m) > 0:
					i := r.IntN(len(m))
					e := randElem(r)
					v.set(i, e)
					m[i] = e
				case op < 75 && len(m) > 0:
					i := r.IntN(len(m))
					if !bytes.Equal(v.index(i), m[i]) {
						t.Fatalf("step %d: index %d differs", step, i)
					}
				case op < 82 && len(m) > 0:
					s := r.IntN(len(m))
					n := r.IntN(min(len(m)-s, 6) + 1)
					if r.IntN(50) == 0 {
						n = r.IntN(len(m) - s + 1)
					}
					v.deleteRange(s, n)
					m = append(m[:s], m[s+n:]...)
				case op < 87 && len(m) > 0:
					target := m[r.IntN(len(m))]
					target = bytes.Clone(target)
					limit := r.IntN(4)
					fromTail := r.IntN(2) == 0
					want := 0
					var nm [][]byte
					if !fromTail {
						for _, e := range m {
							if bytes.Equal(e, target) && (limit == 0 || want < limit) {
								want++
								continue
							}
							nm = append(nm, e)
						}
					} else {
						for i := len(m) - 1; i >= 0; i-- {
							if bytes.Equal(m[i], target) && (limit == 0 || want < limit) {
								want++
								continue
							}
							nm = append([][]byte{m[i]}, nm...)
						}
					}
					if got := v.removeMatches(target, limit, fromTail); got != want {
						t.Fatalf("step %d: removeMatches = %d, want %d", step, got, want)
					}
					m = nm
				case op < 88:
					w := v.clone()
					checkList(t, w, m)
				case op < 89 && len(m) > 3000:
					v.deleteRange(0, len(m))
					m = nil
				}
				maxChunks = max(maxChunks, len(v.live()))
				if step%500 == 0 || len(m) < 5 {
					checkList(t, v, m)
				}
			}
			checkList(t, v, m)
			t.Logf("fill %d: %d elements in %d chunks, max %d chunks", fill, len(m), len(v.live()), maxChunks)
		})
	}
}

// A queue (push at one end, pop at the other) keeps a bounded node array.
func TestListQueueNodes(t *testing.T) {
	v := newListValue(4)
	for i := 0; i < 100000; i++ {
		v.pushBack([]byte("x"))
		if v.Len() > 40 {
			v.pop(true)
		}
	}
	if cap(v.nodes) > 64 {
		t.Fatalf("node array grew to %d", cap(v.nodes))
	}
	v = newListValue(4)
	for i := 0; i < 100000; i++ {
		v.pushFront([]byte("x"))
		if v.Len() > 40 {
			v.pop(false)
		}
	}
	if cap(v.nodes) > 64 {
		t.Fatalf("node array grew to %d", cap(v.nodes))
	}
}

// The chunks follow list-max-listpack-size.
func TestListChunkSizes(t *testing.T) {
	v := newListValue(3)
	for i := 0; i < 10; i++ {
		v.pushBack([]byte("abc"))
	}
	if got := len(v.live()); got != 4 {
		t.Fatalf("fill 3: %d chunks, want 4", got)
	}
	v = newListValue(-1)
	elem := []byte(strings.Repeat("x", 100)) // 102 bytes an entry
	for i := 0; i < 1000; i++ {
		v.pushFront(elem)
	}
	for _, ch := range v.live() {
		if ch.used() > 4096 {
			t.Fatalf("chunk of %d bytes with fill -1", ch.used())
		}
	}
	if got := len(v.live()); got < 25 || got > 26 {
		t.Fatalf("fill -1: %d chunks of 102-byte entries, want about 25", got)
	}
	// A small list is one small allocation.
	v = newListValue(-2)
	v.pushBack([]byte("hello"))
	v.pushBack([]byte("world"))
	if len(v.live()) != 1 || v.live()[0].size > 32 {
		t.Fatalf("small list: %d chunks, first of %d bytes", len(v.live()), v.live()[0].size)
	}
	if v.encodingName() != "quicklist" {
		t.Fatal(v.encodingName())
	}
}

func TestListEach(t *testing.T) {
	v := newListValue(2)
	for i := 0; i < 7; i++ {
		v.pushBack([]byte{byte('a' + i)})
	}
	var got []string
	v.each(func(b []byte) bool {
		got = append(got, string(b))
		return len(got) < 5
	})
	if strings.Join(got, "") != "abcde" {
		t.Fatal(got)
	}
}

// Buffers shrink when deletes leave them mostly empty (LTRIM of a long
// list to a few elements keeps a few bytes, not a whole chunk).
func TestListShrink(t *testing.T) {
	v := newListValue(-2)
	for i := 0; i < 1000; i++ {
		v.pushBack([]byte(fmt.Sprintf("element-%04d", i)))
	}
	v.deleteRange(10, v.Len()-10)
	if len(v.live()) != 1 || v.live()[0].size > 256 {
		t.Fatalf("after trim: %d chunks, first of %d bytes", len(v.live()), v.live()[0].size)
	}
	for i := 0; i < 1000; i++ {
		v.pushFront([]byte(fmt.Sprintf("element-%04d", i)))
	}
	for v.Len() > 3 {
		v.pop(true)
	}
	if v.live()[0].size >= listShrinkMin {
		t.Fatalf("after pops: first chunk of %d bytes", v.live()[0].size)
	}
	checkList(t, v, [][]byte{[]byte("element-0007"), []byte("element-0008"), []byte("element-0009")})
}
