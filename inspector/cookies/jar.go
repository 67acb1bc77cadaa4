package cookies

import (
	"errors"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// MaxExpiry is how far ahead Chromium lets a cookie expire (RFC 6265bis: 400 days);
// later Expires and larger Max-Age are clamped.
const MaxExpiry = 400 * 24 * time.Hour

// LaxAllowUnsafeMaxAge is Chromium's "Lax+POST" window: a cookie without a SameSite
// attribute that is at most this old is still sent on a cross-site top-level
// navigation with an unsafe method (a form POST), so that sign-in flows which POST
// back from an identity provider keep working.
const LaxAllowUnsafeMaxAge = 2 * time.Minute

// Context is the request a cookie is stored from or sent with.
type Context struct {
	// URL is the request's URL (for storing: the URL of the response carrying the
	// Set-Cookie line).
	URL *url.URL
	// Method is the HTTP method; "" means GET. Only GET, HEAD, OPTIONS and TRACE are
	// safe for Lax cookies on cross-site navigations.
	Method string
	// TopLevelNav marks a main-frame navigation (link, form, location change,
	// typed URL), as opposed to a subresource, fetch or iframe load.
	TopLevelNav bool
	// SiteForCookies is the URL of the top-level document the request is made for.
	// It is ignored for top-level navigations (the site is the URL's own), and nil
	// means the URL's own as well.
	SiteForCookies *url.URL
	// Initiator is the origin of the document that started the request; nil means
	// the browser itself (address bar, bookmark), which is same-site.
	Initiator *url.URL
	// RedirectChain lists the URLs that redirected to URL, oldest first. RFC
	// 6265bis makes a chain that leaves the site cross-site; Chromium (156) ships
	// that rule disabled (kCookieSameSiteConsidersRedirectChain), so, matching it,
	// the chain does not change any verdict. It is kept for callers' diagnostics.
	RedirectChain []*url.URL
	// BlockThirdPartyCookies is the browser's "block third-party cookies"
	// setting: cookies on subresource requests whose URL is cross-site with the
	// top-level site are then neither sent nor stored (UserPreferences). Chrome's
	// incognito mode and headless Chromium (observed in 156) block them.
	BlockThirdPartyCookies bool
	// Now is the time of the request; zero means time.Now().
	Now time.Time
}

func (c Context) now() time.Time {
	if c.Now.IsZero() {
		return time.Now()
	}
	return c.Now
}

func (c Context) siteForCookies() *url.URL {
	if c.TopLevelNav || c.SiteForCookies == nil {
		return c.URL
	}
	return c.SiteForCookies
}

func (c Context) safeMethod() bool {
	switch strings.ToUpper(c.Method) {
	case "", "GET", "HEAD", "OPTIONS", "TRACE":
		return true
	}
	return false
}

// level is how same-site a context is, from least to most.
type level int

const (
	crossSite level = iota
	laxMethodUnsafe
	sameSiteLax
	sameSiteStrict
)

// requestLevel follows Chromium's ComputeSameSiteContextForRequest: strict when URL,
// site-for-cookies and initiator are same-site; lax (or lax-method-unsafe) for a
// top-level navigation started from another site; cross-site otherwise.
func (c Context) requestLevel(schemeful bool) level {
	return c.requestLevelWith(schemeful, nil)
}

// requestLevelWith is requestLevel taking host facts from m.
func (c Context) requestLevelWith(schemeful bool, m *hostMemo) level {
	if !sameSiteWith(c.siteForCookies(), c.URL, schemeful, m) {
		return crossSite
	}
	if c.Initiator == nil || sameSiteWith(c.Initiator, c.URL, schemeful, m) {
		return sameSiteStrict
	}
	if c.TopLevelNav {
		if c.safeMethod() {
			return sameSiteLax
		}
		return laxMethodUnsafe
	}
	return crossSite
}

// responseLevel follows ComputeSameSiteContextForResponse: a top-level navigation's
// response may set every cookie; otherwise the response is lax when its URL is
// same-site with the site-for-cookies, whoever initiated it.
func (c Context) responseLevel(schemeful bool, m *hostMemo) level {
	if c.TopLevelNav {
		return sameSiteStrict
	}
	if !sameSiteWith(c.siteForCookies(), c.URL, schemeful, m) {
		return crossSite
	}
	return sameSiteLax
}

// thirdParty reports a subresource request whose URL is not same-site (with
// schemes) with the top-level site: what third-party cookie blocking applies to.
func (c Context) thirdParty() bool {
	return c.thirdPartyWith(nil)
}

// thirdPartyWith is thirdParty taking host facts from m.
func (c Context) thirdPartyWith(m *hostMemo) bool {
	return !c.TopLevelNav && !sameSiteWith(c.siteForCookies(), c.URL, true, m)
}

// schemefulLabels reports whether SameSite refusals carry Chromium's Schemeful*
// names. Chromium uses them when the schemeless context would have allowed the
// cookie (http vs https of one site); Chromium 156 also uses them for every
// SameSite refusal on an http (or ws) URL, whatever the sites, so that is what
// DevTools shows and what this package reports.
func (c Context) schemefulLabels() bool {
	s := strings.ToLower(c.URL.Scheme)
	return s == "http" || s == "ws"
}

// Cookie is a cookie as the browser holds it.
type Cookie struct {
	Name  string
	Value string
	// Domain is the host (HostOnly) or the domain the cookie is for, without a
	// leading dot.
	Domain       string
	HostOnly     bool
	Path         string
	Secure       bool
	HTTPOnly     bool
	SameSite     SameSite
	Partitioned  bool
	Expires      time.Time // zero for session cookies
	Persistent   bool
	Created      time.Time
	SourceScheme string // "Secure" or "NonSecure", as DevTools reports it
}

// Expired reports whether the cookie has expired at now.
func (c Cookie) Expired(now time.Time) bool {
	return c.Persistent && !c.Expires.After(now)
}

func (c Cookie) sameKey(o Cookie) bool {
	return c.Name == o.Name && c.Domain == o.Domain && c.HostOnly == o.HostOnly && c.Path == o.Path &&
		c.Partitioned == o.Partitioned
}

// Verdict is the browser's decision on one Set-Cookie line.
type Verdict struct {
	// Stored reports that the cookie is in the jar now.
	Stored bool
	// Deleted reports that the line was an expiry (Max-Age<=0 or a past Expires)
	// and removed an equivalent stored cookie. Chromium reports no reason for an
	// expired cookie: it is a deletion, not a refusal.
	Deleted bool
	// Reasons say why the line was refused, in Chromium's order; empty when stored
	// or when it only expired.
	Reasons []Reason
	// Cookie is the cookie the line describes (as far as it could be built).
	Cookie Cookie
	// Raw is the parsed line.
	Raw Raw
}

// Blocked is a stored cookie that was not sent, and why.
type Blocked struct {
	Cookie  Cookie
	Reasons []Reason
}

// build turns a parsed line into a cookie for ctx and checks everything that does
// not depend on the jar: Chromium's CanonicalCookie::Create and
// IsSetPermittedInContext.
func build(ctx Context, line string) Verdict {
	return buildWith(ctx, line, nil, nil)
}

// buildWith is build taking host facts from m (nil: computed afresh) and parsed
// lines from lines (nil: parsed afresh).
func buildWith(ctx Context, line string, m *hostMemo, lines *lineMemo) Verdict {
	var v Verdict
	if ctx.URL == nil {
		v.Reasons = []Reason{UnknownError}
		return v
	}
	switch strings.ToLower(ctx.URL.Scheme) {
	case "http", "https", "ws", "wss":
	default:
		v.Reasons = []Reason{SchemeNotSupported}
		return v
	}
	raw, err := lines.parse(line)
	v.Raw = raw
	if err != nil {
		var pe *ParseError
		if errors.As(err, &pe) {
			v.Reasons = []Reason{pe.Reason}
		} else {
			v.Reasons = []Reason{SyntaxError}
		}
		return v
	}
	now := ctx.now()
	c := Cookie{
		Name: raw.Name, Value: raw.Value,
		Secure: raw.Secure, HTTPOnly: raw.HTTPOnly, SameSite: raw.SameSite,
		Partitioned: raw.Partitioned, Created: now, SourceScheme: "NonSecure",
	}
	if s := strings.ToLower(ctx.URL.Scheme); s == "https" || s == "wss" {
		c.SourceScheme = "Secure"
	}
	domain, hostOnly, ok := cookieDomain(ctx.URL, raw, m)
	if !ok {
		v.Cookie = c
		v.Reasons = []Reason{InvalidDomain}
		return v
	}
	c.Domain, c.HostOnly = domain, hostOnly
	c.Path = DefaultPath(ctx.URL)
	if raw.HasPath && strings.HasPrefix(raw.Path, "/") {
		c.Path = raw.Path
	}
	switch {
	case raw.HasMaxAge:
		c.Persistent = true
		if raw.MaxAge <= 0 {
			c.Expires = time.Unix(0, 0).UTC()
		} else if time.Duration(raw.MaxAge) > MaxExpiry/time.Second {
			c.Expires = now.Add(MaxExpiry)
		} else {
			c.Expires = now.Add(time.Duration(raw.MaxAge) * time.Second)
		}
	case raw.HasExpires:
		c.Persistent = true
		c.Expires = raw.Expires
		if c.Expires.After(now.Add(MaxExpiry)) {
			c.Expires = now.Add(MaxExpiry)
		}
	}
	v.Cookie = c

	if !prefixOK(ctx.URL, raw) {
		v.Reasons = []Reason{InvalidPrefix}
		return v
	}

	if ctx.BlockThirdPartyCookies && ctx.thirdPartyWith(m) {
		// Chromium checks the cookie settings first and reports only them.
		v.Reasons = []Reason{UserPreferences}
		return v
	}
	var rs []Reason
	if c.Secure && !m.secureContext(ctx.URL) {
		rs = append(rs, SecureOnly)
	}
	if c.SameSite == SameSiteNone && !c.Secure {
		rs = append(rs, SameSiteNoneInsecure)
	}
	if r, blocked := sameSiteReason(c, ctx.responseLevel(true, m), ctx.responseLevel(false, m), ctx.schemefulLabels(), false, now); blocked {
		rs = append(rs, r)
	}
	v.Reasons = sortReasons(rs, setOrder)
	return v
}

// prefixOK checks the __Secure- and __Host- name prefixes (matched
// case-insensitively, as RFC 6265bis and Chromium now do): both need the Secure
// attribute and a secure origin; __Host- also needs no Domain attribute and Path=/.
func prefixOK(u *url.URL, r Raw) bool {
	lower := strings.ToLower(r.Name)
	secure := strings.HasPrefix(lower, "__secure-")
	hostp := strings.HasPrefix(lower, "__host-")
	if !secure && !hostp {
		return true
	}
	if !r.Secure || !SecureContext(u) {
		return false
	}
	if hostp {
		return !r.HasDomain && r.HasPath && r.Path == "/"
	}
	return true
}

// sameSiteReason decides a SameSite verdict in a context, computed schemefully and
// schemelessly; when only the schemeful computation blocks, or when labels says so,
// the reason is the Schemeful* one, as in Chromium.
func sameSiteReason(c Cookie, schemeful, schemeless level, labels, sending bool, now time.Time) (Reason, bool) {
	blocks := func(l level) bool {
		switch c.SameSite {
		case SameSiteStrictMode:
			if sending {
				return l < sameSiteStrict
			}
			return l < sameSiteLax // a Lax-capable response may set Strict cookies
		case SameSiteLaxMode:
			return l < sameSiteLax
		case SameSiteUnspecified:
			if sending && l == laxMethodUnsafe && !c.Created.IsZero() && now.Sub(c.Created) <= LaxAllowUnsafeMaxAge {
				return false
			}
			return l < sameSiteLax
		}
		return false
	}
	if !blocks(schemeful) {
		return "", false
	}
	fromScheme := labels || !blocks(schemeless)
	switch c.SameSite {
	case SameSiteStrictMode:
		if fromScheme {
			return SchemefulSameSiteStrict, true
		}
		return SameSiteStrict, true
	case SameSiteLaxMode:
		if fromScheme {
			return SchemefulSameSiteLax, true
		}
		return SameSiteLax, true
	default:
		if fromScheme {
			return SchemefulSameSiteUnspecifiedTreatedAsLax, true
		}
		return SameSiteUnspecifiedTreatedAsLax, true
	}
}

// WouldStore is the jar-independent part of Store: whether the browser accepts the
// line in ctx at all. It cannot report OverwriteSecure (that needs the jar) and
// reports an expiring line as not stored with no reasons.
func WouldStore(ctx Context, line string) Verdict {
	v := build(ctx, line)
	if len(v.Reasons) == 0 && !v.Cookie.Expired(ctx.now()) {
		v.Stored = true
	}
	return v
}

// WouldSend reports whether c would be sent with the request in ctx and, if not,
// why, in Chromium's order. An expired cookie is not sent and has no reason:
// Chromium forgets it rather than blocking it.
func WouldSend(c Cookie, ctx Context) (ok bool, reasons []Reason) {
	now := ctx.now()
	if ctx.URL == nil || c.Expired(now) {
		return false, nil
	}
	h := host(ctx.URL)
	var rs []Reason
	if c.Secure && !SecureContext(ctx.URL) {
		rs = append(rs, SecureOnly)
	}
	if c.HostOnly && h != strings.ToLower(c.Domain) || !c.HostOnly && !DomainMatch(h, c.Domain) {
		rs = append(rs, DomainMismatch)
	}
	p := ctx.URL.EscapedPath()
	if p == "" {
		p = "/"
	}
	if !PathMatch(p, c.Path) {
		rs = append(rs, NotOnPath)
	}
	if r, blocked := sameSiteReason(c, ctx.requestLevel(true), ctx.requestLevel(false), ctx.schemefulLabels(), true, now); blocked {
		rs = append(rs, r)
	}
	if c.SameSite == SameSiteNone && !c.Secure {
		rs = append(rs, SameSiteNoneInsecure)
	}
	if ctx.BlockThirdPartyCookies && ctx.thirdParty() {
		rs = append(rs, UserPreferences)
	}
	return len(rs) == 0, sortReasons(rs, sendOrder)
}

// The order DevTools lists reasons in (content/browser/devtools' mapping of
// CookieInclusionStatus): a Schemeful* name takes the place of its plain one.
var (
	setOrder = []Reason{SecureOnly, SameSiteStrict, SchemefulSameSiteStrict, SameSiteLax,
		SchemefulSameSiteLax, SameSiteUnspecifiedTreatedAsLax, SchemefulSameSiteUnspecifiedTreatedAsLax,
		SameSiteNoneInsecure, UserPreferences, ThirdPartyPhaseout, SyntaxError, SchemeNotSupported,
		OverwriteSecure, InvalidDomain, InvalidPrefix, UnknownError, NameValuePairExceedsMaxSize,
		DisallowedCharacter, NoCookieContent}
	sendOrder = []Reason{SecureOnly, NotOnPath, DomainMismatch, SameSiteStrict, SchemefulSameSiteStrict,
		SameSiteLax, SchemefulSameSiteLax, SameSiteUnspecifiedTreatedAsLax,
		SchemefulSameSiteUnspecifiedTreatedAsLax, SameSiteNoneInsecure, UserPreferences,
		ThirdPartyPhaseout, UnknownError, NameValuePairExceedsMaxSize, PortMismatch, SchemeMismatch}
)

func sortReasons(rs []Reason, order []Reason) []Reason {
	if len(rs) <= 1 {
		if len(rs) == 0 {
			return nil
		}
		return rs // the common case, and sorting costs a closure and an allocation
	}
	sort.SliceStable(rs, func(i, j int) bool {
		return slices.Index(order, rs[i]) < slices.Index(order, rs[j])
	})
	return rs
}

// Jar is a browser's cookie store for one profile, with Chromium's rules. It is
// safe for concurrent use. The zero value is an empty jar.
//
// Send and Store run once per exchange in the live proxy path and per HAR entry in
// analysis, against jars of up to a few thousand cookies, so the jar keeps what
// depends only on a cookie (its site, its lower-cased domain, whether that is an IP
// address) with it, and what depends only on a host (registrable domain, IP-ness,
// loopback) in a small memo, instead of asking publicsuffix and net.ParseIP again for
// every cookie on every request. The verdicts are WouldSend's and build's exactly.
type Jar struct {
	mu      sync.Mutex
	entries []heldCookie
	// nextExpiry is the earliest Expires among the persistent cookies held (zero
	// when none is), or earlier: before it no cookie can have expired, so the scan
	// that drops expired cookies is skipped.
	nextExpiry time.Time
	hosts      hostMemo
	lines      lineMemo
}

// heldCookie is a stored cookie with the facts Send needs from it, computed once.
type heldCookie struct {
	Cookie
	// site is the site key the cookie is filed under: siteHost of its domain.
	site string
	// domain is Cookie.Domain lower-cased, for the host-only comparison, and
	// matchDomain the same without a leading dot, for DomainMatch.
	domain, matchDomain string
}

func (j *Jar) entryLocked(c Cookie) heldCookie {
	d := strings.ToLower(c.Domain)
	return heldCookie{Cookie: c, site: j.hosts.site(d), domain: d, matchDomain: strings.TrimPrefix(d, ".")}
}

// Store applies one Set-Cookie line received in ctx, as the browser would, and
// returns the verdict.
func (j *Jar) Store(ctx Context, setCookie string) Verdict {
	j.mu.Lock()
	defer j.mu.Unlock()
	v := buildWith(ctx, setCookie, &j.hosts, &j.lines)
	if len(v.Reasons) > 0 {
		return v
	}
	c := v.Cookie
	now := ctx.now()
	j.dropExpiredLocked(now)
	if !j.hosts.secureContext(ctx.URL) {
		// RFC 6265bis §5.7 step 16 ("leave secure cookies alone"): an insecure
		// origin may not overwrite, delete or shadow a Secure cookie of the same name
		// whose domain matches either way and on whose path the new one sits.
		for i := range j.entries {
			e := &j.entries[i].Cookie
			if e.Secure && e.Name == c.Name &&
				(DomainMatch(e.Domain, c.Domain) || DomainMatch(c.Domain, e.Domain)) &&
				PathMatch(c.Path, e.Path) {
				v.Reasons = []Reason{OverwriteSecure}
				return v
			}
		}
	}
	for i := range j.entries {
		e := &j.entries[i].Cookie
		if e.sameKey(c) {
			if e.Value == c.Value {
				// Chromium keeps the creation date when the value does not change, so
				// re-setting a cookie does not reopen the Lax+POST window.
				c.Created = e.Created
			}
			j.entries = slices.Delete(j.entries, i, i+1)
			if c.Expired(now) {
				v.Deleted = true
			}
			break
		}
	}
	v.Cookie = c
	if c.Expired(now) {
		return v
	}
	j.appendLocked(c)
	v.Stored = true
	return v
}

func (j *Jar) appendLocked(c Cookie) {
	j.entries = append(j.entries, j.entryLocked(c))
	j.noteExpiryLocked(c)
}

func (j *Jar) noteExpiryLocked(c Cookie) {
	if c.Persistent && (j.nextExpiry.IsZero() || c.Expires.Before(j.nextExpiry)) {
		j.nextExpiry = c.Expires
	}
}

// Add puts c in the jar as is, replacing a cookie with the same name, domain and
// path; for seeding a jar with what a browser already holds.
func (j *Jar) Add(c Cookie) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for i := range j.entries {
		if j.entries[i].sameKey(c) {
			j.entries[i] = j.entryLocked(c)
			j.noteExpiryLocked(c)
			return
		}
	}
	j.appendLocked(c)
}

