package diagnose

import (
	"strings"
	"testing"

	"github.com/sessionscope/sessionscope/inspector/model"
)

func TestHeaderInjection(t *testing.T) {
	xs, _ := readHAR(t, "header_injection.har")
	fs := AnalyzeExchanges(xs, AnalyzeOptions{})
	byPath := map[string]model.Finding{}
	for _, f := range fs {
		if f.Rule != "header-injection" {
			t.Errorf("unexpected %s finding: %s", f.Rule, f.Title)
			continue
		}
		if f.Severity != model.SeverityError {
			t.Errorf("%s: severity %s", f.Title, f.Severity)
		}
		byPath[strings.TrimPrefix(f.Title, "Response splitting: request input became a response header on ")] = f
	}
	tests := []struct {
		path     string
		contains []string
		lacks    []string
	}{
		{path: "/login", contains: []string{"x0", "Set-Cookie: sessionID=…", "session fixation", "CWE-113",
			"str_replace", "session.use_strict_mode = 1", "ERR_INVALID_CHAR", "req.session.regenerate()"},
			lacks: []string{"x1", "12345678"}},
		{path: "/lang", contains: []string{"x2", "X-Injected: yes", "double-encoded"},
			lacks: []string{"x3"}},
	}
	if len(byPath) != len(tests) {
		t.Fatalf("findings for %v, want one per injected path", byPath)
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			f, ok := byPath[tc.path]
			if !ok {
				t.Fatalf("no finding for %s", tc.path)
			}
			text := findingText(f)
			for _, s := range tc.contains {
				if !strings.Contains(text, s) {
					t.Errorf("missing %q in\n%s", s, text)
				}
			}
			for _, s := range tc.lacks {
				if strings.Contains(text, s) {
					t.Errorf("%q in\n%s", s, text)
				}
			}
		})
	}
	// Repeats on one path are one finding.
	again := exch("p9", 30, "GET", "https://bank.example.com/login?next_page=x%0d%0aLocation:%20https://evil.example/", 302)
	again.InjectedHeaders = []string{"Location: https://evil.example/"}
	n := 0
	for _, f := range AnalyzeExchanges(append(xs, again), AnalyzeOptions{}) {
		if f.Rule == "header-injection" && strings.HasSuffix(f.Title, " /login") {
			n++
			if f.Count != 2 {
				t.Errorf("count %d, want 2", f.Count)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d /login findings, want 1", n)
	}
}
