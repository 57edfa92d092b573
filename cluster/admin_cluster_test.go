package cluster

import (
	"context"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestClusterCommands(t *testing.T) {
	s := startServer(t)
	r := dialRaw(t, s)
	id, port := s.nodeID, strconv.Itoa(s.Port())
	if !matchRe(t, `[0-9a-f]{40}`, id) {
		t.Fatalf("node id %q", id)
	}
	r.do("SET", "foo", "bar")
	r.do("SET", "{foo}x", "bar")
	runCases(t, r, []cmdCase{
		{[]string{"CLUSTER", "INFO"}, `"cluster_state:ok\r\ncluster_slots_assigned:16384\r\ncluster_slots_ok:16384\r\ncluster_slots_pfail:0\r\ncluster_slots_fail:0\r\ncluster_known_nodes:1\r\ncluster_size:1\r\ncluster_current_epoch:1\r\ncluster_my_epoch:1\r\ncluster_stats_messages_sent:0\r\ncluster_stats_messages_received:0\r\ntotal_cluster_links_buffer_limit_exceeded:0\r\n"`},
		{[]string{"CLUSTER", "MYID"}, `"` + id + `"`},
		{[]string{"CLUSTER", "MYSHARDID"}, `"` + s.shardID() + `"`},
		{[]string{"CLUSTER", "SLOTS"}, `[[:0 :16383 ["127.0.0.1" :` + port + ` "` + id + `" []]]]`},
		{[]string{"CLUSTER", "SHARDS"}, `[["slots" [:0 :16383] "nodes" [["id" "` + id + `" "port" :` + port + ` "ip" "127.0.0.1" "endpoint" "127.0.0.1" "role" "master" "replication-offset" :0 "health" "online"]]]]`},
		{[]string{"CLUSTER", "NODES"}, `"` + id + ` 127.0.0.1:` + port + `@` + strconv.Itoa(busPort(s.Port())) + ` myself,master - 0 0 1 connected 0-16383\n"`},
		{[]string{"CLUSTER", "KEYSLOT", "foo"}, ":12182"},
		{[]string{"CLUSTER", "KEYSLOT", "{foo}x"}, ":12182"},
		{[]string{"CLUSTER", "KEYSLOT", "{}foo"}, ":" + strconv.Itoa(int(crc16XModem("{}foo")%16384))},
		{[]string{"CLUSTER", "COUNTKEYSINSLOT", "12182"}, ":2"},
		{[]string{"CLUSTER", "COUNTKEYSINSLOT", "0"}, ":0"},
		{[]string{"CLUSTER", "COUNTKEYSINSLOT", "-1"}, "-ERR Invalid slot"},
		{[]string{"CLUSTER", "COUNTKEYSINSLOT", "16384"}, "-ERR Invalid slot"},
		{[]string{"CLUSTER", "COUNTKEYSINSLOT", "x"}, "-ERR value is not an integer or out of range"},
		{[]string{"CLUSTER", "GETKEYSINSLOT", "12182", "0"}, "[]"},
		{[]string{"CLUSTER", "GETKEYSINSLOT", "12182", "-1"}, "-ERR Invalid slot or number of keys"},
		{[]string{"CLUSTER", "GETKEYSINSLOT", "16384", "1"}, "-ERR Invalid slot or number of keys"},
		{[]string{"CLUSTER", "GETKEYSINSLOT", "x", "1"}, "-ERR value is not an integer or out of range"},
		{[]string{"CLUSTER", "GETKEYSINSLOT", "1", "x"}, "-ERR value is not an integer or out of range"},
		{[]string{"CLUSTER", "GETKEYSINSLOT", "0", "10"}, "[]"},
		{[]string{"CLUSTER", "LINKS"}, "[]"},
		{[]string{"CLUSTER", "FAILOVER"}, "-ERR You should send CLUSTER FAILOVER to a replica"},
		{[]string{"CLUSTER", "FAILOVER", "takeover"}, "-ERR You should send CLUSTER FAILOVER to a replica"},
		{[]string{"CLUSTER", "FAILOVER", "bad"}, "-ERR syntax error"},
		{[]string{"CLUSTER", "FAILOVER", "FORCE", "x"}, "-ERR unknown subcommand or wrong number of arguments for 'FAILOVER'. Try CLUSTER HELP."},
		{[]string{"CLUSTER", "REPLICAS", id}, "[]"},
		{[]string{"CLUSTER", "SLAVES", id}, "[]"},
		{[]string{"CLUSTER", "REPLICAS", "abc"}, "-ERR Unknown node abc"},
		{[]string{"CLUSTER", "SLAVES", strings.ToUpper(id)}, "-ERR Unknown node " + strings.ToUpper(id)},
		{[]string{"CLUSTER", "ADDSLOTS", "1"}, "-ERR unknown subcommand 'ADDSLOTS'. Try CLUSTER HELP."},
		{[]string{"CLUSTER"}, "-ERR wrong number of arguments for 'cluster' command"},
	})
	keys := r.do("CLUSTER", "GETKEYSINSLOT", "12182", "10")
	if keys != `["foo" "{foo}x"]` && keys != `["{foo}x" "foo"]` {
		t.Errorf("CLUSTER GETKEYSINSLOT 12182 10 = %s", keys)
	}
	if one := r.do("CLUSTER", "GETKEYSINSLOT", "12182", "1"); one != `["foo"]` && one != `["{foo}x"]` {
		t.Errorf("CLUSTER GETKEYSINSLOT 12182 1 = %s", one)
	}
	// The shard id is stable.
	if a, b := r.do("CLUSTER", "MYSHARDID"), r.do("CLUSTER", "MYSHARDID"); a != b || !matchRe(t, `"[0-9a-f]{40}"`, a) {
		t.Errorf("CLUSTER MYSHARDID = %s, then %s", a, b)
	}
	// RESP3 shapes.
	r.do("HELLO", "3")
	runCases(t, r, []cmdCase{
		{[]string{"CLUSTER", "SLOTS"}, `[[:0 :16383 ["127.0.0.1" :` + port + ` "` + id + `" {}]]]`},
		{[]string{"CLUSTER", "SHARDS"}, `[{"slots": [:0 :16383], "nodes": [{"id": "` + id + `", "port": :` + port + `, "ip": "127.0.0.1", "endpoint": "127.0.0.1", "role": "master", "replication-offset": :0, "health": "online"}]}]`},
		{[]string{"CLUSTER", "LINKS"}, "[]"},
	})
	if got := r.do("CLUSTER", "NODES"); !strings.HasPrefix(got, `"`+id+` 127.0.0.1:`) {
		t.Errorf("RESP3 CLUSTER NODES = %s", got)
	}
}

func busPort(port int) int {
	if port+10000 > 65535 {
		return 0
	}
	return port + 10000
}

// crc16XModem is the slot hash, written again independently of the engine.
func crc16XModem(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for j := 0; j < 8; j++ {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// TestClusterWildcardBind: bound to every interface, the node tells each
// client the address it reached, never 0.0.0.0.
func TestClusterWildcardBind(t *testing.T) {
	s := startServer(t, "bind", "0.0.0.0")
	nc, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port())))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	r := &rawConn{t: t, nc: nc, rd: newRespReader(nc)}
	port := strconv.Itoa(s.Port())
	if got := r.do("CLUSTER", "NODES"); !strings.Contains(got, " 127.0.0.1:"+port+"@") {
		t.Errorf("CLUSTER NODES = %s", got)
	}
	if got := r.do("CLUSTER", "SLOTS"); !strings.Contains(got, `["127.0.0.1" :`+port+` `) {
		t.Errorf("CLUSTER SLOTS = %s", got)
	}
}

