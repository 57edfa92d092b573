package compose

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/flotilla-db/flotilla/cluster"
	"github.com/flotilla-db/flotilla/test/localcluster"
)

// DockerfilePath is the Dockerfile that node services are built from,
// relative to their build context, the repository's root. A service built
// from it is a Flotilla node.
const DockerfilePath = "deploy/compose/Dockerfile"

// clusterBusPortOffset is where a node puts its Raft port when
// cluster-port is 0: the RESP port + 10000, Redis Cluster's bus.
const clusterBusPortOffset = 10000

// ErrTopology is wrapped by every error Load returns for a compose file
// that loads but does not describe a cluster this package can read.
var ErrTopology = errors.New("compose: not a Flotilla topology")

// Topology is the Flotilla cluster a compose file describes.
type Topology struct {
	// Project is the file as compose-go loaded it, every service included.
	Project *types.Project
	// Network is the network on which every node has its static address.
	Network string
	// Nodes are the Flotilla services, by address.
	Nodes []Node
	// Ports are every node's ports: each node has an address of its own,
	// so all use the same ones.
	Ports localcluster.Ports
}

// Node is one Flotilla service.
type Node struct {
	Service string
	// IP is the service's static IPv4 address on the topology's network.
	IP string
	// Args are the service's command: flags of the binary, which is the
	// image's entrypoint.
	Args []string
	// Config is Args as the binary reads them (cluster.Load).
	Config *cluster.Config
	// Zone is the zone directive.
	Zone string
	// Ports are the ports the node listens on, by its configuration.
	Ports localcluster.Ports
	// Volume is the named volume mounted at the node's data directory, ""
	// when there is none.
	Volume string
}

// Load reads a compose file and the Flotilla topology in it. The file is
// loaded as `docker compose` would, with no environment variables (so a
// variable in the file takes its default), and each node's command is
// parsed as the binary parses its command line.
func Load(path string) (*Topology, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	po, err := cli.NewProjectOptions([]string{abs},
		cli.WithWorkingDirectory(filepath.Dir(abs)),
		cli.WithResolvedPaths(true),
	)
	if err != nil {
		return nil, err
	}
	p, err := po.LoadProject(context.Background())
	if err != nil {
		return nil, err
	}
	t := &Topology{Project: p}
	for _, name := range p.ServiceNames() {
		svc := p.Services[name]
		if !IsNode(svc) {
			continue
		}
		n, err := t.readNode(svc)
		if err != nil {
			return nil, fmt.Errorf("%w: service %s: %w", ErrTopology, name, err)
		}
		t.Nodes = append(t.Nodes, n)
	}
	for name, svc := range p.DisabledServices {
		if IsNode(svc) {
			return nil, fmt.Errorf("%w: service %s is a node but has profiles %v: every node must run on `docker compose up`", ErrTopology, name, svc.Profiles)
		}
	}
	if len(t.Nodes) == 0 {
		return nil, fmt.Errorf("%w: no service is built from %s", ErrTopology, DockerfilePath)
	}
	slices.SortFunc(t.Nodes, func(a, b Node) int {
		return bytes.Compare(net.ParseIP(a.IP).To4(), net.ParseIP(b.IP).To4())
	})
	t.Ports = t.Nodes[0].Ports
	for _, n := range t.Nodes[1:] {
		if n.Ports != t.Ports {
			return nil, fmt.Errorf("%w: %s listens on %+v but %s on %+v: the nodes' ports must be the same (each node has its own address)",
				ErrTopology, t.Nodes[0].Service, t.Ports, n.Service, n.Ports)
		}
	}
	return t, nil
}

// IsNode reports whether a service is a Flotilla node: built from
// DockerfilePath.
func IsNode(svc types.ServiceConfig) bool {
	if svc.Build == nil {
		return false
	}
	df := svc.Build.Dockerfile
	if filepath.IsAbs(df) {
		rel, err := filepath.Rel(svc.Build.Context, df)
		if err != nil {
			return false
		}
		df = rel
	}
	return filepath.ToSlash(filepath.Clean(df)) == DockerfilePath
}

