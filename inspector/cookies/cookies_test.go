package cookies

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

func u(s string) *url.URL { return mustURL(s) }

func TestParseSetCookie(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		check   func(t *testing.T, r Raw)
		wantErr Reason
	}{
		{name: "plain", line: "sid=abc", check: func(t *testing.T, r Raw) {
			if r.Name != "sid" || r.Value != "abc" || r.HasPath || r.HasDomain || r.HasSameSite {
				t.Errorf("%+v", r)
			}
		}},
		{name: "attributes case-insensitive, last wins", line: " sid = a b ; PATH=/x; path=/y; SECURE; httponly; samesite=STRICT; Domain=.Example.com",
			check: func(t *testing.T, r Raw) {
				if r.Name != "sid" || r.Value != "a b" || r.Path != "/y" || !r.Secure || !r.HTTPOnly ||
					r.SameSite != SameSiteStrictMode || r.Domain != ".Example.com" {
					t.Errorf("%+v", r)
				}
			}},
		{name: "quotes kept", line: `q="v"`, check: func(t *testing.T, r Raw) {
			if r.Value != `"v"` {
				t.Errorf("value %q", r.Value)
			}
		}},
		{name: "nameless", line: "justvalue; Path=/", check: func(t *testing.T, r Raw) {
			if r.Name != "" || r.Value != "justvalue" {
				t.Errorf("%+v", r)
			}
		}},
		{name: "invalid SameSite is unspecified but present", line: "a=1; SameSite=Bogus", check: func(t *testing.T, r Raw) {
			if r.SameSite != SameSiteUnspecified || !r.HasSameSite || r.SameSiteRaw != "Bogus" {
				t.Errorf("%+v", r)
			}
		}},
		{name: "Max-Age parsed, bad one ignored", line: "a=1; Max-Age=60; Max-Age=1x", check: func(t *testing.T, r Raw) {
			if r.HasMaxAge || r.MaxAgeRaw != "1x" || len(r.Ignored) != 1 {
				t.Errorf("%+v", r)
			}
		}},
		{name: "negative Max-Age", line: "a=1; Max-Age=-5", check: func(t *testing.T, r Raw) {
			if !r.HasMaxAge || r.MaxAge != -5 {
				t.Errorf("%+v", r)
			}
		}},
		{name: "huge Max-Age saturates", line: "a=1; Max-Age=99999999999999999999999", check: func(t *testing.T, r Raw) {
			if !r.HasMaxAge || r.MaxAge != 1<<63-1 {
				t.Errorf("%+v", r)
			}
		}},
		{name: "Expires lenient", line: "a=1; expires=Wed, 21-Oct-15 07:28:00 GMT", check: func(t *testing.T, r Raw) {
			if !r.HasExpires || !r.Expires.Equal(time.Date(2015, 10, 21, 7, 28, 0, 0, time.UTC)) {
				t.Errorf("%+v", r)
			}
		}},
		{name: "bad Expires ignored", line: "a=1; Expires=tomorrow", check: func(t *testing.T, r Raw) {
			if r.HasExpires || r.ExpiresRaw != "tomorrow" {
				t.Errorf("%+v", r)
			}
		}},
		{name: "unknown attribute kept in Ignored", line: "a=1; Priority=High", check: func(t *testing.T, r Raw) {
			if len(r.Ignored) != 1 {
				t.Errorf("%+v", r)
			}
		}},
		{name: "attribute value over 1024 ignored", line: "a=1; Path=/" + strings.Repeat("p", 1024), check: func(t *testing.T, r Raw) {
			if r.HasPath {
				t.Errorf("%+v", r)
			}
		}},
		{name: "pairs beyond 16 ignored", line: "a=1" + strings.Repeat("; x", 15) + "; Secure", check: func(t *testing.T, r Raw) {
			if r.Secure {
				t.Errorf("Secure read beyond MaxPairs")
			}
		}},
		{name: "empty", line: "", wantErr: NoCookieContent},
		{name: "only =", line: " = ; Path=/", wantErr: NoCookieContent},
		{name: "control character", line: "a=1\x00", wantErr: DisallowedCharacter},
		{name: "oversize", line: "n=" + strings.Repeat("v", 4096), wantErr: NameValuePairExceedsMaxSize},
		{name: "too long line", line: strings.Repeat("a", MaxLineSize+1), wantErr: SyntaxError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseSetCookie(tc.line)
			if tc.wantErr != "" {
				var pe *ParseError
				if !errors.As(err, &pe) || pe.Reason != tc.wantErr {
					t.Fatalf("err = %v, want %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, r)
		})
	}
}

func TestParseCookieDate(t *testing.T) {
	want := time.Date(1994, 11, 6, 8, 49, 37, 0, time.UTC)
	for _, s := range []string{
		"Sun, 06 Nov 1994 08:49:37 GMT",
		"Sunday, 06-Nov-94 08:49:37 GMT",
		"Sun Nov  6 08:49:37 1994",
		"06 november 1994 8:49:37",
	} {
		if got, ok := ParseCookieDate(s); !ok || !got.Equal(want) {
			t.Errorf("%q: %v %v", s, got, ok)
		}
	}
	for _, s := range []string{"", "tomorrow", "31 Feb 2020 00:00:00", "06 Nov 1500 00:00:00", "06 Nov 1994 25:00:00"} {
		if got, ok := ParseCookieDate(s); ok {
			t.Errorf("%q parsed as %v", s, got)
		}
	}
}

func TestStoreDomain(t *testing.T) {
	tests := []struct {
		url, line  string
		wantDomain string
		hostOnly   bool
		reason     Reason
	}{
		{"https://www.example.com/", "a=1", "www.example.com", true, ""},
		{"https://www.example.com/", "a=1; Domain=example.com", "example.com", false, ""},
		{"https://www.example.com/", "a=1; Domain=.EXAMPLE.com", "example.com", false, ""},
		{"https://www.example.com/", "a=1; Domain=www.example.com", "www.example.com", false, ""},
		{"https://www.example.com/", "a=1; Domain=other.com", "", false, InvalidDomain},
		{"https://www.example.com/", "a=1; Domain=api.example.com", "", false, InvalidDomain},
		{"https://www.example.com/", "a=1; Domain=com", "", false, InvalidDomain},
		{"https://me.github.io/", "a=1; Domain=github.io", "", false, InvalidDomain},
		{"https://github.io/", "a=1; Domain=github.io", "github.io", true, ""}, // a public suffix as the host itself
		{"https://www.example.co.uk/", "a=1; Domain=co.uk", "", false, InvalidDomain},
		{"https://www.example.co.uk/", "a=1; Domain=example.co.uk", "example.co.uk", false, ""},
		{"http://[::1]:8080/", "a=1; Domain=::1", "::1", true, ""},
		{"https://www.example.com/", "a=1; Domain=ex%61mple.com", "", false, InvalidDomain},
		{"https://www.example.com/", "a=1; Domain=", "www.example.com", true, ""},
		{"ftp://example.com/", "a=1", "", false, SchemeNotSupported},
	}
	for _, tc := range tests {
		t.Run(tc.url+" "+tc.line, func(t *testing.T) {
			v := WouldStore(Context{URL: u(tc.url), TopLevelNav: true}, tc.line)
			if tc.reason != "" {
				if !slices.Equal(v.Reasons, []Reason{tc.reason}) {
					t.Fatalf("reasons %v, want %s", v.Reasons, tc.reason)
				}
				return
			}
			if !v.Stored || v.Cookie.Domain != tc.wantDomain || v.Cookie.HostOnly != tc.hostOnly {
				t.Fatalf("%+v", v)
			}
		})
	}
}

func TestWouldSend(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	base := Cookie{Name: "a", Value: "1", Domain: "example.com", Path: "/", Secure: true, SameSite: SameSiteLaxMode, Created: now}
	with := func(f func(*Cookie)) Cookie { c := base; f(&c); return c }
	tests := []struct {
		name string
		c    Cookie
		ctx  Context
		want []Reason
	}{
		{"domain cookie to subdomain", base, Context{URL: u("https://api.example.com/x"), TopLevelNav: true}, nil},
		{"host-only to subdomain", with(func(c *Cookie) { c.HostOnly = true }),
			Context{URL: u("https://api.example.com/"), TopLevelNav: true}, []Reason{DomainMismatch}},
		{"other domain", base, Context{URL: u("https://example.org/"), TopLevelNav: true}, []Reason{DomainMismatch}},
		{"not on path", with(func(c *Cookie) { c.Path = "/app" }),
			Context{URL: u("https://example.com/apple"), TopLevelNav: true}, []Reason{NotOnPath}},
		{"secure over http", base, Context{URL: u("http://example.com/"), TopLevelNav: true},
			[]Reason{SecureOnly}},
		{"lax on cross-site subresource (https)", base,
			Context{URL: u("https://example.com/"), SiteForCookies: u("https://evil.test/"), Initiator: u("https://evil.test/")},
			[]Reason{SameSiteLax}},
		{"lax on cross-scheme subresource", base,
			Context{URL: u("https://example.com/"), SiteForCookies: u("http://example.com/"), Initiator: u("http://example.com/")},
			[]Reason{SchemefulSameSiteLax}},
		{"strict on cross-site link (https)", with(func(c *Cookie) { c.SameSite = SameSiteStrictMode }),
			Context{URL: u("https://example.com/"), TopLevelNav: true, Initiator: u("https://evil.test/")},
			[]Reason{SameSiteStrict}},
		{"unspecified on fresh cross-site POST", with(func(c *Cookie) { c.SameSite = SameSiteUnspecified }),
			Context{URL: u("https://example.com/"), TopLevelNav: true, Method: "POST", Initiator: u("https://idp.test/"), Now: now.Add(LaxAllowUnsafeMaxAge)},
			nil},
		{"unspecified on old cross-site POST", with(func(c *Cookie) { c.SameSite = SameSiteUnspecified }),
			Context{URL: u("https://example.com/"), TopLevelNav: true, Method: "POST", Initiator: u("https://idp.test/"), Now: now.Add(LaxAllowUnsafeMaxAge + time.Second)},
			[]Reason{SameSiteUnspecifiedTreatedAsLax}},
		{"lax on cross-site POST", base,
			Context{URL: u("https://example.com/"), TopLevelNav: true, Method: "POST", Initiator: u("https://idp.test/")},
			[]Reason{SameSiteLax}},
		{"none insecure", with(func(c *Cookie) { c.SameSite, c.Secure = SameSiteNone, false }),
			Context{URL: u("https://example.com/"), TopLevelNav: true}, []Reason{SameSiteNoneInsecure}},
		{"third-party blocked", with(func(c *Cookie) { c.SameSite = SameSiteNone }),
			Context{URL: u("https://example.com/"), SiteForCookies: u("https://news.test/"), Initiator: u("https://news.test/"), BlockThirdPartyCookies: true},
			[]Reason{UserPreferences}},
		{"third-party allowed", with(func(c *Cookie) { c.SameSite = SameSiteNone }),
			Context{URL: u("https://example.com/"), SiteForCookies: u("https://news.test/"), Initiator: u("https://news.test/")},
			nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.ctx.Now.IsZero() {
				tc.ctx.Now = now
			}
			ok, got := WouldSend(tc.c, tc.ctx)
			if ok != (len(tc.want) == 0) || !slices.Equal(got, tc.want) {
				t.Fatalf("WouldSend = %v %v, want %v", ok, got, tc.want)
			}
		})
	}
}

