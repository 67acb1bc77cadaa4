package cli

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/backend/redisstore/redistest"
	"github.com/sessionscope/sessionscope/inspector/lab"
)

// watchBase is a watch invocation that is valid on its own: each case adds one flag.
var watchBase = []string{"watch", "--redis", "redis://127.0.0.1:1/0"}

// TestNumericFlagsRefuseBadValues: every numeric flag, given garbage, NaN, an
// infinity, a negative, zero or a huge value, exits 2 with one line that names the
// flag and the range it accepts, and starts nothing (issue 16: --exchange-log
// 9223372036854775807 panicked, --read-budget NaN broke /api/status for good,
// --scan-rate NaN meant no limit and 1e-300 an endless inventory, --gc-maxlifetime
// 99999999999999 overflowed).
func TestNumericFlagsRefuseBadValues(t *testing.T) {
	const huge = "9223372036854775807"
	bad := map[string][]string{
		"read-budget":    {"garbage", "NaN", "Inf", "+Inf", "-Inf", "0", "0.5", "1e-300", "1000001", "1e309", ""},
		"max-payload":    {"garbage", "NaN", "-1", "0", "63", "67108865", huge, "99999999999999999999", "1e3"},
		"payload-cache":  {"garbage", "NaN", "-1", "0", "1048577", huge},
		"har-budget":     {"garbage", "NaN", "-1", "0", "1048577", huge, "1.5"},
		"window":         {"garbage", "NaN", "-1s", "0", "999us", "61s", huge, "100000000000h"},
		"scan-count":     {"garbage", "NaN", "-1", "0", "100001", huge},
		"scan-rate":      {"garbage", "NaN", "Inf", "-Inf", "-1", "0.5", "1e-300", "10000001", "1e309"},
		"poll-interval":  {"garbage", "NaN", "-1s", "99ms", "61m", huge},
		"gc-maxlifetime": {"garbage", "NaN", "-1", "0", "99999999999999", huge, "315360001", "0.5s", "87601h", "-5m"},
		"exchange-log":   {"garbage", "NaN", "-1", "0", "1000001", huge},
	}
	if len(bad) != len(flagRanges) {
		t.Fatalf("the table covers %d flags, flagRanges %d: a numeric flag is untested", len(bad), len(flagRanges))
	}
	for name, values := range bad {
		for _, v := range values {
			t.Run(name+"="+v, func(t *testing.T) {
				code, stdout, stderr := runMain(t, append(append([]string{}, watchBase...), "--"+name, v)...)
				if code != 2 || stdout != "" {
					t.Errorf("exit %d, stdout %q; want exit 2 and nothing on stdout", code, stdout)
				}
				line := oneLine(t, "stderr", stderr)
				if !strings.HasPrefix(line, "sessionscope: --"+name+" ") || !strings.Contains(line, "want "+flagRanges[name]) {
					t.Errorf("want one line naming --%s and its range %q, got %q", name, flagRanges[name], line)
				}
			})
		}
	}
}

