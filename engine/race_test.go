//go:build race

package engine

// raceEnabled says the race detector is on: long randomized tests run
// fewer rounds, as every memory access costs several times more.
const raceEnabled = true
