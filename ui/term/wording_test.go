package term

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// A logout's Set-Cookie that clears the session cookie reads "cleared NAME", without
// the ref of its placeholder value ("deleted" is no session).
func TestTextClearedCookie(t *testing.T) {
	start := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	zero, hour := 0, 3600
	epoch := time.Unix(1, 0).UTC()
	later := start.Add(time.Hour)
	deletedRef := model.Ref("deleted")
	cases := []struct {
		name  string
		cook  model.SetCookie
		want  string
		avoid []string
	}{
		{"Max-Age=0", model.SetCookie{Name: "PHPSESSID", MaxAge: &zero, Expires: &epoch, SessionRef: deletedRef},
			"cleared PHPSESSID", []string{"set PHPSESSID", deletedRef}},
		{"expires in the past", model.SetCookie{Name: "PHPSESSID", Expires: &epoch, SessionRef: deletedRef},
			"cleared PHPSESSID", []string{"set PHPSESSID", deletedRef}},
		{"a new session", model.SetCookie{Name: "PHPSESSID", MaxAge: &hour, SessionRef: "a1b2c3d4e5f6"},
			"set PHPSESSID a1b2c3d4e5f6", []string{"cleared"}},
		{"expires later", model.SetCookie{Name: "PHPSESSID", Expires: &later, SessionRef: "a1b2c3d4e5f6"},
			"set PHPSESSID a1b2c3d4e5f6", []string{"cleared"}},
		{"Max-Age wins over an old Expires", model.SetCookie{Name: "PHPSESSID", MaxAge: &hour, Expires: &epoch, SessionRef: "a1b2c3d4e5f6"},
			"set PHPSESSID a1b2c3d4e5f6", []string{"cleared"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, diag bytes.Buffer
			w := NewText(&out, &diag, false)
			x := &model.Exchange{Type: model.TypeExchange, Start: start, Method: "GET", URL: "/logout", Status: 302, Location: "/login",
				SetCookies: []model.SetCookie{tc.cook}}
			if err := w.Write(x); err != nil {
				t.Fatal(err)
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			line := out.String()
			if !strings.Contains(line, tc.want) {
				t.Errorf("line %q lacks %q", line, tc.want)
			}
			for _, a := range tc.avoid {
				if strings.Contains(line, a) {
					t.Errorf("line %q holds %q", line, a)
				}
			}
		})
	}
}

// A finding that fires again prints one line with its count; the first time it is
// printed in full. JSON keeps printing the whole object each time.
func TestTextFindingAgainIsOneLine(t *testing.T) {
	at := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	f := func(count int) *model.Finding {
		return &model.Finding{Type: model.TypeFinding, ID: "login-loop-3f2a", Time: at, Rule: "login-loop", Severity: model.SeverityError,
			Title: "Login loop: the session cookie is not sent back", Detail: "Every request to /account redirects to /login.",
			Fix: "Send the cookie with Path=/.", Evidence: []string{"GET /account → 302 /login"}, Count: count}
	}
	var out, diag bytes.Buffer
	w := NewText(&out, &diag, false)
	for _, c := range []int{1, 2, 3, 3} {
		if err := w.Write(f(c)); err != nil {
			t.Fatal(err)
		}
	}
	other := f(1)
	other.ID = "cookie-flags-77aa"
	if err := w.Write(other); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	if n := strings.Count(text, "fix: Send the cookie"); n != 2 {
		t.Errorf("the full text should be printed once per finding id (2), got %d times:\n%s", n, text)
	}
	for _, want := range []string{
		"finding again ×2: login-loop-3f2a Login loop: the session cookie is not sent back\n",
		"finding again ×3: login-loop-3f2a Login loop: the session cookie is not sent back\n",
		"finding updated ×3: login-loop-3f2a Login loop",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}

	var js bytes.Buffer
	j := NewJSON(&js)
	for _, c := range []int{1, 2} {
		if err := j.Write(f(c)); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Flush(); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(js.String(), `"fix":"Send the cookie with Path=/."`); n != 2 {
		t.Errorf("--json must print the whole finding each time, got %d full objects:\n%s", n, js.String())
	}
}

// In poll mode the line that ends the inventory says it polls, and how often, never
// "live ... watching for changes".
func TestTextPollModeWording(t *testing.T) {
	at := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	done := func(mode string, n *model.Notifications) *model.Status {
		return &model.Status{Type: model.TypeStatus, Time: at, Backend: "redis", Node: "127.0.0.1:6379", State: model.StatePolling,
			Mode: mode, Notifications: n, Inventory: &model.Inventory{Scanned: 12, Sessions: 3, Done: true}}
	}
	cases := []struct {
		name     string
		interval time.Duration
		status   *model.Status
		want     string
		avoid    []string
	}{
		{"notifications off", 2 * time.Second, done(model.ModePoll, &model.Notifications{Flags: "", Missing: "Eg$hxe"}),
			"127.0.0.1:6379: polling every 2s (keyspace notifications are off); 3 existing sessions", []string{"live", "watching for changes"}},
		{"forced by --mode poll", 500 * time.Millisecond, done(model.ModePoll, &model.Notifications{Flags: "Eg$hxe"}),
			"polling every 500ms (--mode poll)", []string{"live", "watching for changes"}},
		{"interval unknown", 0, done(model.ModePoll, nil), "polling for changes (--mode poll)", []string{"live"}},
		{"notify mode", 2 * time.Second, done(model.ModeNotify, &model.Notifications{Flags: "Eg$hxe"}),
			"127.0.0.1:6379: live; 3 existing sessions (inventory, not events); watching for changes", []string{"polling"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, diag bytes.Buffer
			w := NewText(&out, &diag, false)
			w.SetPollInterval(tc.interval)
			if err := w.Write(tc.status); err != nil {
				t.Fatal(err)
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			line := diag.String()
			if !strings.Contains(line, tc.want) {
				t.Errorf("status line %q lacks %q", line, tc.want)
			}
			for _, a := range tc.avoid {
				if strings.Contains(line, a) {
					t.Errorf("status line %q holds %q", line, a)
				}
			}
		})
	}
}
