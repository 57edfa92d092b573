package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flotilla-db/flotilla/test/localcluster"
)

// The admin CLI (cmd/flotillactl) and redis-cli --cluster against a real
// 3-node cluster on 127.0.0.91-93.

var (
	ctlOnce sync.Once
	ctlBin  string
	ctlErr  error
)

// flotillactlBin builds cmd/flotillactl once, beside the server binary
// (TestMain removes that directory).
func flotillactlBin(t *testing.T) string {
	t.Helper()
	ctlOnce.Do(func() {
		ctlBin = filepath.Join(filepath.Dir(binary), "flotillactl")
		out, err := exec.Command("go", "build", "-o", ctlBin, "github.com/flotilla-db/flotilla/cmd/flotillactl").CombinedOutput()
		if err != nil {
			ctlErr = fmt.Errorf("go build flotillactl: %v\n%s", err, out)
		}
	})
	if ctlErr != nil {
		t.Fatal(ctlErr)
	}
	return ctlBin
}

// runTool runs a command line tool and returns its output and exit status.
func runTool(t *testing.T, bin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("%s %q: %v", bin, args, err)
	}
	return o.String(), e.String(), code
}

// ctlJSON is what flotillactl status --json prints (the parts used here).
type ctlJSON struct {
	Nodes map[string]struct {
		Node   string `json:"node"`
		Addr   string `json:"addr"`
		Nodes  []struct{ ID, Addr string }
		Shards []struct {
			ID       uint32   `json:"id"`
			Replicas []string `json:"replicas"`
			Leader   string   `json:"leader"`
		} `json:"shards"`
	} `json:"nodes"`
}

// table returns the rows (cells split on runs of 2+ spaces) of the table
// of out whose header starts with header.
func table(out, header string) [][]string {
	var rows [][]string
	in := false
	sep := regexp.MustCompile(`\s{2,}`)
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, header):
			in = true
		case in && strings.TrimSpace(line) == "":
			return rows
		case in:
			rows = append(rows, sep.Split(strings.TrimSpace(line), -1))
		}
	}
	return rows
}

