package cookies

import (
	"net"
	"net/url"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// host is the URL's host as cookies see it: lower case, without port or brackets.
func host(u *url.URL) string {
	if u == nil {
		return ""
	}
	return strings.ToLower(u.Hostname())
}

func isIP(h string) bool { return net.ParseIP(h) != nil }

// registrableDomain is the eTLD+1 of h, or "" when h is an IP address or itself a
// public suffix. Like Chromium's cookie code (which asks
// registry_controlled_domains to include unknown registries), a TLD that is not on
// the Public Suffix List counts as one label of suffix: "sub.localhost" has the
// registrable domain "sub.localhost" and may set Domain=sub.localhost cookies,
// while "localhost" itself has none.
func registrableDomain(h string) string {
	h = strings.TrimPrefix(h, ".")
	if h == "" || isIP(h) || strings.HasSuffix(h, ".") {
		return ""
	}
	d, err := publicsuffix.EffectiveTLDPlusOne(h)
	if err != nil {
		return ""
	}
	return d
}

// siteHost is the host part of a schemeless site: the registrable domain, or the
// whole host when there is none (Chromium's SchemefulSite does the same).
func siteHost(h string) string {
	if d := registrableDomain(h); d != "" {
		return d
	}
	return h
}

// siteScheme folds ws into http and wss into https, as same-site comparisons do.
func siteScheme(u *url.URL) string {
	switch s := strings.ToLower(u.Scheme); s {
	case "ws":
		return "http"
	case "wss":
		return "https"
	default:
		return s
	}
}

// SameSiteURLs reports whether a and b are same-site: same registrable domain (or host,
// without one), and when schemeful, the same scheme (http/ws vs https/wss).
func SameSiteURLs(a, b *url.URL, schemeful bool) bool {
	return sameSiteWith(a, b, schemeful, nil)
}

// sameSiteWith is SameSiteURLs taking host facts from m (nil: computed afresh).
func sameSiteWith(a, b *url.URL, schemeful bool, m *hostMemo) bool {
	if a == nil || b == nil {
		return false
	}
	if m.site(host(a)) != m.site(host(b)) {
		return false
	}
	return !schemeful || siteScheme(a) == siteScheme(b)
}

// IsLocalhost reports whether h is a loopback host by name or address: localhost,
// any *.localhost, 127.0.0.0/8 and ::1. Chromium resolves *.localhost to loopback
// itself and never asks DNS.
func IsLocalhost(h string) bool {
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// SecureContext reports whether u counts as secure for cookies: https and wss, and,
// as in Chromium (cookie_util::ProvisionalAccessScheme), http and ws to a loopback
// host. Such origins may set and receive Secure cookies and are never blocked with
// OverwriteSecure; RFC 6265bis leaves "secure protocol" to the user agent.
func SecureContext(u *url.URL) bool {
	return (*hostMemo)(nil).secureContext(u)
}

// secureContext is SecureContext taking the loopback test from m's facts.
func (m *hostMemo) secureContext(u *url.URL) bool {
	if u == nil {
		return false
	}
	switch strings.ToLower(u.Scheme) {
	case "https", "wss":
		return true
	case "http", "ws":
		if m == nil {
			return IsLocalhost(host(u))
		}
		return m.facts(host(u)).localhost
	}
	return false
}

// DomainMatch is RFC 6265bis §5.1.3: h equals domain, or h ends with "."+domain
// and h is not an IP address.
func DomainMatch(h, domain string) bool {
	h, domain = strings.ToLower(h), strings.ToLower(strings.TrimPrefix(domain, "."))
	if h == domain {
		return true
	}
	return !isIP(h) && strings.HasSuffix(h, "."+domain)
}

// domainMatchLower is DomainMatch for a lower-case h whose IP-ness is known and a
// domain already lower-cased and without its leading dot; it builds no string.
func domainMatchLower(h string, hIsIP bool, domain string) bool {
	if h == domain {
		return true
	}
	return !hIsIP && len(h) > len(domain) && h[len(h)-len(domain)-1] == '.' && strings.HasSuffix(h, domain)
}

// PathMatch is RFC 6265bis §5.1.4.
func PathMatch(reqPath, cookiePath string) bool {
	if reqPath == "" {
		reqPath = "/"
	}
	if reqPath == cookiePath {
		return true
	}
	if !strings.HasPrefix(reqPath, cookiePath) {
		return false
	}
	return strings.HasSuffix(cookiePath, "/") || reqPath[len(cookiePath)] == '/'
}

// DefaultPath is RFC 6265bis §5.1.4's default-path of a request URL: the directory
// of the path, without its trailing slash ("/" at most).
func DefaultPath(u *url.URL) string {
	p := u.EscapedPath()
	if p == "" || p[0] != '/' {
		return "/"
	}
	i := strings.LastIndexByte(p, '/')
	if i == 0 {
		return "/"
	}
	return p[:i]
}

// cookieDomain decides a new cookie's domain as Chromium's
// cookie_util::GetCookieDomainWithString does.
func cookieDomain(u *url.URL, r Raw, m *hostMemo) (domain string, hostOnly bool, ok bool) {
	h := host(u)
	attr := ""
	if r.HasDomain {
		attr = r.Domain
	}
	if attr == "" || (m.isIP(h) && strings.EqualFold(h, attr)) {
		return h, true, true
	}
	for i := 0; i < len(attr); i++ {
		if attr[i] == '%' || attr[i] >= 0x80 || attr[i] == ' ' {
			return "", false, false
		}
	}
	cd := strings.ToLower(attr)
	cd = strings.TrimPrefix(cd, ".")
	if cd == "" {
		return "", false, false
	}
	urlReg := m.registrable(h)
	if urlReg == "" {
		// IP addresses, intranet names, public suffixes: only Domain=<the host>,
		// which makes a host-only cookie (matching IE and Firefox).
		if h == cd {
			return h, true, true
		}
		return "", false, false
	}
	if m.registrable(cd) != urlReg {
		return "", false, false
	}
	if h != cd && !strings.HasSuffix(h, "."+cd) {
		return "", false, false
	}
	return cd, false, true
}

// hostFacts is what cookie decisions need to know about a (lower-case) host.
type hostFacts struct {
	reg       string // registrableDomain(h)
	ip        bool   // isIP(h)
	localhost bool   // IsLocalhost(h)
}

// site is siteHost(h) for the host these facts are of.
func (f hostFacts) site(h string) string {
	if f.reg != "" {
		return f.reg
	}
	return h
}

// hostMemoMax bounds a jar's memo: a browser profile talks to a handful of hosts
// and cookie domains, and a hostile capture naming more only costs recomputing.
const hostMemoMax = 256

// hostMemo remembers hostFacts by host: publicsuffix and net.ParseIP (which fails,
// and allocates its error path, for every name) cost far more than a map lookup, and
// a jar asks them of the same few hosts on every request. A nil memo computes afresh.
// Not safe for concurrent use; a Jar uses it under its lock.
type hostMemo struct {
	m map[string]hostFacts
}

func (m *hostMemo) facts(h string) hostFacts {
	if m != nil {
		if f, ok := m.m[h]; ok {
			return f
		}
	}
	f := hostFacts{reg: registrableDomain(h), ip: isIP(h), localhost: IsLocalhost(h)}
	if m != nil {
		if m.m == nil || len(m.m) >= hostMemoMax {
			m.m = make(map[string]hostFacts)
		}
		m.m[h] = f
	}
	return f
}

// isIP and registrable are isIP and registrableDomain from the memo; a nil memo
// computes only the one asked, so the memo-less paths (WouldStore, WouldSend) cost
// what they did.
func (m *hostMemo) isIP(h string) bool {
	if m == nil {
		return isIP(h)
	}
	return m.facts(h).ip
}

func (m *hostMemo) registrable(h string) string {
	if m == nil {
		return registrableDomain(h)
	}
	return m.facts(h).reg
}

func (m *hostMemo) site(h string) string {
	if m == nil {
		return siteHost(h)
	}
	return m.facts(h).site(h)
}
