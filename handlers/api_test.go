package handlers_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/ui/uitest"
)

// fixture is a real Inspector holding sessions with sensitive and hostile payloads.
type fixture struct {
	env                        *uitest.Env
	phpRef, expressRef, newRef string
}

const (
	phpKey     = "PHPREDIS_SESSION:apitest00000000000000000001"
	phpNewKey  = "PHPREDIS_SESSION:apitest00000000000000000002"
	expressKey = "sess:apiexpress000000000000000001"
	noTTLKey   = "sess:apinottl0000000000000000001"
)

// phpPayload has an auth marker, a sensitive key and a hostile value.
const phpPayload = `user_id|i:42;password|s:6:"hunter";name|s:25:"<script>alert(1)</script>";`

// expressPayload has a hostile key, a javascript: URL value and a nested secret.
const expressPayload = `{"cookie":{"path":"/","httpOnly":true},"<img src=x onerror=alert(1)>":"javascript:alert(1)",` +
	`"profile":{"api_key":"k-123","city":"Oslo"},"cart":[1,2]}`

func newFixture(t *testing.T) *fixture {
	t.Helper()
	env := uitest.StartInspector(t, uitest.Options{})
	f := &fixture{env: env, phpRef: uitest.RefOfKey(phpKey), expressRef: uitest.RefOfKey(expressKey), newRef: uitest.RefOfKey(phpNewKey)}
	env.Do(t, "SETEX", phpKey, 600, phpPayload)
	env.Do(t, "SET", expressKey, expressPayload, "EX", 300)
	env.WaitEvent(t, model.KindCreated, f.phpRef)
	env.WaitEvent(t, model.KindCreated, f.expressRef)
	// phpredis regenerate(true): the old key is deleted and the new one written with
	// the same data, which the tracker joins into one regeneration.
	env.Do(t, "DEL", phpKey)
	env.Do(t, "SETEX", phpNewKey, 600, phpPayload)
	env.WaitEvent(t, model.KindRegenerated, f.newRef)
	env.Do(t, "SET", noTTLKey, `{"cookie":{"path":"/"}}`)
	uitest.WaitFor(t, "no-server-expiry finding", func() bool { return len(env.In.Findings()) > 0 })
	uitest.WaitFor(t, "payloads read", func() bool {
		a, err1 := env.In.Session(f.newRef)
		b, err2 := env.In.Session(f.expressRef)
		return err1 == nil && err2 == nil && a.Payload != nil && b.Payload != nil
	})
	return f
}

