package cli

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParseWatch(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(t *testing.T, c Config)
		wantErr string
	}{
		{name: "redis flag", args: []string{"watch", "--redis", "redis://h:1/0"}, check: func(t *testing.T, c Config) {
			if c.RedisURL != "redis://h:1/0" || c.ReadBudget != 1000 || c.MaxPayload != 65536 || c.Window != 300*time.Millisecond {
				t.Errorf("defaults: %+v", c)
			}
		}},
		{name: "env fallbacks", args: []string{"watch"}, env: map[string]string{"REDIS_URL": "redis://e:2/1", "SESSIONSCOPE_JSON": "1",
			"SESSIONSCOPE_READ_BUDGET": "50", "SESSIONSCOPE_PREFIX": "a=a:,b=b::json", "SESSIONSCOPE_REVEAL_IDS": "true"},
			check: func(t *testing.T, c Config) {
				if c.RedisURL != "redis://e:2/1" || !c.JSON || c.ReadBudget != 50 || len(c.Prefixes) != 2 || !c.RevealIDs {
					t.Errorf("env not applied: %+v", c)
				}
			}},
		{name: "flag beats env", args: []string{"watch", "--redis", "redis://flag:1/0", "--read-budget", "7"}, env: map[string]string{"REDIS_URL": "redis://env:1/0", "SESSIONSCOPE_READ_BUDGET": "50"},
			check: func(t *testing.T, c Config) {
				if c.RedisURL != "redis://flag:1/0" || c.ReadBudget != 7 {
					t.Errorf("flags should win: %+v", c)
				}
			}},
		{name: "repeatable prefix", args: []string{"watch", "--redis", "redis://h/0", "--prefix", "a=x:", "--prefix", "b=y::json", "--no-default-prefixes"},
			check: func(t *testing.T, c Config) {
				if len(c.frameworks) != 2 || c.frameworks[1].Prefix != "y:" {
					t.Errorf("frameworks %+v", c.frameworks)
				}
			}},
		{name: "missing redis", args: []string{"watch"}, wantErr: "--redis is required"},
		{name: "bad prefix", args: []string{"watch", "--redis", "redis://h/0", "--prefix", "nope"}, wantErr: "--prefix \"nope\""},
		{name: "zero budget", args: []string{"watch", "--redis", "redis://h/0", "--read-budget", "0"}, wantErr: "--read-budget"},
		{name: "payload cache", args: []string{"watch", "--redis", "redis://h/0", "--payload-cache", "64"},
			check: func(t *testing.T, c Config) {
				if c.PayloadCacheMiB != 64 {
					t.Errorf("--payload-cache 64 gave %d MiB", c.PayloadCacheMiB)
				}
				if got := inspectorConfig(c, nil, nil).Tracker.PayloadCacheBytes; got != 64<<20 {
					t.Errorf("tracker payload cache %d bytes, want %d", got, 64<<20)
				}
			}},
		{name: "payload cache from env", args: []string{"watch", "--redis", "redis://h/0"}, env: map[string]string{"SESSIONSCOPE_PAYLOAD_CACHE": "8"},
			check: func(t *testing.T, c Config) {
				if c.PayloadCacheMiB != 8 {
					t.Errorf("SESSIONSCOPE_PAYLOAD_CACHE=8 gave %d MiB", c.PayloadCacheMiB)
				}
			}},
		{name: "scan rate", args: []string{"watch", "--redis", "redis://h/0", "--scan-rate", "50000"},
			check: func(t *testing.T, c Config) {
				if c.ScanRate != 50000 {
					t.Errorf("--scan-rate 50000 gave %g", c.ScanRate)
				}
			}},
		{name: "negative scan rate", args: []string{"watch", "--redis", "redis://h/0", "--scan-rate", "-1"}, wantErr: "--scan-rate -1"},
		{name: "zero payload cache", args: []string{"watch", "--redis", "redis://h/0", "--payload-cache", "0"}, wantErr: "--payload-cache 0"},
		{name: "bad color", args: []string{"watch", "--redis", "redis://h/0", "--color", "pink"}, wantErr: "--color"},
		{name: "stray argument", args: []string{"watch", "--redis", "redis://h/0", "extra"}, wantErr: "unexpected argument"},
		{name: "unknown command", args: []string{"frobnicate"}, wantErr: "unknown command"},
		{name: "no default prefixes alone", args: []string{"watch", "--redis", "redis://h/0", "--no-default-prefixes"}, wantErr: "at least one --prefix"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { checkParse(t, tc.args, tc.env, tc.check, tc.wantErr) })
	}
}