func TestJarLifecycle(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	var j Jar
	nav := func(s string) Context { return Context{URL: u(s), TopLevelNav: true, Now: now} }
	if v := j.Store(nav("https://www.example.com/"), "sid=1; Domain=example.com; Secure; Path=/"); !v.Stored {
		t.Fatalf("%+v", v)
	}
	if v := j.Store(nav("https://www.example.com/a/b"), "deep=1; Path=/a"); !v.Stored {
		t.Fatalf("%+v", v)
	}
	// An insecure origin may neither shadow nor delete the Secure domain cookie.
	for _, line := range []string{"sid=2; Path=/a", "sid=2; Domain=example.com", "sid=; Max-Age=0; Domain=example.com"} {
		if v := j.Store(nav("http://api.example.com/a/x"), line); v.Stored || !slices.Equal(v.Reasons, []Reason{OverwriteSecure}) {
			t.Fatalf("%q: %+v", line, v)
		}
	}
	// ...but a secure one may replace it.
	if v := j.Store(nav("https://www.example.com/"), "sid=3; Domain=example.com; Secure"); !v.Stored {
		t.Fatalf("%+v", v)
	}
	sent, blocked := j.Send(nav("https://www.example.com/a/b"))
	if got := CookieHeader(sent); got != "deep=1; sid=3" {
		t.Fatalf("Cookie: %q (blocked %+v)", got, blocked)
	}
	_, blocked = j.Send(nav("https://api.example.com/"))
	if len(blocked) != 1 || blocked[0].Cookie.Name != "deep" || !slices.Equal(blocked[0].Reasons, []Reason{NotOnPath, DomainMismatch}) {
		t.Fatalf("blocked %+v", blocked)
	}
	if v := j.Store(nav("https://www.example.com/"), "sid=; Domain=example.com; Expires=Thu, 01 Jan 1970 00:00:00 GMT"); v.Stored || !v.Deleted {
		t.Fatalf("%+v", v)
	}
	if v := j.Store(nav("https://www.example.com/"), "long=1; Max-Age=999999999"); !v.Cookie.Expires.Equal(now.Add(MaxExpiry)) {
		t.Fatalf("expiry not clamped: %v", v.Cookie.Expires)
	}
	if got := len(j.Cookies(now)); got != 2 {
		t.Fatalf("%d cookies left", got)
	}
	if got := len(j.Cookies(now.Add(MaxExpiry + time.Second))); got != 1 { // the session cookie stays
		t.Fatalf("%d cookies left after expiry", got)
	}
}

