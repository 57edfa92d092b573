package engine

// listValue is the value of a list key. (Stub: its implementation replaces this
// file.)
type listValue struct{}

// Len returns the number of elements.
func (v *listValue) Len() int { return 0 }

// encodingName returns what OBJECT ENCODING says for this value.
func (v *listValue) encodingName() string { return "" }

// clone returns a deep copy (COPY).
func (v *listValue) clone() *listValue { return &listValue{} }

// memoryUsage estimates the bytes the value holds (MEMORY USAGE).
func (v *listValue) memoryUsage() int { return 0 }
