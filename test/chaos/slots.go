package chaos

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// CheckSlotOwners asks every node for CLUSTER SLOTS and checks that each
// answer covers slots 0-16383 exactly once and that all nodes name the same
// master for every slot. Views converge after a fault, so it retries for up
// to wait; the problems of the last attempt are returned (none when the
// slot map is sound).
func CheckSlotOwners(ctx context.Context, addrs []string, wait time.Duration) []string {
	deadline := time.Now().Add(wait)
	for {
		problems := slotOwnerProblems(ctx, addrs)
		if len(problems) == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			return problems
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func slotOwnerProblems(ctx context.Context, addrs []string) []string {
	var problems []string
	var ref []string // master per slot, from the first node that answered
	refAddr := ""
	for _, addr := range addrs {
		cl := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: 3 * time.Second})
		slots, err := cl.ClusterSlots(ctx).Result()
		cl.Close()
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: CLUSTER SLOTS: %v", addr, err))
			continue
		}
		owner, p := slotMap(slots)
		for _, x := range p {
			problems = append(problems, addr+": "+x)
		}
		if ref == nil {
			ref, refAddr = owner, addr
			continue
		}
		var diff []string
		for s := 0; s < NumSlots; s++ {
			if owner[s] != ref[s] {
				diff = append(diff, fmt.Sprintf("slot %d: %s says %q, %s says %q", s, addr, owner[s], refAddr, ref[s]))
			}
		}
		if len(diff) > 0 {
			problems = append(problems, fmt.Sprintf("%d slots owned differently, first %s", len(diff), diff[0]))
		}
	}
	return problems
}

// slotMap returns the master of each slot in a CLUSTER SLOTS answer and the
// problems with it: slots without a master, slots claimed twice.
func slotMap(slots []redis.ClusterSlot) ([]string, []string) {
	owner := make([]string, NumSlots)
	var problems []string
	twice := 0
	for _, r := range slots {
		if len(r.Nodes) == 0 {
			problems = append(problems, fmt.Sprintf("slots %d-%d have no node", r.Start, r.End))
			continue
		}
		for s := max(r.Start, 0); s <= min(r.End, NumSlots-1); s++ {
			if owner[s] != "" {
				twice++
			}
			owner[s] = r.Nodes[0].Addr
		}
	}
	if twice > 0 {
		problems = append(problems, fmt.Sprintf("%d slots claimed by two ranges", twice))
	}
	var missing []string
	for s := 0; s < NumSlots; {
		if owner[s] != "" {
			s++
			continue
		}
		e := s
		for e+1 < NumSlots && owner[e+1] == "" {
			e++
		}
		missing = append(missing, fmt.Sprintf("%d-%d", s, e))
		s = e + 1
	}
	if len(missing) > 0 {
		problems = append(problems, "slots without an owner: "+strings.Join(missing[:min(len(missing), 5)], ","))
	}
	return owner, slices.Clip(problems)
}