func TestAPI(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	app := newApp(t, f.env.In, false)

	t.Run("sessions list shape", func(t *testing.T) {
		var raw struct {
			Sessions []map[string]json.RawMessage `json:"sessions"`
			Next     string                       `json:"next"`
			Matched  int                          `json:"matched"`
			Total    int                          `json:"total"`
		}
		getJSON(t, app, "/api/sessions", 200, &raw)
		if raw.Total != 3 || raw.Matched != 3 || len(raw.Sessions) != 3 || raw.Next != "" {
			t.Fatalf("total %d matched %d rows %d next %q", raw.Total, raw.Matched, len(raw.Sessions), raw.Next)
		}
		for _, k := range []string{"type", "ref", "id", "framework", "key_prefix", "format", "ttl_s", "expires_at", "size",
			"born", "last_activity", "authenticated", "from", "to", "inventory"} {
			if _, ok := raw.Sessions[0][k]; !ok {
				t.Errorf("session object has no %q: %v", k, raw.Sessions[0])
			}
		}
	})

	t.Run("search, sort and paging", func(t *testing.T) {
		var page struct {
			Sessions []struct {
				Ref  string `json:"ref"`
				From *string
				TTL  *int64 `json:"ttl_s"`
			} `json:"sessions"`
			Next    string `json:"next"`
			Matched int    `json:"matched"`
		}
		getJSON(t, app, "/api/sessions?q="+url.QueryEscape("fw:php field:user_id"), 200, &page)
		if page.Matched != 1 || page.Sessions[0].Ref != f.newRef || page.Sessions[0].From == nil || *page.Sessions[0].From != f.phpRef {
			t.Fatalf("fw:php search: %+v", page)
		}
		getJSON(t, app, "/api/sessions?sort=ttl&limit=1", 200, &page)
		if len(page.Sessions) != 1 || page.Next == "" || page.Sessions[0].Ref != f.expressRef {
			t.Fatalf("ttl sort, limit 1: %+v", page)
		}
		seen := map[string]bool{page.Sessions[0].Ref: true}
		for cursor := page.Next; cursor != ""; cursor = page.Next {
			page.Sessions = nil
			getJSON(t, app, "/api/sessions?sort=ttl&limit=1&cursor="+url.QueryEscape(cursor), 200, &page)
			for _, s := range page.Sessions {
				seen[s.Ref] = true
			}
		}
		if len(seen) != 3 {
			t.Errorf("paging saw %v", seen)
		}
	})

	t.Run("bad queries say what to fix", func(t *testing.T) {
		for _, tc := range []struct{ target, want string }{
			{"/api/sessions?sort=age", "use activity, ttl or size"},
			{"/api/sessions?cursor=!!", "first page"},
			{"/api/sessions?limit=0", "1 to 1000"},
			{"/api/sessions?limit=x", "1 to 1000"},
			{"/api/events?after=-1", "non-negative"},
			{"/api/events?limit=99999", "0 to 10000"},
		} {
			var e struct{ Error string }
			getJSON(t, app, tc.target, 400, &e)
			if !strings.Contains(e.Error, tc.want) {
				t.Errorf("%s: error %q, want it to mention %q", tc.target, e.Error, tc.want)
			}
		}
	})

	t.Run("session detail", func(t *testing.T) {
		var d struct {
			Ref     string  `json:"ref"`
			From    *string `json:"from"`
			Payload struct {
				Format   string `json:"format"`
				Redacted bool   `json:"redacted"`
				Fields   []struct {
					Key      string `json:"key"`
					Kind     string `json:"kind"`
					Value    any    `json:"value"`
					Redacted bool   `json:"redacted"`
				} `json:"fields"`
			} `json:"payload"`
			Events []struct {
				Type string `json:"type"`
				Kind string `json:"kind"`
			} `json:"events"`
			Findings []any `json:"findings"`
		}
		getJSON(t, app, "/api/sessions/"+f.newRef, 200, &d)
		if d.Ref != f.newRef || d.From == nil || *d.From != f.phpRef || !d.Payload.Redacted || d.Payload.Format != "php" {
			t.Fatalf("detail: %+v", d)
		}
		got := map[string]string{}
		for _, fl := range d.Payload.Fields {
			if fl.Redacted {
				got[fl.Key] = "REDACTED"
			} else {
				got[fl.Key] = fmt.Sprint(fl.Value)
			}
		}
		want := map[string]string{"user_id": "42", "password": "REDACTED", "name": "<script>alert(1)</script>"}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("field %s = %q, want %q (all %v)", k, got[k], v, got)
			}
		}
		if len(d.Events) == 0 || d.Events[0].Type != "event" || d.Events[0].Kind != "regenerated" || d.Findings == nil {
			t.Errorf("events %+v findings %v", d.Events, d.Findings)
		}
	})

	t.Run("unknown ref is a 404 JSON", func(t *testing.T) {
		for _, ref := range []string{"000000000000", "not-a-ref", "<script>"} {
			var e struct{ Error string }
			getJSON(t, app, "/api/sessions/"+url.PathEscape(ref), 404, &e)
			if !strings.Contains(e.Error, "no") {
				t.Errorf("%s: %q", ref, e.Error)
			}
		}
	})

	t.Run("events", func(t *testing.T) {
		var ev struct {
			Objects  []map[string]any `json:"objects"`
			Complete bool             `json:"complete"`
			Seq      uint64           `json:"seq"`
		}
		getJSON(t, app, "/api/events?after=0", 200, &ev)
		if !ev.Complete || ev.Seq == 0 || len(ev.Objects) == 0 {
			t.Fatalf("events: complete %v seq %d objects %d", ev.Complete, ev.Seq, len(ev.Objects))
		}
		kinds := map[string]bool{}
		for _, o := range ev.Objects {
			if o["type"] == "event" {
				kinds[o["kind"].(string)] = true
			}
		}
		if !kinds["created"] || !kinds["regenerated"] {
			t.Errorf("kinds %v", kinds)
		}
		getJSON(t, app, "/api/events?after=0&limit=2", 200, &ev)
		if len(ev.Objects) != 2 {
			t.Errorf("limit 2 gave %d", len(ev.Objects))
		}
		getJSON(t, app, "/api/events?tail=1", 200, &ev)
		if len(ev.Objects) != 1 {
			t.Errorf("tail 1 gave %d", len(ev.Objects))
		}
		getJSON(t, app, "/api/events?after=99999999", 200, &ev)
		if ev.Complete {
			t.Errorf("a seq beyond the last one must ask for a refresh")
		}
	})

	t.Run("findings and status", func(t *testing.T) {
		var fs struct {
			Findings []struct {
				Type     string   `json:"type"`
				Rule     string   `json:"rule"`
				Sessions []string `json:"sessions"`
			} `json:"findings"`
		}
		getJSON(t, app, "/api/findings", 200, &fs)
		if len(fs.Findings) == 0 || fs.Findings[0].Type != "finding" || fs.Findings[0].Rule != "no-server-expiry" {
			t.Errorf("findings %+v", fs)
		}
		var st struct {
			Backend  string `json:"backend"`
			Describe string `json:"describe"`
			Last     struct {
				Type  string `json:"type"`
				State string `json:"state"`
			} `json:"last"`
			Sessions int `json:"sessions"`
		}
		getJSON(t, app, "/api/status", 200, &st)
		if st.Backend != "redis" || !strings.Contains(st.Describe, f.env.Srv.Addr) || st.Last.State != "live" || st.Sessions != 3 {
			t.Errorf("status %+v", st)
		}
	})
}
