package cluster

import (
	"slices"
	"strings"
	"sync"

	"github.com/flotilla-db/flotilla/engine"
	"github.com/flotilla-db/flotilla/proto"
)

// hub is the node's pub/sub registry. Safe for concurrent use.
type hub struct {
	mu       sync.RWMutex
	channels map[string]map[*conn]struct{}
	patterns map[string]map[*conn]struct{}
	shard    map[string]map[*conn]struct{}
}

func newHub() *hub {
	return &hub{
		channels: map[string]map[*conn]struct{}{},
		patterns: map[string]map[*conn]struct{}{},
		shard:    map[string]map[*conn]struct{}{},
	}
}

func init() {
	serverHandlers["subscribe"] = cmdSUBSCRIBE
	serverHandlers["psubscribe"] = cmdPSUBSCRIBE
	serverHandlers["ssubscribe"] = cmdSSUBSCRIBE
	serverHandlers["unsubscribe"] = cmdUNSUBSCRIBE
	serverHandlers["punsubscribe"] = cmdPUNSUBSCRIBE
	serverHandlers["sunsubscribe"] = cmdSUNSUBSCRIBE
	serverHandlers["publish"] = cmdPUBLISH
	serverHandlers["spublish"] = cmdSPUBLISH
	serverHandlers["pubsub|channels"] = cmdPUBSUBChannels
	serverHandlers["pubsub|shardchannels"] = cmdPUBSUBShardChannels
	serverHandlers["pubsub|numsub"] = cmdPUBSUBNumsub
	serverHandlers["pubsub|shardnumsub"] = cmdPUBSUBShardNumsub
	serverHandlers["pubsub|numpat"] = cmdPUBSUBNumpat
	serverHandlers["pubsub|help"] = cmdPUBSUBHelp
}

// kind selects one of the three subscription spaces.
type subKind int

const (
	kindChannel subKind = iota
	kindPattern
	kindShard
)

func (h *hub) space(k subKind) map[string]map[*conn]struct{} {
	switch k {
	case kindPattern:
		return h.patterns
	case kindShard:
		return h.shard
	}
	return h.channels
}

func (c *conn) subs(k subKind) map[string]bool {
	switch k {
	case kindPattern:
		if c.patterns == nil {
			c.patterns = map[string]bool{}
		}
		return c.patterns
	case kindShard:
		if c.shardChannels == nil {
			c.shardChannels = map[string]bool{}
		}
		return c.shardChannels
	}
	if c.channels == nil {
		c.channels = map[string]bool{}
	}
	return c.channels
}

// subscriptionCount is what (un)subscribe replies count: channels and
// patterns together, shard channels apart (as Redis).
func (c *conn) subscriptionCount(k subKind) int {
	if k == kindShard {
		return len(c.shardChannels)
	}
	return len(c.channels) + len(c.patterns)
}

func (c *conn) updateSubCount() {
	c.subCount.Store(int32(len(c.channels) + len(c.patterns) + len(c.shardChannels)))
}

var subscribeWords = [3][2]string{
	{"subscribe", "unsubscribe"},
	{"psubscribe", "punsubscribe"},
	{"ssubscribe", "sunsubscribe"},
}

func (h *hub) subscribe(c *conn, k subKind, names [][]byte) {
	for _, n := range names {
		name := string(n)
		mine := c.subs(k)
		if !mine[name] {
			h.mu.Lock()
			space := h.space(k)
			set := space[name]
			if set == nil {
				set = map[*conn]struct{}{}
				space[name] = set
			}
			set[c] = struct{}{}
			mine[name] = true
			h.mu.Unlock()
		}
		c.updateSubCount()
		c.w.WritePush(3)
		c.w.WriteBulkString(subscribeWords[k][0])
		c.w.WriteBulkString(name)
		c.w.WriteInt(int64(c.subscriptionCount(k)))
	}
}

