package framework

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// CookieMapping names a session cookie the builtin table does not know (or renames one
// it does): the cookie CookieName carries sessions of Framework. Framework is a builtin
// name (php, symfony, laravel, express, fastify, koa, spring, django, rails, flask,
// gorilla), which
// selects how the value is decoded, or any other name, whose cookie value is taken to
// be the store id as is.
type CookieMapping struct {
	CookieName string
	Framework  string
}

// CookieSession is what a session cookie says about its session.
type CookieSession struct {
	Framework string // framework name, as in the framework table
	StoreID   string // the session id as the store knows it; empty when not mappable
	Ref       string // model.Ref(StoreID); empty when not mappable
	// Encrypted marks values that only the application's secret can open (Laravel's
	// encrypted cookie, Rails' cookie store, gorilla securecookie): the session can
	// be correlated with store events by timing only.
	Encrypted bool
	// Reason says why StoreID is empty, in words for the user.
	Reason string
}

// Mapped reports whether the cookie led to a store id.
func (c CookieSession) Mapped() bool { return c.StoreID != "" }

// maxCookieValue is the browser limit for a cookie's name and value together.
const maxCookieValue = 4096

// Reasons a session cookie could not be mapped to a store id.
const (
	ReasonEncrypted          = "encrypted: correlate by timing only"
	ReasonEmpty              = "empty value (stripped or cleared)"
	ReasonTooLong            = "value longer than 4096 bytes"
	ReasonInvalid            = "value is not a session id of this framework"
	ReasonUnsigned           = "unsigned connect.sid: express-session ignores it"
	ReasonSecureCookie       = "securecookie-encoded (signed, maybe encrypted, with the app's keys): cannot be mapped; correlate by timing only"
	ReasonRailsCookie        = "Rails cookie store: the session is encrypted inside the cookie, not in a store"
	ReasonFlaskClientSession = "Flask client-side session: the session is signed inside the cookie, not in a store"
	ReasonKoaCookie          = "koa-session cookie session: the session is inside the cookie, not in a store"
)

// SessionFromCookie maps a cookie to the session it carries. ok reports that name is a
// session cookie (from custom, which wins, or the builtin table); the session's store id
// and ref are set when the value could be decoded, otherwise Reason says why not.
func SessionFromCookie(name, value string, custom []CookieMapping) (CookieSession, bool) {
	for _, m := range custom {
		if m.CookieName == name {
			return decodeCookie(m.Framework, value), true
		}
	}
	fw := builtinCookieFramework(name, value)
	if fw == "" {
		return CookieSession{}, false
	}
	return decodeCookie(fw, value), true
}

// IsSessionCookieName reports whether a cookie (or query parameter) of this name
// carries session ids, by the builtin table and custom. Query strings use the same
// names (PHP's trans_sid, Java's jsessionid), so URL masking asks this too.
func IsSessionCookieName(name string, custom []CookieMapping) bool {
	for _, m := range custom {
		if m.CookieName == name {
			return true
		}
	}
	if strings.EqualFold(name, "jsessionid") || strings.EqualFold(name, "phpsessid") {
		return true
	}
	return builtinCookieFramework(name, "") != ""
}

// RefMapper adapts SessionFromCookie to the func(name, value) (ref, ok) shape the
// traffic package takes: ok only when the cookie led to a store id.
func RefMapper(custom []CookieMapping) func(name, value string) (string, bool) {
	return func(name, value string) (string, bool) {
		cs, ok := SessionFromCookie(name, value, custom)
		if !ok || !cs.Mapped() {
			return "", false
		}
		return cs.Ref, true
	}
}

// builtinCookieFramework is the cookie column of the framework table.
func builtinCookieFramework(name, value string) string {
	switch name {
	case "PHPSESSID":
		return "php"
	case "connect.sid":
		return "express"
	case "sessionId":
		return "fastify" // @fastify/session's default cookieName
	case "koa.sess", "koa:sess":
		return "koa" // koa-session's default key (koa:sess before version 6)
	case "SESSION":
		return "spring"
	case "sessionid":
		return "django"
	case "session":
		return "flask"
	case "laravel_session":
		return "laravel"
	case "rack.session":
		return "rails"
	}
	if !strings.HasSuffix(name, "_session") || len(name) <= len("_session") {
		return ""
	}
	// Laravel names its cookie <slug of APP_NAME>_session and encrypts it; the
	// ciphertext is base64 JSON that always starts with {"iv":.
	if looksLaravel(value) {
		return "laravel"
	}
	if strings.HasPrefix(name, "_") && len(name) > len("__session") {
		return "rails"
	}
	return ""
}

