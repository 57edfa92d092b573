package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

func TestRenderProgress(t *testing.T) {
	for _, tc := range []struct {
		p         progress
		bar, line string
	}{
		{
			p:    progress{moved: 0, total: 0, active: 1},
			bar:  "[>                   ]    ?  0/0 keys  0 keys/s  0 of 1 move done",
			line: "moved 0/0 keys, 0 keys/s, 0 of 1 move done",
		},
		{
			p:    progress{},
			bar:  "[>                   ]    ?  0/0 keys  0 keys/s  waiting for the moves to show",
			line: "moved 0/0 keys, 0 keys/s, waiting for the moves to show",
		},
		{
			p:    progress{moved: 12345, total: 27000, rate: 3210.7, active: 2, done: 1},
			bar:  "[=========>          ]  45%  12,345/27,000 keys  3,210 keys/s  1 of 3 moves done",
			line: "moved 12,345/27,000 keys (45%), 3,210 keys/s, 1 of 3 moves done",
		},
		{
			p:    progress{moved: 27000, total: 27000, rate: 5000, done: 2, failed: 1},
			bar:  "[====================] 100%  27,000/27,000 keys  5,000 keys/s  2 of 3 moves done, 1 failed",
			line: "moved 27,000/27,000 keys (100%), 5,000 keys/s, 2 of 3 moves done, 1 failed",
		},
	} {
		if got := renderBar(tc.p, 20); got != tc.bar {
			t.Errorf("renderBar(%+v)\n got %q\nwant %q", tc.p, got, tc.bar)
		}
		if got := renderLine(tc.p); got != tc.line {
			t.Errorf("renderLine(%+v)\n got %q\nwant %q", tc.p, got, tc.line)
		}
	}
}

func TestMergeMoves(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	got := mergeMoves([][]moveStatus{
		// the source's leader drives move 1 and counts its keys
		{{ID: 1, From: 1, To: 2, State: "copying", KeysMoved: 500, KeysTotal: 1000, Started: t0.Add(time.Second)}},
		// another node knows it from the configuration only
		{{ID: 1, From: 1, To: 2, State: "queued", Started: t0}, {ID: 2, State: "queued"}},
		{{ID: 1, State: "handover"}, {ID: 2, State: "failed: target gone"}},
	})
	m1, m2 := got[1], got[2]
	if m1.State != "handover" || m1.KeysMoved != 500 || m1.KeysTotal != 1000 || !m1.Started.Equal(t0) || m1.From != 1 || m1.To != 2 {
		t.Errorf("move 1 merged = %+v", m1)
	}
	if m2.State != "failed: target gone" {
		t.Errorf("move 2 merged = %+v", m2)
	}
	if len(got) != 2 {
		t.Errorf("%d moves merged, want 2", len(got))
	}
}

func TestRateMeter(t *testing.T) {
	r := newRateMeter(5 * time.Second)
	t0 := time.Now()
	if r.rate() != 0 {
		t.Errorf("rate of no samples = %v", r.rate())
	}
	for i := 0; i <= 10; i++ {
		r.add(t0.Add(time.Duration(i)*time.Second), int64(i*1000))
	}
	if got := r.rate(); got < 999 || got > 1001 {
		t.Errorf("rate = %v, want 1000", got)
	}
	if len(r.samples) > 7 {
		t.Errorf("%d samples kept for a 5 s window of 1 s samples", len(r.samples))
	}
}

// script is a sequence of FLOTILLA MOVES polls; the last repeats.
func script(polls ...map[uint64]moveStatus) func(context.Context) map[uint64]moveStatus {
	i := 0
	return func(context.Context) map[uint64]moveStatus {
		p := polls[min(i, len(polls)-1)]
		i++
		return p
	}
}

