package codec

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func b64(s string) string    { return base64.StdEncoding.EncodeToString([]byte(s)) }
func b64url(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func zlibbed(s string) []byte {
	var b bytes.Buffer
	w := zlib.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

// jwt builds a compact JWS with a fake signature: the decoder never verifies.
func jwt(alg, payload string) string {
	sig := "c2lnbmF0dXJlLWJ5dGVzLW5vdC1jaGVja2Vk"
	if alg == "none" {
		sig = ""
	}
	return b64url(`{"alg":"`+alg+`","typ":"JWT"}`) + "." + b64url(payload) + "." + sig
}

// flaskCookie is itsdangerous' URLSafeTimedSerializer output: '.'-prefixed when
// zlib made the payload shorter.
func flaskCookie(payload string, compressed bool) string {
	if compressed {
		return "." + base64.RawURLEncoding.EncodeToString(zlibbed(payload)) + ".Z3xK1w.Qb1k3xA8vS2dQ9m4nL7pR0tY6uE"
	}
	return b64url(payload) + ".Z3xK1w.Qb1k3xA8vS2dQ9m4nL7pR0tY6uE"
}

// realisticCookieValues are the fuzz seeds and the negative cases: what real apps
// put in cookies.
var realisticCookieValues = []string{
	"q3hgl8v5c0m2k7ut3ohs1f2km9", // PHPSESSID
	"s%3AxkVb2sV5m4o9ZkqG0rHn7Lw3JcQd1FtY.8Xh0bq1w1f2l9B5q9fKp7b0W6cXk0Zr2m1v3n4o5p6Q", // connect.sid
	"GA1.2.1234567890.1700000000", // _ga
	"eyJpdiI6Ik1qQXlOUT09IiwidmFsdWUiOiJhYmNkZWZnaGlqa2xtbm9wIiwibWFjIjoiMDEyMzQ1Njc4OWFiY2RlZiIsInRhZyI6IiJ9", // Laravel
	"YzdlNjA0ZTItOTdhNC00MGI3LWI5YjQtNGE0ZWE4ZmEwYzAz",                                                         // Spring SESSION
	flaskCookie(`{"_fresh":true,"_id":"5f2a","_user_id":"1","csrf_token":"6f1d2b0c9e8a7d6c5b4a39281706f5e4d3c2b1a0"}`, true),
	"ZG0yQ1ZqR3ZzMXlWZ0RQVnlUUWt1WTJ2eXJTcE1Y--3f9c1a2b4d5e6f708192a3b4c5d6e7f8091a2b3c--W2x0c0R1cWZ1dUtmcnF0cA==", // Rails encrypted
	"dark",
	`{"theme":"dark","lang":"en","tz":"Europe/Berlin"}`,
	"en-US",
	"1",
}

func TestDecodeCookieValue(t *testing.T) {
	tests := []struct {
		name      string
		value     string
		keys      []string // found, in order
		class     KeyClass
		signed    bool
		layers    string // the first key's layers, joined with " → "
		encrypted bool
	}{
		{name: "base64 JSON with a password", value: b64(`{"user":"bob","password":"hunter2"}`),
			keys: []string{"password"}, class: ClassCredential, layers: "base64 → JSON"},
		{name: "unpadded base64url of a role", value: b64url(`{"uid":42,"role":"admin"}`),
			keys: []string{"role"}, class: ClassAuthz, layers: "base64 → JSON"},
		{name: "URL-encoded JSON", value: url.QueryEscape(`{"is_admin":true,"name":"ada"}`),
			keys: []string{"is_admin"}, class: ClassAuthz, layers: "URL-encoded → JSON"},
		{name: "JWT with roles", value: jwt("HS256", `{"sub":"1","roles":["admin","billing"],"exp":1900000000}`),
			keys: []string{"roles"}, class: ClassAuthz, signed: true, layers: "JWT → JSON"},
		{name: "JWT alg none is not signed", value: jwt("none", `{"sub":"1","is_admin":true}`),
			keys: []string{"is_admin"}, class: ClassAuthz, layers: "JWT, alg none (unsigned) → JSON"},
		{name: "Flask session, zlib-compressed", value: flaskCookie(`{"_user_id":"7","role":"admin","csrf_token":"abcdef0123456789"}`, true),
			keys: []string{"role"}, class: ClassAuthz, signed: true, layers: "Flask session (zlib, signed) → JSON"},
		{name: "Flask session, plain", value: flaskCookie(`{"user":{"email":"ada@example.com","password":"lovelace"}}`, false),
			keys: []string{"password"}, class: ClassCredential, signed: true},
		{name: "cookie-parser signed JSON", value: url.QueryEscape(`s:j:{"permissions":["read","write"]}.hmacsignature0123456789abcdef`),
			keys: []string{"permissions"}, class: ClassAuthz, signed: true, layers: "URL-encoded → signed s: → j: JSON cookie → JSON"},
		{name: "Rails signed cookie", value: b64(`{"user_id":1,"admin":true}`) + "--0a1b2c3d4e5f60718293a4b5c6d7e8f901234567",
			keys: []string{"admin"}, class: ClassAuthz, signed: true, layers: "Rails signed cookie → JSON"},
		{name: "Laravel-style base64 JSON, not encrypted", value: b64(`{"api_key":"sk_live_4eC39HqLyjWDarjtT1zdp7dc"}`),
			keys: []string{"api_key"}, class: ClassCredential},
		{name: "form-encoded remembered login", value: "username=ada&password=lovelace1815",
			keys: []string{"password"}, class: ClassCredential, layers: "form-encoded"},
		{name: "a bare role flag", value: "role=admin", keys: []string{"role"}, class: ClassAuthz},
		{name: "email:password in base64", value: b64("ada@example.com:lovelace1815"),
			keys: []string{"email:password"}, class: ClassCredential, layers: "base64"},
		{name: "a card number", value: b64(`{"cart":3,"cc":"4111 1111 1111 1111"}`),
			keys: []string{"cc (card number)"}, class: ClassCredential},
		{name: "PHP serialize()", value: url.QueryEscape(`a:2:{s:4:"user";s:3:"ada";s:8:"is_admin";b:1;}`),
			keys: []string{"is_admin"}, class: ClassAuthz, layers: "URL-encoded → PHP serialize()"},
		{name: "tokens inside nested base64", value: b64(`{"data":"` + b64(`{"access_token":"ya29.a0Af","refresh_token":"1//0g"}`) + `"}`),
			keys: []string{"access_token", "refresh_token"}, class: ClassToken, layers: "base64 → JSON → base64 → JSON"},
		{name: "Laravel encrypted cookie", value: realisticCookieValues[3], encrypted: true},
		{name: "Rails encrypted cookie", value: realisticCookieValues[6], encrypted: true},
		{name: "Flask-Login session with only a CSRF token", value: realisticCookieValues[5]},
		{name: "a PHP session id", value: realisticCookieValues[0]},
		{name: "express connect.sid", value: realisticCookieValues[1]},
		{name: "Google Analytics", value: realisticCookieValues[2]},
		{name: "preferences", value: realisticCookieValues[8]},
		{name: "a user id is not a card number", value: b64(`{"user_id":4111111111111111,"created_at":"4012888888881881"}`)},
		{name: "an email and a timestamp", value: "ada@example.com:1700000000"},
		{name: "Laravel XSRF-TOKEN: CSRF tokens belong in cookies", value: b64(`{"_token":"x9","csrf_token":"y8","XSRF-TOKEN":"z7"}`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DecodeCookieValue(tc.value)
			var names []string
			for _, k := range c.Keys {
				names = append(names, k.Name)
			}
			if strings.Join(names, ",") != strings.Join(tc.keys, ",") {
				t.Fatalf("keys %q, want %q", names, tc.keys)
			}
			if c.Encrypted != tc.encrypted {
				t.Errorf("encrypted %v, want %v", c.Encrypted, tc.encrypted)
			}
			if len(tc.keys) == 0 {
				return
			}
			if c.Class() != tc.class {
				t.Errorf("class %b, want %b", c.Class(), tc.class)
			}
			if c.Keys[0].Signed != tc.signed {
				t.Errorf("signed %v, want %v", c.Keys[0].Signed, tc.signed)
			}
			if got := strings.Join(c.Keys[0].Layers, " → "); tc.layers != "" && got != tc.layers {
				t.Errorf("layers %q, want %q", got, tc.layers)
			}
		})
	}
}

// Hostile values: deep layering, big values, compression bombs. Each must finish
// fast and within the bounds.
func TestDecodeCookieValueBounds(t *testing.T) {
	deep := `{"password":"x"}`
	for range 40 {
		deep = b64(deep)
	}
	nested := strings.Repeat(`{"a":`, 5000) + `1` + strings.Repeat(`}`, 5000)
	bomb := "." + base64.RawURLEncoding.EncodeToString(zlibbed(`{"role":"`+strings.Repeat("A", 8<<20)+`"}`)) + ".Z3xK1w.sig"
	many := "{" + strings.Repeat(`"password":1,`, 3000) + `"x":1}`
	for name, v := range map[string]string{"40 layers of base64": deep, "5000 nested objects": nested,
		"8 MiB behind zlib": bomb, "3000 keys": many, "8 KiB of percent signs": strings.Repeat("%25", 3000)} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			c := DecodeCookieValue(v)
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v", d)
			}
			if len(c.Keys) > maxFoundKeys {
				t.Errorf("%d keys", len(c.Keys))
			}
		})
	}
	// 40 layers are past the depth bound: the password is not reached.
	if c := DecodeCookieValue(deep); len(c.Keys) != 0 {
		t.Errorf("found %v below the depth bound", c.Keys)
	}
}

