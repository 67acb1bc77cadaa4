package ui

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// CookiePrefix starts the name of every login cookie the dashboard sets. Browsers send
// a cookie to every port of a host, so the name carries the dashboard's port
// (AuthCookieName): two dashboards on one machine keep their logins apart, and the
// proxy can tell the dashboard's cookie from the app's and strip it.
const CookiePrefix = "sessionscope_auth"

// MinTokenLength is the shortest --token accepted: a shorter one can be guessed even
// through the login throttle.
const MinTokenLength = 16

// LoginMaxAge is how long a login lasts: the cookie's Max-Age and the server-side
// entry's lifetime. A working day, so a dashboard left open does not keep a stolen
// cookie useful for long.
const LoginMaxAge = 12 * time.Hour

// maxLogins bounds the server-side login table; only a token holder can add to it.
const maxLogins = 1024

// AuthCookieName is the login cookie's name for a dashboard on port: the port keeps it
// apart from other dashboards' cookies on the same host; under TLS it is
// __Host-prefixed, which browsers bind to the exact origin.
func AuthCookieName(port string, tls bool) string {
	if tls {
		return "__Host-" + CookiePrefix
	}
	return CookiePrefix + "_" + port
}

// GenerateToken makes a random dashboard token (32 hex digits, 128 bits).
func GenerateToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate a dashboard token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// NeedsToken reports whether a dashboard listening on listen is reachable from other
// machines, so must have a token. A malformed address is CheckBind's to report.
func NeedsToken(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	return err == nil && !isLoopbackHost(host)
}

// tokenAuth checks the dashboard token. A login gets a random id, unrelated to the
// token, kept in a server-side table until it expires or its owner logs out: a cookie
// captured on the way (a HAR, a proxy log) stops working at logout, and a restart
// logs everyone out. Wrong tokens are throttled per client address.
type tokenAuth struct {
	tokenSum [32]byte
	enabled  bool
	log      *slog.Logger
	port     func() string // the dashboard's bound port, for the cookie name
	now      func() time.Time
	throttle *failureThrottle

	mu     sync.Mutex
	logins map[[32]byte]time.Time // sha256 of a login id -> its expiry
}

func newTokenAuth(token string, log *slog.Logger, port func() string) *tokenAuth {
	return &tokenAuth{enabled: token != "", tokenSum: sha256.Sum256([]byte(token)), log: log, port: port,
		now: time.Now, throttle: newFailureThrottle(), logins: map[[32]byte]time.Time{}}
}

// Enabled implements handlers.Auth.
func (a *tokenAuth) Enabled() bool { return a.enabled }

// check compares a submitted token in constant time: both sides are hashed first, so
// the time taken does not depend on the submitted token's length.
func (a *tokenAuth) check(token string) bool {
	if !a.enabled {
		return false
	}
	sum := sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(sum[:], a.tokenSum[:]) == 1
}

// attempt checks a token submitted by r's client through the throttle: a client
// that failed too often is refused for retryAfter without its token being checked.
// Every failure is logged with the client's address, never with the token.
func (a *tokenAuth) attempt(r *http.Request, token, via string) (ok bool, retryAfter time.Duration) {
	client := clientAddr(r)
	now := a.now()
	if wait, first := a.throttle.blocked(client, now); wait > 0 {
		if first {
			a.log.Warn("dashboard login throttled: too many wrong tokens from this address", "client", client, "via", via,
				"retry_after", wait.Round(time.Second))
		}
		return false, wait
	}
	if a.check(token) {
		a.throttle.succeeded(client)
		return true, 0
	}
	failures, lock := a.throttle.failed(client, now)
	a.log.Warn("dashboard login failed: wrong token", "client", client, "via", via, "failures", failures,
		"locked_for", lock)
	return false, 0
}

// LogIn implements handlers.Auth.
func (a *tokenAuth) LogIn(r *http.Request, token string) (*http.Cookie, time.Duration) {
	if !a.enabled {
		return nil, 0
	}
	ok, wait := a.attempt(r, token, "login form")
	if !ok {
		return nil, wait
	}
	raw := make([]byte, 32)
	_, _ = rand.Read(raw) // crypto/rand.Read never fails on supported platforms
	id := hex.EncodeToString(raw)
	now := a.now()
	a.mu.Lock()
	a.pruneLocked(now)
	a.logins[sha256.Sum256([]byte(id))] = now.Add(LoginMaxAge)
	a.mu.Unlock()
	return a.cookie(r, id, int(LoginMaxAge/time.Second)), 0
}

// LogOut implements handlers.Auth: the login r carries is deleted on the server, so a
// copy of its cookie is refused from now on.
func (a *tokenAuth) LogOut(r *http.Request) *http.Cookie {
	if c, err := r.Cookie(a.cookieName(r)); err == nil {
		a.mu.Lock()
		delete(a.logins, sha256.Sum256([]byte(c.Value)))
		a.mu.Unlock()
	}
	return a.cookie(r, "", -1)
}

func (a *tokenAuth) cookieName(r *http.Request) string { return AuthCookieName(a.port(), r.TLS != nil) }

func (a *tokenAuth) cookie(r *http.Request, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: a.cookieName(r), Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode}
}

// pruneLocked drops expired logins, and the oldest ones while the table is full.
func (a *tokenAuth) pruneLocked(now time.Time) {
	for k, exp := range a.logins {
		if !now.Before(exp) {
			delete(a.logins, k)
		}
	}
	for len(a.logins) >= maxLogins {
		var oldest [32]byte
		var oldestExp time.Time
		for k, exp := range a.logins {
			if oldestExp.IsZero() || exp.Before(oldestExp) {
				oldest, oldestExp = k, exp
			}
		}
		delete(a.logins, oldest)
	}
}

func (a *tokenAuth) validLogin(id string) bool {
	key := sha256.Sum256([]byte(id))
	a.mu.Lock()
	defer a.mu.Unlock()
	exp, ok := a.logins[key]
	if ok && !a.now().Before(exp) {
		delete(a.logins, key)
		return false
	}
	return ok
}

// authorize decides whether r may pass: it carries the token (Authorization: Bearer),
// which goes through the same throttle as the login form, or a live login cookie.
// retryAfter > 0 means the client is throttled.
func (a *tokenAuth) authorize(r *http.Request) (ok bool, retryAfter time.Duration) {
	if !a.enabled {
		return true, 0
	}
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, found := strings.Cut(h, " ")
		if !found || !strings.EqualFold(scheme, "Bearer") {
			return false, 0
		}
		return a.attempt(r, strings.TrimSpace(tok), "bearer")
	}
	if c, err := r.Cookie(a.cookieName(r)); err == nil {
		return a.validLogin(c.Value), 0
	}
	return false, 0
}

// clientAddr is the address the throttle counts failures against: the connection's
// peer (never a forwarded-for header, which the client writes), with an IPv6 address
// cut to its /64, which one client usually holds whole.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.To4() != nil {
		return host
	}
	return (&net.IPNet{IP: ip.Mask(net.CIDRMask(64, 128)), Mask: net.CIDRMask(64, 128)}).String()
}
