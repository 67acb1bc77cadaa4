package lab

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/sessionscope/sessionscope/inspector/lab/labstore"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// cookieName is the lab app's session cookie: PHP's default, which sessionscope maps
// to the phpredis keys labstore writes.
const cookieName = "PHPSESSID"

// cacheWarmerDelay is how long after the reports page its cache fill starts: more
// than Redis' one-second LRU clock resolution.
const cacheWarmerDelay = 2500 * time.Millisecond

// filler is the part of a Redis session store that can push it into eviction. It
// writes cache keys, not sessions: the story is a cache sharing the sessions' Redis,
// and sessions written during a request without a cookie for them would read as a
// lost Set-Cookie (cookie-missing).
type filler interface {
	FillCache(ctx context.Context, n, size int) error
}

// app is the lab's login app. Its nodes (web servers) share the app's configuration,
// which /lab/use and the runner change for each scenario: runs are serialized, so one
// configuration is in force at a time.
type app struct {
	store  labstore.SessionStore
	logger *slog.Logger
	clock  clock

	mu       sync.Mutex
	scenario string
	fixed    bool
	knobs    Knobs
	trapSID  string // the id the attacker planted in the trap page

	// background counts session writes and cache fills still to land after their
	// response went out, so the runner knows when the app has gone quiet.
	background sync.WaitGroup
	pending    chan struct{} // one token per background job, for a non-blocking check

	proxyPort    string // the lab's port, for absolute links between lab hosts
	attackerPort string // the attacker's site, outside the proxy
	stylesheet   string // the lab's stylesheet's URL, outside the proxy; "" for none
}

func newApp(store labstore.SessionStore, logger *slog.Logger, c clock) *app {
	return &app{store: store, logger: logger, clock: c, knobs: healthyKnobs(), scenario: "healthy",
		pending: make(chan struct{}, 1<<16)}
}

