package engine

import (
	"bytes"
	"encoding/binary"
)

// The compact ("listpack") encoding of a small hash is one []byte holding
// its field-value pairs in insertion order, each string stored as a uvarint
// length followed by its bytes. As in Redis's listpack, lookups scan it and
// updates move the bytes after the changed entry; it costs two or three
// bytes per string over the data itself.

// hlpLimit is the largest listpack Redis lets grow (lpSafeToAdd: 1 GB).
const hlpLimit = 1 << 30

// hlpNext decodes the string at pos and returns it (aliasing lp) and the
// position after it.
func hlpNext(lp []byte, pos int) ([]byte, int) {
	l := int(lp[pos])
	pos++
	if l >= 0x80 {
		v, n := binary.Uvarint(lp[pos-1:])
		l = int(v)
		pos += n - 1
	}
	return lp[pos : pos+l : pos+l], pos + l
}

// hlpSize returns the bytes of the length header of a string of length n.
func hlpSize(n int) int {
	s := 1
	for n >= 0x80 {
		n >>= 7
		s++
	}
	return s
}

// hlpPut writes the string s at lp[pos:] (which has room) and returns the
// position after it.
func hlpPut(lp []byte, pos int, s []byte) int {
	pos += binary.PutUvarint(lp[pos:], uint64(len(s)))
	return pos + copy(lp[pos:], s)
}

// hlpGrow returns b with length n, reallocating with a little headroom when
// its capacity is too small (Redis reallocates listpacks to their exact
// size; a small margin keeps appends amortised without doubling memory).
func hlpGrow(b []byte, n int) []byte {
	if n <= cap(b) {
		return b[:n]
	}
	nb := make([]byte, n, n+n/8+8)
	copy(nb, b)
	return nb
}

// hlpResize makes the region lp[start:end] newLen bytes long, moving what
// follows it, and returns the updated slice; the region's new bytes are
// left for the caller to fill.
func hlpResize(lp []byte, start, end, newLen int) []byte {
	delta := newLen - (end - start)
	switch {
	case delta > 0:
		n := len(lp)
		lp = hlpGrow(lp, n+delta)
		copy(lp[end+delta:], lp[end:n])
	case delta < 0:
		copy(lp[end+delta:], lp[end:])
		lp = lp[:len(lp)+delta]
		// Give memory back when most of the buffer is unused, as a
		// listpack shrinks on delete.
		if cap(lp) > 64 && cap(lp) > 2*len(lp) {
			nb := make([]byte, len(lp), len(lp)+len(lp)/8)
			copy(nb, lp)
			lp = nb
		}
	}
	return lp
}

// hlpFind returns the position of the field's entry and of its value's
// entry, or -1, -1.
func hlpFind(lp []byte, field []byte) (fpos, vpos int) {
	for pos := 0; pos < len(lp); {
		f, next := hlpNext(lp, pos)
		if len(f) == len(field) && bytes.Equal(f, field) {
			return pos, next
		}
		_, pos = hlpNext(lp, next)
	}
	return -1, -1
}

// hlpAt returns the position of the pair with index i (0-based).
func hlpAt(lp []byte, i int) int {
	pos := 0
	for ; i > 0; i-- {
		_, pos = hlpNext(lp, pos)
		_, pos = hlpNext(lp, pos)
	}
	return pos
}

// hlpPair decodes the pair at pos and returns field, value and the position
// of the next pair.
func hlpPair(lp []byte, pos int) (field, value []byte, next int) {
	field, pos = hlpNext(lp, pos)
	value, next = hlpNext(lp, pos)
	return field, value, next
}

// hlpOffsets returns the position of every pair.
func hlpOffsets(lp []byte, n int) []int32 {
	out := make([]int32, 0, n)
	for pos := 0; pos < len(lp); {
		out = append(out, int32(pos))
		_, pos = hlpNext(lp, pos)
		_, pos = hlpNext(lp, pos)
	}
	return out
}

// hlpSet sets field to value and reports whether the field was added.
func hlpSet(lp []byte, field, value []byte) ([]byte, bool) {
	_, vpos := hlpFind(lp, field)
	if vpos >= 0 {
		_, vend := hlpNext(lp, vpos)
		lp = hlpResize(lp, vpos, vend, hlpSize(len(value))+len(value))
		hlpPut(lp, vpos, value)
		return lp, false
	}
	n := len(lp)
	lp = hlpGrow(lp, n+hlpSize(len(field))+len(field)+hlpSize(len(value))+len(value))
	hlpPut(lp, hlpPut(lp, n, field), value)
	return lp, true
}

// hlpDelete removes field and reports whether it was there.
func hlpDelete(lp []byte, field []byte) ([]byte, bool) {
	fpos, vpos := hlpFind(lp, field)
	if fpos < 0 {
		return lp, false
	}
	_, end := hlpNext(lp, vpos)
	return hlpResize(lp, fpos, end, 0), true
}
