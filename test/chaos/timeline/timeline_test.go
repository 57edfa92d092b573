package timeline

import (
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// synthetic is a 60-second run at about 400 writes per 100 ms, with the dips
// that a kill, a pause and a partition would cause.
func synthetic() ([]int, []Mark) {
	const bucket = 100 * time.Millisecond
	marks := []Mark{
		{At: 8 * time.Second, End: 8 * time.Second, Label: "kill node3 (leader of shard 2)"},
		{At: 9 * time.Second, End: 9 * time.Second, Label: "restart node3"},
		{At: 20 * time.Second, End: 26 * time.Second, Label: "pause node1"},
		{At: 21 * time.Second, End: 21 * time.Second, Label: "kill node2"},
		{At: 38 * time.Second, End: 47 * time.Second, Label: "partition node2 | node1 node3"},
		{At: 55 * time.Second, End: 55 * time.Second, Label: "failover shard 0"},
		{At: 59 * time.Second, End: 62 * time.Second, Label: "restart all"},
	}
	counts := make([]int, 600)
	for i := range counts {
		t := time.Duration(i) * bucket
		n := 400 + int(30*math.Sin(float64(i)/7))
		switch {
		case t >= 8*time.Second && t < 8700*time.Millisecond,
			t >= 20*time.Second && t < 21*time.Second,
			t >= 38*time.Second && t < 39500*time.Millisecond:
			n = 0
		case t >= 20*time.Second && t < 26*time.Second:
			n = n * 2 / 3
		}
		counts[i] = n
	}
	return counts, marks
}

func TestRender(t *testing.T) {
	counts, marks := synthetic()
	path := filepath.Join(t.TempDir(), "timeline.png")
	if dir := os.Getenv("TIMELINE_OUT"); dir != "" {
		path = filepath.Join(dir, "timeline.png") // TIMELINE_OUT=/tmp go test: to look at them
	}
	if err := Render(path, "synthetic drill: kills, a pause, a partition", 100*time.Millisecond, counts, marks); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, path)
}

func TestRenderEdgeCases(t *testing.T) {
	dir := t.TempDir()
	if out := os.Getenv("TIMELINE_OUT"); out != "" {
		dir = out
	}
	for _, tc := range []struct {
		name   string
		counts []int
		marks  []Mark
	}{
		{"empty", nil, nil},
		{"all zero", make([]int, 50), []Mark{{At: time.Second, End: 3 * time.Second, Label: "pause node1"}}},
		{"odd marks", []int{1, 2, 3}, []Mark{
			{At: 10 * time.Second, End: 10 * time.Second, Label: "kill node1 after the last bucket"},
			{At: 150 * time.Millisecond, End: 0, Label: "ends before it starts"},
			{At: 100 * time.Millisecond, End: 150 * time.Millisecond},
		}},
		{"marks only", nil, []Mark{{At: time.Second, End: 3 * time.Second, Label: "pause node1"}}},
		{"crowded", make([]int, 100), crowded(40)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // each render takes seconds under -race
			path := filepath.Join(dir, tc.name+".png")
			if err := Render(path, tc.name, 100*time.Millisecond, tc.counts, tc.marks); err != nil {
				t.Fatal(err)
			}
			checkPNG(t, path)
		})
	}
}

func crowded(n int) []Mark {
	var m []Mark
	for i := range n {
		at := time.Duration(i) * 50 * time.Millisecond
		m = append(m, Mark{At: at, End: at + time.Duration(i%3)*time.Second, Label: []string{"kill", "pause", "partition"}[i%3] + " node1"})
	}
	return m
}

func TestRenderErrors(t *testing.T) {
	dir := t.TempDir()
	if err := Render(filepath.Join(dir, "a.png"), "x", 0, []int{1}, nil); err == nil {
		t.Error("bucket 0: no error")
	}
	if err := Render(filepath.Join(dir, "missing", "a.png"), "x", time.Second, []int{1}, nil); err == nil {
		t.Error("path in a missing directory: no error")
	}
}

func TestKind(t *testing.T) {
	for _, tc := range []struct{ label, want string }{
		{"kill node3", "kill"},
		{"Kill leader", "kill"},
		{"partition: a | b", "partition"},
		{"  pause", "pause"},
		{"", ""},
	} {
		if got := kind(tc.label); got != tc.want {
			t.Errorf("kind(%q) = %q, want %q", tc.label, got, tc.want)
		}
	}
}

func checkPNG(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s is not a PNG: %v", path, err)
	}
	if b := img.Bounds(); b.Dx() != Width || b.Dy() != Height {
		t.Fatalf("%s is %dx%d, want %dx%d", path, b.Dx(), b.Dy(), Width, Height)
	}
}