// configure puts the app in a scenario's broken or fixed configuration.
func (a *app) configure(d definition, fixed bool) {
	k := d.broken
	if fixed {
		k = d.fixed
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.scenario, a.fixed, a.knobs, a.trapSID = d.ID, fixed, k, ""
}

func (a *app) current() Knobs {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.knobs
}

// frame fills what every page shows around its content: the stylesheet, the
// scenario in force and, with a login form, the demo account.
func (a *app) frame(v *pageView) {
	a.mu.Lock()
	id, fixed, css := a.scenario, a.fixed, a.stylesheet
	a.mu.Unlock()
	v.Stylesheet = css
	if d, ok := definitionOf(id); ok {
		v.Scenario = d.Title
		// The healthy baseline has no broken variant to tell from its twin.
		if len(d.Expected) > 0 {
			v.Variant, v.Fixed = "broken", fixed
			if fixed {
				v.Variant = "fixed twin"
			}
		}
	}
	if v.LoginAction != "" {
		v.Credentials = labUser + " / " + labPassword
	}
}

// quiet reports whether no background write or fill is outstanding.
func (a *app) quiet() bool { return len(a.pending) == 0 }

// later runs f after the response, counted so the runner can wait for it.
func (a *app) later(f func()) {
	a.background.Add(1)
	a.pending <- struct{}{}
	go func() {
		defer func() { <-a.pending; a.background.Done() }()
		f()
	}()
}

// node is one of the app's web servers. With node-local stores its name is the
// keyspace it keeps sessions in.
type node struct {
	name string
	app  *app
}

// request is one request being served, with its session.
type request struct {
	a     *app
	k     Knobs
	store string // labstore node: "" for the shared store
	w     http.ResponseWriter
	r     *http.Request
	s     *session
	// redirected marks a redirect response: with WriteAfterResponse the session is
	// written after it went out.
	redirected bool
	begun      bool
}

// session is the request's view of its session, as $_SESSION is PHP's.
type session struct {
	id       string
	data     labstore.Session
	loaded   bool // it exists in the store
	issue    bool // the id is new to the browser: send Set-Cookie
	dirty    bool
	ended    bool // destroyed during this request
	oldToDel string
}

func (n *node) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a := n.app
	k := a.current()
	if r.URL.Path == "/lab/use" {
		a.use(w, r)
		return
	}
	if k.CanonicalHost != "" && hostname(r.Host) != k.CanonicalHost {
		u := *r.URL
		u.Scheme, u.Host = "http", net.JoinHostPort(k.CanonicalHost, a.proxyPort)
		http.Redirect(w, r, u.String(), http.StatusMovedPermanently)
		return
	}
	rq := &request{a: a, k: k, w: w, r: r}
	if !k.SharedStore {
		rq.store = n.name
	}
	if err := rq.serve(); err != nil {
		a.logger.Warn("lab app: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		http.Error(w, "the lab app failed: "+err.Error(), http.StatusInternalServerError)
	}
}

func (rq *request) serve() error {
	r := rq.r
	if r.ParseForm() != nil {
		return rq.page(http.StatusBadRequest, pageView{Title: "Bad request", Message: "The form could not be read."})
	}
	path := r.URL.Path
	if r.Method == http.MethodPost && path != "/trap" {
		// Cross-site form posts are what SameSite guards against; the lab's forms are
		// same-site, so other sites' posts are refused like a CSRF check would.
		if o := r.Header.Get("Origin"); o != "" && !rq.sameHostFamily(o) {
			return rq.page(http.StatusForbidden, pageView{Title: "Forbidden", Message: "Cross-site form refused."})
		}
	}
	switch {
	case path == "/login" || path == "/auth/login":
		if r.Method == http.MethodPost {
			return rq.loginPost()
		}
		return rq.loginForm("")
	case path == "/dashboard":
		return rq.dashboard()
	case path == "/account":
		return rq.account()
	case path == "/logout" && r.Method == http.MethodPost:
		return rq.logout()
	case path == "/partner":
		return rq.partner()
	case path == "/reports":
		return rq.reports()
	case path == "/":
		return rq.redirect(rq.appURL("/dashboard"))
	}
	http.NotFound(rq.w, r)
	return nil
}

// sameHostFamily accepts origins on lab hosts (any port on loopback names).
func (rq *request) sameHostFamily(origin string) bool {
	u, err := url.Parse(origin)
	return err == nil && isLabHost(u.Hostname())
}

// isLabHost reports the hosts the lab serves.
func isLabHost(h string) bool {
	h = strings.ToLower(h)
	return h == hostMain || h == hostOther || h == hostHTTP || strings.HasSuffix(h, ".localhost") || h == "127.0.0.2"
}

// hostname is a Host header without its port.
func hostname(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return strings.ToLower(h)
	}
	return strings.ToLower(hostport)
}

// hostURL builds an absolute URL on a lab host at the lab's port; host "" is the
// request's own host.
func (rq *request) hostURL(host, path string) string {
	if host == "" {
		host = hostname(rq.r.Host)
	}
	return "http://" + net.JoinHostPort(host, rq.a.proxyPort) + path
}

func (rq *request) loginURL() string { return rq.hostURL(rq.k.LoginHost, rq.k.LoginPath) }
func (rq *request) appURL(p string) string {
	return rq.hostURL(rq.k.AppHost, p)
}

// begin loads the session the request carries, if any. It never creates one: pages
// that need a session call start, as an app that only starts sessions it writes to.
func (rq *request) begin() error {
	rq.begun = true
	if rq.k.HeadersAlreadySent {
		return nil // PHP 8 refuses to start a session after output: $_SESSION stays empty
	}
	ids := rq.candidateIDs()
	for _, id := range ids {
		data, ok, err := rq.a.store.Load(rq.r.Context(), rq.store, id)
		if err != nil {
			return fmt.Errorf("load the session: %w", err)
		}
		if ok {
			// Several cookies of one name arrive when a sibling domain planted one:
			// the first the store knows wins, so a planted unknown id cannot shadow
			// the real session.
			rq.s = &session{id: id, data: data, loaded: true}
			return rq.checks()
		}
	}
	if !rq.k.StrictMode && len(ids) > 0 {
		// Without strict mode, PHP adopts an id it never issued (OWASP: reject ids the server never issued, CWE-384).
		rq.s = &session{id: ids[0], data: labstore.Session{}}
	}
	return nil
}

