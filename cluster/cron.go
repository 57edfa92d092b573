package cluster

import (
	"time"
)

// runCron is the node's periodic work, hz times a second: active expiry.
func (s *Server) runCron() {
	defer s.wg.Done()
	var cursor uint64
	lastSample, lastCount := time.Now(), int64(0)
	for {
		hz := max(s.cfg.Int("hz"), 1)
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(time.Second / time.Duration(hz)):
		}
		if now := time.Now(); now.Sub(lastSample) >= time.Second {
			n := s.stats.commands.Load()
			s.opsRate.Store(int64(float64(n-lastCount) / now.Sub(lastSample).Seconds()))
			lastSample, lastCount = now, n
		}
		if s.activeExpire.Load() {
			if s.node != nil {
				s.node.activeExpire(s, time.Second/time.Duration(hz)/4)
			} else {
				cursor = s.activeExpireCycle(cursor, time.Second/time.Duration(hz)/4)
			}
		}
	}
}

// activeExpireCycle deletes expired keys as Redis's activeExpireCycle does:
// sample volatile keys, delete those expired, and keep going while more than
// a tenth of the sample was expired, within a time budget (a quarter of the
// cron period). The sampling runs under the read lock; the deletes are a
// write, which is what the Raft step will propose.
func (s *Server) activeExpireCycle(cursor uint64, budget time.Duration) uint64 {
	effort := s.cfg.Int("active-expire-effort")
	perLoop := int(20 + 5*(effort-1))
	start := time.Now()
	sh := s.shard
	for {
		now := time.Now().UnixMilli()
		sh.BeginRead()
		if sh.DB().VolatileLen() == 0 {
			sh.EndRead()
			return 0
		}
		keys, next, sampled := sh.DB().ExpiredKeys(now, cursor, perLoop)
		sh.EndRead()
		cursor = next
		if len(keys) > 0 {
			sh.BeginWrite()
			sh.DB().DeleteExpired(now, keys)
			sh.EndWrite()
		}
		if sampled == 0 || len(keys)*10 < sampled || time.Since(start) > budget {
			return cursor
		}
	}
}
