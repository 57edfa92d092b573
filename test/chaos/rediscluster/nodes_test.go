package rediscluster

import (
	"fmt"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"

	"github.com/flotilla-db/flotilla/test/chaos"
	"github.com/flotilla-db/flotilla/test/localcluster"
)

// sampleNodes is CLUSTER NODES from node 1 of a cluster that redis-cli
// created, then after node 1 was killed and node 5 took over its slots.
const (
	sampleNodes = `20c531da717119e51a9c4f922416228b3870bfdd 127.0.0.26:23456@33456 slave 994110654ad310c04df3e090785c1f8390f9bf3b 0 1795763588000 2 connected
994110654ad310c04df3e090785c1f8390f9bf3b 127.0.0.22:23456@33456 master - 0 1795763588919 2 connected 5461-10922
faafa585f98768828cfc59bc00df61048bd54d7d 127.0.0.24:23456@33456 slave b5ac674156354ffabd31f0a1fa524da9be66ae58 0 1795763590000 3 connected
b5ac674156354ffabd31f0a1fa524da9be66ae58 127.0.0.23:23456@33456 master - 0 1795763590925 3 connected 10923-16383 [42->-994110654ad310c04df3e090785c1f8390f9bf3b]
743a5849c12b385e68c4ed57b1024ee6dfaef5ea 127.0.0.21:23456@33456 myself,master - 0 1795763589000 1 connected 0-5460
9905bde5bc9a8d9d541018cddc2222bd91868840 127.0.0.25:23456@33456 slave 743a5849c12b385e68c4ed57b1024ee6dfaef5ea 0 1795763589922 1 connected
`
	afterFailover = `20c531da717119e51a9c4f922416228b3870bfdd 127.0.0.26:23456@33456 slave 994110654ad310c04df3e090785c1f8390f9bf3b 0 1795763588000 2 connected
994110654ad310c04df3e090785c1f8390f9bf3b 127.0.0.22:23456@33456 myself,master - 0 1795763588919 2 connected 5461-10922
faafa585f98768828cfc59bc00df61048bd54d7d 127.0.0.24:23456@33456 slave b5ac674156354ffabd31f0a1fa524da9be66ae58 0 1795763590000 3 connected
b5ac674156354ffabd31f0a1fa524da9be66ae58 127.0.0.23:23456@33456 master - 0 1795763590925 3 connected 10923-16383
743a5849c12b385e68c4ed57b1024ee6dfaef5ea 127.0.0.21:23456@33456 master,fail - 1795763600000 1795763589000 1 disconnected
9905bde5bc9a8d9d541018cddc2222bd91868840 127.0.0.25:23456@33456 master - 0 1795763605922 7 connected 0-5460
`
)

func TestParseNodes(t *testing.T) {
	lines, err := parseNodes(sampleNodes)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 6 {
		t.Fatalf("%d lines, want 6", len(lines))
	}
	want := nodeLine{id: "b5ac674156354ffabd31f0a1fa524da9be66ae58", ip: "127.0.0.23", master: true, epoch: 3, linkUp: true, slots: [][2]int{{10923, 16383}}}
	if !reflect.DeepEqual(lines[3], want) {
		t.Errorf("line 3 = %+v, want %+v", lines[3], want)
	}
	want = nodeLine{id: "743a5849c12b385e68c4ed57b1024ee6dfaef5ea", ip: "127.0.0.21", myself: true, master: true, epoch: 1, linkUp: true, slots: [][2]int{{0, 5460}}}
	if !reflect.DeepEqual(lines[4], want) {
		t.Errorf("line 4 = %+v, want %+v", lines[4], want)
	}
	if l := lines[0]; !l.replica || l.master || l.masterID != "994110654ad310c04df3e090785c1f8390f9bf3b" {
		t.Errorf("line 0 = %+v, want a replica of 9941...", l)
	}
	for _, bad := range []string{"x y z", "a 1.2.3.4:5@6 master - 0 0 notanumber connected", "a 1.2.3.4:5@6 master - 0 0 1 connected 10-5", "a 1.2.3.4:5@6 master - 0 0 1 connected 16384"} {
		if _, err := parseNodes(bad); err == nil {
			t.Errorf("parseNodes(%q): no error", bad)
		}
	}
}

