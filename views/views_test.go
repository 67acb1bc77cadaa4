package views_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/a-h/templ"

	"github.com/sessionscope/sessionscope/ui/uitest"
	"github.com/sessionscope/sessionscope/views"
)

const hostile = `<script>alert(1)</script><img src=x onerror=alert(1)>`

func render(t *testing.T, c templ.Component) (*uitest.Doc, string) {
	t.Helper()
	var buf bytes.Buffer
	if err := c.Render(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "<script>alert") || strings.Contains(buf.String(), "<img src=x") {
		t.Errorf("unescaped markup in output")
	}
	return uitest.Parse(t, buf.Bytes()), buf.String()
}

func TestComponents(t *testing.T) {
	t.Parallel()
	layout := views.Layout{Title: hostile, Active: "live", CSS: "/assets/app.css", JS: "/assets/app.js", Icon: "/assets/f.svg", Live: true}
	for _, tc := range []struct {
		name string
		c    templ.Component
		ids  []string
	}{
		{"live", views.LiveView(views.LivePage{Layout: layout, Rows: []views.FeedRow{{Seq: 7, Kind: "created", Ref: "abc", ID: hostile,
			Framework: hostile, SessionURL: "/sessions/abc", Detail: hostile}},
			Kinds: []views.Chip{{Value: "created", Label: "created"}}, Frameworks: []views.Chip{{Value: "php", Label: "php"}}}),
			[]string{"live", "feed", "feed-row", "chip-kind-created", "chip-fw-php", "counter-live", "sparkline", "status-strip", "empty-state", "conn-indicator"}},
		{"sessions", views.SessionsView(views.SessionsPage{Layout: layout, Query: hostile, Rows: []views.SessionRow{{Ref: "abc", ID: hostile, URL: "/sessions/abc"}},
			NextURL: "/sessions?cursor=x"}), []string{"sessions", "search", "sort", "session-row", "session-link", "next-page"}},
		{"session", views.SessionView(views.SessionPage{Layout: layout, Ref: "abc", ID: hostile, ExpiresISO: "none",
			Payload: &views.Payload{Nodes: []views.PayloadNode{{Key: hostile, Kind: "string", Value: hostile}, {Key: "password", Redacted: true},
				{Key: "m", Kind: "map", Children: []views.PayloadNode{{Key: "k", Kind: "int", Value: "1"}}}}},
			Timeline: views.Timeline{Height: 40, Items: []views.TimelineItem{{Y: 16, Kind: "created", Label: hostile}}}}),
			[]string{"session-detail", "payload-tree", "redacted", "ttl", "framework", "format", "lineage-from", "lineage-to", "timeline", "session-findings"}},
		{"opaque", views.SessionView(views.SessionPage{Layout: layout, Payload: &views.Payload{Opaque: &views.Opaque{Type: "pickle", Preview: hostile}}}),
			[]string{"opaque-preview"}},
		{"findings", views.FindingsView(views.FindingsPage{Layout: layout, Groups: []views.FindingGroup{{Rule: "fixation",
			Findings: []views.Finding{{ID: "f1", Title: hostile, Detail: hostile, Evidence: []string{hostile}, Sessions: []views.Link{{Text: hostile, URL: "/sessions/abc"}}}}}}}),
			[]string{"findings", "finding-group", "finding"}},
		{"status", views.StatusView(views.StatusPage{Layout: layout, Describe: hostile, Missing: "x", Fix: hostile}),
			[]string{"status", "backend", "notifications", "notification-fix", "inventory", "read-budget", "ws-clients", "memory"}},
		{"login", views.LoginView(views.LoginPage{Layout: views.Layout{}, Next: hostile, Error: hostile}), []string{"login-form", "token-input"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc, _ := render(t, tc.c)
			for _, id := range tc.ids {
				if !doc.Has(id) {
					t.Errorf("no data-testid=%q", id)
				}
			}
		})
	}
}

// TestGeneratedFilesFresh regenerates the templ files into a scratch directory and
// compares them with the ones in the tree: a stale *_templ.go is a build of old markup.
func TestGeneratedFilesFresh(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH")
	}
	tmp := t.TempDir()
	templs, _ := filepath.Glob("*.templ")
	for _, f := range templs {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tmp, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(goBin, "tool", "templ", "generate", "-path", tmp)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("templ generate: %v\n%s", err, out)
	}
	for _, f := range templs {
		gen := strings.TrimSuffix(f, ".templ") + "_templ.go"
		want, err := os.ReadFile(filepath.Join(tmp, gen))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(gen)
		if err != nil {
			t.Fatalf("%s is missing: run go tool templ generate", gen)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run go generate ./views", gen)
		}
	}
}

// TestPushedRowsAreThePageRows: a row the live socket pushes is the page's own row
// component, byte for byte, inside an out-of-band swap that puts it on top of its list
// (or replaces the list after the page missed objects).
func TestPushedRowsAreThePageRows(t *testing.T) {
	t.Parallel()
	feed := views.FeedRow{Seq: 7, Kind: "created", Ref: "abc", ID: hostile, Framework: "php", SessionURL: "/sessions/abc", Detail: hostile}
	exchange := views.ExchangeRow{ID: "p1", Seq: 9, URL: "/requests/p1", Method: "GET", Target: hostile, Status: "302", StatusClass: "s-3xx",
		Sent: []views.CookieMark{{Name: hostile, Verdict: "sent", Ref: "abc", RefURL: "/sessions/abc"}}}
	for _, tc := range []struct {
		name       string
		push, row  templ.Component
		swap, list string
	}{
		{"feed", views.LivePushView(views.LivePush{Rows: []views.FeedRow{feed}}), views.FeedRowView(feed), "afterbegin:#feed", "ol"},
		{"feed replaced", views.LivePushView(views.LivePush{Rows: []views.FeedRow{feed}, Replace: true}), views.FeedRowView(feed), "innerHTML:#feed", "ol"},
		{"requests", views.RequestsPushView(views.RequestsPush{Rows: []views.ExchangeRow{exchange}}), views.ExchangeRowView(exchange), "afterbegin:#requests-body", "tbody"},
		{"requests replaced", views.RequestsPushView(views.RequestsPush{Rows: []views.ExchangeRow{exchange}, Replace: true}), views.ExchangeRowView(exchange), "innerHTML:#requests-body", "tbody"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, push := render(t, tc.push)
			_, row := render(t, tc.row)
			want := `<` + tc.list + ` hx-swap-oob="` + tc.swap + `">` + row + `</` + tc.list + `>`
			if push != want {
				t.Errorf("pushed\n  %s\nwant\n  %s", push, want)
			}
		})
	}
	t.Run("no rows, nothing to swap", func(t *testing.T) {
		if _, out := render(t, views.LivePushView(views.LivePush{})); out != "" {
			t.Errorf("empty push rendered %q", out)
		}
	})
	t.Run("head", func(t *testing.T) {
		_, out := render(t, views.LivePushView(views.LivePush{Head: true, Counters: views.Counters{Live: 3}, Strip: views.StatusStrip{Message: hostile}}))
		for _, id := range []string{"counters", "spark", "status-strip"} {
			if !strings.Contains(out, ` id="`+id+`"`) {
				t.Errorf("head lacks #%s: %s", id, out)
			}
		}
	})
}
