package cluster

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/flotilla-db/flotilla/shard"
)

func TestParseSlotRanges(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    []SlotRange
		wantErr string
	}{
		{in: "0", want: []SlotRange{{0, 0}}},
		{in: "0-16383", want: []SlotRange{{0, 16383}}},
		{in: "0-99,200,300-310", want: []SlotRange{{0, 99}, {200, 200}, {300, 310}}},
		{in: "300-310,0-99,200", want: []SlotRange{{0, 99}, {200, 200}, {300, 310}}},
		{in: "5-5", want: []SlotRange{{5, 5}}},
		// Overlapping and adjacent ranges merge.
		{in: "0-99,50-150", want: []SlotRange{{0, 150}}},
		{in: "0-99,100,101-120", want: []SlotRange{{0, 120}}},
		{in: "10,10,10", want: []SlotRange{{10, 10}}},
		{in: "0-100,20-30", want: []SlotRange{{0, 100}}},
		{in: "007", want: []SlotRange{{7, 7}}},
		{in: "", wantErr: "no slot ranges given"},
		{in: ",", wantErr: "invalid slot range ''"},
		{in: "1,", wantErr: "invalid slot range ''"},
		{in: "1,,2", wantErr: "invalid slot range ''"},
		{in: "x", wantErr: "invalid slot range 'x'"},
		{in: "-5", wantErr: "invalid slot range '-5'"},
		{in: "5-", wantErr: "invalid slot range '5-'"},
		{in: "1-2-3", wantErr: "invalid slot range '1-2-3'"},
		{in: " 1", wantErr: "invalid slot range ' 1'"},
		{in: "+1", wantErr: "invalid slot range '+1'"},
		{in: "1.5", wantErr: "invalid slot range '1.5'"},
		{in: "16384", wantErr: "slot 16384 is out of range (0-16383)"},
		{in: "0-16384", wantErr: "slot 16384 is out of range (0-16383)"},
		{in: "99999999999", wantErr: "invalid slot range '99999999999'"},
		{in: "10-5", wantErr: "invalid slot range '10-5': 10 is after 5"},
	} {
		got, err := parseSlotRanges(tc.in)
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("parseSlotRanges(%q) = %v, %v; want error %q", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseSlotRanges(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseGossipAddr(t *testing.T) {
	for _, tc := range []struct {
		in, want, wantErr string
	}{
		{in: "10.0.0.5:7946", want: "10.0.0.5:7946"},
		{in: "10.0.0.5", want: "10.0.0.5:7000"},
		{in: "node-4.example:8000", want: "node-4.example:8000"},
		{in: "node-4", want: "node-4:7000"},
		{in: "[::1]:7946", want: "[::1]:7946"},
		{in: "::1", want: "[::1]:7000"},
		{in: "10.0.0.5:", wantErr: "invalid port in '10.0.0.5:'"},
		{in: "10.0.0.5:0", wantErr: "invalid port in '10.0.0.5:0'"},
		{in: "10.0.0.5:65536", wantErr: "invalid port in '10.0.0.5:65536'"},
		{in: "10.0.0.5:x", wantErr: "invalid port in '10.0.0.5:x'"},
		{in: ":7946", wantErr: "invalid address ':7946', want host:gossip-port"},
		{in: "", wantErr: "invalid address '', want host:gossip-port"},
		{in: "a b:1", wantErr: "invalid address 'a b:1', want host:gossip-port"},
	} {
		got, err := parseGossipAddr(tc.in, "7000")
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("parseGossipAddr(%q) = %q, %v; want error %q", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("parseGossipAddr(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// TestFlotillaCommands drives the FLOTILLA family on a one-node cluster:
// STATUS and MOVES in full, FAILOVER where one node can, and the argument
// checks of the operations implemented elsewhere (slot moves, membership).
func TestFlotillaCommands(t *testing.T) {
	s := startClusterNode(t)
	r := dialRaw(t, s)
	id := s.nodeID
	for i := 0; i < 10; i++ {
		r.do("SET", "k"+strconv.Itoa(i), "v")
	}

	raw := r.do("FLOTILLA", "STATUS")
	unq, err := strconv.Unquote(raw)
	if err != nil {
		t.Fatalf("FLOTILLA STATUS = %s", raw)
	}
	var st FlotillaStatus
	if err := json.Unmarshal([]byte(unq), &st); err != nil {
		t.Fatalf("FLOTILLA STATUS: %v\n%s", err, unq)
	}
	// The epoch is the node's: 1 when the cluster formed, more once the
	// controller's placement committed its first steps.
	epoch := s.node.route.Load().topo.Epoch
	if st.Node != id || st.Addr != s.node.self.Addr || st.Epoch < 1 || st.Epoch > epoch || st.Controller != id {
		t.Errorf("FLOTILLA STATUS: node %s addr %s epoch %d controller %s; want %s %s 1..%d %s",
			st.Node, st.Addr, st.Epoch, st.Controller, id, s.node.self.Addr, epoch, id)
	}
	if len(st.Nodes) != 1 || len(st.Shards) != 1 || len(st.Replicas) != 1 {
		t.Fatalf("FLOTILLA STATUS: %d nodes, %d shards, %d replicas; want 1 each\n%s", len(st.Nodes), len(st.Shards), len(st.Replicas), unq)
	}
	wantNode := NodeStatus{ID: id, Zone: "default", Addr: s.node.self.Addr, Gossip: s.node.self.Gossip,
		State: "alive", Alive: true, ConfigVoter: true, Shards: []shard.ID{1}, Leads: []shard.ID{1}}
	if !reflect.DeepEqual(st.Nodes[0], wantNode) {
		t.Errorf("FLOTILLA STATUS node = %+v, want %+v", st.Nodes[0], wantNode)
	}
	wantShard := ShardStatus{ID: 1, Slots: []SlotRange{{0, 16383}}, Replicas: []string{id}, Leader: id}
	if !reflect.DeepEqual(st.Shards[0], wantShard) {
		t.Errorf("FLOTILLA STATUS shard = %+v, want %+v", st.Shards[0], wantShard)
	}
	rep := st.Replicas[0]
	if rep.Shard != 1 || rep.Role != "leader" || rep.RaftState != "leader" || rep.Term == 0 ||
		rep.AppliedIndex == 0 || rep.CommitIndex < rep.AppliedIndex || rep.LastIndex < rep.CommitIndex ||
		rep.LastContactMs != 0 || rep.Keys != 10 || rep.Lag != 0 {
		t.Errorf("FLOTILLA STATUS replica = %+v", rep)
	}
	if got := r.do("FLOTILLA", "MOVES"); got != `"[]"` {
		t.Errorf("FLOTILLA MOVES = %s, want \"[]\"", got)
	}

	runCases(t, r, []cmdCase{
		// FAILOVER
		{[]string{"FLOTILLA", "FAILOVER", "1", id}, "+OK"},
		{[]string{"FLOTILLA", "FAILOVER", "x"}, "-ERR invalid shard id 'x'"},
		{[]string{"FLOTILLA", "FAILOVER", "0"}, "-ERR invalid shard id '0'"},
		{[]string{"FLOTILLA", "FAILOVER", "-1"}, "-ERR invalid shard id '-1'"},
		{[]string{"FLOTILLA", "FAILOVER", "4294967296"}, "-ERR invalid shard id '4294967296'"},
		{[]string{"FLOTILLA", "FAILOVER", "7"}, "-ERR unknown shard 7"},
		{[]string{"FLOTILLA", "FAILOVER", "1", "nosuch"}, "-ERR unknown node nosuch"},
		{[]string{"FLOTILLA", "FAILOVER", "1"}, "-ERR no other replica of shard 1 answers"},
		{[]string{"FLOTILLA", "FAILOVER", "1", id, "x"}, "-ERR unknown subcommand or wrong number of arguments for 'FAILOVER'. Try FLOTILLA HELP."},
		{[]string{"FLOTILLA", "FAILOVER"}, "-ERR wrong number of arguments for 'flotilla|failover' command"},
		// SLOTS MOVE: the arguments (the move itself is another branch's)
		{[]string{"FLOTILLA", "SLOTS", "MOVE", "0-99,x", "1"}, "-ERR invalid slot range 'x'"},
		{[]string{"FLOTILLA", "SLOTS", "MOVE", "16384", "1"}, "-ERR slot 16384 is out of range (0-16383)"},
		{[]string{"FLOTILLA", "SLOTS", "MOVE", "9-1", "1"}, "-ERR invalid slot range '9-1': 9 is after 1"},
		{[]string{"FLOTILLA", "SLOTS", "MOVE", "", "1"}, "-ERR no slot ranges given"},
		{[]string{"FLOTILLA", "SLOTS", "MOVE", "0-99", "y"}, "-ERR invalid shard id 'y'"},
		{[]string{"FLOTILLA", "SLOTS", "MOVE", "0-99", "9"}, "-ERR unknown shard 9"},
		{[]string{"FLOTILLA", "SLOTS", "COPY", "0-99", "1"}, "-ERR syntax error, try FLOTILLA SLOTS MOVE <ranges> <shard-id>"},
		{[]string{"FLOTILLA", "SLOTS", "MOVE", "0-99"}, "-ERR wrong number of arguments for 'flotilla|slots' command"},
		{[]string{"FLOTILLA", "SLOTS", "MOVE", "0-99", "1", "x"}, "-ERR wrong number of arguments for 'flotilla|slots' command"},
		// NODE ADD / REMOVE: the arguments
		{[]string{"FLOTILLA", "NODE", "ADD", "10.0.0.9:99999"}, "-ERR invalid port in '10.0.0.9:99999'"},
		{[]string{"FLOTILLA", "NODE", "ADD", ":7946"}, "-ERR invalid address ':7946', want host:gossip-port"},
		{[]string{"FLOTILLA", "NODE", "REMOVE", "nosuch"}, "-ERR unknown node nosuch"},
		{[]string{"FLOTILLA", "NODE", "JOIN", "x"}, "-ERR syntax error, try FLOTILLA NODE ADD <host:gossip-port> or FLOTILLA NODE REMOVE <node-id>"},
		{[]string{"FLOTILLA", "NODE", "ADD"}, "-ERR wrong number of arguments for 'flotilla|node' command"},
		// REBALANCE, MOVES, STATUS take no arguments.
		{[]string{"FLOTILLA", "REBALANCE", "now"}, "-ERR wrong number of arguments for 'flotilla|rebalance' command"},
		{[]string{"FLOTILLA", "MOVES", "x"}, "-ERR wrong number of arguments for 'flotilla|moves' command"},
		{[]string{"FLOTILLA", "STATUS", "x"}, "-ERR wrong number of arguments for 'flotilla|status' command"},
		{[]string{"FLOTILLA", "NOSUCH"}, "-ERR unknown subcommand 'NOSUCH'. Try FLOTILLA HELP."},
		{[]string{"FLOTILLA"}, "-ERR wrong number of arguments for 'flotilla' command"},
		// Not inside a transaction.
		{[]string{"MULTI"}, "+OK"},
		{[]string{"FLOTILLA", "STATUS"}, "-ERR Command not allowed inside a transaction"},
		{[]string{"DISCARD"}, "+OK"},
	})

	help := helpLines(t, r.do("FLOTILLA", "HELP"))
	if help[0] != "FLOTILLA <subcommand> [<arg> [value] [opt] ...]. Subcommands are:" || help[len(help)-1] != "    Prints this help." {
		t.Errorf("FLOTILLA HELP = %q", help)
	}
	// The command table says what they are.
	info := r.do("COMMAND", "INFO", "flotilla|failover")
	if !strings.Contains(info, `~[+admin +noscript +no_multi]`) && !strings.Contains(info, `[+admin +noscript +no_multi]`) {
		t.Errorf("COMMAND INFO flotilla|failover = %s", info)
	}
	if docs := r.do("COMMAND", "DOCS", "flotilla"); !strings.Contains(docs, `"flotilla|slots"`) || !strings.Contains(docs, `"MOVE"`) {
		t.Errorf("COMMAND DOCS flotilla = %s", docs)
	}
}

func TestFlotillaStandalone(t *testing.T) {
	s := startServer(t)
	r := dialRaw(t, s)
	runCases(t, r, []cmdCase{
		{[]string{"FLOTILLA", "STATUS"}, "-ERR This instance has cluster support disabled"},
		{[]string{"FLOTILLA", "FAILOVER", "1"}, "-ERR This instance has cluster support disabled"},
		{[]string{"FLOTILLA", "MOVES"}, "-ERR This instance has cluster support disabled"},
	})
}
