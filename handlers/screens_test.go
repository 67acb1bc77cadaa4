package handlers_test

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/codec"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/tracker"
	"github.com/sessionscope/sessionscope/ui/uitest"
)

func TestScreens(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	app := newApp(t, f.env.In, false)

	t.Run("live", func(t *testing.T) {
		doc := getPage(t, app, "/", 200)
		doc.One("live")
		doc.One("feed")
		rows := doc.ByTestID("feed-row")
		if len(rows) < 4 {
			t.Fatalf("feed rows: %d", len(rows))
		}
		first, _ := uitest.Attr(rows[0], "data-seq")
		last, _ := uitest.Attr(rows[len(rows)-1], "data-seq")
		if first <= last && len(first) == len(last) {
			t.Errorf("feed is not newest first: %s .. %s", first, last)
		}
		var sawRegen bool
		for _, r := range rows {
			kind, _ := uitest.Attr(r, "data-kind")
			ref, _ := uitest.Attr(r, "data-ref")
			if kind == "regenerated" && ref == f.newRef {
				sawRegen = true
				if txt := uitest.Text(r); !strings.Contains(txt, ref) || !strings.Contains(txt, "apit…02") {
					t.Errorf("row text %q lacks the ref or masked id", txt)
				}
			}
		}
		if !sawRegen {
			t.Error("no regenerated row")
		}
		for _, id := range []string{"chip-kind-created", "chip-kind-gap", "chip-fw-php", "chip-fw-express", "counter-live",
			"counter-created", "counter-regenerated", "counter-expired", "counter-destroyed", "sparkline", "status-strip",
			"conn-indicator", "nav-live", "nav-sessions", "nav-findings", "nav-status"} {
			doc.One(id)
		}
		if p, _ := uitest.Attr(doc.One("chip-kind-created"), "aria-pressed"); p != "false" {
			t.Errorf("chip aria-pressed %q", p)
		}
		if got := uitest.Text(doc.One("counter-live")); got != "3" {
			t.Errorf("counter-live %q", got)
		}
		if s, _ := uitest.Attr(doc.One("status-strip"), "data-state"); s != "live" {
			t.Errorf("strip state %q", s)
		}
		if _, hidden := uitest.Attr(doc.One("empty-state"), "hidden"); !hidden {
			t.Error("empty state shown although there are events")
		}
	})

	t.Run("sessions", func(t *testing.T) {
		doc := getPage(t, app, "/sessions?sort=size", 200)
		doc.One("sessions")
		if v, _ := uitest.Attr(doc.One("search"), "name"); v != "q" {
			t.Errorf("search name %q", v)
		}
		sel := doc.One("sort")
		if v, _ := uitest.Attr(sel, "name"); v != "sort" {
			t.Errorf("sort name %q", v)
		}
		rows := doc.ByTestID("session-row")
		if len(rows) != 3 {
			t.Fatalf("rows %d", len(rows))
		}
		ref, _ := uitest.Attr(rows[0], "data-ref")
		if ref != f.expressRef {
			t.Errorf("largest first: %s", ref)
		}
		link := uitest.ByTestID(rows[0], "session-link")
		if href, _ := uitest.Attr(link[0], "href"); len(link) != 1 || href != "/sessions/"+ref {
			t.Errorf("session link %v", link)
		}
		doc = getPage(t, app, "/sessions?limit=1", 200)
		next := doc.One("next-page")
		href, _ := uitest.Attr(next, "href")
		if !strings.Contains(href, "cursor=") {
			t.Errorf("next href %q", href)
		}
		doc = getPage(t, app, "/sessions?q="+url.QueryEscape("fw:express"), 200)
		if n := len(doc.ByTestID("session-row")); n != 2 {
			t.Errorf("fw:express rows %d", n)
		}
		doc = getPage(t, app, "/sessions?sort=bogus", 400)
		if !strings.Contains(uitest.Text(doc.One("query-error")), "use activity, ttl or size") {
			t.Error("bad sort message")
		}
	})

	t.Run("ended predecessor via lineage", func(t *testing.T) {
		status, body := get(t, app, "/sessions/"+f.phpRef)
		if status != 200 {
			t.Fatalf("the regenerated-from link must lead to the ended session, got %d", status)
		}
		doc := uitest.Parse(t, body)
		if got := uitest.Text(doc.One("session-ended")); !strings.Contains(got, "regenerated to "+f.newRef) {
			t.Errorf("ended note %q", got)
		}
		if href, _ := uitest.Attr(doc.One("lineage-to"), "href"); href != "/sessions/"+f.newRef {
			t.Errorf("lineage-to %q", href)
		}
	})

	t.Run("session detail", func(t *testing.T) {
		status, body := get(t, app, "/sessions/"+f.newRef)
		if status != 200 {
			t.Fatalf("status %d", status)
		}
		noRawMarkup(t, body)
		doc := uitest.Parse(t, body)
		doc.One("session-detail")
		doc.One("payload-tree")
		if got := uitest.Text(doc.One("framework")); got != "php" {
			t.Errorf("framework %q", got)
		}
		if got := uitest.Text(doc.One("format")); got != "php" {
			t.Errorf("format %q", got)
		}
		exp, _ := uitest.Attr(doc.One("ttl"), "data-expires")
		if _, err := time.Parse(time.RFC3339, exp); err != nil {
			t.Errorf("ttl data-expires %q: %v", exp, err)
		}
		if href, _ := uitest.Attr(doc.One("lineage-from"), "href"); href != "/sessions/"+f.phpRef {
			t.Errorf("lineage-from %q", href)
		}
		if len(uitest.All(doc.One("timeline"), func(n *htmlNode) bool { return n.Data == "circle" })) == 0 {
			t.Error("timeline has no circles")
		}
		doc.One("session-findings")
		keys := map[string]string{}
		for _, leaf := range uitest.All(doc.One("payload-tree"), func(n *htmlNode) bool {
			c, _ := uitest.Attr(n, "class")
			return c == "leaf"
		}) {
			k := uitest.ByTestID(leaf, "payload-key")
			v := uitest.ByTestID(leaf, "payload-value")
			if len(k) == 1 && len(v) == 1 {
				keys[uitest.Text(k[0])] = uitest.Text(v[0])
			}
		}
		if keys["password"] != "••• redacted" || keys["user_id"] != "42" || keys["name"] != `"<script>alert(1)</script>"` {
			t.Errorf("payload leaves %v", keys)
		}
		if len(doc.ByTestID("redacted")) != 1 {
			t.Errorf("redacted count %d", len(doc.ByTestID("redacted")))
		}
	})

	t.Run("hostile keys and values are escaped", func(t *testing.T) {
		status, body := get(t, app, "/sessions/"+f.expressRef)
		if status != 200 {
			t.Fatalf("status %d", status)
		}
		noRawMarkup(t, body)
		doc := uitest.Parse(t, body)
		var texts []string
		for _, n := range doc.ByTestID("payload-key") {
			texts = append(texts, uitest.Text(n))
		}
		for _, n := range doc.ByTestID("payload-value") {
			texts = append(texts, uitest.Text(n))
		}
		all := strings.Join(texts, "\n")
		for _, s := range []string{"<img src=x onerror=alert(1)>", `"javascript:alert(1)"`, "••• redacted", `"Oslo"`} {
			if !strings.Contains(all, s) {
				t.Errorf("payload text lacks %q:\n%s", s, all)
			}
		}
		if strings.Contains(all, "k-123") {
			t.Error("api_key value shown although redaction is on")
		}
		// The same strings are plain strings in JSON.
		var d struct {
			Payload struct {
				Fields []struct {
					Key   string `json:"key"`
					Value any    `json:"value"`
				} `json:"fields"`
			} `json:"payload"`
		}
		getJSON(t, app, "/api/sessions/"+f.expressRef, 200, &d)
		found := false
		for _, fl := range d.Payload.Fields {
			if fl.Key == "<img src=x onerror=alert(1)>" && fl.Value == "javascript:alert(1)" {
				found = true
			}
		}
		if !found {
			t.Errorf("hostile key/value not round-tripped as plain JSON strings: %+v", d.Payload.Fields)
		}
	})

	t.Run("reveal values", func(t *testing.T) {
		revealed := newApp(t, f.env.In, true)
		doc := getPage(t, revealed, "/sessions/"+f.expressRef, 200)
		if doc.Has("redacted") {
			t.Error("redacted values with RevealValues on")
		}
		if !strings.Contains(uitest.Text(doc.One("payload-tree")), "k-123") {
			t.Error("api_key value not shown with RevealValues on")
		}
		var d struct {
			Payload struct {
				Redacted bool `json:"redacted"`
			} `json:"payload"`
		}
		getJSON(t, revealed, "/api/sessions/"+f.newRef, 200, &d)
		if d.Payload.Redacted {
			t.Error("API says redacted with RevealValues on")
		}
	})

	t.Run("unknown session is a 404 page linking to Live", func(t *testing.T) {
		for _, ref := range []string{"000000000000", "zz<script>"} {
			status, body := get(t, app, "/sessions/"+url.PathEscape(ref))
			if status != 404 {
				t.Fatalf("%s: status %d", ref, status)
			}
			noRawMarkup(t, body)
			doc := uitest.Parse(t, body)
			page := doc.One("error-page")
			if !strings.Contains(uitest.Text(page), "may have ended") {
				t.Errorf("404 text %q", uitest.Text(page))
			}
			links := uitest.All(page, func(n *htmlNode) bool { h, _ := uitest.Attr(n, "href"); return h == "/" })
			if len(links) == 0 {
				t.Error("404 page has no link to Live")
			}
		}
	})

	t.Run("findings", func(t *testing.T) {
		doc := getPage(t, app, "/findings", 200)
		doc.One("findings")
		g := doc.One("finding-group")
		if r, _ := uitest.Attr(g, "data-rule"); r != "no-server-expiry" {
			t.Errorf("group rule %q", r)
		}
		fs := uitest.ByTestID(g, "finding")
		if len(fs) != 1 {
			t.Fatalf("findings %d", len(fs))
		}
		if id, _ := uitest.Attr(fs[0], "data-id"); id == "" {
			t.Error("finding has no data-id")
		}
		links := uitest.ByTestID(fs[0], "finding-session")
		if len(links) == 0 {
			t.Fatal("finding has no session link")
		}
		if href, _ := uitest.Attr(links[0], "href"); href != "/sessions/"+uitest.RefOfKey(noTTLKey) {
			t.Errorf("finding session link %q", href)
		}
	})

	t.Run("status", func(t *testing.T) {
		doc := getPage(t, app, "/status", 200)
		doc.One("status")
		if !strings.Contains(uitest.Text(doc.One("backend")), f.env.Srv.Addr) {
			t.Error("backend lacks its address")
		}
		if doc.Has("notification-fix") {
			t.Error("fix shown although flags are set")
		}
		for _, id := range []string{"notifications", "inventory", "read-budget", "ws-clients", "memory"} {
			doc.One(id)
		}
		if d, _ := uitest.Attr(doc.One("inventory"), "data-done"); d != "true" {
			t.Errorf("inventory done %q", d)
		}
	})
}

