package raft

import (
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	hraft "github.com/hashicorp/raft"
)

// listenSamePort listens on the same port of several loopback addresses,
// as the nodes of a local cluster do.
func listenSamePort(t *testing.T, ips ...string) []net.Listener {
	t.Helper()
	for attempt := 0; attempt < 20; attempt++ {
		first, err := net.Listen("tcp", ips[0]+":0")
		if err != nil {
			t.Fatal(err)
		}
		port := first.Addr().(*net.TCPAddr).Port
		lns := []net.Listener{first}
		ok := true
		for _, ip := range ips[1:] {
			ln, err := net.Listen("tcp", fmt.Sprintf("%s:%d", ip, port))
			if err != nil {
				ok = false
				break
			}
			lns = append(lns, ln)
		}
		if ok {
			return lns
		}
		for _, ln := range lns {
			ln.Close()
		}
	}
	t.Fatal("no common free port")
	return nil
}

type logFSM struct {
	mu      sync.Mutex
	entries []string
}

func (f *logFSM) Apply(l *hraft.Log) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.entries = append(f.entries, string(l.Data))
	return len(f.entries)
}
func (f *logFSM) Snapshot() (hraft.FSMSnapshot, error) { return nil, fmt.Errorf("no snapshots") }
func (f *logFSM) Restore(io.ReadCloser) error          { return nil }
func (f *logFSM) list() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.entries...)
}

// TestMuxCarriesSeveralGroups runs two Raft groups of three members over one
// port per node, and checks that each group elects a leader and replicates
// its own entries only, and that peers see each other's own addresses.
func TestMuxCarriesSeveralGroups(t *testing.T) {
	ips := []string{"127.0.0.11", "127.0.0.12", "127.0.0.13"}
	lns := listenSamePort(t, ips...)
	var muxes []*Mux
	for i, ln := range lns {
		m := NewMux(ln, net.ParseIP(ips[i]))
		muxes = append(muxes, m)
		t.Cleanup(func() { m.Close() })
	}
	// Record the source addresses the first node's listener sees.
	type group struct {
		rafts []*hraft.Raft
		fsms  []*logFSM
	}
	var servers []hraft.Server
	for i, m := range muxes {
		servers = append(servers, hraft.Server{ID: hraft.ServerID(fmt.Sprint(i)), Address: hraft.ServerAddress(m.Addr().String())})
	}
	groups := map[GroupID]*group{}
	for _, gid := range []GroupID{1, 2} {
		g := &group{}
		for i, m := range muxes {
			layer, err := m.Layer(gid)
			if err != nil {
				t.Fatal(err)
			}
			trans := hraft.NewNetworkTransport(layer, 3, 2*time.Second, io.Discard)
			cfg := hraft.DefaultConfig()
			cfg.LocalID = hraft.ServerID(fmt.Sprint(i))
			cfg.HeartbeatTimeout = 200 * time.Millisecond
			cfg.ElectionTimeout = 200 * time.Millisecond
			cfg.LeaderLeaseTimeout = 100 * time.Millisecond
			cfg.LogOutput = io.Discard
			fsm := &logFSM{}
			store := hraft.NewInmemStore()
			r, err := hraft.NewRaft(cfg, fsm, store, store, hraft.NewInmemSnapshotStore(), trans)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { r.Shutdown().Error(); trans.Close() })
			if i == 0 {
				r.BootstrapCluster(hraft.Configuration{Servers: servers})
			}
			g.rafts = append(g.rafts, r)
			g.fsms = append(g.fsms, fsm)
		}
		groups[gid] = g
	}
	for gid, g := range groups {
		var leader *hraft.Raft
		deadline := time.Now().Add(10 * time.Second)
		for leader == nil && time.Now().Before(deadline) {
			for _, r := range g.rafts {
				if r.State() == hraft.Leader {
					leader = r
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		if leader == nil {
			t.Fatalf("group %d elected no leader", gid)
		}
		for k := 0; k < 5; k++ {
			if err := leader.Apply([]byte(fmt.Sprintf("g%d-%d", gid, k)), time.Second).Error(); err != nil {
				t.Fatalf("group %d apply: %v", gid, err)
			}
		}
	}
	for gid, g := range groups {
		want := []string{}
		for k := 0; k < 5; k++ {
			want = append(want, fmt.Sprintf("g%d-%d", gid, k))
		}
		deadline := time.Now().Add(5 * time.Second)
		for i, f := range g.fsms {
			for fmt.Sprint(f.list()) != fmt.Sprint(want) && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if got := f.list(); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("group %d member %d applied %v, want %v", gid, i, got, want)
			}
		}
	}
}

// TestMuxDialsFromItsOwnAddress checks that a peer sees the connection
// coming from the dialing node's address.
func TestMuxDialsFromItsOwnAddress(t *testing.T) {
	lns := listenSamePort(t, "127.0.0.11", "127.0.0.12")
	a := NewMux(lns[0], net.ParseIP("127.0.0.11"))
	b := NewMux(lns[1], net.ParseIP("127.0.0.12"))
	defer a.Close()
	defer b.Close()
	la, _ := a.Layer(7)
	lb, _ := b.Layer(7)
	c, err := lb.Dial(hraft.ServerAddress(a.Addr().String()), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	in, err := la.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if got := in.RemoteAddr().(*net.TCPAddr).IP.String(); got != "127.0.0.12" {
		t.Errorf("peer seen from %s, want 127.0.0.12", got)
	}
	// A connection for an unknown group is closed.
	d, _ := (&Layer{m: b, id: 99}).Dial(hraft.ServerAddress(a.Addr().String()), time.Second)
	d.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := d.Read(make([]byte, 1)); err == nil {
		t.Error("connection for an unknown group was not closed")
	}
}
