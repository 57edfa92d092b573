package cluster

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/flotilla-db/flotilla/proto"
)

// pauseState is CLIENT PAUSE: until a deadline, commands of every client (ALL)
// or only writes (WRITE) wait.
type pauseState struct {
	paused atomic.Bool
	mu     sync.Mutex
	until  time.Time
	all    bool
	resume chan struct{} // closed when the pause ends
}

// start pauses clients until the deadline; a later pause extends it, and
// ALL wins over WRITE while both are in force, as in Redis.
func (p *pauseState) start(until time.Time, all bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.paused.Load() {
		p.resume = make(chan struct{})
		p.until, p.all = until, all
		p.paused.Store(true)
		go p.expire(p.resume)
		return
	}
	if until.After(p.until) {
		p.until = until
	}
	p.all = p.all || all
}

func (p *pauseState) expire(resume chan struct{}) {
	for {
		p.mu.Lock()
		if p.resume != resume {
			p.mu.Unlock()
			return
		}
		d := time.Until(p.until)
		if d <= 0 {
			p.stopLocked()
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
		select {
		case <-time.After(d):
		case <-resume:
			return
		}
	}
}

// stop ends the pause (CLIENT UNPAUSE).
func (p *pauseState) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopLocked()
}

func (p *pauseState) stopLocked() {
	if p.paused.Load() {
		p.paused.Store(false)
		close(p.resume)
		p.resume = nil
	}
}

// wait holds the client while a pause applies to cmd.
func (p *pauseState) wait(c *conn, cmd *proto.Command) {
	if !p.paused.Load() {
		return
	}
	p.mu.Lock()
	resume, all := p.resume, p.all
	p.mu.Unlock()
	if resume == nil {
		return
	}
	if !all && cmd.Flags&(proto.FlagWrite|proto.FlagMayReplicate) == 0 {
		return
	}
	c.blocked.Store(true)
	defer c.blocked.Store(false)
	select {
	case <-resume:
	case <-c.s.ctx.Done():
	}
}
