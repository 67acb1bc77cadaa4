package inspector_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/tracker"
)

// TestReadPayloadOfInventoriedSession: a session written before sessionscope attached
// is in the table without a payload. ReadPayload reads it once, decoded, with the
// auth marker seen; the read becomes the baseline, so the app's next write is an
// update naming the one field it changed.
func TestReadPayloadOfInventoriedSession(t *testing.T) {
	const key = "PHPREDIS_SESSION:ondemand0000000000000000001"
	h := newHarness(t, harnessOptions{before: func(h *harness) {
		h.do("SETEX", key, 1440, "user_id|i:42;password|"+phpString("hunter2")+"theme|"+phpString("dark"))
	}})
	h.WaitLive()
	ref := refOfKey(key)
	before, err := h.in.Session(ref)
	if err != nil {
		t.Fatalf("Session(%s) after the inventory: %v", ref, err)
	}
	if before.Payload != nil || !before.Row.Inventory {
		t.Fatalf("inventoried session: payload %v, inventory %v; want no payload yet, found by the inventory", before.Payload, before.Row.Inventory)
	}
	reads := h.in.Stats().Reads.Load()

	d, err := h.in.ReadPayload(context.Background(), ref, false)
	if err != nil {
		t.Fatalf("ReadPayload: %v", err)
	}
	if d.Payload == nil {
		t.Fatal("ReadPayload returned no payload")
	}
	var names []string
	for _, f := range d.Payload.Fields {
		names = append(names, f.Key)
	}
	if !slices.Equal(names, []string{"user_id", "password", "theme"}) {
		t.Errorf("payload fields %v, want user_id password theme", names)
	}
	if !d.Row.Authenticated || d.Row.Format != "php" || d.Row.Size == 0 {
		t.Errorf("row after the read: authenticated %v, format %q, size %d; want yes, php, the key's size", d.Row.Authenticated, d.Row.Format, d.Row.Size)
	}
	if got := h.in.Stats().Reads.Load() - reads; got != 1 {
		t.Errorf("%d reads counted, want 1", got)
	}
	// The read is kept: the API and the page see it without another read.
	again, err := h.in.Session(ref)
	if err != nil || again.Payload == nil {
		t.Fatalf("Session after ReadPayload: payload %v, err %v; want the payload read", again.Payload, err)
	}
	if _, err := h.in.ReadPayload(context.Background(), ref, false); err != nil {
		t.Fatal(err)
	}
	if got := h.in.Stats().Reads.Load() - reads; got != 1 {
		t.Errorf("%d reads after a second ReadPayload, want still 1: the payload is held", got)
	}

	h.do("SETEX", key, 1440, "user_id|i:42;password|"+phpString("hunter2")+"theme|"+phpString("light"))
	ev := h.WaitEvent(model.KindUpdated, key)
	if !slices.Equal(ev.Changed, []string{"theme"}) || ev.AuthAdded {
		t.Errorf("update after the on-demand read: changed %v, auth added %v; want [theme], false", ev.Changed, ev.AuthAdded)
	}
}

// TestReadPayloadBudget: on-demand reads count against the read budget. With one read
// per second, the first read passes, the second at once is refused with
// ErrBudgetSpent (counted as denied), and one that may wait gets the next token.
func TestReadPayloadBudget(t *testing.T) {
	keys := []string{"PHPREDIS_SESSION:budget00000000000000000001", "PHPREDIS_SESSION:budget00000000000000000002"}
	h := newHarness(t, harnessOptions{tracker: tracker.Config{ReadBudget: 1}, before: func(h *harness) {
		for _, k := range keys {
			h.do("SETEX", k, 1440, "user_id|i:7;")
		}
	}})
	h.WaitLive()
	ctx := context.Background()
	if _, err := h.in.ReadPayload(ctx, refOfKey(keys[0]), false); err != nil {
		t.Fatalf("first read: %v", err)
	}
	denied := h.in.Stats().BudgetDenied.Load()
	d, err := h.in.ReadPayload(ctx, refOfKey(keys[1]), false)
	if !errors.Is(err, tracker.ErrBudgetSpent) {
		t.Fatalf("second read at once: err %v, want ErrBudgetSpent", err)
	}
	if d.Row.Ref != refOfKey(keys[1]) || d.Payload != nil {
		t.Errorf("refused read returned row %q payload %v; want the session's row without a payload", d.Row.Ref, d.Payload)
	}
	if got := h.in.Stats().BudgetDenied.Load() - denied; got != 1 {
		t.Errorf("%d refusals counted, want 1", got)
	}
	d, err = h.in.ReadPayload(ctx, refOfKey(keys[1]), true)
	if err != nil || d.Payload == nil {
		t.Fatalf("read that may wait: payload %v, err %v; want the payload", d.Payload, err)
	}
	if _, err := h.in.ReadPayload(ctx, "000000000000", false); !errors.Is(err, tracker.ErrNotFound) {
		t.Errorf("read of an unknown ref: %v, want ErrNotFound", err)
	}
}

// TestEndedSessionKeepsFacts: a logged-in session that the app destroys leaves the
// table, but its last known facts (authenticated, born, last activity, size, format)
// stay, with how and when it ended; so does the predecessor of a regeneration.
func TestEndedSessionKeepsFacts(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.WaitLive()
	const (
		anon = "PHPREDIS_SESSION:endedanon00000000000000001"
		user = "PHPREDIS_SESSION:endeduser00000000000000001"
	)
	h.do("SETEX", anon, 1440, "csrf|"+phpString("aaa"))
	h.WaitEvent(model.KindCreated, anon)
	h.do("DEL", anon)
	h.do("SETEX", user, 1440, "csrf|"+phpString("aaa")+"user_id|i:42;")
	h.WaitEvent(model.KindRegenerated, user)
	h.do("SETEX", user, 1440, "csrf|"+phpString("aaa")+"user_id|i:42;cart|i:3;")
	h.WaitEvent(model.KindUpdated, user)
	h.do("DEL", user)
	end := h.WaitEvent(model.KindDestroyed, user)

	ref := refOfKey(user)
	if _, err := h.in.Session(ref); !errors.Is(err, tracker.ErrNotFound) {
		t.Fatalf("Session of a destroyed session: %v, want ErrNotFound", err)
	}
	got, err := h.in.EndedSession(ref)
	if err != nil {
		t.Fatalf("EndedSession: %v", err)
	}
	r := got.Row
	if !r.Authenticated || r.Born.IsZero() || r.LastActivity.IsZero() || r.Size == 0 || r.Format != "php" {
		t.Errorf("ended row %+v: want authenticated, born, last activity, size and format kept", r)
	}
	if r.FromRef != refOfKey(anon) {
		t.Errorf("ended row from %q, want the anonymous session %s", r.FromRef, refOfKey(anon))
	}
	if got.Kind != model.KindDestroyed || !got.At.Equal(end.Time) {
		t.Errorf("ended %s at %v, want destroyed at %v", got.Kind, got.At, end.Time)
	}
	prev, err := h.in.EndedSession(refOfKey(anon))
	if err != nil || prev.Kind != model.KindRegenerated || prev.Row.Authenticated {
		t.Errorf("the predecessor: %+v, %v; want remembered as regenerated, not authenticated", prev, err)
	}
	if _, err := h.in.EndedSession("000000000000"); !errors.Is(err, tracker.ErrNotFound) {
		t.Errorf("EndedSession of an unknown ref: %v, want ErrNotFound", err)
	}
}
