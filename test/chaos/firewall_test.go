package chaos

import (
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

func TestStaleChains(t *testing.T) {
	listing := `-P INPUT ACCEPT
-P OUTPUT ACCEPT
-N FLOTILLA-CHAOS
-N FLOTILLA-CHAOS-100
-N FLOTILLA-CHAOS-200
-N FLOTILLA-CHAOS-x
-N OTHER-1
-A INPUT -j FLOTILLA-CHAOS-100
-A FLOTILLA-CHAOS-100 -s 127.0.0.11/32 -d 127.0.0.12/32 -j DROP
`
	got := staleChains(listing, func(pid int) bool { return pid == 200 })
	want := []string{"FLOTILLA-CHAOS", "FLOTILLA-CHAOS-100"}
	if !slices.Equal(got, want) {
		t.Errorf("staleChains = %v, want %v", got, want)
	}
}

// TestFirewall makes and removes real rules (on addresses no cluster
// uses), when this runs as root with iptables.
func TestFirewall(t *testing.T) {
	fw, err := OpenFirewall()
	if errors.Is(err, ErrNoFirewall) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer fw.Close()
	rules := func() string {
		out, err := exec.Command("iptables", "-w", "5", "-S").CombinedOutput()
		if err != nil {
			t.Fatalf("iptables -S: %v\n%s", err, out)
		}
		return string(out)
	}
	heal, err := fw.Partition(Drop, []string{"127.0.0.251"}, []string{"127.0.0.252", "127.0.0.253"})
	if err != nil {
		t.Fatal(err)
	}
	if err := fw.Drop("127.0.0.251", "127.0.0.252"); err != nil { // a second cut of one pair
		t.Fatal(err)
	}
	s := rules()
	for _, r := range []string{"-A " + fw.Chain() + " -s 127.0.0.251/32 -d 127.0.0.252/32 -j DROP", "-A " + fw.Chain() + " -s 127.0.0.253/32 -d 127.0.0.251/32 -j DROP", "-A INPUT -j " + fw.Chain()} {
		if !strings.Contains(s, r) {
			t.Errorf("rule %q missing:\n%s", r, s)
		}
	}
	if err := heal(); err != nil {
		t.Fatal(err)
	}
	rheal, err := fw.Partition(Reject, []string{"127.0.0.254"}, []string{"127.0.0.252"})
	if err != nil {
		t.Fatal(err)
	}
	s = rules()
	for _, r := range []string{"-A " + fw.Chain() + " -s 127.0.0.254/32 -d 127.0.0.252/32 -p tcp -j REJECT --reject-with tcp-reset", "-A " + fw.Chain() + " -s 127.0.0.252/32 -d 127.0.0.254/32 -j REJECT --reject-with icmp-port-unreachable"} {
		if !strings.Contains(s, r) {
			t.Errorf("rule %q missing:\n%s", r, s)
		}
	}
	if err := rheal(); err != nil {
		t.Fatal(err)
	}
	if got := fw.Rules(); !slices.Equal(got, []string{"127.0.0.251>127.0.0.252 DROP"}) {
		t.Errorf("after heal, rules %v; want the second cut only", got)
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	if s := rules(); strings.Contains(s, fw.Chain()) {
		t.Errorf("chain left after Close:\n%s", s)
	}
}