// readNode reads one node service; t.Network is set by the first.
func (t *Topology) readNode(svc types.ServiceConfig) (Node, error) {
	n := Node{Service: svc.Name, Args: slices.Clone([]string(svc.Command))}
	if len(svc.Entrypoint) > 0 {
		return n, fmt.Errorf("entrypoint %q: the image's entrypoint is the binary, and the command its flags", svc.Entrypoint)
	}
	if len(n.Args) == 0 || !strings.HasPrefix(n.Args[0], "--") {
		return n, fmt.Errorf("command %q: want flotilla flags (--name value ...); a config file is not in the image", n.Args)
	}
	cfg, err := cluster.Load(n.Args)
	if err != nil {
		return n, fmt.Errorf("the binary refuses its command:\n%w", err)
	}
	if !cfg.Bool("cluster-enabled") {
		return n, errors.New("cluster-enabled no: not a cluster node")
	}
	n.Config = cfg
	n.Zone = cfg.Get("zone")

	for name, nc := range svc.Networks {
		if nc == nil || nc.Ipv4Address == "" {
			continue
		}
		if n.IP != "" {
			return n, fmt.Errorf("static addresses on two networks (%s and %s)", t.Network, name)
		}
		if t.Network != "" && t.Network != name {
			return n, fmt.Errorf("its static address is on network %s, the other nodes' on %s", name, t.Network)
		}
		t.Network, n.IP = name, nc.Ipv4Address
	}
	if ip := net.ParseIP(n.IP).To4(); ip == nil {
		return n, fmt.Errorf("no static IPv4 address (networks: <name>: ipv4_address: ...): a node announces its address to peers and clients, so it must not change")
	}

	n.Ports = localcluster.Ports{
		RESP:    int(cfg.Int("port")),
		Cluster: int(cfg.Int("cluster-port")),
		Gossip:  int(cfg.Int("gossip-port")),
		Metrics: int(cfg.Int("metrics-port")),
	}
	if n.Ports.Cluster == 0 {
		n.Ports.Cluster = n.Ports.RESP + clusterBusPortOffset
	}
	if n.Ports.RESP == 0 || n.Ports.Gossip == 0 {
		return n, fmt.Errorf("port %d, gossip-port %d: a node's peers and clients need fixed ports", n.Ports.RESP, n.Ports.Gossip)
	}

	dir := filepath.Clean(cfg.Get("dir"))
	for _, v := range svc.Volumes {
		if filepath.Clean(v.Target) == dir && v.Type == types.VolumeTypeVolume {
			n.Volume = v.Source
		}
	}
	return n, nil
}

// Node returns the node of a service name or of an address, or nil.
func (t *Topology) Node(host string) *Node {
	if i := t.index(host); i >= 0 {
		return &t.Nodes[i]
	}
	return nil
}

// index is the index of the node of a service name or address, or -1.
func (t *Topology) index(host string) int {
	return slices.IndexFunc(t.Nodes, func(n Node) bool { return n.Service == host || n.IP == host })
}

// Zones are the nodes' zones, each once, in the order of the nodes.
func (t *Topology) Zones() []string {
	var zones []string
	for _, n := range t.Nodes {
		if !slices.Contains(zones, n.Zone) {
			zones = append(zones, n.Zone)
		}
	}
	return zones
}

// Seeds are the nodes a node's --join names, each as host and port (the
// gossip port when the flag gives none).
func (n *Node) Seeds() []string {
	var out []string
	for _, a := range strings.Fields(n.Config.Get("join")) {
		if _, _, err := net.SplitHostPort(a); err != nil {
			a = net.JoinHostPort(a, n.Config.Get("gossip-port"))
		}
		out = append(out, a)
	}
	return out
}