// TestNumericFlagsAcceptTheirRange: the ends of each documented range are accepted,
// and so are the special values the help documents (0 and -1 for no limit).
func TestNumericFlagsAcceptTheirRange(t *testing.T) {
	cases := []struct {
		flag, value string
		check       func(c Config) bool
	}{
		{"read-budget", "1", func(c Config) bool { return c.ReadBudget == 1 }},
		{"read-budget", "1000000", func(c Config) bool { return c.ReadBudget == 1e6 }},
		{"read-budget", "-1", func(c Config) bool { return c.ReadBudget == -1 }},
		{"read-budget", "-5", func(c Config) bool { return c.ReadBudget == -1 }}, // any negative: no limit, shown as -1
		{"max-payload", "64", func(c Config) bool { return c.MaxPayload == 64 }},
		{"max-payload", "67108864", func(c Config) bool { return c.MaxPayload == 64<<20 }},
		{"payload-cache", "1048576", func(c Config) bool { return c.PayloadCacheMiB == 1<<20 }},
		{"har-budget", "1", func(c Config) bool { return c.HARBudgetMiB == 1 }},
		{"har-budget", "1048576", func(c Config) bool { return c.HARBudgetMiB == 1<<20 }},
		{"window", "1ms", func(c Config) bool { return c.Window == time.Millisecond }},
		{"window", "1m", func(c Config) bool { return c.Window == time.Minute }},
		{"scan-count", "1", func(c Config) bool { return c.ScanCount == 1 }},
		{"scan-count", "100000", func(c Config) bool { return c.ScanCount == 100000 }},
		{"scan-rate", "0", func(c Config) bool { return c.ScanRate == 0 }},
		{"scan-rate", "1", func(c Config) bool { return c.ScanRate == 1 }},
		{"scan-rate", "1e7", func(c Config) bool { return c.ScanRate == 1e7 }},
		{"poll-interval", "100ms", func(c Config) bool { return c.PollInterval == 100*time.Millisecond }},
		{"poll-interval", "1h", func(c Config) bool { return c.PollInterval == time.Hour }},
		{"gc-maxlifetime", "1", func(c Config) bool { return c.GCMaxLifetime == time.Second }},
		{"gc-maxlifetime", "315360000", func(c Config) bool { return c.GCMaxLifetime == maxGCMaxLifetime }},
		{"gc-maxlifetime", "87600h", func(c Config) bool { return c.GCMaxLifetime == maxGCMaxLifetime }},
		{"exchange-log", "1", func(c Config) bool { return c.ExchangeLog == 1 }},
		{"exchange-log", "1000000", func(c Config) bool { return c.ExchangeLog == 1_000_000 }},
	}
	for _, tc := range cases {
		t.Run(tc.flag+"="+tc.value, func(t *testing.T) {
			checkParse(t, append(append([]string{}, watchBase...), "--"+tc.flag, tc.value), nil, func(t *testing.T, c Config) {
				if !tc.check(c) {
					t.Errorf("--%s %s was not taken as given: %+v", tc.flag, tc.value, c)
				}
			}, "")
		})
	}
}

// TestNumericEnvRefused: an environment fallback that is not a number, or out of
// range, is refused like the flag (garbage used to mean the default, silently); the
// flag given on the command line still beats it.
func TestNumericEnvRefused(t *testing.T) {
	for _, pair := range numericEnv {
		name, envName := pair[0], pair[1]
		t.Run(envName, func(t *testing.T) {
			checkParse(t, watchBase, map[string]string{envName: "garbage"}, nil, envName+`="garbage" (the default of --`+name+"): want "+flagRanges[name])
			checkParse(t, watchBase, map[string]string{envName: "9223372036854775807"}, nil, "--"+name)
			good := "100"
			if name == "window" {
				good = "100ms"
			}
			checkParse(t, append(append([]string{}, watchBase...), "--"+name, good), map[string]string{envName: "garbage"},
				func(t *testing.T, c Config) {}, "")
		})
	}
	checkParse(t, watchBase, map[string]string{"SESSIONSCOPE_READ_BUDGET": "NaN"}, nil, "--read-budget NaN: want "+flagRanges["read-budget"])
	checkParse(t, watchBase, map[string]string{"SESSIONSCOPE_SCAN_RATE": "1e-300"}, nil, "--scan-rate 1e-300: want "+flagRanges["scan-rate"])
}

