package cluster

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestAuthRequired(t *testing.T) {
	s := startServer(t, "requirepass", "s3cret")
	r := dialRaw(t, s)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"PING"}, "-NOAUTH Authentication required."},
		{[]string{"GET", "k"}, "-NOAUTH Authentication required."},
		{[]string{"AUTH", "wrong"}, "-WRONGPASS invalid username-password pair or user is disabled."},
		{[]string{"AUTH", "other", "s3cret"}, "-WRONGPASS invalid username-password pair or user is disabled."},
		{[]string{"HELLO", "3"}, "-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"},
		{[]string{"AUTH", "s3cret"}, "+OK"},
		{[]string{"PING"}, "+PONG"},
		{[]string{"AUTH", "default", "s3cret"}, "+OK"},
	} {
		if got := r.do(tc.args...); got != tc.want {
			t.Errorf("%v = %s, want %s", tc.args, got, tc.want)
		}
	}
	// HELLO with AUTH authenticates and switches protocol at once.
	r2 := dialRaw(t, s)
	got := r2.do("HELLO", "3", "AUTH", "default", "s3cret", "SETNAME", "app")
	if !strings.HasPrefix(got, `{"server": "redis", "version": "7.0.15", "proto": :3,`) || !strings.Contains(got, `"mode": "cluster"`) {
		t.Errorf("HELLO 3 AUTH = %s", got)
	}
	if got := r2.do("CLIENT", "GETNAME"); got != `"app"` {
		t.Errorf("CLIENT GETNAME = %s", got)
	}
	// go-redis with a password works.
	c := client(t, s, func(o *redis.Options) { o.Password = "s3cret"; o.Protocol = 3 })
	if err := c.Set(ctxT(t), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
}

func TestAuthWithoutPassword(t *testing.T) {
	s := startServer(t)
	r := dialRaw(t, s)
	if got, want := r.do("AUTH", "x"), "-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"; got != want {
		t.Errorf("AUTH = %s, want %s", got, want)
	}
	if got := r.do("AUTH", "default", "anything"); got != "+OK" {
		t.Errorf("AUTH default anything = %s", got)
	}
}

func TestHello(t *testing.T) {
	s := startServer(t)
	r := dialRaw(t, s)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"HELLO", "4"}, "-NOPROTO unsupported protocol version"},
		{[]string{"HELLO", "x"}, "-ERR Protocol version is not an integer or out of range"},
		{[]string{"HELLO", "3", "FOO"}, "-ERR Syntax error in HELLO option 'FOO'"},
		{[]string{"HELLO", "3", "SETNAME", "bad name"}, "-ERR Client names cannot contain spaces, newlines or special characters."},
	} {
		if got := r.do(tc.args...); got != tc.want {
			t.Errorf("%v = %s, want %s", tc.args, got, tc.want)
		}
	}
	if got := r.do("HELLO", "3"); !strings.Contains(got, `"proto": :3`) {
		t.Errorf("HELLO 3 = %s", got)
	}
	if got := r.do("SET", "k", "v"); got != "+OK" {
		t.Fatal(got)
	}
	if got := r.do("GET", "missing"); got != "(nil)" {
		t.Errorf("RESP3 null = %s", got)
	}
	if got := r.do("HELLO", "2"); !strings.Contains(got, `"proto" :2`) && !strings.Contains(got, `"proto"`) {
		t.Errorf("HELLO 2 = %s", got)
	}
}

func TestSelect(t *testing.T) {
	s := startServer(t)
	r := dialRaw(t, s)
	for _, tc := range []struct{ arg, want string }{
		{"0", "+OK"},
		{"1", "-ERR SELECT is not allowed in cluster mode"},
		{"x", "-ERR value is not an integer or out of range"},
	} {
		if got := r.do("SELECT", tc.arg); got != tc.want {
			t.Errorf("SELECT %s = %s, want %s", tc.arg, got, tc.want)
		}
	}
}