func TestSecureContext(t *testing.T) {
	for s, want := range map[string]bool{
		"https://example.com/": true, "http://example.com/": false, "http://localhost:1/": true,
		"http://a.b.localhost/": true, "http://127.9.9.9/": true, "http://[::1]/": true,
		"http://192.0.2.1/": false, "ws://localhost/": true, "wss://x.test/": true, "file:///x": false,
	} {
		if got := SecureContext(u(s)); got != want {
			t.Errorf("%s: %v", s, got)
		}
	}
}

func seeds() []string {
	return []string{
		"PHPSESSID=abc123; path=/",
		"laravel_session=eyJpdiI6; expires=Fri, 01-Jan-2100 00:00:00 GMT; Max-Age=7200; path=/; httponly; samesite=lax",
		"connect.sid=s%3Aabc.def; Path=/; Expires=Wed, 21 Oct 2015 07:28:00 GMT; HttpOnly; Secure; SameSite=None",
		"__Host-sid=1; Secure; Path=/",
		"__Secure-x=1; Domain=example.com; Secure",
		"SESSION=YWJj; Path=/; HttpOnly; SameSite=Strict",
		"a=1; Domain=.localhost",
		"justvalue",
		`q="quoted"; Partitioned; Secure`,
		"=; Max-Age=0",
		"x=1; SameSite=Bogus; Max-Age=-1",
	}
}

