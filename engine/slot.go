package engine

// Slot is a Redis Cluster hash slot: CRC16 of the key (or of its hash tag)
// modulo NumSlots.
type Slot uint16

// NumSlots is the number of hash slots, as in Redis Cluster.
const NumSlots = 16384

// KeySlot returns the slot of key as the Redis Cluster specification defines
// it: if the key holds a "{...}" with at least one byte between the first "{"
// and the next "}", only that hash tag is hashed. This is the one place where
// Flotilla maps keys to slots.
func KeySlot(key []byte) Slot {
	for i, c := range key {
		if c == '{' {
			for j := i + 1; j < len(key); j++ {
				if key[j] == '}' {
					if j > i+1 {
						key = key[i+1 : j]
					}
					return Slot(crc16(key) & (NumSlots - 1))
				}
			}
			break
		}
	}
	return Slot(crc16(key) & (NumSlots - 1))
}

// KeySlotString is KeySlot for a string key.
func KeySlotString(key string) Slot {
	return KeySlot(unsafeBytes(key))
}

// crc16 is CRC-16/XMODEM (polynomial 0x1021, initial value 0), the checksum
// Redis Cluster uses for slots.
func crc16(b []byte) uint16 {
	var crc uint16
	for _, c := range b {
		crc = crc<<8 ^ crc16Table[byte(crc>>8)^c]
	}
	return crc
}

var crc16Table = func() (t [256]uint16) {
	for i := range t {
		crc := uint16(i) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
		t[i] = crc
	}
	return t
}()