// Cookies returns the unexpired cookies in the jar at now (zero: time.Now()), in
// the order they were stored.
func (j *Jar) Cookies(now time.Time) []Cookie {
	if now.IsZero() {
		now = time.Now()
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.dropExpiredLocked(now)
	if len(j.entries) == 0 {
		return nil
	}
	cs := make([]Cookie, len(j.entries))
	for i := range j.entries {
		cs[i] = j.entries[i].Cookie
	}
	return cs
}

func (j *Jar) dropExpiredLocked(now time.Time) {
	if j.nextExpiry.IsZero() || now.Before(j.nextExpiry) {
		return // no persistent cookie, or none expired yet: Expired needs !Expires.After(now)
	}
	j.entries = slices.DeleteFunc(j.entries, func(e heldCookie) bool { return e.Expired(now) })
	j.nextExpiry = time.Time{}
	for i := range j.entries {
		j.noteExpiryLocked(j.entries[i].Cookie)
	}
}

// Send returns the cookies the browser would send with the request in ctx, in
// Cookie-header order (longer paths first, then older first), and the cookies it
// considered but blocked, with reasons. Like Chromium's DevTools
// (associatedCookies), it only considers cookies filed under the request's site
// key: the registrable domain, or the host when it has none.
func (j *Jar) Send(ctx Context) (sent []Cookie, blocked []Blocked) {
	if ctx.URL == nil {
		return nil, nil
	}
	now := ctx.now()
	j.mu.Lock()
	defer j.mu.Unlock()
	j.dropExpiredLocked(now)
	// What WouldSend computes from the request alone, once for all cookies.
	h := host(ctx.URL)
	hf := j.hosts.facts(h)
	key := hf.site(h)
	secure := j.hosts.secureContext(ctx.URL)
	p := ctx.URL.EscapedPath()
	if p == "" {
		p = "/"
	}
	schemeful := ctx.requestLevelWith(true, &j.hosts)
	schemeless := ctx.requestLevelWith(false, &j.hosts)
	labels := ctx.schemefulLabels()
	thirdParty := ctx.BlockThirdPartyCookies && ctx.thirdPartyWith(&j.hosts)
	for i := range j.entries {
		e := &j.entries[i]
		if e.site != key {
			continue
		}
		// The checks and their order are WouldSend's (expired cookies were dropped
		// above, with the same now).
		var rs []Reason
		if e.Secure && !secure {
			rs = append(rs, SecureOnly)
		}
		if e.HostOnly && h != e.domain || !e.HostOnly && !domainMatchLower(h, hf.ip, e.matchDomain) {
			rs = append(rs, DomainMismatch)
		}
		if !PathMatch(p, e.Path) {
			rs = append(rs, NotOnPath)
		}
		if r, blocks := sameSiteReason(e.Cookie, schemeful, schemeless, labels, true, now); blocks {
			rs = append(rs, r)
		}
		if e.SameSite == SameSiteNone && !e.Secure {
			rs = append(rs, SameSiteNoneInsecure)
		}
		if thirdParty {
			rs = append(rs, UserPreferences)
		}
		if len(rs) == 0 {
			sent = append(sent, e.Cookie)
		} else {
			blocked = append(blocked, Blocked{Cookie: e.Cookie, Reasons: sortReasons(rs, sendOrder)})
		}
	}
	// SortStableFunc rather than sort.SliceStable: the same order, without the
	// reflection-built swapper allocated on every request.
	slices.SortStableFunc(sent, func(a, b Cookie) int {
		if len(a.Path) != len(b.Path) {
			return len(b.Path) - len(a.Path)
		}
		return a.Created.Compare(b.Created)
	})
	return sent, blocked
}

// lineMemoMax is how many Set-Cookie lines a jar remembers parsed. A server sends a
// client the same few lines again and again (a refreshed session cookie, a
// preference); a capture of ever-new lines only costs the lookup.
const lineMemoMax = 8

// lineMemo remembers ParseSetCookie's results by line, within lineMemoMax (cleared
// when full: simpler than an LRU, and a miss only costs the parse). Not safe for
// concurrent use; a Jar uses it under its lock. A nil memo parses afresh.
type lineMemo struct {
	// Pointers keep an idle jar's map small: a Raw is a few hundred bytes.
	m map[string]*parsedLine
}

type parsedLine struct {
	raw Raw
	err error
}

func (m *lineMemo) parse(line string) (Raw, error) {
	if m == nil {
		return ParseSetCookie(line)
	}
	p, ok := m.m[line]
	if !ok {
		p = &parsedLine{}
		p.raw, p.err = ParseSetCookie(line)
		if m.m == nil || len(m.m) >= lineMemoMax {
			m.m = make(map[string]*parsedLine, lineMemoMax)
		}
		m.m[line] = p
	}
	raw := p.raw
	// The verdict hands Raw to the caller: its one slice must not be the memo's.
	raw.Ignored = slices.Clone(raw.Ignored)
	return raw, p.err
}

// CookieHeader renders cookies as a Cookie request header value.
func CookieHeader(cs []Cookie) string {
	var b strings.Builder
	for i, c := range cs {
		if i > 0 {
			b.WriteString("; ")
		}
		if c.Name != "" {
			b.WriteString(c.Name)
			b.WriteByte('=')
		}
		b.WriteString(c.Value)
	}
	return b.String()
}
