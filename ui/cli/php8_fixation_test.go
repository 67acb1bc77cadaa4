package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/sessionscope/sessionscope/inspector/backend/redisstore/redistest"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/traffic/traffictest"
	"github.com/sessionscope/sessionscope/ui/uitest"
)

// sessionRefOf is the ref sessionscope shows for a PHP session id (its store id).
func sessionRefOf(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:6])
}

// phpSessionID returns the PHPSESSID the client's jar holds for host.
func phpSessionID(t *testing.T, c *php8Case, cl *http.Client, host string) string {
	t.Helper()
	u, _ := url.Parse(c.URL(host, "/"))
	for _, ck := range cl.Jar.Cookies(u) {
		if ck.Name == "PHPSESSID" {
			return ck.Value
		}
	}
	t.Fatalf("the client holds no PHPSESSID for %s", host)
	return ""
}

// waitFixation waits until watch prints a fixation finding that cites ref: a login
// is decided only once a regeneration could no longer follow it.
func waitFixation(c *php8Case, ref string) {
	c.t.Helper()
	c.W.waitFor("a fixation finding citing "+ref, func(l line) bool {
		if l.Type != model.TypeFinding || l.Rule != "fixation" {
			return false
		}
		for _, s := range l.Sessions {
			if s == ref {
				return true
			}
		}
		return false
	})
}

// get and postLogin drive the app at curl speed: each returns once the response is in.
func get(t *testing.T, cl *http.Client, u string) *http.Response {
	t.Helper()
	resp, err := cl.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	resp.Body.Close()
	return resp
}

func postLogin(t *testing.T, cl *http.Client, u string) *http.Response {
	t.Helper()
	resp, err := cl.PostForm(u, url.Values{"user": {"ada"}})
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	resp.Body.Close()
	return resp
}

// TestPHP8FixationFastLogin: the login form's POST follows the GET that created the
// session at once (autofill, an e2e test), and the login keeps the id: fixation, live
// (the store shows the session gain the user) and from the HAR alone (the login's
// response did not replace the cookie, and the dashboard was served with it). The
// fixed twin (php8/healthy, which regenerates) at the same speed: no finding.
// Driven at curl speed by the HTTP client, and by Chromium clicking the form as soon
// as it has loaded.
func TestPHP8FixationFastLogin(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		app      string
		fixed    bool
		chromium bool
	}{{"fixation_fast", false, false}, {"healthy", true, false}, {"fixation_fast", false, true}, {"healthy", true, true}} {
		name := tc.app + "/client"
		if tc.chromium {
			name = tc.app + "/chromium"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := startPHP8(t, tc.app)
			var before, after, landed string
			if tc.chromium {
				b := c.Browser()
				b.Navigate(c.URL("shop", "/index.php"))
				before = b.Cookies(c.URL("shop", "/"))["PHPSESSID"]
				if resp := b.Load(chromedp.Click(chromedp.CSS(`button`))); resp != nil {
					landed = resp.URL
				}
				after = b.Cookies(c.URL("shop", "/"))["PHPSESSID"]
			} else {
				cl := c.Client()
				get(t, cl, c.URL("shop", "/index.php"))
				before = phpSessionID(t, c, cl, "shop")
				if resp := postLogin(t, cl, c.URL("shop", "/login.php")); resp.StatusCode == 200 {
					landed = resp.Request.URL.String()
				}
				after = phpSessionID(t, c, cl, "shop")
			}
			if !strings.HasSuffix(landed, "/dashboard.php") || before == "" {
				t.Fatalf("the login landed on %q (session before it %q), want the dashboard", landed, before)
			}
			if tc.fixed {
				if after == before {
					t.Fatal("the fixed twin kept the id at login")
				}
				c.W.waitFor("the login's session", func(l line) bool {
					return l.Type == model.TypeEvent && (l.Kind == model.KindRegenerated || l.Kind == model.KindCreated) &&
						l.Session != nil && l.Session.Ref == sessionRefOf(after)
				})
				noFindings(t, "live", c.Stop())
				noFindings(t, "analyze", c.Analyze())
				return
			}
			if after != before {
				t.Fatalf("the broken login changed the id")
			}
			waitFixation(c, sessionRefOf(before))
			live := findingOf(t, "live", "fixation", c.Stop())
			if len(live.Sessions) != 1 || live.Sessions[0] != sessionRefOf(before) {
				t.Errorf("live fixation cites %v, want the pre-login session %s", live.Sessions, sessionRefOf(before))
			}
			checkHTTPFixation(t, c.Analyze(), sessionRefOf(before))
		})
	}
}

