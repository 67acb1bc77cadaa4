package handlers_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/a-h/templ"

	"github.com/sessionscope/sessionscope/assets"
	"github.com/sessionscope/sessionscope/handlers"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/tracker"
	"github.com/sessionscope/sessionscope/ui/uitest"
	"github.com/sessionscope/sessionscope/views"
)

// liveFindings are findings of every severity, one naming another in its detail.
func liveFindings() []model.Finding {
	now := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	return []model.Finding{
		{ID: "cookie-not-sent-1a2b3c", Rule: "cookie-not-sent", Severity: model.SeverityWarning, Title: "Cookie not sent back",
			Detail: "The browser did not send PHPSESSID.", Sessions: []string{"aaaaaaaaaaaa"}, Exchanges: []string{"p1-1", "p1-2"},
			Count: 1, FirstSeen: now, LastSeen: now},
		{ID: "login-loop-4d5e6f", Rule: "login-loop", Severity: model.SeverityError, Title: "Login loop <script>alert(1)</script>",
			Detail:   "POST /login redirected to /login 3 times. Root cause: cookie not sent [finding cookie-not-sent-1a2b3c]; <img src=x onerror=alert(1)> [finding <b>x</b>].",
			Sessions: []string{"bbbbbbbbbbbb"}, Exchanges: []string{"p1-1"}, Count: 3, FirstSeen: now, LastSeen: now},
		{ID: "no-server-expiry-777777", Rule: "no-server-expiry", Severity: model.SeverityInfo, Title: "Sessions never expire",
			Detail: "1 session has no TTL.", Sessions: []string{"cccccccccccc"}, Count: 1, FirstSeen: now, LastSeen: now},
	}
}

// TestFindingsFilterAndLinks: the Findings screen and /api/findings filter by
// severity and rule alike; every finding links its sessions, requests and flow, and a
// finding its detail names, as escaped links, never as markup.
func TestFindingsFilterAndLinks(t *testing.T) {
	src := newFakeSource()
	src.findings = liveFindings()
	app := newApp(t, src, false)

	t.Run("filters", func(t *testing.T) {
		for _, tc := range []struct {
			query string
			want  []string
		}{
			{"", []string{"login-loop-4d5e6f", "cookie-not-sent-1a2b3c", "no-server-expiry-777777"}},
			{"?severity=error", []string{"login-loop-4d5e6f"}},
			{"?severity=warning&rule=cookie-not-sent", []string{"cookie-not-sent-1a2b3c"}},
			{"?severity=error&rule=cookie-not-sent", nil},
			{"?rule=no-server-expiry", []string{"no-server-expiry-777777"}},
		} {
			t.Run(tc.query, func(t *testing.T) {
				doc := getPage(t, app, "/findings"+tc.query, http.StatusOK)
				var got []string
				for _, n := range doc.ByTestID("finding") {
					id, _ := uitest.Attr(n, "data-id")
					got = append(got, id)
				}
				if strings.Join(got, " ") != strings.Join(tc.want, " ") {
					t.Errorf("page lists %v, want %v", got, tc.want)
				}
				if len(tc.want) == 0 && !doc.Has("empty-state") {
					t.Error("no empty state for a filter that matches nothing")
				}
				var api struct{ Findings []model.Finding }
				getJSON(t, app, "/api/findings"+tc.query, http.StatusOK, &api)
				if len(api.Findings) != len(tc.want) {
					t.Errorf("api lists %d findings, want %d", len(api.Findings), len(tc.want))
				}
			})
		}
		for _, target := range []string{"/findings?severity=fatal", "/api/findings?severity=fatal"} {
			if status, body := get(t, app, target); status != http.StatusBadRequest || !strings.Contains(string(body), "error, warning or info") {
				t.Errorf("GET %s = %d %s; want 400 saying what severity accepts", target, status, body)
			}
		}
		doc := getPage(t, app, "/findings?rule=login-loop", http.StatusOK)
		var current []string
		for _, n := range doc.ByTestID("rule-filter") {
			if v, _ := uitest.Attr(n, "aria-current"); v == "true" {
				current = append(current, uitest.Text(n))
			}
		}
		if strings.Join(current, ",") != "login-loop" {
			t.Errorf("rule chips marked current: %v, want login-loop", current)
		}
	})

	t.Run("links", func(t *testing.T) {
		status, body := get(t, app, "/findings")
		if status != http.StatusOK {
			t.Fatalf("GET /findings = %d", status)
		}
		noRawMarkup(t, body)
		doc := uitest.Parse(t, body)
		hrefs := func(n any, testID string) []string {
			var out []string
			for _, f := range doc.ByTestID("finding") {
				if id, _ := uitest.Attr(f, "data-id"); id != n {
					continue
				}
				for _, a := range uitest.ByTestID(f, testID) {
					h, _ := uitest.Attr(a, "href")
					out = append(out, h)
				}
			}
			return out
		}
		for _, tc := range []struct {
			finding, testID string
			want            []string
		}{
			{"cookie-not-sent-1a2b3c", "finding-session", []string{"/sessions/aaaaaaaaaaaa"}},
			{"cookie-not-sent-1a2b3c", "finding-request", []string{"/requests/p1-1", "/requests/p1-2"}},
			{"cookie-not-sent-1a2b3c", "finding-requests", []string{"/requests?finding=cookie-not-sent-1a2b3c"}},
			{"cookie-not-sent-1a2b3c", "finding-flow", []string{"/flow?finding=cookie-not-sent-1a2b3c"}},
			{"no-server-expiry-777777", "finding-flow", []string{"/flow?session=cccccccccccc"}},
			{"no-server-expiry-777777", "finding-request", nil},
			{"login-loop-4d5e6f", "finding-ref", []string{"/findings#cookie-not-sent-1a2b3c"}},
		} {
			if got := hrefs(tc.finding, tc.testID); strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("%s %s links %v, want %v", tc.finding, tc.testID, got, tc.want)
			}
		}
		// The anchor the link points at.
		if !bytes.Contains(body, []byte(`<article id="cookie-not-sent-1a2b3c"`)) {
			t.Error("the cited finding has no id anchor")
		}
		// The rest of the detail is text, the malformed reference included.
		for _, f := range doc.ByTestID("finding") {
			if id, _ := uitest.Attr(f, "data-id"); id == "login-loop-4d5e6f" {
				if txt := uitest.Text(f); !strings.Contains(txt, "Root cause: cookie not sent [finding cookie-not-sent-1a2b3c];") ||
					!strings.Contains(txt, "[finding <b>x</b>]") {
					t.Errorf("detail text %q lost its words", txt)
				}
			}
		}
	})
}

