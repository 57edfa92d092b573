package chaos

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// chainPrefix names the iptables chains of the drills. Each run has its own
// chain, FLOTILLA-CHAOS-<pid>, so that two drills on one machine (on
// different addresses) do not remove each other's rules; a chain whose
// process is gone is stale and removed when the next Firewall opens.
const chainPrefix = "FLOTILLA-CHAOS-"

// ErrNoFirewall is returned by OpenFirewall when partitions cannot be made:
// not root, or no working iptables. Partition faults are then skipped.
var ErrNoFirewall = errors.New("chaos: iptables unavailable")

// Firewall cuts traffic between loopback addresses with iptables: a
// dedicated chain holds the rules of each cut direction (-s from -d to,
// DROP or REJECT).
// The chain is jumped to from INPUT only: a packet dropped there vanishes
// and its sender times out, as across a real partition, where a DROP in
// OUTPUT would fail the sender's send at once with EPERM ("operation not
// permitted"), which no network does and which makes Raft's replication
// back off far faster than it would. Every rule goes away with Close,
// which the runner defers and also calls on SIGINT/SIGTERM. Safe for
// concurrent use.
type Firewall struct {
	bin   string
	chain string

	mu struct {
		sync.Mutex
		closed bool
		cuts   map[cutKey]int // references
	}
}

// OpenFirewall checks that iptables works here (root, a usable backend),
// removes the chains of drills that are no longer running, and makes this
// run's chain. The error wraps ErrNoFirewall when partitions are not
// possible.
func OpenFirewall() (*Firewall, error) {
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("%w: not root (partitions need iptables as root)", ErrNoFirewall)
	}
	bin, err := exec.LookPath("iptables")
	if err != nil {
		return nil, fmt.Errorf("%w: iptables not installed (make tools installs it)", ErrNoFirewall)
	}
	fw := &Firewall{bin: bin, chain: chainPrefix + strconv.Itoa(os.Getpid())}
	fw.mu.cuts = map[cutKey]int{}
	if _, err := fw.run("-L", "OUTPUT", "-n"); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoFirewall, err)
	}
	fw.removeStale()
	// A chain left by an earlier process with our pid: start clean.
	fw.removeChain(fw.chain)
	if _, err := fw.run("-N", fw.chain); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoFirewall, err)
	}
	if _, err := fw.run("-I", "INPUT", "1", "-j", fw.chain); err != nil {
		fw.removeChain(fw.chain)
		return nil, fmt.Errorf("%w: %v", ErrNoFirewall, err)
	}
	return fw, nil
}

// Chain is the name of this run's chain.
func (fw *Firewall) Chain() string { return fw.chain }

