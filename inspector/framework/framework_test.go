package framework

import (
	"testing"

	"github.com/sessionscope/sessionscope/inspector/codec"
)

func TestMatchBuiltin(t *testing.T) {
	m := NewMatcher(Builtin())
	cases := []struct {
		key, framework, variant, id string
	}{
		{"PHPREDIS_SESSION:abc123", "php", "phpredis", "abc123"},
		{"laravel_database_laravel_cache:Xyz", "laravel", "laravel 10", "Xyz"},
		{"laravel_database_laravel_cache_Xyz", "laravel", "laravel 11/12", "Xyz"},
		{"laravel-database-laravel-cache-Xyz", "laravel", "laravel 13", "Xyz"},
		{"sf_sabc", "symfony", "", "abc"},
		{"sess:abc", "express", "express-session + connect-redis", "abc"},
		{"spring:session:sessions:1-2-3", "spring", "Spring Session", "1-2-3"},
		{":1:django.contrib.sessions.cacheabc", "django", "cache", "abc"},
		{":1:django.contrib.sessions.cached_dbabc", "django", "cached_db", "abc"},
		{"2::0123abcd", "rails", "redis-session-store", "2::0123abcd"},
		{"rack:session:2::0123abcd", "rails", "redis-rack", "2::0123abcd"},
		{"session:abc", "flask", "Flask-Session", "abc"},
		{"session_abc", "gorilla", "redistore", "abc"},
	}
	for _, tc := range cases {
		t.Run(tc.key, func(t *testing.T) {
			got, ok := m.Match(tc.key)
			if !ok {
				t.Fatalf("%q not recognised", tc.key)
			}
			if got.Framework.Name != tc.framework || got.Framework.Variant != tc.variant || got.StoreID != tc.id {
				t.Errorf("got %s/%s id %q, want %s/%s id %q", got.Framework.Name, got.Framework.Variant, got.StoreID, tc.framework, tc.variant, tc.id)
			}
			if k := got.Framework.Key(got.StoreID); k != tc.key {
				t.Errorf("Key(%q) = %q, want %q", got.StoreID, k, tc.key)
			}
		})
	}
}

func TestMatchIgnores(t *testing.T) {
	m := NewMatcher(Builtin())
	for _, key := range []string{
		"PHPREDIS_SESSION:abc_LOCK",             // phpredis session lock
		"spring:session:sessions:expires:1-2-3", // Spring's expiry shadow key
		"spring:session:expirations:1763771820000",
		"cache:homepage", "PHPREDIS_SESSION:", "sess:", "sessions:abc",
	} {
		if got, ok := m.Match(key); ok {
			t.Errorf("%q matched %s; it is not a session", key, got.Framework.Name)
		}
	}
}

func TestParsePrefix(t *testing.T) {
	cases := []struct {
		spec, name, prefix string
		format             codec.Format
		hash               bool
		wantErr            bool
	}{
		{spec: "myapp=myapp:sess:", name: "myapp", prefix: "myapp:sess:", format: codec.FormatAuto},
		{spec: "myapp=app:sess::json", name: "myapp", prefix: "app:sess:", format: codec.FormatJSON},
		{spec: "express=api:sess:", name: "express", prefix: "api:sess:", format: codec.FormatExpress},
		{spec: "spring=s:sessions::spring_hash", name: "spring", prefix: "s:sessions:", format: codec.FormatSpringHash, hash: true},
		{spec: "x=PHPREDIS:php", name: "x", prefix: "PHPREDIS", format: codec.FormatPHP},
		{spec: "noequals", wantErr: true},
		{spec: "=prefix", wantErr: true},
		{spec: "x=:json", name: "x", prefix: "", format: codec.FormatJSON},
		{spec: "koa=", name: "koa", prefix: "", format: codec.FormatJSON},
		{spec: "x=:php", wantErr: true},
		{spec: "django=", wantErr: true}, // pickle under bare keys: nothing to check the guess by
	}
	for _, tc := range cases {
		t.Run(tc.spec, func(t *testing.T) {
			fw, err := ParsePrefix(tc.spec)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("accepted %q", tc.spec)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fw.Name != tc.name || fw.Prefix != tc.prefix || fw.Format != tc.format || (fw.Type == KeyHash) != tc.hash {
				t.Errorf("got %+v", fw)
			}
		})
	}
}

func TestLongestPrefixWins(t *testing.T) {
	custom, _ := ParsePrefix("tenant=sess:tenant1:")
	m := NewMatcher(append(Builtin(), custom))
	got, _ := m.Match("sess:tenant1:abc")
	if got.Framework.Name != "tenant" || got.StoreID != "abc" {
		t.Errorf("got %s %q; the longer custom prefix should win over sess:", got.Framework.Name, got.StoreID)
	}
}

func TestScanPatternEscapesGlob(t *testing.T) {
	fw := Framework{Prefix: "app[1]*?:"}
	if got, want := fw.ScanPattern(), `app\[1\]\*\?:*`; got != want {
		t.Errorf("ScanPattern() = %q, want %q", got, want)
	}
}

