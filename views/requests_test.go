package views_test

import (
	"strings"
	"testing"

	"github.com/a-h/templ"
	"golang.org/x/net/html"

	"github.com/sessionscope/sessionscope/ui/uitest"
	"github.com/sessionscope/sessionscope/views"
)

func TestTrafficComponents(t *testing.T) {
	t.Parallel()
	layout := views.Layout{Title: hostile, Active: "requests", CSS: "/assets/app.css", JS: "/assets/app.js", Icon: "/assets/f.svg", Live: true}
	row := views.ExchangeRow{ID: "p1-1", Seq: 3, URL: "/requests/p1-1", Method: hostile, Target: hostile, Status: "302",
		StatusClass: "s-3xx", Location: "javascript:alert(1)", Client: hostile, ClientURL: "/requests?client=x",
		Upstream: hostile, Duration: "12 ms",
		Sent:       []views.CookieMark{{Name: hostile, Verdict: "sent", Ref: "abc", RefURL: "/sessions/abc"}},
		Blocked:    []views.CookieMark{{Name: hostile, Verdict: "blocked", Reason: "NotOnPath", Detail: hostile}},
		SetCookies: []views.CookieMark{{Name: hostile, Verdict: "stored"}, {Name: "b", Verdict: "rejected", Reason: hostile}, {Name: "c"}}}
	table := views.RequestsTable{Rows: []views.ExchangeRow{row}, NextURL: "/requests?before=3", Live: true,
		Filter: views.ExchangeFilter{Session: hostile, UA: hostile}}
	finding := views.Finding{ID: "f1", Rule: "login-loop", Title: hostile, Exchanges: 3, RequestsURL: "/requests?finding=f1", FlowURL: "/flow?finding=f1"}
	flow := views.Flow{Width: 800, Height: 200, LaneTop: 34, Shown: 2, Total: 3,
		Lanes: []views.FlowLane{{Kind: "browser", Name: "browser", X: 190}, {Kind: "upstream", Name: hostile, X: 460}, {Kind: "store", Name: "store", X: 730}},
		Rows: []views.FlowRow{
			{Kind: "request", Y: 66, X1: 190, X2: 457, Head: "M457,66 L449,62 L449,70 Z", Label: hostile, URL: "/requests/p1-1", Title: hostile,
				Marks: []views.FlowMark{{Text: hostile, Class: "blocked"}}, ISO: "2026-01-01T00:00:00Z", Exchange: "p1-1"},
			{Kind: "response", Class: "redirect repeat", Y: 100, X1: 460, X2: 193, Label: "302 → " + hostile, Status: "302", ISO: "2026-01-01T00:00:01Z"},
			{Kind: "event", Y: 130, DotX: 730, Label: hostile, ISO: "2026-01-01T00:00:02Z", Seq: 9},
		}}
	for _, tc := range []struct {
		name string
		c    templ.Component
		ids  []string
	}{
		{"requests", views.RequestsView(views.RequestsPage{Layout: layout, Table: table, Filter: table.Filter, Filtered: true,
			ClientLabel: hostile, Finding: &finding, FlowURL: "/flow", UploadError: hostile, Error: hostile, MaxUpload: "200.0 MiB",
			Imports: []views.HARImportRow{{ID: "h1", Name: hostile, URL: "/har/h1", Worst: "error"}}}),
			[]string{"requests", "requests-filter", "filter-session", "filter-client", "filter-status", "requests-table", "request-row",
				"request-link", "cookies-sent", "cookie-sent", "cookie-ref", "cookie-blocked", "set-cookies", "set-cookie", "cookie-plain",
				"next-page", "empty-state", "har-upload", "har-file", "har-imports", "har-import-row", "upload-error", "query-error",
				"requests-finding", "finding-requests", "finding-flow", "requests-flow", "client-filter", "clear-filters"}},
		{"request", views.RequestView(views.RequestPage{Layout: layout, ID: "p1-1", Method: hostile, Target: hostile, Status: "302",
			Location: hostile, Failed: hostile, ClientURL: "/requests?client=x", Session: &views.Link{Text: hostile, URL: "/sessions/abc"},
			Cookies:    []views.CookieMark{{Name: hostile, Verdict: "blocked", Reason: "NotOnPath", Detail: hostile}, {Name: "a", Verdict: "sent"}},
			SetCookies: []views.SetCookieView{{Name: hostile, Domain: hostile, Path: hostile, Verdict: "rejected", Reason: hostile, ParseError: hostile}},
			Notes:      []string{hostile}, Findings: []views.Finding{finding}, JSONURL: "/api/exchanges/p1-1",
			Events: []views.RequestEvent{{Seq: 4, Kind: "updated", Ref: "abc", RefURL: "/sessions/abc", Late: true, Detail: hostile, JSONURL: "/api/events?after=3"}},
			Links:  []views.Link{{Text: hostile, URL: "/flow?client=x"}}, HAR: &views.Link{Text: hostile, URL: "/har/h1"}}),
			[]string{"request-detail", "request-url", "request-status", "request-location", "request-failed", "timing-start", "timing-headers",
				"timing-end", "request-client", "request-session", "request-har", "request-note", "request-cookies", "request-cookie",
				"response-cookies", "response-cookie", "request-events", "request-event", "request-findings", "finding", "request-nav"}},
		{"flow", views.FlowView(views.FlowPage{Layout: layout, Title: hostile, Flow: flow, Finding: &finding, Error: hostile,
			StoreNote: hostile, RequestsURL: "/requests", Links: []views.Link{{Text: hostile, URL: "/har/h1"}}, Stale: true}),
			[]string{"flow-page", "flow", "flow-lane", "flow-row", "flow-mark", "flow-step-link", "flow-bounded", "flow-stale",
				"flow-requests", "flow-link", "store-note", "finding"}},
		{"empty flow", views.FlowView(views.FlowPage{Layout: layout, Title: "x"}), []string{"flow-page", "flow-empty"}},
		{"har", views.HARView(views.HARPage{Layout: layout, ID: "h1", Name: hostile, Entries: 9, Kept: 5, Truncated: true, Creator: hostile,
			Notes: []string{hostile}, Groups: []views.FindingGroup{{Rule: "login-loop", Severity: "error", Findings: []views.Finding{finding}}},
			Flow: flow, FlowURL: "/flow?har=h1", Table: table, JSONURL: "/api/exchanges?har=h1"}),
			[]string{"har-page", "har-summary", "har-entries", "har-truncated", "har-note", "har-findings", "finding-group", "finding",
				"finding-flow", "flow", "requests-table", "har-flow-link"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc, out := render(t, tc.c)
			for _, id := range tc.ids {
				if !doc.Has(id) {
					t.Errorf("no data-testid=%q", id)
				}
			}
			if strings.Contains(out, `href="javascript:`) {
				t.Error("a javascript: URL became a link")
			}
		})
	}

	t.Run("the flow draws arrows, a repeated redirect and the store lane", func(t *testing.T) {
		doc, _ := render(t, views.FlowSVG(flow))
		rows := doc.ByTestID("flow-row")
		if len(rows) != 3 {
			t.Fatalf("%d rows", len(rows))
		}
		if c, _ := uitest.Attr(rows[1], "class"); !strings.Contains(c, "repeat") || !strings.Contains(c, "redirect") {
			t.Errorf("response class %q", c)
		}
		lines := uitest.All(rows[0], func(n *html.Node) bool { return n.Data == "line" })
		heads := uitest.All(rows[0], func(n *html.Node) bool { return n.Data == "path" })
		if len(lines) != 1 || len(heads) != 1 {
			t.Errorf("request arrow: %d lines, %d heads", len(lines), len(heads))
		}
		if len(uitest.All(rows[2], func(n *html.Node) bool { return n.Data == "circle" })) != 1 {
			t.Error("the store event has no dot")
		}
		if !strings.Contains(uitest.Text(rows[0]), hostile) {
			t.Errorf("the hostile label is not shown as text: %q", uitest.Text(rows[0]))
		}
	})

	t.Run("finding without exchanges has no HTTP links", func(t *testing.T) {
		doc, _ := render(t, views.FindingView(views.Finding{ID: "f", Rule: "fixation"}))
		if doc.Has("finding-requests") || doc.Has("finding-flow") {
			t.Error("HTTP links on a store-side finding")
		}
	})
}
