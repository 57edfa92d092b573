package cluster

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flotilla-db/flotilla/engine"
	"github.com/flotilla-db/flotilla/shard"
	"github.com/flotilla-db/flotilla/test/localcluster"
)

// startServer starts a node on a free loopback port with the given
// directives ("name", "value", ...) and stops it when the test ends.
func startServer(t testing.TB, directives ...string) *Server {
	t.Helper()
	args := []string{"--port", "0", "--bind", "127.0.0.1", "--cluster-enabled", "no"}
	for i := 0; i+1 < len(directives); i += 2 {
		args = append(args, "--"+directives[i], directives[i+1])
	}
	cfg, err := Load(args)
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(cfg, nil)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// client returns a go-redis client of s, closed when the test ends.
func client(t testing.TB, s *Server, opts ...func(*redis.Options)) *redis.Client {
	t.Helper()
	o := &redis.Options{Addr: s.Addr(), Protocol: 2, MaxRetries: -1}
	for _, f := range opts {
		f(o)
	}
	c := redis.NewClient(o)
	t.Cleanup(func() { c.Close() })
	return c
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// rawConn is a plain RESP connection, for byte-exact checks.
type rawConn struct {
	t  testing.TB
	nc net.Conn
	rd *respReader
}

func dialRaw(t testing.TB, s *Server) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawConn{t: t, nc: nc, rd: newRespReader(nc)}
}

// do sends a command and returns its reply rendered as text.
func (r *rawConn) do(args ...string) string {
	r.t.Helper()
	r.send(args...)
	return r.read()
}

func (r *rawConn) send(args ...string) {
	r.t.Helper()
	b := []byte("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		b = append(b, "$"+strconv.Itoa(len(a))+"\r\n"+a+"\r\n"...)
	}
	if _, err := r.nc.Write(b); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rawConn) read() string {
	r.t.Helper()
	r.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	v, err := r.rd.readText()
	if err != nil {
		r.t.Fatal(err)
	}
	return v
}

// startClusterNode starts a one-node cluster (cluster-enabled yes,
// bootstrap-expect 1: the embedded default) on free ports, with its data
// in a temporary directory, and waits until it serves every slot.
func startClusterNode(t testing.TB, directives ...string) *Server {
	t.Helper()
	s := startServer(t, append(clusterNodeDirectives(t), directives...)...)
	waitClusterOK(t, s)
	return s
}

// clusterNodeDirectives are the directives of a cluster node on free
// ports of 127.0.0.1 (RESP, and RESP+10000 for Raft; gossip), with its
// data in a temporary directory and no metrics endpoint.
func clusterNodeDirectives(t testing.TB) []string {
	t.Helper()
	ips := []string{"127.0.0.1"}
	port, err := localcluster.FreePort(ips, 10000)
	if err != nil {
		t.Fatal(err)
	}
	gossip, err := localcluster.FreePort(ips)
	if err != nil {
		t.Fatal(err)
	}
	return []string{"cluster-enabled", "yes", "port", strconv.Itoa(port), "dir", t.TempDir(),
		"gossip-port", strconv.Itoa(gossip), "metrics-port", "0"}
}

// waitClusterOK waits until the node reports cluster_state:ok.
func waitClusterOK(t testing.TB, s *Server) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		info, _ := c.ClusterInfo(context.Background()).Result()
		if strings.Contains(info, "cluster_state:ok") {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the cluster did not become ready")
}

// TestRandomReadsAreRandom: on a cluster node, where reads of a shard run
// outside its log, SRANDMEMBER, HRANDFIELD, ZRANDMEMBER and RANDOMKEY pick
// at random as in Redis (with the fixed seed of a replicated command they
// answered the same member every time).
func TestRandomReadsAreRandom(t *testing.T) {
	s := startClusterNode(t)
	r := redis.NewClient(&redis.Options{Addr: s.Addr()})
	defer r.Close()
	ctx := context.Background()
	var members []any
	for i := range 16 {
		members = append(members, fmt.Sprintf("m%d", i))
	}
	if err := r.SAdd(ctx, "{r}s", members...).Err(); err != nil {
		t.Fatal(err)
	}
	for i := range 16 {
		r.HSet(ctx, "{r}h", fmt.Sprintf("f%d", i), i)
		r.ZAdd(ctx, "{r}z", redis.Z{Score: float64(i), Member: fmt.Sprintf("z%d", i)})
		r.Set(ctx, fmt.Sprintf("k%d", i), i, 0)
	}
	for name, read := range map[string]func() string{
		"SRANDMEMBER": func() string { return r.SRandMember(ctx, "{r}s").Val() },
		"HRANDFIELD":  func() string { return strings.Join(r.HRandField(ctx, "{r}h", 1).Val(), "") },
		"ZRANDMEMBER": func() string { return strings.Join(r.ZRandMember(ctx, "{r}z", 1).Val(), "") },
		"RANDOMKEY":   func() string { return r.RandomKey(ctx).Val() },
	} {
		seen := map[string]bool{}
		for range 40 {
			seen[read()] = true
		}
		// 40 draws of 16 or more: a single answer means no randomness.
		if len(seen) < 4 {
			t.Errorf("%s gave %d distinct answers in 40 calls: %v", name, len(seen), seen)
		}
	}
}

// TestRandomKeyOverShards: on a node leading two shards, RANDOMKEY picks
// the keys of both about as often as their share of the keys. It used to
// ask the shards in order and take the first key: always the first
// shard's while that one had any.
func TestRandomKeyOverShards(t *testing.T) {
	s := startClusterNode(t, "cluster-shards", "2")
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{s.Addr()}})
	defer cc.Close()
	ctx := context.Background()
	rt := s.node.route.Load()
	const keys = 200
	for i := range keys {
		if err := cc.Set(ctx, fmt.Sprintf("rk%d", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	shardOf := func(key string) shard.ID { return rt.owners[engine.KeySlotString(key)] }
	var want [3]int
	for i := range keys {
		want[shardOf(fmt.Sprintf("rk%d", i))]++
	}
	r := redis.NewClient(&redis.Options{Addr: s.Addr()})
	defer r.Close()
	var got [3]int
	const draws = 400
	for range draws {
		k, err := r.RandomKey(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		got[shardOf(k)]++
	}
	// Each shard holds about half the keys; with 400 draws a share under
	// a quarter is far outside chance (binomial, sd 10 draws).
	for id := shard.ID(1); id <= 2; id++ {
		if want[id] == 0 {
			t.Fatalf("shard %d holds none of the keys", id)
		}
		if expect := draws * want[id] / keys; got[id] < expect/2 {
			t.Errorf("shard %d (%d of %d keys) answered %d of %d RANDOMKEY calls, expected about %d", id, want[id], keys, got[id], draws, expect)
		}
	}
	t.Logf("RANDOMKEY per shard: %d and %d of %d (keys %d and %d)", got[1], got[2], draws, want[1], want[2])
}