// TestReadBudgetNaNNeverStarts: --read-budget NaN used to start the dashboard with a
// budget /api/status could not encode (500 for good); now it exits 2 before
// anything listens, for the dashboard alone and with the lab.
func TestReadBudgetNaNNeverStarts(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--redis", "redis://127.0.0.1:1/0", "--listen", "127.0.0.1:0", "--read-budget", "NaN"},
		{"--listen", "127.0.0.1:0", "--lab-listen", "127.0.0.1:0", "--read-budget", "NaN"},
		{"--listen", "127.0.0.1:0", "--lab-listen", "127.0.0.1:0", "--read-budget", "Inf"},
	} {
		code, _, stderr := runMain(t, args...)
		line := oneLine(t, "stderr", stderr)
		if code != 2 || !strings.Contains(line, "--read-budget") || strings.Contains(line, "dashboard on") {
			t.Errorf("%v: exit %d, %q; want exit 2 naming --read-budget, no dashboard", args, code, line)
		}
	}
}

// TestExchangeLogHugeNoPanic: --exchange-log 9223372036854775807 panicked sizing the
// exchange ring; now it is one usage line.
func TestExchangeLogHugeNoPanic(t *testing.T) {
	code, _, stderr := runMain(t, "watch", "--redis", "redis://127.0.0.1:1/0", "--proxy-to", "http://127.0.0.1:9",
		"--proxy-listen", "127.0.0.1:0", "--exchange-log", "9223372036854775807")
	line := oneLine(t, "stderr", stderr)
	if code != 2 || !strings.Contains(line, "--exchange-log 9223372036854775807: want 1 to 1000000") {
		t.Errorf("exit %d, %q", code, line)
	}
}

// TestAddressFlagsAreUsageErrors: a malformed address or Redis URL is a usage error
// (exit 2, one line naming the flag) found before anything starts; it used to be
// exit 1 from the listener or the Redis client.
func TestAddressFlagsAreUsageErrors(t *testing.T) {
	var scenario string // one that runs without Redis, so the flag under test is what fails
	for _, s := range lab.Scenarios() {
		if !s.NeedsRedis {
			scenario = s.ID
			break
		}
	}
	proxy := []string{"watch", "--redis", "redis://127.0.0.1:1/0", "--proxy-to", "http://127.0.0.1:9", "--proxy-listen"}
	cases := []struct {
		name string
		args []string
		flag string
	}{
		{"listen garbage", []string{"serve", "--redis", "redis://127.0.0.1:1/0", "--listen", "garbage"}, "--listen"},
		{"listen port too big", []string{"serve", "--redis", "redis://127.0.0.1:1/0", "--listen", "127.0.0.1:99999"}, "--listen"},
		{"listen negative port", []string{"--listen", "127.0.0.1:-1"}, "--listen"},
		{"listen named port", []string{"--listen", "127.0.0.1:http"}, "--listen"},
		{"listen no port", []string{"--listen", "127.0.0.1:"}, "--listen"},
		{"listen control character", []string{"--listen", "127.0.0.1\nx:7070"}, "--listen"},
		{"proxy-listen control character", append(proxy[:len(proxy):len(proxy)], "0.0.0.0\nx:7080"), "--proxy-listen"},
		{"proxy-listen garbage", append(proxy[:len(proxy):len(proxy)], "garbage"), "--proxy-listen"},
		{"proxy-listen port too big", append(proxy[:len(proxy):len(proxy)], "127.0.0.1:70000"), "--proxy-listen"},
		{"lab-listen port too big", []string{"--lab-listen", "127.0.0.1:65536"}, "--lab-listen"},
		{"lab run lab-listen garbage", []string{"lab", "run", scenario, "--lab-listen", "garbage"}, "--lab-listen"},
		{"redis garbage", []string{"watch", "--redis", "garbage"}, "--redis"},
		{"redis http", []string{"watch", "--redis", "http://127.0.0.1:6379"}, "--redis"},
		{"redis bad port", []string{"serve", "--redis", "redis://127.0.0.1:notaport/0"}, "--redis"},
		{"redis for the lab", []string{"--redis", "garbage"}, "--redis"},
		{"lab run redis garbage", []string{"lab", "run", scenario, "--redis", "garbage"}, "--redis"},
		{"proxy-to port too big", []string{"watch", "--redis", "redis://127.0.0.1:1/0", "--proxy-to", "http://127.0.0.1:99999"}, "--proxy-to"},
		{"proxy-to port 0", []string{"watch", "--redis", "redis://127.0.0.1:1/0", "--proxy-to", "app=http://127.0.0.1:0"}, "--proxy-to"},
		{"sentinel port too big", []string{"watch", "--sentinel", "127.0.0.1:265379", "--master", "m"}, "--sentinel"},
		{"sentinel port 0", []string{"watch", "--sentinel", "127.0.0.1:26379,127.0.0.1:0", "--master", "m"}, "--sentinel"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runMain(t, tc.args...)
			line := oneLine(t, "stderr", stderr)
			if code != 2 || stdout != "" || !strings.Contains(line, tc.flag+" ") {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and one line naming %s", code, stdout, line, tc.flag)
			}
		})
	}
}