func FuzzDecodeCookieValue(f *testing.F) {
	for _, v := range realisticCookieValues {
		f.Add(v)
	}
	for _, v := range []string{
		b64(`{"user":"bob","password":"hunter2"}`),
		jwt("HS256", `{"sub":"1","roles":["admin"]}`),
		jwt("none", `{"is_admin":true}`),
		flaskCookie(`{"role":"admin"}`, true),
		url.QueryEscape(`s:j:{"permissions":["read"]}.sig`),
		b64(`{"admin":true}`) + "--0a1b2c3d4e5f60718293a4b5c6d7e8f901234567",
		"username=ada&password=lovelace",
		url.QueryEscape(`a:1:{s:4:"role";s:5:"admin";}`),
		b64("ada@example.com:lovelace"),
		"eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d",
	} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		c := DecodeCookieValue(v)
		if len(c.Keys) > maxFoundKeys {
			t.Fatalf("%d keys", len(c.Keys))
		}
		for _, k := range c.Keys {
			// A reported key is a name from the vocabulary, never a value.
			base := strings.TrimSuffix(strings.TrimSuffix(k.Name, "…"), " (card number)")
			if _, ok := sensitiveKey(base); !ok && k.Name != "email:password" && k.Name != "card number" &&
				!strings.HasSuffix(k.Name, " (card number)") && !strings.HasSuffix(k.Name, "…") {
				t.Fatalf("reported %q, not a sensitive key name", k.Name)
			}
			if !utf8.ValidString(k.Name) || utf8.RuneCountInString(k.Name) > maxKeyShown+len(" (card number)")+1 {
				t.Fatalf("key name %q", k.Name)
			}
			if k.Class == 0 || len(k.Layers) == 0 {
				t.Fatalf("key %+v without class or layers", k)
			}
		}
	})
}
