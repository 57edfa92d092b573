package compose

import (
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/flotilla-db/flotilla/test/localcluster"
)

// LocalConfig says where a topology runs on this machine.
type LocalConfig struct {
	// Bin is the flotilla binary.
	Bin string
	// Dir holds node i's data (and log) in Dir/node<i+1>, as
	// test/localcluster lays them out; node i is the topology's i-th node,
	// by address.
	Dir string
	// FirstIP is the first node's local address; node i has the i-th next
	// one. When empty, 127.0.0.x where x is the last byte of the first
	// node's IP, so 172.28.5.11..16 run on 127.0.0.11..16.
	FirstIP string
	// Ports are the ports every node listens on: the topology's own
	// (Topology.Ports) to stand in for the containers, or free ones for a
	// test. A topology whose nodes have no metrics port keeps none.
	Ports localcluster.Ports
	// Detach lets the processes outlive the caller (see
	// localcluster.Options.Detach).
	Detach bool
}

// mapped are the directives whose values name this machine's addresses,
// ports and paths: Local gives each node its local value. Every other
// directive is passed as the compose file writes it.
var mapped = []string{"bind", "cluster-announce-ip", "port", "cluster-port", "gossip-port", "metrics-port", "dir", "logfile", "join"}

// asserted are directives test/localcluster sets on its own: Local repeats
// the compose file's value (its default when the file leaves it out), so
// the node's configuration is the file's.
var asserted = []string{"loglevel", "cluster-enabled", "zone", "bootstrap-expect"}

// Local returns the options that run the topology as local processes with
// test/localcluster. Node i's command line is localcluster's, then the
// compose file's flags with the addresses, ports, data directory and seeds
// mapped (see LocalArgs); later flags win, so each node runs the
// configuration its service has.
func (t *Topology) Local(lc LocalConfig) (localcluster.Options, error) {
	ips, err := t.LocalIPs(lc.FirstIP)
	if err != nil {
		return localcluster.Options{}, err
	}
	ports := lc.Ports
	if t.Ports.Metrics == 0 {
		ports.Metrics = 0
	}
	opts := localcluster.Options{
		Bin:         lc.Bin,
		Nodes:       len(t.Nodes),
		Zones:       len(t.Zones()),
		FirstIP:     ips[0],
		Port:        ports.RESP,
		ClusterPort: ports.Cluster,
		GossipPort:  ports.Gossip,
		MetricsPort: ports.Metrics,
		BaseDir:     lc.Dir,
		Detach:      lc.Detach,
	}
	if ports.Metrics == 0 {
		opts.MetricsPort = -1
	}
	for i := range t.Nodes {
		dataDir, err := filepath.Abs(filepath.Join(lc.Dir, fmt.Sprintf("node%d", i+1)))
		if err != nil {
			return opts, err
		}
		args, err := t.LocalArgs(i, ips, dataDir, ports)
		if err != nil {
			return opts, err
		}
		opts.ExtraArgs = append(opts.ExtraArgs, args)
	}
	return opts, nil
}

// LocalIPs are the nodes' local addresses, node i's at index i (see
// LocalConfig.FirstIP). The nodes' own addresses must be consecutive, as
// localcluster numbers them.
func (t *Topology) LocalIPs(firstIP string) ([]string, error) {
	for i := 1; i < len(t.Nodes); i++ {
		prev, cur := net.ParseIP(t.Nodes[i-1].IP).To4(), net.ParseIP(t.Nodes[i].IP).To4()
		if cur[3] != prev[3]+1 || !cur[:3].Equal(prev[:3]) {
			return nil, fmt.Errorf("compose: %s (%s) and %s (%s): the nodes' addresses must be consecutive to run them on loopback addresses",
				t.Nodes[i-1].Service, t.Nodes[i-1].IP, t.Nodes[i].Service, t.Nodes[i].IP)
		}
	}
	if firstIP == "" {
		firstIP = fmt.Sprintf("127.0.0.%d", net.ParseIP(t.Nodes[0].IP).To4()[3])
	}
	return localcluster.IPs(firstIP, len(t.Nodes))
}