// candidateIDs are the well-formed session ids the request carries, cookies first.
// Everything read here is untrusted: anything but a plausible id is ignored.
func (rq *request) candidateIDs() []string {
	var ids []string
	for _, c := range rq.r.Cookies() {
		if c.Name == cookieName && validID(c.Value) {
			ids = append(ids, c.Value)
		}
	}
	if rq.k.SessionIDInURL {
		if v := rq.r.URL.Query().Get(cookieName); validID(v) {
			ids = append(ids, v)
		}
	}
	return ids
}

// validID accepts what PHP accepts as a session id: 22 to 128 of [a-zA-Z0-9,-].
func validID(id string) bool {
	if len(id) < 22 || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == ',' || c == '-') {
			return false
		}
	}
	return true
}

// checks applies the fingerprint check (bind the session to its client) and the absolute timeout (a session ends after a fixed lifetime)
// to a loaded session; either destroys it.
func (rq *request) checks() error {
	s := rq.s
	if s.data.String("user") == "" {
		return nil
	}
	if rq.k.CheckFingerprint && s.data.String("_ua") != "" {
		net, ua := clientNetwork(rq.r), rq.r.UserAgent()
		if net != s.data.String("_net") && ua != s.data.String("_ua") {
			rq.a.logger.Info("lab app: possible session hijacking: session destroyed", "net", net)
			return rq.destroy()
		}
	}
	if t := rq.k.AbsoluteTimeout; t > 0 && rq.a.clock.Now().Sub(time.UnixMilli(s.data.Int("login_at"))) > t {
		return rq.destroy()
	}
	return nil
}

// clientNetwork is the client's loose fingerprint network, as a loose IP
// check keeps the first two blocks of an IPv4 address (a /48 for IPv6). Loopback
// addresses are kept whole: the lab plays a stranger on 127.0.0.2, which a /16 would
// not tell from the user on 127.0.0.1 (sessionscope's hijack rules do the same).
func clientNetwork(r *http.Request) string {
	addr, err := netip.ParseAddr(clientIP(r))
	if err != nil {
		return "unknown"
	}
	addr = addr.Unmap()
	if addr.IsLoopback() {
		return addr.String()
	}
	bits := 16
	if addr.Is6() {
		bits = 48
	}
	p, _ := addr.Prefix(bits)
	return p.String()
}

// clientIP is the browser's address: the last X-Forwarded-For entry, which the lab's
// own proxy appended (the nodes listen on loopback ports only it dials), else the peer.
func clientIP(r *http.Request) string {
	if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
		parts := strings.Split(xff[len(xff)-1], ",")
		return strings.TrimSpace(parts[len(parts)-1])
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// start makes sure the request has a session, creating one with a fresh id.
func (rq *request) start() {
	if rq.s == nil {
		rq.s = &session{id: newSessionID(), data: labstore.Session{}, issue: true, dirty: true}
	}
}

// regenerate gives the session a new id; the old one is deleted (renew the id at login, OWASP Session Management:
// session_regenerate_id(true)).
func (rq *request) regenerate() {
	s := rq.s
	if s.loaded {
		s.oldToDel = s.id
	}
	s.id, s.loaded, s.issue, s.dirty = newSessionID(), false, true, true
}

// destroy deletes the session server-side and clears the cookie.
func (rq *request) destroy() error {
	s := rq.s
	if s == nil {
		return nil
	}
	if s.loaded {
		if err := rq.slowStore(); err != nil {
			return err
		}
		if err := rq.a.store.Destroy(rq.r.Context(), rq.store, s.id); err != nil {
			return fmt.Errorf("destroy the session: %w", err)
		}
	}
	s.ended = true
	rq.clearCookie()
	return nil
}

// slowStore is the store's latency for a write made while serving the request.
func (rq *request) slowStore() error {
	if err := rq.a.clock.Pass(rq.r.Context(), rq.k.StoreLatency); err != nil {
		return fmt.Errorf("wait for the slow store: %w", err)
	}
	return nil
}

// newSessionID makes a 26-character id from PHP's default alphabet
// (sid_bits_per_character=5): 130 random bits.
func newSessionID() string {
	const chars = "0123456789abcdefghijklmnopqrstuv"
	var b [26]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = chars[b[i]&31]
	}
	return string(b[:])
}