func TestFollowMoves(t *testing.T) {
	mv := func(id uint64, state string, moved, total int64) moveStatus {
		return moveStatus{ID: id, From: 1, To: 2, Slots: []slotRange{{Start: 0, End: 99}}, State: state, KeysMoved: moved, KeysTotal: total}
	}
	type poll = map[uint64]moveStatus
	for _, tc := range []struct {
		name         string
		want, ignore map[uint64]bool
		polls        []poll
		wantErr      string
		wantOut      []string
	}{
		{
			name: "one move to done",
			want: map[uint64]bool{7: true},
			polls: []poll{
				{},
				{7: mv(7, "queued", 0, 0), 3: mv(3, "copying", 5, 10)},
				{7: mv(7, "copying", 400, 1000)},
				{7: mv(7, "handover", 1000, 1000)},
				{7: mv(7, "done", 1000, 1000)},
			},
			wantOut: []string{"moved 0/0 keys, 0 keys/s, waiting for the moves to show\n", "moved 1,000/1,000 keys (100%)", "1 of 1 move done in", "1,000 keys moved"},
		},
		{
			name:    "a move that fails",
			want:    map[uint64]bool{7: true},
			polls:   []poll{{7: mv(7, "copying", 10, 100)}, {7: mv(7, "failed: target shard lost its quorum", 10, 100)}},
			wantErr: "1 of 1 moves failed",
			wantOut: []string{"Move 7 (slots 0-99, shard 1 to 2) failed: target shard lost its quorum", "0 of 1 move done"},
		},
		{
			name:    "a move that disappears once done",
			want:    map[uint64]bool{7: true},
			polls:   []poll{{7: mv(7, "copying", 10, 100)}, {}},
			wantOut: []string{"1 of 1 move done"},
		},
		{
			name:    "a move never reported",
			want:    map[uint64]bool{9: true},
			polls:   []poll{{}},
			wantErr: "no node reports move 9",
		},
		{
			name:   "every move but the finished ones",
			ignore: map[uint64]bool{1: true},
			polls: []poll{
				{1: mv(1, "done", 50, 50)},
				{1: mv(1, "done", 50, 50), 2: mv(2, "queued", 0, 0), 3: mv(3, "copying", 10, 20)},
				{1: mv(1, "done", 50, 50), 2: mv(2, "done", 30, 30), 3: mv(3, "done", 20, 20)},
			},
			wantOut: []string{"2 of 2 moves done", "50 keys moved"},
		},
		{
			name:    "no move starts",
			ignore:  map[uint64]bool{1: true},
			polls:   []poll{{1: mv(1, "done", 50, 50)}},
			wantOut: []string{"No slot move started."},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			c := &ctl{o: &options{}, out: &out, poll: time.Millisecond}
			oldNever, oldNone := neverSeenWait, noneStartWait
			neverSeenWait, noneStartWait = 50*time.Millisecond, 50*time.Millisecond
			defer func() { neverSeenWait, noneStartWait = oldNever, oldNone }()
			err := c.followMoves(context.Background(), script(tc.polls...), tc.want, tc.ignore)
			if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("followMoves: %v, want error %q\n%s", err, tc.wantErr, out.String())
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}

// TestFollowMovesTTY: on a terminal the bar is redrawn in place and the
// summary starts on a line of its own.
func TestFollowMovesTTY(t *testing.T) {
	var out bytes.Buffer
	c := &ctl{o: &options{}, out: &out, poll: time.Millisecond, isTTY: true}
	err := c.followMoves(context.Background(), script(
		map[uint64]moveStatus{4: {ID: 4, State: "copying", KeysMoved: 1, KeysTotal: 2}},
		map[uint64]moveStatus{4: {ID: 4, State: "done", KeysMoved: 2, KeysTotal: 2}},
	), map[uint64]bool{4: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if !strings.HasPrefix(s, "\r[===============>              ]  50%  1/2 keys") || !strings.Contains(s, "\r[==============================] 100%  2/2 keys") ||
		!strings.Contains(s, "\x1b[K\n1 of 1 move done") {
		t.Errorf("terminal output %q", s)
	}
}