func TestMultiExec(t *testing.T) {
	s := startServer(t)
	r := dialRaw(t, s)
	steps := []struct {
		args []string
		want string
	}{
		{[]string{"EXEC"}, "-ERR EXEC without MULTI"},
		{[]string{"DISCARD"}, "-ERR DISCARD without MULTI"},
		{[]string{"MULTI"}, "+OK"},
		{[]string{"MULTI"}, "-ERR MULTI calls can not be nested"},
		{[]string{"SET", "a", "1"}, "+QUEUED"},
		{[]string{"INCR", "a"}, "+QUEUED"},
		{[]string{"LPUSH", "a", "x"}, "+QUEUED"},
		{[]string{"GET", "a"}, "+QUEUED"},
		{[]string{"EXEC"}, `[+OK :2 -WRONGTYPE Operation against a key holding the wrong kind of value "2"]`},
		{[]string{"MULTI"}, "+OK"},
		{[]string{"SET", "a", "3"}, "+QUEUED"},
		{[]string{"NOSUCHCMD"}, "-ERR unknown command 'NOSUCHCMD', with args beginning with: "},
		{[]string{"EXEC"}, "-EXECABORT Transaction discarded because of previous errors."},
		{[]string{"GET", "a"}, `"2"`},
		{[]string{"MULTI"}, "+OK"},
		{[]string{"GET", "a", "b"}, "-ERR wrong number of arguments for 'get' command"},
		{[]string{"DISCARD"}, "+OK"},
		{[]string{"MULTI"}, "+OK"},
		{[]string{"WATCH", "a"}, "-ERR WATCH inside MULTI is not allowed"},
		{[]string{"BLPOP", "nolist", "0"}, "+QUEUED"},
		{[]string{"EXEC"}, "[(nil-array)]"},
	}
	for _, st := range steps {
		if got := r.do(st.args...); got != st.want {
			t.Errorf("%v = %s, want %s", st.args, got, st.want)
		}
	}
}

func TestWatch(t *testing.T) {
	s := startServer(t)
	a, b := dialRaw(t, s), dialRaw(t, s)
	a.do("SET", "k", "1")
	// A watched key changed by another client aborts EXEC.
	for _, st := range []struct {
		c    *rawConn
		args []string
		want string
	}{
		{a, []string{"WATCH", "k"}, "+OK"},
		{b, []string{"SET", "k", "2"}, "+OK"},
		{a, []string{"MULTI"}, "+OK"},
		{a, []string{"SET", "k", "3"}, "+QUEUED"},
		{a, []string{"EXEC"}, "(nil-array)"},
		{a, []string{"GET", "k"}, `"2"`},
		// Unchanged: EXEC runs.
		{a, []string{"WATCH", "k"}, "+OK"},
		{a, []string{"MULTI"}, "+OK"},
		{a, []string{"SET", "k", "3"}, "+QUEUED"},
		{a, []string{"EXEC"}, "[+OK]"},
		// UNWATCH forgets.
		{a, []string{"WATCH", "k"}, "+OK"},
		{b, []string{"SET", "k", "4"}, "+OK"},
		{a, []string{"UNWATCH"}, "+OK"},
		{a, []string{"MULTI"}, "+OK"},
		{a, []string{"GET", "k"}, "+QUEUED"},
		{a, []string{"EXEC"}, `["4"]`},
		// FLUSHALL touches watched keys that existed.
		{a, []string{"WATCH", "k"}, "+OK"},
		{b, []string{"FLUSHALL"}, "+OK"},
		{a, []string{"MULTI"}, "+OK"},
		{a, []string{"PING"}, "+QUEUED"},
		{a, []string{"EXEC"}, "(nil-array)"},
		// A key that did not exist and still does not: FLUSHALL is no change.
		{a, []string{"WATCH", "nokey"}, "+OK"},
		{b, []string{"FLUSHALL"}, "+OK"},
		{a, []string{"MULTI"}, "+OK"},
		{a, []string{"PING"}, "+QUEUED"},
		{a, []string{"EXEC"}, "[+PONG]"},
	} {
		if got := st.c.do(st.args...); got != st.want {
			t.Errorf("%v = %s, want %s", st.args, got, st.want)
		}
	}
}

