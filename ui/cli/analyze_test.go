package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestAnalyze(t *testing.T) {
	const dir = "../../inspector/diagnose/testdata/"
	tests := []struct {
		name      string
		args      []string
		code      int
		stdout    []string // substrings of stdout
		stderrOne bool     // stderr is exactly one line
	}{
		{name: "login loop from Path=/admin", args: []string{"analyze", "--color", "never", dir + "loop_path.har"}, code: 1,
			stdout: []string{"cookie-not-sent", "NotOnPath", "Path=/admin", "login-loop", "Root cause: cookie-not-sent (NotOnPath", "session_set_cookie_params(['path' => '/'])"}},
		{name: "fixed twin", args: []string{"analyze", dir + "fixed.har"}, code: 0, stdout: []string{"0 findings"}},
		{name: "fail-on error ignores info", args: []string{"analyze", "--fail-on", "error", dir + "fixed.har"}, code: 0},
		{name: "malformed", args: []string{"analyze", dir + "malformed.har"}, code: 2, stderrOne: true},
		{name: "missing file", args: []string{"analyze", dir + "nope.har"}, code: 2, stderrOne: true},
		{name: "no file", args: []string{"analyze"}, code: 2, stderrOne: true},
		{name: "bad fail-on", args: []string{"analyze", "--fail-on", "fatal", dir + "fixed.har"}, code: 2, stderrOne: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := Main(tc.args, env(nil), &out, &errOut)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out.String(), errOut.String())
			}
			for _, s := range tc.stdout {
				if !strings.Contains(out.String(), s) {
					t.Errorf("stdout lacks %q:\n%s", s, out.String())
				}
			}
			if tc.stderrOne {
				if n := strings.Count(errOut.String(), "\n"); n != 1 {
					t.Errorf("stderr has %d lines, want 1:\n%s", n, errOut.String())
				}
				if tc.name == "malformed" && !strings.Contains(errOut.String(), "entry 3") {
					t.Errorf("stderr does not name the entry: %s", errOut.String())
				}
			}
		})
	}
}

func TestAnalyzeJSON(t *testing.T) {
	for _, withExchanges := range []bool{false, true} {
		args := []string{"analyze", "--json", "../../inspector/diagnose/testdata/loop_domain.har"}
		if withExchanges {
			args = append(args, "--exchanges")
		}
		var out, errOut bytes.Buffer
		if code := Main(args, env(nil), &out, &errOut); code != 1 {
			t.Fatalf("exit %d, stderr %s", code, errOut.String())
		}
		types := map[string]int{}
		rules := map[string]bool{}
		for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			var o struct{ Type, Rule string }
			if err := json.Unmarshal([]byte(line), &o); err != nil {
				t.Fatalf("not NDJSON: %q: %v", line, err)
			}
			types[o.Type]++
			rules[o.Rule] = true
		}
		if (types["exchange"] > 0) != withExchanges || !rules["cookie-rejected"] || !rules["login-loop"] {
			t.Errorf("exchanges=%v: got types %v rules %v", withExchanges, types, rules)
		}
		if strings.Contains(out.String(), "a1b2c3d4e5f6a7b8c9d0e1f2a3") {
			t.Error("a session id leaked into the output")
		}
	}
}
