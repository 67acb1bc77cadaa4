package lab

import (
	"context"
	"errors"
	"fmt"
	"github.com/sessionscope/sessionscope/inspector/model"
	"strings"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/tracker"
)

// testWindow shortens the correlation window so runs settle sooner; the runner waits
// for the inspector to settle, so nothing depends on how long anything takes.
const testWindow = 100 * time.Millisecond

// startLab starts a lab on redisURL, or on the memory store with virtual time: the
// scenarios' waits for a cookie or a session to expire then take no real time.
func startLab(t *testing.T, redisURL string) *Env {
	t.Helper()
	return startLabWith(t, Config{RedisURL: redisURL, VirtualTime: redisURL == ""})
}

// startLabWith starts a lab from cfg on a free port with the tests' short window.
func startLabWith(t *testing.T, cfg Config) *Env {
	t.Helper()
	cfg.Listen = "127.0.0.1:0"
	cfg.Inspector = inspector.Config{Tracker: tracker.Config{Window: testWindow}}
	env, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return env
}

// describe renders a run for a failure message.
func describe(run Run) string {
	var b strings.Builder
	b.WriteString("state " + run.State + " " + run.Err + "\nsteps:\n")
	for _, s := range run.Steps {
		b.WriteString("  " + s.Actor + ": " + s.Text + " [" + s.Exchange + "]\n")
	}
	b.WriteString("findings:\n")
	for _, f := range run.Findings {
		b.WriteString("  " + f.Rule + ": " + f.Title + "\n")
		for _, e := range f.Evidence {
			b.WriteString("      " + e + "\n")
		}
	}
	b.WriteString("missing: " + strings.Join(run.Missing, ",") + " unexpected: " + strings.Join(run.Unexpected, ",") +
		" missing events: " + strings.Join(run.MissingEvents, ",") + "\n")
	return b.String()
}

func runScenario(t *testing.T, env *Env, id string, fixed bool) Run {
	t.Helper()
	run, err := env.Runner.Run(context.Background(), id, fixed)
	if err != nil {
		t.Fatal(err)
	}
	return run
}

// checkBroken wants exactly the expected findings and events; checkFixed none at all.
func checkBroken(t *testing.T, env *Env, run Run) {
	t.Helper()
	if run.State != RunPassed {
		t.Errorf("broken run of %s:\n%s%s", run.Scenario, describe(run), eventsOf(env, run))
	}
}

func checkFixed(t *testing.T, run Run) {
	t.Helper()
	if run.State != RunPassed || len(run.Unexpected) > 0 {
		t.Errorf("fixed run of %s should be clean:\n%s", run.Scenario, describe(run))
	}
}

// TestScenariosMemory runs every scenario, broken then fixed, in one long-lived lab
// on the memory backend, as the dashboard does: each run must see only its own.
func TestScenariosMemory(t *testing.T) {
	env := startLab(t, "")
	for _, sc := range Scenarios() {
		if sc.NeedsRedis {
			_, err := env.Runner.Run(context.Background(), sc.ID, false)
			if !errors.Is(err, ErrNeedsRedis) {
				t.Errorf("%s on memory: got %v, want ErrNeedsRedis", sc.ID, err)
			}
			continue
		}
		t.Run(sc.ID, func(t *testing.T) {
			checkBroken(t, env, runScenario(t, env, sc.ID, false))
			checkFixed(t, runScenario(t, env, sc.ID, true))
		})
	}
	// Every run's events, as the feed and lab run show them: in the order they
	// happened, with seq increasing along.
	objs, _ := env.Inspector.Since(0, 0)
	var last *model.Event
	for _, o := range objs {
		ev, ok := o.(*model.Event)
		if !ok {
			continue
		}
		if last != nil && (ev.Time.Before(last.Time) || ev.Seq <= last.Seq) {
			t.Errorf("event seq %d at %s follows seq %d at %s", ev.Seq, ev.Time.Format("15:04:05.000000"), last.Seq, last.Time.Format("15:04:05.000000"))
		}
		last = ev
	}
}

// eventsOf renders the run's events from the inspector's ring, for failure messages.
func eventsOf(env *Env, run Run) string {
	want := map[uint64]bool{}
	for _, s := range run.Events {
		want[s] = true
	}
	objs, _ := env.Inspector.Since(0, 0)
	var b strings.Builder
	for _, o := range objs {
		if ev, ok := o.(*model.Event); ok && want[ev.Seq] {
			fmt.Fprintf(&b, "  %s %s cause=%s exchange=%s\n", ev.Kind, ev.Session.Ref, ev.Cause, ev.Exchange)
		}
	}
	return b.String()
}
