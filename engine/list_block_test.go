package engine

import (
	"github.com/flotilla-db/flotilla/engine/scripttest"

	"bytes"
	"strings"
	"testing"
)

// listTestNotifier records the keys signalled ready and modified.
type listTestNotifier struct {
	ready, modified []string
}

func (n *listTestNotifier) KeyModified(key []byte) { n.modified = append(n.modified, string(key)) }
func (n *listTestNotifier) KeyReady(key []byte)    { n.ready = append(n.ready, string(key)) }
func (n *listTestNotifier) Flushed()               {}

const listTestNow = 1_700_000_000_000

// listRun runs one command and returns its Ctx and rendered reply.
func listRun(t *testing.T, db *DB, noBlock bool, args ...string) (*Ctx, *textWriter) {
	t.Helper()
	bargs := make([][]byte, len(args))
	for i, a := range args {
		bargs[i] = []byte(a)
	}
	w := scripttest.NewTextWriter(2)
	c := &Ctx{DB: db, W: w, NoBlock: noBlock}
	c.Reset(bargs, listTestNow, 1)
	h := Lookup(strings.ToLower(args[0]))
	if h == nil {
		t.Fatalf("no handler for %s", args[0])
	}
	h(c)
	return c, w
}

func keysOf(b *BlockSpec) []string {
	var out []string
	for _, k := range b.Keys {
		out = append(out, string(k))
	}
	return out
}

func TestListBlockSpec(t *testing.T) {
	tests := []struct {
		args      []string
		keys      []string
		deadline  int64
		nullArray bool
	}{
		{[]string{"BLPOP", "a", "b", "0"}, []string{"a", "b"}, 0, true},
		{[]string{"BLPOP", "a", "1.5"}, []string{"a"}, listTestNow + 1500, true},
		{[]string{"BRPOP", "a", "b", "c", "2"}, []string{"a", "b", "c"}, listTestNow + 2000, true},
		{[]string{"BRPOP", "a", "0.0001"}, []string{"a"}, listTestNow + 1, true}, // rounded up
		{[]string{"BLPOP", "a", "-0.0001"}, []string{"a"}, 0, true},              // rounds to 0: forever
		{[]string{"BLMPOP", "0.25", "2", "a", "b", "LEFT"}, []string{"a", "b"}, listTestNow + 250, true},
		{[]string{"BLMPOP", "0", "1", "a", "RIGHT", "COUNT", "3"}, []string{"a"}, 0, true},
		{[]string{"BLMOVE", "a", "b", "LEFT", "RIGHT", "3"}, []string{"a"}, listTestNow + 3000, false},
		{[]string{"BLMOVE", "a", "a", "RIGHT", "LEFT", "0"}, []string{"a"}, 0, false},
		{[]string{"BRPOPLPUSH", "a", "b", "0.001"}, []string{"a"}, listTestNow + 1, false},
		// The destination is not looked at before the source has elements.
		{[]string{"BLMOVE", "a", "str", "LEFT", "RIGHT", "0"}, []string{"a"}, 0, false},
		{[]string{"BRPOPLPUSH", "a", "str", "0"}, []string{"a"}, 0, false},
	}
	for _, tc := range tests {
		db := New(1)
		listRun(t, db, false, "SET", "str", "v")
		c, w := listRun(t, db, false, tc.args...)
		name := strings.Join(tc.args, " ")
		if w.Replies() != 0 || w.String() != "" {
			t.Errorf("%s: wrote %q", name, w.String())
		}
		b := c.Blocked
		if b == nil {
			t.Errorf("%s: did not block", name)
			continue
		}
		if got := keysOf(b); strings.Join(got, ",") != strings.Join(tc.keys, ",") {
			t.Errorf("%s: keys %q, want %q", name, got, tc.keys)
		}
		if b.Deadline != tc.deadline {
			t.Errorf("%s: deadline %d, want %d", name, b.Deadline, tc.deadline)
		}
		if b.NullArray != tc.nullArray {
			t.Errorf("%s: NullArray %v", name, b.NullArray)
		}
		// Inside MULTI the command replies at once with the timeout reply.
		c, w = listRun(t, db, true, tc.args...)
		want := "(nil)"
		if tc.nullArray {
			want = "(nil-array)"
		}
		if c.Blocked != nil || w.Replies() != 1 || w.String() != want {
			t.Errorf("%s with NoBlock: blocked %v, reply %q, want %q", name, c.Blocked != nil, w.String(), want)
		}
	}
}