// cookieLine renders the session cookie as the knobs say, with the one Set-Cookie
// writer sessionscope has (model.SetCookie.Line).
func (rq *request) cookieLine(value string, maxAge int) string {
	k := rq.k
	c := model.SetCookie{Name: cookieName, Value: value, Path: k.CookiePath, Domain: k.CookieDomain,
		Secure: k.Secure, HTTPOnly: k.HTTPOnly, SameSite: k.SameSite}
	if maxAge != 0 {
		seconds := max(maxAge, 0) // a negative age deletes the cookie: Max-Age=0
		c.MaxAge = &seconds
	}
	return c.Line()
}

func (rq *request) clearCookie() {
	if rq.k.HeadersAlreadySent {
		return
	}
	rq.w.Header().Add("Set-Cookie", rq.cookieLine("deleted", -1))
}

// commitHeaders adds the session cookie and, unless the write is to land after the
// response, writes the session.
func (rq *request) commit() error {
	s := rq.s
	if s == nil || s.ended || rq.k.HeadersAlreadySent {
		// After output, PHP 8 never started the session: nothing to write or send.
		return nil
	}
	if s.oldToDel != "" {
		if err := rq.slowStore(); err != nil {
			return err
		}
		if err := rq.a.store.Destroy(rq.r.Context(), rq.store, s.oldToDel); err != nil {
			return fmt.Errorf("delete the old session at regeneration: %w", err)
		}
		s.oldToDel = ""
	}
	if s.issue {
		rq.w.Header().Add("Set-Cookie", rq.cookieLine(s.id, rq.k.MaxAge))
	}
	if rq.k.WriteAfterResponse && rq.redirected {
		id, data, loaded, dirty, k, store, clock := s.id, s.data, s.loaded, s.dirty, rq.k, rq.a.store, rq.a.clock
		node := rq.store
		rq.a.later(func() {
			// The write lands when the latency has gone by, whatever the browser does
			// meanwhile: it must not make time pass for the browser.
			_ = clock.Await(context.Background(), k.StoreLatency)
			if err := write(context.Background(), store, node, id, data, loaded, dirty, k.IdleTimeout); err != nil {
				rq.a.logger.Warn("lab app: late session write failed", "err", err)
			}
		})
		return nil
	}
	if err := rq.slowStore(); err != nil {
		return err
	}
	return write(rq.r.Context(), rq.a.store, rq.store, s.id, s.data, s.loaded, s.dirty, rq.k.IdleTimeout)
}

// write saves a changed (or new) session, or refreshes the TTL of an unchanged one,
// as phpredis' lazy write does.
func write(ctx context.Context, store labstore.SessionStore, node, id string, data labstore.Session, loaded, dirty bool, ttl time.Duration) error {
	switch {
	case dirty || !loaded:
		if err := store.Save(ctx, node, id, data, ttl); err != nil {
			return fmt.Errorf("save the session: %w", err)
		}
	case ttl > 0:
		if err := store.Touch(ctx, node, id, ttl); err != nil && !errors.Is(err, labstore.ErrNotFound) {
			return fmt.Errorf("refresh the session's TTL: %w", err)
		}
	}
	return nil
}

