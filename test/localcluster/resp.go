package localcluster

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// ReplyError is an error reply (-ERR ..., -CLUSTERDOWN ...) from a node.
type ReplyError string

func (e ReplyError) Error() string { return string(e) }

// Do sends one command to addr on a new connection and returns the reply as
// text: a status, a bulk string, or an integer in decimal. An error reply is
// a ReplyError; arrays are not supported. It is deliberately tiny and
// dependency-free: readiness probes must not share the retries, pools and
// redirects of a real client, which would hide what a single node says.
func Do(addr string, timeout time.Duration, args ...string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(timeout))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(conn, b.String()); err != nil {
		return "", err
	}
	rd := bufio.NewReader(conn)
	line, err := rd.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return "", errors.New("localcluster: empty reply")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", ReplyError(line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < -1 {
			return "", fmt.Errorf("localcluster: bad bulk length %q", line)
		}
		if n == -1 {
			return "", nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(rd, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return "", fmt.Errorf("localcluster: unsupported reply %q", line)
}

// ClusterInfo asks the node at addr for CLUSTER INFO and returns its fields
// (cluster_state, cluster_known_nodes, ...).
func ClusterInfo(addr string, timeout time.Duration) (map[string]string, error) {
	text, err := Do(addr, timeout, "CLUSTER", "INFO")
	if err != nil {
		return nil, err
	}
	info := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			info[k] = v
		}
	}
	return info, nil
}
