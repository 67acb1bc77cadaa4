package handlers_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/sessionscope/sessionscope/assets"
	"github.com/sessionscope/sessionscope/handlers"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/tracker"
	"github.com/sessionscope/sessionscope/ui/uitest"
)

const (
	secretsKey = "sess:redaction000000000000000001"
	opaqueKey  = "sess:redaction000000000000000002"
)

// secretsPayload holds one value under each kind of sensitive name, spelt the ways
// apps spell them, next to plain values that stay readable.
const secretsPayload = `{"cookie":{"path":"/"},"apiKey":"v-apikey-01","API-KEY":"v-apikey-02","passphrase":"v-pass-03",` +
	`"PIN":"v-pin-04","private_key":"v-privkey-05","jwt":"v-jwt-06","cvv":"v-cvv-07","otp":"v-otp-08",` +
	`"sessionKey":"v-sesskey-09","password":"v-password-10","user":{"name":"ada","refreshToken":"v-refresh-11",` +
	`"clientSecret":"v-client-12","city":"Oslo"},"motherMaiden":"v-maiden-13","shipping":"v-plain-ship"}`

// opaquePayload is not JSON, so it stays undecoded; it holds a CSRF token and a
// password the way a pickled Flask session does.
const opaquePayload = "\x80\x04\x95\x50\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\ncsrf_token\x94\x8c(079dc00f4138d764343\x94" +
	"\x8c\x08password\x94\x8c\x13Pa55-w0rd-SECRET-42\x94u."

func redactionApp(t *testing.T, src handlers.Source, reveal bool, extra ...string) *echo.Echo {
	t.Helper()
	set, err := assets.New()
	if err != nil {
		t.Fatal(err)
	}
	h := handlers.New(handlers.Deps{Src: src, Asset: set.URL, RevealValues: reveal, Redact: model.NewRedaction(extra)})
	e := echo.New()
	e.GET("/sessions/:ref", h.SessionShow)
	e.GET("/api/sessions", h.APISessions)
	e.GET("/api/sessions/:ref", h.APISession)
	return e
}

func startRedactionEnv(t *testing.T, cfg tracker.Config) *uitest.Env {
	t.Helper()
	env := uitest.StartInspector(t, uitest.Options{Tracker: cfg})
	env.Do(t, "SET", secretsKey, secretsPayload, "EX", 600)
	env.Do(t, "SET", opaqueKey, opaquePayload, "EX", 600)
	for _, key := range []string{secretsKey, opaqueKey} {
		ref := uitest.RefOfKey(key)
		env.WaitEvent(t, model.KindCreated, ref)
		uitest.WaitFor(t, "payload of "+key+" read", func() bool {
			d, err := env.In.Session(ref)
			return err == nil && d.Payload != nil
		})
	}
	return env
}

// TestRedactionEverywhere: every sensitive name's value is absent from the session's
// API object and its page, and so are the bytes of an undecoded payload; with
// RevealValues they are all there.
func TestRedactionEverywhere(t *testing.T) {
	t.Parallel()
	env := startRedactionEnv(t, tracker.Config{})
	secrets := []string{"v-apikey-01", "v-apikey-02", "v-pass-03", "v-pin-04", "v-privkey-05", "v-jwt-06", "v-cvv-07",
		"v-otp-08", "v-sesskey-09", "v-password-10", "v-refresh-11", "v-client-12", "v-maiden-13"}
	// The undecoded secrets, as text and as the hex a dump would show.
	opaqueSecrets := []string{"SECRET", "53 45 43 52 45 54", "079dc00f", "30 37 39 64", "csrf_token", "password", "Pa5"}
	for _, tc := range []struct {
		name   string
		reveal bool
	}{{"redacted", false}, {"revealed", true}} {
		t.Run(tc.name, func(t *testing.T) {
			app := redactionApp(t, env.In, tc.reveal, "mother maiden")
			for _, target := range []string{"/api/sessions/", "/sessions/"} {
				_, body := get(t, app, target+uitest.RefOfKey(secretsKey))
				for _, v := range secrets {
					if strings.Contains(string(body), v) == !tc.reveal {
						t.Errorf("%s: %q shown %v with reveal %v", target, v, !tc.reveal, tc.reveal)
					}
				}
				for _, v := range []string{"ada", "Oslo", "v-plain-ship"} {
					if !strings.Contains(string(body), v) {
						t.Errorf("%s: plain value %q missing", target, v)
					}
				}
				_, body = get(t, app, target+uitest.RefOfKey(opaqueKey))
				if !tc.reveal {
					for _, v := range opaqueSecrets {
						if strings.Contains(string(body), v) {
							t.Errorf("%s: undecoded bytes leak %q:\n%s", target, v, body)
						}
					}
					if !strings.Contains(string(body), "byte values hidden") {
						t.Errorf("%s: no outline of the undecoded payload:\n%s", target, body)
					}
				} else if !strings.Contains(string(body), "53 45 43 52 45 54") {
					t.Errorf("%s: revealed preview lacks the bytes:\n%s", target, body)
				}
			}
		})
	}
}

// TestSearchOracleClosed: field:NAME=VALUE never matches on a value the dashboard
// redacts, so no one recovers a password one guess at a time. The same queries match
// with RevealValues, which is what every query did before.
func TestSearchOracleClosed(t *testing.T) {
	t.Parallel()
	type query struct {
		q    string
		want int
	}
	for _, tc := range []struct {
		name    string
		cfg     tracker.Config
		queries []query
	}{
		{"redacted", tracker.Config{}, []query{
			{"field:password=v-password-10", 0},
			{"field:password=v", 0},
			{"field:password=V-PASS", 0},
			{"field:apiKey=v-apikey", 0},
			{"field:API-KEY=v-apikey", 0},
			{"field:user=v-refresh", 0},   // nested under a plain name
			{"field:user=v-client-12", 0}, // nested under a plain name
			{"field:password", 1},         // a name is not a secret
			{"password", 1},
			{"field:user=ada", 1},
			{"field:user=oslo", 1},
			{"field:shipping=v-plain", 1},
			{"field:motherMaiden=v-maiden", 1},
		}},
		{"extra name", tracker.Config{Redact: model.NewRedaction([]string{"mother maiden", "city"})}, []query{
			{"field:motherMaiden=v-maiden", 0},
			{"field:user=oslo", 0},
			{"field:user=ada", 1},
			{"field:password=v-password-10", 0},
		}},
		{"revealed", tracker.Config{RevealValues: true}, []query{
			{"field:password=v-password-10", 1},
			{"field:password=v", 1},
			{"field:apiKey=v-apikey", 1},
			{"field:user=v-refresh", 1},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := startRedactionEnv(t, tc.cfg)
			app := redactionApp(t, env.In, false)
			for _, q := range tc.queries {
				var page struct {
					Matched int `json:"matched"`
				}
				getJSON(t, app, "/api/sessions?q="+url.QueryEscape(q.q), 200, &page)
				if page.Matched != q.want {
					t.Errorf("%s: matched %d, want %d", q.q, page.Matched, q.want)
				}
			}
		})
	}
}
