// Command flotillactl administers a Flotilla cluster through any of its
// nodes: it shows the cluster (status), moves leaderships (failover) and
// slots (slots move, rebalance), and adds and removes nodes. It speaks
// RESP, with the FLOTILLA commands of the nodes (cluster/admin_flotilla.go),
// and takes redis-cli's connection flags.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flotilla-db/flotilla/shard"
)

const usageText = `flotillactl: administer a Flotilla cluster through any of its nodes.

Usage:
  flotillactl [connection flags] <command> [arguments] [flags]

Commands:
  status [-v] [--json]           the nodes (zone, state, shards, leaderships) and
                                 the shards (leader, replicas, slots, keys, log lag);
                                 -v adds every replica's Raft state, --json prints
                                 every node's FLOTILLA STATUS
  failover <shard> [node]        move the shard's leadership to the node (default:
                                 its most caught-up other replica)
  slots move <ranges> <shard>    move slots live to a shard; ranges like 0-99,200,300-310
  rebalance                      move slots so that the shards even out
  node add <host:gossip-port>    add the node gossiping at that address
  node remove <node>             drain a node (leaderships, replicas, slots), then remove it
  help                           this text

In status, LAG is how many log entries the shard's furthest-behind follower
lacks (its leader's last index less its own; "+?" when a replica's node did
not answer). A node is named by its ID, a unique prefix of 4 or more of its
digits, or its address (ip:port).

slots move, rebalance and node remove wait for the slot moves they start,
showing their progress (Ctrl-C stops watching; the moves go on); --no-wait
returns at once.

Connection flags (as redis-cli's):
  -h <host>        a node's address (default 127.0.0.1)
  -p <port>        its port (default 6379)
  --addr <host:port>
  -a <password>    the nodes' requirepass (default: $REDISCLI_AUTH)
  --user <name>    the user to authenticate as (default: the default user)
  -h or --help alone prints this text.

Exit status: 0 on success, 1 when the cluster refuses or a move fails, 2 on a
bad command line.
`

// exit statuses
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// options are the parsed command line.
type options struct {
	addr     string
	user     string
	password string
	noWait   bool
	verbose  bool
	json     bool
	args     []string // the command and its arguments
}

// errHelp asks for the usage text.
var errHelp = errors.New("help requested")

// parseArgs parses the command line (without the program name). Flags may
// come before or after the command. -h takes a host, except as the last
// argument, where it asks for help (as --help does).
func parseArgs(args []string, getenv func(string) string) (*options, error) {
	o := &options{password: getenv("REDISCLI_AUTH")}
	host, port := "", ""
	value := func(i *int, flag string) (string, error) {
		if *i+1 >= len(args) {
			return "", fmt.Errorf("flag %s needs a value", flag)
		}
		*i++
		return args[*i], nil
	}
	var err error
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			o.args = append(o.args, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			o.args = append(o.args, a)
			continue
		}
		name, val, hasVal := strings.Cut(a, "=")
		if hasVal && !strings.HasPrefix(name, "--") {
			name, hasVal = a, false
		}
		take := func() (string, error) {
			if hasVal {
				return val, nil
			}
			return value(&i, name)
		}
		switch name {
		case "--help":
			return nil, errHelp
		case "-h":
			if i == len(args)-1 {
				return nil, errHelp
			}
			if host, err = take(); err != nil {
				return nil, err
			}
		case "-p":
			if port, err = take(); err != nil {
				return nil, err
			}
			if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
				return nil, fmt.Errorf("invalid port %q", port)
			}
		case "-a", "--pass":
			if o.password, err = take(); err != nil {
				return nil, err
			}
		case "--user":
			if o.user, err = take(); err != nil {
				return nil, err
			}
		case "--addr":
			if o.addr, err = take(); err != nil {
				return nil, err
			}
			if _, _, err := net.SplitHostPort(o.addr); err != nil {
				return nil, fmt.Errorf("invalid --addr %q: want host:port", o.addr)
			}
		case "--no-wait":
			o.noWait = true
		case "-v", "--verbose":
			o.verbose = true
		case "--json":
			o.json = true
		default:
			return nil, fmt.Errorf("unknown flag %s", a)
		}
	}
	if o.addr != "" && (host != "" || port != "") {
		return nil, errors.New("give either --addr or -h/-p")
	}
	if o.addr == "" {
		o.addr = net.JoinHostPort(cmpOr(host, "127.0.0.1"), cmpOr(port, "6379"))
	}
	if len(o.args) == 0 {
		return nil, errors.New("no command given")
	}
	if o.args[0] == "help" {
		return nil, errHelp
	}
	return o, nil
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// usageError is a command line that names no valid command.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

