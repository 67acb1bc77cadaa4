package redisstore_test

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/backend"
	"github.com/sessionscope/sessionscope/inspector/backend/redisstore"
	"github.com/sessionscope/sessionscope/inspector/backend/redisstore/redistest"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/tracker/trackertest"
	"github.com/sessionscope/sessionscope/ui/term"
)

// startPolling attaches an Inspector in mode, polling every 100 ms, and records what
// it emits.
func startPolling(t *testing.T, srv *redistest.Server, mode string) *trackertest.Watch {
	t.Helper()
	return watch(t, open(t, redisstore.Config{URL: srv.URL(), Mode: mode, PollInterval: 100 * time.Millisecond}))
}

// eventN waits for the n-th (1-based) event of kind on the session with storeID.
func eventN(t *testing.T, w *trackertest.Watch, kind model.Kind, storeID string, n int) *model.Event {
	t.Helper()
	ref := model.Ref(storeID)
	seen := 0 // Wait shows each object once, in order
	return w.Wait(fmt.Sprintf("%s #%d of %s", kind, n, ref), func(o model.Object) bool {
		ev, ok := o.(*model.Event)
		if ok && ev.Kind == kind && ev.Session != nil && ev.Session.Ref == ref {
			seen++
		}
		return seen == n
	}).(*model.Event)
}

// kinds lists the kinds of the events on storeID so far, in order.
func kinds(w *trackertest.Watch, storeID string) []string {
	return trackertest.Kinds(w.Events(storeID))
}

func TestPollSeesLifecycle(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{Notifications: "off"})
	const (
		existing = "inv0existing0session0001"
		id       = "poll0lifecycle0session01"
		short    = "poll0shortlived0session1"
	)
	key := func(id string) string { return "PHPREDIS_SESSION:" + id }
	srv.Do(t, "SETEX", key(existing), "600", "user|i:7;")
	w := startPolling(t, srv, redisstore.ModePoll)

	st := w.Wait("the first pass as inventory", func(o model.Object) bool {
		s, ok := o.(*model.Status)
		return ok && s.Inventory != nil && s.Inventory.Done
	}).(*model.Status)
	if st.Mode != model.ModePoll || st.State != model.StatePolling || st.Inventory.Sessions != 1 {
		t.Fatalf("after the first pass: mode %q state %q sessions %d; want poll, polling, 1", st.Mode, st.State, st.Inventory.Sessions)
	}

	// Each step waits for its event before the next, so that no two changes fall into
	// one interval (they would merge: a stated limit of polling).
	steps := []struct {
		name    string
		cmd     []string
		kind    model.Kind
		changed string // a field the event must list
	}{
		{"created", []string{"SETEX", key(id), "600", "user|i:1;"}, model.KindCreated, ""},
		{"updated, size changed", []string{"SETEX", key(id), "600", `user|i:1;name|s:3:"bob";`}, model.KindUpdated, "name"},
		{"touched by EXPIRE", []string{"EXPIRE", key(id), "900"}, model.KindTouched, ""},
		{"updated, same size (digest)", []string{"SETEX", key(id), "1200", `user|i:2;name|s:3:"bob";`}, model.KindUpdated, "user"},
		{"touched by an unchanged rewrite", []string{"SETEX", key(id), "1500", `user|i:2;name|s:3:"bob";`}, model.KindTouched, ""},
		{"destroyed", []string{"DEL", key(id)}, model.KindDestroyed, ""},
	}
	count := map[model.Kind]int{}
	for _, step := range steps {
		srv.Do(t, step.cmd...)
		count[step.kind]++
		ev := eventN(t, w, step.kind, id, count[step.kind])
		if ev.Evidence != model.EvidencePoll {
			t.Errorf("%s: evidence %q, want %q (lower fidelity)", step.name, ev.Evidence, model.EvidencePoll)
		}
		if step.changed != "" && !strings.Contains(strings.Join(ev.Changed, ","), step.changed) {
			t.Errorf("%s: changed %v, want it to list %q", step.name, ev.Changed, step.changed)
		}
	}
	want := "created updated touched updated touched destroyed"
	if got := strings.Join(kinds(w, id), " "); got != want {
		t.Errorf("events of the session: %s\nwant %s", got, want)
	}

	srv.Do(t, "SETEX", key(short), "1", "user|i:3;")
	eventN(t, w, model.KindCreated, short, 1)
	ev := eventN(t, w, model.KindExpired, short, 1)
	if ev.Evidence != model.EvidencePoll {
		t.Errorf("expired: evidence %q", ev.Evidence)
	}
	if got := strings.Join(kinds(w, short), " "); got != "created expired" {
		t.Errorf("events of the short-lived session: %s, want created expired", got)
	}
	if k := kinds(w, existing); len(k) != 0 {
		t.Errorf("the session that existed before attaching is inventory, not events; got %v", k)
	}
}

