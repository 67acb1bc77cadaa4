package framework

import (
	"bytes"
	"encoding/json"
)

// maxSniff bounds how much of a payload the shape checks look at: the decisive part
// is always at the start.
const maxSniff = 4096

// payloadFramework names, among the builtin rows sharing prefix, the framework whose
// payload shape this is, or "" when the payload does not tell. It only looks at the
// shape of the bytes; nothing is decoded beyond a few JSON tokens.
func payloadFramework(prefix string, payload []byte) string {
	if len(payload) == 0 {
		return ""
	}
	switch prefix {
	case "session:":
		// Flask-Session writes msgpack (a map) or, in older versions, pickle (0x80
		// then the protocol); django-redis-sessions writes SessionBase.encode's text:
		// a signed "[.]base64:timestamp:signature" token, or base64 before Django 3.1.
		switch c := payload[0]; {
		case c >= 0x80 && c <= 0x8f, c == 0xde, c == 0xdf:
			return "flask"
		}
		if isDjangoSigned(payload) {
			return "django"
		}
	case "sess:":
		// Both stores JSON-encode the session with its cookie first. express-session's
		// Cookie serialises originalMaxAge first; @fastify/session's starts with
		// expires (its toJSON) or maxAge (older versions without toJSON).
		switch firstCookieKey(payload) {
		case "originalMaxAge":
			return "express"
		case "expires", "maxAge":
			return "fastify"
		}
	}
	return ""
}

// isDjangoSigned reports whether b is printable base64url text with the two colons of
// django.core.signing's "value:timestamp:signature", or plain base64 (the legacy
// encoding, base64 of "hash:json").
func isDjangoSigned(b []byte) bool {
	if len(b) < 2 || len(b) > 1<<20 {
		return false
	}
	if b[0] == '.' { // compressed
		b = b[1:]
	}
	colons := 0
	for _, c := range b {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_', c == '+', c == '/', c == '=':
		case c == ':':
			colons++
		default:
			return false
		}
	}
	return colons == 2 || (colons == 0 && len(b)%4 == 0)
}

// firstCookieKey returns the first key of the "cookie" object that opens a JSON
// session, or "".
func firstCookieKey(payload []byte) string {
	if len(payload) > maxSniff {
		payload = payload[:maxSniff]
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	want := []any{json.Delim('{'), "cookie", json.Delim('{')}
	for _, w := range want {
		tok, err := dec.Token()
		if err != nil || tok != w {
			return ""
		}
	}
	tok, err := dec.Token()
	if err != nil {
		return ""
	}
	k, _ := tok.(string)
	return k
}

// PayloadFits reports whether a payload read under fw may be a session of fw. It only
// says no for rows that guess from the key's shape alone (an empty --prefix, keys
// that are bare UUIDs): there, a key whose payload is not a JSON object is some other
// application's data that happens to be keyed by a UUID, not a session.
func (fw *Framework) PayloadFits(payload []byte) bool {
	if !fw.UUIDOnly {
		return true
	}
	p := bytes.TrimLeft(payload, " \t\r\n")
	if len(p) == 0 || p[0] != '{' {
		return false
	}
	if len(p) > 1<<20 {
		return false
	}
	var obj map[string]json.RawMessage
	return json.Unmarshal(p, &obj) == nil
}