func (h *hub) unsubscribe(c *conn, k subKind, names [][]byte) {
	mine := c.subs(k)
	if len(names) == 0 {
		if len(mine) == 0 {
			c.w.WritePush(3)
			c.w.WriteBulkString(subscribeWords[k][1])
			c.w.WriteNull()
			c.w.WriteInt(int64(c.subscriptionCount(k)))
			return
		}
		all := make([]string, 0, len(mine))
		for n := range mine {
			all = append(all, n)
		}
		slices.Sort(all)
		for _, n := range all {
			names = append(names, []byte(n))
		}
	}
	for _, n := range names {
		name := string(n)
		if mine[name] {
			h.mu.Lock()
			space := h.space(k)
			if set := space[name]; set != nil {
				delete(set, c)
				if len(set) == 0 {
					delete(space, name)
				}
			}
			delete(mine, name)
			h.mu.Unlock()
		}
		c.updateSubCount()
		c.w.WritePush(3)
		c.w.WriteBulkString(subscribeWords[k][1])
		c.w.WriteBulkString(name)
		c.w.WriteInt(int64(c.subscriptionCount(k)))
	}
}

// unsubscribeAll drops every subscription of c without replying
// (disconnect, RESET).
func (h *hub) unsubscribeAll(c *conn) {
	h.mu.Lock()
	for k := kindChannel; k <= kindShard; k++ {
		space := h.space(k)
		for name := range c.subs(k) {
			if set := space[name]; set != nil {
				delete(set, c)
				if len(set) == 0 {
					delete(space, name)
				}
			}
		}
	}
	h.mu.Unlock()
	c.channels, c.patterns, c.shardChannels = nil, nil, nil
	c.updateSubCount()
}

// publish delivers a message to the subscribers of channel and of matching
// patterns (or of the shard channel) and returns how many received it.
func (h *hub) publish(channel, msg []byte, shardKind bool) int {
	ch := string(channel)
	n := 0
	h.mu.RLock()
	defer h.mu.RUnlock()
	if shardKind {
		for sub := range h.shard[ch] {
			sub.deliver(func(w *proto.Writer) {
				w.WritePush(3)
				w.WriteBulkString("smessage")
				w.WriteBulk(channel)
				w.WriteBulk(msg)
			})
			n++
		}
		return n
	}
	for sub := range h.channels[ch] {
		sub.deliver(func(w *proto.Writer) {
			w.WritePush(3)
			w.WriteBulkString("message")
			w.WriteBulk(channel)
			w.WriteBulk(msg)
		})
		n++
	}
	for pat, set := range h.patterns {
		if !engine.GlobMatch(pat, ch, false) {
			continue
		}
		for sub := range set {
			sub.deliver(func(w *proto.Writer) {
				w.WritePush(4)
				w.WriteBulkString("pmessage")
				w.WriteBulkString(pat)
				w.WriteBulk(channel)
				w.WriteBulk(msg)
			})
			n++
		}
	}
	return n
}

func cmdSUBSCRIBE(c *conn, args [][]byte, inExec bool) {
	c.s.pubsub.subscribe(c, kindChannel, args[1:])
}

func cmdPSUBSCRIBE(c *conn, args [][]byte, inExec bool) {
	c.s.pubsub.subscribe(c, kindPattern, args[1:])
}

func cmdSSUBSCRIBE(c *conn, args [][]byte, inExec bool) {
	if !c.shardChannelsHere(args[1:]) {
		return
	}
	c.s.pubsub.subscribe(c, kindShard, args[1:])
}

func cmdUNSUBSCRIBE(c *conn, args [][]byte, inExec bool) {
	c.s.pubsub.unsubscribe(c, kindChannel, args[1:])
}

func cmdPUNSUBSCRIBE(c *conn, args [][]byte, inExec bool) {
	c.s.pubsub.unsubscribe(c, kindPattern, args[1:])
}

func cmdSUNSUBSCRIBE(c *conn, args [][]byte, inExec bool) {
	c.s.pubsub.unsubscribe(c, kindShard, args[1:])
}

// cmdPUBLISH delivers to this node's subscribers and, in a cluster,
// sends the message over the bus to every other node; the reply counts
// this node's receivers, as in Redis Cluster.
func cmdPUBLISH(c *conn, args [][]byte, inExec bool) {
	n := c.s.pubsub.publish(args[1], args[2], false)
	if c.s.node != nil {
		c.s.node.publishCluster(args[1], args[2])
	}
	c.w.WriteInt(int64(n))
}