func TestMergeNewestEpochWins(t *testing.T) {
	before, err := parseNodes(sampleNodes) // the old master's own stale view
	if err != nil {
		t.Fatal(err)
	}
	after, err := parseNodes(afterFailover)
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{}
	for i := range 6 {
		c.nodes = append(c.nodes, &node{index: i, ip: fmt.Sprintf("127.0.0.%d", 21+i)})
	}
	// Nodes without a process count as killed: every Leader is -1. Give
	// them all a live process but node 0 (sleep stands in for
	// redis-server: only its being alive counts here).
	for _, n := range c.nodes[1:] {
		p, err := localcluster.StartProcess(localcluster.ProcessSpec{Bin: "sleep", Args: []string{"60"}, LogFile: filepath.Join(t.TempDir(), "log")})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Signal(syscall.SIGKILL); <-p.Done() })
		n.mu.proc = &process{Process: p}
	}
	got := c.shards(merge([][]nodeLine{before, after}))
	want := []chaos.ShardInfo{
		{Slots: [][2]int{{0, 5460}}, Leader: 4},
		{Slots: [][2]int{{5461, 10922}}, Leader: 1, Replicas: []int{5}},
		{Slots: [][2]int{{10923, 16383}}, Leader: 2, Replicas: []int{3}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("shards = %+v\nwant %+v", got, want)
	}
	// Node 0 says it is the master (its own word wins for its role), but
	// node 4's newer epoch wins its slots; and with only its stale view,
	// node 0 leads shard 0 while it is down: Leader -1.
	got = c.shards(merge([][]nodeLine{before}))
	if got[0].Leader != -1 || !reflect.DeepEqual(got[0].Replicas, []int{4}) {
		t.Errorf("stale view: shard 0 = %+v, want Leader -1, Replicas [4]", got[0])
	}
}

func TestAssign(t *testing.T) {
	zone := func(i int) string { return zoneName(i) }
	for _, tc := range []struct {
		name              string
		masters, replicas []int
		per               int
		current           map[int]int
		want              map[int]int
		ok                bool
	}{
		{
			name: "redis-cli's choice kept", masters: []int{0, 1, 2}, replicas: []int{3, 4, 5}, per: 1,
			current: map[int]int{4: 0, 5: 1, 3: 2}, want: map[int]int{4: 0, 5: 1, 3: 2}, ok: true,
		},
		{
			name: "same zones moved", masters: []int{0, 1, 2}, replicas: []int{3, 4, 5}, per: 1,
			current: map[int]int{3: 0, 4: 1, 5: 2}, want: map[int]int{3: 1, 4: 2, 5: 0}, ok: true,
		},
		{
			name: "two replicas each", masters: []int{0, 1, 2}, replicas: []int{3, 4, 5, 6, 7, 8}, per: 2,
			current: map[int]int{}, ok: true, // any placement that fits

		},
		{
			name: "impossible", masters: []int{0, 3}, replicas: []int{6, 9}, per: 1,
			current: map[int]int{}, ok: false,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := assign(tc.masters, tc.replicas, tc.per, tc.current, zone)
			if ok != tc.ok || (ok && tc.want != nil && !reflect.DeepEqual(got, tc.want)) {
				t.Errorf("assign = %v, %v; want %v, %v", got, ok, tc.want, tc.ok)
			}
			load := map[int]int{}
			for r, m := range got {
				if load[m]++; load[m] > tc.per {
					t.Errorf("master %d has more than %d replicas", m, tc.per)
				}
				if zone(r) == zone(m) {
					t.Errorf("replica %d and its master %d both in %s", r, m, zone(r))
				}
			}
		})
	}
}
