package framework

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"testing"

	"github.com/sessionscope/sessionscope/inspector/model"
)

func securecookie(value string) string {
	inner := base64.URLEncoding.EncodeToString([]byte(value))
	return base64.URLEncoding.EncodeToString([]byte("1700000000|" + inner + "|" + string(make([]byte, 32))))
}

func TestSessionFromCookie(t *testing.T) {
	railsPublic := "4f1c0a6b1e3d2c5b8a7f6e9d0c1b2a39"
	railsSum := sha256.Sum256([]byte(railsPublic))
	railsID := "2::" + hex.EncodeToString(railsSum[:])
	springID := "e2c8b7d4-5f1a-4c3e-9b2d-8a7f6e5d4c3b"
	cases := []struct {
		name, cookie, value string
		custom              []CookieMapping
		notSession          bool
		framework, id       string
		encrypted           bool
		reason              string
	}{
		{name: "php", cookie: "PHPSESSID", value: "q3hgl8v5c0m2k7ut3ohs1f2km9", framework: "php", id: "q3hgl8v5c0m2k7ut3ohs1f2km9"},
		{name: "php quoted", cookie: "PHPSESSID", value: `"q3hgl8v5c0m2k7ut3ohs1f2km9"`, framework: "php", id: "q3hgl8v5c0m2k7ut3ohs1f2km9"},
		{name: "php invalid chars", cookie: "PHPSESSID", value: "abc$def", framework: "php", reason: ReasonInvalid},
		{name: "php stripped", cookie: "PHPSESSID", value: "", framework: "php", reason: ReasonEmpty},
		{name: "express", cookie: "connect.sid", value: "s%3AJ3x1oS0nVvN4hD2GxH9QK7c8aR5tYwZb.k1Lq0%2Bq7m9vUe0cE2bS6Xy3hZr5nT8pWq4aD1fG7jKs", framework: "express", id: "J3x1oS0nVvN4hD2GxH9QK7c8aR5tYwZb"},
		{name: "express decoded", cookie: "connect.sid", value: "s:abc.def.sig", framework: "express", id: "abc.def"},
		{name: "fastify", cookie: "sessionId", value: "Xk3n0aQ8yZr2LmB1cD4eF5gH6iJ7kL8m.Vq0%2Bq7m9vUe0cE2bS6Xy3hZr5nT8pWq4aD1fG7jKs", framework: "fastify", id: "Xk3n0aQ8yZr2LmB1cD4eF5gH6iJ7kL8m"},
		{name: "fastify unsigned", cookie: "sessionId", value: "Xk3n0aQ8yZr2", framework: "fastify", reason: ReasonInvalid},
		{name: "koa external key", cookie: "koa.sess", value: "3b9a8f1e-2c4d-4e6f-8a0b-1c2d3e4f5a6b", framework: "koa", id: "3b9a8f1e-2c4d-4e6f-8a0b-1c2d3e4f5a6b"},
		{name: "koa old name", cookie: "koa:sess", value: "3b9a8f1e-2c4d-4e6f-8a0b-1c2d3e4f5a6b", framework: "koa", id: "3b9a8f1e-2c4d-4e6f-8a0b-1c2d3e4f5a6b"},
		{name: "koa cookie session", cookie: "koa.sess", value: "eyJ1c2VyIjoiYWxpY2UiLCJfZXhwaXJlIjoxNzY1MDAwMDAwMDAwLCJfbWF4QWdlIjo4NjQwMDAwMH0=", framework: "koa", reason: ReasonKoaCookie},
		{name: "express unsigned", cookie: "connect.sid", value: "J3x1oS0nVvN4hD2G", framework: "express", reason: ReasonUnsigned},
		{name: "express no signature", cookie: "connect.sid", value: "s%3Aabc", framework: "express", reason: ReasonInvalid},
		{name: "spring base64", cookie: "SESSION", value: base64.StdEncoding.EncodeToString([]byte(springID)), framework: "spring", id: springID},
		{name: "spring base64 unpadded", cookie: "SESSION", value: base64.RawStdEncoding.EncodeToString([]byte("abcd1")), framework: "spring", id: "abcd1"},
		{name: "spring plain uuid", cookie: "SESSION", value: springID, framework: "spring", id: springID},
		{name: "spring garbage", cookie: "SESSION", value: "!!!", framework: "spring", reason: "SESSION is neither base64 nor a UUID"},
		{name: "django", cookie: "sessionid", value: "x8k2v9q4w7e1r5t3y6u0i8o2p4a6s9d1", framework: "django", id: "x8k2v9q4w7e1r5t3y6u0i8o2p4a6s9d1"},
		{name: "rails redis-session-store", cookie: "_shop_session", value: railsPublic, framework: "rails", id: railsID},
		{name: "rails redis-rack", cookie: "rack.session", value: railsPublic, framework: "rails", id: railsID},
		{name: "rails cookie store", cookie: "_shop_session", value: "bG9uZ2NpcGhlcg%3D%3D--aXY%3D--dGFn", framework: "rails", encrypted: true, reason: ReasonRailsCookie},
		{name: "flask-session", cookie: "session", value: "kB1nU0xq7sV3pHc9dG2wE5rT8yZ4aM6fJ1oL0iK3uNb", framework: "flask", id: "kB1nU0xq7sV3pHc9dG2wE5rT8yZ4aM6fJ1oL0iK3uNb"},
		{name: "flask-session signed", cookie: "session", value: "kB1nU0xq7sV3pHc9.Zm9vYmFy", framework: "flask", id: "kB1nU0xq7sV3pHc9"},
		{name: "flask client-side", cookie: "session", value: "eyJ1c2VyIjoxfQ.ZxY1bw.abcdef", framework: "flask", reason: ReasonFlaskClientSession},
		{name: "flask client-side compressed", cookie: "session", value: ".eJyrVkrNKy1OTVGyUkotKsovUqoFAD0aBjw.ZxY1bw.abc", framework: "flask", reason: ReasonFlaskClientSession},
		{name: "laravel", cookie: "laravel_session", value: "eyJpdiI6IkZ3b2x6eHh0In0%3D", framework: "laravel", encrypted: true, reason: ReasonEncrypted},
		{name: "laravel renamed app", cookie: "shop_session", value: "eyJpdiI6IkZ3b2x6eHh0In0%3D", framework: "laravel", encrypted: true, reason: ReasonEncrypted},
		{name: "gorilla custom bare id", cookie: "app-sess", value: "MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43UOV3HO6DZPJQWEY3E", custom: []CookieMapping{{"app-sess", "gorilla"}}, framework: "gorilla", id: "MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43UOV3HO6DZPJQWEY3E"},
		{name: "gorilla securecookie", cookie: "app-sess", value: securecookie("Kv7xVhQ2"), custom: []CookieMapping{{"app-sess", "gorilla"}}, framework: "gorilla", encrypted: true, reason: ReasonSecureCookie},
		{name: "custom raw", cookie: "MYSESS", value: "abc123def456", custom: []CookieMapping{{"MYSESS", "myapp"}}, framework: "myapp", id: "abc123def456"},
		{name: "custom overrides builtin", cookie: "PHPSESSID", value: "s%3Aabc.sig", custom: []CookieMapping{{"PHPSESSID", "express"}}, framework: "express", id: "abc"},
		{name: "custom express name", cookie: "sid", value: "s%3Aabc.sig", custom: []CookieMapping{{"sid", "express"}}, framework: "express", id: "abc"},
		{name: "too long", cookie: "sessionid", value: string(make([]byte, 5000)), framework: "django", reason: ReasonTooLong},
		{name: "control bytes", cookie: "sessionid", value: "ab\x00cd", framework: "django", reason: ReasonInvalid},
		{name: "unknown cookie", cookie: "theme", value: "dark", notSession: true},
		{name: "bare _session", cookie: "_session", value: "x", notSession: true},
		{name: "session suffix plain", cookie: "shop_session", value: "abc", notSession: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := SessionFromCookie(tc.cookie, tc.value, tc.custom)
			if ok == tc.notSession {
				t.Fatalf("ok = %v, want %v (%+v)", ok, !tc.notSession, got)
			}
			if tc.notSession {
				return
			}
			if got.Framework != tc.framework || got.StoreID != tc.id || got.Encrypted != tc.encrypted || got.Reason != tc.reason {
				t.Errorf("got %+v, want framework %q id %q encrypted %v reason %q", got, tc.framework, tc.id, tc.encrypted, tc.reason)
			}
			if tc.id != "" && got.Ref != model.Ref(tc.id) {
				t.Errorf("ref %q, want %q", got.Ref, model.Ref(tc.id))
			}
			if tc.id == "" && (got.Ref != "" || got.Mapped()) {
				t.Errorf("unmapped cookie has ref %q", got.Ref)
			}
		})
	}
}

