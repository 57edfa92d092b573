package main

import (
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/tidwall/redcon"
)

// The reference server is what the single-node issue measures Flotilla's
// own cost against: a bare tidwall/redcon server (goroutine per
// connection, as Flotilla), its data in Go maps behind one lock, answering
// only the commands redis-benchmark's tests send, with no expiry, no
// statistics, no encodings. Its ratio to Redis is about the best a Go
// server of this shape reaches on the machine; Flotilla's ratio to it is
// the cost of everything else. It runs in its own process (flotilla-bench
// -serve-reference addr), one P as a standalone Flotilla node.

// referenceStore is the reference server's data.
type referenceStore struct {
	mu      sync.Mutex
	strings map[string][]byte
	lists   map[string][][]byte // head at the end
	sets    map[string]map[string]struct{}
	hashes  map[string]map[string][]byte
	zsets   map[string]map[string]float64
}

func serveReference(addr string) error {
	runtime.GOMAXPROCS(1)
	return newReferenceServer(addr).ListenAndServe()
}

func newReferenceServer(addr string) *redcon.Server {
	st := &referenceStore{
		strings: map[string][]byte{},
		lists:   map[string][][]byte{},
		sets:    map[string]map[string]struct{}{},
		hashes:  map[string]map[string][]byte{},
		zsets:   map[string]map[string]float64{},
	}
	return redcon.NewServer(addr, st.handle, nil, nil)
}

// referenceArity is the exact arity of the fixed-arity commands.
var referenceArity = map[string]int{"set": 3, "get": 2, "incr": 2, "lpop": 2}

func (st *referenceStore) handle(conn redcon.Conn, cmd redcon.Command) {
	args := cmd.Args
	name := strings.ToLower(string(args[0]))
	if n, ok := referenceArity[name]; ok && len(args) != n {
		conn.WriteError("ERR wrong number of arguments for '" + name + "' command")
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	switch name {
	case "set":
		st.strings[string(args[1])] = append([]byte(nil), args[2]...)
		conn.WriteString("OK")
	case "mset":
		if len(args) < 3 || len(args)%2 == 0 {
			conn.WriteError("ERR wrong number of arguments for 'mset' command")
			return
		}
		for i := 1; i+1 < len(args); i += 2 {
			st.strings[string(args[i])] = append([]byte(nil), args[i+1]...)
		}
		conn.WriteString("OK")
	case "get":
		if v, ok := st.strings[string(args[1])]; ok {
			conn.WriteBulk(v)
		} else {
			conn.WriteNull()
		}
	case "incr":
		n, err := strconv.ParseInt(string(st.strings[string(args[1])]), 10, 64)
		if _, ok := st.strings[string(args[1])]; ok && err != nil {
			conn.WriteError("ERR value is not an integer or out of range")
			return
		}
		n++
		st.strings[string(args[1])] = strconv.AppendInt(nil, n, 10)
		conn.WriteInt64(n)
	case "lpush":
		l := st.lists[string(args[1])]
		for _, v := range args[2:] {
			l = append(l, append([]byte(nil), v...))
		}
		st.lists[string(args[1])] = l
		conn.WriteInt(len(l))
	case "lpop":
		l := st.lists[string(args[1])]
		if len(l) == 0 {
			conn.WriteNull()
			return
		}
		conn.WriteBulk(l[len(l)-1])
		st.lists[string(args[1])] = l[:len(l)-1]
	case "sadd":
		s := st.sets[string(args[1])]
		if s == nil {
			s = map[string]struct{}{}
			st.sets[string(args[1])] = s
		}
		added := 0
		for _, m := range args[2:] {
			if _, ok := s[string(m)]; !ok {
				s[string(m)] = struct{}{}
				added++
			}
		}
		conn.WriteInt(added)
	case "hset":
		h := st.hashes[string(args[1])]
		if h == nil {
			h = map[string][]byte{}
			st.hashes[string(args[1])] = h
		}
		added := 0
		for i := 2; i+1 < len(args); i += 2 {
			if _, ok := h[string(args[i])]; !ok {
				added++
			}
			h[string(args[i])] = append([]byte(nil), args[i+1]...)
		}
		conn.WriteInt(added)
	case "zadd":
		z := st.zsets[string(args[1])]
		if z == nil {
			z = map[string]float64{}
			st.zsets[string(args[1])] = z
		}
		added := 0
		for i := 2; i+1 < len(args); i += 2 {
			score, err := strconv.ParseFloat(string(args[i]), 64)
			if err != nil {
				conn.WriteError("ERR value is not a valid float")
				return
			}
			if _, ok := z[string(args[i+1])]; !ok {
				added++
			}
			z[string(args[i+1])] = score
		}
		conn.WriteInt(added)
	case "config":
		// redis-benchmark asks CONFIG GET save and appendonly at start.
		conn.WriteArray(2)
		conn.WriteBulk(args[len(args)-1])
		conn.WriteBulkString("")
	case "ping":
		conn.WriteString("PONG")
	default:
		conn.WriteError("ERR unknown command '" + string(args[0]) + "'")
	}
}
