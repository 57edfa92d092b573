package engine

import (
	"encoding/binary"
	"math"
)

// Redis's compact byte formats, as they travel in DUMP payloads: listpack
// (hashes, sorted sets and quicklist nodes in Redis 7.0), ziplist (the same
// in RDB versions before 10, accepted by RESTORE) and intset. The engine
// keeps its own compact encodings (hash_listpack.go, zset_value.go,
// list_quicklist.go); these functions translate at the boundary and check
// untrusted input as Redis's deep sanitization does (sanitize-dump-payload
// yes), so that a corrupt payload is refused instead of stored.

// ---- listpack ----

const (
	lpHeaderSize     = 6 // total bytes (uint32) + number of elements (uint16)
	lpNumeleUnknown  = math.MaxUint16
	lpEOF            = 0xFF
	lpEnc6BitStr     = 0x80
	lpEnc13BitInt    = 0xC0
	lpEnc12BitStr    = 0xE0
	lpEnc32BitStr    = 0xF0
	lpEnc16BitInt    = 0xF1
	lpEnc24BitInt    = 0xF2
	lpEnc32BitInt    = 0xF3
	lpEnc64BitInt    = 0xF4
	lpMaxSafetySize  = 1 << 30 // LISTPACK_MAX_SAFETY_SIZE
	rdbPackedLimit   = 1 << 30 // quicklist's packed_threshold default: larger elements get a plain node
	lpSizeEstimateOH = 8       // quicklist's SIZE_ESTIMATE_OVERHEAD
)

// lpBacklenSize returns the bytes lpEncodeBacklen uses for an entry of l
// bytes (note Redis's strict "<" thresholds).
func lpBacklenSize(l uint64) int {
	switch {
	case l <= 127:
		return 1
	case l < 16383:
		return 2
	case l < 2097151:
		return 3
	case l < 268435455:
		return 4
	}
	return 5
}

// lpPutBacklen appends the backlen of an entry of l bytes.
func lpPutBacklen(b []byte, l uint64) []byte {
	n := lpBacklenSize(l)
	if n == 1 {
		return append(b, byte(l))
	}
	// The first byte holds the highest bits with bit 7 clear; the others
	// have bit 7 set and the lowest 7 bits come last.
	for i := n - 1; i >= 0; i-- {
		c := byte(l>>(7*uint(i))) & 127
		if i != n-1 {
			c |= 128
		}
		b = append(b, c)
	}
	return b
}

// lpDecodeBacklen reads a backlen whose last byte is b[end], backwards, as
// lpDecodeBacklen; ok is false when it uses more than 5 bytes or runs off
// the start of b.
func lpDecodeBacklen(b []byte, end int) (uint64, bool) {
	var val, shift uint64
	for i := end; ; i-- {
		if i < 0 {
			return 0, false
		}
		val |= uint64(b[i]&127) << shift
		if b[i]&128 == 0 {
			return val, true
		}
		shift += 7
		if shift > 28 {
			return 0, false
		}
	}
}

// lpWriter builds a listpack as Redis's lpAppend does.
type lpWriter struct {
	buf   []byte
	count int
}

func newLPWriter(buf []byte) lpWriter {
	return lpWriter{buf: append(buf[:0], 0, 0, 0, 0, 0, 0)}
}

// size returns the bytes of the listpack finished now (quicklist's
// node->sz).
func (w *lpWriter) size() int { return len(w.buf) + 1 }

// appendString appends s, integer-encoded when it is the canonical form of
// an int64 (lpEncodeGetType).
func (w *lpWriter) appendString(s []byte) {
	if v, ok := parseInt(s); ok {
		w.appendInt(v)
		return
	}
	start := len(w.buf)
	n := len(s)
	switch {
	case n < 64:
		w.buf = append(w.buf, byte(n)|lpEnc6BitStr)
	case n < 4096:
		w.buf = append(w.buf, byte(n>>8)|lpEnc12BitStr, byte(n))
	default:
		w.buf = append(w.buf, lpEnc32BitStr, byte(n), byte(n>>8), byte(n>>16), byte(n>>24))
	}
	w.buf = append(w.buf, s...)
	w.buf = lpPutBacklen(w.buf, uint64(len(w.buf)-start))
	w.count++
}

