package lab

import (
	"fmt"
	"html/template"
	"io"
	"net/http"
)

// The lab app's pages are one layout: a page shows, in this order, an alert, a
// message, the login or the confirm form, its links and the logout form, each only
// when set. html/template escapes every value by context (text, attribute, URL), so
// nothing a request carries (a return path, a typed user name) can end up as markup.
// The templates are written on one line each because the browser scripts and the
// Chromium parity test read these pages: they keep the bytes the app always sent.
// Every page names the scenario in force and links the lab's stylesheet, which is
// served outside the proxy: its requests are not the app's traffic, so they add no
// exchange (and no finding) to what a trainer shows.
const (
	labPageHTML = `<!doctype html><html><head><meta charset="utf-8"><title>{{.Title}} · sessionscope lab</title>` +
		`{{with .Stylesheet}}<link rel="stylesheet" href="{{.}}">{{end}}</head>` +
		`<body data-testid="lab-page">` +
		`{{with .Scenario}}<header class="lab-banner" data-testid="lab-banner"><span class="lab-brand">sessionscope lab</span> ` +
		`<strong data-testid="lab-scenario">{{.}}</strong>{{with $.Variant}} <span class="lab-variant{{if $.Fixed}} fixed{{end}}" data-testid="lab-variant">{{.}}</span>{{end}}</header>{{end}}` +
		`<main><h1>{{.Title}}</h1>` +
		`{{with .Alert}}<p role=alert>{{.}}</p>{{end}}` +
		`{{with .Message}}<p>{{.}}</p>{{end}}` +
		`{{with .LoginAction}}<form id="login" method="post" action="{{.}}">` +
		`<label>User <input name="user" autocomplete="username"></label> ` +
		`<label>Password <input name="password" type="password" autocomplete="current-password"></label> ` +
		`<button type="submit">Log in</button></form>` +
		`{{with $.Credentials}}<p class="lab-credentials" data-testid="lab-credentials">Demo account: {{.}}</p>{{end}}{{end}}` +
		`{{with .ConfirmAction}}<form id="confirm" method="post" action="{{.}}"><p>Delete the account: confirm with your password.</p>` +
		`<label>Password <input name="password" type="password"></label> <button type="submit">Confirm</button></form>{{end}}` +
		`{{range .Links}}<p><a id="{{.ID}}" href="{{.Href}}">{{.Text}}</a></p>{{end}}` +
		`{{with .LogoutAction}}<form id="logout" method="post" action="{{.}}"><button type="submit">Log out</button></form>{{end}}` +
		`</main></body></html>`

	attackerPageHTML = `<!doctype html><html><head><meta charset="utf-8"><title>Great offers</title>` +
		`{{with .Stylesheet}}<link rel="stylesheet" href="{{.}}">{{end}}</head>` +
		`<body data-testid="lab-attacker"><h1>Great offers</h1>` +
		`<form id="plant" method="post" action="/trap"><label>Session id to plant <input name="sid"></label> <button type="submit">Plant</button></form>` +
		`{{with .BankURL}}<p><a id="bank" href="{{.}}">Open your bank</a></p>{{end}}` +
		`</body></html>`
)

// Parsed once: a template that does not parse is a bug in this file, caught by any test.
var (
	labPageTemplate      = template.Must(template.New("lab-page").Parse(labPageHTML))
	attackerPageTemplate = template.Must(template.New("lab-attacker").Parse(attackerPageHTML))
)

// pageView is what one lab app page shows; empty fields are left out.
type pageView struct {
	// Stylesheet, Scenario, Variant and Credentials are the frame every page gets
	// (see app.frame): the lab's stylesheet, the scenario in force, "broken" or
	// "fixed twin", and the demo account, shown under the login form.
	Stylesheet    string
	Scenario      string
	Variant       string
	Fixed         bool
	Credentials   string
	Title         string
	Alert         string // a problem the user must act on (role=alert)
	Message       string
	LoginAction   string // the login form posts here
	ConfirmAction string // the account's password confirmation posts here
	Links         []pageLink
	LogoutAction  string // the logout form posts here
}

// pageLink is a link the browser scripts follow by its id.
type pageLink struct {
	ID, Href, Text string
}

// attackerView is what the attacker's page shows: BankURL once a cookie is planted.
type attackerView struct {
	Stylesheet string
	BankURL    string
}

// labCSS is the lab app's whole styling: enough to read the pages, tell the scenario
// and find the forms. It is served as a file (see stylesheetHandler) so the pages carry
// no inline style, whatever Content-Security-Policy a trainer puts in front.
const labCSS = `:root{color-scheme:light dark;font:16px/1.5 system-ui,sans-serif}
body{margin:0;background:#f6f7f9;color:#1d2330}
main{max-width:34rem;margin:2rem auto;padding:1.5rem 2rem;background:#fff;border:1px solid #d8dce3;border-radius:8px}
h1{margin-top:0;font-size:1.5rem}
.lab-banner{display:flex;gap:.6rem;align-items:baseline;flex-wrap:wrap;padding:.6rem 1rem;background:#1d2330;color:#fff}
.lab-brand{font-size:.8rem;text-transform:uppercase;letter-spacing:.05em;opacity:.75}
.lab-variant{font-size:.8rem;padding:0 .4rem;border-radius:4px;background:#b42318}
.lab-variant.fixed{background:#067647}
label{display:block;margin:.5rem 0}
input{font:inherit;padding:.3rem .4rem;border:1px solid #9aa3b2;border-radius:4px}
button{font:inherit;padding:.35rem .9rem;border:0;border-radius:4px;background:#2e5bff;color:#fff;cursor:pointer}
a{color:#2e5bff}
p[role=alert]{padding:.5rem .75rem;border-left:4px solid #b42318;background:#fef3f2}
.lab-credentials{font-size:.9rem;color:#4a5365}
@media (prefers-color-scheme:dark){body{background:#11151c;color:#e6e9ef}main{background:#1a1f29;border-color:#2c3340}
p[role=alert]{background:#3a1d1b}.lab-credentials{color:#a9b1c1}a{color:#8fa8ff}}
`

// stylesheetPath is where the lab's stylesheet is served.
const stylesheetPath = "/lab.css"

// stylesheetHandler serves labCSS and nothing else.
func stylesheetHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != stylesheetPath {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = io.WriteString(w, labCSS)
	})
}

// renderPage writes one page of the lab app.
func renderPage(w io.Writer, v pageView) error {
	if err := labPageTemplate.Execute(w, v); err != nil {
		return fmt.Errorf("render the lab page %q: %w", v.Title, err)
	}
	return nil
}

// renderAttackerPage writes the attacker's page.
func renderAttackerPage(w io.Writer, v attackerView) error {
	if err := attackerPageTemplate.Execute(w, v); err != nil {
		return fmt.Errorf("render the attacker's page: %w", err)
	}
	return nil
}