// redirect commits the session and sends a 302.
func (rq *request) redirect(to string) error {
	rq.redirected = true
	if err := rq.commit(); err != nil {
		return err
	}
	if rq.k.HeadersAlreadySent {
		// header('Location: ...') fails like the session did ("Cannot modify header
		// information"): the response is the stray output alone, a blank page.
		rq.w.Header().Set("Content-Type", "text/html; charset=utf-8")
		rq.w.WriteHeader(http.StatusOK)
		_, err := io.WriteString(rq.w, "\n")
		return err
	}
	http.Redirect(rq.w, rq.r, to, http.StatusFound)
	return nil
}

// page commits the session and renders a page. The page is rendered before anything
// is sent, so a failed render never leaves half a page.
func (rq *request) page(status int, v pageView) error {
	if err := rq.commit(); err != nil {
		return err
	}
	rq.a.frame(&v)
	var buf bytes.Buffer
	if err := renderPage(&buf, v); err != nil {
		return err
	}
	h := rq.w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	rq.w.WriteHeader(status)
	_, err := buf.WriteTo(rq.w)
	return err
}

// link is a link on one of the app's pages; with SessionIDInURL the session id is
// appended to links to the request's own host, as use_trans_sid does.
func (rq *request) link(id, href, text string) pageLink {
	if rq.k.SessionIDInURL && rq.s != nil && !rq.s.ended && strings.Contains(href, "://"+hostname(rq.r.Host)) {
		sep := "?"
		if strings.Contains(href, "?") {
			sep = "&"
		}
		href += sep + cookieName + "=" + url.QueryEscape(rq.s.id)
	}
	return pageLink{ID: id, Href: href, Text: text}
}

func (rq *request) loginForm(problem string) error {
	if !rq.begun {
		if err := rq.begin(); err != nil {
			return err
		}
	}
	status := http.StatusOK
	if problem != "" {
		status = http.StatusUnauthorized
	}
	return rq.page(status, pageView{Title: "Log in", Alert: problem, LoginAction: rq.loginURL()})
}

func (rq *request) loginPost() error {
	if err := rq.begin(); err != nil {
		return err
	}
	if !credentialsOK(rq.r.PostFormValue("user"), rq.r.PostFormValue("password")) {
		return rq.loginForm("Wrong user or password.")
	}
	if rq.s == nil || rq.k.Regenerate {
		if rq.s == nil {
			rq.start()
		} else {
			rq.regenerate()
		}
	}
	s := rq.s
	s.data["user"] = labUser
	s.data["user_id"] = 1
	s.data["login_at"] = rq.a.clock.Now().UnixMilli()
	s.data["_net"] = clientNetwork(rq.r)
	s.data["_ua"] = rq.r.UserAgent()
	s.dirty = true
	return rq.redirect(rq.appURL("/dashboard"))
}

// credentialsOK compares in constant time: the password is untrusted input.
func credentialsOK(user, password string) bool {
	u := subtle.ConstantTimeCompare([]byte(user), []byte(labUser))
	p := subtle.ConstantTimeCompare([]byte(password), []byte(labPassword))
	return u&p == 1
}

// loggedIn loads the session and reports whether it belongs to a logged-in user;
// otherwise it has sent the browser to the login page.
func (rq *request) loggedIn() (bool, error) {
	if err := rq.begin(); err != nil {
		return false, err
	}
	if rq.s == nil || rq.s.ended || rq.s.data.String("user") == "" {
		return false, rq.redirect(rq.loginURL())
	}
	return true, nil
}

func (rq *request) dashboard() error {
	ok, err := rq.loggedIn()
	if !ok || err != nil {
		return err
	}
	partner := rq.hostURL(hostOther, "/partner?return="+url.QueryEscape("/dashboard"))
	return rq.page(http.StatusOK, pageView{Title: "Dashboard", Message: "Welcome, " + rq.s.data.String("user") + ".",
		Links: []pageLink{
			rq.link("dashboard", rq.appURL("/dashboard"), "Refresh"),
			rq.link("account", rq.appURL("/account"), "Account"),
			rq.link("reports", rq.appURL("/reports"), "Reports"),
			rq.link("partner", partner, "Continue at PartnerPay"),
		},
		LogoutAction: rq.appURL("/logout")})
}

