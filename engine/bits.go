package engine

import (
	"encoding/binary"
	"math/bits"
)

func init() {
	register("getbit", cmdGETBIT)
	register("setbit", cmdSETBIT)
	register("bitcount", cmdBITCOUNT)
	register("bitpos", cmdBITPOS)
}

// parseBitOffset parses a bit offset as Redis's getBitOffsetFromArgument
// (without the #N form of BITFIELD): a non-negative integer whose byte is
// within proto-max-bulk-len.
func (c *Ctx) parseBitOffset(arg []byte) (uint64, bool) {
	v, ok := parseInt(arg)
	// The object layout also limits strings to 4GB.
	if !ok || v < 0 || v>>3 >= min(c.DB.cfg.ProtoMaxBulkLen, maxStringLength) {
		c.err(ErrBitOffset)
		return 0, false
	}
	return uint64(v), true
}

// cmdGETBIT: GETBIT key offset
func cmdGETBIT(c *Ctx) {
	off, ok := c.parseBitOffset(c.Args[2])
	if !ok {
		return
	}
	o, ok := c.readType(c.Args[1], TypeString)
	if !ok {
		return
	}
	b := o.bytes()
	byteIdx := off >> 3
	if byteIdx >= uint64(len(b)) {
		c.W.WriteInt(0)
		return
	}
	c.W.WriteInt(int64(b[byteIdx]>>(7-off&7)) & 1)
}

// cmdSETBIT: SETBIT key offset value
func cmdSETBIT(c *Ctx) {
	key := c.Args[1]
	off, ok := c.parseBitOffset(c.Args[2])
	if !ok {
		return
	}
	on, ok := parseInt(c.Args[3])
	if !ok || on&^1 != 0 {
		c.err(ErrBitValue)
		return
	}
	o, ok := c.writeType(key, TypeString)
	if !ok {
		return
	}
	existed := o.typ != TypeNone
	byteIdx := int(off >> 3)
	// As lookupStringForBitCommand: the string becomes raw and grows to
	// hold the byte, even when the bit does not change.
	o = growString(o, byteIdx+1)
	buf := o.rawBuffer()
	shift := 7 - off&7
	old := buf[byteIdx] >> shift & 1
	buf[byteIdx] = buf[byteIdx]&^(1<<shift) | byte(on)<<shift
	c.storeString(key, o, existed)
	c.W.WriteInt(int64(old))
}

// popcount counts the set bits of b.
func popcount(b []byte) int64 {
	var n int
	for len(b) >= 8 {
		n += bits.OnesCount64(binary.LittleEndian.Uint64(b))
		b = b[8:]
	}
	for _, x := range b {
		n += bits.OnesCount8(x)
	}
	return int64(n)
}

// bitRange turns BITCOUNT's and BITPOS's start and end (bytes, or bits when
// isBit) into a byte range [start, end] of a string of n bytes, with the
// masks of the bits of the first and last bytes that lie outside the range
// (as bitcountCommand computes them). empty reports start > end.
func bitRange(start, end, n int64, isBit bool) (s, e int64, firstMask, lastMask byte, empty bool) {
	total := n
	if isBit {
		total <<= 3
	}
	if start < 0 {
		start += total
	}
	if end < 0 {
		end += total
	}
	start, end = max(start, 0), max(end, 0)
	if end >= total {
		end = total - 1
	}
	if isBit && start <= end {
		firstMask = ^byte((1 << (8 - start&7)) - 1)
		lastMask = byte((1 << (7 - end&7)) - 1)
		start >>= 3
		end >>= 3
	}
	return start, end, firstMask, lastMask, start > end
}

// cmdBITCOUNT: BITCOUNT key [start end [BYTE | BIT]]
func cmdBITCOUNT(c *Ctx) {
	// Redis 7.0 looks the key up before it parses the range.
	o, ok := c.readType(c.Args[1], TypeString)
	if !ok {
		return
	}
	if o.typ == TypeNone {
		c.W.WriteInt(0)
		return
	}
	p := o.bytes()
	var start, end int64
	var firstMask, lastMask byte
	switch len(c.Args) {
	case 4, 5:
		if start, ok = parseInt(c.Args[2]); !ok {
			c.err(ErrNotInteger)
			return
		}
		if end, ok = parseInt(c.Args[3]); !ok {
			c.err(ErrNotInteger)
			return
		}
		if start < 0 && end < 0 && start > end {
			c.W.WriteInt(0)
			return
		}
		isBit := false
		if len(c.Args) == 5 {
			switch {
			case c.isArg(4, "BIT"):
				isBit = true
			case c.isArg(4, "BYTE"):
			default:
				c.err(ErrSyntax)
				return
			}
		}
		var empty bool
		if start, end, firstMask, lastMask, empty = bitRange(start, end, int64(len(p)), isBit); empty {
			c.W.WriteInt(0)
			return
		}
	case 2:
		start, end = 0, int64(len(p))-1
		if end < 0 {
			c.W.WriteInt(0)
			return
		}
	default:
		c.err(ErrSyntax)
		return
	}
	count := popcount(p[start : end+1])
	count -= int64(bits.OnesCount8(p[start]&firstMask) + bits.OnesCount8(p[end]&lastMask))
	c.W.WriteInt(count)
}

