package chaos

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the outcome of one drill on one target, written as JSON beside
// the table.
type Report struct {
	Target string `json:"target"`
	Seed   uint64 `json:"seed"`
	Nodes  int    `json:"nodes"`
	// Spares are the nodes prepared to join (node-join) at the start.
	Spares  int       `json:"spares,omitempty"`
	Zones   int       `json:"zones"`
	Started time.Time `json:"started"`
	// FaultPhase is how long faults were injected, Total the whole run
	// (setup, faults, settling, checks), in seconds.
	FaultPhase  float64 `json:"fault_phase_s"`
	Total       float64 `json:"total_s"`
	Interrupted bool    `json:"interrupted,omitempty"`
	// Requested are the faults asked for; Skipped those that could not
	// run here, with the reason.
	Requested []string `json:"requested_faults"`
	Skipped   []string `json:"skipped_faults,omitempty"`

	Faults    []FaultRecord    `json:"faults"`
	Workloads []WorkloadResult `json:"workloads"`

	// LostAcked sums the workloads' lost acknowledged writes.
	LostAcked int `json:"lost_acknowledged_writes"`
	// Linearizable is the registers' verdict: ok, illegal, unknown.
	Linearizable string `json:"linearizable"`
	// SlotOwners lists problems with the final slot map (none: sound).
	SlotOwners []string `json:"slot_owner_problems,omitempty"`
	// Health lists times the cluster did not recover: not healthy within
	// the timeout after a fault was healed, a node that exited by itself.
	Health []string `json:"health_problems,omitempty"`

	// Slow lists the faults after which a shard took no write for longer
	// than SlowRecovery: worth a look, not a failure of the drill.
	Slow []string `json:"slow_recoveries,omitempty"`

	// Recovery summarises the faults' recovery times, in seconds.
	RecoveryMedian float64 `json:"recovery_median_s"`
	RecoveryMax    float64 `json:"recovery_max_s"`

	// Writes are the acknowledged writes per bucket since Started.
	Writes Timeline `json:"writes"`

	// Files are the report's files: JSON, PNG, porcupine HTML, node logs.
	Files []string `json:"files,omitempty"`
	// Passed: no lost write, linearizable (or undecided), consistent
	// counters, lists and transfers, a sound slot map, and the cluster
	// healthy again after every fault.
	Passed bool `json:"passed"`
}

// FaultRecord is one injected fault.
type FaultRecord struct {
	N    int    `json:"n"`
	Name string `json:"name"`
	Desc string `json:"desc"`
	// Start and End (healed) in seconds since the run started; Healthy is
	// when every slot was served again.
	Start   float64 `json:"start_s"`
	End     float64 `json:"end_s"`
	Healthy float64 `json:"healthy_s,omitempty"`
	// Affected are the slot ranges of the shards the fault disturbed.
	Affected [][2]int `json:"affected_slots"`
	// Recovery is the longest time, in seconds, from the injection to the
	// next fault, during which one of those shards took no write.
	Recovery float64 `json:"recovery_s"`
	// Outages are the recovery times of each shard the fault touched, in
	// the order of Affected's shards: which one was out.
	Outages []ShardOutage `json:"outages,omitempty"`
	// NewLeaders is the time, in seconds from the injection, until every
	// one of those shards had a leader outside the nodes the fault hit, as
	// the nodes' own views say (polled every 100 ms): the cluster's
	// recovery, apart from its clients'. -1 when not seen, 0 when not
	// measured.
	NewLeaders float64 `json:"new_leaders_s"`
	Error      string  `json:"error,omitempty"`

	affected [][][2]int
	window   time.Duration // end of the recovery window
}

// leadersText is NewLeaders for people: the seconds, "never" when the
// affected shards' leaders did not move off the nodes the fault hit (a
// slot move, which changes no leader, shows that too), "-" when not
// measured.
func (f *FaultRecord) leadersText() string {
	switch {
	case f.NewLeaders > 0:
		return fmt.Sprintf("%.2fs", f.NewLeaders)
	case f.NewLeaders < 0:
		return "never"
	}
	return "-"
}

// ShardOutage is one shard's longest time without an acknowledged write
// after a fault.
type ShardOutage struct {
	Slots   [][2]int `json:"slots"`
	Seconds float64  `json:"s"`
}

// Timeline are the acknowledged writes per bucket.
type Timeline struct {
	Start    time.Time `json:"start"`
	BucketMS int       `json:"bucket_ms"`
	Counts   []int     `json:"counts"`
}

// Mark is a fault on the timeline picture, as package timeline draws it:
// offsets from the start of the run; End == At for an instant.
type Mark struct {
	At, End time.Duration
	Label   string
}

// Marks are the report's faults as timeline marks, labelled by their kind
// first ("kill-leader node2").
func (r *Report) Marks() []Mark {
	var out []Mark
	for _, f := range r.Faults {
		if f.Error != "" {
			continue
		}
		label := f.Name
		if len(f.Affected) > 0 || f.Desc != "" {
			label += " " + shortDesc(f.Desc)
		}
		out = append(out, Mark{At: secs(f.Start), End: secs(f.End), Label: label})
	}
	return out
}

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// shortDesc keeps the node names of a fault's description.
func shortDesc(desc string) string {
	var nodes []string
	for _, w := range strings.FieldsFunc(desc, func(r rune) bool { return r == ' ' || r == ',' || r == '(' || r == ')' || r == ';' }) {
		if isNodeName(w) && !slices.Contains(nodes, w) {
			nodes = append(nodes, w)
		}
	}
	if len(nodes) > 3 {
		return fmt.Sprintf("%d nodes", len(nodes))
	}
	return strings.Join(nodes, ",")
}

