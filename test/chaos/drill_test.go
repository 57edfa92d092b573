package chaos_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-db/flotilla/test/chaos"
	"github.com/flotilla-db/flotilla/test/chaos/timeline"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "flotilla-chaos-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "flotilla")
	// The nodes are normal binaries: the race detector is for the drill's
	// own process.
	out, err := exec.Command("go", "build", "-o", binary, "github.com/flotilla-db/flotilla/cmd/flotilla").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// ciFirstIP keeps the CI drill's nodes apart from the integration tests'
// (127.0.0.11 up) and the Redis Cluster's (127.0.0.21 up), which may run at
// the same time: a partition cuts every packet between the addresses it
// names.
const ciFirstIP = "127.0.0.31"

// TestShortDrill is the drill of the default suite: 3 nodes in 3 zones, 16
// clients, a fixed schedule of kills, pauses, a leadership transfer and one
// partition (skipped, saying so, without root or iptables), about two
// minutes. It fails on any lost acknowledged write, a register history
// porcupine finds not linearizable, a counter, list or transfer that does
// not add up, a slot without exactly one owner, or a cluster that is not
// healthy again after a fault. The output (report.json, timeline.png,
// porcupine's HTML, node logs) is kept in a directory named in the log when
// the drill fails.
func TestShortDrill(t *testing.T) {
	if testing.Short() {
		t.Skip("the drill takes about two minutes")
	}
	out, err := os.MkdirTemp("", "flotilla-chaos-ci-")
	if err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(out, "data")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	target, err := chaos.StartFlotilla(ctx, chaos.FlotillaOptions{
		Bin: binary, Nodes: 3, Zones: 3, FirstIP: ciFirstIP,
		BaseDir: dataDir, LogDir: filepath.Join(out, "logs"),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()

	fw, fwErr := chaos.OpenFirewall()
	if fwErr != nil {
		t.Logf("partition faults skipped: %v", fwErr)
	}
	defer func() {
		if err := fw.Close(); err != nil {
			t.Error(err)
		}
	}()
	reg := chaos.DefaultRegistry(fw, fwErr)
	// The partition comes last: each fault starts from a healthy cluster.
	var faults []chaos.Fault
	for _, name := range []string{"kill-leader", "pause-leader", "kill-config-leader", "failover",
		"kill-random", "pause-leader", "kill-leader", "partition-leader"} {
		faults = append(faults, reg[name]())
	}

	rep, err := chaos.Run(ctx, chaos.Config{
		Target:         target,
		Faults:         faults,
		Once:           true,
		Seed:           uint64(time.Now().UnixNano() % 1_000_000_000),
		OutDir:         out,
		Clients:        16,
		Rate:           15,
		HealthyTimeout: 30 * time.Second,
		Logf:           t.Logf,
		Timeline:       renderTimeline,
	})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	rep.WriteTable(&b)
	t.Log(b.String())
	if !rep.Passed {
		reportFailure(t, rep, out)
		return
	}
	if len(rep.Faults) < 7 {
		t.Errorf("%d faults ran, want the whole schedule", len(rep.Faults))
	}
	for _, f := range rep.Faults {
		// A failover finds no candidate at times (ErrUnsupported); any
		// other error is the drill's own failure.
		if f.Error != "" && !strings.Contains(f.Error, chaos.ErrUnsupported.Error()) {
			t.Errorf("fault #%d %s: %s", f.N, f.Name, f.Error)
		}
	}
	target.Close()
	os.RemoveAll(out)
}

func renderTimeline(path, title string, bucket time.Duration, counts []int, marks []chaos.Mark) error {
	tm := make([]timeline.Mark, len(marks))
	for i, m := range marks {
		tm[i] = timeline.Mark{At: m.At, End: m.End, Label: m.Label}
	}
	return timeline.Render(path, title, bucket, counts, tm)
}

// reportFailure says what a drill that did not pass found.
func reportFailure(t *testing.T, rep *chaos.Report, out string) {
	t.Helper()
	t.Errorf("the drill found problems (seed %d); report, timeline and node logs in %s", rep.Seed, out)
	for _, wl := range rep.Workloads {
		for _, v := range wl.Violations {
			t.Errorf("%s: %s", wl.Name, v)
		}
	}
	for _, h := range rep.Health {
		t.Errorf("health: %s", h)
	}
	for _, p := range rep.SlotOwners {
		t.Errorf("slot owners: %s", p)
	}
}

// membersFirstIP: TestMembershipDrill's nodes, apart from every other
// test's.
const membersFirstIP = "127.0.0.121"

// TestMembershipDrill runs the membership faults under load: 3 nodes and
// a spare; a node joins, a shard leader is killed right after, a node is
// removed (drained), a random member is killed right after, and a node
// joins again (the removed node, wiped, as a new node, or the spare that
// is left). Each join and removal must complete (placement and slot moves
// settled on every member) without error, the members must change as
// asked, and the drill's checks must pass: no lost acknowledged write,
// linearizable registers, counters, lists and transfers consistent, one
// owner per slot on every member. About a minute and a half.
func TestMembershipDrill(t *testing.T) {
	if testing.Short() {
		t.Skip("the drill takes about a minute and a half")
	}
	out, err := os.MkdirTemp("", "flotilla-chaos-members-")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	target, err := chaos.StartFlotilla(ctx, chaos.FlotillaOptions{
		Bin: binary, Nodes: 3, Spares: 1, Zones: 3, FirstIP: membersFirstIP,
		BaseDir: filepath.Join(out, "data"), LogDir: filepath.Join(out, "logs"),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	if got := target.Members(); len(got) != 3 || target.Nodes() != 4 {
		t.Fatalf("members %v of %d nodes, want 3 of 4", got, target.Nodes())
	}
	reg := chaos.DefaultRegistry(nil, nil)
	var faults []chaos.Fault
	for _, name := range []string{"node-join", "kill-leader", "node-remove", "kill-random", "node-join"} {
		faults = append(faults, reg[name]())
	}
	rep, err := chaos.Run(ctx, chaos.Config{
		Target: target, Faults: faults, Once: true,
		Seed:    uint64(time.Now().UnixNano() % 1_000_000_000),
		OutDir:  out,
		Clients: 16, Rate: 15,
		MinGap: time.Second, MaxGap: 2 * time.Second,
		HealthyTimeout: 30 * time.Second,
		Logf:           t.Logf,
		Timeline:       renderTimeline,
	})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	rep.WriteTable(&b)
	t.Log(b.String())
	if !rep.Passed {
		reportFailure(t, rep, out)
		return
	}
	if len(rep.Faults) != len(faults) {
		t.Errorf("%d faults ran, want %d", len(rep.Faults), len(faults))
	}
	for _, f := range rep.Faults {
		if f.Error != "" {
			t.Errorf("fault #%d %s: %s", f.N, f.Name, f.Error)
		}
	}
	// Two joins and a removal: 4 members, and the removed node's data is
	// gone (it is a spare, or joined again as a new node).
	if got := target.Members(); len(got) != 4 {
		t.Errorf("members at the end: %v, want 4", got)
	}
	if t.Failed() {
		t.Logf("report, timeline and node logs in %s", out)
		return
	}
	target.Close()
	os.RemoveAll(out)
}
