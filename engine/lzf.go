package engine

// LZF, the compression Redis applies to strings longer than 20 bytes in RDB
// files and DUMP payloads (rdbcompression). lzfCompressBase follows liblzf
// 3.6's lzf_c.c as Redis 7.0 builds it (HLOG 16, VERY_FAST, offsets in the
// hash table). Redis does not clear that table (INIT_HTAB 0), so entries
// left by earlier compressions may give it extra matches; with a clear
// table this code produces the bytes Redis produces in the common case, and
// a valid LZF stream always. lzfDecompress is lzf_d.c with CHECK_INPUT.
//
// Format: 000LLLLL and L+1 literal bytes; LLLooooo oooooooo, a back
// reference of L+2 bytes at distance o+1; 111ooooo LLLLLLLL oooooooo, a back
// reference of L+9 bytes.

const (
	lzfHLog   = 16
	lzfHSize  = 1 << lzfHLog
	lzfMaxLit = 1 << 5
	lzfMaxOff = 1 << 13
	lzfMaxRef = (1 << 8) + (1 << 3)
)

// lzfIdx is liblzf's VERY_FAST hash of the three bytes in h.
func lzfIdx(h uint32) uint32 {
	return ((h >> (3*8 - lzfHLog)) - h*5) & (lzfHSize - 1)
}

// lzfCompressBase compresses in into out and returns the compressed length,
// or 0 when the result would not fit in len(out) (then the data is stored
// uncompressed). htab (lzfHSize entries) holds positions of this call as
// base+position+1; smaller values are left from earlier calls and read as
// empty, as a zeroed table would (see lzfState).
func lzfCompressBase(in, out []byte, htab []uint32, base uint32) int {
	inLen, outLen := len(in), len(out)
	if inLen < 4 || outLen == 0 {
		return 0
	}
	ip, op := 0, 0
	lit := 0
	op++ // start run
	hval := uint32(in[0])<<8 | uint32(in[1])
	for ip < inLen-2 {
		hval = hval<<8 | uint32(in[ip+2])
		slot := lzfIdx(hval)
		ref := -1
		if e := htab[slot]; e > base {
			ref = int(e - base - 1)
		}
		htab[slot] = base + uint32(ip) + 1
		var off int
		if ref > 0 && ref < ip {
			off = ip - ref - 1
		}
		if ref > 0 && ref < ip && off < lzfMaxOff &&
			in[ref] == in[ip] && in[ref+1] == in[ip+1] && in[ref+2] == in[ip+2] {
			length := 2
			maxlen := inLen - ip - length
			if maxlen > lzfMaxRef {
				maxlen = lzfMaxRef
			}
			undo := 0
			if lit == 0 {
				undo = 1
			}
			if op-undo+3+1 >= outLen {
				return 0
			}
			out[op-lit-1] = byte(lit - 1) // stop run
			op -= undo                    // undo run if length is zero
			// As lzf_c.c: sixteen unchecked steps while far from the end
			// (they may run past maxlen, never past the input), then one
			// at a time.
			stopped := false
			if maxlen > 16 {
				for k := 0; k < 16; k++ {
					length++
					if in[ref+length] != in[ip+length] {
						stopped = true
						break
					}
				}
			}
			if !stopped {
				for {
					length++
					if length >= maxlen || in[ref+length] != in[ip+length] {
						break
					}
				}
			}
			length -= 2 // now #octets - 1
			ip++
			if length < 7 {
				out[op] = byte(off>>8 + length<<5)
				op++
			} else {
				out[op] = byte(off>>8 + 7<<5)
				out[op+1] = byte(length - 7)
				op += 2
			}
			out[op] = byte(off)
			op++
			lit = 0
			op++ // start run
			ip += length + 1
			if ip >= inLen-2 {
				break
			}
			// VERY_FAST: hash the two positions before ip.
			ip -= 2
			hval = uint32(in[ip])<<8 | uint32(in[ip+1])
			hval = hval<<8 | uint32(in[ip+2])
			htab[lzfIdx(hval)] = base + uint32(ip) + 1
			ip++
			hval = hval<<8 | uint32(in[ip+2])
			htab[lzfIdx(hval)] = base + uint32(ip) + 1
			ip++
		} else {
			if op >= outLen {
				return 0
			}
			lit++
			out[op] = in[ip]
			op++
			ip++
			if lit == lzfMaxLit {
				out[op-lit-1] = byte(lit - 1)
				lit = 0
				op++
			}
		}
	}
	if op+3 > outLen {
		return 0
	}
	for ip < inLen {
		lit++
		out[op] = in[ip]
		op++
		ip++
		if lit == lzfMaxLit {
			out[op-lit-1] = byte(lit - 1)
			lit = 0
			op++
		}
	}
	out[op-lit-1] = byte(lit - 1) // end run
	if lit == 0 {
		op--
	}
	return op
}

// lzfDecompress decompresses in into out and returns the number of bytes
// written, or -1 if in is corrupt or does not fit in out.
func lzfDecompress(in, out []byte) int {
	ip, op := 0, 0
	inLen, outLen := len(in), len(out)
	if inLen == 0 {
		return -1
	}
	for ip < inLen {
		ctrl := int(in[ip])
		ip++
		if ctrl < 1<<5 { // literal run
			ctrl++
			if op+ctrl > outLen || ip+ctrl > inLen {
				return -1
			}
			copy(out[op:], in[ip:ip+ctrl])
			op += ctrl
			ip += ctrl
			continue
		}
		length := ctrl >> 5
		ref := op - (ctrl&0x1f)<<8 - 1
		if ip >= inLen {
			return -1
		}
		if length == 7 {
			length += int(in[ip])
			ip++
			if ip >= inLen {
				return -1
			}
		}
		ref -= int(in[ip])
		ip++
		if op+length+2 > outLen || ref < 0 {
			return -1
		}
		// Byte by byte: the source may overlap what is being written.
		for k := 0; k < length+2; k++ {
			out[op+k] = out[ref+k]
		}
		op += length + 2
	}
	return op
}
