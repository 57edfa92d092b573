package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flotilla-db/flotilla/cluster"
	"github.com/flotilla-db/flotilla/shard"
)

// SlotMover is a Target that moves slots between its shards live.
type SlotMover interface {
	// StartMove queues a live move of the slots start..end to another
	// shard chosen with rng; it returns the move's ID, a description and
	// the node leading the source shard (which drives the move).
	StartMove(ctx context.Context, start, end int, rng *rand.Rand) (id uint64, desc string, source int, err error)
	// MoveDone returns what the nodes report of a move done: the keys it
	// copied and how long its slots refused clients at the handover.
	MoveDone(ctx context.Context, id uint64) (keys int64, pause time.Duration, ok bool)
	// MoveState returns the state of the moves as the node i reports
	// them: "" when it knows of none.
	MoveState(ctx context.Context, i int) (string, error)
	// WaitMoves waits until no move is left anywhere.
	WaitMoves(ctx context.Context) error
}

// MoveFault moves a run of slots from one shard to another while the
// clients go on (move-slots); with Kill, the source shard's leader is
// killed -9 while it copies, so that a new leader must take the move over
// (move-slots-kill).
type MoveFault struct {
	Kill bool
	// MaxSlots bounds the run moved (default 256).
	MaxSlots int
}

func (f *MoveFault) Name() string {
	if f.Kill {
		return "move-slots-kill"
	}
	return "move-slots"
}

func (f *MoveFault) Skip(t Target) string {
	if _, ok := t.(SlotMover); !ok {
		return t.Name() + " does not move slots live here"
	}
	return ""
}