func TestEmptyStates(t *testing.T) {
	t.Parallel()
	t.Run("no events", func(t *testing.T) {
		app := newApp(t, newFakeSource(), false)
		doc := getPage(t, app, "/", 200)
		e := doc.One("empty-state")
		if _, hidden := uitest.Attr(e, "hidden"); hidden || !strings.Contains(uitest.Text(e), "No sessions yet: log in to your app") {
			t.Errorf("empty state %q (hidden %v)", uitest.Text(e), hidden)
		}
		doc = getPage(t, app, "/findings", 200)
		if txt := uitest.Text(doc.One("empty-state")); !strings.Contains(txt, "No findings yet") || !strings.Contains(txt, "fixation") {
			t.Errorf("findings empty state %q", txt)
		}
	})
	t.Run("notifications off, against a real Redis", func(t *testing.T) {
		env := uitest.StartInspector(t, uitest.Options{Redis: redisOff()})
		app := newApp(t, env.In, false)
		fix := env.In.Status().Last.Notifications.Fix
		if fix == "" {
			t.Fatal("inspector reports no fix for missing notifications")
		}
		doc := getPage(t, app, "/", 200)
		if txt := uitest.Text(doc.One("empty-state")); !strings.Contains(txt, "Keyspace notifications are off") || !strings.Contains(txt, fix) {
			t.Errorf("empty state %q lacks the fix %q", txt, fix)
		}
		doc = getPage(t, app, "/status", 200)
		if txt := uitest.Text(doc.One("notification-fix")); !strings.Contains(txt, fix) || !strings.Contains(txt, "--configure-notifications") {
			t.Errorf("status fix %q", txt)
		}
	})
}

