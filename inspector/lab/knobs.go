package lab

import "time"

// Knobs configure the lab app's session layer for one run: each scenario breaks it
// one way, and its fixed twin sets it right. The zero value is not useful; start from
// healthyKnobs, which is what the fixed version of every scenario configures.
type Knobs struct {
	// Cookie attributes of PHPSESSID.
	CookieDomain string // "" host-only
	CookiePath   string // "/" unless a scenario narrows it
	Secure       bool
	HTTPOnly     bool
	SameSite     string // "Lax", "Strict", "None" or "" (not set)
	MaxAge       int    // seconds; 0 is a browser-session cookie

	// Regenerate gives the session a new id at login and deletes the old one (OWASP: renew the session id after login).
	Regenerate bool
	// StrictMode refuses ids the server never issued instead of adopting them (OWASP:
	// reject unknown ids; PHP's session.use_strict_mode).
	StrictMode bool
	// WriteAfterResponse writes the session after the response went out, as an app
	// that redirects before session_write_close() does; StoreLatency then decides how
	// far behind the redirect the write lands.
	WriteAfterResponse bool
	// StoreLatency delays every session write, as a slow or distant store would.
	StoreLatency time.Duration

	// Nodes is how many app servers sit behind the round-robin proxy; SharedStore
	// says whether they share one session store or each keeps its own.
	Nodes       int
	SharedStore bool

	// IdleTimeout is the store TTL, refreshed on each request (phpredis SETEX with
	// session.gc_maxlifetime); 0 writes keys without a TTL.
	IdleTimeout time.Duration
	// AbsoluteTimeout ends a session this long after login however active it is;
	// 0 never does.
	AbsoluteTimeout time.Duration
	// LogoutDestroys deletes the session server-side at logout (OWASP: invalidate the session at logout); without
	// it logout only clears the cookie.
	LogoutDestroys bool
	// CheckFingerprint remembers the client's network and User-Agent at login and
	// destroys the session when both change (bind the session to its client).
	CheckFingerprint bool
	// HeadersAlreadySent makes every page send output before session_start(), with
	// output buffering off, as PHP 8 handles it: the session never starts (nothing is
	// read or written, no Set-Cookie), and a Location header fails too, so a redirect
	// becomes a blank 200 page.
	HeadersAlreadySent bool
	// SessionIDInURL appends the session id to the app's links and accepts it from the
	// query (PHP's session.use_trans_sid with use_only_cookies off).
	SessionIDInURL bool

	// LoginHost and AppHost are the hosts the login form and the protected pages live
	// on ("" means whatever host the request came to); LoginPath is the login page.
	LoginHost string
	AppHost   string
	LoginPath string
	// CanonicalHost redirects every request for another host to this one, as an app
	// that redirects http to https does; "" serves every host.
	CanonicalHost string
	// CacheBytes is how much the reports page writes into the session store's Redis as
	// cache (needs Redis); 0 keeps the cache elsewhere.
	CacheBytes int
}

// healthyKnobs is the session layer done right: an explicit, tight cookie, a new id at
// login, strict ids, writes committed before the redirect, one shared store, server
// expiry, real logout, a fingerprint check.
func healthyKnobs() Knobs {
	return Knobs{
		CookiePath: "/", Secure: true, HTTPOnly: true, SameSite: "Lax",
		Regenerate: true, StrictMode: true,
		Nodes: 2, SharedStore: true,
		IdleTimeout: 24 * time.Minute, LogoutDestroys: true, CheckFingerprint: true,
		LoginPath: "/login",
	}
}
