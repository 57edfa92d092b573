package chaos

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultReadTimeout is how long a client waits for a reply. A Flotilla
// node holds a command up to a second while its shard elects a leader, and
// a busy machine adds to that; a write without a reply in time is
// indeterminate. A client stuck on a paused node waits this long before it
// looks for the new leader, which shows in the recovery times.
const DefaultReadTimeout = 2 * time.Second

const dialTimeout = time.Second

// quietGoRedis silences go-redis's logger, which logs every failed dial:
// during a drill, that would be most of the output.
var quietGoRedis = sync.OnceFunc(func() { redis.SetLogger(quietLogger{}) })

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// newClusterClient is a go-redis ClusterClient for the drills: it follows
// MOVED and ASK, and node clients do not retry (MaxRetries -1). Writes go
// through doWrite, which forbids go-redis's own retries of a command whose
// outcome is unknown.
func newClusterClient(addrs []string, pool int, readTimeout time.Duration) *redis.ClusterClient {
	return redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:        addrs,
		MaxRedirects: 8,
		MaxRetries:   -1,
		DialTimeout:  dialTimeout,
		ReadTimeout:  readTimeout,
		WriteTimeout: readTimeout,
		PoolSize:     pool,
		// Dead nodes are dialled often during a drill; do not keep a
		// failing node out for long after it is back.
		FailingTimeoutSeconds: 1,
	})
}

// Outcome is what a client knows of an operation it sent.
type Outcome int

const (
	// OK: the server replied with success.
	OK Outcome = iota
	// Failed: the operation certainly did not take effect (an error reply
	// that Redis gives before running a command, or no connection).
	Failed
	// Indeterminate: it may or may not have taken effect (no reply in
	// time, a connection lost after sending, an UNCERTAIN reply).
	Indeterminate
)

func (o Outcome) String() string {
	switch o {
	case OK:
		return "ok"
	case Failed:
		return "failed"
	}
	return "indeterminate"
}

// definiteErrors are the error replies given before a command runs: it did
// not take effect. Any other error reply counts as indeterminate.
var definiteErrors = []string{
	"MOVED ", "ASK ", "CLUSTERDOWN", "TRYAGAIN", "CROSSSLOT", "LOADING",
	"MASTERDOWN", "READONLY", "EXECABORT", "NOREPLICAS", "WRONGTYPE", "NOAUTH",
}

// classify returns the outcome of an operation that ended with err.
func classify(err error) Outcome {
	if err == nil || errors.Is(err, redis.Nil) {
		return OK
	}
	var rerr redis.Error
	if errors.As(err, &rerr) {
		msg := rerr.Error()
		for _, p := range definiteErrors {
			if strings.HasPrefix(msg, p) {
				return Failed
			}
		}
		return Indeterminate
	}
	// Nothing was sent when the connection could not be made.
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return Failed
	}
	if strings.Contains(err.Error(), "connection refused") || strings.Contains(err.Error(), "connection pool timeout") {
		return Failed
	}
	return Indeterminate
}

// noRetry wraps a command so that the ClusterClient does not send it again
// after a network error (an EOF, a timeout): the first attempt may have
// taken effect, and a second one would apply an INCR or RPUSH twice while
// the drill counted it once. MOVED and ASK are still followed: those
// replies mean the command did not run.
type noRetry struct{ redis.Cmder }

func (noRetry) NoRetry() bool { return true }

// write sends a write command once and classifies the result. On a network
// error it asks the client to reload the slot map, as go-redis would itself
// when it retries.
func (w *WorkEnv) write(ctx context.Context, cmd redis.Cmder) Outcome {
	cc := w.Client
	ctx, cancel := context.WithTimeout(ctx, w.opTimeout())
	defer cancel()
	err := cc.Process(ctx, noRetry{cmd})
	o := classify(err)
	if o != OK {
		w.noteErr(err)
	}
	if o != OK && (!isReplyError(err) || strings.HasPrefix(err.Error(), "CLUSTERDOWN")) {
		cc.ReloadState(ctx)
	}
	return o
}

// isReplyError reports whether err is an error reply from a server (as
// opposed to a network error or a timeout).
func isReplyError(err error) bool {
	var rerr redis.Error
	return errors.As(err, &rerr)
}

// read sends a read command (or an idempotent write); go-redis may retry
// it, which is harmless for a read.
func (w *WorkEnv) read(ctx context.Context, cmd redis.Cmder) error {
	cc := w.Client
	ctx, cancel := context.WithTimeout(ctx, w.opTimeout())
	defer cancel()
	err := cc.Process(ctx, cmd)
	if err != nil && !errors.Is(err, redis.Nil) && !isReplyError(err) {
		cc.ReloadState(ctx)
	}
	return err
}

// opTimeout bounds one operation, redirects and reconnections included.
func (w *WorkEnv) opTimeout() time.Duration {
	return 2*w.Client.Options().ReadTimeout + dialTimeout
}