// checkHTTPFixation: from the HAR alone, the login that kept the session cookie is
// the one finding, fixation, citing the session.
func checkHTTPFixation(t *testing.T, har []model.Finding, ref string) {
	t.Helper()
	f := findingOf(t, "analyze", "fixation", har)
	if len(har) != 1 {
		t.Errorf("analyze: want only the fixation finding:\n%s", describeFindings(har))
	}
	if !slices.Contains(f.Sessions, ref) || !strings.Contains(f.Detail, "its response did not replace it") {
		t.Errorf("analyze: fixation cites %v (want %s): %s", f.Sessions, ref, f.Detail)
	}
}

// plantedID is the id evil.php (evil.shop.localhost) sets for all of shop.localhost.
const plantedID = "attackerchosen0123456789ab"

// TestPHP8FixationPlantedBySubdomain: evil.shop.localhost, served through the same
// proxy, plants PHPSESSID with Domain=shop.localhost; the shop (strict mode off)
// adopts it and the login keeps it. The id went through the proxy in a response, but
// of another host: it is still not one the shop issued. The fixed twin (strict mode
// on, a login that regenerates) refuses the planted id.
func TestPHP8FixationPlantedBySubdomain(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		app   string
		ini   []string
		fixed bool
	}{{"fixation_planted", []string{"session.use_strict_mode=0"}, false}, {"fixation_planted_fixed", nil, true}} {
		t.Run(tc.app, func(t *testing.T) {
			t.Parallel()
			c := startPHP8(t, tc.app, tc.ini...)
			cl := c.Client()
			get(t, cl, c.URL("evil.shop", "/evil.php"))
			get(t, cl, c.URL("shop", "/index.php"))
			postLogin(t, cl, c.URL("shop", "/login.php"))
			if tc.fixed {
				// The jar holds both the planted cookie and the shop's own.
				var own string
				u, _ := url.Parse(c.URL("shop", "/"))
				for _, ck := range cl.Jar.Cookies(u) {
					if ck.Name == "PHPSESSID" && ck.Value != plantedID {
						own = ck.Value
					}
				}
				c.W.waitFor("the login's session", func(l line) bool {
					return l.Type == model.TypeEvent && (l.Kind == model.KindCreated || l.Kind == model.KindRegenerated) &&
						l.Session != nil && l.Session.Ref == sessionRefOf(own)
				})
				noFindings(t, "live", withoutTosserFlags(c.Stop()))
				noFindings(t, "analyze", withoutTosserFlags(c.Analyze()))
				return
			}
			planted := sessionRefOf(plantedID)
			created := c.W.waitFor("the planted session's creation", func(l line) bool {
				return l.Type == model.TypeEvent && l.Kind == model.KindCreated && l.Session != nil && l.Session.Ref == planted
			})
			c.W.waitFor("the adopted id", func(l line) bool {
				return l.Type == model.TypeFinding && l.Rule == "fixation" && strings.Contains(l.raw, "created a session under that id")
			})
			// The login that kept the id is seen against the session's first payload.
			// On a loaded machine the read of the creation can come after the login's
			// write in the same request (payload_unread: superseded): then the login
			// has no baseline and the adopted id is the finding that remains.
			baseline := created.PayloadUnread != model.UnreadSuperseded
			if baseline {
				c.W.waitFor("the login on the planted id", func(l line) bool {
					return l.Type == model.TypeFinding && l.Rule == "fixation" && strings.Contains(l.raw, "gained authentication data")
				})
			}
			live := c.Stop()
			var adopted, login bool
			for _, f := range live {
				if f.Rule != "fixation" || len(f.Sessions) != 1 || f.Sessions[0] != planted {
					continue
				}
				adopted = adopted || strings.Contains(f.Detail, "evil.shop.localhost") && strings.Contains(f.Detail, "created a session under that id")
				login = login || strings.Contains(f.Detail, "gained authentication data")
			}
			if !adopted || baseline && !login {
				t.Errorf("live: want the planted id adopted (set by evil.shop.localhost) and the login that kept it; findings:\n%s", describeFindings(live))
			}
		})
	}
}

