package lab

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestRunsAreSerialized starts a run and asks for others while it is in progress.
func TestRunsAreSerialized(t *testing.T) {
	env := startLab(t, "")
	first, err := env.Runner.Start("healthy", false)
	if err != nil {
		t.Fatal(err)
	}
	if first.State != RunRunning || first.ID == "" {
		t.Fatalf("Start returned %+v", first)
	}
	if _, err := env.Runner.Start("logout-without-destroy", false); !errors.Is(err, ErrBusy) {
		t.Errorf("second Start: got %v, want ErrBusy", err)
	}
	if _, err := env.Runner.Run(context.Background(), "healthy", true); !errors.Is(err, ErrBusy) {
		t.Errorf("Run during a run: got %v, want ErrBusy", err)
	}
	if cur, ok := env.Runner.Current(); !ok || cur.ID != first.ID {
		t.Errorf("Current = %+v, %v; want the run in progress", cur.ID, ok)
	}
	// Wait for the run to finish; the deadline only guards against a hang.
	deadline := time.Now().Add(time.Minute)
	for {
		if _, running := env.Runner.Current(); !running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the run never finished")
		}
		time.Sleep(20 * time.Millisecond)
	}
	got, ok := env.Runner.Get(first.ID)
	if !ok || got.State != RunPassed {
		t.Fatalf("finished run: %v\n%s", ok, describe(got))
	}
	last, ok := env.Runner.Last("healthy", false)
	if !ok || last.ID != first.ID {
		t.Errorf("Last = %q, %v; want %q", last.ID, ok, first.ID)
	}
	if _, ok := env.Runner.Last("healthy", true); ok {
		t.Error("Last of a fixed run that never ran")
	}
	if len(got.Steps) == 0 || got.Steps[0].Exchange == "" || len(got.Exchanges) == 0 || len(got.Events) == 0 {
		t.Errorf("the run recorded too little: steps %d (first exchange %q), exchanges %d, events %d",
			len(got.Steps), got.Steps[0].Exchange, len(got.Exchanges), len(got.Events))
	}
	if _, err := env.Runner.Start("nope", false); !errors.Is(err, ErrUnknownScenario) {
		t.Errorf("unknown scenario: got %v", err)
	}
	// A second run can start now.
	if run, err := env.Runner.Run(context.Background(), "logout-without-destroy", true); err != nil || run.State != RunPassed {
		t.Errorf("next run: %v\n%s", err, describe(run))
	}
}

// TestFixedRunFirstInAFreshLab: `lab run ID --fixed` runs a fixed twin as the first
// run of a new lab. Its script skips the second login (the first one worked), and a
// skipped action sends no request: the run must not wait for an exchange that never
// comes, nor count on exchanges from runs before it.
func TestFixedRunFirstInAFreshLab(t *testing.T) {
	env := startLab(t, "")
	checkFixed(t, runScenario(t, env, "cookie-path-mismatch", true))
	checkBroken(t, env, runScenario(t, env, "cookie-path-mismatch", false))
}