// TestRedisURLErrorHidesPassword: the usage line for a malformed --redis never
// repeats the password in it.
func TestRedisURLErrorHidesPassword(t *testing.T) {
	for _, raw := range []string{"redis://:s3cretpw@127.0.0.1:notaport/0", "redis://user:s3cretpw@127.0.0.1:6379/zero"} {
		code, _, stderr := runMain(t, "watch", "--redis", raw)
		if code != 2 || strings.Contains(stderr, "s3cretpw") || !strings.Contains(stderr, "--redis") {
			t.Errorf("--redis %s: exit %d, stderr %q", raw, code, stderr)
		}
	}
}

// TestProxyListenPublicNeedsConsent: a proxy on an address the network reaches is
// refused, with why, unless --proxy-public says it is meant (issue 16: 0.0.0.0 was
// accepted silently, exposing a loopback-only app through a capturing proxy).
func TestProxyListenPublicNeedsConsent(t *testing.T) {
	base := []string{"watch", "--redis", "redis://127.0.0.1:1/0", "--proxy-to", "http://127.0.0.1:9"}
	with := func(extra ...string) []string { return append(append([]string{}, base...), extra...) }
	for _, addr := range []string{"0.0.0.0:7080", ":7080", "[::]:7080", "192.168.1.10:7080", "app.example.com:7080"} {
		t.Run(addr, func(t *testing.T) {
			code, _, stderr := runMain(t, with("--proxy-listen", addr)...)
			line := oneLine(t, "stderr", stderr)
			if code != 2 || !strings.HasPrefix(line, `sessionscope: --proxy-listen "`+addr+`"`) ||
				!strings.Contains(line, "--proxy-public") || !strings.Contains(line, "cookies") {
				t.Errorf("exit %d, %q; want exit 2, naming --proxy-public and why", code, line)
			}
			checkParse(t, with("--proxy-listen", addr, "--proxy-public"), nil, func(t *testing.T, c Config) {
				if !c.ProxyPublic || c.ProxyListen != addr {
					t.Errorf("--proxy-public not taken: %+v", c)
				}
			}, "")
		})
	}
	for _, addr := range []string{"127.0.0.1:0", "localhost:7080", "[::1]:7080", "127.0.0.2:7080"} {
		checkParse(t, with("--proxy-listen", addr), nil, func(t *testing.T, c Config) {
			if c.ProxyListen != addr {
				t.Errorf("--proxy-listen %s gave %q", addr, c.ProxyListen)
			}
		}, "")
	}
}

// TestLabRunUnreachableRedisExits2: lab run with a well-formed --redis nothing answers
// is an attach error, exit 2 in one line, as watch and serve say it (it was exit 1).
func TestLabRunUnreachableRedisExits2(t *testing.T) {
	free, err := redistest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runMain(t, "lab", "run", lab.Scenarios()[0].ID, "--redis", fmt.Sprintf("redis://127.0.0.1:%d/0", free))
	line := oneLine(t, "stderr", stderr)
	if code != 2 || !strings.Contains(line, "lab run") {
		t.Errorf("exit %d, %q; want exit 2", code, line)
	}
}