func TestFlotillactl(t *testing.T) {
	ctl := flotillactlBin(t)
	c := startClusterWith(t, localcluster.Options{Nodes: 3, FirstIP: "127.0.0.91"})
	ctx := ctxT(t, 4*time.Minute)
	cc := clusterClient(t, c)
	waitMastersSpread(t, ctx, cc, 3)
	const keys = 600
	for i := 0; i < keys; i++ {
		if err := cc.Set(ctx, "ctl:"+strconv.Itoa(i), "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	addr := c.Addr(0)
	host, port, _ := strings.Cut(addr, ":")
	addrs := map[string]bool{}
	for _, a := range c.Addrs() {
		addrs[a] = true
	}

	// status reads every node's FLOTILLA STATUS through
	// flotillactl status --json.
	status := func(t *testing.T) ctlJSON {
		t.Helper()
		out, errOut, code := runTool(t, ctl, "--addr", addr, "status", "--json")
		if code != 0 {
			t.Fatalf("flotillactl status --json: exit %d\n%s%s", code, out, errOut)
		}
		var st ctlJSON
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatalf("status --json: %v\n%s", err, out)
		}
		return st
	}

	t.Run("status", func(t *testing.T) {
		out, errOut, code := runTool(t, ctl, "-h", host, "-p", port, "status")
		if code != 0 || errOut != "" {
			t.Fatalf("flotillactl status: exit %d, stderr %q\n%s", code, errOut, out)
		}
		t.Logf("flotillactl status:\n%s", out)
		if !strings.HasPrefix(out, "Cluster epoch ") || !strings.Contains(out, "3 nodes in 3 zones, 3 shards, 16384/16384 slots assigned") {
			t.Errorf("summary line: %s", out)
		}
		nodes := table(out, "NODE ")
		if len(nodes) != 3 {
			t.Fatalf("%d node rows, want 3:\n%s", len(nodes), out)
		}
		leads := 0
		for _, r := range nodes {
			// NODE ADDRESS ZONE STATE CONFIG SHARDS LEADS
			if len(r) != 7 || !addrs[r[1]] || r[3] != "up" || r[5] != "1-3" {
				t.Errorf("node row %q", r)
			}
			if r[6] != "-" {
				leads++
			}
		}
		if leads != 3 {
			t.Errorf("%d nodes lead a shard, want 3 (leaders spread):\n%s", leads, out)
		}
		shards := table(out, "SHARD ")
		if len(shards) != 3 {
			t.Fatalf("%d shard rows, want 3:\n%s", len(shards), out)
		}
		var covered [16384]int
		totalKeys := 0
		for _, r := range shards {
			// SHARD SLOTS RANGES LEADER REPLICAS KEYS LAG
			if len(r) != 7 || !addrs[r[3]] || len(strings.Split(r[4], ",")) != 3 {
				t.Errorf("shard row %q", r)
				continue
			}
			n := 0
			for _, rg := range strings.Split(r[2], ",") {
				lo, hi, ok := strings.Cut(rg, "-")
				if !ok {
					hi = lo
				}
				a, err1 := strconv.Atoi(lo)
				b, err2 := strconv.Atoi(hi)
				if err1 != nil || err2 != nil || a > b || b > 16383 {
					t.Fatalf("shard row %q: bad range %q", r, rg)
				}
				for s := a; s <= b; s++ {
					covered[s]++
					n++
				}
			}
			if strconv.Itoa(n) != r[1] {
				t.Errorf("shard row %q: %d slots in its ranges", r, n)
			}
			k, err := strconv.Atoi(r[5])
			if err != nil {
				t.Errorf("shard row %q: keys %q", r, r[5])
			}
			totalKeys += k
		}
		for s, n := range covered {
			if n != 1 {
				t.Fatalf("slot %d in %d shards' ranges:\n%s", s, n, out)
			}
		}
		if totalKeys != keys {
			t.Errorf("keys over the shards = %d, want %d", totalKeys, keys)
		}
		// -v adds every replica's Raft state.
		out, _, code = runTool(t, ctl, "--addr", addr, "status", "-v")
		if reps := table(out, "SHARD  NODE"); code != 0 || len(reps) != 9 {
			t.Errorf("status -v: exit %d, %d replica rows, want 9:\n%s", code, len(reps), out)
		}
	})

	t.Run("failover to a node", func(t *testing.T) {
		st := status(t)
		me := st.Nodes[firstKey(st.Nodes)]
		sh := me.Shards[0]
		var target string
		for _, r := range sh.Replicas {
			if r != sh.Leader {
				target = r
				break
			}
		}
		var targetAddr string
		for _, n := range me.Nodes {
			if n.ID == target {
				targetAddr = n.Addr
			}
		}
		slot := firstSlotOf(t, ctx, addr, sh.ID)
		// Ask a node that does not lead the shard: the CLI goes to the
		// leader itself.
		out, errOut, code := runTool(t, ctl, "--addr", targetAddr, "failover", strconv.Itoa(int(sh.ID)), target[:10])
		if code != 0 {
			t.Fatalf("flotillactl failover %d %s: exit %d\n%s%s", sh.ID, target, code, out, errOut)
		}
		if want := fmt.Sprintf("Shard %d is now led by %s", sh.ID, targetAddr); !strings.Contains(out, want) {
			t.Errorf("failover output %q lacks %q", out, want)
		}
		waitSlotMaster(t, ctx, c, slot, targetAddr, 10*time.Second)
		// The leadership stays there: rebalancing would hand it back to
		// the preferred replica within seconds.
		time.Sleep(5 * time.Second)
		waitSlotMaster(t, ctx, c, slot, targetAddr, 0)
		for _, n := range status(t).Nodes {
			for _, s := range n.Shards {
				if s.ID == sh.ID && s.Leader != target {
					t.Errorf("node %s sees shard %d led by %s, want %s", n.Node, sh.ID, s.Leader, target)
				}
			}
		}
	})

	t.Run("failover to the most caught-up replica", func(t *testing.T) {
		st := status(t)
		me := st.Nodes[firstKey(st.Nodes)]
		sh := me.Shards[len(me.Shards)-1]
		out, errOut, code := runTool(t, ctl, "--addr", addr, "failover", strconv.Itoa(int(sh.ID)))
		if code != 0 || !strings.Contains(out, fmt.Sprintf("Shard %d is now led by ", sh.ID)) {
			t.Fatalf("flotillactl failover %d: exit %d\n%s%s", sh.ID, code, out, errOut)
		}
		for _, s := range status(t).Nodes[firstKey(st.Nodes)].Shards {
			if s.ID == sh.ID && (s.Leader == sh.Leader || s.Leader == "") {
				t.Errorf("shard %d still led by %s", sh.ID, s.Leader)
			}
		}
	})

	t.Run("errors", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			code int
			want string
		}{
			{[]string{"failover", "9"}, 1, "no shard 9 in the cluster (its shards: 1-3)"},
			{[]string{"failover", "1", "127.0.0.99:1"}, 1, `no node "127.0.0.99:1" in the cluster`},
			{[]string{"slots", "move", "0-99", "9"}, 1, "FLOTILLA SLOTS MOVE: ERR unknown shard 9"},
			{[]string{"slots", "move", "0-16384", "2"}, 2, `invalid slot range "0-16384"`},
			{[]string{"node", "remove", "ffff"}, 1, `no node "ffff" in the cluster`},
			{[]string{"node", "add", "127.0.0.94:0"}, 1, "FLOTILLA NODE ADD: ERR invalid port in '127.0.0.94:0'"},
		} {
			out, errOut, code := runTool(t, ctl, append([]string{"--addr", addr}, tc.args...)...)
			if code != tc.code || !strings.Contains(errOut, tc.want) {
				t.Errorf("flotillactl %q: exit %d, stderr %q; want exit %d and %q\n%s", tc.args, code, errOut, tc.code, tc.want, out)
			}
		}
	})

	t.Run("redis-cli --cluster check and info", func(t *testing.T) {
		cli, err := exec.LookPath("redis-cli")
		if err != nil {
			t.Fatal("redis-cli not installed (make tools)")
		}
		// The nodes' views agree once each knows the leaders of the
		// failovers above (redis-cli compares them).
		var out, errOut string
		var code int
		deadline := time.Now().Add(20 * time.Second)
		for {
			out, errOut, code = runTool(t, cli, "--cluster", "check", addr)
			if code == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		t.Logf("redis-cli --cluster check %s:\n%s%s", addr, out, errOut)
		if code != 0 {
			t.Errorf("redis-cli --cluster check: exit %d", code)
		}
		for _, want := range []string{"[OK] All nodes agree about slots configuration.", "[OK] All 16384 slots covered."} {
			if !strings.Contains(out, want) {
				t.Errorf("redis-cli --cluster check lacks %q", want)
			}
		}
		for _, bad := range []string{"[ERR]", "[WARNING]", "*** WARNING"} {
			if strings.Contains(out+errOut, bad) {
				t.Errorf("redis-cli --cluster check says %s", bad)
			}
		}

		out, errOut, code = runTool(t, cli, "--cluster", "info", addr)
		t.Logf("redis-cli --cluster info %s:\n%s%s", addr, out, errOut)
		if code != 0 {
			t.Fatalf("redis-cli --cluster info: exit %d", code)
		}
		// 127.0.0.91:6379 (0123abcd...) -> 200 keys | 5461 slots | 2 slaves.
		re := regexp.MustCompile(`(?m)^(\S+) \([0-9a-f]{8}\.\.\.\) -> (\d+) keys \| (\d+) slots \| \d+ slaves\.$`)
		masters := re.FindAllStringSubmatch(out, -1)
		slots, nkeys := 0, 0
		for _, m := range masters {
			if !addrs[m[1]] {
				t.Errorf("master %s is not a node of the cluster", m[1])
			}
			k, _ := strconv.Atoi(m[2])
			s, _ := strconv.Atoi(m[3])
			nkeys += k
			slots += s
		}
		if len(masters) < 2 || slots != 16384 || nkeys != keys {
			t.Errorf("redis-cli --cluster info: %d masters, %d slots, %d keys; want 2 or 3 masters, 16384 slots, %d keys", len(masters), slots, nkeys, keys)
		}
		if want := fmt.Sprintf("[OK] %d keys in %d masters.", keys, len(masters)); !strings.Contains(out, want) {
			t.Errorf("redis-cli --cluster info lacks %q", want)
		}
	})
}