// The keys of a BlockSpec do not alias arguments a server could append to.
func TestListBlockKeysCapped(t *testing.T) {
	db := New(1)
	c, _ := listRun(t, db, false, "BLPOP", "a", "b", "0")
	if cap(c.Blocked.Keys) != 2 {
		t.Fatalf("cap %d", cap(c.Blocked.Keys))
	}
}

func TestListBlockErrors(t *testing.T) {
	db := New(1)
	listRun(t, db, false, "SET", "str", "v")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"BLPOP", "a", "-1"}, "-" + ErrTimeoutNegative},
		{[]string{"BLPOP", "a", "-inf"}, "-" + ErrTimeoutNegative},
		{[]string{"BRPOP", "a", "x"}, "-" + ErrTimeout},
		{[]string{"BRPOP", "a", ""}, "-" + ErrTimeout},
		{[]string{"BRPOP", "a", "nan"}, "-" + ErrTimeout},
		{[]string{"BLPOP", "a", " 1"}, "-" + ErrTimeout},
		// Redis 7.0.15 casts an out-of-range long double to LLONG_MIN.
		{[]string{"BLPOP", "a", "inf"}, "-" + ErrTimeoutNegative},
		{[]string{"BLPOP", "a", "9223372036854775807"}, "-" + ErrTimeoutNegative},
		{[]string{"BLPOP", "a", "1e5000"}, "-" + ErrTimeout},
		{[]string{"BLMOVE", "a", "b", "LEFT", "LEFT", "-1"}, "-" + ErrTimeoutNegative},
		{[]string{"BLMOVE", "a", "b", "LEFT", "LEFT", "x"}, "-" + ErrTimeout},
		{[]string{"BLMOVE", "a", "b", "UP", "LEFT", "x"}, "-" + ErrSyntax},
		{[]string{"BRPOPLPUSH", "a", "b", "-2"}, "-" + ErrTimeoutNegative},
		{[]string{"BRPOPLPUSH", "a", "b", "1e400"}, "-" + ErrTimeoutNegative},
		{[]string{"BLMPOP", "-1", "1", "a", "LEFT"}, "-" + ErrTimeoutNegative},
		{[]string{"BLMPOP", "x", "1", "a", "LEFT"}, "-" + ErrTimeout},
		{[]string{"BLMPOP", "x", "0", "a", "LEFT"}, "-" + errNumkeys},
		{[]string{"BLMPOP", "x", "1", "a", "LEFT", "COUNT", "0"}, "-" + errCountPositive},
		// Wrong type, in key order, before blocking.
		{[]string{"BLPOP", "a", "str", "0"}, "-" + ErrWrongType},
		{[]string{"BRPOP", "str", "a", "0"}, "-" + ErrWrongType},
		{[]string{"BLMPOP", "0", "2", "a", "str", "LEFT"}, "-" + ErrWrongType},
		{[]string{"BLMOVE", "str", "a", "LEFT", "LEFT", "0"}, "-" + ErrWrongType},
		{[]string{"BRPOPLPUSH", "str", "a", "0"}, "-" + ErrWrongType},
	}
	for _, tc := range tests {
		for _, noBlock := range []bool{false, true} {
			c, w := listRun(t, db, noBlock, tc.args...)
			if c.Blocked != nil || w.String() != tc.want {
				t.Errorf("%s (NoBlock %v): blocked %v, reply %q, want %q",
					strings.Join(tc.args, " "), noBlock, c.Blocked != nil, w.String(), tc.want)
			}
		}
	}
}