func looksLaravel(value string) bool {
	return strings.HasPrefix(value, "eyJpdiI6")
}

// decodeCookie turns a cookie value into the store id of framework fw.
func decodeCookie(fw, value string) CookieSession {
	cs := CookieSession{Framework: fw}
	v, reason := cleanValue(value)
	if reason != "" {
		cs.Reason = reason
		return cs
	}
	var id string
	switch fw {
	case "php", "symfony":
		// PHP accepts [a-zA-Z0-9,-] ids; other values make it start a new session.
		if !allIn(v, isPHPIDChar) {
			cs.Reason = ReasonInvalid
			return cs
		}
		id = v
	case "laravel":
		// Laravel's session ids are 40 alphanumerics (Str::random(40)). The cookie
		// carries one as is when the app leaves it out of EncryptCookies; otherwise it
		// is ciphertext only the app's key opens.
		if len(v) != 40 || !allIn(v, isAlnum) {
			cs.Encrypted, cs.Reason = true, ReasonEncrypted
			return cs
		}
		id = v
	case "express":
		id, cs.Reason = expressID(v)
	case "fastify":
		id, cs.Reason = fastifyID(v)
	case "koa":
		id, cs.Reason = koaID(v)
	case "spring":
		id, cs.Reason = springID(v)
	case "rails":
		id, cs.Reason, cs.Encrypted = railsID(v)
	case "flask":
		id, cs.Reason, cs.Encrypted = flaskID(v)
	case "gorilla":
		id, cs.Reason, cs.Encrypted = gorillaID(v)
	default: // django and custom frameworks: the value is the id
		id = v
	}
	if id == "" {
		if cs.Reason == "" {
			cs.Reason = ReasonInvalid
		}
		return cs
	}
	cs.StoreID, cs.Ref = id, model.Ref(id)
	return cs
}

// cleanValue strips the optional quotes a cookie value may carry and refuses values
// that cannot be session ids.
func cleanValue(v string) (string, string) {
	if len(v) > maxCookieValue {
		return "", ReasonTooLong
	}
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	if v == "" {
		return "", ReasonEmpty
	}
	if !utf8.ValidString(v) {
		return "", ReasonInvalid
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x21 || c == 0x7f || c == ';' {
			return "", ReasonInvalid
		}
	}
	return v, ""
}

func isPHPIDChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == ',' || c == '-'
}

func isPrintable(c byte) bool { return c > 0x20 && c < 0x7f }

