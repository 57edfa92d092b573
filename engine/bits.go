package engine

import (
	"encoding/binary"
	"math"
	"math/bits"
	"unsafe"
)

func init() {
	register("getbit", cmdGETBIT)
	register("setbit", cmdSETBIT)
	register("bitcount", cmdBITCOUNT)
	register("bitpos", cmdBITPOS)
	register("bitop", cmdBITOP)
	register("bitfield", cmdBITFIELD)
	register("bitfield_ro", cmdBITFIELDRO)
}

// Error texts of the bit commands that reply.go does not have.
const (
	errBitopNot     = "ERR BITOP NOT must be called with a single source key."
	errBitfieldType = "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."
	errBitfieldOvf  = "ERR Invalid OVERFLOW type specified"
	errBitfieldRO   = "ERR BITFIELD_RO only supports the GET subcommand"
)

// parseBitOffset parses a bit offset as Redis's getBitOffsetFromArgument
// (without the #N form of BITFIELD): a non-negative integer whose byte is
// within proto-max-bulk-len.
func (c *Ctx) parseBitOffset(arg []byte) (uint64, bool) {
	return c.parseBitfieldOffset(arg, 0)
}

// parseBitfieldOffset is parseBitOffset that also takes BITFIELD's "#N"
// form, N times the field width, when width > 0.
func (c *Ctx) parseBitfieldOffset(arg []byte, width int) (uint64, bool) {
	hash := len(arg) > 1 && arg[0] == '#' && width > 0
	if hash {
		arg = arg[1:]
	}
	v, ok := parseInt(arg)
	if hash {
		v *= int64(width) // wraps on overflow, as in Redis, and is refused below
	}
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

// cmdBITOP: BITOP AND | OR | XOR | NOT destkey key [key ...]
func cmdBITOP(c *Ctx) {
	const (
		opAnd = iota
		opOr
		opXor
		opNot
	)
	var op int
	switch {
	case c.isArg(1, "AND"):
		op = opAnd
	case c.isArg(1, "OR"):
		op = opOr
	case c.isArg(1, "XOR"):
		op = opXor
	case c.isArg(1, "NOT"):
		op = opNot
	default:
		c.err(ErrSyntax)
		return
	}
	if op == opNot && len(c.Args) != 4 {
		c.err(errBitopNot)
		return
	}
	srcKeys := c.Args[3:]
	srcs := make([][]byte, len(srcKeys))
	maxLen := 0
	for i, key := range srcKeys {
		o, found := c.lookupReadWrite(key)
		if !found {
			continue // a missing key is an empty string
		}
		if o.typ != TypeString {
			c.err(ErrWrongType)
			return
		}
		srcs[i] = o.bytes()
		maxLen = max(maxLen, len(srcs[i]))
	}
	dst := c.Args[2]
	if maxLen == 0 {
		c.deleteKey(dst)
		c.W.WriteInt(0)
		return
	}
	// The sources alias the keyspace: compute into a new buffer before
	// storing it.
	res := make([]byte, maxLen)
	copy(res, srcs[0])
	switch op {
	case opNot:
		for i := range res {
			res[i] = ^res[i]
		}
	case opAnd:
		for _, src := range srcs[1:] {
			for i := range res {
				if i < len(src) {
					res[i] &= src[i]
				} else {
					res[i] = 0
				}
			}
		}
	case opOr:
		for _, src := range srcs[1:] {
			for i, b := range src {
				res[i] |= b
			}
		}
	case opXor:
		for _, src := range srcs[1:] {
			for i, b := range src {
				res[i] ^= b
			}
		}
	}
	o := newStringObject(nil)
	o.ptr, o.n, o.c, o.enc = unsafe.Pointer(unsafe.SliceData(res)), uint32(maxLen), uint32(maxLen), strRaw
	c.setKey(dst, o, false)
	c.W.WriteInt(int64(maxLen))
}

// A bitfield operation of BITFIELD.
type bitfieldOp struct {
	offset   uint64
	value    int64 // SET's value, INCRBY's increment
	op       byte  // 'g', 's', 'i'
	overflow byte  // 'w' (WRAP), 's' (SAT), 'f' (FAIL)
	signed   bool
	bits     uint
}

// parseBitfieldType parses "i<bits>" (1..64) or "u<bits>" (1..63).
func parseBitfieldType(arg []byte) (signed bool, width int, ok bool) {
	if len(arg) == 0 || (arg[0] != 'i' && arg[0] != 'u') {
		return false, 0, false
	}
	signed = arg[0] == 'i'
	v, valid := parseInt(arg[1:])
	if !valid || v < 1 || (signed && v > 64) || (!signed && v > 63) {
		return false, 0, false
	}
	return signed, int(v), true
}

// getUnsignedBitfield reads bits bits at bit offset off of p, which must
// hold them.
func getUnsignedBitfield(p []byte, off uint64, bits uint) uint64 {
	var v uint64
	for j := uint(0); j < bits; j++ {
		v = v<<1 | uint64(p[off>>3]>>(7-off&7)&1)
		off++
	}
	return v
}

func getSignedBitfield(p []byte, off uint64, bits uint) int64 {
	v := int64(getUnsignedBitfield(p, off, bits))
	if bits < 64 && v&(1<<(bits-1)) != 0 {
		v |= -1 << bits
	}
	return v
}

func setUnsignedBitfield(p []byte, off uint64, bits uint, v uint64) {
	for j := uint(0); j < bits; j++ {
		bit := byte(v >> (bits - 1 - j) & 1)
		shift := 7 - off&7
		p[off>>3] = p[off>>3]&^(1<<shift) | bit<<shift
		off++
	}
}

// checkUnsignedBitfieldOverflow is Redis's: it reports 1 (overflow), -1
// (underflow) or 0, and the value to store instead for WRAP and SAT.
func checkUnsignedBitfieldOverflow(value uint64, incr int64, bits uint, overflow byte) (int, uint64) {
	limitMax := uint64(1)<<bits - 1
	maxIncr := int64(limitMax - value)
	minIncr := -int64(value)
	wrap := func() uint64 { return (value + uint64(incr)) &^ (^uint64(0) << bits) }
	if value > limitMax || (incr > 0 && incr > maxIncr) {
		switch overflow {
		case 'w':
			return 1, wrap()
		case 's':
			return 1, limitMax
		}
		return 1, 0
	}
	if incr < 0 && incr < minIncr {
		switch overflow {
		case 'w':
			return 1, wrap()
		case 's':
			return -1, 0
		}
		return -1, 0
	}
	return 0, 0
}

// checkSignedBitfieldOverflow is Redis's, for signed fields.
func checkSignedBitfieldOverflow(value, incr int64, bits uint, overflow byte) (int, int64) {
	limitMax := int64(math.MaxInt64)
	if bits != 64 {
		limitMax = 1<<(bits-1) - 1
	}
	limitMin := -limitMax - 1
	maxIncr := int64(uint64(limitMax) - uint64(value))
	minIncr := limitMin - value
	wrap := func() int64 {
		c := uint64(value) + uint64(incr)
		if bits < 64 {
			mask := ^uint64(0) << bits
			if c&(1<<(bits-1)) != 0 {
				c |= mask
			} else {
				c &^= mask
			}
		}
		return int64(c)
	}
	if value > limitMax || (bits != 64 && incr > maxIncr) || (value >= 0 && incr > 0 && incr > maxIncr) {
		switch overflow {
		case 'w':
			return 1, wrap()
		case 's':
			return 1, limitMax
		}
		return 1, 0
	}
	if value < limitMin || (bits != 64 && incr < minIncr) || (value < 0 && incr < 0 && incr < minIncr) {
		switch overflow {
		case 'w':
			return 1, wrap()
		case 's':
			return -1, limitMin
		}
		return -1, 0
	}
	return 0, 0
}

// cmdBITFIELD: BITFIELD key [GET encoding offset | [OVERFLOW WRAP | SAT | FAIL]
// SET encoding offset value | INCRBY encoding offset increment ...]
func cmdBITFIELD(c *Ctx) { c.bitfield(false) }

// cmdBITFIELDRO: BITFIELD_RO key [GET encoding offset ...]
func cmdBITFIELDRO(c *Ctx) { c.bitfield(true) }

func (c *Ctx) bitfield(readOnly bool) {
	key := c.Args[1]
	var ops []bitfieldOp
	overflow := byte('w')
	writes := false
	var highest uint64
	for j := 2; j < len(c.Args); j++ {
		rem := len(c.Args) - j - 1
		var op byte
		switch {
		case c.isArg(j, "GET") && rem >= 2:
			op = 'g'
		case c.isArg(j, "SET") && rem >= 3:
			op = 's'
		case c.isArg(j, "INCRBY") && rem >= 3:
			op = 'i'
		case c.isArg(j, "OVERFLOW") && rem >= 1:
			j++
			switch {
			case c.isArg(j, "WRAP"):
				overflow = 'w'
			case c.isArg(j, "SAT"):
				overflow = 's'
			case c.isArg(j, "FAIL"):
				overflow = 'f'
			default:
				c.err(errBitfieldOvf)
				return
			}
			continue
		default:
			c.err(ErrSyntax)
			return
		}
		signed, width, ok := parseBitfieldType(c.Args[j+1])
		if !ok {
			c.err(errBitfieldType)
			return
		}
		off, ok := c.parseBitfieldOffset(c.Args[j+2], width)
		if !ok {
			return
		}
		var value int64
		if op != 'g' {
			writes = true
			highest = max(highest, off+uint64(width)-1)
			if value, ok = parseInt(c.Args[j+3]); !ok {
				c.err(ErrNotInteger)
				return
			}
			j++
		}
		ops = append(ops, bitfieldOp{offset: off, value: value, op: op, overflow: overflow, signed: signed, bits: uint(width)})
		j += 2
	}
	var o object
	existed := false
	if !writes {
		var ok bool
		if o, ok = c.readType(key, TypeString); !ok {
			return
		}
	} else {
		if readOnly {
			c.err(errBitfieldRO)
			return
		}
		var ok bool
		if o, ok = c.writeType(key, TypeString); !ok {
			return
		}
		existed = o.typ != TypeNone
		// As lookupStringForBitCommand: raw, grown to the farthest bit written.
		o = growString(o, int(highest>>3)+1)
	}
	c.W.WriteArray(len(ops))
	for _, op := range ops {
		if op.op == 'g' {
			// Read through a zero-padded copy of the 9 bytes that can hold
			// the field, as Redis does.
			var buf [9]byte
			byteIdx := op.offset >> 3
			if src := o.bytes(); byteIdx < uint64(len(src)) {
				copy(buf[:], src[byteIdx:])
			}
			off := op.offset - byteIdx*8
			if op.signed {
				c.W.WriteInt(getSignedBitfield(buf[:], off, op.bits))
			} else {
				c.W.WriteInt(int64(getUnsignedBitfield(buf[:], off, op.bits)))
			}
			continue
		}
		p := o.rawBuffer()
		if op.signed {
			old := getSignedBitfield(p, op.offset, op.bits)
			var ovf int
			var newVal, ret, limit int64
			if op.op == 'i' {
				ovf, limit = checkSignedBitfieldOverflow(old, op.value, op.bits, op.overflow)
				newVal = old + op.value
				if ovf != 0 {
					newVal = limit
				}
				ret = newVal
			} else {
				ovf, limit = checkSignedBitfieldOverflow(op.value, 0, op.bits, op.overflow)
				newVal = op.value
				if ovf != 0 {
					newVal = limit
				}
				ret = old
			}
			if ovf != 0 && op.overflow == 'f' {
				c.W.WriteNull()
				continue
			}
			c.W.WriteInt(ret)
			setUnsignedBitfield(p, op.offset, op.bits, uint64(newVal))
		} else {
			old := getUnsignedBitfield(p, op.offset, op.bits)
			var ovf int
			var newVal, ret, limit uint64
			if op.op == 'i' {
				ovf, limit = checkUnsignedBitfieldOverflow(old, op.value, op.bits, op.overflow)
				newVal = old + uint64(op.value)
				if ovf != 0 {
					newVal = limit
				}
				ret = newVal
			} else {
				ovf, limit = checkUnsignedBitfieldOverflow(uint64(op.value), 0, op.bits, op.overflow)
				newVal = uint64(op.value)
				if ovf != 0 {
					newVal = limit
				}
				ret = old
			}
			if ovf != 0 && op.overflow == 'f' {
				c.W.WriteNull()
				continue
			}
			c.W.WriteInt(int64(ret))
			setUnsignedBitfield(p, op.offset, op.bits, newVal)
		}
	}
	if writes {
		c.storeString(key, o, existed)
	}
}
