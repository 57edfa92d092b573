package engine

import (
	"encoding/binary"
	"math"
)

// intset is Redis's intset: the members of a small set of integers, sorted
// ascending, packed little-endian with the narrowest width (2, 4 or 8 bytes)
// that holds every member. The width only grows (adding a wider member
// rewrites the set), as in Redis.
type intset struct {
	data  []byte
	width uint8 // 0 (empty, treated as 2), 2, 4 or 8
}

func intsetWidthFor(v int64) uint8 {
	switch {
	case v >= math.MinInt16 && v <= math.MaxInt16:
		return 2
	case v >= math.MinInt32 && v <= math.MaxInt32:
		return 4
	}
	return 8
}

func (s *intset) w() int {
	if s.width == 0 {
		return 2
	}
	return int(s.width)
}

func (s *intset) len() int { return len(s.data) / s.w() }

// get returns the member at index i.
func (s *intset) get(i int) int64 {
	switch s.w() {
	case 2:
		return int64(int16(binary.LittleEndian.Uint16(s.data[i*2:])))
	case 4:
		return int64(int32(binary.LittleEndian.Uint32(s.data[i*4:])))
	}
	return int64(binary.LittleEndian.Uint64(s.data[i*8:]))
}

func (s *intset) put(i int, v int64) {
	switch s.w() {
	case 2:
		binary.LittleEndian.PutUint16(s.data[i*2:], uint16(v))
	case 4:
		binary.LittleEndian.PutUint32(s.data[i*4:], uint32(v))
	default:
		binary.LittleEndian.PutUint64(s.data[i*8:], uint64(v))
	}
}

// search returns the index of v, or where it would be inserted.
func (s *intset) search(v int64) (int, bool) {
	n := s.len()
	if n == 0 {
		return 0, false
	}
	// As Redis: check the ends first, the common case for ascending adds.
	if v > s.get(n-1) {
		return n, false
	}
	if v < s.get(0) {
		return 0, false
	}
	lo, hi := 0, n-1
	for lo <= hi {
		mid := int(uint(lo+hi) >> 1)
		cur := s.get(mid)
		switch {
		case v > cur:
			lo = mid + 1
		case v < cur:
			hi = mid - 1
		default:
			return mid, true
		}
	}
	return lo, false
}

func (s *intset) contains(v int64) bool {
	if intsetWidthFor(v) > uint8(s.w()) {
		return false
	}
	_, found := s.search(v)
	return found
}

// add inserts v and reports whether it was absent.
func (s *intset) add(v int64) bool {
	if need := intsetWidthFor(v); need > uint8(s.w()) {
		s.upgrade(need)
	}
	i, found := s.search(v)
	if found {
		return false
	}
	w := s.w()
	n := len(s.data)
	s.data = hlpGrow(s.data, n+w)
	copy(s.data[(i+1)*w:], s.data[i*w:n])
	s.put(i, v)
	return true
}

// upgrade rewrites the members with a wider width.
func (s *intset) upgrade(width uint8) {
	n := s.len()
	old := intset{data: s.data, width: s.width}
	s.width = width
	s.data = make([]byte, n*int(width), (n+1)*int(width))
	for i := 0; i < n; i++ {
		s.put(i, old.get(i))
	}
}

// remove deletes v and reports whether it was present.
func (s *intset) remove(v int64) bool {
	if intsetWidthFor(v) > uint8(s.w()) {
		return false
	}
	i, found := s.search(v)
	if !found {
		return false
	}
	s.removeAt(i)
	return true
}

func (s *intset) removeAt(i int) {
	w := s.w()
	s.data = hlpResize(s.data, i*w, (i+1)*w, 0)
}

func (s *intset) clone() intset {
	return intset{data: append([]byte(nil), s.data...), width: s.width}
}