// TestPHP8RegenerateFalseEmptySession: a login that calls session_regenerate_id(false)
// after a page that started the session and wrote nothing into it. The store shows
// the old key kept, empty, and the user written only under a new id the login's
// response issued. Whoever knew the old id holds an empty, anonymous session: the
// logged-in session's id was known to no one before the login, so this is no
// fixation, and the old key holds nothing to leak. No finding, live or from the HAR.
func TestPHP8RegenerateFalseEmptySession(t *testing.T) {
	t.Parallel()
	c := startPHP8(t, "fixation_regen_false")
	cl := c.Client()
	get(t, cl, c.URL("shop", "/index.php"))
	before := phpSessionID(t, c, cl, "shop")
	if resp := postLogin(t, cl, c.URL("shop", "/login.php")); resp.Request.URL.Path != "/dashboard.php" || resp.StatusCode != 200 {
		t.Fatalf("the login landed on %s (%d), want the dashboard", resp.Request.URL, resp.StatusCode)
	}
	after := phpSessionID(t, c, cl, "shop")
	if after == before {
		t.Fatal("regenerate(false) kept the id")
	}
	if got := c.Redis.Do(t, "EXISTS", "PHPREDIS_SESSION:"+before); got != "1" {
		t.Fatalf("the old key is gone (EXISTS %q): regenerate(false) should keep it", got)
	}
	if got := c.Redis.Do(t, "GET", "PHPREDIS_SESSION:"+before); got != "" {
		t.Fatalf("the old key holds %q, want the empty pre-login session", got)
	}
	c.W.waitFor("the login's session", func(l line) bool {
		return l.Type == model.TypeEvent && l.Kind == model.KindCreated && l.Session != nil && l.Session.Ref == sessionRefOf(after)
	})
	noFindings(t, "live", c.Stop())
	noFindings(t, "analyze", c.Analyze())
}

// TestPHP8PreferencesUnderUserAreNoLogin: an anonymous page that keeps preferences in
// $_SESSION['user'] (a map of settings) is not a login: no finding. A login of the
// same app that keeps who logged in under the same name (a map with an id) and keeps
// the id is still seen: fixation, live and from the HAR.
func TestPHP8PreferencesUnderUserAreNoLogin(t *testing.T) {
	t.Parallel()
	for _, login := range []bool{false, true} {
		name := "preferences"
		if login {
			name = "preferences_then_login"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := startPHP8(t, "prefs_user")
			cl := c.Client()
			get(t, cl, c.URL("shop", "/index.php"))
			id := phpSessionID(t, c, cl, "shop")
			get(t, cl, c.URL("shop", "/preferences.php?theme=light"))
			c.W.waitFor("the preferences write", func(l line) bool {
				return l.Type == model.TypeEvent && l.Kind == model.KindUpdated && l.Session != nil &&
					l.Session.Ref == sessionRefOf(id) && l.PayloadUnread == ""
			})
			if !login {
				noFindings(t, "live", c.Stop())
				noFindings(t, "analyze", c.Analyze())
				return
			}
			if resp := postLogin(t, cl, c.URL("shop", "/login.php")); resp.Request.URL.Path != "/dashboard.php" {
				t.Fatalf("the login landed on %s, want the dashboard", resp.Request.URL)
			}
			waitFixation(c, sessionRefOf(id))
			live := findingOf(t, "live", "fixation", c.Stop())
			if len(live.Sessions) != 1 || live.Sessions[0] != sessionRefOf(id) {
				t.Errorf("live fixation cites %v, want the session that logged in, %s", live.Sessions, sessionRefOf(id))
			}
			checkHTTPFixation(t, c.Analyze(), sessionRefOf(id))
		})
	}
}

