package engine

import "testing"

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		nocase     bool
		want       bool
	}{
		{"*", "", false, false}, // as Redis; callers special-case "*"
		{"*", "anything", false, true},
		{"h?llo", "hello", false, true},
		{"h?llo", "hllo", false, false},
		{"h*llo", "heeeello", false, true},
		{"h[ae]llo", "hallo", false, true},
		{"h[ae]llo", "hillo", false, false},
		{"h[^e]llo", "hallo", false, true},
		{"h[^e]llo", "hello", false, false},
		{"h[a-b]llo", "hbllo", false, true},
		{"h[b-a]llo", "hbllo", false, true},
		{"h[a-b]llo", "hcllo", false, false},
		{`h\*llo`, "h*llo", false, true},
		{`h\*llo`, "hello", false, false},
		{"HELLO", "hello", true, true},
		{"HELLO", "hello", false, false},
		{"a*b*c", "aXXbYYc", false, true},
		{"a*b*c", "aXXbYY", false, false},
		{"abc", "ab", false, false},
		{"ab", "abc", false, false},
		{"ab*", "ab", false, true},
		{"[abc", "a", false, true},
		{"", "", false, true},
		{"", "a", false, false},
		{"user:*:name", "user:42:name", false, true},
	}
	for _, tt := range tests {
		if got := GlobMatch(tt.pattern, tt.s, tt.nocase); got != tt.want {
			t.Errorf("GlobMatch(%q, %q, %v) = %v, want %v", tt.pattern, tt.s, tt.nocase, got, tt.want)
		}
	}
}
