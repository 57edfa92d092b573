package chaos

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/anishathalye/porcupine"
)

func set(k, v string, call, ret int64) porcupine.Operation {
	return porcupine.Operation{Input: RegisterInput{Key: k, Write: true, Value: v}, Call: call, Return: ret}
}

func get(k, v string, call, ret int64) porcupine.Operation {
	return porcupine.Operation{Input: RegisterInput{Key: k}, Output: RegisterOutput{Value: v, Found: v != ""}, Call: call, Return: ret}
}

func TestCheckRegisters(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		ops  []porcupine.Operation
		want porcupine.CheckResult
	}{
		{"sequential", []porcupine.Operation{get("a", "", 0, 1), set("a", "x", 2, 3), get("a", "x", 4, 5)}, porcupine.Ok},
		{"stale read", []porcupine.Operation{set("a", "x", 0, 1), set("a", "y", 2, 3), get("a", "x", 4, 5)}, porcupine.Illegal},
		{"lost write", []porcupine.Operation{set("a", "x", 0, 1), get("a", "", 2, 3)}, porcupine.Illegal},
		{"open-ended write seen late", []porcupine.Operation{set("a", "x", 0, 1), set("a", "y", 2, openEnded), get("a", "x", 4, 5), get("a", "y", 6, 7)}, porcupine.Ok},
		{"open-ended write never seen", []porcupine.Operation{set("a", "y", 2, openEnded), get("a", "", 4, 5)}, porcupine.Ok},
		{"keys apart", []porcupine.Operation{set("a", "x", 0, 1), set("b", "y", 0, 1), get("a", "x", 2, 3), get("b", "y", 2, 3)}, porcupine.Ok},
	} {
		verdicts := CheckRegisters(tc.ops, 0, dir)
		got := porcupine.Ok
		for _, v := range verdicts {
			if v.Result != porcupine.Ok {
				got = v.Result
				if v.HTML == "" {
					t.Errorf("%s: no visualization saved", tc.name)
				} else if _, err := os.Stat(v.HTML); err != nil {
					t.Errorf("%s: %v", tc.name, err)
				}
			}
		}
		if got != tc.want {
			t.Errorf("%s: %s, want %s (%+v)", tc.name, got, tc.want, verdicts)
		}
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*.html")); len(files) == 0 {
		t.Errorf("no HTML in %s", dir)
	}
}
