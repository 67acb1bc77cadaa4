package inspector

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/backend/memory"
	"github.com/sessionscope/sessionscope/inspector/history"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// TestSessionTimelineReadsTheWholeHistory: a long-lived session's timeline holds every
// event the history recorded of it, past the 10,000 one history query returns and
// across page boundaries among events of one time; past its bound it is cut, and says so.
func TestSessionTimelineReadsTheWholeHistory(t *testing.T) {
	const id, other = "timelinetest00000000000000", "timelineother0000000000000"
	const n = history.MaxLimit + history.MaxLimit/2 + 5 // two history pages, within MaxTimelineEvents
	path := filepath.Join(t.TempDir(), "h.db")
	w, err := history.Open(history.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	event := func(seq int, sid string) *model.Event {
		// Ten events share each time, so that pages end among events of one time.
		return &model.Event{Type: model.TypeEvent, Seq: uint64(seq), Time: base.Add(time.Duration(seq/10) * time.Second),
			Kind: model.KindTouched, Backend: "redis", Session: &model.SessionInfo{Ref: model.Ref(sid), ID: model.Mask(sid), Framework: "php"}}
	}
	for i := 1; i <= n; i++ {
		w.Append(event(i, id))
		if i%1000 == 0 {
			w.Append(event(i, other)) // another session's events between, as in a busy store
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if st := w.Stats(); st.Written != n+n/1000 {
		t.Fatalf("history wrote %d objects of %d; the test needs them all", st.Written, n+n/1000)
	}
	st, err := history.OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	in := New(memory.New(memory.Options{}), Config{History: st})
	ctx := context.Background()

	check := func(name string, events []*model.Event, want int) {
		t.Helper()
		if len(events) != want {
			t.Fatalf("%s: %d events, want %d", name, len(events), want)
		}
		for i, e := range events {
			if e.Seq != uint64(i+1) || e.Session.Ref != model.Ref(id) {
				t.Fatalf("%s: event %d is seq %d of %s; want seq %d of %s, each once, oldest first", name, i, e.Seq, e.Session.Ref, i+1, model.Ref(id))
			}
		}
	}
	check("SessionEvents", in.SessionEvents(ctx, model.Ref(id)), n)
	events, truncated, err := in.SessionTimeline(ctx, model.Ref(id))
	check("SessionTimeline", events, n)
	if truncated || err != nil {
		t.Errorf("SessionTimeline of %d events: truncated %v, err %v; want all of them", n, truncated, err)
	}

	for _, bound := range []int{n, n - 1, history.MaxLimit, 7} {
		events, truncated, err := in.sessionTimeline(ctx, model.Ref(id), bound)
		check(fmt.Sprintf("bound %d", bound), events, min(n, bound))
		if truncated != (bound < n) || err != nil {
			t.Errorf("bound %d of %d events: truncated %v, err %v; want truncated %v", bound, n, truncated, err, bound < n)
		}
	}
}

// BenchmarkSessionTimelineBound: what a session page costs at the bound, reading
// MaxTimelineEvents events of one session (and one more, to know it was cut).
func BenchmarkSessionTimelineBound(b *testing.B) {
	const id = "timelinebench0000000000000"
	path := filepath.Join(b.TempDir(), "h.db")
	w, err := history.Open(history.Options{Path: path, QueueSize: MaxTimelineEvents + 1})
	if err != nil {
		b.Fatal(err)
	}
	base := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	ttl, size := int64(1440), 120
	for i := range MaxTimelineEvents + 1 {
		w.Append(&model.Event{Type: model.TypeEvent, Seq: uint64(i + 1), Time: base.Add(time.Duration(i) * time.Millisecond),
			Kind: model.KindTouched, Backend: "redis", TTL: &ttl, Size: &size,
			Session: &model.SessionInfo{Ref: model.Ref(id), ID: model.Mask(id), Framework: "php", KeyPrefix: "PHPREDIS_SESSION:"}})
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	st, err := history.OpenReadOnly(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	in := New(memory.New(memory.Options{}), Config{History: st})
	b.ResetTimer()
	for range b.N {
		events, truncated, err := in.SessionTimeline(context.Background(), model.Ref(id))
		if len(events) != MaxTimelineEvents || !truncated || err != nil {
			b.Fatalf("%d events, truncated %v, err %v", len(events), truncated, err)
		}
	}
}