// appendInt appends v with the narrowest integer encoding.
func (w *lpWriter) appendInt(v int64) {
	start := len(w.buf)
	switch {
	case v >= 0 && v <= 127:
		w.buf = append(w.buf, byte(v))
	case v >= -4096 && v <= 4095:
		u := uint64(v) & (1<<13 - 1)
		w.buf = append(w.buf, byte(u>>8)|lpEnc13BitInt, byte(u))
	case v >= math.MinInt16 && v <= math.MaxInt16:
		w.buf = append(w.buf, lpEnc16BitInt, byte(v), byte(v>>8))
	case v >= -8388608 && v <= 8388607:
		w.buf = append(w.buf, lpEnc24BitInt, byte(v), byte(v>>8), byte(v>>16))
	case v >= math.MinInt32 && v <= math.MaxInt32:
		w.buf = append(w.buf, lpEnc32BitInt, byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
	default:
		w.buf = append(w.buf, lpEnc64BitInt)
		w.buf = binary.LittleEndian.AppendUint64(w.buf, uint64(v))
	}
	w.buf = lpPutBacklen(w.buf, uint64(len(w.buf)-start))
	w.count++
}

// finish terminates the listpack, fills its header and returns it.
func (w *lpWriter) finish() []byte {
	w.buf = append(w.buf, lpEOF)
	binary.LittleEndian.PutUint32(w.buf, uint32(len(w.buf)))
	n := w.count
	if n >= lpNumeleUnknown {
		n = lpNumeleUnknown
	}
	binary.LittleEndian.PutUint16(w.buf[4:], uint16(n))
	return w.buf
}

// lpEntryInfo decodes the header of the entry at p: the bytes of its
// encoding and length header, and of its data. ok is false for an invalid
// encoding byte.
func lpEntryInfo(lp []byte, p int) (hdr int, data uint64, ok bool) {
	c := lp[p]
	switch {
	case c&0x80 == 0:
		return 1, 0, true
	case c&0xC0 == lpEnc6BitStr:
		return 1, uint64(c & 0x3F), true
	case c&0xE0 == lpEnc13BitInt:
		return 1, 1, true
	case c == lpEnc16BitInt:
		return 1, 2, true
	case c == lpEnc24BitInt:
		return 1, 3, true
	case c == lpEnc32BitInt:
		return 1, 4, true
	case c == lpEnc64BitInt:
		return 1, 8, true
	case c&0xF0 == lpEnc12BitStr:
		if p+1 >= len(lp) {
			return 0, 0, false
		}
		return 2, uint64(c&0x0F)<<8 | uint64(lp[p+1]), true
	case c == lpEnc32BitStr:
		if p+4 >= len(lp) {
			return 0, 0, false
		}
		return 5, uint64(binary.LittleEndian.Uint32(lp[p+1:])), true
	}
	return 0, 0, false
}

// lpValue decodes a validated entry at p: a string (aliasing lp) or an
// integer.
func lpValue(lp []byte, p int) (s []byte, v int64, isInt bool) {
	c := lp[p]
	var uval, negstart, negmax uint64
	switch {
	case c&0x80 == 0:
		return nil, int64(c), true
	case c&0xC0 == lpEnc6BitStr:
		n := int(c & 0x3F)
		return lp[p+1 : p+1+n], 0, false
	case c&0xE0 == lpEnc13BitInt:
		uval = uint64(c&0x1F)<<8 | uint64(lp[p+1])
		negstart, negmax = 1<<12, 8191
	case c == lpEnc16BitInt:
		uval = uint64(binary.LittleEndian.Uint16(lp[p+1:]))
		negstart, negmax = 1<<15, math.MaxUint16
	case c == lpEnc24BitInt:
		uval = uint64(lp[p+1]) | uint64(lp[p+2])<<8 | uint64(lp[p+3])<<16
		negstart, negmax = 1<<23, math.MaxUint32>>8
	case c == lpEnc32BitInt:
		uval = uint64(binary.LittleEndian.Uint32(lp[p+1:]))
		negstart, negmax = 1<<31, math.MaxUint32
	case c == lpEnc64BitInt:
		uval = binary.LittleEndian.Uint64(lp[p+1:])
		negstart, negmax = 1<<63, math.MaxUint64
	case c&0xF0 == lpEnc12BitStr:
		n := int(c&0x0F)<<8 | int(lp[p+1])
		return lp[p+2 : p+2+n], 0, false
	default: // lpEnc32BitStr
		n := int(binary.LittleEndian.Uint32(lp[p+1:]))
		return lp[p+5 : p+5+n], 0, false
	}
	if uval >= negstart {
		uval = negmax - uval
		return nil, -int64(uval) - 1, true
	}
	return nil, int64(uval), true
}

// lpValidate checks a listpack as lpValidateIntegrity with deep=1 and calls
// fn, when not nil, with every element in order (s aliases lp). It returns
// the number of elements, or ok=false if the listpack is corrupt or fn
// returned false.
func lpValidate(lp []byte, fn func(s []byte, v int64, isInt bool) bool) (count int, ok bool) {
	size := len(lp)
	if size < lpHeaderSize+1 {
		return 0, false
	}
	if int(binary.LittleEndian.Uint32(lp)) != size || lp[size-1] != lpEOF {
		return 0, false
	}
	numele := int(binary.LittleEndian.Uint16(lp[4:]))
	p := lpHeaderSize
	for lp[p] != lpEOF {
		hdr, data, ok := lpEntryInfo(lp, p)
		if !ok || p+hdr > size-1 {
			return 0, false
		}
		entry := uint64(hdr) + data
		back := lpBacklenSize(entry)
		if uint64(p)+entry+uint64(back) > uint64(size-1) {
			return 0, false
		}
		next := p + int(entry) + back
		prevlen, ok := lpDecodeBacklen(lp, next-1)
		if !ok || prevlen != entry {
			return 0, false
		}
		if fn != nil {
			s, v, isInt := lpValue(lp, p)
			if !fn(s, v, isInt) {
				return 0, false
			}
		}
		count++
		p = next
	}
	if p != size-1 {
		return 0, false
	}
	if numele != lpNumeleUnknown && numele != count {
		return 0, false
	}
	return count, true
}

// ---- ziplist ----

const (
	zlHeaderSize = 10 // zlbytes (uint32) + zltail (uint32) + zllen (uint16)
	zlEnd        = 0xFF
	zlBigPrevlen = 254
	zlStr06B     = 0 << 6
	zlStr14B     = 1 << 6
	zlStr32B     = 2 << 6
	zlInt16B     = 0xC0 | 0<<4
	zlInt32B     = 0xC0 | 1<<4
	zlInt64B     = 0xC0 | 2<<4
	zlInt24B     = 0xC0 | 3<<4
	zlInt8B      = 0xFE
	zlIntImmMin  = 0xF1
	zlIntImmMax  = 0xFD
)

// zlValidate checks a ziplist as ziplistValidateIntegrity with deep=1 and
// calls fn with every element in order (s aliases zl).
func zlValidate(zl []byte, fn func(s []byte, v int64, isInt bool) bool) (count int, ok bool) {
	size := len(zl)
	if size < zlHeaderSize+1 {
		return 0, false
	}
	if int(binary.LittleEndian.Uint32(zl)) != size || zl[size-1] != zlEnd {
		return 0, false
	}
	tail := int(binary.LittleEndian.Uint32(zl[4:]))
	if tail > size-1 {
		return 0, false
	}
	header := int(binary.LittleEndian.Uint16(zl[8:]))
	last := size - 1 // the position of the end byte
	p := zlHeaderSize
	prev, prevRaw := -1, 0
	for zl[p] != zlEnd {
		// prevlen
		var prevlen, prevSize int
		if zl[p] < zlBigPrevlen {
			prevlen, prevSize = int(zl[p]), 1
		} else {
			if p+5 > last {
				return 0, false
			}
			prevlen, prevSize = int(binary.LittleEndian.Uint32(zl[p+1:])), 5
		}
		if prevlen != prevRaw {
			return 0, false
		}
		q := p + prevSize
		if q > last {
			return 0, false
		}
		enc := zl[q]
		if enc < 0xC0 {
			enc &= 0xC0
		}
		var lensize int
		var l uint64
		switch {
		case enc == zlStr06B:
			lensize, l = 1, uint64(zl[q]&0x3F)
		case enc == zlStr14B:
			if q+1 > last {
				return 0, false
			}
			lensize, l = 2, uint64(zl[q]&0x3F)<<8|uint64(zl[q+1])
		case enc == zlStr32B:
			if q+4 > last {
				return 0, false
			}
			lensize, l = 5, uint64(binary.BigEndian.Uint32(zl[q+1:]))
		case enc == zlInt8B:
			lensize, l = 1, 1
		case enc == zlInt16B:
			lensize, l = 1, 2
		case enc == zlInt24B:
			lensize, l = 1, 3
		case enc == zlInt32B:
			lensize, l = 1, 4
		case enc == zlInt64B:
			lensize, l = 1, 8
		case enc >= zlIntImmMin && enc <= zlIntImmMax:
			lensize, l = 1, 0
		default:
			return 0, false
		}
		headerSize := prevSize + lensize
		if uint64(p)+uint64(headerSize)+l > uint64(last) {
			return 0, false
		}
		data := zl[q+lensize : q+lensize+int(l)]
		if fn != nil {
			var ok bool
			switch {
			case enc < 0xC0:
				ok = fn(data, 0, false)
			case enc == zlInt8B:
				ok = fn(nil, int64(int8(data[0])), true)
			case enc == zlInt16B:
				ok = fn(nil, int64(int16(binary.LittleEndian.Uint16(data))), true)
			case enc == zlInt24B:
				v := int32(uint32(data[0])<<8|uint32(data[1])<<16|uint32(data[2])<<24) >> 8
				ok = fn(nil, int64(v), true)
			case enc == zlInt32B:
				ok = fn(nil, int64(int32(binary.LittleEndian.Uint32(data))), true)
			case enc == zlInt64B:
				ok = fn(nil, int64(binary.LittleEndian.Uint64(data)), true)
			default:
				ok = fn(nil, int64(enc&0x0F)-1, true)
			}
			if !ok {
				return 0, false
			}
		}
		prevRaw = headerSize + int(l)
		prev = p
		p += prevRaw
		count++
	}
	if p != last {
		return 0, false
	}
	if prev >= 0 && prev != tail {
		return 0, false
	}
	if header != math.MaxUint16 && header != count {
		return 0, false
	}
	return count, true
}

// ---- intset ----

// intsetBlob returns the intset as Redis stores it: encoding (the width in
// bytes, uint32), length (uint32), then the members, all little-endian.
func intsetBlob(is *intset, buf []byte) []byte {
	buf = binary.LittleEndian.AppendUint32(buf[:0], uint32(is.w()))
	buf = binary.LittleEndian.AppendUint32(buf, uint32(is.len()))
	return append(buf, is.data...)
}

// intsetFromBlob checks a serialized intset as intsetValidateIntegrity with
// deep=1 (known width, exact size, not empty, strictly ascending) and
// returns it as the engine's intset, with its own copy of the members.
func intsetFromBlob(b []byte) (intset, bool) {
	if len(b) < 8 {
		return intset{}, false
	}
	width := binary.LittleEndian.Uint32(b)
	if width != 2 && width != 4 && width != 8 {
		return intset{}, false
	}
	count := uint64(binary.LittleEndian.Uint32(b[4:]))
	if 8+count*uint64(width) != uint64(len(b)) || count == 0 {
		return intset{}, false
	}
	is := intset{data: append([]byte(nil), b[8:]...), width: uint8(width)}
	prev := is.get(0)
	for i := 1; i < int(count); i++ {
		cur := is.get(i)
		if cur <= prev {
			return intset{}, false
		}
		prev = cur
	}
	return is, true
}