func TestWatchExpiredKey(t *testing.T) {
	s := startServer(t)
	a := dialRaw(t, s)
	a.do("SET", "k", "v", "PX", "50")
	a.do("WATCH", "k")
	time.Sleep(100 * time.Millisecond)
	a.do("MULTI")
	a.do("PING")
	if got := a.do("EXEC"); got != "(nil-array)" {
		t.Errorf("EXEC after a watched key expired = %s, want (nil-array)", got)
	}
}

func TestPubSub(t *testing.T) {
	s := startServer(t)
	sub, pub := dialRaw(t, s), dialRaw(t, s)
	if got := sub.do("SUBSCRIBE", "news", "sport"); got != `["subscribe" "news" :1]` {
		t.Fatalf("SUBSCRIBE = %s", got)
	}
	if got := sub.read(); got != `["subscribe" "sport" :2]` {
		t.Fatalf("SUBSCRIBE second = %s", got)
	}
	if got := sub.do("PSUBSCRIBE", "n*"); got != `["psubscribe" "n*" :3]` {
		t.Fatalf("PSUBSCRIBE = %s", got)
	}
	if got := sub.do("GET", "k"); got != "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context" {
		t.Errorf("GET while subscribed = %s", got)
	}
	if got := sub.do("PING"); got != `["pong" ""]` {
		t.Errorf("PING while subscribed = %s", got)
	}
	if got := pub.do("PUBLISH", "news", "hello"); got != ":2" {
		t.Errorf("PUBLISH = %s, want :2 (channel and pattern)", got)
	}
	got1, got2 := sub.read(), sub.read()
	msgs := got1 + " " + got2
	if !strings.Contains(msgs, `["message" "news" "hello"]`) || !strings.Contains(msgs, `["pmessage" "n*" "news" "hello"]`) {
		t.Errorf("messages = %s", msgs)
	}
	if got := pub.do("PUBSUB", "NUMSUB", "news", "none"); got != `["news" :1 "none" :0]` {
		t.Errorf("PUBSUB NUMSUB = %s", got)
	}
	if got := pub.do("PUBSUB", "NUMPAT"); got != ":1" {
		t.Errorf("PUBSUB NUMPAT = %s", got)
	}
	if got := pub.do("PUBSUB", "CHANNELS"); got != `["news" "sport"]` {
		t.Errorf("PUBSUB CHANNELS = %s", got)
	}
	if got := sub.do("UNSUBSCRIBE"); got != `["unsubscribe" "news" :2]` {
		t.Errorf("UNSUBSCRIBE = %s", got)
	}
	if got := sub.read(); got != `["unsubscribe" "sport" :1]` {
		t.Errorf("UNSUBSCRIBE second = %s", got)
	}
	if got := sub.do("PUNSUBSCRIBE"); got != `["punsubscribe" "n*" :0]` {
		t.Errorf("PUNSUBSCRIBE = %s", got)
	}
	if got := sub.do("GET", "k"); got != "(nil)" {
		t.Errorf("GET after unsubscribing = %s", got)
	}
	// Shard channels.
	if got := sub.do("SSUBSCRIBE", "orders"); got != `["ssubscribe" "orders" :1]` {
		t.Errorf("SSUBSCRIBE = %s", got)
	}
	if got := pub.do("SPUBLISH", "orders", "o1"); got != ":1" {
		t.Errorf("SPUBLISH = %s", got)
	}
	if got := sub.read(); got != `["smessage" "orders" "o1"]` {
		t.Errorf("smessage = %s", got)
	}
}

