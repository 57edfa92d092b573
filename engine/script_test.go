package engine

// Script tests: files in testdata/*.txt hold blocks of commands and the
// replies Redis 7.0 gives to them, run against a DB with an explicit clock.
//
//	# a comment
//	run now=1000 seed=1 resp=2
//	SET k v PX 100
//	GET k
//	----
//	+OK
//	"v"
//
// The state carries over from block to block within a file; "reset" as a
// directive empties the DB. Replies are rendered one per command: +simple,
// -error, :int, "bulk" (Go-quoted), (nil), (nil-array), [a b ...] for
// arrays, {k: v, ...} for maps, ~[...] for sets, ,double, #t/#f.
//
// The expected replies must be what Redis answers. With -oracle (and a
// redis-server on PATH), every block not marked oracle=skip is also sent to a
// real Redis 7.0 and its replies compared with the file, so the expectations
// are checked against Redis rather than against Flotilla. Blocks that depend
// on the clock or on random choices are marked oracle=skip. With -rewrite the
// files are rewritten from the engine's output: review the diff against
// Redis's documented behaviour before committing it.

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/flotilla-db/flotilla/engine/scripttest"
)

var (
	rewrite = flag.Bool("rewrite", false, "rewrite testdata scripts from the engine's replies")
	oracle  = flag.Bool("oracle", false, "also check testdata scripts against a real redis-server")
)

// textWriter is the script notation's reply renderer.
type textWriter = scripttest.TextWriter

func TestScripts(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.txt")
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) { runScript(t, path) })
	}
}

func runScript(t *testing.T, path string) {
	header, blocks := scripttest.Parse(t, path)
	db := New(1)
	var rc *scripttest.Conn
	if *oracle {
		rc = scripttest.StartOracle(t)
	}
	var out bytes.Buffer
	for _, h := range header {
		out.WriteString(h + "\n")
	}
	for bi := range blocks {
		b := &blocks[bi]
		if b.Directive == "reset" {
			db = New(1)
			if rc != nil {
				rc.Do(t, []string{"FLUSHALL"}, 2)
			}
			out.WriteString("reset\n\n")
			continue
		}
		args := scripttest.DirectiveArgs(b.Directive)
		now, _ := strconv.ParseInt(args["now"], 10, 64)
		if now == 0 {
			now = 1_700_000_000_000
		}
		seed, _ := strconv.ParseUint(args["seed"], 10, 64)
		resp := 2
		if args["resp"] == "3" {
			resp = 3
		}
		var got []string
		for _, line := range b.Cmds {
			argv, err := scripttest.SplitCommand(line)
			if err != nil {
				t.Fatalf("%s:%d: %v", path, b.Line, err)
			}
			w := scripttest.NewTextWriter(resp)
			bargs := make([][]byte, len(argv))
			for i, a := range argv {
				bargs[i] = []byte(a)
			}
			h := Lookup(strings.ToLower(argv[0]))
			if h == nil {
				t.Fatalf("%s:%d: no handler for %q", path, b.Line, argv[0])
			}
			c := &Ctx{DB: db, W: w}
			c.Reset(bargs, now, seed)
			h(c)
			if w.Replies() != 1 {
				t.Errorf("%s:%d: %q wrote %d replies", path, b.Line, line, w.Replies())
			}
			got = append(got, w.String())
		}
		if !*rewrite && !scripttest.EqualLines(got, b.Want) {
			t.Errorf("%s:%d: %s\ngot:\n  %s\nwant:\n  %s", path, b.Line, b.Directive,
				strings.Join(got, "\n  "), strings.Join(b.Want, "\n  "))
		}
		if rc != nil && args["oracle"] != "skip" {
			var redisGot []string
			for _, line := range b.Cmds {
				argv, _ := scripttest.SplitCommand(line)
				redisGot = append(redisGot, rc.Do(t, argv, resp))
			}
			if !scripttest.EqualLines(redisGot, b.Want) {
				t.Errorf("%s:%d: Redis disagrees with the file\nredis:\n  %s\nfile:\n  %s", path, b.Line,
					strings.Join(redisGot, "\n  "), strings.Join(b.Want, "\n  "))
			}
		}
		out.WriteString(b.Directive + "\n")
		for _, c := range b.Cmds {
			out.WriteString(c + "\n")
		}
		out.WriteString("----\n")
		for _, g := range got {
			out.WriteString(g + "\n")
		}
		out.WriteString("\n")
	}
	if *rewrite {
		if err := os.WriteFile(path, bytes.TrimRight(out.Bytes(), "\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		f.WriteString("\n")
		f.Close()
	}
}
