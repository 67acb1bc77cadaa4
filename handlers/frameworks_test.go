package handlers_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/traffic/traffictest"
	"github.com/sessionscope/sessionscope/ui/uitest"
)

// frameworkCase is one real framework whose sessions sessionscope must name, decode,
// see logged in and redact. Every app it starts serves the same flow:
//
//	GET  /?cart=3   an anonymous session
//	POST /login     form user=alice&api_token=SECRET: logs alice in and keeps the
//	                token in the session under the name api_token
//	POST /logout    logs out
//
// with its sessions in the Redis at the address it is given.
type frameworkCase struct {
	start func(t testing.TB, redisAddr string) *traffictest.App
	// prefixes are --prefix values the user gives for this app ("django=session:");
	// none: the builtin table alone must know it.
	prefixes []string
	name     string // the framework sessionscope must name
	// authField is a field of the decoded payload that only a logged-in session
	// holds (Django's _auth_user_id), "" to check only that authenticated flips.
	authField string
	// loginStatus is what POST /login answers (a redirect, mostly).
	loginStatus int
}

// checkFrameworkPayloads runs the flow against the app with sessionscope watching
// its Redis, and holds the logged-in session against what a user must see:
//   - the framework named right, the payload decoded (not opaque), authenticated;
//   - the secret the app keeps under api_token absent from the API object, the
//     sessions list, the session's page and its JSON, as text;
//   - field:api_token=SECRET matching nothing (a name may be searched, a redacted
//     value may not);
//   - after the logout, the logged-in session destroyed, and any session the
//     browser then holds not authenticated.
func checkFrameworkPayloads(t *testing.T, fc frameworkCase) {
	t.Helper()
	var fws []framework.Framework
	if len(fc.prefixes) > 0 {
		fws = framework.Builtin()
		for _, p := range fc.prefixes {
			fw, err := framework.ParsePrefix(p)
			if err != nil {
				t.Fatalf("--prefix %s: %v", p, err)
			}
			fws = append(fws, fw)
		}
	}
	env := uitest.StartInspector(t, uitest.Options{Frameworks: fws})
	app := fc.start(t, env.Srv.Addr)
	if app == nil {
		return // skipped: the framework is not installed
	}
	web := redactionApp(t, env.In, false)
	c := app.NewClient()
	const secret = "tok-Zq81-SECRET-7c4e"
	if r, err := c.Get("/?cart=3"); err != nil || r.Status != http.StatusOK {
		t.Fatalf("GET /?cart=3: %v %+v", err, r)
	}
	r, err := c.PostForm("/login", url.Values{"user": {"alice"}, "api_token": {secret}})
	if err != nil {
		t.Fatalf("POST /login: %v", err)
	}
	if want := fc.loginStatus; want != 0 && r.Status != want {
		t.Fatalf("POST /login answered %d %q, want %d", r.Status, r.Body, want)
	}
	ref := sessionRef(t, env, app, c)

	// The login is seen: the payload read, decoded and marked authenticated.
	var got sessionJSON
	uitest.WaitFor(t, "the logged-in session's payload, authenticated", func() bool {
		got = sessionJSON{}
		status, body := get(t, web, "/api/sessions/"+ref)
		return status == http.StatusOK && json.Unmarshal(body, &got) == nil && got.Authenticated && got.Payload != nil
	})
	if got.Framework != fc.name {
		t.Errorf("framework %q, want %q", got.Framework, fc.name)
	}
	if got.Payload.Opaque != nil || got.Format == "" || got.Format == "opaque" {
		t.Errorf("payload not decoded: format %q, opaque %s", got.Format, got.Payload.Opaque)
	}
	names := map[string]bool{}
	for _, f := range got.Payload.Fields {
		names[f.Key] = true
		if f.Key == "api_token" && !f.Redacted {
			t.Errorf("api_token is not marked redacted")
		}
	}
	for _, want := range []string{"api_token", fc.authField} {
		if want != "" && !names[want] {
			t.Errorf("decoded payload lacks the field %q; fields %v", want, names)
		}
	}

	// No secret anywhere the dashboard shows it.
	for _, target := range []string{"/api/sessions/" + ref, "/sessions/" + ref, "/api/sessions", "/api/sessions?q=" + url.QueryEscape("field:api_token")} {
		status, body := get(t, web, target)
		if status != http.StatusOK {
			t.Errorf("GET %s: status %d", target, status)
		}
		if strings.Contains(string(body), secret) || strings.Contains(string(body), "SECRET-7c4e") {
			t.Errorf("GET %s shows the secret api_token:\n%s", target, body)
		}
	}
	for _, q := range []struct {
		q    string
		want int
	}{{"field:api_token", 1}, {"field:api_token=" + secret, 0}, {"field:api_token=tok", 0}, {"SECRET", 0}} {
		var page struct {
			Matched int `json:"matched"`
		}
		getJSON(t, web, "/api/sessions?q="+url.QueryEscape(q.q), http.StatusOK, &page)
		if page.Matched != q.want {
			t.Errorf("search %s matched %d sessions, want %d", q.q, page.Matched, q.want)
		}
	}

	// The logout ends the logged-in session; what the browser holds next is anonymous.
	if _, err := c.PostForm("/logout", url.Values{}); err != nil {
		t.Fatalf("POST /logout: %v", err)
	}
	env.WaitEvent(t, model.KindDestroyed, ref)
	if ck := c.Cookie(app.CookieName); ck != nil && ck.Value != "" {
		if key, err := app.SessionKey(ck.Value); err == nil && env.RDB.Exists(t.Context(), key).Val() == 1 {
			after := refOf(t, env, key)
			var a sessionJSON
			uitest.WaitFor(t, "the session after the logout, read", func() bool {
				a = sessionJSON{}
				status, body := get(t, web, "/api/sessions/"+after)
				return status == http.StatusOK && json.Unmarshal(body, &a) == nil && a.Payload != nil
			})
			if a.Authenticated {
				t.Errorf("the session after the logout (%s) is authenticated", after)
			}
		}
	}
}

