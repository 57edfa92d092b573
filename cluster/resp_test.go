package cluster

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// respReader reads replies and renders them as text: +simple, -error,
// :int, "bulk", (nil), [a b], {k: v}, ~[...], ,double, #t, >[push].
type respReader struct{ rd *bufio.Reader }

func newRespReader(r io.Reader) *respReader { return &respReader{bufio.NewReader(r)} }

func (r *respReader) readText() (string, error) {
	line, err := r.rd.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("empty line")
	}
	typ, rest := line[0], line[1:]
	switch typ {
	case '+', '-', ':', ',', '#':
		return string(typ) + rest, nil
	case '_':
		return "(nil)", nil
	case '$', '=':
		n, _ := strconv.Atoi(rest)
		if n < 0 {
			return "(nil)", nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r.rd, buf); err != nil {
			return "", err
		}
		s := string(buf[:n])
		if typ == '=' {
			s = s[4:]
		}
		return strconv.Quote(s), nil
	case '*', '~', '>', '%':
		n, _ := strconv.Atoi(rest)
		if n < 0 {
			return "(nil-array)", nil
		}
		count := n
		open, closer := "[", "]"
		switch typ {
		case '~':
			open = "~["
		case '>':
			open = ">["
		case '%':
			open, closer, count = "{", "}", 2*n
		}
		var parts []string
		for i := 0; i < count; i++ {
			v, err := r.readText()
			if err != nil {
				return "", err
			}
			parts = append(parts, v)
		}
		if typ == '%' {
			var kv []string
			for i := 0; i+1 < len(parts); i += 2 {
				kv = append(kv, parts[i]+": "+parts[i+1])
			}
			return open + strings.Join(kv, ", ") + closer, nil
		}
		return open + strings.Join(parts, " ") + closer, nil
	}
	return "", fmt.Errorf("unexpected reply %q", line)
}