// firstStatuses runs a store on its own feed until the inventory is done and returns
// the statuses it sent.
func firstStatuses(t *testing.T, srv *redistest.Server, cfg redisstore.Config) []model.Status {
	t.Helper()
	cfg.URL = srv.URL()
	cfg.Matcher = framework.NewMatcher(framework.Builtin())
	cfg.PollInterval = 100 * time.Millisecond
	cfg.ProbeWindow = time.Second
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store, err := redisstore.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer store.Close()
	feed := backend.NewFeed(1024)
	done := make(chan error, 1)
	go func() { done <- store.Run(ctx, feed) }()
	var got []model.Status
	timeout := time.After(15 * time.Second)
	for {
		select {
		case st := <-feed.Status:
			got = append(got, st)
			if st.Inventory != nil && st.Inventory.Done {
				cancel()
				<-done
				return got
			}
		case items := <-feed.Inventory:
			_ = items
		case err := <-done:
			t.Fatalf("run ended before the inventory: %v", err)
		case <-timeout:
			t.Fatalf("no finished inventory within 15 s; statuses: %+v", got)
		}
	}
}

func TestAutoModeChoosesPollWhenNotificationsAreOff(t *testing.T) {
	cases := []struct {
		name     string
		redis    redistest.Options
		mode     string
		wantMode string
		warning  []string // the one warning line must carry these
	}{
		{"flags off: auto polls, with today's fix", redistest.Options{Notifications: "off"}, redisstore.ModeAuto, model.ModePoll,
			[]string{`missing the flags "Eg$hxe"`, "polls every 100ms", "redis-cli CONFIG SET notify-keyspace-events 'Eg$hxe", "--configure-notifications"}},
		{"the default mode is auto", redistest.Options{Notifications: "off"}, "", model.ModePoll,
			[]string{"missing the flags", "polls every"}},
		{"CONFIG refused: auto polls", redistest.Options{Args: []string{"--rename-command", "CONFIG", ""}}, redisstore.ModeAuto, model.ModePoll,
			[]string{"cannot read notify-keyspace-events", "polling every 100ms", "--mode notify"}},
		{"flags on: auto listens", redistest.Options{}, redisstore.ModeAuto, model.ModeNotify, nil},
		{"--mode notify keeps listening with the flags off", redistest.Options{Notifications: "off"}, redisstore.ModeNotify, model.ModeNotify, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := redistest.Start(t, tc.redis)
			statuses := firstStatuses(t, srv, redisstore.Config{Mode: tc.mode})
			for _, st := range statuses {
				if st.Mode != tc.wantMode {
					t.Fatalf("status %q has mode %q, want %q", st.State, st.Mode, tc.wantMode)
				}
			}
			if tc.warning == nil {
				return
			}
			// What watch prints on stderr: exactly one line about the notifications.
			var stdout, diag bytes.Buffer
			w := term.NewText(&stdout, &diag, false)
			for i := range statuses {
				if err := w.Write(&statuses[i]); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			var warnings []string
			for _, line := range strings.Split(strings.TrimSpace(diag.String()), "\n") {
				if strings.Contains(line, "notify") {
					warnings = append(warnings, line)
				}
			}
			if len(warnings) != 1 {
				t.Fatalf("want one warning line, got %d:\n%s", len(warnings), diag.String())
			}
			for _, want := range tc.warning {
				if !strings.Contains(warnings[0], want) {
					t.Errorf("warning lacks %q:\n%s", want, warnings[0])
				}
			}
		})
	}
}

