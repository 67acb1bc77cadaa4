// Package cookies models the browser's cookie rules, as Chromium applies them:
// would the browser store this Set-Cookie line, would it send this cookie with that
// request, and if not, why. Reasons carry Chromium's own names
// (Network.SetCookieBlockedReason and Network.CookieBlockedReason in the DevTools
// protocol), so a verdict can be held against DevTools.
//
// The model. A request is described by a Context: its URL and method, whether it
// is a top-level navigation, the top-level site it is made for (site for
// cookies), who initiated it, and the time. ParseSetCookie reads a line the way
// Chromium's ParsedCookie does. WouldStore and Jar.Store then build the cookie
// (host-only or Domain, default path, Max-Age over Expires, 400-day cap), check the
// name prefixes, the Secure attribute against the origin, SameSite=None without
// Secure and the SameSite context of the response; Jar.Store also enforces
// "leave secure cookies alone" (OverwriteSecure) and treats an already-expired
// cookie as a deletion. WouldSend and Jar.Send check Secure, domain, path and
// SameSite for a request. Same-site means same registrable domain (eTLD+1 from
// golang.org/x/net/publicsuffix, or the host when there is none) and the same
// scheme (http and ws, https and wss).
//
// Every rule here was checked against Chromium 156 with the table in
// cases_test.go; where Chromium and RFC 6265bis part ways, this package follows
// Chromium:
//
//   - Secure contexts: http to localhost, *.localhost, 127.0.0.0/8 and [::1] may set
//     and receive Secure cookies and may overwrite Secure cookies; __Secure- and
//     __Host- cookies may be set there too. Only other http origins get SecureOnly
//     and OverwriteSecure.
//   - Registrable domains of unknown TLDs: a host under a TLD that is not on the
//     Public Suffix List ("sub.localhost") is its own registrable domain, so
//     Domain=sub.localhost makes a domain cookie, while Domain=localhost or
//     Domain=.localhost from it is InvalidDomain. Domain equal to an IP host makes a
//     host-only cookie (so does Domain equal to a host that is itself a public
//     suffix, per Chromium's source; the table cannot reach such a host).
//   - a.localhost and b.localhost are different sites; so are localhost and
//     127.0.0.1.
//   - Lax by default: a cookie without a valid SameSite attribute is Lax, except
//     that for two minutes after creation it is still sent on a cross-site
//     top-level POST ("Lax+POST", LaxAllowUnsafeMaxAge).
//   - Redirect chains: RFC 6265bis makes a request that was redirected through
//     another site cross-site; Chromium ships that check disabled, so a Strict
//     cookie is still sent after a same-site → cross-site → same-site chain.
//   - Responses to top-level navigations may set Strict and Lax cookies even when
//     the navigation came from another site.
//   - Reason names: on http URLs, Chromium 156 reports every SameSite refusal under
//     its Schemeful* name (SchemefulSameSiteLax, ...) even when both sides use the
//     same scheme; this package reports what DevTools shows. On https the plain
//     names are used unless the context is cross-site only because of the scheme
//     (from Chromium's source; the table has no https origin).
//   - Third-party cookie blocking is a browser setting (Context.
//     BlockThirdPartyCookies; on in headless Chromium): on a cross-site subresource
//     every cookie is then refused with UserPreferences, and a Set-Cookie line
//     reports only that reason.
//
// Not modelled: partitioned cookies (CHIPS) beyond the attribute, cookie count and
// size limits per domain, scheme- and port-bound cookies, clock-skew correction
// from the Date header, and non-HTTP (document.cookie) access.
package cookies
