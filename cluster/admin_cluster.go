package cluster

import (
	"crypto/sha1"
	"encoding/hex"
	"net"
	"strconv"
	"strings"

	"github.com/flotilla-db/flotilla/engine"
	"github.com/flotilla-db/flotilla/shard"
)

// The CLUSTER commands of today's node: a one-node cluster whose only shard
// (a master, no replicas) owns all 16384 slots. Replies are Redis 7.0's,
// byte for byte, so that cluster clients (go-redis ClusterClient,
// redis-cli -c, redis-cli --cluster, redis-benchmark --cluster) work.

func init() {
	serverHandlers["cluster|info"] = cmdCLUSTERINFO
	serverHandlers["cluster|myid"] = cmdCLUSTERMYID
	serverHandlers["cluster|myshardid"] = cmdCLUSTERMYSHARDID
	serverHandlers["cluster|slots"] = cmdCLUSTERSLOTS
	serverHandlers["cluster|shards"] = cmdCLUSTERSHARDS
	serverHandlers["cluster|nodes"] = cmdCLUSTERNODES
	serverHandlers["cluster|keyslot"] = cmdCLUSTERKEYSLOT
	serverHandlers["cluster|countkeysinslot"] = cmdCLUSTERCOUNTKEYSINSLOT
	serverHandlers["cluster|getkeysinslot"] = cmdCLUSTERGETKEYSINSLOT
	serverHandlers["cluster|links"] = cmdCLUSTERLINKS
	serverHandlers["cluster|failover"] = cmdCLUSTERFAILOVER
	serverHandlers["cluster|replicas"] = cmdCLUSTERREPLICAS
	serverHandlers["cluster|slaves"] = cmdCLUSTERREPLICAS
	serverHandlers["cluster|help"] = cmdCLUSTERHELP
}

// clusterEpoch is the node's config epoch and the cluster's current epoch:
// 1, as a node that redis-cli --cluster create set up.
const clusterEpoch = 1

// clusterBusPortOffset is Redis's CLUSTER_PORT_INCR: the bus port NODES
// shows is the client port plus this.
const clusterBusPortOffset = 10000

// endpoint returns the address clients reach this node at: the local
// address of c's connection. When the node listens on one address it is
// that address; when it listens on all (0.0.0.0, ::) it is the interface
// the client came through, which the client can reach.
func (c *conn) endpoint() (ip string, port int) {
	if ta, ok := c.nc.LocalAddr().(*net.TCPAddr); ok {
		return ta.IP.String(), ta.Port
	}
	return "", c.s.Port()
}

// shardID is the 40-hex-digit id CLUSTER MYSHARDID reports for the node's
// shard: derived from the node id and the shard's id, so it is stable for
// the life of the node.
func (s *Server) shardID() string {
	sum := sha1.Sum([]byte(s.nodeID + "/shard/" + strconv.FormatUint(uint64(s.shard.ID()), 10)))
	return hex.EncodeToString(sum[:])
}

func cmdCLUSTERINFO(c *conn, args [][]byte, inExec bool) {
	if c.s.node != nil {
		c.clusterINFO()
		return
	}
	var b strings.Builder
	for _, kv := range [][2]string{
		{"cluster_state", "ok"},
		{"cluster_slots_assigned", "16384"},
		{"cluster_slots_ok", "16384"},
		{"cluster_slots_pfail", "0"},
		{"cluster_slots_fail", "0"},
		{"cluster_known_nodes", "1"},
		{"cluster_size", "1"},
		{"cluster_current_epoch", strconv.Itoa(clusterEpoch)},
		{"cluster_my_epoch", strconv.Itoa(clusterEpoch)},
		{"cluster_stats_messages_sent", "0"},
		{"cluster_stats_messages_received", "0"},
		{"total_cluster_links_buffer_limit_exceeded", "0"},
	} {
		b.WriteString(kv[0])
		b.WriteByte(':')
		b.WriteString(kv[1])
		b.WriteString("\r\n")
	}
	c.w.WriteVerbatim("txt", b.String())
}

