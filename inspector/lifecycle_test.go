package inspector_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/backend/redisstore"
	"github.com/sessionscope/sessionscope/inspector/backend/redisstore/redistest"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/tracker"
)

func TestExpiry(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	h.WaitLive()
	key := "PHPREDIS_SESSION:expiring0000000000000000001"
	h.do("SETEX", key, 1, "csrf|"+phpString("abc"))
	created := h.WaitEvent(model.KindCreated, key)
	if created.TTL == nil || *created.TTL != 1 {
		t.Errorf("created ttl_s %v, want 1", created.TTL)
	}
	ev := h.WaitEvent(model.KindExpired, key)
	if ev.AgeS == nil || *ev.AgeS < 0.5 {
		t.Errorf("expired age_s %v, want about 1 s", ev.AgeS)
	}
	if ev.IdleS == nil {
		t.Errorf("expired without idle_s")
	}
	if ev.Format != "php" {
		t.Errorf("expired event format %q: the cached payload should describe it", ev.Format)
	}
	if got := kinds(h.Events(key)); got != "created expired" {
		t.Errorf("kinds %q", got)
	}
}

func TestEviction(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{redis: redistest.Options{Args: []string{"--maxmemory", "2mb", "--maxmemory-policy", "allkeys-lru"}}})
	h.WaitLive()
	payload := "blob|" + phpString(strings.Repeat("x", 8000))
	for i := 0; i < 600; i++ {
		h.do("SETEX", fmt.Sprintf("PHPREDIS_SESSION:evict%021d", i), 1440, payload)
	}
	ev := h.Wait("an evicted event", func(o model.Object) bool {
		e, ok := o.(*model.Event)
		return ok && e.Kind == model.KindEvicted
	}).(*model.Event)
	if ev.Session == nil || ev.Session.Framework != "php" {
		t.Errorf("evicted event without its session: %+v", ev)
	}
}

func TestInventoryIsNotCreation(t *testing.T) {
	t.Parallel()
	const existing = 50
	h := newHarness(t, harnessOptions{before: func(h *harness) {
		for i := 0; i < existing; i++ {
			h.do("SETEX", fmt.Sprintf("sess:existing%020d", i), 3600, `{"cookie":{"path":"/"},"n":1}`)
		}
		h.do("SET", "sess:forever00000000000000000000", `{"cookie":{"path":"/"}}`)
		h.do("SET", "cache:not-a-session", "x")
		h.do("SET", "PHPREDIS_SESSION:lockedkey000000000001_LOCK", "1")
	}})
	h.WaitLive()
	st := h.Wait("final status", func(o model.Object) bool {
		s, ok := o.(*model.Status)
		return ok && s.Inventory != nil && s.Inventory.Done
	}).(*model.Status)
	if st.Inventory.Sessions != existing+1 {
		t.Errorf("inventory found %d sessions, want %d", st.Inventory.Sessions, existing+1)
	}
	if n := h.in.SessionCount(); n != existing+1 {
		t.Errorf("tracking %d sessions, want %d", n, existing+1)
	}
	f := h.waitFinding("no-server-expiry")
	if len(f.Sessions) != 1 || f.Sessions[0] != refOfKey("sess:forever00000000000000000000") {
		t.Errorf("no-server-expiry cites %v", f.Sessions)
	}
	// A later write on an inventoried session is an update or touch, never a birth.
	key := "sess:existing00000000000000000007"
	h.do("SET", key, `{"cookie":{"path":"/"},"n":2}`, "EX", 3600)
	ev := h.WaitEvent(model.KindUpdated, key)
	if len(ev.Changed) != 0 {
		t.Errorf("changed %v for a session with no cached baseline", ev.Changed)
	}
	for _, o := range h.Events() {
		if o.Kind == model.KindCreated {
			t.Errorf("inventory produced a created event: %+v", o)
		}
	}
	for _, o := range h.Objects() {
		if e, ok := o.(*model.Event); ok && e.Kind == model.KindCreated {
			t.Errorf("created event during inventory: %+v", e.Session)
		}
	}
}