func firstKey[V any](m map[string]V) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys[0]
}

// firstSlotOf returns the first slot of shard id, from FLOTILLA STATUS.
func firstSlotOf(t *testing.T, ctx context.Context, addr string, id uint32) int {
	t.Helper()
	s, err := localcluster.Do(addr, 2*time.Second, "FLOTILLA", "STATUS")
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Shards []struct {
			ID    uint32                `json:"id"`
			Slots []struct{ Start int } `json:"slots"`
		} `json:"shards"`
	}
	if err := json.Unmarshal([]byte(s), &st); err != nil {
		t.Fatal(err)
	}
	for _, sh := range st.Shards {
		if sh.ID == id {
			return sh.Slots[0].Start
		}
	}
	t.Fatalf("no shard %d", id)
	return 0
}

// waitSlotMaster waits until every node's CLUSTER SLOTS names want as the
// master of slot.
func waitSlotMaster(t *testing.T, ctx context.Context, c *localcluster.Cluster, slot int, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := map[string]string{}
		for _, a := range c.Addrs() {
			n := redis.NewClient(&redis.Options{Addr: a, MaxRetries: -1})
			slots, err := n.ClusterSlots(ctx).Result()
			n.Close()
			got[a] = fmt.Sprint(err)
			for _, s := range slots {
				if slot >= s.Start && slot <= s.End && len(s.Nodes) > 0 {
					got[a] = s.Nodes[0].Addr
				}
			}
		}
		ok := true
		for _, m := range got {
			ok = ok && m == want
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("CLUSTER SLOTS master of slot %d per node: %v, want %s", slot, got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