func TestExitCodes(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := Main([]string{"watch", "--help"}, env(nil), &out, &errOut); code != 0 {
		t.Errorf("--help exits %d, want 0", code)
	}
	if !strings.Contains(errOut.String(), "--redis") || !strings.Contains(errOut.String(), "REDIS_URL") {
		t.Errorf("help text lacks the flags and their env fallbacks:\n%s", errOut.String())
	}
	errOut.Reset()
	if code := Main([]string{"watch"}, env(nil), &out, &errOut); code != 2 {
		t.Errorf("missing flag exits %d, want 2", code)
	}
	if lines := strings.Count(strings.TrimSpace(errOut.String()), "\n"); lines != 0 {
		t.Errorf("want one line, got %q", errOut.String())
	}
}

// TestParseDefaultAndLab: sessionscope alone is the dashboard with the lab on the
// embedded store at the documented addresses; --redis moves the lab's sessions to a
// Redis; serve keeps needing --redis unless --lab.
func TestParseDefaultAndLab(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(t *testing.T, c Config)
		wantErr string
	}{
		{name: "no arguments", args: nil, env: map[string]string{"REDIS_URL": "redis://left-over:6379/0"}, check: func(t *testing.T, c Config) {
			if c.Command != "serve" || !c.Lab || c.RedisURL != "" || c.Listen != "127.0.0.1:7070" || c.LabListen != "127.0.0.1:7071" {
				t.Errorf("default run: %+v", c)
			}
		}},
		{name: "top-level redis", args: []string{"--redis", "redis://h:1/0"}, check: func(t *testing.T, c Config) {
			if c.Command != "serve" || !c.Lab || c.RedisURL != "redis://h:1/0" {
				t.Errorf("--redis alone: %+v", c)
			}
		}},
		{name: "top-level addresses", args: []string{"--listen", "127.0.0.1:9000", "--lab-listen", "localhost:9001"}, check: func(t *testing.T, c Config) {
			if c.Listen != "127.0.0.1:9000" || c.LabListen != "localhost:9001" {
				t.Errorf("addresses: %+v", c)
			}
		}},
		{name: "serve lab", args: []string{"serve", "--redis", "redis://h:1/0", "--lab"}, check: func(t *testing.T, c Config) {
			if !c.Lab || c.RedisURL != "redis://h:1/0" || c.LabListen != "127.0.0.1:7071" {
				t.Errorf("serve --lab: %+v", c)
			}
		}},
		{name: "serve without lab", args: []string{"serve", "--redis", "redis://h:1/0"}, check: func(t *testing.T, c Config) {
			if c.Lab {
				t.Errorf("serve alone turned the lab on: %+v", c)
			}
		}},
		{name: "serve needs redis or lab", args: []string{"serve"}, wantErr: "add --lab"},
		{name: "lab with proxy", args: []string{"serve", "--lab", "--proxy-to", "http://127.0.0.1:8080"}, wantErr: "--proxy-to cannot be combined"},
		{name: "lab beyond loopback", args: []string{"--lab-listen", "0.0.0.0:7071"}, wantErr: "loopback only"},
		{name: "stray argument", args: []string{"--redis", "redis://h/0", "extra"}, wantErr: "unexpected argument"},
		{name: "lab list", args: []string{"lab", "list"}, check: func(t *testing.T, c Config) {
			if c.Command != "lab" || c.LabAction != "list" {
				t.Errorf("lab list: %+v", c)
			}
		}},
		{name: "lab alone", args: []string{"lab"}, wantErr: "lab needs list or run ID"},
		{name: "lab run without id", args: []string{"lab", "run"}, wantErr: "needs a scenario id"},
		{name: "lab run unknown", args: []string{"lab", "run", "no-such-scenario", "--fixed"}, wantErr: `unknown lab scenario "no-such-scenario": sessionscope lab list`},
		{name: "lab unknown action", args: []string{"lab", "frob"}, wantErr: "unknown lab command"},
		{name: "lab list extra", args: []string{"lab", "list", "x"}, wantErr: "takes no argument"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { checkParse(t, tc.args, tc.env, tc.check, tc.wantErr) })
	}
}

// checkParse parses args and hands the Config to check, or expects a usage error
// naming wantErr.
func checkParse(t *testing.T, args []string, environ map[string]string, check func(*testing.T, Config), wantErr string) {
	t.Helper()
	var stderr bytes.Buffer
	c, err := parseArgs(args, env(environ), &stderr)
	if wantErr != "" {
		if err == nil || !errors.Is(err, errUsage) || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("err %v, want a usage error naming %q", err, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	check(t, c)
}
