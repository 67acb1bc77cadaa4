package model

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Exchange sources, the `source` field of an exchange.
const (
	SourceProxy = "proxy"
	SourceHAR   = "har"
)

// Exchange is one HTTP request seen by the reverse proxy or read from a HAR
// (`type: exchange`). Cookie values are kept in json:"-" fields for session mapping and
// cookie rules; they are bearer credentials and never serialised.
type Exchange struct {
	Type        string    `json:"type"`
	Seq         uint64    `json:"seq"`
	ID          string    `json:"id"`
	Start       time.Time `json:"start"`
	HeadersSent time.Time `json:"headers_sent"`
	End         time.Time `json:"end"`
	Method      string    `json:"method"`
	URL         string    `json:"url"` // session ids in it masked
	Status      int       `json:"status"`
	Location    string    `json:"location,omitempty"` // session ids in it masked
	Client      Client    `json:"client"`
	Upstream    string    `json:"upstream,omitempty"`
	// UpstreamName is the name the upstream was given (--proxy-to NAME=URL), which the
	// flow's lanes and the Requests table show; omitted when it is Upstream itself.
	UpstreamName string       `json:"upstream_name,omitempty"`
	CookiesSent  []SentCookie `json:"cookies_sent"`
	SetCookies   []SetCookie  `json:"set_cookies"`
	SessionRef   string       `json:"session_ref,omitempty"` // the session the request carried
	Source       string       `json:"source,omitempty"`      // SourceProxy or SourceHAR
	// CookiesBlocked are the session cookies the browser held but would not send on
	// this request, with Chromium's reason (filled by the cookie-rule replay).
	CookiesBlocked []BlockedCookie `json:"cookies_blocked,omitempty"`

	// Internal annotations for traffic consumers and diagnosis rules; never serialised.

	// ValuesStripped marks an exchange whose cookie values were removed or redacted
	// (a sanitized HAR): conclusions that need a value (session refs, sizes) could not
	// be reached from it.
	ValuesStripped bool `json:"-"`
	// Upgraded marks a protocol upgrade (websocket); End is when the tunnel closed.
	Upgraded bool `json:"-"`
	// Error is why no upstream response was received (the proxy answered 502), or the
	// browser's error for a failed HAR entry.
	Error string `json:"-"`
	// RawURL is the unmasked request URL. It may hold session ids: never print it.
	RawURL string `json:"-"`
	// RawLocation is the unmasked Location header.
	RawLocation string `json:"-"`
	// RawReferer is the unmasked Referer request header; it may hold session ids.
	RawReferer string `json:"-"`
	// InjectedHeaders are response header lines that carry CR/LF-smuggled request input
	// or a raw CR/LF (response splitting), found at capture time; values masked.
	InjectedHeaders []string `json:"-"`
	// LoginForm marks an HTML response that holds a password input: a login form.
	// Served in place of the page asked for, it says "not logged in" without a redirect.
	LoginForm bool `json:"-"`
	// ClientRedirect marks an HTML response with a meta refresh or a script that
	// assigns the location: a page that may send the browser on by itself, as a
	// redirect without a 3xx.
	ClientRedirect bool `json:"-"`
}

// BlockedCookie is a cookie the browser held but did not send, and why.
type BlockedCookie struct {
	Name       string `json:"name"`
	SessionRef string `json:"session_ref,omitempty"`
	Reason     string `json:"reason"`           // Chromium's name, e.g. NotOnPath
	Detail     string `json:"detail,omitempty"` // the attribute at fault and the URL, in words
}

// Client is the requesting client of an exchange.
type Client struct {
	Addr string `json:"addr"`
	UA   string `json:"ua"`
}

// SentCookie is a cookie the request carried.
type SentCookie struct {
	Name       string `json:"name"`
	SessionRef string `json:"session_ref,omitempty"`

	Value string `json:"-"` // a bearer credential: never serialised
}

