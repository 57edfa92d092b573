package cluster

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	hraft "github.com/hashicorp/raft"

	"github.com/flotilla-db/flotilla/raft"
	"github.com/flotilla-db/flotilla/shard"
)

// The control RPC carries what one node asks of the leader of a Raft
// group it may not be a member of: a configuration change proposed to the
// configuration group's leader (the controller), or a slot move's entry
// proposed to the target shard's leader. It rides the node's Raft port on
// a group ID of its own (as the bus does), one request per connection,
// leaving from the node's own address.

// rpcGroup is the multiplexer ID of the control RPC.
const rpcGroup raft.GroupID = 1<<62 + 1

// RPC kinds.
const (
	rpcConfigSet    = "config-set"    // Topology as a compare-and-set on PrevEpoch
	rpcShardPropose = "shard-propose" // payload: an encoded raft.Entry for Shard
)

type rpcRequest struct {
	Kind      string    `json:"kind"`
	PrevEpoch uint64    `json:"prev_epoch,omitempty"`
	Topology  *Topology `json:"topology,omitempty"`
	Shard     shard.ID  `json:"shard,omitempty"`
}

type rpcResponse struct {
	Err string `json:"err,omitempty"`
	// NotLeader: the node does not lead the group asked for; ask again
	// once the leader is known.
	NotLeader bool `json:"not_leader,omitempty"`
	// Applied: the configuration change was committed (false on an epoch
	// conflict).
	Applied bool `json:"applied,omitempty"`
}

// errNotLeader is what rpcCall returns for a NotLeader response.
var errNotLeader = errors.New("not the group's leader")

// rpcMaxFrame bounds a request or response part.
const rpcMaxFrame = 64 << 20