func TestPayloadRendering(t *testing.T) {
	t.Parallel()
	src := newFakeSource()
	hostile := codec.Value{Kind: codec.KindMap, Entries: []codec.Entry{
		{Key: xssStrings[0], Value: codec.Value{Kind: codec.KindString, Str: xssStrings[1]}},
		{Key: "nested", Value: codec.Value{Kind: codec.KindMap, Entries: []codec.Entry{
			{Key: "Card_Number", Value: codec.Value{Kind: codec.KindString, Str: "4111111111111111"}},
			{Key: "IBAN", Value: codec.Value{Kind: codec.KindString, Str: "DE89370400440532013000"}},
		}}},
	}}
	src.addSession(tracker.SessionRow{Ref: "aaaaaaaaaaaa", ID: "abcd…yz", Framework: xssStrings[1], Format: "json", NoTTL: true},
		tracker.SessionDetail{Payload: &codec.Payload{Format: codec.FormatJSON, Fields: []codec.Entry{
			{Key: "data", Value: hostile},
			{Key: "X-CSRF-Token", Value: codec.Value{Kind: codec.KindString, Str: "t0k3n"}},
			{Key: "ssn_last4", Value: codec.Value{Kind: codec.KindInt, Int: 1234}},
			{Key: "pwd", Value: codec.Value{Kind: codec.KindString, Str: "p"}},
			{Key: "link", Value: codec.Value{Kind: codec.KindString, Str: xssStrings[2]}},
		}}})
	src.addSession(tracker.SessionRow{Ref: "bbbbbbbbbbbb", ID: "efgh…ij", Framework: "django", Format: "pickle"},
		tracker.SessionDetail{Payload: &codec.Payload{Format: codec.FormatPickle, Opaque: &codec.Opaque{Type: codec.FormatPickle, Size: 40,
			Preview: "00000000  80 04 95 <script>  |....|"}}})
	src.publishEvent(model.KindCreated, "aaaaaaaaaaaa", xssStrings[0], xssStrings[1])

	for _, tc := range []struct {
		name         string
		reveal       bool
		wantRedacted int
	}{
		{"redacted by default", false, 5},
		{"revealed", true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := newApp(t, src, tc.reveal)
			status, body := get(t, app, "/sessions/aaaaaaaaaaaa")
			if status != 200 {
				t.Fatalf("status %d", status)
			}
			noRawMarkup(t, body)
			doc := uitest.Parse(t, body)
			if n := len(doc.ByTestID("redacted")); n != tc.wantRedacted {
				t.Errorf("redacted %d, want %d", n, tc.wantRedacted)
			}
			if s, _ := uitest.Attr(doc.One("ttl"), "data-expires"); s != "none" {
				t.Errorf("no-TTL data-expires %q", s)
			}
			txt := uitest.Text(doc.One("payload-tree"))
			if strings.Contains(txt, "4111111111111111") == !tc.reveal {
				t.Errorf("card number visibility wrong (reveal %v): %s", tc.reveal, txt)
			}
			if !strings.Contains(txt, xssStrings[0]) {
				t.Errorf("hostile key missing from text: %s", txt)
			}
		})
	}
	t.Run("opaque preview", func(t *testing.T) {
		for _, reveal := range []bool{false, true} {
			app := newApp(t, src, reveal)
			status, body := get(t, app, "/sessions/bbbbbbbbbbbb")
			if status != 200 {
				t.Fatalf("status %d", status)
			}
			noRawMarkup(t, body)
			doc := uitest.Parse(t, body)
			pre := doc.One("opaque-preview")
			// Byte values only with reveal; by default the size, format guess and layout.
			if txt := uitest.Text(pre); pre.Data != "pre" || strings.Contains(txt, "80 04 95") != reveal ||
				strings.Contains(txt, "40 bytes, format guess pickle") == reveal {
				t.Errorf("reveal %v: preview %s %q", reveal, pre.Data, txt)
			}
			if doc.Has("payload-tree") {
				t.Error("an opaque payload has no tree")
			}
		}
	})
	t.Run("feed row with hostile session info", func(t *testing.T) {
		app := newApp(t, src, false)
		status, body := get(t, app, "/")
		if status != 200 {
			t.Fatalf("status %d", status)
		}
		noRawMarkup(t, body)
		doc := uitest.Parse(t, body)
		row := doc.One("feed-row")
		if !strings.Contains(uitest.Text(row), xssStrings[0]) {
			t.Errorf("row text %q", uitest.Text(row))
		}
		if fw, _ := uitest.Attr(row, "data-fw"); fw != xssStrings[1] {
			t.Errorf("data-fw %q", fw)
		}
	})
}