func TestNoServerExpiryLive(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	h.WaitLive()
	key := "PHPREDIS_SESSION:nottl000000000000000000001"
	h.do("SET", key, "csrf|"+phpString("abc"))
	ev := h.WaitEvent(model.KindCreated, key)
	if ev.TTL == nil || *ev.TTL != -1 {
		t.Errorf("ttl_s %v, want -1", ev.TTL)
	}
	f := h.waitFinding("no-server-expiry")
	if f.Sessions[0] != refOfKey(key) || f.Severity != model.SeverityWarning {
		t.Errorf("finding %+v", f)
	}
	// A second key under the same prefix updates the same finding.
	key2 := "PHPREDIS_SESSION:nottl000000000000000000002"
	h.do("SET", key2, "csrf|"+phpString("def"))
	h.WaitEvent(model.KindCreated, key2)
	// The update is published right after the event that caused it.
	last := h.Wait("the finding updated for the second key", func(o model.Object) bool {
		g, ok := o.(*model.Finding)
		return ok && g.Rule == "no-server-expiry" && g.Count >= 2
	}).(*model.Finding)
	if last.ID != f.ID || len(last.Sessions) != 2 {
		t.Errorf("second key: finding %s count %d sessions %v; want the same finding updated", last.ID, last.Count, last.Sessions)
	}
}

func TestFixationFinding(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	h.WaitLive()
	key := "PHPREDIS_SESSION:fixed00000000000000000001"
	h.do("SETEX", key, 1440, "csrf|"+phpString("abc"))
	h.WaitEvent(model.KindCreated, key)
	h.do("SETEX", key, 1440, "csrf|"+phpString("abc")+"user_id|i:42;")
	up := h.WaitEvent(model.KindUpdated, key)
	if strings.Join(up.Changed, ",") != "user_id" {
		t.Errorf("changed %v", up.Changed)
	}
	f := h.waitFinding("fixation")
	if f.Severity != model.SeverityError || f.Sessions[0] != refOfKey(key) || !strings.Contains(f.Fix, "session_regenerate_id(true)") {
		t.Errorf("fixation finding %+v", f)
	}
}

// TestNoFixationAfterRegeneration: a login that regenerates yields no fixation finding,
// and regenerate(false) yields old-session-kept instead.
func TestNoFixationAfterRegeneration(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{tracker: tracker.Config{Window: 100 * time.Millisecond}})
	h.WaitLive()
	a, b := "PHPREDIS_SESSION:keptold000000000000000001", "PHPREDIS_SESSION:keptnew000000000000000001"
	h.do("SETEX", a, 1440, "csrf|"+phpString("abc"))
	h.WaitEvent(model.KindCreated, a)
	// regenerate(false) after setting user_id: the old key is written with the login data too.
	h.do("SETEX", a, 1440, "csrf|"+phpString("abc")+"user_id|i:42;")
	h.do("SETEX", b, 1440, "csrf|"+phpString("abc")+"user_id|i:42;")
	regen := h.WaitEvent(model.KindRegenerated, b)
	if !regen.OldKept {
		t.Errorf("regeneration without old_kept: %+v", regen)
	}
	h.waitFinding("old-session-kept")
	// A later, unrelated finding proves the rules have ticked past the fixation wait.
	c := "PHPREDIS_SESSION:sentinel00000000000000001"
	h.do("SETEX", c, 1440, "csrf|"+phpString("x"))
	h.WaitEvent(model.KindCreated, c)
	h.do("SETEX", c, 1440, "csrf|"+phpString("x")+"user_id|i:7;")
	f := h.waitFinding("fixation")
	if len(f.Sessions) != 1 || f.Sessions[0] != refOfKey(c) {
		t.Errorf("fixation cites %v; the regenerated login %s must not be among them", f.Sessions, refOfKey(a))
	}
}

func TestReadBudget(t *testing.T) {
	t.Parallel()
	const budget = 5
	h := newHarness(t, harnessOptions{tracker: tracker.Config{ReadBudget: budget}})
	h.WaitLive()
	start := time.Now()
	const n = 40
	for i := 0; i < n; i++ {
		h.do("SETEX", fmt.Sprintf("PHPREDIS_SESSION:budget%020d", i), 1440, "csrf|"+phpString("abc"))
	}
	last := fmt.Sprintf("PHPREDIS_SESSION:budget%020d", n-1)
	h.WaitEvent(model.KindCreated, last)
	elapsed := time.Since(start).Seconds()
	unread := 0
	for _, o := range h.Objects() {
		if e, ok := o.(*model.Event); ok && e.PayloadUnread == model.UnreadBudget {
			unread++
		}
	}
	if unread == 0 {
		t.Errorf("no event says its payload was not read, with %d writes against a budget of %d/s", n, budget)
	}
	reads := h.in.Stats().Reads.Load()
	if limit := float64(budget) + budget*elapsed + 1; float64(reads) > limit {
		t.Errorf("%d reads in %.1fs exceed the budget of %d/s (burst %d)", reads, elapsed, budget, budget)
	}
}

