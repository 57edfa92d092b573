package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/flotilla-db/flotilla/shard"
)

const (
	idA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1"
	idB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb2"
	idC = "ccccccccccccccccccccccccccccccccccccccc3"
)

// sampleView is a 3-node cluster seen from node A: node C does not answer,
// shard 2 moved its leadership to A (A leads 1 and 2), and A's view of
// shard 3's leader is stale (B reports itself its leader).
func sampleView() *view {
	topo := func(node, addr string) *nodeStatus {
		return &nodeStatus{
			Node: node, Addr: addr, Epoch: 4, Controller: idA,
			Nodes: []nodeInfo{
				{ID: idA, Zone: "zone-a", Addr: "10.0.0.1:6379", State: "alive", Alive: true, ConfigVoter: true},
				{ID: idB, Zone: "zone-b", Addr: "10.0.0.2:6379", State: "alive", Alive: true, ConfigVoter: true},
				{ID: idC, Zone: "zone-c", Addr: "10.0.0.3:6379", State: "dead", ConfigVoter: true},
			},
			Shards: []shardInfo{
				{ID: 2, Slots: []slotRange{{Start: 5461, End: 10921}}, Replicas: []string{idB, idA, idC}, Leader: idA},
				{ID: 1, Slots: []slotRange{{Start: 0, End: 5460}, {Start: 16000, End: 16000}}, Replicas: []string{idA, idB, idC}, Leader: idA},
				{ID: 3, Slots: []slotRange{{Start: 10922, End: 15999}, {Start: 16001, End: 16383}}, Replicas: []string{idC, idA, idB}, Leader: idC},
			},
		}
	}
	a := topo(idA, "10.0.0.1:6379")
	a.Replicas = []replicaStatus{
		{Shard: 1, Role: "leader", RaftState: "leader", Term: 5, CommitIndex: 1000, AppliedIndex: 1000, LastIndex: 1000, Keys: 1234},
		{Shard: 2, Role: "leader", RaftState: "leader", Term: 7, CommitIndex: 500, AppliedIndex: 500, LastIndex: 501, Keys: 99},
		{Shard: 3, Role: "follower", RaftState: "follower", Term: 9, CommitIndex: 300, AppliedIndex: 290, LastIndex: 300, LastContactMs: 12, Keys: 50, Lag: 10},
	}
	b := topo(idB, "10.0.0.2:6379")
	b.Replicas = []replicaStatus{
		{Shard: 1, Role: "follower", RaftState: "follower", Term: 5, CommitIndex: 996, AppliedIndex: 995, LastIndex: 997, LastContactMs: 40, Keys: 1230, Lag: 1},
		{Shard: 2, Role: "follower", RaftState: "follower", Term: 7, CommitIndex: 500, AppliedIndex: 500, LastIndex: 501, LastContactMs: 5, Keys: 99},
		{Shard: 3, Role: "leader", RaftState: "leader", Term: 9, CommitIndex: 305, AppliedIndex: 305, LastIndex: 305, Keys: 52},
	}
	return &view{
		topo:   a,
		byNode: map[string]*nodeStatus{idA: a, idB: b},
		errs:   map[string]error{idC: errors.New("dial tcp 10.0.0.3:6379: connect: connection refused")},
	}
}

func TestRenderStatus(t *testing.T) {
	var buf bytes.Buffer
	renderStatus(&buf, sampleView(), false)
	want := `Cluster epoch 4: 3 nodes in 3 zones, 3 shards, 16384/16384 slots assigned; controller aaaaaaaaaaaa (10.0.0.1:6379).
  cccccccccccc (10.0.0.3:6379) did not answer: dial tcp 10.0.0.3:6379: connect: connection refused

NODE          ADDRESS        ZONE    STATE  CONFIG      SHARDS  LEADS
aaaaaaaaaaaa  10.0.0.1:6379  zone-a  up     controller  1-3     1-2
bbbbbbbbbbbb  10.0.0.2:6379  zone-b  up     voter       1-3     3
cccccccccccc  10.0.0.3:6379  zone-c  down   voter       1-3     -

SHARD  SLOTS  RANGES                   LEADER         REPLICAS                                   KEYS  LAG
1      5462   0-5460,16000             10.0.0.1:6379  10.0.0.1:6379,10.0.0.2:6379,10.0.0.3:6379  1234  3+?
2      5461   5461-10921               10.0.0.1:6379  10.0.0.2:6379,10.0.0.1:6379,10.0.0.3:6379  99    0+?
3      5461   10922-15999,16001-16383  10.0.0.2:6379  10.0.0.3:6379,10.0.0.1:6379,10.0.0.2:6379  52    5+?
`
	if got := buf.String(); got != want {
		t.Errorf("status:\n%s\nwant:\n%s", got, want)
	}
}

