package handlers_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/sessionscope/sessionscope/inspector/traffic/traffictest"
	"github.com/sessionscope/sessionscope/ui/uitest"
)

// TestFrameworkPayloadsPHPNode: Symfony's, fastify's and koa's real session layers.
// fastify shares express-session's sess: prefix, so its payload must decide the name;
// koa-redis keeps sessions under bare UUIDs, which only a --prefix koa= describes.
func TestFrameworkPayloadsPHPNode(t *testing.T) {
	for name, fc := range map[string]frameworkCase{
		"symfony": {start: traffictest.StartSymfony, name: "symfony", authField: "_security_main", loginStatus: http.StatusFound},
		"fastify": {start: traffictest.StartFastify, name: "fastify", authField: "userId", loginStatus: http.StatusFound},
		"koa":     {start: traffictest.StartKoa, name: "koa", prefixes: []string{"koa="}, authField: "user", loginStatus: http.StatusFound},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			checkFrameworkPayloads(t, fc)
		})
	}
}

// TestSymfonyTokenPasswordHidden: Symfony's firewall keeps serialize($token) under
// _security_main, and the token holds the user object with its password hash. The
// token must be shown decoded, its user's password redacted like any field named
// so, and the hash nowhere on the dashboard nor findable by search.
func TestSymfonyTokenPasswordHidden(t *testing.T) {
	t.Parallel()
	env := uitest.StartInspector(t, uitest.Options{})
	app := traffictest.StartSymfony(t, env.Srv.Addr)
	if app == nil {
		return // skipped: Symfony is not installed
	}
	web := redactionApp(t, env.In, false)
	c := app.NewClient()
	if r, err := c.Get("/?cart=3"); err != nil || r.Status != http.StatusOK {
		t.Fatalf("GET /?cart=3: %v %+v", err, r)
	}
	if r, err := c.PostForm("/login", url.Values{"user": {"alice"}}); err != nil || r.Status != http.StatusFound {
		t.Fatalf("POST /login: %v %+v", err, r)
	}
	ref := sessionRef(t, env, app, c)

	var got struct {
		Authenticated bool `json:"authenticated"`
		Payload       *struct {
			Fields []payloadFieldJSON `json:"fields"`
		} `json:"payload"`
	}
	uitest.WaitFor(t, "the logged-in Symfony session, authenticated", func() bool {
		got.Authenticated, got.Payload = false, nil
		status, body := get(t, web, "/api/sessions/"+ref)
		return status == http.StatusOK && json.Unmarshal(body, &got) == nil && got.Authenticated && got.Payload != nil
	})
	token := findPayloadField(got.Payload.Fields, "_security_main")
	if token == nil {
		t.Fatalf("no _security_main field in %+v", got.Payload.Fields)
	}
	if !strings.HasSuffix(token.Class, `\UsernamePasswordToken`) {
		t.Errorf("_security_main is a %s of class %q, want the decoded UsernamePasswordToken", token.Kind, token.Class)
	}
	// UsernamePasswordToken::__serialize: [credentials, firewall, [user, ...]].
	if pw := findPayloadField(token.Children, "2", "0", "password"); pw == nil || !pw.Redacted || len(pw.Value) != 0 {
		t.Errorf("the token's user password is not a redacted field: %+v", pw)
	}

	hashTail := traffictest.SymfonyPasswordHash[len("$2y$13$"):]
	for _, target := range []string{"/api/sessions/" + ref, "/sessions/" + ref, "/api/sessions", "/api/sessions?q=" + url.QueryEscape("field:_security_main")} {
		status, body := get(t, web, target)
		if status != http.StatusOK {
			t.Errorf("GET %s: status %d", target, status)
		}
		if strings.Contains(string(body), hashTail) {
			t.Errorf("GET %s shows the user's password hash:\n%s", target, body)
		}
	}
	var page struct {
		Matched int `json:"matched"`
	}
	getJSON(t, web, "/api/sessions?q="+url.QueryEscape(hashTail[:20]), http.StatusOK, &page)
	if page.Matched != 0 {
		t.Errorf("a search for part of the password hash matched %d sessions, want 0", page.Matched)
	}
}

// payloadFieldJSON is one payload field of /api/sessions/REF, with its children.
type payloadFieldJSON struct {
	Key      string             `json:"key"`
	Kind     string             `json:"kind"`
	Class    string             `json:"class"`
	Value    json.RawMessage    `json:"value"`
	Redacted bool               `json:"redacted"`
	Children []payloadFieldJSON `json:"children"`
}

// findPayloadField follows path through the fields' children, or returns nil.
func findPayloadField(fields []payloadFieldJSON, path ...string) *payloadFieldJSON {
	for i := range fields {
		if fields[i].Key != path[0] {
			continue
		}
		if len(path) == 1 {
			return &fields[i]
		}
		return findPayloadField(fields[i].Children, path[1:]...)
	}
	return nil
}
