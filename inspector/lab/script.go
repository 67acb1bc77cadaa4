package lab

import (
	"fmt"
	"time"
)

// Actors of a browser script.
const (
	ActorVictim   = "victim"   // the user, on 127.0.0.1 with a browser's User-Agent
	ActorAttacker = "attacker" // a second browser on 127.0.0.2
)

// What an Action does.
const (
	// DoOpen loads Host+Path as a typed URL or a bookmark: no initiator, same-site.
	DoOpen = "open"
	// DoClick follows the link with id Link on the actor's current page. Its
	// initiator is that page, so a link to another site is a cross-site navigation.
	DoClick = "click"
	// DoSubmit submits the form with id Form on the actor's current page, with Fields
	// over the form's own inputs.
	DoSubmit = "submit"
	// DoWait lets time pass (a user reading, a session timing out).
	DoWait = "wait"
	// DoSteal copies the victim's cookie Cookie into the attacker's browser as a
	// script injected into the victim's page would (document.cookie): HttpOnly cookies
	// cannot be read that way and are not copied.
	DoSteal = "steal-cookie"
)

// Action is one step of a scenario's browser script. Scripts are data so that a real
// browser (Chromium through the lab's proxy) can replay the same actions and compare
// cookie verdicts with the virtual browser: every cross-site hop is a real page on
// the other site with a link to follow.
type Action struct {
	Actor  string            `json:"actor"`
	Do     string            `json:"do"`
	Host   string            `json:"host,omitempty"` // DoOpen: a lab host; the lab's port is added
	Path   string            `json:"path,omitempty"` // DoOpen
	Link   string            `json:"link,omitempty"` // DoClick: the id of an <a>
	Form   string            `json:"form,omitempty"` // DoSubmit: the id of a <form>
	Fields map[string]string `json:"fields,omitempty"`
	Wait   time.Duration     `json:"wait,omitempty"`   // DoWait
	Cookie string            `json:"cookie,omitempty"` // DoSteal
	Note   string            `json:"note,omitempty"`   // what this step means in the story
	// Optional skips a click or submit whose link or form is not on the page: the
	// fixed run may have gone elsewhere (the attacker was sent to the login page).
	Optional bool `json:"optional,omitempty"`
}

// FieldNewID as a DoSubmit field value stands for a fresh, well-formed session id
// of the actor's choosing (the fixation attacker's), new for every run.
const FieldNewID = "$new-session-id"

// Lab hosts. Everything is loopback: the virtual browser dials the proxy for each,
// Chromium resolves *.localhost itself and needs --host-resolver-rules for *.test.
const (
	hostMain  = "localhost"           // the shop, in most scenarios
	hostOther = "127.0.0.1"           // another site: the partner (identity provider) page
	hostLogin = "login.lab.localhost" // the login subdomain of the domain mismatch
	hostApp   = "app.lab.localhost"   // the app subdomain
	hostEvil  = "evil.lab.localhost"  // a sibling subdomain the attacker controls, served outside the proxy
	hostHTTP  = "shop.lab.test"       // plain http, not a secure context
)

// The lab's one user.
const (
	labUser     = "alice"
	labPassword = "wonderland"
)

func open(actor, host, path, note string) Action {
	return Action{Actor: actor, Do: DoOpen, Host: host, Path: path, Note: note}
}

func click(actor, link, note string) Action {
	return Action{Actor: actor, Do: DoClick, Link: link, Note: note}
}

func submit(actor, form string, fields map[string]string, note string) Action {
	return Action{Actor: actor, Do: DoSubmit, Form: form, Fields: fields, Note: note}
}

func wait(d time.Duration, note string) Action {
	return Action{Actor: ActorVictim, Do: DoWait, Wait: d, Note: note}
}

func logIn(actor, note string) Action {
	return submit(actor, "login", map[string]string{"user": labUser, "password": labPassword}, note)
}

// loginTwice is the login loop as a user lives it: log in, land on the login page
// again, try once more.
func loginTwice(host, path string) []Action {
	return []Action{
		open(ActorVictim, host, path, "open the login page"),
		logIn(ActorVictim, "log in; the redirect should land on the dashboard"),
		optional(logIn(ActorVictim, "back on the login page: try again")),
	}
}

// Script returns the browser script of a scenario, the same for its broken and fixed
// runs (only the app's Knobs differ).
func Script(id string) ([]Action, error) {
	d, ok := definitionOf(id)
	if !ok {
		return nil, fmt.Errorf("lab script %q: %w", id, ErrUnknownScenario)
	}
	return append([]Action(nil), d.script...), nil
}

// validate checks that an action names what its kind needs.
func (a Action) validate() error {
	if a.Actor != ActorVictim && a.Actor != ActorAttacker {
		return fmt.Errorf("action %q: unknown actor %q", a.Do, a.Actor)
	}
	missing := ""
	switch a.Do {
	case DoOpen:
		if a.Host == "" || a.Path == "" {
			missing = "host and path"
		}
	case DoClick:
		if a.Link == "" {
			missing = "link"
		}
	case DoSubmit:
		if a.Form == "" {
			missing = "form"
		}
	case DoWait:
		if a.Wait <= 0 {
			missing = "wait"
		}
	case DoSteal:
		if a.Cookie == "" {
			missing = "cookie"
		}
	default:
		return fmt.Errorf("unknown action %q", a.Do)
	}
	if missing != "" {
		return fmt.Errorf("action %q needs %s", a.Do, missing)
	}
	return nil
}

func optional(a Action) Action {
	a.Optional = true
	return a
}
