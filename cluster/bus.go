package cluster

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	hraft "github.com/hashicorp/raft"

	"github.com/flotilla-db/flotilla/raft"
)

// The cluster bus carries pub/sub messages between nodes, as Redis
// Cluster's bus does: PUBLISH reaches the subscribers of every node, and
// SPUBLISH those of every node holding the channel's shard. It rides the
// node's Raft port (a group ID of its own on the multiplexer), one
// persistent connection per peer, leaving from the node's own address.
// Delivery is best effort, as in Redis: a message for a peer that is down
// or too far behind is dropped and counted.

// busGroup is the multiplexer ID of the bus (shards use small IDs).
const busGroup raft.GroupID = 1 << 62

const (
	busPublish  byte = 1
	busSPublish byte = 2
)

// busQueue bounds the messages waiting for one peer.
const busQueue = 8192

type bus struct {
	n       *clusterNode
	layer   *raft.Layer
	dropped atomic.Int64

	mu    sync.Mutex
	peers map[string]*busPeer // by raft address
	conns map[net.Conn]struct{}
	stop  chan struct{}
	wg    sync.WaitGroup
}

type busPeer struct {
	addr  string
	queue chan []byte
}

func newBus(n *clusterNode) (*bus, error) {
	l, err := n.mux.Layer(busGroup)
	if err != nil {
		return nil, err
	}
	b := &bus{n: n, layer: l, peers: map[string]*busPeer{}, conns: map[net.Conn]struct{}{}, stop: make(chan struct{})}
	b.wg.Add(1)
	go b.acceptLoop()
	return b, nil
}

func (b *bus) close() {
	close(b.stop)
	b.layer.Close()
	b.mu.Lock()
	for c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

// send queues a message for the node whose Raft address is addr.
func (b *bus) send(addr string, kind byte, channel, msg []byte) {
	b.mu.Lock()
	p := b.peers[addr]
	if p == nil {
		select {
		case <-b.stop:
			b.mu.Unlock()
			return
		default:
		}
		p = &busPeer{addr: addr, queue: make(chan []byte, busQueue)}
		b.peers[addr] = p
		b.wg.Add(1)
		go b.runPeer(p)
	}
	b.mu.Unlock()
	frame := make([]byte, 4, 4+1+binary.MaxVarintLen64+len(channel)+len(msg))
	frame = append(frame, kind)
	frame = binary.AppendUvarint(frame, uint64(len(channel)))
	frame = append(frame, channel...)
	frame = append(frame, msg...)
	binary.BigEndian.PutUint32(frame, uint32(len(frame)-4))
	select {
	case p.queue <- frame:
	default:
		b.dropped.Add(1)
	}
}

// runPeer writes the peer's queue to a connection, reconnecting as needed.
func (b *bus) runPeer(p *busPeer) {
	defer b.wg.Done()
	var c net.Conn
	var w *bufio.Writer
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	for {
		var frame []byte
		select {
		case <-b.stop:
			return
		case frame = <-p.queue:
		}
		if c == nil {
			conn, err := b.layer.Dial(hraft.ServerAddress(p.addr), time.Second)
			if err != nil {
				b.dropped.Add(1)
				continue
			}
			c, w = conn, bufio.NewWriter(conn)
		}
		w.Write(frame)
		// Write what else is waiting before flushing.
		for more := true; more; {
			select {
			case f := <-p.queue:
				w.Write(f)
			default:
				more = false
			}
		}
		c.SetWriteDeadline(time.Now().Add(2 * time.Second))
		if err := w.Flush(); err != nil {
			c.Close()
			c = nil
		}
	}
}

func (b *bus) acceptLoop() {
	defer b.wg.Done()
	for {
		c, err := b.layer.Accept()
		if err != nil {
			return
		}
		b.mu.Lock()
		select {
		case <-b.stop:
			b.mu.Unlock()
			c.Close()
			return
		default:
		}
		b.conns[c] = struct{}{}
		b.mu.Unlock()
		b.wg.Add(1)
		go b.serveConn(c)
	}
}

// serveConn delivers the messages a peer sends to this node's
// subscribers.
func (b *bus) serveConn(c net.Conn) {
	defer b.wg.Done()
	defer func() {
		b.mu.Lock()
		delete(b.conns, c)
		b.mu.Unlock()
		c.Close()
	}()
	r := bufio.NewReader(c)
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(hdr[:])
		if n > 1<<30 {
			return
		}
		frame := make([]byte, n)
		if _, err := io.ReadFull(r, frame); err != nil {
			return
		}
		kind, channel, msg, err := parseBusFrame(frame)
		if err != nil {
			return
		}
		b.n.s.pubsub.publish(channel, msg, kind == busSPublish)
	}
}

func parseBusFrame(f []byte) (kind byte, channel, msg []byte, err error) {
	if len(f) < 2 {
		return 0, nil, nil, errors.New("bus: short frame")
	}
	kind = f[0]
	l, k := binary.Uvarint(f[1:])
	if k <= 0 || l > uint64(len(f)-1-k) {
		return 0, nil, nil, errors.New("bus: bad frame")
	}
	channel = f[1+k : 1+k+int(l)]
	msg = f[1+k+int(l):]
	return kind, channel, msg, nil
}

// publishCluster sends a PUBLISH to every other node.
func (n *clusterNode) publishCluster(channel, msg []byte) {
	t := n.route.Load().topo
	if t == nil || n.bus == nil {
		return
	}
	for _, x := range t.Nodes {
		if x.ID != n.self.ID {
			n.bus.send(x.Raft, busPublish, channel, msg)
		}
	}
}

// spublishShard sends an SPUBLISH to the other nodes holding the shard of
// the channel's slot.
func (n *clusterNode) spublishShard(slot int, channel, msg []byte) {
	rt := n.route.Load()
	if rt.topo == nil || n.bus == nil {
		return
	}
	sh := rt.topo.Shard(rt.owners[slot])
	if sh == nil {
		return
	}
	for _, id := range sh.Replicas {
		if id == n.self.ID {
			continue
		}
		if x := rt.topo.Node(id); x != nil {
			n.bus.send(x.Raft, busSPublish, channel, msg)
		}
	}
}