type rpcServer struct {
	n     *clusterNode
	layer *raft.Layer
	stop  chan struct{}
	wg    sync.WaitGroup

	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func newRPCServer(n *clusterNode) (*rpcServer, error) {
	l, err := n.mux.Layer(rpcGroup)
	if err != nil {
		return nil, err
	}
	s := &rpcServer{n: n, layer: l, stop: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

func (s *rpcServer) close() {
	close(s.stop)
	s.layer.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *rpcServer) acceptLoop() {
	defer s.wg.Done()
	for {
		c, err := s.layer.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		select {
		case <-s.stop:
			s.mu.Unlock()
			c.Close()
			return
		default:
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go s.serve(c)
	}
}

func (s *rpcServer) serve(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(c)
	hdr, err := readPart(r)
	if err != nil {
		return
	}
	payload, err := readPart(r)
	if err != nil {
		return
	}
	var req rpcRequest
	var resp rpcResponse
	var out []byte
	if err := json.Unmarshal(hdr, &req); err != nil {
		resp.Err = "bad request: " + err.Error()
	} else {
		out = s.n.handleRPC(&req, payload, &resp)
	}
	b, _ := json.Marshal(&resp)
	w := bufio.NewWriter(c)
	writePart(w, b)
	writePart(w, out)
	w.Flush()
}

func readPart(r *bufio.Reader) ([]byte, error) {
	var l [4]byte
	if _, err := io.ReadFull(r, l[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(l[:])
	if n > rpcMaxFrame {
		return nil, fmt.Errorf("rpc: frame of %d bytes", n)
	}
	b := make([]byte, n)
	_, err := io.ReadFull(r, b)
	return b, err
}

func writePart(w *bufio.Writer, b []byte) {
	var l [4]byte
	binary.BigEndian.PutUint32(l[:], uint32(len(b)))
	w.Write(l[:])
	w.Write(b)
}

// rpcCall sends req and payload to the node whose Raft address is addr
// and returns its response.
func (n *clusterNode) rpcCall(ctx context.Context, addr string, req *rpcRequest, payload []byte) (*rpcResponse, []byte, error) {
	if addr == n.self.Raft {
		var resp rpcResponse
		out := n.handleRPC(req, payload, &resp)
		return &resp, out, nil
	}
	timeout := 10 * time.Second
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	c, err := n.rpc.layer.Dial(hraft.ServerAddress(addr), min(timeout, 2*time.Second))
	if err != nil {
		return nil, nil, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	c.SetDeadline(time.Now().Add(timeout))
	hdr, _ := json.Marshal(req)
	w := bufio.NewWriter(c)
	writePart(w, hdr)
	writePart(w, payload)
	if err := w.Flush(); err != nil {
		return nil, nil, err
	}
	r := bufio.NewReader(c)
	rh, err := readPart(r)
	if err != nil {
		return nil, nil, err
	}
	out, err := readPart(r)
	if err != nil {
		return nil, nil, err
	}
	var resp rpcResponse
	if err := json.Unmarshal(rh, &resp); err != nil {
		return nil, nil, err
	}
	return &resp, out, nil
}

// handleRPC serves one request on this node.
func (n *clusterNode) handleRPC(req *rpcRequest, payload []byte, resp *rpcResponse) []byte {
	switch req.Kind {
	case rpcConfigSet:
		g := n.cfgGroup.Load()
		if g == nil || !g.IsLeader() {
			resp.NotLeader = true
			return nil
		}
		applied, err := n.applyConfigLocal(req.PrevEpoch, req.Topology)
		resp.Applied = applied
		if err != nil {
			if errors.Is(err, hraft.ErrNotLeader) || errors.Is(err, hraft.ErrLeadershipLost) {
				resp.NotLeader = true
			} else {
				resp.Err = err.Error()
			}
		}
		return nil
	case rpcShardPropose:
		rep := n.route.Load().local[req.Shard]
		if rep == nil || rep.Group == nil || !rep.IsLeader() {
			resp.NotLeader = true
			return nil
		}
		e, err := raft.DecodeEntry(payload)
		if err != nil {
			resp.Err = err.Error()
			return nil
		}
		res, err := rep.Propose(e)
		if err != nil {
			if errors.Is(err, shard.ErrNotLeader) || errors.Is(err, shard.ErrTransferring) || errors.Is(err, shard.ErrNotReady) {
				resp.NotLeader = true
			} else {
				resp.Err = err.Error()
			}
			return nil
		}
		return res.Replies
	}
	if out, ok := n.handleMembershipRPC(req, resp); ok {
		return out
	}
	resp.Err = "unknown request " + req.Kind
	return nil
}

// applyConfigLocal commits a compare-and-set of the topology on this node,
// which leads the configuration group.
func (n *clusterNode) applyConfigLocal(prevEpoch uint64, t *Topology) (bool, error) {
	g := n.cfgGroup.Load()
	if g == nil {
		return false, hraft.ErrNotLeader
	}
	data, err := json.Marshal(configCommand{Op: "set", PrevEpoch: prevEpoch, Topology: t})
	if err != nil {
		return false, err
	}
	f := g.Raft.Apply(data, 5*time.Second)
	if err := f.Error(); err != nil {
		return false, err
	}
	res, _ := f.Response().(*configResult)
	if res == nil {
		return false, errors.New("configuration entry not applied")
	}
	return res.Applied, res.Err
}

// errNoChange, returned by a changeTopology function, ends it without a
// change.
var errNoChange = errors.New("no change")

// changeTopology commits a change of the cluster configuration: fn edits a
// copy of the current topology, and the result is committed in the
// configuration group as a compare-and-set on the epoch (so concurrent
// changes cannot undo each other), through the group's leader wherever it
// is. On a conflict it starts again from the newer topology. It returns the
// topology committed (the current one when fn returned errNoChange).
func (n *clusterNode) changeTopology(ctx context.Context, fn func(t *Topology) error) (*Topology, error) {
	for {
		cur := n.cfgFSM.current()
		if cur == nil {
			// Not formed, or (just restarted) the configuration group
			// has not replayed its log yet: wait for it within ctx.
			select {
			case <-ctx.Done():
				return nil, errors.New("the cluster is not formed yet")
			case <-n.stop:
				return nil, ErrServerClosed
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		next := cur.Clone()
		if err := fn(next); err != nil {
			if errors.Is(err, errNoChange) {
				return cur, nil
			}
			return nil, err
		}
		next.Epoch = cur.Epoch + 1
		if err := next.Validate(); err != nil {
			return nil, err
		}
		applied, err := n.proposeConfig(ctx, cur.Epoch, next)
		if err != nil && !errors.Is(err, errNotLeader) {
			return nil, err
		}
		if applied {
			n.waitEpoch(ctx, next.Epoch)
			return next, nil
		}
		// Another change went first, or the leader moved: wait for this
		// node's copy to move on (or a moment), then start again.
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("the configuration change was not committed (is there a leader in the configuration group?): %w", ctx.Err())
		case <-n.stop:
			return nil, ErrServerClosed
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// proposeConfig sends a compare-and-set of the topology to the
// configuration group's leader.
func (n *clusterNode) proposeConfig(ctx context.Context, prevEpoch uint64, t *Topology) (bool, error) {
	g := n.cfgGroup.Load()
	if g == nil {
		return false, errNotLeader
	}
	if g.IsLeader() {
		applied, err := n.applyConfigLocal(prevEpoch, t)
		if errors.Is(err, hraft.ErrNotLeader) || errors.Is(err, hraft.ErrLeadershipLost) {
			return false, errNotLeader
		}
		return applied, err
	}
	addr, _ := g.Raft.LeaderWithID()
	if addr == "" {
		return false, errNotLeader
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, _, err := n.rpcCall(cctx, string(addr), &rpcRequest{Kind: rpcConfigSet, PrevEpoch: prevEpoch, Topology: t}, nil)
	if err != nil {
		return false, errNotLeader // unreachable: retry with whoever leads next
	}
	if resp.NotLeader {
		return false, errNotLeader
	}
	if resp.Err != "" {
		return false, errors.New(resp.Err)
	}
	return resp.Applied, nil
}

// waitEpoch waits (briefly) until this node's copy of the configuration
// has reached epoch.
func (n *clusterNode) waitEpoch(ctx context.Context, epoch uint64) {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if t := n.cfgFSM.current(); t != nil && t.Epoch >= epoch {
			n.kick()
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}