// django-redis-sessions keeps sessions under session:<key>, Flask-Session's default
// prefix: the user saying so with --prefix must be obeyed.
func TestUserPrefixWinsOverBuiltin(t *testing.T) {
	custom, err := ParsePrefix("django=session:")
	if err != nil {
		t.Fatal(err)
	}
	for _, order := range []string{"builtin first", "custom first"} {
		t.Run(order, func(t *testing.T) {
			fws := append(Builtin(), custom)
			if order == "custom first" {
				fws = append([]Framework{custom}, Builtin()...)
			}
			m := NewMatcher(fws)
			got, ok := m.Match("session:k2x9q0v7w1hz3l8m5n4b6c0d2f1g7j9")
			if !ok || got.Framework.Name != "django" || got.Framework.Variant != "custom" || got.StoreID != "k2x9q0v7w1hz3l8m5n4b6c0d2f1g7j9" {
				t.Fatalf("got %+v %v, want the user's django row", got.Framework, ok)
			}
			// The payload never overrides the user's row, even a Flask-shaped one.
			if r := m.Resolve(got, []byte{0x81, 0xa1, 'a', 0x01}); r.Framework.Name != "django" {
				t.Errorf("Resolve moved the user's row to %s", r.Framework.Name)
			}
			n := 0
			for _, fw := range m.Frameworks() {
				if fw.Prefix == "session:" {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%d rows with prefix session:, want only the user's", n)
			}
		})
	}
}

func TestResolveSharedBuiltinPrefix(t *testing.T) {
	m := NewMatcher(Builtin())
	cases := []struct {
		name, key, payload, want string
	}{
		// django.core.signing.dumps(compress=True) as SessionBase.encode writes it.
		{"django signed", "session:abc", ".eJyrVopPLC3JiC8tTi2KT0nMTcxTslIqSS0uUaoFAF6RB9Y:1tT3xk:Zk8Lr1bq3m2U1k0wV2n9vX8cC7yY6tT5sS4rR3qQ2pA", "django"},
		{"django legacy base64", "session:abc", "ZjJhNzU6eyJfYXV0aF91c2VyX2lkIjoiMSJ9", "django"},
		{"flask msgpack", "session:abc", "\x83\xa9_permanent\xc3\xa8_user_id\xa11\xaa_fresh\xc3", "flask"},
		{"flask pickle", "session:abc", "\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00}\x94.", "flask"},
		{"session: undecided", "session:abc", "{}", "flask"},
		{"express", "sess:abc", `{"cookie":{"originalMaxAge":86400000,"expires":"2026-12-08T00:00:00.000Z","httpOnly":true,"path":"/"},"user":"alice"}`, "express"},
		{"fastify", "sess:abc", `{"cookie":{"expires":"2026-12-08T00:00:00.000Z","originalMaxAge":86400000,"sameSite":null,"path":"/","httpOnly":true},"user":"alice"}`, "fastify"},
		{"fastify old", "sess:abc", `{"cookie":{"maxAge":86400000,"path":"/","httpOnly":true},"user":"alice"}`, "fastify"},
		{"sess: not json", "sess:abc", "\x00\x01", "express"},
		{"unshared prefix", "PHPREDIS_SESSION:abc", "\x81\xa1a\x01", "php"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := m.Match(tc.key)
			if !ok {
				t.Fatal("not matched")
			}
			if r := m.Resolve(got, []byte(tc.payload)); r.Framework.Name != tc.want || r.StoreID != got.StoreID {
				t.Errorf("Resolve = %s %q, want %s %q", r.Framework.Name, r.StoreID, tc.want, got.StoreID)
			}
		})
	}
}

// koa-session with koa-redis keys sessions by a bare UUID: an empty --prefix claims
// only UUID keys, never a key another row owns, and only JSON objects as payloads.
func TestEmptyPrefixClaimsOnlyUUIDs(t *testing.T) {
	koa, err := ParsePrefix("koa=")
	if err != nil {
		t.Fatal(err)
	}
	if koa.Warning() == "" {
		t.Error("an empty prefix must come with a warning")
	}
	if koa.Cookie != "koa.sess" {
		t.Errorf("cookie %q, want koa.sess", koa.Cookie)
	}
	m := NewMatcher(append(Builtin(), koa))
	const id = "3b9a8f1e-2c4d-4e6f-8a0b-1c2d3e4f5a6b"
	cases := []struct {
		key, want string
	}{
		{id, "koa"},
		{"sess:abc", "express"},
		{"sess:", ""},
		{"PHPREDIS_SESSION:" + id, "php"},
		{"cache:homepage", ""},
		{"3b9a8f1e2c4d4e6f8a0b1c2d3e4f5a6b", ""},
		{"", ""},
	}
	for _, tc := range cases {
		t.Run(tc.key, func(t *testing.T) {
			got, ok := m.Match(tc.key)
			name := ""
			if ok {
				name = got.Framework.Name
			}
			if name != tc.want {
				t.Errorf("Match(%q) = %q, want %q", tc.key, name, tc.want)
			}
		})
	}
	got, _ := m.Match(id)
	for payload, want := range map[string]bool{
		`{"user":"alice","_expire":1765000000000,"_maxAge":86400000}`: true,
		`"just a string"`: false, `[1,2]`: false, "\x80\x04K\x01.": false, `{"broken"`: false, "": false,
	} {
		if fits := got.Framework.PayloadFits([]byte(payload)); fits != want {
			t.Errorf("PayloadFits(%q) = %v, want %v", payload, fits, want)
		}
	}
	if fw := Builtin()[0]; !fw.PayloadFits([]byte("anything")) {
		t.Error("a prefixed row must not be second-guessed by its payload")
	}
}
