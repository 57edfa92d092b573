package cluster

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestLoadFileAndFlags(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "flotilla.conf")
	os.WriteFile(path, []byte("# comment\nport 7001\nbind 127.0.0.1 -::1\nrequirepass \"s3 cret\"\nhash-max-ziplist-entries 64\nproto-max-bulk-len 2mb\n"), 0o644)
	cfg, err := Load([]string{path, "--port", "7002", "--loglevel", "warning"})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"port":                      "7002", // the flag wins
		"bind":                      "127.0.0.1 -::1",
		"requirepass":               "s3 cret",
		"hash-max-listpack-entries": "64", // set through its old name
		"proto-max-bulk-len":        "2097152",
		"loglevel":                  "warning",
		"maxclients":                "10000",
	} {
		if got := cfg.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

func TestLoadErrorsNameTheDirective(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.conf")
	os.WriteFile(path, []byte("port 7001\nmaxclients lots\n"), 0o644)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{path}, []string{"at line 2", ">>> 'maxclients lots'", "maxclients: argument couldn't be parsed into an integer"}},
		{[]string{"--port", "99999"}, []string{"port: argument must be between 0 and 65535 inclusive"}},
		{[]string{"--nosuch", "1"}, []string{"nosuch: Bad directive or wrong number of arguments"}},
		{[]string{"--protected-mode", "maybe"}, []string{"protected-mode: argument must be 'yes' or 'no'"}},
		{[]string{"--loglevel", "loud"}, []string{"loglevel: argument(s) must be one of the following"}},
		{[]string{"--client-query-buffer-limit", "1kb"}, []string{"client-query-buffer-limit: argument must be between"}},
	} {
		_, err := Load(tc.args)
		if err == nil {
			t.Errorf("%v: no error", tc.args)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q lacks %q", tc.args, err, w)
			}
		}
	}
}

func TestConfigRewrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "flotilla.conf")
	os.WriteFile(path, []byte("# my settings\nport 0\nbind 127.0.0.1\ntimeout 5\ncluster-enabled no\n"), 0o644)
	cfg, err := Load([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(cfg, nil)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := dialRaw(t, s)
	if got := r.do("CONFIG", "SET", "timeout", "7", "maxclients", "50"); got != "+OK" {
		t.Fatal(got)
	}
	if got := r.do("CONFIG", "REWRITE"); got != "+OK" {
		t.Fatal(got)
	}
	data, _ := os.ReadFile(path)
	text := string(data)
	for _, want := range []string{"# my settings\n", "timeout 7\n", "maxclients 50\n", "bind 127.0.0.1\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("rewritten file lacks %q:\n%s", want, text)
		}
	}
	cfg2, err := Load([]string{path})
	if err != nil || cfg2.Get("timeout") != "7" {
		t.Errorf("rewritten file does not load back: %v", err)
	}
}

// TestMaxmemoryWarnsNotEnforced: maxmemory is accepted but not enforced
// yet; the server says so in its log at start and when CONFIG SET changes
// it, so that no operator takes the limit for one that holds.
func TestMaxmemoryWarnsNotEnforced(t *testing.T) {
	var buf syncBuffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	cfg, err := Load([]string{"--maxmemory", "100mb", "--cluster-enabled", "no"})
	if err != nil {
		t.Fatal(err)
	}
	NewServer(cfg, log)
	if !strings.Contains(buf.String(), "maxmemory is not enforced yet") {
		t.Fatalf("no warning at start with maxmemory 100mb; log: %s", buf.String())
	}
	quiet, err := Load([]string{"--cluster-enabled", "no"})
	if err != nil {
		t.Fatal(err)
	}
	var buf2 syncBuffer
	NewServer(quiet, slog.New(slog.NewTextHandler(&buf2, nil)))
	if strings.Contains(buf2.String(), "maxmemory") {
		t.Fatalf("a warning without maxmemory: %s", buf2.String())
	}
	if err := quiet.Set([][2]string{{"maxmemory", "1gb"}}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf2.String(), "maxmemory is not enforced yet") {
		t.Fatalf("no warning after CONFIG SET maxmemory 1gb; log: %s", buf2.String())
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a test at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
