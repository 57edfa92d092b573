// Package localcluster runs a Flotilla cluster of real processes on this
// machine, for the integration tests, the chaos drills, the benchmark and
// `make cluster`.
//
// Each node is one bin/flotilla process on its own loopback address
// (127.0.0.11, 127.0.0.12, ...), all with the same ports, which is how one
// machine stands in for separate hosts (DESIGN.md, "Ports and processes").
// Node 0 is the gossip seed that the others --join; every node gets
// --bootstrap-expect N so the first cluster forms once all N have met; node
// i is in zone "zone-a", "zone-b", ... by i % Zones.
//
// A typical test:
//
//	c, err := localcluster.Start(localcluster.Options{Bin: bin, Nodes: 3, BaseDir: t.TempDir()})
//	if err != nil {
//		t.Fatal(err)
//	}
//	defer c.Close() // kills every process the cluster started
//	if err := c.WaitReady(30 * time.Second); err != nil {
//		t.Fatal(err)
//	}
//	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
//	c.Kill(1)    // SIGKILL
//	c.Restart(1) // same arguments, same data directory
//
// Callers must defer Close: it is what kills the processes (and, on Linux, a
// node whose parent dies gets SIGKILL too, so an interrupted test leaves no
// servers behind). With Options.Detach the nodes outlive the caller instead;
// that is for `make cluster` (cmd/flotilla-local), which writes pid files.
//
// Port 0 picks ports that are free on every node address at once, so tests
// that start clusters run in parallel with each other and with a `make
// cluster` on the default ports. The package depends on nothing but the
// binary and the standard library, and knows nothing of package testing.
package localcluster
