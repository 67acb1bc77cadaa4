package model

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
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
func (x *Exchange) MarshalJSON() ([]byte, error) {
	type plain Exchange
	c := plain(*x)
	c.Type = TypeExchange
	if c.CookiesSent == nil {
		c.CookiesSent = []SentCookie{}
	}
	if c.SetCookies == nil {
		c.SetCookies = []SetCookie{}
	}
	return json.Marshal(&c)
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
