package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// Elastic is a Target whose nodes join and leave the running cluster. Its
// nodes that are not Members are spares: not running, with no data, ready
// to join as new nodes.
type Elastic interface {
	// Spares are the nodes that can join now.
	Spares() []int
	// MinMembers is the fewest members the drills keep.
	MinMembers() int
	// Join starts spare i as a new node of the running cluster and waits,
	// until ctx ends, for it to be a member and for the placement that
	// follows (replicas and a shard on it, slots moved to it live) to be
	// done everywhere. It says what happened and how long each step took.
	Join(ctx context.Context, i int) (string, error)
	// Remove removes member i from the cluster, drained (its leaderships
	// and replicas moved to other nodes first): by an admin command, or by
	// SIGTERM with the node set to drain on shutdown when sigterm is set.
	// Then its process ends and its data is wiped, so that it is a spare
	// again. Remove waits, until ctx ends, for the placement to be done.
	Remove(ctx context.Context, i int, sigterm bool) (string, error)
}

// MinMembers is the fewest members node-remove leaves: a shard's 3
// replicas in distinct zones.
const MinMembers = 3

// membershipTimeout bounds a join or a removal with the placement and
// slot moves that follow.
const membershipTimeout = 4 * time.Minute

// JoinFault starts a spare node while the clients go on: the cluster
// admits it, places replicas and a new shard on it, and moves slots to it
// live (node-join). The fault is over when all of that is done; its
// description says how long each step took.
type JoinFault struct {
	// Timeout bounds the wait (membershipTimeout when zero).
	Timeout time.Duration
}

func (f *JoinFault) Name() string { return "node-join" }

func (f *JoinFault) Skip(t Target) string {
	e, ok := t.(Elastic)
	if !ok {
		return t.Name() + " has no nodes joining or leaving here"
	}
	if t.Nodes() <= e.MinMembers() {
		return fmt.Sprintf("no spare node (%d nodes, all members; add spares)", t.Nodes())
	}
	return ""
}

func (f *JoinFault) NotNow(t Target) string {
	if e, ok := t.(Elastic); ok && len(e.Spares()) == 0 {
		return fmt.Sprintf("no spare node: all %d nodes are members", t.Nodes())
	}
	return ""
}

func (f *JoinFault) Inject(ctx context.Context, t Target, rng *rand.Rand) (*Injection, error) {
	e := t.(Elastic)
	spares := e.Spares()
	if len(spares) == 0 {
		return nil, fmt.Errorf("%w: no spare node", ErrUnsupported)
	}
	shards, err := t.Shards(ctx)
	if err != nil {
		return nil, err
	}
	i := spares[rng.IntN(len(spares))]
	wctx, cancel := context.WithTimeout(ctx, cmpOr(f.Timeout, membershipTimeout))
	defer cancel()
	desc, err := e.Join(wctx, i)
	if err != nil {
		return nil, err
	}
	return &Injection{Desc: desc, Affected: allShards(shards), Settled: true}, nil
}

// RemoveFault removes a random member while the clients go on, by FLOTILLA
// NODE REMOVE or by SIGTERM with shutdown-drain (either, at random): its
// replicas are rebuilt elsewhere and its shard retired by live slot moves
// before it leaves, then its process ends (node-remove). At least
// MinMembers stay, and, where it can, a member of every zone: a cluster
// left with two zones loses a shard's quorum with the bigger one, which
// would turn every later zone-loss into an outage. The fault is over when
// the placement is done.
type RemoveFault struct {
	Timeout time.Duration
}

func (f *RemoveFault) Name() string { return "node-remove" }

func (f *RemoveFault) Skip(t Target) string {
	e, ok := t.(Elastic)
	if !ok {
		return t.Name() + " has no nodes joining or leaving here"
	}
	if t.Nodes() <= e.MinMembers() {
		return fmt.Sprintf("%d nodes: at least %d must stay members (add spares)", t.Nodes(), e.MinMembers())
	}
	return ""
}

func (f *RemoveFault) NotNow(t Target) string {
	if e, ok := t.(Elastic); ok && len(t.Members()) <= e.MinMembers() {
		return fmt.Sprintf("%d members: at least %d must stay", len(t.Members()), e.MinMembers())
	}
	return ""
}

func (f *RemoveFault) Inject(ctx context.Context, t Target, rng *rand.Rand) (*Injection, error) {
	e := t.(Elastic)
	members := t.Members()
	if len(members) <= e.MinMembers() {
		return nil, fmt.Errorf("%w: %d members, at least %d must stay", ErrUnsupported, len(members), e.MinMembers())
	}
	if d, ok := t.(DownReporter); ok {
		members = slices.DeleteFunc(members, func(i int) bool { return slices.Contains(d.Down(), i) })
	}
	if len(members) == 0 {
		return nil, fmt.Errorf("no member running")
	}
	shards, err := t.Shards(ctx)
	if err != nil {
		return nil, err
	}
	victim := pickRemoval(t, members, rng)
	sigterm := rng.IntN(2) == 0
	wctx, cancel := context.WithTimeout(ctx, cmpOr(f.Timeout, membershipTimeout))
	defer cancel()
	desc, err := e.Remove(wctx, victim, sigterm)
	if err != nil {
		return nil, err
	}
	return &Injection{Desc: desc, Nodes: []int{victim}, Affected: allShards(shards), Settled: true}, nil
}

// pickRemoval picks a random member among candidates whose removal leaves
// a member in every zone the members span; any candidate when none does.
func pickRemoval(t Target, candidates []int, rng *rand.Rand) int {
	byZone := zones(t)
	var keep []int
	for _, i := range candidates {
		if len(byZone[t.NodeZone(i)]) > 1 {
			keep = append(keep, i)
		}
	}
	if len(keep) == 0 {
		keep = candidates
	}
	return keep[rng.IntN(len(keep))]
}
