package lab

import (
	"fmt"
	"slices"
	"strconv"
	"time"
)

// maxKeptBatches bounds the finished Run all batches kept for Batch and LastBatch.
const maxKeptBatches = 8

// Batch is one "Run all": every scenario this lab can run, broken then fixed, one
// after another, with the outcome of each.
type Batch struct {
	ID      string      `json:"id"`
	State   string      `json:"state"` // RunRunning, then RunPassed when every run passed, else RunFailed
	Started time.Time   `json:"started"`
	Ended   time.Time   `json:"ended,omitzero"`
	Items   []BatchItem `json:"items"`
}

// BatchItem is one scenario of a batch.
type BatchItem struct {
	Scenario string `json:"scenario"`
	// Skipped says why the scenario was not run (it needs a Redis); empty when it ran.
	Skipped string   `json:"skipped,omitempty"`
	Broken  BatchRun `json:"broken"`
	Fixed   BatchRun `json:"fixed"`
}

// BatchRun is one run of a batch: its id once started, and its state ("" before).
type BatchRun struct {
	RunID string `json:"run_id,omitempty"`
	State string `json:"state,omitempty"`
	Err   string `json:"error,omitempty"`
}

// Passed reports whether both runs of the item passed.
func (it BatchItem) Passed() bool {
	return it.Skipped == "" && it.Broken.State == RunPassed && it.Fixed.State == RunPassed
}

// StartAll begins a batch in the background: every scenario (or only those named by
// ids, in display order), broken then fixed. Scenarios that need a Redis are listed as
// skipped on the memory store. It fails with ErrUnknownScenario for an id the lab
// does not list, and with ErrBusy while a run or another batch is in progress; single
// runs asked for while the batch goes are refused with ErrBusy too.
func (r *Runner) StartAll(ids ...string) (Batch, error) {
	for _, id := range ids {
		if _, ok := definitionOf(id); !ok {
			return Batch{}, fmt.Errorf("lab run all %q: %w", id, ErrUnknownScenario)
		}
	}
	rr := r.r
	rr.mu.Lock()
	defer rr.mu.Unlock()
	if rr.stopped {
		return Batch{}, fmt.Errorf("lab run all: the lab is shutting down")
	}
	if rr.batch != nil || rr.current != nil {
		return Batch{}, fmt.Errorf("lab run all: %w", ErrBusy)
	}
	rr.nBatch++
	b := &Batch{ID: "all-" + strconv.Itoa(rr.nBatch), State: RunRunning, Started: time.Now(), Items: []BatchItem{}}
	for _, d := range definitions() {
		if len(ids) > 0 && !slices.Contains(ids, d.ID) {
			continue
		}
		it := BatchItem{Scenario: d.ID}
		if d.NeedsRedis && !rr.env.redis {
			it.Skipped = ErrNeedsRedis.Error()
		}
		b.Items = append(b.Items, it)
	}
	rr.batch = b
	rr.active.Add(1)
	go rr.runBatch(b)
	return copyBatch(*b), nil
}

// runBatch plays the batch's runs in order, then files it.
func (r *runner) runBatch(b *Batch) {
	defer r.active.Done()
	for i := range b.Items {
		if b.Items[i].Skipped != "" {
			continue
		}
		for _, fixed := range []bool{false, true} {
			d, run, err := r.begin(b.Items[i].Scenario, fixed, true)
			if err == nil {
				r.mu.Lock()
				*batchRun(&b.Items[i], fixed) = BatchRun{RunID: run.ID, State: RunRunning}
				r.mu.Unlock()
				r.execute(r.ctx, d, run)
			}
			r.mu.Lock()
			br := batchRun(&b.Items[i], fixed)
			if err != nil {
				br.State, br.Err = RunError, err.Error()
			} else {
				br.State, br.Err = run.State, run.Err
			}
			r.mu.Unlock()
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	b.State = RunPassed
	for _, it := range b.Items {
		if it.Skipped == "" && !it.Passed() {
			b.State = RunFailed
		}
	}
	b.Ended = time.Now()
	r.batches = append(r.batches, copyBatch(*b))
	if len(r.batches) > maxKeptBatches {
		r.batches = slices.Delete(r.batches, 0, len(r.batches)-maxKeptBatches)
	}
	r.batch = nil
}

func batchRun(it *BatchItem, fixed bool) *BatchRun {
	if fixed {
		return &it.Fixed
	}
	return &it.Broken
}

// Batch returns a batch in progress or kept.
func (r *Runner) Batch(id string) (Batch, bool) {
	r.r.mu.Lock()
	defer r.r.mu.Unlock()
	if b := r.r.batch; b != nil && b.ID == id {
		return copyBatch(*b), true
	}
	for i := len(r.r.batches) - 1; i >= 0; i-- {
		if r.r.batches[i].ID == id {
			return copyBatch(r.r.batches[i]), true
		}
	}
	return Batch{}, false
}

// CurrentBatch returns the batch in progress.
func (r *Runner) CurrentBatch() (Batch, bool) {
	r.r.mu.Lock()
	defer r.r.mu.Unlock()
	if r.r.batch == nil {
		return Batch{}, false
	}
	return copyBatch(*r.r.batch), true
}

// ClearRuns forgets the finished runs and batches and returns how many runs it
// forgot. A run or batch in progress is kept and goes on; run ids are not reused.
func (r *Runner) ClearRuns() int {
	r.r.mu.Lock()
	defer r.r.mu.Unlock()
	n := len(r.r.done)
	r.r.done = nil
	r.r.batches = nil
	return n
}

func copyBatch(b Batch) Batch {
	b.Items = slices.Clone(b.Items)
	return b
}