func TestPubSubRESP3(t *testing.T) {
	s := startServer(t)
	sub, pub := dialRaw(t, s), dialRaw(t, s)
	sub.do("HELLO", "3")
	if got := sub.do("SUBSCRIBE", "ch"); got != `>["subscribe" "ch" :1]` {
		t.Fatalf("SUBSCRIBE = %s", got)
	}
	// RESP3 clients may run any command while subscribed.
	if got := sub.do("SET", "k", "v"); got != "+OK" {
		t.Errorf("SET while subscribed in RESP3 = %s", got)
	}
	pub.do("PUBLISH", "ch", "m")
	if got := sub.read(); got != `>["message" "ch" "m"]` {
		t.Errorf("message = %s", got)
	}
	// go-redis PubSub over RESP3.
	c := client(t, s, func(o *redis.Options) { o.Protocol = 3 })
	ps := c.Subscribe(ctxT(t), "gr")
	if _, err := ps.Receive(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	pub.do("PUBLISH", "gr", "payload")
	msg, err := ps.ReceiveMessage(ctxT(t))
	if err != nil || msg.Payload != "payload" {
		t.Fatalf("ReceiveMessage = %v, %v", msg, err)
	}
}

func TestBlockingPop(t *testing.T) {
	s := startServer(t)
	waiter, pusher := dialRaw(t, s), dialRaw(t, s)
	// Timeout: null array after about the timeout.
	start := time.Now()
	if got := waiter.do("BLPOP", "q", "0.1"); got != "(nil-array)" {
		t.Errorf("BLPOP timeout = %s", got)
	}
	if d := time.Since(start); d < 90*time.Millisecond || d > 2*time.Second {
		t.Errorf("BLPOP 0.1 took %v", d)
	}
	// Served by a push: the pusher then sees the list already emptied, as
	// in Redis.
	waiter.send("BLPOP", "q", "0")
	time.Sleep(50 * time.Millisecond)
	if got := pusher.do("RPUSH", "q", "a"); got != ":1" {
		t.Errorf("RPUSH = %s", got)
	}
	if got := pusher.do("LLEN", "q"); got != ":0" {
		t.Errorf("LLEN after serving a blocked client = %s, want :0", got)
	}
	if got := waiter.read(); got != `["q" "a"]` {
		t.Errorf("BLPOP served = %s", got)
	}
	// Clients are served in the order they blocked.
	w2 := dialRaw(t, s)
	waiter.send("BLPOP", "q", "0")
	time.Sleep(30 * time.Millisecond)
	w2.send("BLPOP", "q", "0")
	time.Sleep(30 * time.Millisecond)
	pusher.do("RPUSH", "q", "first", "second")
	if got := waiter.read(); got != `["q" "first"]` {
		t.Errorf("first waiter got %s", got)
	}
	if got := w2.read(); got != `["q" "second"]` {
		t.Errorf("second waiter got %s", got)
	}
	// BLMOVE into a list another client blocks on.
	waiter.send("BLPOP", "dst", "0")
	time.Sleep(30 * time.Millisecond)
	w2.send("BLMOVE", "src", "dst", "LEFT", "RIGHT", "0")
	time.Sleep(30 * time.Millisecond)
	pusher.do("RPUSH", "src", "x")
	if got := w2.read(); got != `"x"` {
		t.Errorf("BLMOVE = %s", got)
	}
	if got := waiter.read(); got != `["dst" "x"]` {
		t.Errorf("BLPOP on BLMOVE's destination = %s", got)
	}
	// A blocked client that disconnects is forgotten: the next push stays.
	gone := dialRaw(t, s)
	gone.send("BLPOP", "q2", "0")
	time.Sleep(30 * time.Millisecond)
	gone.nc.Close()
	time.Sleep(50 * time.Millisecond)
	pusher.do("RPUSH", "q2", "kept")
	if got := pusher.do("LRANGE", "q2", "0", "-1"); got != `["kept"]` {
		t.Errorf("after a blocked client left, list = %s", got)
	}
	// Commands pipelined behind a blocking one wait for it and are kept.
	waiter.send("BLPOP", "q3", "0")
	waiter.send("PING")
	time.Sleep(50 * time.Millisecond)
	pusher.do("RPUSH", "q3", "v")
	if got := waiter.read(); got != `["q3" "v"]` {
		t.Errorf("BLPOP = %s", got)
	}
	if got := waiter.read(); got != "+PONG" {
		t.Errorf("pipelined PING = %s", got)
	}
}

func TestBlockingWithGoRedis(t *testing.T) {
	s := startServer(t)
	c := client(t, s)
	ctx := ctxT(t)
	var wg sync.WaitGroup
	var got []string
	var err error
	wg.Add(1)
	go func() {
		defer wg.Done()
		got, err = c.BLPop(ctx, 5*time.Second, "jobs").Result()
	}()
	time.Sleep(100 * time.Millisecond)
	if err := c.RPush(ctx, "jobs", "j1").Err(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if err != nil || len(got) != 2 || got[1] != "j1" {
		t.Fatalf("BLPop = %v, %v", got, err)
	}
}

func TestClientCommands(t *testing.T) {
	s := startServer(t)
	a, b := dialRaw(t, s), dialRaw(t, s)
	// A dial returns once the kernel accepted it; a command answered means
	// the server registered the connection too (CLIENT LIST below counts
	// both; under load it once saw only a).
	if got := b.do("PING"); got != "+PONG" {
		t.Fatal(got)
	}
	if got := a.do("CLIENT", "SETNAME", "alpha"); got != "+OK" {
		t.Fatal(got)
	}
	if got := a.do("CLIENT", "SETNAME", "a b"); got != "-ERR Client names cannot contain spaces, newlines or special characters." {
		t.Errorf("bad name = %s", got)
	}
	list := a.do("CLIENT", "LIST")
	if !strings.Contains(list, "name=alpha") || strings.Count(list, "id=") != 2 {
		t.Errorf("CLIENT LIST = %s", list)
	}
	info := a.do("CLIENT", "INFO")
	if !strings.Contains(info, "name=alpha") || !strings.Contains(info, "cmd=client|info") {
		t.Errorf("CLIENT INFO = %s", info)
	}
	id := strings.TrimPrefix(b.do("CLIENT", "ID"), ":")
	if got := a.do("CLIENT", "KILL", "ID", id); got != ":1" {
		t.Errorf("CLIENT KILL ID = %s", got)
	}
	b.nc.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := b.rd.readText(); err == nil {
		t.Errorf("killed client can still read")
	}
	if got := a.do("CLIENT", "KILL", "1.2.3.4:5"); got != "-ERR No such client" {
		t.Errorf("CLIENT KILL addr = %s", got)
	}
	// CLIENT PAUSE WRITE holds writes, not reads.
	c := dialRaw(t, s)
	a.do("CLIENT", "PAUSE", "300", "WRITE")
	start := time.Now()
	if got := c.do("GET", "x"); got != "(nil)" || time.Since(start) > 200*time.Millisecond {
		t.Errorf("GET during write pause = %s after %v", got, time.Since(start))
	}
	start = time.Now()
	if got := c.do("SET", "x", "1"); got != "+OK" || time.Since(start) < 200*time.Millisecond {
		t.Errorf("SET during write pause = %s after %v", got, time.Since(start))
	}
	// PAUSE ALL holds every command, CLIENT UNPAUSE included (as Redis 7.0).
	a.do("CLIENT", "PAUSE", "300")
	start = time.Now()
	if got := c.do("CLIENT", "UNPAUSE"); got != "+OK" || time.Since(start) < 200*time.Millisecond {
		t.Errorf("UNPAUSE during PAUSE ALL = %s after %v", got, time.Since(start))
	}
	// UNPAUSE ends a WRITE pause at once.
	a.do("CLIENT", "PAUSE", "5000", "WRITE")
	unpaused := make(chan string)
	go func() { time.Sleep(100 * time.Millisecond); unpaused <- a.do("CLIENT", "UNPAUSE") }()
	start = time.Now()
	if got := c.do("SET", "x", "2"); got != "+OK" || time.Since(start) > 2*time.Second {
		t.Errorf("SET after UNPAUSE = %s after %v", got, time.Since(start))
	}
	if got := <-unpaused; got != "+OK" {
		t.Errorf("CLIENT UNPAUSE = %s", got)
	}
}

func TestConfigCommands(t *testing.T) {
	s := startServer(t)
	r := dialRaw(t, s)
	if got := r.do("CONFIG", "GET", "maxclients"); got != `["maxclients" "10000"]` {
		t.Errorf("CONFIG GET = %s", got)
	}
	got := r.do("CONFIG", "GET", "hash-max-*-entries", "timeout")
	for _, want := range []string{`"hash-max-listpack-entries" "128"`, `"hash-max-ziplist-entries" "128"`, `"timeout" "0"`} {
		if !strings.Contains(got, want) {
			t.Errorf("CONFIG GET patterns = %s, missing %s", got, want)
		}
	}
	if got := r.do("CONFIG", "SET", "hash-max-listpack-entries", "2", "timeout", "100"); got != "+OK" {
		t.Errorf("CONFIG SET = %s", got)
	}
	if got := r.do("CONFIG", "GET", "hash-max-listpack-entries"); got != `["hash-max-listpack-entries" "2"]` {
		t.Errorf("after CONFIG SET = %s", got)
	}
	// All or nothing.
	if got := r.do("CONFIG", "SET", "timeout", "5", "maxclients", "x"); got != "-ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument couldn't be parsed into an integer" {
		t.Errorf("CONFIG SET bad = %s", got)
	}
	if got := r.do("CONFIG", "GET", "timeout"); got != `["timeout" "100"]` {
		t.Errorf("timeout changed by a failed CONFIG SET: %s", got)
	}
	if got := r.do("CONFIG", "SET", "nosuch", "1"); got != "-ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'" {
		t.Errorf("CONFIG SET unknown = %s", got)
	}
	// The encoding threshold applies to the engine.
	r.do("HSET", "h", "a", "1", "b", "2")
	if got := r.do("OBJECT", "ENCODING", "h"); got != `"listpack"` {
		t.Errorf("2 fields, limit 2: %s", got)
	}
	r.do("HSET", "h", "c", "3")
	if got := r.do("OBJECT", "ENCODING", "h"); got != `"hashtable"` {
		t.Errorf("3 fields, limit 2: %s", got)
	}
}

func TestInfo(t *testing.T) {
	s := startServer(t)
	c := client(t, s)
	ctx := ctxT(t)
	c.Set(ctx, "k", "v", 0)
	c.Get(ctx, "k")
	info, err := c.Info(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# Server\r\n", "redis_version:7.0.15\r\n", "flotilla_version:", "redis_mode:cluster", "# Clients\r\n", "connected_clients:1\r\n",
		"# Memory\r\n", "used_memory:", "# Persistence\r\n", "# Stats\r\n", "keyspace_hits:1\r\n", "# Replication\r\n", "role:master",
		"# CPU\r\n", "# Cluster\r\n", "cluster_enabled:1", "# Keyspace\r\n", "db0:keys=1,expires=0,avg_ttl=0"} {
		if !strings.Contains(info, want) {
			t.Errorf("INFO lacks %q", want)
		}
	}
	if strings.Contains(info, "# Commandstats") {
		t.Errorf("default INFO has commandstats")
	}
	all, _ := c.Info(ctx, "commandstats").Result()
	if !strings.Contains(all, "cmdstat_set:calls=1,") || !strings.Contains(all, "cmdstat_get:calls=1,") {
		t.Errorf("INFO commandstats = %s", all)
	}
}