// cmdSPUBLISH: in a cluster, on the leader of the channel's shard (-MOVED
// elsewhere), delivered here and on the nodes holding the shard's other
// replicas.
func cmdSPUBLISH(c *conn, args [][]byte, inExec bool) {
	if c.s.node != nil {
		slot := int(engine.KeySlot(args[1]))
		r := c.routeSlot(c.s.node.route.Load(), slot, true)
		if r.err != "" {
			c.w.WriteError(r.err)
			return
		}
		n := c.s.pubsub.publish(args[1], args[2], true)
		c.s.node.spublishShard(slot, args[1], args[2])
		c.w.WriteInt(int64(n))
		return
	}
	c.w.WriteInt(int64(c.s.pubsub.publish(args[1], args[2], true)))
}

// shardChannelsHere checks, in a cluster, that shard channels hash to one
// slot held by this node (its leader or a replica), writing -CROSSSLOT or
// -MOVED otherwise.
func (c *conn) shardChannelsHere(channels [][]byte) bool {
	if c.s.node == nil || len(channels) == 0 {
		return true
	}
	slot := int(engine.KeySlot(channels[0]))
	for _, ch := range channels[1:] {
		if int(engine.KeySlot(ch)) != slot {
			c.w.WriteError(errCrossSlot)
			return false
		}
	}
	rt := c.s.node.route.Load()
	if rt.topo == nil {
		c.w.WriteError(errClusterDown)
		return false
	}
	if rep := rt.local[rt.owners[slot]]; rep != nil {
		return true
	}
	c.w.WriteError(c.redirect(rt, rt.owners[slot], slot))
	return false
}

func (h *hub) channelNames(k subKind, pattern []byte) []string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	var out []string
	for name := range h.space(k) {
		if pattern == nil || engine.GlobMatch(string(pattern), name, false) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

func cmdPUBSUBChannels(c *conn, args [][]byte, inExec bool) {
	var pat []byte
	if len(args) > 2 {
		pat = args[2]
	}
	names := c.s.pubsub.channelNames(kindChannel, pat)
	c.w.WriteArray(len(names))
	for _, n := range names {
		c.w.WriteBulkString(n)
	}
}

func cmdPUBSUBShardChannels(c *conn, args [][]byte, inExec bool) {
	var pat []byte
	if len(args) > 2 {
		pat = args[2]
	}
	names := c.s.pubsub.channelNames(kindShard, pat)
	c.w.WriteArray(len(names))
	for _, n := range names {
		c.w.WriteBulkString(n)
	}
}

func (h *hub) numsub(c *conn, k subKind, names [][]byte) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	c.w.WriteMap(len(names))
	for _, n := range names {
		c.w.WriteBulk(n)
		c.w.WriteInt(int64(len(h.space(k)[string(n)])))
	}
}

func cmdPUBSUBNumsub(c *conn, args [][]byte, inExec bool) {
	c.s.pubsub.numsub(c, kindChannel, args[2:])
}

func cmdPUBSUBShardNumsub(c *conn, args [][]byte, inExec bool) {
	c.s.pubsub.numsub(c, kindShard, args[2:])
}

func cmdPUBSUBNumpat(c *conn, args [][]byte, inExec bool) {
	c.s.pubsub.mu.RLock()
	n := len(c.s.pubsub.patterns)
	c.s.pubsub.mu.RUnlock()
	c.w.WriteInt(int64(n))
}

func cmdPUBSUBHelp(c *conn, args [][]byte, inExec bool) {
	writeHelp(c, "PUBSUB", []string{
		"CHANNELS [<pattern>]",
		"    Return the currently active channels matching a <pattern> (default: '*').",
		"NUMPAT",
		"    Return number of subscriptions to patterns.",
		"NUMSUB [<channel> ...]",
		"    Return the number of subscribers for the specified channels, excluding",
		"    pattern subscriptions(default: no channels).",
		"SHARDCHANNELS [<pattern>]",
		"    Return the currently active shard level channels matching a <pattern> (default: '*').",
		"SHARDNUMSUB [<shardchannel> ...]",
		"    Return the number of subscribers for the specified shard level channel(s)",
	})
}

// writeHelp writes a HELP reply as Redis's addReplyHelp: a title line, the
// lines given, and the HELP line.
func writeHelp(c *conn, cmd string, lines []string) {
	c.w.WriteArray(len(lines) + 3)
	c.w.WriteSimple(strings.ToUpper(cmd) + " <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
	for _, l := range lines {
		c.w.WriteSimple(l)
	}
	c.w.WriteSimple("HELP")
	c.w.WriteSimple("    Prints this help.")
}
