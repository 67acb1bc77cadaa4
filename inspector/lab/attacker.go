package lab

import (
	"fmt"
	"html"
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
	body := `<form id="plant" method="post" action="/trap"><label>Session id to plant <input name="sid"></label> <button type="submit">Plant</button></form>`
	if sid != "" {
		// A page on a sibling subdomain may set a cookie for the parent domain, which
		// the app's host then receives (seed rule 1: "setting a cross-site cookie").
		w.Header().Add("Set-Cookie", cookieName+"="+sid+"; Domain=lab.localhost; Path=/; SameSite=Lax")
		bank := "http://" + net.JoinHostPort(hostApp, a.proxyPort) + "/login"
		body += fmt.Sprintf(`<p><a id="bank" href="%s">Open your bank</a></p>`, html.EscapeString(bank))
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	fmt.Fprintf(w, `<!doctype html><html><head><meta charset="utf-8"><title>Great offers</title></head><body data-testid="lab-attacker"><h1>Great offers</h1>%s</body></html>`, body)
}