func FuzzParseSetCookie(f *testing.F) {
	for _, s := range seeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		r, err := ParseSetCookie(line)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Reason == "" {
				t.Fatalf("error without a reason: %v", err)
			}
			return
		}
		if len(r.Name)+len(r.Value) > MaxNameValueSize {
			t.Fatalf("oversize pair accepted")
		}
		if r.Name == "" && r.Value == "" {
			t.Fatalf("empty cookie accepted")
		}
	})
}

// FuzzStore runs arbitrary lines through a jar in several contexts: it must not
// panic, and a stored cookie must be one the jar would hand back.
func FuzzStore(f *testing.F) {
	for _, s := range seeds() {
		f.Add(s, "https://www.example.com/a/b")
		f.Add(s, "http://sub.localhost:8080/")
	}
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, line, rawURL string) {
		ru, err := url.Parse(rawURL)
		if err != nil {
			return
		}
		var j Jar
		for _, ctx := range []Context{
			{URL: ru, TopLevelNav: true, Now: now},
			{URL: ru, SiteForCookies: u("https://other.test/"), Initiator: u("https://other.test/"), Now: now},
		} {
			v := j.Store(ctx, line)
			if v.Stored && len(v.Reasons) > 0 {
				t.Fatalf("stored with reasons %v", v.Reasons)
			}
			_, _ = j.Send(ctx)
		}
	})
}