func (f *MoveFault) Inject(ctx context.Context, t Target, rng *rand.Rand) (*Injection, error) {
	sm := t.(SlotMover)
	shards, err := t.Shards(ctx)
	if err != nil {
		return nil, err
	}
	var ranges [][2]int
	for _, sh := range shards {
		ranges = append(ranges, sh.Slots...)
	}
	if len(ranges) == 0 {
		return nil, errors.New("no slots")
	}
	r := ranges[rng.IntN(len(ranges))]
	maxSlots := f.MaxSlots
	if maxSlots <= 0 {
		maxSlots = 256
	}
	// At least 64 slots, so that the drill's clients, spread over every
	// slot, write them often enough for the recovery time to mean
	// something.
	n := min(maxSlots, 64) + rng.IntN(max(1, maxSlots-64))
	start := r[0] + rng.IntN(max(1, r[1]-r[0]+1))
	end := min(r[1], start+n-1)
	id, desc, source, err := sm.StartMove(ctx, start, end, rng)
	if err != nil {
		return nil, err
	}
	inj := &Injection{Desc: desc, Affected: [][][2]int{{{start, end}}}}
	if !f.Kill {
		// The move's own pause is what the clients see; wait for it to
		// end so that the next fault finds it done.
		wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		if err := sm.WaitMoves(wctx); err != nil {
			return inj, fmt.Errorf("%s: %w", desc, err)
		}
		if keys, pause, ok := sm.MoveDone(ctx, id); ok {
			inj.Desc += fmt.Sprintf(" (%d keys; handover pause %.1f ms)", keys, float64(pause)/1e6)
		}
		return inj, nil
	}
	// Kill the source's leader once it copies (or at once when the move
	// is quicker than the poll).
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if st, _ := sm.MoveState(ctx, source); st == "copying" || st == "" {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := t.Kill(source); err != nil {
		return nil, err
	}
	inj.Desc += fmt.Sprintf("; kill -9 %s, the source's leader, while it copies", nodeName(source))
	inj.Nodes = []int{source}
	inj.Hold = between(rng, 2*time.Second, 5*time.Second)
	inj.Heal = func(ctx context.Context) error {
		if err := t.Restart(source); err != nil {
			return err
		}
		wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		return sm.WaitMoves(wctx)
	}
	return inj, nil
}

var _ SlotMover = (*FlotillaTarget)(nil)

func (t *FlotillaTarget) admin(ctx context.Context, i int, args ...any) (string, error) {
	return t.adminWithin(ctx, 5*time.Second, i, args...)
}

// adminWithin sends node i a command and waits up to timeout for the
// reply.
func (t *FlotillaTarget) adminWithin(ctx context.Context, timeout time.Duration, i int, args ...any) (string, error) {
	cl := redis.NewClient(&redis.Options{Addr: t.c.Addr(i), MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: timeout})
	defer cl.Close()
	v, err := cl.Do(ctx, args...).Result()
	if err != nil {
		return "", err
	}
	return fmt.Sprint(v), nil
}

// StartMove asks a running node to move start..end to a shard other than
// the one owning start.
func (t *FlotillaTarget) StartMove(ctx context.Context, start, end int, rng *rand.Rand) (uint64, string, int, error) {
	for _, i := range t.running() {
		s, err := t.admin(ctx, i, "FLOTILLA", "STATUS")
		if err != nil {
			continue
		}
		var st cluster.FlotillaStatus
		if err := json.Unmarshal([]byte(s), &st); err != nil {
			return 0, "", -1, err
		}
		var from shard.ID
		leader := ""
		var others []shard.ID
		for _, sh := range st.Shards {
			owns := false
			for _, r := range sh.Slots {
				owns = owns || (start >= r.Start && start <= r.End)
			}
			if owns {
				from, leader = sh.ID, sh.Leader
			} else {
				others = append(others, sh.ID)
			}
		}
		if len(others) == 0 {
			return 0, "", -1, errors.New("one shard only: nowhere to move slots")
		}
		// Only slots of the source: end stops where its range does.
		to := others[rng.IntN(len(others))]
		ranges := strconv.Itoa(start)
		if end > start {
			ranges += "-" + strconv.Itoa(end)
		}
		reply, err := t.admin(ctx, i, "FLOTILLA", "SLOTS", "MOVE", ranges, strconv.Itoa(int(to)))
		if err != nil && strings.Contains(err.Error(), "not formed") {
			// A node just restarted serves by the topology it saved, but
			// changes the configuration only once its copy of the
			// configuration group has caught up: ask another.
			continue
		}
		if err != nil {
			return 0, "", -1, fmt.Errorf("FLOTILLA SLOTS MOVE %s %d: %w", ranges, to, err)
		}
		id, _ := strconv.ParseUint(reply, 10, 64)
		source := -1
		for _, n := range st.Nodes {
			if n.ID == leader {
				source = t.indexOfAddr(n.Addr)
			}
		}
		return id, fmt.Sprintf("move slots %s from shard %d (led by %s) to shard %d", ranges, from, nodeName(source), to), source, nil
	}
	return 0, "", -1, errors.New("no node answers FLOTILLA STATUS and takes FLOTILLA SLOTS MOVE")
}

// MoveDone looks for move id among the moves the running nodes report
// done.
func (t *FlotillaTarget) MoveDone(ctx context.Context, id uint64) (int64, time.Duration, bool) {
	for _, i := range t.running() {
		s, err := t.admin(ctx, i, "FLOTILLA", "MOVES")
		if err != nil {
			continue
		}
		var ms []cluster.MoveStatus
		json.Unmarshal([]byte(s), &ms)
		for _, m := range ms {
			if m.ID == id && m.State == "done" {
				return m.KeysMoved, time.Duration(m.PauseMS * 1e6), true
			}
		}
	}
	return 0, 0, false
}

// MoveState returns the state node i reports for the moves it knows.
func (t *FlotillaTarget) MoveState(ctx context.Context, i int) (string, error) {
	s, err := t.admin(ctx, i, "FLOTILLA", "MOVES")
	if err != nil {
		return "", err
	}
	var ms []cluster.MoveStatus
	if err := json.Unmarshal([]byte(s), &ms); err != nil {
		return "", err
	}
	var states []string
	for _, m := range ms {
		if m.State != "done" {
			states = append(states, m.State)
		}
	}
	return strings.Join(states, ","), nil
}

// WaitMoves waits until every running node reports no move but done ones.
func (t *FlotillaTarget) WaitMoves(ctx context.Context) error {
	for {
		pending := false
		answered := 0
		for _, i := range t.running() {
			st, err := t.MoveState(ctx, i)
			if err != nil {
				continue
			}
			answered++
			pending = pending || st != ""
		}
		if answered > 0 && !pending {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("moves still under way: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
