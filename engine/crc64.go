package engine

import "encoding/binary"

// crc64Jones is the CRC-64 Redis puts at the end of DUMP payloads (and of RDB
// files): the "Jones" polynomial 0xad93d23594c935a9, reflected, initial value
// 0 and no final xor, as Redis's crc64.c. crc64Jones(0, "123456789") is
// 0xe9c6d914c4b8d9ca. It is computed eight bytes at a time (slicing-by-8).
func crc64Jones(crc uint64, p []byte) uint64 {
	t := &crc64Tables
	for len(p) >= 8 {
		crc ^= binary.LittleEndian.Uint64(p)
		crc = t[7][crc&0xff] ^ t[6][(crc>>8)&0xff] ^ t[5][(crc>>16)&0xff] ^ t[4][(crc>>24)&0xff] ^
			t[3][(crc>>32)&0xff] ^ t[2][(crc>>40)&0xff] ^ t[1][(crc>>48)&0xff] ^ t[0][crc>>56]
		p = p[8:]
	}
	for _, b := range p {
		crc = t[0][byte(crc)^b] ^ crc>>8
	}
	return crc
}

// crc64JonesReflected is the Jones polynomial with its bits reversed, for the
// reflected (LSB-first) algorithm.
const crc64JonesReflected = 0x95ac9329ac4bc9b5

var crc64Tables = func() (t [8][256]uint64) {
	for i := range 256 {
		crc := uint64(i)
		for range 8 {
			if crc&1 != 0 {
				crc = crc>>1 ^ crc64JonesReflected
			} else {
				crc >>= 1
			}
		}
		t[0][i] = crc
	}
	for i := range 256 {
		crc := t[0][i]
		for k := 1; k < 8; k++ {
			crc = t[0][crc&0xff] ^ crc>>8
			t[k][i] = crc
		}
	}
	return t
}()
