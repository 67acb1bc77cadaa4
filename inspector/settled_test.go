package inspector_test

import (
	"context"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/backend/memory"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/tracker"
)

// settledWatch runs an inspector over a memory store with the given correlation
// window, waits until the store is live (writes then become events, not inventory)
// and returns both, with a subscription from the start.
func settledWatch(t *testing.T, window time.Duration) (*inspector.Inspector, *memory.Store, <-chan model.Object) {
	t.Helper()
	matcher := framework.NewMatcher(framework.Builtin())
	store := memory.New(memory.Options{Matcher: matcher})
	in := inspector.New(store, inspector.Config{Tracker: tracker.Config{Window: window, Matcher: matcher}})
	sub := in.Subscribe(1024)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = in.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; sub.Cancel() })
	for o := range sub.C() {
		if st, ok := o.(*model.Status); ok && st.Inventory != nil && st.Inventory.Done {
			break
		}
	}
	return in, store, sub.C()
}

func TestSettled(t *testing.T) {
	ctx := context.Background()
	const key = "PHPREDIS_SESSION:settledtest0000000000000000"
	payload := []byte(`user_id|i:1;`)

	t.Run("a write in its correlation window is not settled", func(t *testing.T) {
		in, store, _ := settledWatch(t, time.Hour) // the entry cannot leave its window during the test
		store.Set("", key, payload, time.Minute)
		if ok, err := in.Settled(ctx); err != nil || ok {
			t.Fatalf("Settled = %v, %v right after a write; want false", ok, err)
		}
	})

	t.Run("settled once the event is out", func(t *testing.T) {
		in, store, objects := settledWatch(t, 20*time.Millisecond)
		store.Set("", key, payload, time.Minute)
		// Poll until settled; the deadline only guards against a hang.
		deadline := time.Now().Add(30 * time.Second)
		for {
			ok, err := in.Settled(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("never settled")
			}
			time.Sleep(5 * time.Millisecond)
		}
		target := in.Seq()
		for o := range objects {
			if ev, ok := o.(*model.Event); ok && ev.Kind == model.KindCreated {
				return // the created event was emitted before Settled said so
			}
			if o.ObjectSeq() >= target {
				t.Fatal("settled before the created event was emitted")
			}
		}
	})
}
