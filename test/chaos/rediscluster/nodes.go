package rediscluster

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Slots is the number of hash slots of a Redis Cluster.
const Slots = 16384

// nodeLine is one line of CLUSTER NODES: what the answering node believes
// about one node of the cluster.
type nodeLine struct {
	id       string
	ip       string
	myself   bool // the line is about the answering node itself
	master   bool
	replica  bool
	fail     bool // fail or fail? (pfail)
	masterID string
	epoch    uint64 // the config epoch
	linkUp   bool   // link-state connected
	slots    [][2]int
}

// parseNodes parses a CLUSTER NODES reply:
//
//	<id> <ip:port@cport[,hostname]> <flags> <master> <ping-sent> <pong-recv> <config-epoch> <link-state> <slot> ...
//
// Slots being imported or migrated ("[42->-id]") are left out: they belong
// to the node that serves them now.
func parseNodes(text string) ([]nodeLine, error) {
	var out []nodeLine
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			return nil, fmt.Errorf("rediscluster: bad CLUSTER NODES line %q", line)
		}
		l := nodeLine{id: f[0], linkUp: f[7] == "connected"}
		hostport, _, _ := strings.Cut(f[1], "@")
		if host, _, err := net.SplitHostPort(hostport); err == nil {
			l.ip = host
		}
		for _, flag := range strings.Split(f[2], ",") {
			switch flag {
			case "myself":
				l.myself = true
			case "master":
				l.master = true
			case "slave":
				l.replica = true
			case "fail", "fail?":
				l.fail = true
			}
		}
		if f[3] != "-" {
			l.masterID = f[3]
		}
		epoch, err := strconv.ParseUint(f[6], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("rediscluster: bad config epoch in CLUSTER NODES line %q", line)
		}
		l.epoch = epoch
		for _, s := range f[8:] {
			if strings.HasPrefix(s, "[") {
				continue
			}
			lo, hi, isRange := strings.Cut(s, "-")
			if !isRange {
				hi = lo
			}
			a, err1 := strconv.Atoi(lo)
			b, err2 := strconv.Atoi(hi)
			if err1 != nil || err2 != nil || a < 0 || b < a || b >= Slots {
				return nil, fmt.Errorf("rediscluster: bad slot range %q in CLUSTER NODES line %q", s, line)
			}
			l.slots = append(l.slots, [2]int{a, b})
		}
		out = append(out, l)
	}
	return out, nil
}

// owners maps each slot to the id of the master that lines say serves it
// ("" for none), as one node sees it.
func owners(lines []nodeLine) *[Slots]string {
	var o [Slots]string
	for _, l := range lines {
		if !l.master {
			continue
		}
		for _, r := range l.slots {
			for s := r[0]; s <= r[1]; s++ {
				o[s] = l.id
			}
		}
	}
	return &o
}

// topology is the cluster as several nodes' views combine: each node as it
// describes itself when it answered, or else as the view that knows the
// newest config epoch for it; each slot with the master of the newest
// config epoch that claims it, as Redis Cluster itself settles conflicts.
type topology struct {
	nodes map[string]nodeLine // by node id
	owner [Slots]string       // node id, "" for none
}

func merge(views [][]nodeLine) *topology {
	t := &topology{nodes: map[string]nodeLine{}}
	self := map[string]bool{}
	for _, v := range views {
		for _, l := range v {
			old, seen := t.nodes[l.id]
			switch {
			case self[l.id]:
			case l.myself:
				t.nodes[l.id], self[l.id] = l, true
			case !seen || l.epoch > old.epoch:
				t.nodes[l.id] = l
			}
		}
	}
	var epoch [Slots]uint64
	for _, v := range views {
		for _, l := range v {
			if !l.master {
				continue
			}
			for _, r := range l.slots {
				for s := r[0]; s <= r[1]; s++ {
					if t.owner[s] == "" || l.epoch > epoch[s] {
						t.owner[s], epoch[s] = l.id, l.epoch
					}
				}
			}
		}
	}
	return t
}

// ranges returns the slot ranges each master owns, and the masters in the
// order of their first slot.
func (t *topology) ranges() (map[string][][2]int, []string) {
	out := map[string][][2]int{}
	var order []string
	for s := 0; s < Slots; {
		id := t.owner[s]
		e := s
		for e+1 < Slots && t.owner[e+1] == id {
			e++
		}
		if id != "" {
			if _, ok := out[id]; !ok {
				order = append(order, id)
			}
			out[id] = append(out[id], [2]int{s, e})
		}
		s = e + 1
	}
	return out, order
}