// TestCookieKeysAgree checks that the store id a cookie maps to is the id the key
// matcher reads from that framework's default key, so refs join.
func TestCookieKeysAgree(t *testing.T) {
	m := NewMatcher(Builtin())
	railsSum := sha256.Sum256([]byte("pub1234567890"))
	cases := []struct{ cookie, value, key string }{
		{"PHPSESSID", "q3hgl8v5c0m2k7ut3ohs1f2km9", "PHPREDIS_SESSION:q3hgl8v5c0m2k7ut3ohs1f2km9"},
		{"PHPSESSID", "q3hgl8v5c0m2k7ut3ohs1f2km9", "sf_sq3hgl8v5c0m2k7ut3ohs1f2km9"},
		{"connect.sid", "s%3AJ3x1oS0n.sig", "sess:J3x1oS0n"},
		{"SESSION", base64.StdEncoding.EncodeToString([]byte("1-2-3")), "spring:session:sessions:1-2-3"},
		{"sessionid", "abc", ":1:django.contrib.sessions.cacheabc"},
		{"_app_session", "pub1234567890", "2::" + hex.EncodeToString(railsSum[:])},
		{"rack.session", "pub1234567890", "rack:session:2::" + hex.EncodeToString(railsSum[:])},
		{"session", "abcdef", "session:abcdef"},
		{"sessionId", "Xk3n0aQ8.sig", "sess:Xk3n0aQ8"},
	}
	for _, tc := range cases {
		t.Run(tc.key, func(t *testing.T) {
			cs, ok := SessionFromCookie(tc.cookie, tc.value, nil)
			if !ok || !cs.Mapped() {
				t.Fatalf("cookie not mapped: %+v", cs)
			}
			match, ok := m.Match(tc.key)
			if !ok {
				t.Fatalf("key not matched")
			}
			if match.StoreID != cs.StoreID {
				t.Errorf("cookie store id %q, key store id %q", cs.StoreID, match.StoreID)
			}
		})
	}
}