// The server's loop: block, a push signals the key ready, the same command
// runs again and is served.
func TestListBlockThenServe(t *testing.T) {
	db := New(1)
	n := &listTestNotifier{}
	db.SetNotifier(n)

	c, _ := listRun(t, db, false, "BLPOP", "a", "b", "0")
	if c.Blocked == nil {
		t.Fatal("did not block")
	}
	listRun(t, db, false, "RPUSH", "b", "x", "y")
	if strings.Join(n.ready, ",") != "b" {
		t.Fatalf("ready %q", n.ready)
	}
	c, w := listRun(t, db, false, "BLPOP", "a", "b", "0")
	if c.Blocked != nil || w.String() != `["b" "x"]` {
		t.Fatalf("rerun: %q", w.String())
	}

	// BLMOVE: the destination is signalled ready, and rotation works.
	n.ready = nil
	c, _ = listRun(t, db, false, "BLMOVE", "src", "src", "LEFT", "RIGHT", "0")
	if c.Blocked == nil {
		t.Fatal("BLMOVE did not block")
	}
	listRun(t, db, false, "LPUSH", "src", "1", "2", "3")
	c, w = listRun(t, db, false, "BLMOVE", "src", "src", "LEFT", "RIGHT", "0")
	if c.Blocked != nil || w.String() != `"3"` {
		t.Fatalf("BLMOVE rerun: %q", w.String())
	}
	_, w = listRun(t, db, false, "LRANGE", "src", "0", "-1")
	if w.String() != `["2" "1" "3"]` {
		t.Fatalf("after rotation: %s", w.String())
	}
	_, w = listRun(t, db, false, "BRPOPLPUSH", "src", "dst", "0")
	if w.String() != `"3"` {
		t.Fatalf("BRPOPLPUSH: %s", w.String())
	}
	if strings.Join(n.ready, ",") != "src,src,dst" {
		t.Fatalf("ready %q", n.ready)
	}

	// BLMPOP served after a push.
	c, _ = listRun(t, db, false, "BLMPOP", "0", "2", "m1", "m2", "RIGHT", "COUNT", "5")
	if c.Blocked == nil || strings.Join(keysOf(c.Blocked), ",") != "m1,m2" {
		t.Fatal("BLMPOP did not block on m1 m2")
	}
	listRun(t, db, false, "RPUSH", "m2", "p", "q")
	_, w = listRun(t, db, false, "BLMPOP", "0", "2", "m1", "m2", "RIGHT", "COUNT", "5")
	if w.String() != `["m2" ["q" "p"]]` {
		t.Fatalf("BLMPOP rerun: %s", w.String())
	}
	// The emptied list was deleted: BLMPOP blocks again.
	c, _ = listRun(t, db, false, "BLMPOP", "0", "2", "m1", "m2", "RIGHT")
	if c.Blocked == nil {
		t.Fatal("BLMPOP did not block again")
	}
}

// Which commands signal keys ready (pushes: LPUSH, RPUSH, LPUSHX, RPUSHX,
// LMOVE and RPOPLPUSH destinations) and which do not.
func TestListReadySignals(t *testing.T) {
	db := New(1)
	n := &listTestNotifier{}
	db.SetNotifier(n)
	cmds := [][]string{
		{"LPUSHX", "l", "a"},     // no list: nothing pushed
		{"LPUSH", "l", "a"},      // l
		{"RPUSH", "l", "b", "c"}, // l
		{"LPUSHX", "l", "z"},     // l
		{"RPUSHX", "l", "y"},     // l
		{"LINSERT", "l", "BEFORE", "a", "x"},
		{"LSET", "l", "0", "w"},
		{"LPOP", "l"},
		{"LMOVE", "l", "d", "LEFT", "LEFT"}, // d
		{"RPOPLPUSH", "l", "l"},             // l
		{"LREM", "l", "0", "nothing"},
		{"LTRIM", "l", "0", "-1"},
	}
	for _, a := range cmds {
		listRun(t, db, false, a...)
	}
	if got := strings.Join(n.ready, ","); got != "l,l,l,l,d,l" {
		t.Fatalf("ready %q", got)
	}
}

