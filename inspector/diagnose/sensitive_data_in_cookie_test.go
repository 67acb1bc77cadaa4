package diagnose

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/sessionscope/sessionscope/inspector/model"
)

func TestSensitiveDataInCookie(t *testing.T) {
	const secret = "lovelace1815"
	creds := b64(`{"user":"ada","password":"` + secret + `","role":"admin"}`)
	tests := []struct {
		name     string
		xs       []*model.Exchange
		want     int
		severity model.Severity
		count    int
		contains []string
	}{
		{name: "remember-me cookie with the password and role", want: 1, severity: model.SeverityError, count: 2,
			xs: []*model.Exchange{
				exch("x1", 0, "POST", "https://shop.example.com/login", 302, setCookie("remember="+creds+"; Path=/; Secure; HttpOnly; SameSite=Lax")),
				exch("x2", 1, "GET", "https://shop.example.com/account", 200, sent("remember="+creds)),
			},
			contains: []string{"Cookie remember carries password and role", "base64 → JSON", "Credentials (password)",
				"privileges (role) are not signed", "keep nothing in the cookie but the session id", "$_SESSION['role']", "req.session.role",
				"x1", "x2", "(Set-Cookie, base64 → JSON) holds password, role", "(sent, base64 → JSON)"}},
		{name: "a JWT with roles is readable, not editable", want: 1, severity: model.SeverityWarning,
			xs: []*model.Exchange{exch("x1", 0, "GET", "https://app.example.com/", 200,
				sent("id_token="+jwt("RS256", `{"sub":"42","roles":["admin"],"exp":1900000000}`)))},
			contains: []string{"roles", "signing is not encryption", "short-lived"}},
		{name: "express cookie-session signed by its .sig cookie", want: 1, severity: model.SeverityWarning,
			xs: []*model.Exchange{exch("x1", 0, "POST", "http://localhost:3000/login", 302,
				setCookie("session="+b64(`{"user":{"id":1},"isAdmin":true}`)+"; path=/; httponly",
					"session.sig=Qb1k3xA8vS2dQ9m4nL7pR0tY6uE; path=/; httponly"))},
			contains: []string{"isAdmin", "The data is signed"}},
		{name: "an unsigned JSON flag is an error", want: 1, severity: model.SeverityError,
			xs:       []*model.Exchange{exch("x1", 0, "GET", "https://example.com/", 200, sent(`auth=`+`%7B%22logged_in%22%3Atrue%2C%22user%22%3A%22ada%22%7D`))},
			contains: []string{"logged_in", "URL-encoded → JSON"}},
		{name: "session ids, CSRF tokens and encrypted cookies are fine", want: 0,
			xs: []*model.Exchange{exch("x1", 0, "POST", "https://example.com/login", 302,
				sent("PHPSESSID=q3hgl8v5c0m2k7ut3ohs1f2km9", "XSRF-TOKEN="+laravelEncryptedCookie, "_ga=GA1.2.1234567890.1700000000"),
				setCookie("laravel_session="+laravelEncryptedCookie+"; path=/; secure; httponly; samesite=lax",
					"session="+flaskLoginCookie+"; Path=/; Secure; HttpOnly; SameSite=Lax"))}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := ruleFindings(tc.xs, "sensitive-data-in-cookie")
			if len(fs) != tc.want {
				for _, f := range fs {
					t.Log(findingText(f))
				}
				t.Fatalf("%d findings, want %d", len(fs), tc.want)
			}
			if tc.want == 0 {
				return
			}
			f := fs[0]
			if f.Severity != tc.severity {
				t.Errorf("severity %s, want %s", f.Severity, tc.severity)
			}
			if tc.count != 0 && f.Count != tc.count {
				t.Errorf("count %d, want %d", f.Count, tc.count)
			}
			text := findingText(f)
			for _, s := range tc.contains {
				if !strings.Contains(text, s) {
					t.Errorf("missing %q in\n%s", s, text)
				}
			}
			if strings.Contains(text, secret) || strings.Contains(text, creds) {
				t.Errorf("the finding repeats a cookie value:\n%s", text)
			}
		})
	}
}

// The values below are built as codec's cookie-value tests build theirs: real shapes
// of cookies, enough for the rule's end-to-end cases.

func b64(s string) string    { return base64.StdEncoding.EncodeToString([]byte(s)) }
func b64url(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// jwt builds a compact JWS with a fake signature: the decoder never verifies.
func jwt(alg, payload string) string {
	sig := "c2lnbmF0dXJlLWJ5dGVzLW5vdC1jaGVja2Vk"
	if alg == "none" {
		sig = ""
	}
	return b64url(`{"alg":"`+alg+`","typ":"JWT"}`) + "." + b64url(payload) + "." + sig
}

// laravelEncryptedCookie is Laravel's encrypted cookie: base64 of {iv, value, mac}.
const laravelEncryptedCookie = "eyJpdiI6Ik1qQXlOUT09IiwidmFsdWUiOiJhYmNkZWZnaGlqa2xtbm9wIiwibWFjIjoiMDEyMzQ1Njc4OWFiY2RlZiIsInRhZyI6IiJ9"

// flaskLoginCookie is a Flask-Login session holding only a CSRF token, as
// itsdangerous writes it compressed: '.' + base64url(zlib(payload)) + time + signature.
var flaskLoginCookie = func() string {
	var b bytes.Buffer
	w := zlib.NewWriter(&b)
	w.Write([]byte(`{"_fresh":true,"_id":"5f2a","_user_id":"1","csrf_token":"6f1d2b0c9e8a7d6c5b4a39281706f5e4d3c2b1a0"}`))
	w.Close()
	return "." + base64.RawURLEncoding.EncodeToString(b.Bytes()) + ".Z3xK1w.Qb1k3xA8vS2dQ9m4nL7pR0tY6uE"
}()