func run(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	// go-redis logs its dial retries; the errors are reported here.
	redis.SetLogger(quietLogger{})
	o, err := parseArgs(args, getenv)
	if errors.Is(err, errHelp) {
		fmt.Fprint(stdout, usageText)
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "flotillactl: %v\n\n%s", err, usageText)
		return exitUsage
	}
	c := newCtl(o, stdout, stderr)
	defer c.close()
	if err := c.dispatch(context.Background()); err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "flotillactl: %v\n\n%s", err, usageText)
			return exitUsage
		}
		fmt.Fprintf(stderr, "flotillactl: %v\n", err)
		return exitError
	}
	return exitOK
}

// ctl runs one command against the cluster.
type ctl struct {
	o       *options
	out     io.Writer
	errOut  io.Writer
	clients map[string]*redis.Client
	// isTTY: draw progress bars (else one line per second).
	isTTY bool
	// poll is how often progress is polled.
	poll time.Duration
}

func newCtl(o *options, stdout, stderr io.Writer) *ctl {
	c := &ctl{o: o, out: stdout, errOut: stderr, clients: map[string]*redis.Client{}, poll: 500 * time.Millisecond}
	if f, ok := stdout.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			c.isTTY = true
		}
	}
	return c
}

// client returns the (cached) client of the node at addr.
func (c *ctl) client(addr string) *redis.Client {
	if cl := c.clients[addr]; cl != nil {
		return cl
	}
	cl := redis.NewClient(&redis.Options{
		Addr:            addr,
		Username:        c.o.user,
		Password:        c.o.password,
		Protocol:        2,
		DisableIdentity: true,
		MaxRetries:      -1,
		DialTimeout:     2 * time.Second,
		// FAILOVER waits for the transfer (seconds); the rest is quick.
		ReadTimeout:  30 * time.Second,
		WriteTimeout: 5 * time.Second,
		PoolSize:     2,
	})
	c.clients[addr] = cl
	return cl
}

func (c *ctl) close() {
	for _, cl := range c.clients {
		cl.Close()
	}
}

func (c *ctl) dispatch(ctx context.Context) error {
	a := c.o.args
	switch cmd := a[0]; cmd {
	case "status":
		if len(a) != 1 {
			return usageError{"status takes no arguments"}
		}
		return c.status(ctx)
	case "failover":
		if len(a) < 2 || len(a) > 3 {
			return usageError{"usage: failover <shard> [node]"}
		}
		shardID, err := parseShard(a[1])
		if err != nil {
			return usageError{err.Error()}
		}
		node := ""
		if len(a) == 3 {
			node = a[2]
		}
		return c.failover(ctx, shardID, node)
	case "slots":
		if len(a) != 4 || a[1] != "move" {
			return usageError{"usage: slots move <ranges> <shard>"}
		}
		if err := checkRanges(a[2]); err != nil {
			return usageError{err.Error()}
		}
		shardID, err := parseShard(a[3])
		if err != nil {
			return usageError{err.Error()}
		}
		return c.slotsMove(ctx, a[2], shardID)
	case "rebalance":
		if len(a) != 1 {
			return usageError{"rebalance takes no arguments"}
		}
		return c.rebalance(ctx)
	case "node":
		if len(a) != 3 || (a[1] != "add" && a[1] != "remove") {
			return usageError{"usage: node add <host:gossip-port> | node remove <node>"}
		}
		if a[1] == "add" {
			return c.nodeAdd(ctx, a[2])
		}
		return c.nodeRemove(ctx, a[2])
	default:
		return usageError{fmt.Sprintf("unknown command %q", cmd)}
	}
}

// parseShard parses a shard ID: a positive integer.
func parseShard(s string) (shard.ID, error) {
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil || v == 0 {
		return 0, fmt.Errorf("invalid shard %q: want a shard ID (a positive integer)", s)
	}
	return shard.ID(v), nil
}

// checkRanges checks the shape of slot ranges ("0-99,200,300-310") before
// they go to the server, which checks them fully.
func checkRanges(s string) error {
	if s == "" {
		return errors.New("no slot ranges given")
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		nums := []string{lo}
		if isRange {
			nums = append(nums, hi)
		}
		var vals []int
		for _, n := range nums {
			v, err := strconv.Atoi(n)
			if n == "" || len(n) > 5 || strings.Trim(n, "0123456789") != "" || err != nil || v > 16383 {
				return fmt.Errorf("invalid slot range %q: want slots 0-16383 like 0-99,200,300-310", part)
			}
			vals = append(vals, v)
		}
		if isRange && vals[0] > vals[1] {
			return fmt.Errorf("invalid slot range %q: %d is after %d", part, vals[0], vals[1])
		}
	}
	return nil
}