// TestClusterMatchesRedis compares with a one-node Redis cluster that owns
// every slot (cluster-announce-ip makes it know its address, as a node that
// met others does); only the node ids and ports differ.
func TestClusterMatchesRedis(t *testing.T) {
	s := startServer(t)
	o := startRedis(t, true)
	f, r := dialRaw(t, s), dialAddr(t, o.addr)
	r.do("CONFIG", "SET", "cluster-announce-ip", "127.0.0.1")
	oid := strings.Trim(r.do("CLUSTER", "MYID"), `"`)
	norm := func(x string) string {
		x = strings.ReplaceAll(x, s.nodeID, "NODEID")
		x = strings.ReplaceAll(x, oid, "NODEID")
		for _, p := range []int{s.Port(), o.port} {
			x = strings.ReplaceAll(x, strconv.Itoa(p+10000), "BUSPORT")
			x = strings.ReplaceAll(x, strconv.Itoa(p), "PORT")
		}
		x = regexp.MustCompile(`"id": :\d+`).ReplaceAllString(x, `"id": :N`) // HELLO's client id
		return strings.ReplaceAll(x, "@0 ", "@BUSPORT ")                     // a port past 55535 has no bus port
	}
	cmds := [][]string{
		{"SET", "foo", "1"}, {"SET", "{foo}bar", "2"}, {"SET", "other", "3"},
		{"CLUSTER", "INFO"},
		{"CLUSTER", "SLOTS"},
		{"CLUSTER", "SHARDS"},
		{"CLUSTER", "NODES"},
		{"CLUSTER", "LINKS"},
		{"CLUSTER", "KEYSLOT", "foo"},
		{"CLUSTER", "KEYSLOT", "{user1000}.following"},
		{"CLUSTER", "KEYSLOT", "foo{}{bar}"},
		{"CLUSTER", "KEYSLOT", "foo{{bar}}zap"},
		{"CLUSTER", "KEYSLOT", "foo{bar}{zap}"},
		{"CLUSTER", "KEYSLOT", ""},
		{"CLUSTER", "COUNTKEYSINSLOT", "12182"},
		{"CLUSTER", "COUNTKEYSINSLOT", "1.5"},
		{"CLUSTER", "COUNTKEYSINSLOT", "99999999999999999999"},
		{"CLUSTER", "COUNTKEYSINSLOT", "-1"},
		{"CLUSTER", "GETKEYSINSLOT", "12182", "0"},
		{"CLUSTER", "GETKEYSINSLOT", "12182", "-1"},
		{"CLUSTER", "GETKEYSINSLOT", "-1", "1"},
		{"CLUSTER", "GETKEYSINSLOT", "x", "1"},
		{"CLUSTER", "FAILOVER"},
		{"CLUSTER", "FAILOVER", "FORCE"},
		{"CLUSTER", "FAILOVER", "no"},
		{"CLUSTER", "FAILOVER", "a", "b"},
		{"CLUSTER", "REPLICAS", "nonode"},
		{"CLUSTER", "SLAVES", "nonode"},
		{"CLUSTER", "MYID", "x"},
		{"CLUSTER", "NOPE"},
		{"CLUSTER"},
		{"HELLO", "3"},
		{"CLUSTER", "INFO"},
		{"CLUSTER", "SLOTS"},
		{"CLUSTER", "SHARDS"},
		{"CLUSTER", "NODES"},
	}
	sameReplies(t, f, r, cmds, norm)
	f.do("HELLO", "2")
	r.do("HELLO", "2")
	// GETKEYSINSLOT: the same keys, in an order that may differ.
	got, want := f.do("CLUSTER", "GETKEYSINSLOT", "12182", "10"), r.do("CLUSTER", "GETKEYSINSLOT", "12182", "10")
	if len(got) != len(want) || !strings.Contains(got, `"foo"`) || !strings.Contains(got, `"{foo}bar"`) {
		t.Errorf("GETKEYSINSLOT\nflotilla: %s\n   redis: %s", got, want)
	}
	checkHelpSubset(t, strings.Replace(f.do("CLUSTER", "HELP"), " +MYSHARDID +    Return the node's shard id.", "", 1), r.do("CLUSTER", "HELP"))
}

