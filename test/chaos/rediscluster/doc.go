// Package rediscluster runs a Redis Cluster of Debian's redis-server on this
// machine, built for the chaos drills: the same faults that the drills
// inject into Flotilla, against the system Flotilla means to improve on.
//
// Start makes a cluster of 3 masters and 3 replicas (Options.Masters,
// Options.ReplicasPerMaster), node i on its own loopback address (FirstIP+i,
// 127.0.0.21 to 127.0.0.26 by default), all on one port, the cluster bus on
// port+10000. Each node binds only its own address, announces it
// (cluster-announce-ip), and opens its outgoing cluster-bus and replication
// connections from it (bind-source-addr, Redis 7.0 and later), so a
// partition made by address, with iptables, cuts exactly that node from its
// peers in both directions. The cluster is made by `redis-cli --cluster
// create --cluster-replicas 1`, after which each replica is moved, if need
// be, so that it lives in another zone than its master (node i is in zone
// i%3, "zone-a", "zone-b", "zone-c").
//
// The configuration is what Redis Cluster users run: the default
// cluster-node-timeout of 15 s (Options.NodeTimeout), no persistence (or,
// with Options.AppendFsyncAlways, appendonly yes and appendfsync always),
// and a cluster-config-file (nodes.conf) in each node's directory, so that a
// node killed and restarted rejoins with its node id. Without persistence a
// restarted node comes back empty: as a replica it then resyncs from its
// master; a master restarted before its replica took over loses its data,
// which is Redis Cluster's behaviour, not this package's. Replicas keep the
// RDB of their last full sync in their directory (dump.rdb), as in any
// redis-server with default settings, and load it when restarted.
//
// A typical drill:
//
//	c, err := rediscluster.Start(rediscluster.Options{BaseDir: dir})
//	if err != nil {
//		return err
//	}
//	defer c.Close() // kills every redis-server the cluster started
//	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
//	shards, _ := c.Shards(ctx)
//	c.Kill(shards[0].Leader)     // SIGKILL
//	c.WaitHealthy(ctx)           // a replica took over
//	c.Restart(shards[0].Leader)  // same directory, same node id: it rejoins as a replica
//
// The processes belong to the Cluster: Close kills them, and on Linux a
// node whose parent dies gets SIGKILL from the kernel, so an interrupted
// test leaves no redis-server behind. A Cluster's methods are safe for
// concurrent use. Cluster implements chaos.Target.
package rediscluster
