package cluster

import (
	"testing"

	hraft "github.com/hashicorp/raft"
)

func servers(voters []string, nonvoters ...string) []hraft.Server {
	var out []hraft.Server
	for _, v := range voters {
		out = append(out, hraft.Server{ID: hraft.ServerID(v), Suffrage: hraft.Voter})
	}
	for _, v := range nonvoters {
		out = append(out, hraft.Server{ID: hraft.ServerID(v), Suffrage: hraft.Nonvoter})
	}
	return out
}

func set(ids ...string) map[string]bool {
	m := map[string]bool{}
	for _, id := range ids {
		m[id] = true
	}
	return m
}

// TestNextGroupChange walks the membership changes of one group through
// the cases that matter for safety: a replica replaced (added as a
// non-voter, promoted once caught up, only then the old one removed), a
// dead voter removed first, a leader leaving hands over first, and no
// change that leaves the voters without a live quorum.
func TestNextGroupChange(t *testing.T) {
	tests := []struct {
		name      string
		servers   []hraft.Server
		voters    []string
		nonvoters []string
		self      string
		alive     map[string]bool
		caughtUp  map[string]bool
		want      groupChange
		wantNone  bool
	}{
		{
			name:    "a new replica joins as a non-voter",
			servers: servers([]string{"a", "b", "c"}), voters: []string{"a", "b", "d"}, self: "a",
			alive: set("a", "b", "c", "d"), want: groupChange{opAddNonvoter, "d"},
		},
		{
			name:    "not promoted before it caught up, and the old one stays",
			servers: servers([]string{"a", "b", "c"}, "d"), voters: []string{"a", "b", "d"}, self: "a",
			alive: set("a", "b", "c", "d"), wantNone: true,
		},
		{
			name:    "promoted once caught up",
			servers: servers([]string{"a", "b", "c"}, "d"), voters: []string{"a", "b", "d"}, self: "a",
			alive: set("a", "b", "c", "d"), caughtUp: set("d"), want: groupChange{opPromote, "d"},
		},
		{
			name:    "then the old one is removed",
			servers: servers([]string{"a", "b", "c", "d"}), voters: []string{"a", "b", "d"}, self: "a",
			alive: set("a", "b", "c", "d"), want: groupChange{opRemove, "c"},
		},
		{
			name:    "a dead voter is removed before its replacement caught up",
			servers: servers([]string{"a", "b", "c"}, "d"), voters: []string{"a", "b", "d"}, self: "a",
			alive: set("a", "b", "d"), want: groupChange{opRemove, "c"},
		},
		{
			name:    "no removal without a live quorum after it",
			servers: servers([]string{"a", "b", "c"}), voters: []string{"a", "c"}, self: "a",
			alive: set("a", "b"), wantNone: true,
		},
		{
			name:    "no promotion that needs a dead node for the quorum",
			servers: servers([]string{"a", "b", "c"}, "d"), voters: []string{"a", "b", "c", "d"}, self: "a",
			alive: set("a", "d"), caughtUp: set("d"), wantNone: true,
		},
		{
			name:    "a leaving leader hands over to a caught-up voter first",
			servers: servers([]string{"a", "b", "c", "d"}), voters: []string{"b", "c", "d"}, self: "a",
			alive: set("a", "b", "c", "d"), caughtUp: set("c"), want: groupChange{opTransfer, "c"},
		},
		{
			name:    "a leaving leader with no caught-up successor stays",
			servers: servers([]string{"a", "b", "c", "d"}), voters: []string{"b", "c", "d"}, self: "a",
			alive: set("a", "b", "c", "d"), wantNone: true,
		},
		{
			name:    "a voter to follow is demoted, not removed",
			servers: servers([]string{"a", "b", "c", "d"}), voters: []string{"a", "b", "c"}, nonvoters: []string{"d"}, self: "a",
			alive: set("a", "b", "c", "d"), want: groupChange{opDemote, "d"},
		},
		{
			name:    "a non-voter no longer a member is removed",
			servers: servers([]string{"a", "b", "c"}, "d"), voters: []string{"a", "b", "c"}, self: "a",
			alive: set("a", "b", "c"), want: groupChange{opRemove, "d"},
		},
		{
			name:    "nothing to do",
			servers: servers([]string{"a", "b", "c"}, "d"), voters: []string{"a", "b", "c"}, nonvoters: []string{"d"}, self: "a",
			alive: set("a", "b", "c", "d"), wantNone: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := nextGroupChange(tt.servers, tt.voters, tt.nonvoters, tt.self, tt.alive, func(id string) bool { return tt.caughtUp[id] })
			if tt.wantNone {
				if ok {
					t.Fatalf("got %v, want no change", got)
				}
				return
			}
			if !ok || got != tt.want {
				t.Fatalf("got %v (%v), want %v", got, ok, tt.want)
			}
		})
	}
}
