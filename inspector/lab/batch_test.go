package lab

import (
	"errors"
	"testing"
	"time"
)

// waitBatch waits for a batch to end; the deadline only guards against a hang.
func waitBatch(t *testing.T, env *Env, id string) Batch {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		b, ok := env.Runner.Batch(id)
		if !ok {
			t.Fatalf("batch %s is not kept", id)
		}
		if b.State != RunRunning {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("batch %s never finished: %+v", id, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRunAllThenClear runs two scenarios in a row, broken then fixed, refuses other
// runs meanwhile, then forgets every finished run.
func TestRunAllThenClear(t *testing.T) {
	env := startLab(t, "")
	if _, err := env.Runner.StartAll("nope"); !errors.Is(err, ErrUnknownScenario) {
		t.Errorf("StartAll(nope): got %v, want ErrUnknownScenario", err)
	}
	b, err := env.Runner.StartAll("cookie-path-mismatch", "healthy", "eviction-under-maxmemory")
	if err != nil {
		t.Fatal(err)
	}
	if b.State != RunRunning || len(b.Items) != 3 {
		t.Fatalf("StartAll returned %+v", b)
	}
	// Display order, whatever the order asked for.
	if b.Items[0].Scenario != "healthy" || b.Items[1].Scenario != "cookie-path-mismatch" {
		t.Errorf("items in order %s, %s", b.Items[0].Scenario, b.Items[1].Scenario)
	}
	if _, err := env.Runner.Start("healthy", false); !errors.Is(err, ErrBusy) {
		t.Errorf("Start during Run all: got %v, want ErrBusy", err)
	}
	if _, err := env.Runner.StartAll(); !errors.Is(err, ErrBusy) {
		t.Errorf("StartAll during Run all: got %v, want ErrBusy", err)
	}
	if cur, ok := env.Runner.CurrentBatch(); !ok || cur.ID != b.ID {
		t.Errorf("CurrentBatch = %q, %v", cur.ID, ok)
	}

	done := waitBatch(t, env, b.ID)
	if done.State != RunPassed || done.Ended.IsZero() {
		t.Errorf("batch ended %s at %v: %+v", done.State, done.Ended, done.Items)
	}
	var runIDs []string
	for _, it := range done.Items {
		if it.Scenario == "eviction-under-maxmemory" {
			if it.Skipped == "" || it.Broken.RunID != "" {
				t.Errorf("a scenario that needs Redis ran on the memory store: %+v", it)
			}
			continue
		}
		if !it.Passed() {
			t.Errorf("%s: broken %+v, fixed %+v", it.Scenario, it.Broken, it.Fixed)
		}
		for _, fixed := range []bool{false, true} {
			br := *batchRun(&it, fixed)
			run, ok := env.Runner.Get(br.RunID)
			if !ok || run.Scenario != it.Scenario || run.Fixed != fixed || run.State != br.State {
				t.Errorf("%s fixed=%v: the batch names run %q (%s), the runner has %+v (%v)", it.Scenario, fixed, br.RunID, br.State, run.ID, ok)
			}
			runIDs = append(runIDs, br.RunID)
		}
	}
	if _, ok := env.Runner.CurrentBatch(); ok {
		t.Error("a batch is still current after it ended")
	}

	// A single run can start again, and clearing forgets every finished run.
	if run := runScenario(t, env, "healthy", true); run.State != RunPassed {
		t.Errorf("run after the batch:\n%s", describe(run))
	}
	if n := env.Runner.ClearRuns(); n != len(runIDs)+1 {
		t.Errorf("ClearRuns = %d, want %d", n, len(runIDs)+1)
	}
	for _, id := range runIDs {
		if _, ok := env.Runner.Get(id); ok {
			t.Errorf("run %s kept after ClearRuns", id)
		}
	}
	if _, ok := env.Runner.Last("healthy", true); ok {
		t.Error("Last still answers after ClearRuns")
	}
	if _, ok := env.Runner.Batch(b.ID); ok {
		t.Error("the batch is kept after ClearRuns")
	}
	if n := env.Runner.ClearRuns(); n != 0 {
		t.Errorf("second ClearRuns = %d, want 0", n)
	}
}