// TestClusterGoRedis: go-redis's ClusterClient discovers the one-node
// cluster and routes everything to it.
func TestClusterGoRedis(t *testing.T) {
	s := startServer(t)
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{s.Addr()}, MaxRedirects: 0})
	t.Cleanup(func() { c.Close() })
	ctx := ctxT(t)
	for i := 0; i < 50; i++ {
		k := "{user" + strconv.Itoa(i%5) + "}:k" + strconv.Itoa(i)
		if err := c.Set(ctx, k, i, 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
	}
	for i := 0; i < 50; i++ {
		k := "{user" + strconv.Itoa(i%5) + "}:k" + strconv.Itoa(i)
		v, err := c.Get(ctx, k).Int()
		if err != nil || v != i {
			t.Fatalf("GET %s = %d, %v", k, v, err)
		}
	}
	vals, err := c.MGet(ctx, "{user1}:k1", "{user1}:k6", "{user1}:nokey").Result()
	if err != nil || len(vals) != 3 || vals[0] != "1" || vals[1] != "6" || vals[2] != nil {
		t.Fatalf("MGET = %v, %v", vals, err)
	}
	// Keys in different slots: the client splits by slot, the node owns all.
	if err := c.MSet(ctx, "{a}1", "x").Err(); err != nil {
		t.Fatal(err)
	}
	slots, err := c.ClusterSlots(ctx).Result()
	if err != nil || len(slots) != 1 || slots[0].Start != 0 || slots[0].End != 16383 ||
		len(slots[0].Nodes) != 1 || slots[0].Nodes[0].ID != s.nodeID || slots[0].Nodes[0].Addr != s.Addr() {
		t.Fatalf("CLUSTER SLOTS = %+v, %v", slots, err)
	}
	shards, err := c.ClusterShards(ctx).Result()
	if err != nil || len(shards) != 1 || len(shards[0].Nodes) != 1 || shards[0].Nodes[0].ID != s.nodeID ||
		shards[0].Nodes[0].Role != "master" || shards[0].Nodes[0].Health != "online" {
		t.Fatalf("CLUSTER SHARDS = %+v, %v", shards, err)
	}
	n := 0
	err = c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		n++
		return m.Ping(ctx).Err()
	})
	if err != nil || n != 1 {
		t.Fatalf("ForEachMaster: %d masters, %v", n, err)
	}
	// A transaction on one hash slot.
	_, err = c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Incr(ctx, "{tx}a")
		p.Incr(ctx, "{tx}b")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestClusterRedisTools runs Redis's own cluster tools against the node.