// isNodeName reports whether w is "node" and a number.
func isNodeName(w string) bool {
	n, ok := strings.CutPrefix(w, "node")
	if !ok || n == "" {
		return false
	}
	for _, r := range n {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// WriteJSON writes the report to path.
func (r *Report) WriteJSON(path string) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// ReadReport reads a report written by WriteJSON.
func ReadReport(path string) (*Report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Report
	return &r, json.Unmarshal(data, &r)
}

// WriteTable prints the report for people.
func (r *Report) WriteTable(w io.Writer) {
	spares := ""
	if r.Spares > 0 {
		spares = fmt.Sprintf(" (+%d spare)", r.Spares)
	}
	fmt.Fprintf(w, "\n== chaos drill: %s, seed %d, %d nodes%s in %d zones, %s of faults (%s in all)\n",
		r.Target, r.Seed, r.Nodes, spares, r.Zones, roundSecs(r.FaultPhase), roundSecs(r.Total))
	if r.Interrupted {
		fmt.Fprintln(w, "   interrupted")
	}
	for _, s := range r.Skipped {
		fmt.Fprintf(w, "   skipped %s\n", s)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tfault\tat\theld\trecovery\tleaders\tslots\twhat")
	for _, f := range r.Faults {
		rec := fmt.Sprintf("%.2fs", f.Recovery)
		what := f.Desc
		if f.Error != "" {
			rec, what = "-", "error: "+f.Error
		}
		fmt.Fprintf(tw, "%d\t%s\t%.1fs\t%.1fs\t%s\t%s\t%s\t%s\n", f.N, f.Name, f.Start, f.End-f.Start, rec, f.leadersText(), shortSlots(f.Affected), what)
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\tacked\tfailed\tindeterminate\treads\tlost\tverdict\t")
	for _, wl := range r.Workloads {
		verdict := "ok"
		if !wl.Passed() {
			verdict = fmt.Sprintf("%d violations", len(wl.Violations))
		}
		if wl.Linearizable != "" {
			verdict = "linearizable: " + wl.Linearizable
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%s\t\n", wl.Name, wl.Acked, wl.Failed, wl.Indeterminate, wl.Reads, wl.Lost, verdict)
	}
	tw.Flush()
	for _, wl := range r.Workloads {
		for _, v := range wl.Violations {
			fmt.Fprintf(w, "   %s: %s\n", wl.Name, v)
		}
		for _, e := range wl.Evidence {
			fmt.Fprintf(w, "   %s: see %s\n", wl.Name, e)
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "lost acknowledged writes: %d\n", r.LostAcked)
	fmt.Fprintf(w, "linearizable:             %s\n", r.Linearizable)
	if len(r.SlotOwners) == 0 {
		fmt.Fprintf(w, "slot owners:              every slot exactly once, same on every node\n")
	} else {
		fmt.Fprintf(w, "slot owners:              %s\n", strings.Join(r.SlotOwners, "; "))
	}
	for _, h := range r.Health {
		fmt.Fprintf(w, "health:                   %s\n", h)
	}
	n := 0
	for _, f := range r.Faults {
		if f.Error == "" {
			n++
		}
	}
	fmt.Fprintf(w, "recovery:                 median %.2fs, max %.2fs over %d faults\n", r.RecoveryMedian, r.RecoveryMax, n)
	for _, s := range r.Slow {
		fmt.Fprintf(w, "slow recovery:            %s\n", s)
	}
	for _, f := range r.Files {
		fmt.Fprintf(w, "file:                     %s\n", f)
	}
	if r.Passed {
		fmt.Fprintln(w, "result:                   PASS")
	} else {
		fmt.Fprintln(w, "result:                   FAIL")
	}
}

// shortSlots renders slot ranges for the table: as slotsText does when
// that is short, else as a count (slots moved live fragment the ranges;
// report.json keeps them all).
func shortSlots(ranges [][2]int) string {
	if s := slotsText([][][2]int{ranges}); len(s) <= 40 {
		return s
	}
	n := 0
	for _, r := range ranges {
		n += r[1] - r[0] + 1
	}
	return fmt.Sprintf("%d slots in %d ranges", n, len(ranges))
}

// WriteComparison prints reports of several targets side by side.
func WriteComparison(w io.Writer, reports []*Report) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\ntarget\tfaults\tacked writes\tlost acked\tlinearizable\trecovery median\trecovery max\tresult")
	for _, r := range reports {
		acked, faults := int64(0), 0
		for _, wl := range r.Workloads {
			acked += wl.Acked
		}
		for _, f := range r.Faults {
			if f.Error == "" {
				faults++
			}
		}
		res := "PASS"
		if !r.Passed {
			res = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%.2fs\t%.2fs\t%s\n", r.Target, faults, acked, r.LostAcked, r.Linearizable, r.RecoveryMedian, r.RecoveryMax, res)
	}
	tw.Flush()
}

func roundSecs(s float64) time.Duration {
	return time.Duration(math.Round(s)) * time.Second
}