func cmdCLUSTERMYID(c *conn, args [][]byte, inExec bool) { c.w.WriteBulkString(c.s.nodeID) }

func cmdCLUSTERMYSHARDID(c *conn, args [][]byte, inExec bool) {
	if c.s.node != nil {
		c.clusterMYSHARDID()
		return
	}
	c.w.WriteBulkString(c.s.shardID())
}

// cmdCLUSTERSLOTS: one range, 0-16383, served by this node alone.
func cmdCLUSTERSLOTS(c *conn, args [][]byte, inExec bool) {
	if c.s.node != nil {
		c.clusterSLOTS()
		return
	}
	ip, port := c.endpoint()
	c.w.WriteArray(1)
	c.w.WriteArray(3)
	c.w.WriteInt(0)
	c.w.WriteInt(engine.NumSlots - 1)
	c.w.WriteArray(4)
	c.w.WriteBulkString(ip)
	c.w.WriteInt(int64(port))
	c.w.WriteBulkString(c.s.nodeID)
	c.w.WriteMap(0) // no endpoint besides the preferred one
}

func cmdCLUSTERSHARDS(c *conn, args [][]byte, inExec bool) {
	if c.s.node != nil {
		c.clusterSHARDS()
		return
	}
	ip, port := c.endpoint()
	w := c.w
	w.WriteArray(1)
	w.WriteMap(2)
	w.WriteBulkString("slots")
	w.WriteArray(2)
	w.WriteInt(0)
	w.WriteInt(engine.NumSlots - 1)
	w.WriteBulkString("nodes")
	w.WriteArray(1)
	w.WriteMap(7)
	w.WriteBulkString("id")
	w.WriteBulkString(c.s.nodeID)
	w.WriteBulkString("port")
	w.WriteInt(int64(port))
	w.WriteBulkString("ip")
	w.WriteBulkString(ip)
	w.WriteBulkString("endpoint")
	w.WriteBulkString(ip)
	w.WriteBulkString("role")
	w.WriteBulkString("master")
	w.WriteBulkString("replication-offset")
	w.WriteInt(0)
	w.WriteBulkString("health")
	w.WriteBulkString("online")
}

// cmdCLUSTERNODES: the node's line in Redis's nodes.conf format.
func cmdCLUSTERNODES(c *conn, args [][]byte, inExec bool) {
	if c.s.node != nil {
		c.clusterNODES()
		return
	}
	ip, port := c.endpoint()
	bus := port + clusterBusPortOffset
	if bus > 65535 {
		bus = 0
	}
	line := c.s.nodeID + " " + ip + ":" + strconv.Itoa(port) + "@" + strconv.Itoa(bus) +
		" myself,master - 0 0 " + strconv.Itoa(clusterEpoch) + " connected 0-" + strconv.Itoa(engine.NumSlots-1) + "\n"
	c.w.WriteVerbatim("txt", line)
}

func cmdCLUSTERKEYSLOT(c *conn, args [][]byte, inExec bool) {
	c.w.WriteInt(int64(engine.KeySlot(args[2])))
}

func cmdCLUSTERCOUNTKEYSINSLOT(c *conn, args [][]byte, inExec bool) {
	slot, ok := parseLongLong(args[2])
	if !ok {
		c.w.WriteError(errNotInteger)
		return
	}
	if slot < 0 || slot >= engine.NumSlots {
		c.w.WriteError("ERR Invalid slot")
		return
	}
	var n int
	c.withRead(c.slotShard(int(slot)), inExec, func(db *engine.DB) { n = db.SlotLen(engine.Slot(slot)) })
	c.w.WriteInt(int64(n))
}

