package engine

// zsetValue is the value of a zset key. (Stub: its implementation replaces this
// file.)
type zsetValue struct{}

// Len returns the number of elements.
func (v *zsetValue) Len() int { return 0 }

// encodingName returns what OBJECT ENCODING says for this value.
func (v *zsetValue) encodingName() string { return "" }

// clone returns a deep copy (COPY).
func (v *zsetValue) clone() *zsetValue { return &zsetValue{} }

// memoryUsage estimates the bytes the value holds (MEMORY USAGE).
func (v *zsetValue) memoryUsage() int { return 0 }
