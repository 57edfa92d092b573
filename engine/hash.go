package engine

import (
	"encoding/binary"
	"math/bits"
	"unsafe"
)

// hashString is wyhash (final version 3) keyed by seed. It is the hash of
// every Dict. It must give the same value on every replica and every
// platform, which is why it is written out here instead of taken from
// hash/maphash, whose seeds are random per process.
func hashString(seed uint64, s string) uint64 {
	const (
		p0 = 0xa0761d6478bd642f
		p1 = 0xe7037ed1a0b428db
		p2 = 0x8ebc6af09c88c6e3
		p3 = 0x589965cc75374cc3
	)
	b := unsafe.Slice(unsafe.StringData(s), len(s))
	n := len(b)
	seed ^= wymix(seed^p0, p1)
	var a, c uint64
	switch {
	case n == 0:
	case n < 4:
		a = uint64(b[0])<<16 | uint64(b[n>>1])<<8 | uint64(b[n-1])
	case n <= 16:
		q := (n >> 3) << 2
		a = uint64(r4(b[0:]))<<32 | uint64(r4(b[q:]))
		c = uint64(r4(b[n-4:]))<<32 | uint64(r4(b[n-4-q:]))
	default:
		i := 0
		rest := n
		if rest > 48 {
			s1, s2 := seed, seed
			for rest > 48 {
				seed = wymix(r8(b[i:])^p1, r8(b[i+8:])^seed)
				s1 = wymix(r8(b[i+16:])^p2, r8(b[i+24:])^s1)
				s2 = wymix(r8(b[i+32:])^p3, r8(b[i+40:])^s2)
				i += 48
				rest -= 48
			}
			seed ^= s1 ^ s2
		}
		for rest > 16 {
			seed = wymix(r8(b[i:])^p1, r8(b[i+8:])^seed)
			i += 16
			rest -= 16
		}
		a = r8(b[n-16:])
		c = r8(b[n-8:])
	}
	return wymix(p1^uint64(n), wymix(a^p1, c^seed))
}

func wymix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

func r8(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }
func r4(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }
