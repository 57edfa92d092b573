package main

import (
	"math"
	"testing"
)

func TestParseBenchmarkCSV(t *testing.T) {
	out := `Cluster has 3 master nodes:

Master 0: 8d7209b0c75d08820b69a8fce86ca7b4fe93367f 127.0.0.21:17001

"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
"SET","44130.62","0.697","0.048","0.439","2.255","4.223","11.407"
"MSET (10 keys)","37313.43","1.2","0.1","1.071","2.0","3.375","9.0"
`
	got, err := parseBenchmarkCSV(out)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]result{"SET": {44130.62, 0.439, 4.223}, "MSET": {37313.43, 1.071, 3.375}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: got %+v, want %+v", k, got[k], w)
		}
	}
	if _, err := parseBenchmarkCSV(`"SET","x","1","1","1","1","1","1"`); err == nil {
		t.Error("a bad number parsed")
	}
}

func TestUntick(t *testing.T) {
	tests := []struct {
		rps  float64
		n    int
		want float64
	}{
		{100000 / 2.255, 100000, 100000 / 2.13},  // 2.255 s measured: about 2.13 s
		{100000 / 0.255, 100000, 100000 / 0.255}, // within the first tick: left alone
		{0, 100000, 0},
	}
	for _, tt := range tests {
		if got := untick(tt.rps, tt.n); math.Abs(got-tt.want) > 1 {
			t.Errorf("untick(%.0f, %d) = %.0f, want %.0f", tt.rps, tt.n, got, tt.want)
		}
	}
}