// bitpos is Redis's redisBitpos: the position of the first bit set to bit
// in p, or -1 if bit is 1 and there is none; if bit is 0 and there is none,
// the position just after p (len(p)*8), as if p were followed by zeros.
func bitpos(p []byte, bit int64) int64 {
	skip := byte(0)
	if bit == 0 {
		skip = 0xff
	}
	for i, x := range p {
		if x != skip {
			if bit == 0 {
				x = ^x
			}
			return int64(i)*8 + int64(bits.LeadingZeros8(x))
		}
	}
	if bit == 1 {
		return -1
	}
	return int64(len(p)) * 8
}

// cmdBITPOS: BITPOS key bit [start [end [BYTE | BIT]]]
func cmdBITPOS(c *Ctx) {
	bit, ok := parseInt(c.Args[2])
	if !ok {
		c.err(ErrNotInteger)
		return
	}
	if bit != 0 && bit != 1 {
		c.err(errBitArgument)
		return
	}
	// Redis 7.0 looks the key up before it parses the range. A missing key
	// is an infinite run of zeros.
	o, ok := c.readType(c.Args[1], TypeString)
	if !ok {
		return
	}
	if o.typ == TypeNone {
		if bit == 1 {
			c.W.WriteInt(-1)
		} else {
			c.W.WriteInt(0)
		}
		return
	}
	p := o.bytes()
	n := int64(len(p))
	var start, end int64
	var firstMask, lastMask byte
	endGiven := false
	switch len(c.Args) {
	case 4, 5, 6:
		if start, ok = parseInt(c.Args[3]); !ok {
			c.err(ErrNotInteger)
			return
		}
		isBit := false
		if len(c.Args) == 6 {
			switch {
			case c.isArg(5, "BIT"):
				isBit = true
			case c.isArg(5, "BYTE"):
			default:
				c.err(ErrSyntax)
				return
			}
		}
		if len(c.Args) >= 5 {
			if end, ok = parseInt(c.Args[4]); !ok {
				c.err(ErrNotInteger)
				return
			}
			endGiven = true
		} else {
			end = n - 1
		}
		var empty bool
		if start, end, firstMask, lastMask, empty = bitRange(start, end, n, isBit); empty {
			c.W.WriteInt(-1)
			return
		}
	case 3:
		start, end = 0, n-1
		if end < 0 {
			c.W.WriteInt(-1)
			return
		}
	default:
		c.err(ErrSyntax)
		return
	}
	// Follows bitposCommand: the masked first byte, the whole bytes, then the
	// masked last byte.
	bytes := end - start + 1
	var pos int64
	var tmp [1]byte
	done := false
	if firstMask != 0 {
		if bit == 1 {
			tmp[0] = p[start] &^ firstMask
		} else {
			tmp[0] = p[start] | firstMask
		}
		if lastMask != 0 && bytes == 1 {
			if bit == 1 {
				tmp[0] &^= lastMask
			} else {
				tmp[0] |= lastMask
			}
		}
		pos = bitpos(tmp[:], bit)
		if bytes == 1 || (pos != -1 && pos != 8) {
			done = true
		} else {
			start++
			bytes--
		}
	}
	if !done {
		cur := bytes
		if lastMask != 0 {
			cur--
		}
		if cur > 0 {
			pos = bitpos(p[start:start+cur], bit)
			if bytes == cur || (pos != -1 && pos != cur<<3) {
				done = true
			} else {
				start += cur
				bytes -= cur
			}
		}
	}
	if !done {
		if bit == 1 {
			tmp[0] = p[end] &^ lastMask
		} else {
			tmp[0] = p[end] | lastMask
		}
		pos = bitpos(tmp[:], bit)
	}
	// With an explicit end, the bits right of the range are not zeros: no
	// clear bit in the range is -1.
	if endGiven && bit == 0 && pos == bytes<<3 {
		c.W.WriteInt(-1)
		return
	}
	if pos != -1 {
		pos += start << 3
	}
	c.W.WriteInt(pos)
}