func allIn(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

// expressID reads express-session's cookie: encodeURIComponent("s:" + id + "." + sig),
// where sig is unpadded base64 of an HMAC and so holds no dot.
func expressID(v string) (string, string) {
	if u, err := url.QueryUnescape(v); err == nil {
		v = u
	}
	rest, ok := strings.CutPrefix(v, "s:")
	if !ok {
		return "", ReasonUnsigned
	}
	dot := strings.LastIndexByte(rest, '.')
	if dot <= 0 || !allIn(rest[:dot], isPrintable) {
		return "", ReasonInvalid
	}
	return rest[:dot], ""
}

// fastifyID reads @fastify/session's cookie: the id signed by @fastify/cookie,
// "<id>.<signature>" without express-session's "s:", URL-encoded.
func fastifyID(v string) (string, string) {
	if u, err := url.QueryUnescape(v); err == nil {
		v = u
	}
	dot := strings.LastIndexByte(v, '.')
	if dot <= 0 || !allIn(v[:dot], isPrintable) {
		return "", ReasonInvalid
	}
	return v[:dot], ""
}

// koaID reads koa-session's cookie with an external store (koa-redis): the cookie
// holds the external key, a UUID by default, which is also the store key. Without a
// store the cookie is base64 of the session JSON itself and there is no store id.
func koaID(v string) (string, string) {
	if u, err := url.QueryUnescape(v); err == nil {
		v = u
	}
	if !allIn(v, isPrintable) {
		return "", ReasonInvalid
	}
	if !isUUID(v) && len(v) > 64 {
		return "", ReasonKoaCookie
	}
	return v, ""
}

// springID reads Spring Session's SESSION cookie: base64 of the id by default
// (DefaultCookieSerializer.useBase64Encoding), the id itself when that is turned off.
func springID(v string) (string, string) {
	if u, err := url.QueryUnescape(v); err == nil {
		v = u
	}
	if isUUID(v) {
		return v, ""
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		b, err := enc.DecodeString(v)
		if err == nil && len(b) > 0 && allIn(string(b), isPrintable) {
			return string(b), ""
		}
	}
	return "", "SESSION is neither base64 nor a UUID"
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// railsID reads a Rails session cookie. Assumption: with redis-session-store or
// redis-rack the cookie holds the public session id (Rack::Session::SessionId#public_id,
// URL-escaped by Rack), and the store id is its private id, "2::" + hex SHA-256 of the
// public id, which is also what the key holds. With Rails' default cookie store the
// value is "data--iv--tag" ciphertext and the session lives in the cookie.
func railsID(v string) (string, string, bool) {
	if u, err := url.QueryUnescape(v); err == nil {
		v = u
	}
	if strings.Contains(v, "--") {
		return "", ReasonRailsCookie, true
	}
	if !allIn(v, isPrintable) {
		return "", ReasonInvalid, false
	}
	sum := sha256.Sum256([]byte(v))
	return "2::" + hex.EncodeToString(sum[:]), "", false
}

// flaskID reads Flask's session cookie. Flask-Session stores the session under
// session:<sid> and sends the sid (secrets.token_urlsafe, no dots), or sid.signature
// when SESSION_USE_SIGNER is on. Flask's own cookie sessions are payload.time.sig
// (a leading dot when compressed) and never reach a store.
func flaskID(v string) (string, string, bool) {
	if isSecureCookie(v) {
		return "", ReasonSecureCookie, true
	}
	switch n := strings.Count(v, "."); {
	case n == 0:
		return v, "", false
	case n == 1 && v[0] != '.':
		return v[:strings.IndexByte(v, '.')], "", false
	default:
		return "", ReasonFlaskClientSession, false
	}
}

// gorillaID reads a gorilla/sessions cookie for a store such as redistore (keys
// session_<id>). The stores encode the id with securecookie: base64url of
// "date|value|mac", the value gob-encoded and maybe encrypted, so it needs the app's
// keys. Only a cookie that holds the bare id (base32, as the stores generate) maps.
func gorillaID(v string) (string, string, bool) {
	if isSecureCookie(v) {
		return "", ReasonSecureCookie, true
	}
	if len(v) < 16 || !allIn(v, func(c byte) bool { return c >= 'A' && c <= 'Z' || c >= '2' && c <= '7' || c == '=' }) {
		return "", ReasonInvalid, false
	}
	return v, "", false
}

// isSecureCookie recognises gorilla/securecookie's encoding: base64url of
// "<unix time>|<base64url value>|<mac>".
func isSecureCookie(v string) bool {
	if len(v) < 40 {
		return false
	}
	b, err := base64.URLEncoding.DecodeString(v)
	if err != nil {
		if b, err = base64.RawURLEncoding.DecodeString(v); err != nil {
			return false
		}
	}
	date, rest, ok := strings.Cut(string(b), "|")
	if !ok || date == "" || !allIn(date, func(c byte) bool { return c >= '0' && c <= '9' }) {
		return false
	}
	return strings.Contains(rest, "|")
}

// cookieFrameworks are the names --session-cookie accepts: the frameworks whose
// cookie value decodeCookie knows how to turn into a store id.
var cookieFrameworks = []string{"php", "symfony", "laravel", "express", "fastify", "koa", "spring", "django", "rails", "flask", "gorilla", "plain"}

// Known reports whether a custom session cookie may name this framework ("plain":
// the cookie value is the store id).
func Known(fw string) bool {
	for _, n := range cookieFrameworks {
		if n == fw {
			return true
		}
	}
	return false
}

// Names lists the frameworks Known accepts, for messages.
func Names() []string { return append([]string(nil), cookieFrameworks...) }

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