// account is the critical action: deleting the account asks for the password again
// (re-authenticate before sensitive actions), so a stolen session alone cannot do it.
func (rq *request) account() error {
	ok, err := rq.loggedIn()
	if !ok || err != nil {
		return err
	}
	v := pageView{Title: "Account", ConfirmAction: rq.appURL("/account"),
		Links: []pageLink{rq.link("dashboard", rq.appURL("/dashboard"), "Dashboard")}}
	if rq.r.Method != http.MethodPost {
		return rq.page(http.StatusOK, v)
	}
	if !credentialsOK(rq.s.data.String("user"), rq.r.PostFormValue("password")) {
		v.Alert = "The password is wrong: the critical action needs it."
		return rq.page(http.StatusForbidden, v)
	}
	rq.s.data["confirmed_at"] = rq.a.clock.Now().UnixMilli()
	rq.s.dirty = true
	v.ConfirmAction, v.Message = "", "Confirmed (the lab deletes nothing)."
	return rq.page(http.StatusOK, v)
}

func (rq *request) logout() error {
	if err := rq.begin(); err != nil {
		return err
	}
	if rq.s != nil && !rq.s.ended {
		if rq.k.LogoutDestroys {
			if err := rq.destroy(); err != nil {
				return err
			}
		} else {
			// Only the cookie goes; the session stays in the store (the mistake of a logout that does not destroy the session).
			rq.clearCookie()
			rq.s = nil
		}
	}
	return rq.redirect(rq.loginURL())
}

// partner is the other site's page (an identity provider, a payment page): a link
// back to the shop, which is a cross-site navigation.
func (rq *request) partner() error {
	back := rq.r.URL.Query().Get("return")
	if !strings.HasPrefix(back, "/") || strings.HasPrefix(back, "//") || strings.ContainsAny(back, "\r\n\\") {
		back = "/dashboard"
	}
	return rq.page(http.StatusOK, pageView{Title: "PartnerPay", Message: "You are on another site.",
		Links: []pageLink{{ID: "back", Href: rq.hostURL(hostMain, back), Text: "Back to the shop"}}})
}

// reports fills the session store's Redis with cache entries after the response, as
// a cache warmer sharing the sessions' Redis would.
func (rq *request) reports() error {
	ok, err := rq.loggedIn()
	if !ok || err != nil {
		return err
	}
	if n := rq.k.CacheBytes; n > 0 {
		if f, ok := rq.a.store.(filler); ok {
			rq.a.later(func() {
				// Redis' LRU clock ticks in seconds: a fill in the same second as the
				// session's last use leaves the session as recent as the cache and its
				// eviction a coin toss. The warmer runs a moment after the page, as a
				// background job would, so the idle session is the oldest key.
				time.Sleep(cacheWarmerDelay)
				const size = 16 << 10
				if err := f.FillCache(context.Background(), n/size, size); err != nil {
					rq.a.logger.Warn("lab app: cache fill failed", "err", err)
				}
			})
		}
	}
	return rq.page(http.StatusOK, pageView{Title: "Reports", Message: "The report is being cached.",
		Links: []pageLink{rq.link("dashboard", rq.appURL("/dashboard"), "Dashboard")}})
}

// use configures the lab for a scenario and opens its start page on the right host:
// the link a trainer gives a real browser.
func (a *app) use(w http.ResponseWriter, r *http.Request) {
	d, ok := definitionOf(r.URL.Query().Get("scenario"))
	if !ok {
		http.Error(w, ErrUnknownScenario.Error(), http.StatusNotFound)
		return
	}
	fixed := r.URL.Query().Get("fixed") == "1"
	a.configure(d, fixed)
	start := d.script[0]
	for _, act := range d.script {
		if act.Actor == ActorVictim && act.Do == DoOpen {
			start = act
			break
		}
	}
	port := a.proxyPort
	if start.Host == hostEvil {
		port = a.attackerPort
	}
	http.Redirect(w, r, "http://"+net.JoinHostPort(start.Host, port)+start.Path, http.StatusFound)
}
