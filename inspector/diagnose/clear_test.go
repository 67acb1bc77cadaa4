package diagnose

import (
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// TestEngineClear forgets the findings; a cause that occurs again comes back as a new
// finding (count 1, first seen at its new occurrence) and is drained for publishing.
func TestEngineClear(t *testing.T) {
	e := NewEngine(Config{})
	r := &Recorder{e: e, rule: "no-server-expiry"}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	report := func(cause string, at time.Time) {
		r.Report(Report{Cause: cause, Severity: model.SeverityWarning, Title: "t", Session: "abc", Time: at})
	}
	report("a", t0)
	report("a", t0.Add(time.Second))
	report("b", t0)
	if n := len(e.Findings()); n != 2 {
		t.Fatalf("%d findings before Clear, want 2", n)
	}
	if got := e.Clear(); got != 2 {
		t.Errorf("Clear = %d, want 2", got)
	}
	if n := len(e.Findings()); n != 0 {
		t.Errorf("%d findings after Clear", n)
	}
	if d := e.Drain(); len(d) != 0 {
		t.Errorf("Drain after Clear publishes %d cleared findings", len(d))
	}
	if got := e.Clear(); got != 0 {
		t.Errorf("second Clear = %d, want 0", got)
	}

	again := t0.Add(time.Minute)
	report("a", again)
	fs := e.Findings()
	if len(fs) != 1 || fs[0].Count != 1 || !fs[0].FirstSeen.Equal(again) {
		t.Fatalf("the cause occurring again: %+v, want one new finding", fs)
	}
	if d := e.Drain(); len(d) != 1 || d[0].ID != fs[0].ID {
		t.Errorf("Drain after the cause occurred again: %d findings", len(d))
	}
}
