package engine

// setValue is the value of a set key. (Stub: its implementation replaces this
// file.)
type setValue struct{}

// Len returns the number of elements.
func (v *setValue) Len() int { return 0 }

// encodingName returns what OBJECT ENCODING says for this value.
func (v *setValue) encodingName() string { return "" }

// clone returns a deep copy (COPY).
func (v *setValue) clone() *setValue { return &setValue{} }

// memoryUsage estimates the bytes the value holds (MEMORY USAGE).
func (v *setValue) memoryUsage() int { return 0 }

// each calls fn for every member until it returns false (ZUNIONSTORE and
// friends read sets as sorted sets with score 1).
func (v *setValue) each(fn func(member string) bool) {}
