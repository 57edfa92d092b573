package chaos

import "testing"

func TestKeySlot(t *testing.T) {
	for _, tc := range []struct {
		key  string
		want int
	}{
		{"123456789", 0x31C3 % NumSlots}, // the CRC16/XMODEM check value
		{"foo", 12182},
		{"bar", 5061},
		{"{user1000}.following", 3443},
		{"{user1000}.followers", 3443},
		{"foo{}{bar}", KeySlot("foo{}{bar}")},
		{"foo{{bar}}zap", KeySlot("{bar")},
		{"3560", 0},
	} {
		if got := KeySlot(tc.key); got != tc.want {
			t.Errorf("KeySlot(%q) = %d, want %d", tc.key, got, tc.want)
		}
	}
	// An empty tag hashes the whole key.
	if KeySlot("foo{}{bar}") == KeySlot("bar") {
		t.Errorf("an empty hash tag must not select the next one")
	}
}