// Emptied lists are deleted, and WATCH sees the changes.
func TestListDeleteWhenEmpty(t *testing.T) {
	for _, cmd := range [][]string{
		{"LPOP", "l"}, {"RPOP", "l", "5"}, {"LREM", "l", "0", "a"}, {"LTRIM", "l", "1", "0"},
		{"LMOVE", "l", "m", "LEFT", "RIGHT"}, {"LMPOP", "1", "l", "LEFT"}, {"BLPOP", "l", "0"},
		{"BRPOPLPUSH", "l", "m", "0"}, {"BLMPOP", "0", "1", "l", "RIGHT", "COUNT", "3"},
	} {
		db := New(1)
		listRun(t, db, false, "RPUSH", "l", "a")
		n := &listTestNotifier{}
		db.SetNotifier(n)
		listRun(t, db, false, cmd...)
		if _, found := db.peek([]byte("l"), listTestNow); found {
			t.Errorf("%v left an empty list", cmd)
		}
		if len(n.modified) == 0 || !strings.Contains(strings.Join(n.modified, ","), "l") {
			t.Errorf("%v: modified %q", cmd, n.modified)
		}
	}
}

// Lists take list-max-listpack-size from the config when created.
func TestListConfigFill(t *testing.T) {
	db := New(1)
	cfg := db.Config()
	cfg.ListMaxListpackSize = 2
	db.SetConfig(cfg)
	listRun(t, db, false, "RPUSH", "l", "a", "b", "c", "d", "e")
	o, _ := db.peek([]byte("l"), listTestNow)
	v := collection[listValue](o)
	if len(v.live()) != 3 || v.encodingName() != "quicklist" {
		t.Fatalf("%d chunks", len(v.live()))
	}
	// A config change does not affect the existing list.
	cfg.ListMaxListpackSize = -2
	db.SetConfig(cfg)
	listRun(t, db, false, "RPUSH", "l", "f", "g")
	if len(v.live()) != 4 {
		t.Fatalf("%d chunks after config change", len(v.live()))
	}
	// clone is deep.
	w := v.clone()
	w.set(0, []byte("changed"))
	if !bytes.Equal(v.index(0), []byte("a")) || !bytes.Equal(w.index(0), []byte("changed")) {
		t.Fatal("clone shares data")
	}
	if v.memoryUsage() <= 0 || w.memoryUsage() <= 0 {
		t.Fatal("memoryUsage")
	}
}

// LMOVE on one list: the moved element is not clobbered by the push,
// whatever the room in the chunk.
func TestListMoveSameList(t *testing.T) {
	for _, fill := range []int{-2, 1, 2, 3} {
		for _, dirs := range [][2]string{{"LEFT", "RIGHT"}, {"RIGHT", "LEFT"}, {"LEFT", "LEFT"}, {"RIGHT", "RIGHT"}} {
			db := New(1)
			cfg := db.Config()
			cfg.ListMaxListpackSize = fill
			db.SetConfig(cfg)
			var model []string
			for i := 0; i < 7; i++ {
				e := strings.Repeat(string(rune('a'+i)), i+1)
				listRun(t, db, false, "RPUSH", "l", e)
				model = append(model, e)
			}
			for step := 0; step < 20; step++ {
				_, w := listRun(t, db, false, "LMOVE", "l", "l", dirs[0], dirs[1])
				var e string
				if dirs[0] == "LEFT" {
					e, model = model[0], model[1:]
				} else {
					e, model = model[len(model)-1], model[:len(model)-1]
				}
				if dirs[1] == "LEFT" {
					model = append([]string{e}, model...)
				} else {
					model = append(model, e)
				}
				if w.String() != `"`+e+`"` {
					t.Fatalf("fill %d %v: reply %s, want %q", fill, dirs, w.String(), e)
				}
				_, w = listRun(t, db, false, "LRANGE", "l", "0", "-1")
				want := `["` + strings.Join(model, `" "`) + `"]`
				if w.String() != want {
					t.Fatalf("fill %d %v step %d: %s, want %s", fill, dirs, step, w.String(), want)
				}
			}
		}
	}
}
