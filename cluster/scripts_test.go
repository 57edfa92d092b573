package cluster

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/flotilla-db/flotilla/engine/scripttest"
)

// TestScriptsOverTheNetwork runs the engine's script tests through a real
// node on a real socket: the same commands, the same replies Redis gives.
// Blocks that depend on the engine's explicit clock or seed (oracle=skip)
// cannot run against a live server and are left to the engine's tests.
func TestScriptsOverTheNetwork(t *testing.T) {
	files, _ := filepath.Glob("../engine/testdata/*.txt")
	if len(files) == 0 {
		t.Fatal("no script files found")
	}
	s := startServer(t)
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			conn := scripttest.Dial(t, s.Addr())
			conn.Do(t, []string{"FLUSHALL"}, 2)
			conn.Do(t, []string{"CONFIG", "SET", "hash-max-listpack-entries", "512", "zset-max-listpack-entries", "128", "set-max-intset-entries", "512", "list-max-listpack-size", "-2"}, 2)
			_, blocks := scripttest.Parse(t, path)
			ran := 0
			defer func() { t.Logf("%d blocks ran", ran) }()
			for _, b := range blocks {
				if b.Directive == "reset" {
					conn.Do(t, []string{"FLUSHALL"}, 2)
					continue
				}
				args := scripttest.DirectiveArgs(b.Directive)
				if args["oracle"] == "skip" {
					continue
				}
				resp := 2
				if args["resp"] == "3" {
					resp = 3
				}
				ran++
				var got []string
				for _, line := range b.Cmds {
					argv, err := scripttest.SplitCommand(line)
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, conn.Do(t, argv, resp))
				}
				if !scripttest.EqualLines(got, b.Want) {
					t.Errorf("%s:%d: %s\ngot:\n  %s\nwant:\n  %s", path, b.Line, b.Directive,
						strings.Join(got, "\n  "), strings.Join(b.Want, "\n  "))
				}
			}
		})
	}
}