func TestClusterRedisTools(t *testing.T) {
	cli := needBinary(t, "redis-cli")
	bench := needBinary(t, "redis-benchmark")
	s := startServer(t)
	port := strconv.Itoa(s.Port())
	addr := "127.0.0.1:" + port
	run := func(bin string, args ...string) (string, error) {
		t.Helper()
		out, err := exec.CommandContext(ctxT(t), bin, args...).CombinedOutput()
		return string(out), err
	}

	// redis-cli -c: every key is served here, no redirection.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"SET", "{u1}a", "1"}, "OK"},
		{[]string{"SET", "zzz", "2"}, "OK"},
		{[]string{"GET", "{u1}a"}, "1"},
		{[]string{"CLUSTER", "KEYSLOT", "zzz"}, strconv.Itoa(int(crc16XModem("zzz") % 16384))},
	} {
		out, err := run(cli, append([]string{"-c", "-h", "127.0.0.1", "-p", port}, tc.args...)...)
		if err != nil || strings.TrimSpace(out) != tc.want {
			t.Errorf("redis-cli -c %v = %q, %v; want %q", tc.args, out, err, tc.want)
		}
	}

	// redis-cli --cluster check and info.
	out, err := run(cli, "--cluster", "check", addr)
	if err != nil {
		t.Fatalf("redis-cli --cluster check: %v\n%s", err, out)
	}
	for _, want := range []string{
		addr + " (" + s.nodeID[:8] + "...) -> 2 keys | 16384 slots | 0 slaves.",
		"[OK] 2 keys in 1 masters.",
		"M: " + s.nodeID + " " + addr,
		"slots:[0-16383] (16384 slots) master",
		"[OK] All nodes agree about slots configuration.",
		"[OK] All 16384 slots covered.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("redis-cli --cluster check: no %q in\n%s", want, out)
		}
	}
	if strings.Contains(out, "[ERR]") || strings.Contains(out, "[WARNING]") {
		t.Errorf("redis-cli --cluster check complains:\n%s", out)
	}
	out, err = run(cli, "--cluster", "info", addr)
	if err != nil || !strings.Contains(out, addr+" ("+s.nodeID[:8]+"...) -> 2 keys | 16384 slots | 0 slaves.") ||
		!strings.Contains(out, "[OK] 2 keys in 1 masters.") {
		t.Errorf("redis-cli --cluster info: %v\n%s", err, out)
	}

	// redis-benchmark: in cluster mode it reads the topology from CLUSTER
	// NODES and, like against a one-node Redis cluster, refuses to run (it
	// wants two masters or more); in standalone mode it completes.
	o := startRedis(t, true)
	ours, errOurs := run(bench, "--cluster", "-h", "127.0.0.1", "-p", port, "-t", "set,get", "-n", "2000", "-q")
	theirs, errTheirs := run(bench, "--cluster", "-h", "127.0.0.1", "-p", strconv.Itoa(o.port), "-t", "set,get", "-n", "2000", "-q")
	if ours != theirs || (errOurs == nil) != (errTheirs == nil) || !strings.Contains(ours, "Invalid cluster: 1 node(s).") {
		t.Errorf("redis-benchmark --cluster\nflotilla: %q (%v)\n   redis: %q (%v)", ours, errOurs, theirs, errTheirs)
	}
	out, err = run(bench, "-h", "127.0.0.1", "-p", port, "-t", "set,get", "-n", "2000", "-q")
	if err != nil || !regexp.MustCompile(`SET: [\d.]+ requests per second`).MatchString(out) ||
		!regexp.MustCompile(`GET: [\d.]+ requests per second`).MatchString(out) {
		t.Errorf("redis-benchmark -t set,get: %v\n%s", err, out)
	}
}