func TestRenderStatusVerbose(t *testing.T) {
	var buf bytes.Buffer
	renderStatus(&buf, sampleView(), true)
	got := buf.String()
	for _, want := range []string{
		"controller " + idA + " (10.0.0.1:6379)",
		idC + " (10.0.0.3:6379) did not answer",
		"\n" + idB + "  10.0.0.2:6379",
		"SHARD  NODE           ROLE      RAFT      TERM  COMMIT  APPLIED  LAST  LAG  CONTACT  KEYS\n",
		"1      10.0.0.1:6379  leader    leader    5     1000    1000     1000  0    -        1234\n",
		"1      10.0.0.2:6379  follower  follower  5     996     995      997   3    40ms     1230\n",
		"1      10.0.0.3:6379  ?         ?         ?     ?       ?        ?     ?    ?        ?\n",
		"3      10.0.0.1:6379  follower  follower  9     300     290      300   5    12ms     50\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("status -v lacks %q:\n%s", want, got)
		}
	}
}

func TestViewLeaderAndLag(t *testing.T) {
	v := sampleView()
	for _, tc := range []struct {
		shard  shard.ID
		leader string
	}{{1, idA}, {2, idA}, {3, idB}} {
		if got := v.leader(v.shard(tc.shard)); got != tc.leader {
			t.Errorf("leader of shard %d = %s, want %s", tc.shard, got, tc.leader)
		}
	}
	// Without the leader's answer, a follower's lag is its own count.
	delete(v.byNode, idB)
	sh := v.shard(3)
	if got := v.leader(sh); got != idC {
		t.Errorf("leader of shard 3 without B's answer = %s, want %s (A's view)", got, idC)
	}
	if lag, ok := v.lag(sh, idC, idA); !ok || lag != 10 {
		t.Errorf("lag of A on shard 3 = %d, %v; want 10 (its own report)", lag, ok)
	}
	if _, ok := v.lag(sh, idC, idB); ok {
		t.Errorf("lag of B known without its answer")
	}
}

func TestNodeStates(t *testing.T) {
	v := sampleView()
	v.topo.Nodes[2].State = "alive" // C does not answer, gossip holds it alive
	v.topo.Nodes[1].State = "suspect"
	nodes, _, _ := v.rows()
	for i, want := range []string{"up", "up (gossip: suspect)", "unreachable (gossip: alive)"} {
		if nodes[i].state != want {
			t.Errorf("node %d state %q, want %q", i, nodes[i].state, want)
		}
	}
}

func TestResolveNode(t *testing.T) {
	v := sampleView()
	for _, tc := range []struct{ in, want, wantErr string }{
		{in: idB, want: idB},
		{in: "bbbb", want: idB},
		{in: "BBBBBB", want: idB},
		{in: "10.0.0.3:6379", want: idC},
		{in: "bbb", wantErr: `no node "bbb" in the cluster (give a node ID, a prefix of 4 or more of its digits, or its ip:port)`},
		{in: "dddd", wantErr: `no node "dddd" in the cluster (give a node ID, a prefix of 4 or more of its digits, or its ip:port)`},
	} {
		n, err := v.resolveNode(tc.in)
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("resolveNode(%q) = %v, %v; want error %q", tc.in, n, err, tc.wantErr)
			}
			continue
		}
		if err != nil || n.ID != tc.want {
			t.Errorf("resolveNode(%q) = %v, %v; want %s", tc.in, n, err, tc.want)
		}
	}
	v.topo.Nodes = append(v.topo.Nodes, nodeInfo{ID: "bbbb" + strings.Repeat("0", 36), Addr: "10.0.0.4:6379"})
	if _, err := v.resolveNode("bbbb"); err == nil || !strings.Contains(err.Error(), "ambiguous") {
		t.Errorf("resolveNode of an ambiguous prefix: %v", err)
	}
}

func TestFormatting(t *testing.T) {
	for _, tc := range []struct {
		ids  []shard.ID
		want string
	}{
		{nil, "-"},
		{[]shard.ID{1}, "1"},
		{[]shard.ID{3, 1, 2}, "1-3"},
		{[]shard.ID{1, 2, 3, 5, 7, 8}, "1-3,5,7-8"},
	} {
		if got := idList(tc.ids); got != tc.want {
			t.Errorf("idList(%v) = %q, want %q", tc.ids, got, tc.want)
		}
	}
	if got := formatRanges([]slotRange{{Start: 300, End: 310}, {Start: 0, End: 99}, {Start: 200, End: 200}}); got != "0-99,200,300-310" {
		t.Errorf("formatRanges = %q", got)
	}
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -12345: "-12,345"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
