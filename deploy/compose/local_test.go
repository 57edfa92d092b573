package compose

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flotilla-db/flotilla/cluster"
	"github.com/flotilla-db/flotilla/test/localcluster"
)

// TestLocalConfigIsComposeConfig checks that a node run by `make
// compose-local` has its service's configuration: every directive as the
// compose file gives it, but for the addresses, ports and paths, which are
// the local ones. It reads the full command lines localcluster builds.
func TestLocalConfigIsComposeConfig(t *testing.T) {
	topo := loadTopology(t)
	for _, tc := range []struct {
		name    string
		firstIP string
		ports   localcluster.Ports
	}{
		{"compose ports", "", topo.Ports},
		{"other ports", "127.0.0.41", localcluster.Ports{RESP: 23001, Cluster: 33001, Gossip: 23002, Metrics: 23003}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			opts, err := topo.Local(LocalConfig{Bin: "true", Dir: dir, FirstIP: tc.firstIP, Ports: tc.ports})
			if err != nil {
				t.Fatal(err)
			}
			c, err := localcluster.New(opts)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if c.Len() != len(topo.Nodes) {
				t.Fatalf("%d local nodes, want %d", c.Len(), len(topo.Nodes))
			}
			for i, n := range topo.Nodes {
				info := c.Node(i)
				local, err := cluster.Load(info.Args)
				if err != nil {
					t.Fatalf("%s: the binary would refuse its local command line:\n%v", n.Service, err)
				}
				wantIP := fmt.Sprintf("127.0.0.%d", net.ParseIP(n.IP).To4()[3])
				if tc.firstIP != "" {
					ips, _ := localcluster.IPs(tc.firstIP, len(topo.Nodes))
					wantIP = ips[i]
				}
				if info.IP != wantIP {
					t.Errorf("%s runs on %s, want %s", n.Service, info.IP, wantIP)
				}
				var seeds []string
				for _, s := range n.Seeds() {
					host, _, _ := net.SplitHostPort(s)
					seeds = append(seeds, net.JoinHostPort(c.Node(topo.index(host)).IP, strconv.Itoa(tc.ports.Gossip)))
				}
				want := map[string]string{
					"bind":                info.IP,
					"cluster-announce-ip": info.IP,
					"port":                strconv.Itoa(tc.ports.RESP),
					"cluster-port":        strconv.Itoa(tc.ports.Cluster),
					"gossip-port":         strconv.Itoa(tc.ports.Gossip),
					"metrics-port":        strconv.Itoa(tc.ports.Metrics),
					"dir":                 filepath.Join(dir, fmt.Sprintf("node%d", i+1)),
					"logfile":             "",
					"join":                strings.Join(seeds, " "),
				}
				for _, kv := range n.Config.Match([]string{"*"}) {
					name, composeValue := kv[0], kv[1]
					got := local.Get(name)
					if w, ok := want[name]; ok {
						if got != w {
							t.Errorf("%s: local %s %q, want %q", n.Service, name, got, w)
						}
					} else if got != composeValue {
						t.Errorf("%s: local %s %q, but the compose file gives %q", n.Service, name, got, composeValue)
					}
				}
			}
		})
	}
}

