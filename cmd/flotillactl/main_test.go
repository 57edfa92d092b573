package main

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestParseArgs(t *testing.T) {
	for _, tc := range []struct {
		args    string
		env     map[string]string
		want    options
		wantErr string
	}{
		{args: "status", want: options{addr: "127.0.0.1:6379", args: []string{"status"}}},
		{args: "-h 10.0.0.1 -p 7000 status", want: options{addr: "10.0.0.1:7000", args: []string{"status"}}},
		{args: "status -h 10.0.0.1", want: options{addr: "10.0.0.1:6379", args: []string{"status"}}},
		{args: "-p 7001 failover 3 abcd", want: options{addr: "127.0.0.1:7001", args: []string{"failover", "3", "abcd"}}},
		{args: "--addr 10.0.0.2:6380 status -v --json", want: options{addr: "10.0.0.2:6380", verbose: true, json: true, args: []string{"status"}}},
		{args: "--addr=[::1]:6379 status", want: options{addr: "[::1]:6379", args: []string{"status"}}},
		{args: "-a secret rebalance --no-wait", want: options{addr: "127.0.0.1:6379", password: "secret", noWait: true, args: []string{"rebalance"}}},
		{args: "--user admin -a pw status", want: options{addr: "127.0.0.1:6379", user: "admin", password: "pw", args: []string{"status"}}},
		{args: "status", env: map[string]string{"REDISCLI_AUTH": "fromenv"}, want: options{addr: "127.0.0.1:6379", password: "fromenv", args: []string{"status"}}},
		{args: "-a flag status", env: map[string]string{"REDISCLI_AUTH": "fromenv"}, want: options{addr: "127.0.0.1:6379", password: "flag", args: []string{"status"}}},
		{args: "slots move -- 0-99 2", want: options{addr: "127.0.0.1:6379", args: []string{"slots", "move", "0-99", "2"}}},
		{args: "-h", wantErr: "help"},
		{args: "status -h", wantErr: "help"},
		{args: "--help", wantErr: "help"},
		{args: "help", wantErr: "help"},
		{args: "", wantErr: "no command given"},
		{args: "-p", wantErr: "flag -p needs a value"},
		{args: "-p 0 status", wantErr: `invalid port "0"`},
		{args: "-p x status", wantErr: `invalid port "x"`},
		{args: "--addr nohost status", wantErr: `invalid --addr "nohost": want host:port`},
		{args: "--addr 1.2.3.4:5 -h 1.2.3.4 status", wantErr: "give either --addr or -h/-p"},
		{args: "--bogus status", wantErr: "unknown flag --bogus"},
	} {
		var args []string
		if tc.args != "" {
			args = strings.Fields(tc.args)
		}
		got, err := parseArgs(args, env(tc.env))
		if tc.wantErr != "" {
			if tc.wantErr == "help" {
				if !errors.Is(err, errHelp) {
					t.Errorf("parseArgs(%q) = %+v, %v; want help", tc.args, got, err)
				}
			} else if err == nil || err.Error() != tc.wantErr {
				t.Errorf("parseArgs(%q) = %+v, %v; want error %q", tc.args, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(*got, tc.want) {
			t.Errorf("parseArgs(%q) = %+v, %v; want %+v", tc.args, got, err, tc.want)
		}
	}
}

func TestCheckRanges(t *testing.T) {
	for _, tc := range []struct{ in, wantErr string }{
		{in: "0-99,200,300-310"},
		{in: "16383"},
		{in: "0-16383"},
		{in: "", wantErr: "no slot ranges given"},
		{in: "1,", wantErr: `invalid slot range "": want slots 0-16383 like 0-99,200,300-310`},
		{in: "x-3", wantErr: `invalid slot range "x-3": want slots 0-16383 like 0-99,200,300-310`},
		{in: "+3", wantErr: `invalid slot range "+3": want slots 0-16383 like 0-99,200,300-310`},
		{in: "16384", wantErr: `invalid slot range "16384": want slots 0-16383 like 0-99,200,300-310`},
		{in: "5-", wantErr: `invalid slot range "5-": want slots 0-16383 like 0-99,200,300-310`},
		{in: "9-3", wantErr: `invalid slot range "9-3": 9 is after 3`},
	} {
		err := checkRanges(tc.in)
		if (err == nil) != (tc.wantErr == "") || (err != nil && err.Error() != tc.wantErr) {
			t.Errorf("checkRanges(%q) = %v, want %q", tc.in, err, tc.wantErr)
		}
	}
}

// TestRunUsage checks the command lines refused before any node is asked:
// exit status 2 and the usage text, or 0 and the usage text for help.
func TestRunUsage(t *testing.T) {
	for _, tc := range []struct {
		args     string
		code     int
		wantText string
	}{
		{"help", exitOK, "Usage:"},
		{"-h", exitOK, "Usage:"},
		{"", exitUsage, "flotillactl: no command given"},
		{"frobnicate", exitUsage, `flotillactl: unknown command "frobnicate"`},
		{"status extra", exitUsage, "flotillactl: status takes no arguments"},
		{"failover", exitUsage, "flotillactl: usage: failover <shard> [node]"},
		{"failover x", exitUsage, `flotillactl: invalid shard "x": want a shard ID (a positive integer)`},
		{"failover 0", exitUsage, `flotillactl: invalid shard "0"`},
		{"failover 1 a b", exitUsage, "flotillactl: usage: failover <shard> [node]"},
		{"slots move 0-99", exitUsage, "flotillactl: usage: slots move <ranges> <shard>"},
		{"slots copy 0-99 2", exitUsage, "flotillactl: usage: slots move <ranges> <shard>"},
		{"slots move 0-x 2", exitUsage, `flotillactl: invalid slot range "0-x"`},
		{"slots move 0-99 -1", exitUsage, "flotillactl: unknown flag -1"},
		{"slots move 0-99 two", exitUsage, `flotillactl: invalid shard "two"`},
		{"rebalance now", exitUsage, "flotillactl: rebalance takes no arguments"},
		{"node", exitUsage, "flotillactl: usage: node add <host:gossip-port> | node remove <node>"},
		{"node add", exitUsage, "flotillactl: usage: node add <host:gossip-port> | node remove <node>"},
		{"node drain x", exitUsage, "flotillactl: usage: node add <host:gossip-port> | node remove <node>"},
	} {
		var out, errOut bytes.Buffer
		var args []string
		if tc.args != "" {
			args = strings.Fields(tc.args)
		}
		code := run(args, &out, &errOut, env(nil))
		text := out.String() + errOut.String()
		if code != tc.code || !strings.Contains(text, tc.wantText) {
			t.Errorf("flotillactl %s: exit %d, output:\n%s\nwant exit %d and %q", tc.args, code, text, tc.code, tc.wantText)
		}
		if tc.code == exitUsage && !strings.Contains(errOut.String(), "Usage:") {
			t.Errorf("flotillactl %s: no usage text on stderr", tc.args)
		}
	}
}

// TestRunUnreachable: a node that does not answer is an error (exit 1).
func TestRunUnreachable(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run([]string{"--addr", "127.0.0.1:1", "status"}, &out, &errOut, env(nil))
	if code != exitError || !strings.HasPrefix(errOut.String(), "flotillactl: 127.0.0.1:1: ") {
		t.Errorf("status against a closed port: exit %d, stderr %q", code, errOut.String())
	}
}