// SetCookie is one Set-Cookie line of the response. Stored and Reason are the browser's
// verdict (Chromium's reason names) when it is known.
type SetCookie struct {
	Name       string     `json:"name"`
	Domain     string     `json:"domain,omitempty"`
	Path       string     `json:"path,omitempty"`
	Secure     bool       `json:"secure"`
	HTTPOnly   bool       `json:"http_only"`
	SameSite   string     `json:"same_site,omitempty"` // Strict, Lax, None; empty: unspecified
	Expires    *time.Time `json:"expires,omitempty"`
	MaxAge     *int       `json:"max_age,omitempty"` // 0: delete now
	SessionRef string     `json:"session_ref,omitempty"`
	Stored     *bool      `json:"stored,omitempty"`
	Reason     string     `json:"reason,omitempty"`

	Value       string `json:"-"` // a bearer credential: never serialised
	Raw         string `json:"-"` // the Set-Cookie line as received (holds the value)
	Partitioned bool   `json:"-"`
	ParseError  string `json:"-"` // why net/http rejected the line; Name is a best effort then
}

// Line writes the cookie back as a Set-Cookie header value, for records that have no
// raw line (a HAR's response.cookies). It holds the value, a bearer credential: never
// log or print it. Expires is written in the IMF-fixdate form (RFC 1123 with GMT) that
// browsers and HAR readers expect, and every attribute the record keeps is written,
// Partitioned included, so the browser's rules judge the same cookie.
func (c SetCookie) Line() string {
	var b strings.Builder
	b.WriteString(c.Name + "=" + c.Value)
	if c.Domain != "" {
		b.WriteString("; Domain=" + c.Domain)
	}
	if c.Path != "" {
		b.WriteString("; Path=" + c.Path)
	}
	if c.Expires != nil {
		b.WriteString("; Expires=" + c.Expires.UTC().Format(http.TimeFormat))
	}
	if c.MaxAge != nil {
		b.WriteString("; Max-Age=" + strconv.Itoa(*c.MaxAge))
	}
	if c.Secure {
		b.WriteString("; Secure")
	}
	if c.HTTPOnly {
		b.WriteString("; HttpOnly")
	}
	if c.SameSite != "" {
		b.WriteString("; SameSite=" + c.SameSite)
	}
	if c.Partitioned {
		b.WriteString("; Partitioned")
	}
	return b.String()
}

// ObjectSeq implements Object.
func (x *Exchange) ObjectSeq() uint64 { return x.Seq }

// SetSeq implements Object.
func (x *Exchange) SetSeq(s uint64) { x.Seq = s }

// MarshalJSON fixes the type and writes empty cookie lists as [] rather than null.
func (x *Exchange) MarshalJSON() ([]byte, error) { return x.AppendJSON(nil) }