func TestCustomPrefixAndUnknownKeys(t *testing.T) {
	t.Parallel()
	custom, err := framework.ParsePrefix("myapp=app:sess::json")
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, harnessOptions{frameworks: append(framework.Builtin(), custom)})
	h.WaitLive()
	h.do("SET", "cache:homepage", "<html>")
	h.do("SET", "app:sessions-index", "x")
	key := "app:sess:0123456789abcdef0123"
	h.do("SET", key, `{"user":"ada"}`, "EX", 600)
	ev := h.Wait("created on the custom prefix", func(o model.Object) bool {
		e, ok := o.(*model.Event)
		return ok && e.Kind == model.KindCreated
	}).(*model.Event)
	if ev.Session.Framework != "myapp" || ev.Session.KeyPrefix != "app:sess:" || ev.Format != "json" {
		t.Errorf("session %+v format %q", ev.Session, ev.Format)
	}
	if ev.Session.Ref != model.Ref("0123456789abcdef0123") {
		t.Errorf("ref %s is not the store id's", ev.Session.Ref)
	}
	if got := len(h.Events()); got != 0 { // Events() with no keys matches nothing
		t.Fatalf("unexpected")
	}
	for _, o := range h.Objects() {
		if e, ok := o.(*model.Event); ok && e != ev && e.Kind != model.KindGap {
			t.Errorf("an unknown key produced an event: %+v", e.Session)
		}
	}
}

func TestMissingNotificationsAreExplained(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{Notifications: "Kl"})
	m := framework.NewMatcher(framework.Builtin())
	ctx := context.Background()

	store, err := redisstore.Open(ctx, redisstore.Config{URL: srv.URL(), Matcher: m})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	n := runBriefly(t, store)
	// Redis normalises the order of the flags it reports ("Kl" comes back as "lK").
	if n.Missing != "Eg$hxe" || n.Fix != redisstore.FixCommand(n.Flags+"Eg$hxen") || len(n.Hints) != 3 {
		t.Errorf("notifications %+v", n)
	}
	if got := srv.Do(t, "CONFIG", "GET", "notify-keyspace-events"); !strings.HasSuffix(got, "\nKl") && !strings.HasSuffix(got, "\nlK") {
		t.Errorf("the flags changed without --configure-notifications: %q", got)
	}

	store2, err := redisstore.Open(ctx, redisstore.Config{URL: srv.URL(), Matcher: m, ConfigureNotifications: true})
	if err != nil {
		t.Fatal(err)
	}
	defer store2.Close()
	n2 := runBriefly(t, store2)
	if n2.Missing != "" {
		t.Errorf("after --configure-notifications still missing %q", n2.Missing)
	}
	got := srv.Do(t, "CONFIG", "GET", "notify-keyspace-events")
	flags := got[strings.LastIndex(got, "\n")+1:]
	for _, c := range "KlEg$hxe" {
		if !strings.ContainsRune(flags, c) {
			t.Errorf("merged flags %q lost or lack %q", flags, c)
		}
	}
}

func TestConfigRefusedProbesForEvents(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{
		redis: redistest.Options{Args: []string{"--rename-command", "CONFIG", ""}},
		// Auto mode would poll when CONFIG is refused; --mode notify listens and probes.
		store: func(c *redisstore.Config) { c.ProbeWindow, c.Mode = 30*time.Second, redisstore.ModeNotify },
	})
	st := h.Wait("a status saying CONFIG is refused", func(o model.Object) bool {
		s, ok := o.(*model.Status)
		return ok && s.Notifications != nil && strings.Contains(s.Notifications.Error, "forbids CONFIG")
	}).(*model.Status)
	if len(st.Notifications.Hints) == 0 {
		t.Errorf("no managed-Redis hints: %+v", st.Notifications)
	}
	h.WaitLive()
	h.do("SETEX", "PHPREDIS_SESSION:probe000000000000000000001", 60, "a|i:1;")
	h.Wait("the probe's verdict", func(o model.Object) bool {
		s, ok := o.(*model.Status)
		return ok && strings.Contains(s.Message, "events are arriving")
	})
}

// runBriefly runs the store until its first status and returns its notifications.
func runBriefly(t *testing.T, store *redisstore.Store) model.Notifications {
	t.Helper()
	return store.CheckNotifications(context.Background())
}