// LocalArgs are node i's flags on this machine: the flags of its service
// that name no address, port or path, as written, then the mapped
// directives, each with the value the node's configuration has (its
// default when the service leaves it out) made local: the node's IP or a
// wildcard becomes ips[i], the topology's ports become ports, --dir becomes
// dataDir (and a logfile a file in it), and each --join seed, a service
// name or a node's IP, the peer's local address and gossip port.
func (t *Topology) LocalArgs(i int, ips []string, dataDir string, ports localcluster.Ports) ([]string, error) {
	n := &t.Nodes[i]
	fail := func(format string, a ...any) error {
		return fmt.Errorf("compose: %s: %s", n.Service, fmt.Sprintf(format, a...))
	}
	var args []string
	for _, g := range directives(n.Args) {
		if g.name == "include" {
			return nil, fail("--include: a config file is not in the image")
		}
		if !slices.Contains(mapped, g.name) && !slices.Contains(asserted, g.name) {
			args = append(args, g.args...)
		}
	}
	local := ips[i]
	cfg := n.Config
	for _, name := range append(append([]string(nil), asserted...), mapped...) {
		v := cfg.Get(name)
		switch name {
		case "bind":
			// A container's own loopback address has no counterpart
			// either, but the local address is a loopback one anyway.
			for _, a := range strings.Fields(v) {
				a = strings.TrimPrefix(a, "-")
				ip := net.ParseIP(a)
				if a != "*" && a != "::*" && a != n.IP && (ip == nil || !ip.IsUnspecified() && !ip.IsLoopback()) {
					return nil, fail("bind %s: neither a wildcard, a loopback address nor the node's address %s, so it has no local counterpart", a, n.IP)
				}
			}
			v = local
		case "cluster-announce-ip":
			if v != "" && v != n.IP {
				return nil, fail("cluster-announce-ip %s is not the node's address %s", v, n.IP)
			}
			if v != "" {
				v = local
			}
		case "port":
			v = strconv.Itoa(ports.RESP)
		case "cluster-port":
			v = strconv.Itoa(ports.Cluster)
		case "gossip-port":
			v = strconv.Itoa(ports.Gossip)
		case "metrics-port":
			if v != "0" {
				v = strconv.Itoa(ports.Metrics)
			}
		case "dir":
			v = dataDir
		case "logfile":
			if v != "" {
				v = filepath.Join(dataDir, filepath.Base(v))
			}
		case "join":
			var seeds []string
			for _, s := range n.Seeds() {
				host, port, _ := net.SplitHostPort(s)
				j := t.index(host)
				if j < 0 {
					return nil, fail("--join %s: %s is neither a node's service name nor its address", s, host)
				}
				if port != strconv.Itoa(t.Nodes[j].Ports.Gossip) {
					return nil, fail("--join %s: %s's gossip port is %d", s, t.Nodes[j].Service, t.Nodes[j].Ports.Gossip)
				}
				seeds = append(seeds, net.JoinHostPort(ips[j], strconv.Itoa(ports.Gossip)))
			}
			v = strings.Join(seeds, " ")
		}
		args = append(args, "--"+name, v)
	}
	return args, nil
}

// directive is one "--name value ..." group of a command line.
type directive struct {
	name string   // lower case, as the binary matches it
	args []string // the flag and its values, as written
}

// directives splits a command line as cluster.Load does: every "--name"
// starts a directive, the words after it are its values.
func directives(args []string) []directive {
	var out []directive
	for _, a := range args {
		if strings.HasPrefix(a, "--") {
			out = append(out, directive{name: strings.ToLower(strings.TrimPrefix(a, "--"))})
		}
		if len(out) > 0 {
			out[len(out)-1].args = append(out[len(out)-1].args, a)
		}
	}
	return out
}