// AppendJSON appends the exchange's JSON (what MarshalJSON returns) to dst. It writes
// the fields by hand, byte for byte what encoding/json writes for the struct tags
// above (HTML-escaped strings, RFC 3339 times, omitempty), because the proxy encodes
// every exchange it sees for the NDJSON stream and the hub, and reflection was a
// visible share of its CPU per request. exchange_json_test.go holds the reflection
// encoding and compares the two; change both together.
func (x *Exchange) AppendJSON(dst []byte) ([]byte, error) {
	if !x.jsonTimesPlain() {
		// A time encoding/json refuses or writes unusually: let it decide.
		return x.marshalReflect(dst)
	}
	dst = append(dst, `{"type":`...)
	dst = appendJSONString(dst, TypeExchange)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendUint(dst, x.Seq, 10)
	dst = append(dst, `,"id":`...)
	dst = appendJSONString(dst, x.ID)
	dst = append(dst, `,"start":`...)
	dst = appendJSONTime(dst, x.Start)
	dst = append(dst, `,"headers_sent":`...)
	dst = appendJSONTime(dst, x.HeadersSent)
	dst = append(dst, `,"end":`...)
	dst = appendJSONTime(dst, x.End)
	dst = append(dst, `,"method":`...)
	dst = appendJSONString(dst, x.Method)
	dst = append(dst, `,"url":`...)
	dst = appendJSONString(dst, x.URL)
	dst = append(dst, `,"status":`...)
	dst = strconv.AppendInt(dst, int64(x.Status), 10)
	dst = appendOmitEmpty(dst, `,"location":`, x.Location)
	dst = append(dst, `,"client":{"addr":`...)
	dst = appendJSONString(dst, x.Client.Addr)
	dst = append(dst, `,"ua":`...)
	dst = appendJSONString(dst, x.Client.UA)
	dst = append(dst, '}')
	dst = appendOmitEmpty(dst, `,"upstream":`, x.Upstream)
	dst = appendOmitEmpty(dst, `,"upstream_name":`, x.UpstreamName)
	dst = append(dst, `,"cookies_sent":[`...)
	for i, c := range x.CookiesSent {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"name":`...)
		dst = appendJSONString(dst, c.Name)
		dst = appendOmitEmpty(dst, `,"session_ref":`, c.SessionRef)
		dst = append(dst, '}')
	}
	dst = append(dst, `],"set_cookies":[`...)
	for i := range x.SetCookies {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = x.SetCookies[i].appendJSON(dst)
	}
	dst = append(dst, ']')
	dst = appendOmitEmpty(dst, `,"session_ref":`, x.SessionRef)
	dst = appendOmitEmpty(dst, `,"source":`, x.Source)
	if len(x.CookiesBlocked) > 0 {
		dst = append(dst, `,"cookies_blocked":[`...)
		for i, c := range x.CookiesBlocked {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"name":`...)
			dst = appendJSONString(dst, c.Name)
			dst = appendOmitEmpty(dst, `,"session_ref":`, c.SessionRef)
			dst = append(dst, `,"reason":`...)
			dst = appendJSONString(dst, c.Reason)
			dst = appendOmitEmpty(dst, `,"detail":`, c.Detail)
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	return append(dst, '}'), nil
}

// appendJSON appends the cookie's JSON as encoding/json writes it for its tags.
func (c *SetCookie) appendJSON(dst []byte) []byte {
	dst = append(dst, `{"name":`...)
	dst = appendJSONString(dst, c.Name)
	dst = appendOmitEmpty(dst, `,"domain":`, c.Domain)
	dst = appendOmitEmpty(dst, `,"path":`, c.Path)
	dst = append(dst, `,"secure":`...)
	dst = strconv.AppendBool(dst, c.Secure)
	dst = append(dst, `,"http_only":`...)
	dst = strconv.AppendBool(dst, c.HTTPOnly)
	dst = appendOmitEmpty(dst, `,"same_site":`, c.SameSite)
	if c.Expires != nil {
		dst = append(dst, `,"expires":`...)
		dst = appendJSONTime(dst, *c.Expires)
	}
	if c.MaxAge != nil {
		dst = append(dst, `,"max_age":`...)
		dst = strconv.AppendInt(dst, int64(*c.MaxAge), 10)
	}
	dst = appendOmitEmpty(dst, `,"session_ref":`, c.SessionRef)
	if c.Stored != nil {
		dst = append(dst, `,"stored":`...)
		dst = strconv.AppendBool(dst, *c.Stored)
	}
	dst = appendOmitEmpty(dst, `,"reason":`, c.Reason)
	return append(dst, '}')
}

// marshalReflect is the encoding by reflection, for the exchanges AppendJSON leaves
// to encoding/json.
func (x *Exchange) marshalReflect(dst []byte) ([]byte, error) {
	type plain Exchange
	c := plain(*x)
	c.Type = TypeExchange
	if c.CookiesSent == nil {
		c.CookiesSent = []SentCookie{}
	}
	if c.SetCookies == nil {
		c.SetCookies = []SetCookie{}
	}
	b, err := json.Marshal(&c)
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}

// jsonTimesPlain reports whether every time of the exchange is one appendJSONTime
// writes as time.Time.MarshalJSON does: a year in 0..9999 and a zone offset under 24
// hours (MarshalJSON fails on anything else).
func (x *Exchange) jsonTimesPlain() bool {
	if !jsonTimePlain(x.Start) || !jsonTimePlain(x.HeadersSent) || !jsonTimePlain(x.End) {
		return false
	}
	for i := range x.SetCookies {
		if e := x.SetCookies[i].Expires; e != nil && !jsonTimePlain(*e) {
			return false
		}
	}
	return true
}

func jsonTimePlain(t time.Time) bool {
	// Instants a day inside the years 0..9999 are in range in any zone: two
	// comparisons instead of working out the date of every time.
	if t.Before(jsonTimeMin) || t.After(jsonTimeMax) {
		if y := t.Year(); y < 0 || y > 9999 {
			return false
		}
	}
	if t.Location() == time.UTC {
		return true
	}
	_, offset := t.Zone()
	return offset > -24*3600 && offset < 24*3600
}

var (
	jsonTimeMin = time.Date(0, 1, 2, 0, 0, 0, 0, time.UTC)
	jsonTimeMax = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
)

// appendJSONTime writes t as time.Time.MarshalJSON does (RFC 3339 with nanoseconds,
// quoted); jsonTimePlain(t) must hold.
func appendJSONTime(dst []byte, t time.Time) []byte {
	dst = append(dst, '"')
	dst = t.AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"')
}

const jsonHex = "0123456789abcdef"

// appendJSONString writes s quoted as encoding/json does with HTML escaping on (its
// default for json.Marshal): <, > and & as \u003c, \u003e, \u0026; the short
// escapes for \, ", \b, \f, \n, \r, \t; other control bytes as \u00XX; invalid UTF-8
// as \ufffd; U+2028 and U+2029 escaped. encoding/json offers no exported string
// appender, and jsontext's AppendQuote escapes differently.
// appendOmitEmpty appends key and the string v, as encoding/json's omitempty does: not
// at all when v is empty.
func appendOmitEmpty(dst []byte, key, v string) []byte {
	if v == "" {
		return dst
	}
	return appendJSONString(append(dst, key...), v)
}

func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', jsonHex[b>>4], jsonHex[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', jsonHex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// Clone returns a deep copy, so that a consumer may stamp or annotate its own copy
// while the producer keeps another.
func (x *Exchange) Clone() *Exchange {
	c := *x
	c.CookiesSent = append([]SentCookie(nil), x.CookiesSent...)
	c.CookiesBlocked = append([]BlockedCookie(nil), x.CookiesBlocked...)
	c.InjectedHeaders = append([]string(nil), x.InjectedHeaders...)
	c.SetCookies = make([]SetCookie, len(x.SetCookies))
	for i, sc := range x.SetCookies {
		if sc.Expires != nil {
			t := *sc.Expires
			sc.Expires = &t
		}
		if sc.MaxAge != nil {
			m := *sc.MaxAge
			sc.MaxAge = &m
		}
		if sc.Stored != nil {
			b := *sc.Stored
			sc.Stored = &b
		}
		c.SetCookies[i] = sc
	}
	if x.SetCookies == nil {
		c.SetCookies = nil
	}
	return &c
}

// SessionRefs lists the sessions the exchange carried (its SessionRef and the cookies
// sent), set, or held back, in that order; a ref may repeat.
func (x *Exchange) SessionRefs() []string {
	var out []string
	add := func(r string) {
		if r != "" {
			out = append(out, r)
		}
	}
	add(x.SessionRef)
	for _, c := range x.CookiesSent {
		add(c.SessionRef)
	}
	for _, c := range x.SetCookies {
		add(c.SessionRef)
	}
	for _, c := range x.CookiesBlocked {
		add(c.SessionRef)
	}
	return out
}
