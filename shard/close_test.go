package shard_test

import (
	"net"
	"sync"
	"testing"
	"time"

	hraft "github.com/hashicorp/raft"

	"github.com/flotilla-db/flotilla/raft"
	"github.com/flotilla-db/flotilla/shard"
)

// TestCloseWhileProposing: Close returns while proposals and read
// confirmations race with it.
// hashicorp/raft never answers an Apply future left in its (buffered)
// apply channel at shutdown (hashicorp/raft#498), so Close must not wait
// for it.
func TestCloseWhileProposing(t *testing.T) {
	for round := 0; round < 10; round++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		m := raft.NewMux(ln, nil)
		srv := []hraft.Server{{ID: "n1", Address: hraft.ServerAddress(m.Addr().String())}}
		r := shard.NewReplica(1, 1)
		g, err := raft.OpenGroup(raft.GroupConfig{
			ID: 1, Dir: t.TempDir(), LocalID: "n1", Mux: m, FSM: r.FSM, Bootstrap: srv,
			Timing: raft.Timing{Heartbeat: heartbeat, Election: heartbeat, LeaderLease: heartbeat * 4 / 5, Commit: 50 * time.Millisecond},
		})
		if err != nil {
			t.Fatal(err)
		}
		r.Start(g)
		leaderOf(t, []*shard.Replica{r}, 10*time.Second)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					if w%2 == 0 {
						r.Propose(&raft.Entry{Type: raft.EntryCommands, Cmds: [][][]byte{{[]byte("SET"), []byte("k"), []byte("v")}}})
					} else {
						// Read confirmations start rounds counted in the
						// same WaitGroup Close waits on.
						r.ConfirmRead()
					}
				}
			}()
		}
		time.Sleep(20 * time.Millisecond)
		done := make(chan struct{})
		go func() { r.Close(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: Close did not return within 10s while proposals raced with it", round)
		}
		close(stop)
		wg.Wait()
		m.Close()
	}
}
