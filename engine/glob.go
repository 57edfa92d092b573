package engine

// GlobMatch reports whether s matches the glob-style pattern as Redis's
// stringmatchlen does (KEYS, SCAN MATCH, PSUBSCRIBE, CONFIG GET...): '*',
// '?', '[...]' with ranges and '^', and '\' escapes. nocase folds ASCII
// case. Patterns nested too deeply stop matching, as in Redis 7.0. Like
// Redis, an empty s matches no pattern: callers treat "*" as "everything".
func GlobMatch(pattern, s string, nocase bool) bool {
	skip := false
	return globMatch(pattern, s, nocase, &skip, 0)
}

func globLower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// globMatch follows stringmatchlen_impl step by step; at(p, i) stands in
// for C's NUL terminator when i runs past the pattern.
func globMatch(p, s string, nocase bool, skipLonger *bool, nesting int) bool {
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
				if globMatch(p[pi+1:], s[si:], nocase, skipLonger, nesting+1) {
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
						start, end, c = globLower(start), globLower(end), globLower(c)
					}
					pi += 2
					if c >= start && c <= end {
						match = true
					}
				} else if nocase {
					if globLower(p[pi]) == globLower(s[si]) {
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
				if globLower(p[pi]) != globLower(s[si]) {
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
