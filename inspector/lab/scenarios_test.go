package lab

import (
	"regexp"
	"strings"
	"testing"

	"github.com/sessionscope/sessionscope/inspector/diagnose"
)

// The scenarios, by id: the lab must have each of them.
var requiredScenarios = []string{"healthy", "cookie-domain-mismatch", "cookie-path-mismatch", "secure-cookie-over-http",
	"samesite-strict-cross-site-return", "headers-already-sent", "redirect-before-write", "no-sticky-sessions",
	"session-fixation", "hijack-detected", "hijack-ignored", "idle-and-absolute-expiry", "logout-without-destroy",
	"session-id-in-url", "eviction-under-maxmemory"}

var sentenceEnd = regexp.MustCompile(`[.!?]["”)]?$`)

func TestScenarioMetadata(t *testing.T) {
	rules := map[string]bool{}
	for _, r := range diagnose.Catalog() {
		rules[r.ID] = true
	}
	seen := map[string]bool{}
	for _, d := range definitions() {
		t.Run(d.ID, func(t *testing.T) {
			if seen[d.ID] {
				t.Fatalf("duplicate scenario id %q", d.ID)
			}
			seen[d.ID] = true
			if d.Title == "" || d.Symptom == "" || d.Principle == "" || d.Fix == "" {
				t.Errorf("title, symptom, seed and fix are all needed: %+v", d.Scenario)
			}
			if n := len(d.Story); n < 3 || n > 6 {
				t.Errorf("story has %d sentences, want 3 to 6", n)
			}
			for _, s := range d.Story {
				if !sentenceEnd.MatchString(s) || strings.Count(s, ". ") > 0 {
					t.Errorf("story item is not one sentence: %q", s)
				}
			}
			for _, r := range d.Expected {
				if !rules[r] {
					t.Errorf("expected rule %q is not in diagnose.Catalog()", r)
				}
			}
			if d.ID != "healthy" && len(d.Expected) == 0 {
				t.Errorf("a broken scenario must expect at least one finding")
			}
			if d.ID != "healthy" && d.broken == d.fixed {
				t.Errorf("the fixed twin must configure the app differently")
			}
			if d.Try.Path != "/lab/use?scenario="+d.ID || len(d.Try.Steps) == 0 {
				t.Errorf("try: %+v", d.Try)
			}
			if len(d.script) == 0 {
				t.Errorf("no browser script")
			}
			for _, ev := range d.Events {
				if _, _, err := parseEventSpec(ev); err != nil {
					t.Errorf("event %q: %v", ev, err)
				}
			}
			for _, a := range d.script {
				if err := a.validate(); err != nil {
					t.Errorf("script: %v", err)
				}
			}
		})
	}
	for _, id := range requiredScenarios {
		if !seen[id] {
			t.Errorf("scenario %q is missing", id)
		}
		if _, ok := Find(id); !ok {
			t.Errorf("Find(%q) failed", id)
		}
	}
	if _, err := Script("nope"); err == nil {
		t.Error("Script of an unknown id should fail")
	}
}