func TestIsSessionCookieName(t *testing.T) {
	for name, want := range map[string]bool{
		"PHPSESSID": true, "phpsessid": true, "jsessionid": true, "connect.sid": true, "SESSION": true,
		"sessionid": true, "_x_session": true, "laravel_session": true, "session": true,
		"theme": false, "page": false, "mine": true,
	} {
		if got := IsSessionCookieName(name, []CookieMapping{{"mine", "x"}}); got != want {
			t.Errorf("IsSessionCookieName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestRefMapper(t *testing.T) {
	f := RefMapper(nil)
	if ref, ok := f("PHPSESSID", "abcdefgh12"); !ok || ref != model.Ref("abcdefgh12") {
		t.Errorf("got %q %v", ref, ok)
	}
	if _, ok := f("laravel_session", "eyJpdiI6xx"); ok {
		t.Error("encrypted cookie mapped")
	}
	if _, ok := f("theme", "dark"); ok {
		t.Error("non-session cookie mapped")
	}
}

func FuzzCookieValue(f *testing.F) {
	for _, s := range []string{"", "q3hgl8v5c0m2k7ut3ohs1f2km9", "s%3Aabc.sig", "s:.", "%zz", `"`, `""`, "eyJpdiI6",
		"YWJj", "a--b", ".x.y", securecookie("id"), "MFRGGZDFMZTWQ2LK", "\xff\xfe"} {
		f.Add("PHPSESSID", s)
		f.Add("_a_session", s)
	}
	names := []string{"PHPSESSID", "connect.sid", "SESSION", "sessionid", "session", "laravel_session", "_app_session", "rack.session", "c"}
	custom := []CookieMapping{{"c", "gorilla"}}
	f.Fuzz(func(t *testing.T, name, value string) {
		for _, n := range append(names, name) {
			cs, ok := SessionFromCookie(n, value, custom)
			if !ok {
				continue
			}
			if cs.Mapped() != (cs.Ref != "") || (cs.Mapped() && cs.Ref != model.Ref(cs.StoreID)) {
				t.Fatalf("%s=%q: inconsistent %+v", n, value, cs)
			}
			if !cs.Mapped() && cs.Reason == "" {
				t.Fatalf("%s=%q: unmapped without a reason", n, value)
			}
		}
		for _, fw := range []string{"php", "express", "spring", "rails", "flask", "gorilla", "laravel", "custom"} {
			SessionFromCookie("x", value, []CookieMapping{{"x", fw}})
		}
	})
}