// TestPollNeverWrites checks INFO commandstats: every command Redis flags as a write
// was issued by the test itself, none by the poll loop (its passes, digests included).
func TestPollNeverWrites(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{Notifications: "off"})
	for i := 0; i < 20; i++ {
		srv.Do(t, "SETEX", "PHPREDIS_SESSION:before"+strconv.Itoa(i)+"0000000000000", "600", "user|i:1;")
	}
	srv.Do(t, "CONFIG", "RESETSTAT")
	w := startPolling(t, srv, redisstore.ModePoll)
	w.Wait("the first pass", func(o model.Object) bool {
		s, ok := o.(*model.Status)
		return ok && s.Inventory != nil && s.Inventory.Done
	})
	mine := map[string]int{}
	do := func(args ...string) {
		srv.Do(t, args...)
		mine[strings.ToLower(args[0])]++
	}
	// Changes of every kind, so that the pass, the digest reads and the tracker's
	// payload reads all run.
	for i := 0; i < 5; i++ {
		k := "PHPREDIS_SESSION:during" + strconv.Itoa(i) + "00000000000000"
		do("SETEX", k, "600", "user|i:1;")
		// Created, or regenerated: a deletion just before falls into the same pass,
		// and polling can only pair the two by timing.
		w.Wait("the birth of "+k, func(o model.Object) bool {
			ev, ok := o.(*model.Event)
			return ok && ev.Session != nil && ev.Session.Ref == model.Ref(strings.TrimPrefix(k, "PHPREDIS_SESSION:"))
		})
		do("EXPIRE", k, "900")
		do("SETEX", k, "1200", "user|i:2;")
		do("DEL", "PHPREDIS_SESSION:before"+strconv.Itoa(i)+"0000000000000")
	}
	before := commandStats(t, srv)["scan"]
	waitScans := time.Now().Add(15 * time.Second)
	for commandStats(t, srv)["scan"] < before+3 {
		if time.Now().After(waitScans) {
			t.Fatalf("the poll loop made no 3 more passes within 15 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	stats := commandStats(t, srv)
	if stats["scan"] == 0 || stats["pttl"] == 0 || stats["getrange"] == 0 {
		t.Fatalf("the poll loop did not read as expected (scan, pttl, getrange): %v", stats)
	}
	for cmd, calls := range stats {
		if !isWrite(t, srv, cmd) {
			continue
		}
		if calls != mine[cmd] {
			t.Errorf("write command %s: %d calls, the test made %d: sessionscope wrote", cmd, calls, mine[cmd])
		}
	}
}

// commandStats parses INFO commandstats into calls per command ("config|get").
func commandStats(t *testing.T, srv *redistest.Server) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, line := range strings.Split(srv.Do(t, "INFO", "commandstats"), "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		name, isCmd := strings.CutPrefix(name, "cmdstat_")
		if !ok || !isCmd {
			continue
		}
		calls, _, _ := strings.Cut(strings.TrimPrefix(rest, "calls="), ",")
		n, err := strconv.Atoi(calls)
		if err != nil {
			t.Fatalf("commandstats line %q: %v", line, err)
		}
		out[name] = n
	}
	return out
}

// isWrite asks Redis whether cmd carries the write flag.
func isWrite(t *testing.T, srv *redistest.Server, cmd string) bool {
	t.Helper()
	for _, line := range strings.Split(srv.Do(t, "COMMAND", "INFO", cmd), "\n") {
		if line == "write" {
			return true
		}
	}
	return false
}