// newHandlers builds the handlers over src as the dashboard does.
func newHandlers(t *testing.T, src handlers.Source) *handlers.Handlers {
	t.Helper()
	set, err := assets.New()
	if err != nil {
		t.Fatal(err)
	}
	return handlers.New(handlers.Deps{Src: src, Asset: set.URL})
}

func renderComponent(t *testing.T, c templ.Component) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := c.Render(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestLiveScreensPushThePageMarkup: what the Findings, Sessions and Status sockets
// push is the markup of the first load, byte for byte, inside out-of-band swaps.
func TestLiveScreensPushThePageMarkup(t *testing.T) {
	src := newFakeSource()
	src.findings = liveFindings()
	row := tracker.SessionRow{Ref: "aaaaaaaaaaaa", ID: "q3hg…m9", Framework: "php", Format: "php", Size: 120, Authenticated: true}
	src.addSession(row, tracker.SessionDetail{})
	src.status.Sessions = 1
	h := newHandlers(t, src)
	app := newApp(t, src, false)

	t.Run("findings", func(t *testing.T) {
		_, page := get(t, app, "/findings")
		s, err := h.PageStreamFor("/ws/page?view=findings")
		if err != nil {
			t.Fatal(err)
		}
		f := src.findings[1]
		pushed, err := s.Batch(9, []model.Object{&f}, nil)
		if err != nil {
			t.Fatal(err)
		}
		article := pushedElement(t, pushed, `<article id="login-loop-4d5e6f"`, "</article>")
		if !bytes.Contains(page, article) {
			t.Errorf("the pushed finding is not the page's:\n%s", article)
		}
		if !bytes.Contains(pushed, []byte(`<div hx-swap-oob="beforeend:#findings-inbox">`)) {
			t.Errorf("the finding is not pushed into the inbox:\n%s", pushed)
		}
		head := renderComponent(t, views.FindingGroupHead(views.FindingGroup{Rule: "login-loop", Severity: "error", Count: 3}))
		if !bytes.Contains(pushed, append([]byte(`<div hx-swap-oob="innerHTML:#group-login-loop">`), head...)) || !bytes.Contains(page, head) {
			t.Errorf("the group heading pushed is not the page's:\n%s", pushed)
		}
		// A filtered page gets only what its filter takes.
		s, err = h.PageStreamFor("/ws/page?view=findings&severity=info")
		if err != nil {
			t.Fatal(err)
		}
		if pushed, _ := s.Batch(10, []model.Object{&f}, nil); bytes.Contains(pushed, []byte("<article")) {
			t.Errorf("an error finding was pushed to a page filtered to info:\n%s", pushed)
		}
		if _, err := h.PageStreamFor("/ws/page?view=findings&severity=fatal"); err == nil {
			t.Error("a bad severity opened a socket")
		}
	})

	t.Run("sessions", func(t *testing.T) {
		_, page := get(t, app, "/sessions")
		s, err := h.PageStreamFor("/ws/page?view=sessions")
		if err != nil {
			t.Fatal(err)
		}
		size := 120
		e := &model.Event{Seq: 11, Kind: model.KindUpdated, Session: &model.SessionInfo{Ref: row.Ref}, Size: &size}
		pushed, err := s.Batch(11, []model.Object{e}, nil)
		if err != nil {
			t.Fatal(err)
		}
		tr := pushedElement(t, pushed, `<tr data-testid="session-row"`, "</tr>")
		if !bytes.Contains(page, tr) {
			t.Errorf("the pushed row is not the page's:\n%s\npage:\n%s", tr, page)
		}
		if !bytes.Contains(pushed, []byte(`<tbody hx-swap-oob="beforeend:#sessions-changed">`)) {
			t.Errorf("an updated session is not pushed as changed:\n%s", pushed)
		}
		born := &model.Event{Seq: 12, Kind: model.KindCreated, Session: &model.SessionInfo{Ref: row.Ref}}
		pushed, _ = s.Batch(12, []model.Object{born}, nil)
		if !bytes.Contains(pushed, []byte(`<tbody hx-swap-oob="beforeend:#sessions-born">`)) {
			t.Errorf("a created session is not pushed as born:\n%s", pushed)
		}
		if i, j := bytes.Index(pushed, []byte("<tbody")), bytes.Index(pushed, []byte(`<p id="sessions-summary"`)); i < 0 || j < i {
			t.Errorf("the count comes before the rows: a browser would drop the rows parsing the message:\n%s", pushed)
		}
		summary := renderComponent(t, views.SessionsSummary(1, 1))
		if !bytes.Contains(pushed, summary) || !bytes.Contains(page, summary) {
			t.Errorf("the count pushed is not the page's:\n%s", pushed)
		}
	})

	t.Run("status", func(t *testing.T) {
		s, err := h.PageStreamFor("/ws/page?view=status")
		if err != nil {
			t.Fatal(err)
		}
		pushed, err := s.Batch(13, nil, &handlers.Counters{})
		if err != nil {
			t.Fatal(err)
		}
		doc := uitest.Parse(t, pushed)
		if got := uitest.Text(doc.One("tracked-sessions")); got != "1" {
			t.Errorf("pushed tracked sessions %q, want 1", got)
		}
		if !bytes.HasPrefix(pushed, []byte(`<div id="status-cards" class="cards">`)) {
			t.Errorf("the status push does not replace the cards:\n%s", pushed)
		}
		if nothing, _ := s.Batch(14, nil, nil); bytes.Contains(nothing, []byte("status-cards")) {
			t.Error("a resumed batch without counters re-rendered the cards")
		}
	})
}

// pushedElement cuts the first element that starts with start out of body.
func pushedElement(t *testing.T, body []byte, start, end string) []byte {
	t.Helper()
	i := bytes.Index(body, []byte(start))
	if i < 0 {
		t.Fatalf("no %s in\n%s", start, body)
	}
	j := bytes.Index(body[i:], []byte(end))
	if j < 0 {
		t.Fatalf("no %s after %s", end, start)
	}
	return body[i : i+j+len(end)]
}

// TestStatusNotificationsOnlyForRedis: keyspace notification flags are a Redis
// matter; the embedded store and session files have none to show, on the Status
// screen or the Live strip; and the Status screen is
// not styled as an HTTP status code.
func TestStatusNotificationsOnlyForRedis(t *testing.T) {
	for _, tc := range []struct {
		backend string
		panel   bool
	}{{"redis", true}, {"memory", false}, {"files", false}} {
		t.Run(tc.backend, func(t *testing.T) {
			src := newFakeSource()
			src.status.Name = tc.backend
			app := newApp(t, src, false)
			if _, live := get(t, app, "/"); bytes.Contains(live, []byte(`id="strip-flags"`)) != tc.panel {
				t.Errorf("the Live strip shows notification flags: %v, want %v", !tc.panel, tc.panel)
			}
			doc := getPage(t, app, "/status", http.StatusOK)
			if got := doc.Has("notifications"); got != tc.panel {
				t.Errorf("notifications panel shown %v, want %v", got, tc.panel)
			}
			if class, _ := uitest.Attr(doc.One("status"), "class"); strings.Contains(" "+class+" ", " status ") {
				t.Errorf("the Status screen has class %q, which styles HTTP status codes", class)
			}
		})
	}
}