// run runs iptables with args (waiting for the xtables lock).
func (fw *Firewall) run(args ...string) (string, error) {
	out, err := exec.Command(fw.bin, append([]string{"-w", "5"}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("iptables %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// removeStale removes the chains FLOTILLA-CHAOS-<pid> whose process is gone,
// and the bare FLOTILLA-CHAOS chain older drills may have left.
func (fw *Firewall) removeStale() {
	out, err := fw.run("-S")
	if err != nil {
		return
	}
	for _, chain := range staleChains(out, processAlive) {
		fw.removeChain(chain)
	}
}

// staleChains returns the drill chains declared in iptables -S output whose
// owner is not alive.
func staleChains(listing string, alive func(pid int) bool) []string {
	var out []string
	for _, line := range strings.Split(listing, "\n") {
		f := strings.Fields(line)
		if len(f) != 2 || f[0] != "-N" {
			continue
		}
		chain := f[1]
		if chain == strings.TrimSuffix(chainPrefix, "-") {
			out = append(out, chain)
			continue
		}
		pid, err := strconv.Atoi(strings.TrimPrefix(chain, chainPrefix))
		if !strings.HasPrefix(chain, chainPrefix) || err != nil {
			continue
		}
		if !alive(pid) {
			out = append(out, chain)
		}
	}
	return out
}

func processAlive(pid int) bool {
	if pid == os.Getpid() {
		return true
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// removeChain unhooks chain from INPUT and OUTPUT (every jump to it; older
// drills hooked both),
// flushes it and deletes it. Errors are ignored: the chain may not exist.
func (fw *Firewall) removeChain(chain string) {
	for _, hook := range []string{"INPUT", "OUTPUT"} {
		for i := 0; i < 16; i++ {
			if _, err := fw.run("-D", hook, "-j", chain); err != nil {
				break
			}
		}
	}
	fw.run("-F", chain)
	fw.run("-X", chain)
}

// How a cut treats the packets it catches.
type CutKind int

const (
	// Drop discards them silently: senders time out, as across a real
	// partition.
	Drop CutKind = iota
	// Reject answers them (TCP reset, ICMP port unreachable), as a
	// firewall that rejects does: senders fail at once, like dialling a
	// host whose process is gone.
	Reject
)

func (k CutKind) String() string {
	if k == Reject {
		return "REJECT"
	}
	return "DROP"
}

// rules are the iptables rule specs (after "-A chain") of a cut.
func (k CutKind) rules(from, to string) [][]string {
	base := []string{"-s", from, "-d", to}
	if k == Reject {
		return [][]string{
			append(slices.Clone(base), "-p", "tcp", "-j", "REJECT", "--reject-with", "tcp-reset"),
			append(slices.Clone(base), "-j", "REJECT"),
		}
	}
	return [][]string{append(base, "-j", "DROP")}
}

type cutKey struct {
	kind     CutKind
	from, to string
}

// Cut cuts the traffic from address from to address to (one direction).
// Cuts are counted: the same cut made twice needs two Uncuts.
func (fw *Firewall) Cut(kind CutKind, from, to string) error {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	if fw.mu.closed {
		return errors.New("chaos: firewall closed")
	}
	k := cutKey{kind, from, to}
	if fw.mu.cuts[k] == 0 {
		for i, r := range kind.rules(from, to) {
			if _, err := fw.run(append([]string{"-A", fw.chain}, r...)...); err != nil {
				for _, done := range kind.rules(from, to)[:i] {
					fw.run(append([]string{"-D", fw.chain}, done...)...)
				}
				return err
			}
		}
	}
	fw.mu.cuts[k]++
	return nil
}

// Uncut undoes one Cut(kind, from, to).
func (fw *Firewall) Uncut(kind CutKind, from, to string) error {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	k := cutKey{kind, from, to}
	if fw.mu.closed || fw.mu.cuts[k] == 0 {
		return nil
	}
	fw.mu.cuts[k]--
	if fw.mu.cuts[k] > 0 {
		return nil
	}
	delete(fw.mu.cuts, k)
	var errs []error
	for _, r := range kind.rules(from, to) {
		_, err := fw.run(append([]string{"-D", fw.chain}, r...)...)
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Drop is Cut(Drop, from, to).
func (fw *Firewall) Drop(from, to string) error { return fw.Cut(Drop, from, to) }

// Allow is Uncut(Drop, from, to).
func (fw *Firewall) Allow(from, to string) error { return fw.Uncut(Drop, from, to) }

// Partition cuts every pair (a in side1, b in side2) in both directions
// and returns the func that heals exactly those cuts.
func (fw *Firewall) Partition(kind CutKind, side1, side2 []string) (heal func() error, err error) {
	var made [][2]string
	heal = func() error {
		var errs []error
		for _, c := range made {
			errs = append(errs, fw.Uncut(kind, c[0], c[1]))
		}
		made = nil
		return errors.Join(errs...)
	}
	for _, a := range side1 {
		for _, b := range side2 {
			for _, c := range [][2]string{{a, b}, {b, a}} {
				if err := fw.Cut(kind, c[0], c[1]); err != nil {
					return nil, errors.Join(err, heal())
				}
				made = append(made, c)
			}
		}
	}
	return heal, nil
}

// Rules returns the cuts in place now, as "from>to DROP".
func (fw *Firewall) Rules() []string {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	var out []string
	for k := range fw.mu.cuts {
		out = append(out, k.from+">"+k.to+" "+k.kind.String())
	}
	slices.Sort(out)
	return out
}

// Close removes every rule and the chain. It is idempotent and safe to
// call from a signal handler's goroutine while faults are active.
func (fw *Firewall) Close() error {
	if fw == nil {
		return nil
	}
	fw.mu.Lock()
	defer fw.mu.Unlock()
	if fw.mu.closed {
		return nil
	}
	fw.mu.closed = true
	fw.mu.cuts = nil
	fw.removeChain(fw.chain)
	if out, err := fw.run("-S"); err == nil && strings.Contains(out, fw.chain) {
		return fmt.Errorf("chaos: chain %s still present after cleanup", fw.chain)
	}
	return nil
}
