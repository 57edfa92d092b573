package localcluster

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// Ports are the ports every node of a local cluster listens on, each node on
// its own address.
type Ports struct {
	RESP    int // clients
	Cluster int // Raft, shared by every group of the node; RESP+10000 by default
	Gossip  int // memberlist, TCP and UDP
	Metrics int // HTTP /metrics; 0 when disabled
}

// DefaultPorts are the ports of a node started with no port flags.
var DefaultPorts = Ports{RESP: 6379, Cluster: 16379, Gossip: 7946, Metrics: 9121}

// reserved remembers the ports this process handed out, so that two
// clusters started at once by parallel tests of one package never pick the
// same ones between our probe and the nodes' own bind. Ports are never
// returned: a test process starts few clusters.
var reserved struct {
	sync.Mutex
	ports map[int]bool
}

// portRange is where ports are picked: above the well-known and registered
// services that a developer machine tends to run, and below the kernel's
// ephemeral range, where a port free now could be taken by any outgoing
// connection (our nodes dial each other from their own addresses).
func portRange() (lo, hi int) {
	lo, hi = 10000, 32768
	if data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(data)); len(f) == 2 {
			if v, err := strconv.Atoi(f[0]); err == nil && v > lo+20000 {
				hi = v
			}
		}
	}
	return lo, hi
}

// pickPorts picks ports for a cluster on ips: a RESP port whose Raft port
// (RESP+10000) is free too, a gossip port free for TCP and UDP, and a
// metrics port, each free on every address at once.
func pickPorts(ips []string) (Ports, error) {
	lo, hi := portRange()
	reserved.Lock()
	defer reserved.Unlock()
	for try := 0; try < 500; try++ {
		p := Ports{RESP: lo + rand.IntN(hi-10000-lo)}
		p.Cluster = p.RESP + 10000
		p.Gossip = lo + rand.IntN(hi-lo)
		p.Metrics = lo + rand.IntN(hi-lo)
		all := []int{p.RESP, p.Cluster, p.Gossip, p.Metrics}
		if !distinctUnreserved(all) {
			continue
		}
		if portsFree(ips, all, []int{p.Gossip}) {
			for _, v := range all {
				reserveLocked(v)
			}
			return p, nil
		}
	}
	return Ports{}, errors.New("localcluster: no free ports found")
}

// FreePort returns a port P such that P and P+off, for each offset, are free
// for TCP on every address in ips. The benchmark uses it for Redis Cluster
// nodes (offset 10000, the cluster bus). Ports it returned are not returned
// again by this process.
func FreePort(ips []string, offsets ...int) (int, error) {
	lo, hi := portRange()
	span := 0
	for _, o := range offsets {
		span = max(span, o)
	}
	reserved.Lock()
	defer reserved.Unlock()
	for try := 0; try < 500; try++ {
		p := lo + rand.IntN(hi-span-lo)
		all := []int{p}
		for _, o := range offsets {
			all = append(all, p+o)
		}
		if distinctUnreserved(all) && portsFree(ips, all, nil) {
			for _, v := range all {
				reserveLocked(v)
			}
			return p, nil
		}
	}
	return 0, errors.New("localcluster: no free port found")
}

func reserveLocked(p int) {
	if reserved.ports == nil {
		reserved.ports = map[int]bool{}
	}
	reserved.ports[p] = true
}

func distinctUnreserved(ports []int) bool {
	for i, p := range ports {
		if reserved.ports[p] {
			return false
		}
		for _, q := range ports[:i] {
			if p == q {
				return false
			}
		}
	}
	return true
}

// portsFree binds every port on every address at once (TCP, and UDP for
// udp), then releases them all: the nodes bind them a moment later.
func portsFree(ips []string, tcp, udp []int) bool {
	var closers []interface{ Close() error }
	defer func() {
		for _, c := range closers {
			c.Close()
		}
	}()
	for _, ip := range ips {
		for _, p := range tcp {
			ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(p)))
			if err != nil {
				return false
			}
			closers = append(closers, ln)
		}
		for _, p := range udp {
			pc, err := net.ListenPacket("udp", net.JoinHostPort(ip, strconv.Itoa(p)))
			if err != nil {
				return false
			}
			closers = append(closers, pc)
		}
	}
	return true
}

// IPs returns n consecutive IPv4 addresses starting at first
// ("127.0.0.11" → 127.0.0.11, 127.0.0.12, ...).
func IPs(first string, n int) ([]string, error) {
	ip := net.ParseIP(first).To4()
	if ip == nil {
		return nil, fmt.Errorf("localcluster: %q is not an IPv4 address", first)
	}
	if int(ip[3])+n-1 > 254 {
		return nil, fmt.Errorf("localcluster: %d addresses from %s run past .254", n, first)
	}
	out := make([]string, n)
	for i := range out {
		out[i] = net.IPv4(ip[0], ip[1], ip[2], ip[3]+byte(i)).String()
	}
	return out, nil
}
