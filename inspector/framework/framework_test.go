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
		{spec: "x=:json", wantErr: true},
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
