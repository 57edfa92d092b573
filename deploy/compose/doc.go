// Package compose reads the docker-compose deployment beside it
// (docker-compose.yml: six Flotilla nodes in three zones, and Prometheus)
// into a Topology, and maps that topology onto one machine, so that what the
// compose file describes is what `make compose-local` and this package's
// tests run.
//
// Load parses the file with compose-go, the library Docker Compose itself
// uses, and parses each node's command with cluster.Load, the function the
// flotilla binary parses its own command line with: a flag the binary
// would refuse fails the load. A node is a service built from
// deploy/compose/Dockerfile; its command is the binary's flags (the image's
// entrypoint is the binary), its address the static IPv4 address it has on
// the one network the nodes share.
//
// Local maps a topology onto loopback addresses: each node's IP becomes a
// 127.0.0.x address with the same last byte (172.28.5.11 becomes
// 127.0.0.11), or the x-th after a chosen first address; its ports become
// the ones asked for (the compose file's own, or free ones for tests); its
// data directory a directory of its own; a --join to a service name or IP
// the peer's local address. Every other flag is passed as written. The
// result is a test/localcluster.Options whose processes run each node with
// the configuration the compose file gives it:
//
//	topo, err := compose.Load("deploy/compose/docker-compose.yml")
//	...
//	opts, err := topo.Local(compose.LocalConfig{Bin: "bin/flotilla", Dir: dir, Ports: topo.Ports})
//	c, err := localcluster.Start(opts)
//	defer c.Close()
//
// The Docker image itself (Dockerfile) cannot be built by these tests;
// they check what can be checked without a Docker engine.
package compose