// sessionJSON is the part of /api/sessions/REF the checks read.
type sessionJSON struct {
	Framework     string `json:"framework"`
	Format        string `json:"format"`
	Authenticated bool   `json:"authenticated"`
	Payload       *struct {
		Opaque json.RawMessage `json:"opaque"`
		Fields []struct {
			Key      string `json:"key"`
			Redacted bool   `json:"redacted"`
		} `json:"fields"`
	} `json:"payload"`
}

// sessionRef is the ref of the session the client's cookie points to.
func sessionRef(t *testing.T, env *uitest.Env, app *traffictest.App, c *traffictest.Client) string {
	t.Helper()
	ck := c.Cookie(app.CookieName)
	if ck == nil {
		t.Fatalf("no %s cookie after the login", app.CookieName)
	}
	key, err := app.SessionKey(ck.Value)
	if err != nil {
		t.Fatal(err)
	}
	return refOf(t, env, key)
}

func refOf(t *testing.T, env *uitest.Env, key string) string {
	t.Helper()
	m, ok := env.Matcher.Match(key)
	if !ok {
		t.Fatalf("%s is no session key to sessionscope", key)
	}
	return model.Ref(m.StoreID)
}

// TestFrameworkPayloads: Laravel's, Rack's and express-session's real session layers.
func TestFrameworkPayloads(t *testing.T) {
	startExpress := func(t testing.TB, redisAddr string) *traffictest.App {
		return traffictest.StartNode(t, "redis://"+redisAddr)
	}
	for name, fc := range map[string]frameworkCase{
		"express": {start: startExpress, name: "express", authField: "user", loginStatus: http.StatusFound},
		"laravel": {start: traffictest.StartLaravel, name: "laravel", loginStatus: http.StatusFound},
		"rack":    {start: traffictest.StartRack, name: "rails", authField: "warden.user.user.key", loginStatus: http.StatusFound},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			checkFrameworkPayloads(t, fc)
		})
	}
}