// cmdCLUSTERGETKEYSINSLOT: up to count keys of the slot, in the slot
// table's order (Redis lists them newest first; no client relies on it).
func cmdCLUSTERGETKEYSINSLOT(c *conn, args [][]byte, inExec bool) {
	slot, ok := parseLongLong(args[2])
	if !ok {
		c.w.WriteError(errNotInteger)
		return
	}
	count, ok := parseLongLong(args[3])
	if !ok {
		c.w.WriteError(errNotInteger)
		return
	}
	if slot < 0 || slot >= engine.NumSlots || count < 0 {
		c.w.WriteError("ERR Invalid slot or number of keys")
		return
	}
	var keys [][]byte
	c.withRead(c.slotShard(int(slot)), inExec, func(db *engine.DB) {
		keys = db.SlotKeys(engine.Slot(slot), int(min(count, int64(db.SlotLen(engine.Slot(slot))))))
	})
	c.w.WriteArray(len(keys))
	for _, k := range keys {
		c.w.WriteBulk(k)
	}
}

// cmdCLUSTERLINKS: a lone node has no links to peers.
func cmdCLUSTERLINKS(c *conn, args [][]byte, inExec bool) { c.w.WriteArray(0) }

func cmdCLUSTERFAILOVER(c *conn, args [][]byte, inExec bool) {
	switch {
	case len(args) > 3:
		c.w.WriteError(errSubcommandSyntax(args))
		return
	case len(args) == 3 && !strings.EqualFold(string(args[2]), "force") && !strings.EqualFold(string(args[2]), "takeover"):
		c.w.WriteError("ERR syntax error")
		return
	}
	if c.s.node != nil {
		c.clusterFAILOVER()
		return
	}
	c.w.WriteError("ERR You should send CLUSTER FAILOVER to a replica")
}

// cmdCLUSTERREPLICAS: CLUSTER REPLICAS|SLAVES node-id. This node is a
// master without replicas, and the only node.
func cmdCLUSTERREPLICAS(c *conn, args [][]byte, inExec bool) {
	if c.s.node != nil {
		c.clusterREPLICAS(string(args[2]))
		return
	}
	if string(args[2]) != c.s.nodeID {
		c.w.WriteError("ERR Unknown node " + errorArg(args[2], len(args[2])))
		return
	}
	c.w.WriteArray(0)
}

func cmdCLUSTERHELP(c *conn, args [][]byte, inExec bool) {
	writeHelp(c, "CLUSTER", []string{
		"COUNTKEYSINSLOT <slot>",
		"    Return the number of keys in <slot>.",
		"FAILOVER [FORCE|TAKEOVER]",
		"    Promote current replica node to being a master.",
		"GETKEYSINSLOT <slot> <count>",
		"    Return key names stored by current node in a slot.",
		"INFO",
		"    Return information about the cluster.",
		"KEYSLOT <key>",
		"    Return the hash slot for <key>.",
		"MYID",
		"    Return the node id.",
		"MYSHARDID",
		"    Return the node's shard id.",
		"NODES",
		"    Return cluster configuration seen by node. Output format:",
		"    <id> <ip:port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
		"REPLICAS <node-id>",
		"    Return <node-id> replicas.",
		"SLOTS",
		"    Return information about slots range mappings. Each range is made of:",
		"    start, end, master and replicas IP addresses, ports and ids",
		"SHARDS",
		"    Return information about slot range mappings and the nodes associated with them.",
		"LINKS",
		"    Return information about all network links between this node and its peers.",
		"    Output format is an array where each array element is a map containing attributes of a link",
	})
}

// slotShard returns the shard holding slot's keys on this node: the
// standalone keyspace, or the local replica of the slot's shard (an empty
// shard when this node holds none).
func (c *conn) slotShard(slot int) *shard.Shard {
	if c.s.node == nil {
		return c.s.shard
	}
	if rep := c.slotReplica(slot); rep != nil {
		return rep.Shard
	}
	return emptyShard
}

// emptyShard stands for the slots a node does not hold.
var emptyShard = shard.New(0, 0)
