package cluster

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/flotilla-db/flotilla/engine/scripttest"
)

// TestScriptsOverTheNetwork runs the engine's script tests through a real
// node on a real socket: the same commands, the same replies Redis gives.
// Blocks that depend on the engine's explicit clock or seed (oracle=skip)
// cannot run against a live server and are left to the engine's tests.
func TestScriptsOverTheNetwork(t *testing.T) {
	runScripts(t, startServer(t), false)
}

// TestScriptsThroughRaft runs the same scripts on a one-node cluster,
// where every write is a Raft log entry applied by the FSM: the replies
// must be the same. A block whose keys span slots gets -CROSSSLOT there,
// as in Redis Cluster; it is counted and left out.
func TestScriptsThroughRaft(t *testing.T) {
	runScripts(t, startClusterNode(t), true)
}

func runScripts(t *testing.T, s *Server, cluster bool) {
	files, _ := filepath.Glob("../engine/testdata/*.txt")
	if len(files) == 0 {
		t.Fatal("no script files found")
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			conn := scripttest.Dial(t, s.Addr())
			conn.Do(t, []string{"FLUSHALL"}, 2)
			conn.Do(t, []string{"CONFIG", "SET", "hash-max-listpack-entries", "512", "zset-max-listpack-entries", "128", "set-max-intset-entries", "512", "list-max-listpack-size", "-2"}, 2)
			_, blocks := scripttest.Parse(t, path)
			// After a block left out, the state differs from the one the
			// next blocks expect, until a reset.
			ran, crossSlot, tainted := 0, 0, false
			defer func() { t.Logf("%d blocks ran, %d left out (CROSSSLOT, or after one)", ran-crossSlot, crossSlot) }()
			for _, b := range blocks {
				if b.Directive == "reset" {
					conn.Do(t, []string{"FLUSHALL"}, 2)
					tainted = false
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
				if cluster && (tainted || slices.ContainsFunc(got, func(g string) bool { return strings.Contains(g, "CROSSSLOT") })) {
					crossSlot++
					tainted = true
					continue
				}
				if !scripttest.EqualLines(got, b.Want) {
					t.Errorf("%s:%d: %s\ngot:\n  %s\nwant:\n  %s", path, b.Line, b.Directive,
						strings.Join(got, "\n  "), strings.Join(b.Want, "\n  "))
				}
			}
		})
	}
}
