package integration

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flotilla-db/flotilla/engine"
	"github.com/flotilla-db/flotilla/test/chaos"
	"github.com/flotilla-db/flotilla/test/localcluster"
)

// cutoffIP is the first address of the clusters of this file's tests:
// their own, since a partition cuts every port between the addresses it
// names.
const cutoffIP = "127.0.0.81"

// openFirewall opens the drills' iptables chain, or skips the test.
func openFirewall(t *testing.T) *chaos.Firewall {
	t.Helper()
	fw, err := chaos.OpenFirewall()
	if errors.Is(err, chaos.ErrNoFirewall) {
		t.Skipf("partitions need root and iptables (make tools installs it): %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fw.Close() })
	return fw
}

// keyOfSlot returns a key of slot.
func keyOfSlot(prefix string, slot int) string {
	for i := 0; ; i++ {
		if k := prefix + strconv.Itoa(i); int(engine.KeySlotString(k)) == slot {
			return k
		}
	}
}

// nodeIndex returns the index of the node at addr, or fails the test.
func nodeIndex(t *testing.T, c *localcluster.Cluster, addr string) int {
	t.Helper()
	for i, a := range c.Addrs() {
		if a == addr {
			return i
		}
	}
	t.Fatalf("%s is not a node of the cluster", addr)
	return -1
}

// probe is one SET sent over a plain connection to the cut-off node.
type probe struct {
	at, took time.Duration // since the cut; the reply's wait
	reply    string
}

// TestCutOffLeaderSendsClientsOn cuts a shard's leader off from the other
// nodes, both ways, while clients still reach it, as the partition-leader
// drill does. The others elect a new leader within a second; the cut-off
// node cannot hear of it. It must not hold clients for a leader it will
// not hear from: within two seconds of the cut it answers a write to that
// shard, and to a shard it followed, at once with -MOVED to another node,
// and a go-redis ClusterClient with default options whose slot map names
// it keeps writing the shard. Before the fix it held each command for a
// second and answered -CLUSTERDOWN, which go-redis retries on the same
// node: that client wrote nothing for as long as the cut lasted, and in
// the drills every client got stuck there in turn, so writes to all shards
// dropped near zero.
func TestCutOffLeaderSendsClientsOn(t *testing.T) {
	fw := openFirewall(t)
	c := startClusterWith(t, localcluster.Options{Nodes: 3, FirstIP: cutoffIP})
	ctx := ctxT(t, 2*time.Minute)
	setup := clusterClient(t, c)
	waitMastersSpread(t, ctx, setup, 3)

	leader, err := slotLeader(ctx, setup, 0)
	if err != nil {
		t.Fatal(err)
	}
	victim := nodeIndex(t, c, leader)
	// A slot of a shard the victim follows: led by the next node.
	other := c.Addr((victim + 1) % c.Len())
	followed := keyInSlotOf(ctx, t, setup, other, "followed")
	key := keyOfSlot("cutoff", 0)

	// go-redis as an application would configure it: its slot map, loaded
	// now, names the victim for slot 0.
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	defer cc.Close()
	if err := cc.Set(ctx, key, "before", 0).Err(); err != nil {
		t.Fatal(err)
	}

	var others []string
	for i := 0; i < c.Len(); i++ {
		if i != victim {
			others = append(others, c.Node(i).IP)
		}
	}
	heal, err := fw.Partition(chaos.Drop, []string{c.Node(victim).IP}, others)
	if err != nil {
		t.Fatal(err)
	}
	cut := time.Now()
	const hold = 6 * time.Second
	healed := false
	defer func() {
		if !healed {
			heal()
		}
	}()

	// The client writes slot 0 all along.
	w := startAckWriter(ctx, cc, key, cut, hold)

	// Plain connections to the victim: its own shard's slot, and a
	// followed shard's, every 100 ms.
	var own, fol []probe
	for time.Since(cut) < hold {
		for _, p := range []struct {
			key string
			out *[]probe
		}{{key, &own}, {followed, &fol}} {
			at := time.Since(cut)
			_, err := localcluster.Do(leader, 2*time.Second, "SET", p.key, "probe")
			reply := "OK"
			if err != nil {
				reply = err.Error()
			}
			*p.out = append(*p.out, probe{at: at, took: time.Since(cut) - at, reply: reply})
		}
		time.Sleep(100 * time.Millisecond)
	}
	acks, lastErr := w.wait()
	if err := heal(); err != nil {
		t.Fatal(err)
	}
	healed = true

	// From 2 s after the cut on, every write sent to the victim is sent on
	// at once to another node.
	for name, ps := range map[string][]probe{"its shard's slot": own, "a followed shard's slot": fol} {
		from := time.Duration(-1) // since when every write was sent on at once
		for _, p := range ps {
			moved := strings.HasPrefix(p.reply, "MOVED ") && !strings.HasSuffix(p.reply, " "+leader) && p.took < 300*time.Millisecond
			switch {
			case !moved:
				from = -1
			case from < 0:
				from = p.at
			}
			if p.at >= 2*time.Second && !moved {
				t.Errorf("SET in %s sent to the cut-off node %v after the cut: %q after %v; want -MOVED to another node at once",
					name, p.at.Round(time.Millisecond), p.reply, p.took.Round(time.Millisecond))
			}
		}
		t.Logf("%s: the cut-off node sent every write on at once from %v after the cut", name, from.Round(time.Millisecond))
	}
	// The ClusterClient keeps writing: its longest time without an
	// acknowledged write, from the cut to the end of the cut.
	gap := longestGap(acks, hold)
	t.Logf("go-redis: %d writes acknowledged during the %v cut, longest gap %v (last error %v)", len(acks), hold, gap.Round(time.Millisecond), lastErr)
	if gap > 3*time.Second {
		t.Errorf("go-redis ClusterClient went %v without an acknowledged write to slot 0 during the cut (last error %v); want under 3 s", gap.Round(time.Millisecond), lastErr)
	}
	if err := c.WaitReady(30 * time.Second); err != nil {
		t.Fatalf("not healthy after the cut healed: %v", err)
	}
}

// ackWriter writes one key every 20 ms from a start time for a while,
// from a go-redis cluster client, and records when its writes were
// acknowledged.
type ackWriter struct {
	wg      sync.WaitGroup
	acks    []time.Duration // since start
	lastErr error
}

func startAckWriter(ctx context.Context, cc *redis.ClusterClient, key string, start time.Time, hold time.Duration) *ackWriter {
	w := &ackWriter{}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for i := 0; time.Since(start) < hold; i++ {
			wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			err := cc.Set(wctx, key, strconv.Itoa(i), 0).Err()
			cancel()
			if err == nil {
				w.acks = append(w.acks, time.Since(start))
			} else {
				w.lastErr = err
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return w
}

// wait waits for the writer to end and returns the times of its
// acknowledged writes and its last error.
func (w *ackWriter) wait() ([]time.Duration, error) {
	w.wg.Wait()
	return w.acks, w.lastErr
}

// longestGap is the longest time without an acknowledged write, from 0 to
// end.
func longestGap(acks []time.Duration, end time.Duration) time.Duration {
	gap, prev := time.Duration(0), time.Duration(0)
	for _, a := range append(acks, end) {
		gap, prev = max(gap, a-prev), a
	}
	return gap
}
