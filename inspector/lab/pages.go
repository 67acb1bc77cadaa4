package lab

import (
	"fmt"
	"html/template"
	"io"
)

// The lab app's pages are one layout: a page shows, in this order, an alert, a
// message, the login or the confirm form, its links and the logout form, each only
// when set. html/template escapes every value by context (text, attribute, URL), so
// nothing a request carries (a return path, a typed user name) can end up as markup.
// The templates are written on one line each because the browser scripts and the
// Chromium parity test read these pages: they keep the bytes the app always sent.
const (
	labPageHTML = `<!doctype html><html><head><meta charset="utf-8"><title>{{.Title}} · sessionscope lab</title></head>` +
		`<body data-testid="lab-page"><h1>{{.Title}}</h1>` +
		`{{with .Alert}}<p role=alert>{{.}}</p>{{end}}` +
		`{{with .Message}}<p>{{.}}</p>{{end}}` +
		`{{with .LoginAction}}<form id="login" method="post" action="{{.}}">` +
		`<label>User <input name="user" autocomplete="username"></label> ` +
		`<label>Password <input name="password" type="password" autocomplete="current-password"></label> ` +
		`<button type="submit">Log in</button></form>{{end}}` +
		`{{with .ConfirmAction}}<form id="confirm" method="post" action="{{.}}"><p>Delete the account: confirm with your password.</p>` +
		`<label>Password <input name="password" type="password"></label> <button type="submit">Confirm</button></form>{{end}}` +
		`{{range .Links}}<p><a id="{{.ID}}" href="{{.Href}}">{{.Text}}</a></p>{{end}}` +
		`{{with .LogoutAction}}<form id="logout" method="post" action="{{.}}"><button type="submit">Log out</button></form>{{end}}` +
		`</body></html>`

	attackerPageHTML = `<!doctype html><html><head><meta charset="utf-8"><title>Great offers</title></head>` +
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
	BankURL string
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
