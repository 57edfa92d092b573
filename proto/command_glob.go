package proto

// cmdGlobMatch reports whether s matches the glob-style pattern, ignoring
// ASCII case, as Redis's stringmatchlen(..., nocase=1) does for COMMAND
// LIST FILTERBY PATTERN. (A copy of engine.GlobMatch: proto imports no
// other project package.)
func cmdGlobMatch(pattern, s string) bool {
	skip := false
	return cmdGlobMatchImpl(pattern, s, true, &skip, 0)
}

func cmdGlobLower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// globMatch follows stringmatchlen_impl step by step; at(p, i) stands in
// for C's NUL terminator when i runs past the pattern.
func cmdGlobMatchImpl(p, s string, nocase bool, skipLonger *bool, nesting int) bool {
	if nesting > 1000 {
		return false
	}
	at := func(i int) byte {
		if i < len(p) {
			return p[i]
		}
		return 0
	}
	pi, si := 0, 0
	for pi < len(p) && si < len(s) {
		switch p[pi] {
		case '*':
			for pi+1 < len(p) && p[pi+1] == '*' {
				pi++
			}
			if pi == len(p)-1 {
				return true
			}
			for si < len(s) {
				if cmdGlobMatchImpl(p[pi+1:], s[si:], nocase, skipLonger, nesting+1) {
					return true
				}
				if *skipLonger {
					return false
				}
				si++
			}
			*skipLonger = true
			return false
		case '?':
			si++
		case '[':
			pi++
			not := at(pi) == '^'
			if not {
				pi++
			}
			match := false
			for {
				plen := len(p) - pi
				if at(pi) == '\\' && plen >= 2 {
					pi++
					if p[pi] == s[si] {
						match = true
					}
				} else if at(pi) == ']' {
					break
				} else if plen <= 0 {
					pi--
					break
				} else if plen >= 3 && p[pi+1] == '-' {
					start, end, c := p[pi], p[pi+2], s[si]
					if start > end {
						start, end = end, start
					}
					if nocase {
						start, end, c = cmdGlobLower(start), cmdGlobLower(end), cmdGlobLower(c)
					}
					pi += 2
					if c >= start && c <= end {
						match = true
					}
				} else if nocase {
					if cmdGlobLower(p[pi]) == cmdGlobLower(s[si]) {
						match = true
					}
				} else if p[pi] == s[si] {
					match = true
				}
				pi++
			}
			if not {
				match = !match
			}
			if !match {
				return false
			}
			si++
		case '\\':
			if len(p)-pi >= 2 {
				pi++
			}
			fallthrough
		default:
			if nocase {
				if cmdGlobLower(p[pi]) != cmdGlobLower(s[si]) {
					return false
				}
			} else if p[pi] != s[si] {
				return false
			}
			si++
		}
		pi++
		if si == len(s) {
			for at(pi) == '*' {
				pi++
			}
			break
		}
	}
	return pi >= len(p) && si == len(s)
}