// TestComposeTopologyRuns starts the compose file's six nodes as local
// processes (127.0.0.11..16, free ports), waits for cluster_state:ok on
// every node, checks that each shard's replicas are in distinct zones and
// that the image's health check passes against each node, then stops them.
// About 10 s; skipped with -short.
func TestComposeTopologyRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 6 nodes")
	}
	topo := loadTopology(t)
	bin := flotillaBinary(t)
	ips, err := topo.LocalIPs("")
	if err != nil {
		t.Fatal(err)
	}
	ports := freePorts(t, ips)
	opts, err := topo.Local(LocalConfig{Bin: bin, Dir: t.TempDir(), Ports: ports})
	if err != nil {
		t.Fatal(err)
	}
	opts.StopTimeout = 10 * time.Second
	c, err := localcluster.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for i := range topo.Nodes {
				t.Logf("%s (node%d) log:\n%s", topo.Nodes[i].Service, i+1, c.LogTail(i, 30))
			}
		}
		c.Close()
	})
	if err := c.WaitReady(60 * time.Second); err != nil {
		t.Fatal(err)
	}

	// Each check is retried for a while: right after formation the
	// cluster spreads its shard leaders over the nodes, and a node can
	// see a shard without a known leader for the moment of a transfer.
	const settle = 15 * time.Second
	zoneOf := map[string]string{} // local IP -> zone
	for i, n := range topo.Nodes {
		zoneOf[c.Node(i).IP] = n.Zone
	}
	for i, n := range topo.Nodes {
		eventually(t, settle, n.Service+": CLUSTER INFO", func() error {
			info, err := localcluster.ClusterInfo(c.Addr(i), 2*time.Second)
			if err != nil {
				return err
			}
			if info["cluster_state"] != "ok" || info["cluster_known_nodes"] != strconv.Itoa(len(topo.Nodes)) {
				return fmt.Errorf("cluster_state:%s cluster_known_nodes:%s", info["cluster_state"], info["cluster_known_nodes"])
			}
			return nil
		})
	}

	rdb := redis.NewClient(&redis.Options{Addr: c.Addr(0)})
	defer rdb.Close()
	replicas := min(int(topo.Nodes[0].Config.Int("cluster-replicas")), len(topo.Nodes))
	eventually(t, settle, "CLUSTER SHARDS", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		shards, err := rdb.ClusterShards(ctx).Result()
		if err != nil {
			return err
		}
		var errs []string
		slots := 0
		for _, sh := range shards {
			for _, r := range sh.Slots {
				slots += int(r.End-r.Start) + 1
			}
			zones := map[string]string{}
			for _, sn := range sh.Nodes {
				z, ok := zoneOf[sn.IP]
				if !ok {
					errs = append(errs, fmt.Sprintf("shard %v: replica at %q, no node's address", sh.Slots, sn.IP))
				}
				if other, dup := zones[z]; dup {
					errs = append(errs, fmt.Sprintf("shard %v: replicas %s and %s both in %s", sh.Slots, other, sn.IP, z))
				}
				zones[z] = sn.IP
			}
			if len(sh.Nodes) != replicas {
				errs = append(errs, fmt.Sprintf("shard %v: %d replicas, want %d", sh.Slots, len(sh.Nodes), replicas))
			}
		}
		if slots != 16384 {
			errs = append(errs, fmt.Sprintf("shards cover %d slots, want 16384", slots))
		}
		if errs != nil {
			return errors.New(strings.Join(errs, "; "))
		}
		return nil
	})

	// The image's health check, as Docker runs it in each container (the
	// node found by its pid), and /health itself. The script needs wget,
	// which busybox has in the image; a machine without it checks /health
	// only.
	_, werr := exec.LookPath("wget")
	if werr != nil {
		t.Logf("no wget here: healthcheck.sh not run (%v)", werr)
	}
	for i, n := range topo.Nodes {
		node := c.Node(i)
		if werr == nil {
			eventually(t, settle, n.Service+": healthcheck.sh", func() error {
				cmd := exec.Command("sh", "healthcheck.sh")
				cmd.Env = append(os.Environ(), "FLOTILLA_PID="+strconv.Itoa(node.PID))
				out, err := cmd.CombinedOutput()
				if err != nil || strings.TrimSpace(string(out)) != "ok" {
					return fmt.Errorf("%v: %s", err, out)
				}
				return nil
			})
		}
		eventually(t, settle, n.Service+": /health", func() error {
			resp, err := http.Get("http://" + net.JoinHostPort(node.IP, strconv.Itoa(ports.Metrics)) + "/health")
			if err != nil {
				return err
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s: %s", resp.Status, body)
			}
			return nil
		})
	}
	// A node that does not answer fails the check.
	if werr != nil {
		return
	}
	if err := c.Kill(len(topo.Nodes) - 1); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "healthcheck.sh")
	cmd.Env = append(os.Environ(), "FLOTILLA_HEALTH_URL=http://"+net.JoinHostPort(c.Node(len(topo.Nodes)-1).IP, strconv.Itoa(ports.Metrics))+"/health")
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("healthcheck.sh passes for a killed node: %s", out)
	}
}

// eventually runs check until it succeeds, failing the test with its last
// error after timeout.
func eventually(t *testing.T, timeout time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var first error
	for {
		err := check()
		if err == nil {
			if first != nil {
				t.Logf("%s: passed after a retry; first: %v", what, first)
			}
			return
		}
		if first == nil {
			first = err
		}
		if time.Now().After(deadline) {
			t.Errorf("%s: still failing after %s: %v", what, timeout, err)
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// flotillaBinary is $FLOTILLA_BIN, or the binary built from this checkout.
func flotillaBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("FLOTILLA_BIN"); bin != "" {
		return bin
	}
	bin := filepath.Join(t.TempDir(), "flotilla")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/flotilla-db/flotilla/cmd/flotilla").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// freePorts picks ports free on every address: a RESP port whose Raft port
// (+10000) is free too, a gossip port and a metrics port.
func freePorts(t *testing.T, ips []string) localcluster.Ports {
	t.Helper()
	resp, err := localcluster.FreePort(ips, clusterBusPortOffset)
	if err != nil {
		t.Fatal(err)
	}
	gossip, err := localcluster.FreePort(ips)
	if err != nil {
		t.Fatal(err)
	}
	metrics, err := localcluster.FreePort(ips)
	if err != nil {
		t.Fatal(err)
	}
	return localcluster.Ports{RESP: resp, Cluster: resp + clusterBusPortOffset, Gossip: gossip, Metrics: metrics}
}

// TestHealthcheckScriptUnformed runs healthcheck.sh against a node that
// waits for a peer that never comes (bootstrap-expect 2): /health is 503,
// so the check fails. The node has no --cluster-announce-ip, so the script
// finds the address from --bind, as the node does.
func TestHealthcheckScriptUnformed(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	if _, err := exec.LookPath("wget"); err != nil {
		t.Skip("no wget")
	}
	c, err := localcluster.Start(localcluster.Options{
		Bin: flotillaBinary(t), Nodes: 1, FirstIP: "127.0.0.51",
		Args: []string{"--bootstrap-expect", "2"}, StopTimeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	node := c.Node(0)
	url := "http://" + net.JoinHostPort(node.IP, strconv.Itoa(c.Ports().Metrics)) + "/health"
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("/health of a node waiting for its peer: %s", resp.Status)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/health: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd := exec.Command("sh", "healthcheck.sh")
	cmd.Env = append(os.Environ(), "FLOTILLA_PID="+strconv.Itoa(node.PID))
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Errorf("healthcheck.sh passes for a node not in a formed cluster: %s", out)
	}
	if !strings.Contains(string(out), url) {
		t.Errorf("healthcheck.sh did not ask %s: %s", url, out)
	}
}
