package raft

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	hraft "github.com/hashicorp/raft"
)

// GroupID names a Raft group of the cluster: 0 is the configuration group,
// shards are 1 and up.
type GroupID uint64

// muxMagic starts every connection to a node's Raft port, followed by the
// group's ID (8 bytes, big endian), so that one port serves every group.
var muxMagic = [4]byte{'F', 'L', 'T', '1'}

const muxHeaderLen = 12

// ErrMuxClosed is returned by a Layer's Accept after the Mux or the Layer
// closed.
var ErrMuxClosed = errors.New("raft: stream multiplexer closed")

// Mux shares one TCP listener among the Raft groups of a node: an incoming
// connection names its group in its first bytes and is handed to that
// group's Layer. Outgoing connections leave from the node's own address
// (like Redis's bind-source-addr), so that a node bound to 127.0.0.12 is
// 127.0.0.12 to its peers, which is what partition drills cut by. Safe for
// concurrent use.
type Mux struct {
	ln     net.Listener
	source net.IP // the address peers see; nil lets the kernel choose
	wg     sync.WaitGroup

	mu     sync.Mutex
	groups map[GroupID]*Layer
	closed bool
}

// NewMux serves ln. source is the address outgoing connections leave from.
func NewMux(ln net.Listener, source net.IP) *Mux {
	m := &Mux{ln: ln, source: source, groups: map[GroupID]*Layer{}}
	m.wg.Add(1)
	go m.acceptLoop()
	return m
}

// Addr returns the listening address.
func (m *Mux) Addr() net.Addr { return m.ln.Addr() }

// Close stops accepting and closes every Layer.
func (m *Mux) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	layers := m.groups
	m.groups = map[GroupID]*Layer{}
	m.mu.Unlock()
	err := m.ln.Close()
	for _, l := range layers {
		l.shut()
	}
	m.wg.Wait()
	return err
}

func (m *Mux) acceptLoop() {
	defer m.wg.Done()
	for {
		c, err := m.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return
		}
		go m.route(c)
	}
}

// route reads a connection's header and hands it to its group.
func (m *Mux) route(c net.Conn) {
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var hdr [muxHeaderLen]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil || [4]byte(hdr[:4]) != muxMagic {
		c.Close()
		return
	}
	c.SetReadDeadline(time.Time{})
	id := GroupID(binary.BigEndian.Uint64(hdr[4:]))
	m.mu.Lock()
	l := m.groups[id]
	m.mu.Unlock()
	if l == nil {
		c.Close()
		return
	}
	select {
	case l.accept <- c:
	case <-l.done:
		c.Close()
	case <-time.After(5 * time.Second):
		c.Close()
	}
}

// Layer returns the stream layer of group id (one per group).
func (m *Mux) Layer(id GroupID) (*Layer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrMuxClosed
	}
	if _, dup := m.groups[id]; dup {
		return nil, fmt.Errorf("raft: group %d already has a stream layer", id)
	}
	l := &Layer{m: m, id: id, accept: make(chan net.Conn, 16), done: make(chan struct{})}
	m.groups[id] = l
	return l, nil
}

// Layer is one group's view of the Mux: a hashicorp/raft StreamLayer.
type Layer struct {
	m      *Mux
	id     GroupID
	accept chan net.Conn
	done   chan struct{}
	once   sync.Once
}

var _ hraft.StreamLayer = (*Layer)(nil)

// Accept returns the next connection for this group.
func (l *Layer) Accept() (net.Conn, error) {
	select {
	case c := <-l.accept:
		return c, nil
	case <-l.done:
		return nil, ErrMuxClosed
	}
}

// Close removes the group from the Mux.
func (l *Layer) Close() error {
	l.m.mu.Lock()
	if l.m.groups[l.id] == l {
		delete(l.m.groups, l.id)
	}
	l.m.mu.Unlock()
	l.shut()
	return nil
}

func (l *Layer) shut() { l.once.Do(func() { close(l.done) }) }

// Addr returns the Mux's listening address.
func (l *Layer) Addr() net.Addr { return l.m.ln.Addr() }

// Dial connects to the group on the node at address, from this node's own
// address.
func (l *Layer) Dial(address hraft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	if l.m.source != nil {
		d.LocalAddr = &net.TCPAddr{IP: l.m.source}
	}
	c, err := d.Dial("tcp", string(address))
	if err != nil {
		return nil, err
	}
	var hdr [muxHeaderLen]byte
	copy(hdr[:4], muxMagic[:])
	binary.BigEndian.PutUint64(hdr[4:], uint64(l.id))
	c.SetWriteDeadline(time.Now().Add(timeout))
	if _, err := c.Write(hdr[:]); err != nil {
		c.Close()
		return nil, err
	}
	c.SetWriteDeadline(time.Time{})
	return c, nil
}
