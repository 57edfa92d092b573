package engine

// hashValue is the value of a hash key. (Stub: its implementation replaces this
// file.)
type hashValue struct{}

// Len returns the number of elements.
func (v *hashValue) Len() int { return 0 }

// encodingName returns what OBJECT ENCODING says for this value.
func (v *hashValue) encodingName() string { return "" }

// clone returns a deep copy (COPY).
func (v *hashValue) clone() *hashValue { return &hashValue{} }

// memoryUsage estimates the bytes the value holds (MEMORY USAGE).
func (v *hashValue) memoryUsage() int { return 0 }