// TestUndecidedPairing: a birth the store could not pair reads as "one of these" on
// the Live feed and on its session page, each candidate a ref linking to its session,
// never as a lineage link; a birth without candidates shows no such note.
func TestUndecidedPairing(t *testing.T) {
	t.Parallel()
	t.Run("rendering", func(t *testing.T) {
		src := newFakeSource()
		const bornRef, plainRef, endedRef = "cccccccccccc", "dddddddddddd", "eeeeeeeeeeee"
		var cands []model.SessionInfo
		for i := range 7 {
			// Ids and frameworks are hostile: only refs may reach the page.
			cands = append(cands, model.SessionInfo{Ref: fmt.Sprintf("%012x", i+1), ID: xssStrings[i%len(xssStrings)], Framework: xssStrings[1]})
		}
		publish := func(kind model.Kind, ref string, cands []model.SessionInfo) {
			src.hub.Publish(&model.Event{Type: model.TypeEvent, Time: time.Now(), Kind: kind, Backend: "redis",
				Session: &model.SessionInfo{Ref: ref, ID: "new…" + ref[:2], Framework: "laravel"}, Candidates: cands})
		}
		publish(model.KindCreated, bornRef, cands)
		publish(model.KindCreated, plainRef, nil)
		publish(model.KindCreated, endedRef, cands[:1])
		publish(model.KindDestroyed, endedRef, nil)
		src.addSession(tracker.SessionRow{Ref: bornRef, ID: "new…cc", Framework: "laravel"}, tracker.SessionDetail{})
		src.addSession(tracker.SessionRow{Ref: plainRef, ID: "new…dd", Framework: "laravel"}, tracker.SessionDetail{})
		app := newApp(t, src, false)

		status, body := get(t, app, "/")
		if status != 200 {
			t.Fatalf("live: status %d", status)
		}
		noRawMarkup(t, body)
		rows := map[string]*htmlNode{}
		for _, r := range uitest.Parse(t, body).ByTestID("feed-row") {
			if kind, _ := uitest.Attr(r, "data-kind"); kind == "created" {
				ref, _ := uitest.Attr(r, "data-ref")
				rows[ref] = r
			}
		}
		note := uitest.ByTestID(rows[bornRef], "feed-candidates")
		if len(note) != 1 {
			t.Fatalf("row with candidates has %d notes: %q", len(note), uitest.Text(rows[bornRef]))
		}
		wantCandidates(t, note[0], "feed-candidate", "maybe from one of 7: 000000000001, 000000000002, 000000000003, 000000000004, 000000000005 and 2 more",
			[]string{"000000000001", "000000000002", "000000000003", "000000000004", "000000000005"})
		if title, _ := uitest.Attr(note[0], "title"); !strings.Contains(title, "cannot tell which") || !strings.Contains(title, "--proxy-to") {
			t.Errorf("note title %q", title)
		}
		if n := uitest.ByTestID(rows[plainRef], "feed-candidates"); len(n) != 0 || strings.Contains(uitest.Text(rows[plainRef]), "maybe") {
			t.Errorf("row without candidates has a note: %q", uitest.Text(rows[plainRef]))
		}
		if txt := uitest.Text(rows[endedRef]); !strings.Contains(txt, "maybe from 000000000001") || strings.Contains(txt, "one of") {
			t.Errorf("one candidate: %q", txt)
		}

		for _, tc := range []struct{ name, ref, lead string }{
			{"tracked session", bornRef, "Born while 7 sessions ended; it may replace one of them:"},
			{"ended session", endedRef, "Born while another session ended; it may replace it:"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				status, body := get(t, app, "/sessions/"+tc.ref)
				if status != 200 {
					t.Fatalf("status %d", status)
				}
				noRawMarkup(t, body)
				doc := uitest.Parse(t, body)
				p := doc.One("lineage-candidates")
				if txt := uitest.Text(p); !strings.HasPrefix(txt, tc.lead) || !strings.Contains(txt, "--proxy-to") {
					t.Errorf("lineage note %q", txt)
				}
				var want []string
				for _, c := range cands {
					want = append(want, c.Ref)
				}
				if tc.ref == endedRef {
					want = want[:1]
				}
				wantCandidates(t, p, "lineage-candidate", "", want)
				if href, _ := uitest.Attr(doc.One("lineage-from"), "href"); href != "#lineage-candidates" {
					t.Errorf("an undecided predecessor must not link to a session: lineage-from href %q", href)
				}
			})
		}
		doc := getPage(t, app, "/sessions/"+plainRef, 200)
		if doc.Has("lineage-candidates") || uitest.Text(doc.One("lineage-from")) != "—" {
			t.Errorf("a session born without candidates shows some: %q", uitest.Text(doc.One("lineage-from")))
		}
	})

	t.Run("two identical sessions end as one is born, against a real Redis", func(t *testing.T) {
		env := uitest.StartInspector(t, uitest.Options{})
		app := newApp(t, env.In, false)
		const (
			aKey   = "PHPREDIS_SESSION:undecided000000000000000000a"
			bKey   = "PHPREDIS_SESSION:undecided000000000000000000b"
			newKey = "PHPREDIS_SESSION:undecided000000000000000000c"
			data   = `user_id|i:7;name|s:3:"ann";`
		)
		aRef, bRef, newRef := uitest.RefOfKey(aKey), uitest.RefOfKey(bKey), uitest.RefOfKey(newKey)
		env.Do(t, "SETEX", aKey, 600, data)
		env.Do(t, "SETEX", bKey, 600, data)
		uitest.WaitFor(t, "both payloads read", func() bool {
			a, err1 := env.In.Session(aRef)
			b, err2 := env.In.Session(bRef)
			return err1 == nil && err2 == nil && a.Payload != nil && b.Payload != nil
		})
		// Both deletions and the birth in one transaction: their notifications arrive
		// back to back, well inside the correlation window however loaded the machine.
		ctx := context.Background()
		pipe := env.RDB.TxPipeline()
		pipe.Del(ctx, aKey)
		pipe.Del(ctx, bKey)
		pipe.SetEx(ctx, newKey, data, 600*time.Second)
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
		var birth *model.Event
		uitest.WaitFor(t, "the birth of "+newRef, func() bool {
			for _, e := range env.In.Events(inspector.EventQuery{Sessions: []string{newRef}}) {
				if e.Session != nil && e.Session.Ref == newRef && (e.Kind == model.KindCreated || e.Kind == model.KindRegenerated) {
					birth = e
					return true
				}
			}
			return false
		})
		// The two predecessors are indistinguishable: linking either is a guess.
		if birth.Kind != model.KindCreated || birth.From != nil {
			t.Fatalf("a tie was linked: %s from %+v (%s)", birth.Kind, birth.From, birth.Evidence)
		}
		var got []string
		for _, c := range birth.Candidates {
			got = append(got, c.Ref)
		}
		if !slices.Contains(got, aRef) || !slices.Contains(got, bRef) {
			t.Fatalf("candidates %v, want both %s and %s", got, aRef, bRef)
		}

		doc := getPage(t, app, "/", 200)
		var row *htmlNode
		for _, r := range doc.ByTestID("feed-row") {
			if ref, _ := uitest.Attr(r, "data-ref"); ref == newRef {
				row = r
			}
		}
		if row == nil {
			t.Fatal("no feed row for the new session")
		}
		note := uitest.ByTestID(row, "feed-candidates")
		if len(note) != 1 {
			t.Fatalf("row %q has no candidates note", uitest.Text(row))
		}
		wantCandidates(t, note[0], "feed-candidate", "", got)
		doc = getPage(t, app, "/sessions/"+newRef, 200)
		wantCandidates(t, doc.One("lineage-candidates"), "lineage-candidate", "", got)
	})
}

// wantCandidates checks a candidates note: its text (when wantText is set) and that
// its links, with data-testid linkID, are exactly refs, each leading to its session.
func wantCandidates(t *testing.T, note *htmlNode, linkID, wantText string, refs []string) {
	t.Helper()
	if txt := uitest.Text(note); wantText != "" && txt != wantText {
		t.Errorf("note %q, want %q", txt, wantText)
	}
	links := uitest.ByTestID(note, linkID)
	if len(links) != len(refs) {
		t.Fatalf("%d candidate links, want %d: %q", len(links), len(refs), uitest.Text(note))
	}
	for i, l := range links {
		href, _ := uitest.Attr(l, "href")
		if uitest.Text(l) != refs[i] || href != "/sessions/"+refs[i] {
			t.Errorf("candidate %d: %q -> %q, want %s", i, uitest.Text(l), href, refs[i])
		}
	}
}
