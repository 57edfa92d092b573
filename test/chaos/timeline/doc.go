// Package timeline draws the picture of a chaos drill: successful writes per
// time bucket over the run, with every injected fault marked where it
// happened, because a reader sees a failover in a plot faster than in a
// table.
//
// A drill counts its acknowledged writes in fixed buckets (100 ms, say) and
// records each fault as a Mark, then calls Render once at the end:
//
//	marks := []timeline.Mark{
//		{At: 12 * time.Second, End: 12 * time.Second, Label: "kill node3"},     // a line
//		{At: 30 * time.Second, End: 45 * time.Second, Label: "partition node1"}, // a span
//	}
//	err := timeline.Render("run.png", "flotilla: kills and partitions", 100*time.Millisecond, counts, marks)
//
// The image is a 1600x600 PNG: the writes as a filled step line, faults as
// translucent spans (or vertical lines for instantaneous ones) coloured by
// their kind (the label's first word), labels stacked in rows along the top
// so neighbouring faults stay readable. It depends on gonum.org/v1/plot
// only, and is safe for concurrent use (Render shares no state).
package timeline