// startPHP8Late is startPHP8 with a step run against the app directly (not through the
// proxy) before watch starts: what happened before sessionscope started.
func startPHP8Late(t *testing.T, app string, before func(appURL string, redis *redistest.Server), ini ...string) *php8Case {
	t.Helper()
	ini = append(append([]string(nil), php8Hardened...), ini...)
	srv := redistest.Start(t, redistest.Options{})
	port, err := redistest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	a := traffictest.StartPHPApp(t, filepath.Join("php8", app), srv.Addr, ini...)
	before(a.BaseURL, srv)
	c := &php8Case{t: t, Port: port, Redis: srv, App: a, Base: fmt.Sprintf("http://shop.localhost:%d", port),
		HAR: filepath.Join(t.TempDir(), "proxy.har")}
	c.W = startWatch(t, "--redis", srv.URL(), "--proxy-to", a.BaseURL,
		"--proxy-listen", fmt.Sprintf("127.0.0.1:%d", port), "--har-out", c.HAR)
	c.W.waitLive()
	return c
}

// TestPHP8AdoptedIDIssuedBeforeWatch: the shop issued an id before sessionscope
// started, the store lost it since (it expired), and the browser comes back with it.
// The shop without strict mode recreates the session under it: adopted, but
// sessionscope cannot know the id was never issued, only that it did not see it
// issued. The fixed twin (strict mode on) issues a new id instead: no finding.
func TestPHP8AdoptedIDIssuedBeforeWatch(t *testing.T) {
	t.Parallel()
	for _, strict := range []bool{false, true} {
		name := "no_strict_mode"
		if strict {
			name = "strict_mode"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var id string
			c := startPHP8Late(t, "fixation_fast", func(appURL string, redis *redistest.Server) {
				resp, err := http.Get(appURL + "/index.php")
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				for _, ck := range resp.Cookies() {
					if ck.Name == "PHPSESSID" {
						id = ck.Value
					}
				}
				if id == "" {
					t.Fatal("the app issued no PHPSESSID")
				}
				// PHP writes the session after the response went out: wait for it, then
				// let it expire in the store while the browser keeps its cookie.
				uitest.WaitFor(t, "the issued session in the store", func() bool {
					return redis.Do(t, "EXISTS", "PHPREDIS_SESSION:"+id) == "1"
				})
				if got := redis.Do(t, "DEL", "PHPREDIS_SESSION:"+id); got != "1" {
					t.Fatalf("DEL the issued session: %q, want 1", got)
				}
			}, fmt.Sprintf("session.use_strict_mode=%d", map[bool]int{false: 0, true: 1}[strict]))
			req, _ := http.NewRequest(http.MethodGet, c.URL("shop", "/index.php"), nil)
			req.AddCookie(&http.Cookie{Name: "PHPSESSID", Value: id})
			resp, err := c.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			c.W.waitFor("the session the request created", func(l line) bool {
				return l.Type == model.TypeEvent && l.Kind == model.KindCreated
			})
			if strict {
				noFindings(t, "live", c.Stop())
				noFindings(t, "analyze", c.Analyze())
				return
			}
			waitFixation(c, sessionRefOf(id))
			f := findingOf(t, "live", "fixation", c.Stop())
			if len(f.Sessions) != 1 || f.Sessions[0] != sessionRefOf(id) {
				t.Errorf("fixation cites %v, want the recreated session %s", f.Sessions, sessionRefOf(id))
			}
			if !strings.Contains(f.Detail, "not seen issued") || strings.Contains(f.Title+f.Detail, "never issued") {
				t.Errorf("an id issued before sessionscope started must be \"not seen issued\", never \"never issued\": %s | %s", f.Title, f.Detail)
			}
		})
	}
}
