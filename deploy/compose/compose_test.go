package compose

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v4"

	"github.com/flotilla-db/flotilla/cluster"
)

// The checks of this file need no Docker engine: the compose file is loaded
// by compose-go, the library `docker compose` is built on, and each node's
// command by cluster.Load, the function cmd/flotilla parses its command
// line with before anything else (a flag it refuses stops the binary with
// the same error). local_test.go then runs the binary with those flags.

const (
	composeFile    = "docker-compose.yml"
	prometheusFile = "prometheus.yml"
	dockerfile     = "Dockerfile"
	healthScript   = "/usr/local/bin/flotilla-healthcheck"
	wantNodes      = 6
	wantZones      = 3
)

func loadTopology(t *testing.T) *Topology {
	t.Helper()
	topo, err := Load(composeFile)
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

func TestComposeLoads(t *testing.T) {
	topo := loadTopology(t)
	if topo.Project.Name != "flotilla" {
		t.Errorf("project name %q, want flotilla (volume and network names derive from it)", topo.Project.Name)
	}
	if len(topo.Nodes) != wantNodes {
		t.Fatalf("%d Flotilla services, want %d", len(topo.Nodes), wantNodes)
	}
	for i, n := range topo.Nodes {
		if want := fmt.Sprintf("flotilla-%d", i+1); n.Service != want {
			t.Errorf("node %d (by address) is %s, want %s: the README's drills name them in address order", i, n.Service, want)
		}
	}
}

// TestFlagsAccepted runs each node's command through the binary's parser,
// and checks the flags a node in a container must have.
func TestFlagsAccepted(t *testing.T) {
	topo := loadTopology(t)
	for _, n := range topo.Nodes {
		t.Run(n.Service, func(t *testing.T) {
			cfg, err := cluster.Load(n.Args)
			if err != nil {
				t.Fatalf("flotilla %s:\n%v", strings.Join(n.Args, " "), err)
			}
			for _, d := range directives(n.Args) {
				if cfg.Match([]string{d.name}) == nil {
					t.Errorf("--%s is no directive of the binary", d.name)
				}
			}
			if got := cfg.Get("cluster-announce-ip"); got != n.IP {
				t.Errorf("cluster-announce-ip %q, want the service's static address %s (the node binds Raft, gossip and metrics on it)", got, n.IP)
			}
			for _, b := range strings.Fields(cfg.Get("bind")) {
				if b = strings.TrimPrefix(b, "-"); b != "0.0.0.0" && b != "*" && b != n.IP {
					t.Errorf("bind %s: want 0.0.0.0 or the node's address", b)
				}
			}
			if got, want := cfg.Int("bootstrap-expect"), int64(len(topo.Nodes)); got != want {
				t.Errorf("bootstrap-expect %d, want %d (every node)", got, want)
			}
			if cfg.Get("dir") != "/data" {
				t.Errorf("dir %q, want /data, the image's volume", cfg.Get("dir"))
			}
			if cfg.Bool("protected-mode") && cfg.Get("requirepass") == "" {
				t.Errorf("protected-mode yes with no requirepass: clients in other containers would be refused")
			}
			if cfg.Get("logfile") != "" {
				t.Errorf("logfile %q: leave the log on stdout for `docker compose logs`", cfg.Get("logfile"))
			}
			if r := cfg.Int("cluster-replicas"); r > wantZones {
				t.Errorf("cluster-replicas %d: more replicas than zones", r)
			}
		})
	}
}

func TestZones(t *testing.T) {
	topo := loadTopology(t)
	byZone := map[string][]Node{}
	for _, n := range topo.Nodes {
		byZone[n.Zone] = append(byZone[n.Zone], n)
	}
	if len(byZone) != wantZones {
		t.Fatalf("zones %v, want %d", topo.Zones(), wantZones)
	}
	for z, nodes := range byZone {
		if z == "default" || z == "" {
			t.Errorf("zone %q: every node should name its zone", z)
		}
		if len(nodes) != wantNodes/wantZones {
			t.Errorf("zone %s has %d nodes, want %d", z, len(nodes), wantNodes/wantZones)
		}
	}
	// Two nodes of one zone are two machines of it: nothing of theirs is
	// shared (addresses, volumes and published ports are distinct across
	// all nodes, below), and the zones interleave in address order as in
	// `make cluster`, so that node N is in zone (N-1) % 3.
	for i, n := range topo.Nodes {
		if want := topo.Zones()[i%wantZones]; n.Zone != want {
			t.Errorf("%s in zone %s, want %s", n.Service, n.Zone, want)
		}
	}
	// A replica per zone: the shards' replicas fit in distinct zones.
	for _, n := range topo.Nodes {
		if r := int(n.Config.Int("cluster-replicas")); r > len(byZone) {
			t.Errorf("%s: cluster-replicas %d > %d zones", n.Service, r, len(byZone))
		}
	}
}

func TestAddresses(t *testing.T) {
	topo := loadTopology(t)
	nw := topo.Project.Networks[topo.Network]
	if len(nw.Ipam.Config) != 1 {
		t.Fatalf("network %s: %d ipam pools, want 1", topo.Network, len(nw.Ipam.Config))
	}
	pool := nw.Ipam.Config[0]
	_, subnet, err := net.ParseCIDR(pool.Subnet)
	if err != nil {
		t.Fatalf("subnet %q: %v", pool.Subnet, err)
	}
	// Docker hands out addresses from ip_range to the services without a
	// static one (Prometheus, redis-cli): a node's address must lie outside
	// it, or another container could take it first.
	_, dynamic, err := net.ParseCIDR(pool.IPRange)
	if err != nil {
		t.Fatalf("ip_range %q: %v (set one, so dynamic addresses avoid the nodes')", pool.IPRange, err)
	}
	seen := map[string]string{}
	for _, n := range topo.Nodes {
		ip := net.ParseIP(n.IP)
		switch {
		case !subnet.Contains(ip):
			t.Errorf("%s: %s outside the subnet %s", n.Service, n.IP, subnet)
		case dynamic.Contains(ip):
			t.Errorf("%s: %s inside ip_range %s, where Docker gives addresses to other containers", n.Service, n.IP, dynamic)
		case n.IP == pool.Gateway:
			t.Errorf("%s: %s is the gateway", n.Service, n.IP)
		}
		if other, dup := seen[n.IP]; dup {
			t.Errorf("%s and %s share %s", other, n.Service, n.IP)
		}
		seen[n.IP] = n.Service
	}
	for name, svc := range topo.Project.Services {
		if IsNode(svc) {
			continue
		}
		for nwName, nc := range svc.Networks {
			if nwName == topo.Network && nc != nil && nc.Ipv4Address != "" && !dynamic.Contains(net.ParseIP(nc.Ipv4Address)) {
				if other, dup := seen[nc.Ipv4Address]; dup {
					t.Errorf("%s takes %s's address %s", name, other, nc.Ipv4Address)
				}
			}
		}
	}
}

func TestPorts(t *testing.T) {
	topo := loadTopology(t)
	exposed := dockerfileExposed(t)
	hostPorts := map[string]string{}
	for name, svc := range topo.Project.Services {
		for _, p := range svc.Ports {
			key := p.HostIP + ":" + p.Published + "/" + p.Protocol
			if other, dup := hostPorts[key]; dup {
				t.Errorf("%s and %s both publish %s", other, name, key)
			}
			hostPorts[key] = name
		}
	}
	for _, n := range topo.Nodes {
		p := n.Ports
		if p.Cluster != p.RESP+clusterBusPortOffset {
			t.Errorf("%s: cluster port %d, want RESP port + 10000 = %d", n.Service, p.Cluster, p.RESP+clusterBusPortOffset)
		}
		if p.Metrics == 0 {
			t.Errorf("%s: metrics-port 0: no /health for the health check, no /metrics for Prometheus", n.Service)
		}
		all := []int{p.RESP, p.Cluster, p.Gossip, p.Metrics}
		for i := range all {
			if slices.Contains(all[:i], all[i]) {
				t.Errorf("%s: port %d used twice in %+v", n.Service, all[i], p)
			}
		}
		for _, want := range []string{
			fmt.Sprintf("%d/tcp", p.RESP), fmt.Sprintf("%d/tcp", p.Cluster),
			fmt.Sprintf("%d/tcp", p.Gossip), fmt.Sprintf("%d/udp", p.Gossip), fmt.Sprintf("%d/tcp", p.Metrics),
		} {
			if !exposed[want] {
				t.Errorf("%s listens on %s, which the Dockerfile does not EXPOSE", n.Service, want)
			}
		}
		// Clients reach a node first through its published RESP port;
		// the metrics port serves curl .../health from the host.
		svc := topo.Project.Services[n.Service]
		published := map[uint32]types.ServicePortConfig{}
		for _, sp := range svc.Ports {
			published[sp.Target] = sp
		}
		for _, target := range []int{p.RESP, p.Metrics} {
			sp, ok := published[uint32(target)]
			if !ok {
				t.Errorf("%s does not publish port %d", n.Service, target)
				continue
			}
			if n.Config.Get("requirepass") == "" && !net.ParseIP(sp.HostIP).IsLoopback() {
				t.Errorf("%s publishes %d on %q with no password: bind it to 127.0.0.1", n.Service, target, sp.HostIP)
			}
		}
	}
}

func TestVolumes(t *testing.T) {
	topo := loadTopology(t)
	df := readDockerfile(t)
	owner := map[string]string{}
	for _, n := range topo.Nodes {
		if n.Volume == "" {
			t.Errorf("%s: no named volume at its dir %s", n.Service, n.Config.Get("dir"))
			continue
		}
		if other, dup := owner[n.Volume]; dup {
			t.Errorf("%s and %s share the volume %s", other, n.Service, n.Volume)
		}
		owner[n.Volume] = n.Service
		if _, ok := topo.Project.Volumes[n.Volume]; !ok {
			t.Errorf("%s: volume %s is not declared", n.Service, n.Volume)
		}
		if !slices.Contains(df["VOLUME"], n.Config.Get("dir")) {
			t.Errorf("%s: dir %s is not a VOLUME of the Dockerfile (%v)", n.Service, n.Config.Get("dir"), df["VOLUME"])
		}
	}
}

// TestJoin checks that the gossip of a new cluster forms one group: every
// seed a node names is another node, on its gossip port, and one node is
// everybody's seed. (Nodes that all named each other could pair off into
// groups that never meet, and never reach bootstrap-expect.)
func TestJoin(t *testing.T) {
	topo := loadTopology(t)
	named := map[string]int{}
	for _, n := range topo.Nodes {
		for _, s := range n.Seeds() {
			host, port, _ := net.SplitHostPort(s)
			peer := topo.Node(host)
			switch {
			case peer == nil:
				t.Errorf("%s joins %s, which is no node's service name or address", n.Service, s)
			case peer.Service == n.Service:
				t.Errorf("%s joins itself: it would count as joined and stop looking", n.Service)
			case port != strconv.Itoa(peer.Ports.Gossip):
				t.Errorf("%s joins %s, but %s's gossip port is %d", n.Service, s, peer.Service, peer.Ports.Gossip)
			default:
				named[peer.Service]++
			}
		}
	}
	for _, n := range topo.Nodes {
		if named[n.Service] == len(topo.Nodes)-1 {
			return
		}
	}
	t.Errorf("no node is every other node's seed (seeds named: %v)", named)
}

func TestHealthcheck(t *testing.T) {
	topo := loadTopology(t)
	df := readDockerfile(t)
	if hc := strings.Join(df["HEALTHCHECK"], " "); !strings.Contains(hc, healthScript) {
		t.Errorf("Dockerfile HEALTHCHECK %q does not run %s", hc, healthScript)
	}
	if !slices.ContainsFunc(df["COPY"], func(s string) bool { return strings.Contains(s, "deploy/compose/healthcheck.sh "+healthScript) }) {
		t.Errorf("the Dockerfile does not COPY healthcheck.sh to %s", healthScript)
	}
	for _, n := range topo.Nodes {
		hc := topo.Project.Services[n.Service].HealthCheck
		if hc == nil || hc.Disable || len(hc.Test) == 0 {
			t.Errorf("%s: no health check", n.Service)
			continue
		}
		if got := strings.Join(hc.Test, " "); got != "CMD "+healthScript {
			t.Errorf("%s: health check %q, want CMD %s", n.Service, got, healthScript)
		}
		// No node is healthy before every node has started and the
		// cluster has formed: the start period must cover that.
		if hc.StartPeriod == nil || time.Duration(*hc.StartPeriod) < 30*time.Second {
			t.Errorf("%s: start_period %v, want at least 30s", n.Service, hc.StartPeriod)
		}
		for _, d := range topo.Project.Services[n.Service].DependsOn {
			if d.Condition == types.ServiceConditionHealthy {
				t.Errorf("%s waits for a healthy service: no node is healthy before all have started", n.Service)
			}
		}
	}
}

// TestPrometheus checks that Prometheus runs on the nodes' network with
// prometheus.yml from this folder, and that the file scrapes every node's
// metrics port, by service name, with its zone as a label.
func TestPrometheus(t *testing.T) {
	topo := loadTopology(t)
	svc, ok := topo.Project.Services["prometheus"]
	if !ok {
		t.Fatal("no prometheus service")
	}
	if !strings.HasPrefix(svc.Image, "prom/prometheus:") {
		t.Errorf("prometheus image %q", svc.Image)
	}
	if _, ok := svc.Networks[topo.Network]; !ok {
		t.Errorf("prometheus is not on network %s", topo.Network)
	}
	abs, _ := filepath.Abs(prometheusFile)
	mounted := slices.ContainsFunc(svc.Volumes, func(v types.ServiceVolumeConfig) bool {
		return v.Type == types.VolumeTypeBind && v.Source == abs && v.Target == "/etc/prometheus/prometheus.yml"
	})
	if !mounted {
		t.Errorf("prometheus does not mount %s at /etc/prometheus/prometheus.yml", abs)
	}

	data, err := os.ReadFile(prometheusFile)
	if err != nil {
		t.Fatal(err)
	}
	var conf struct {
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			MetricsPath   string `yaml:"metrics_path"`
			Scheme        string `yaml:"scheme"`
			StaticConfigs []struct {
				Targets []string          `yaml:"targets"`
				Labels  map[string]string `yaml:"labels"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(data, &conf); err != nil {
		t.Fatalf("%s: %v", prometheusFile, err)
	}
	scraped := map[string]string{} // target -> zone label
	for _, sc := range conf.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			for _, target := range st.Targets {
				host, _, _ := net.SplitHostPort(target)
				if topo.Node(host) == nil {
					continue
				}
				if sc.MetricsPath != "" && sc.MetricsPath != "/metrics" || sc.Scheme != "" && sc.Scheme != "http" {
					t.Errorf("job %s scrapes %s at %s://%s", sc.JobName, target, sc.Scheme, sc.MetricsPath)
				}
				if _, dup := scraped[target]; dup {
					t.Errorf("%s scraped twice", target)
				}
				scraped[target] = st.Labels["zone"]
			}
		}
	}
	for _, n := range topo.Nodes {
		target := net.JoinHostPort(n.Service, strconv.Itoa(n.Ports.Metrics))
		zone, ok := scraped[target]
		if !ok {
			t.Errorf("%s: Prometheus does not scrape %s (its metrics port)", n.Service, target)
		} else if zone != n.Zone {
			t.Errorf("%s: scraped with zone=%q, its zone is %s", target, zone, n.Zone)
		}
		delete(scraped, target)
	}
	for target := range scraped {
		t.Errorf("Prometheus scrapes %s, which is no node's metrics port", target)
	}
}

func TestDockerfile(t *testing.T) {
	df := readDockerfile(t)
	if len(df["FROM"]) < 2 {
		t.Errorf("FROM %v: want a build stage and a runtime stage", df["FROM"])
	}
	text := strings.Join(df["ENV"], " ") + " " + strings.Join(df["RUN"], " ")
	if !strings.Contains(text, "CGO_ENABLED=0") {
		t.Error("the binary is not built with CGO_ENABLED=0")
	}
	if !slices.ContainsFunc(df["RUN"], func(s string) bool { return strings.Contains(s, "go build") && strings.Contains(s, "./cmd/flotilla") }) {
		t.Error("no RUN builds ./cmd/flotilla")
	}
	users := df["USER"]
	if len(users) == 0 {
		t.Error("no USER: the node would run as root")
	} else if u := strings.Split(users[len(users)-1], ":")[0]; u == "root" || u == "0" {
		t.Errorf("USER %s", users[len(users)-1])
	}
	if ep := strings.Join(df["ENTRYPOINT"], " "); !strings.Contains(ep, "/usr/local/bin/flotilla\"") {
		t.Errorf("ENTRYPOINT %q: want the binary, so a service's command is its flags", ep)
	}
	for _, f := range []string{"healthcheck.sh", "Dockerfile.dockerignore"} {
		if _, err := os.Stat(f); err != nil {
			t.Error(err)
		}
	}
}

// readDockerfile returns the Dockerfile's instructions, each instruction's
// arguments in order, continuation lines joined.
func readDockerfile(t *testing.T) map[string][]string {
	t.Helper()
	f, err := os.Open(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	var cur string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if cur == "" && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			cur += strings.TrimSuffix(line, "\\") + " "
			continue
		}
		cur += line
		instr, args, _ := strings.Cut(cur, " ")
		out[strings.ToUpper(instr)] = append(out[strings.ToUpper(instr)], strings.Join(strings.Fields(args), " "))
		cur = ""
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// dockerfileExposed returns the ports the Dockerfile EXPOSEs, as
// "6379/tcp".
func dockerfileExposed(t *testing.T) map[string]bool {
	out := map[string]bool{}
	for _, line := range readDockerfile(t)["EXPOSE"] {
		for _, p := range strings.Fields(line) {
			if !strings.Contains(p, "/") {
				p += "/tcp"
			}
			out[p] = true
		}
	}
	return out
}
