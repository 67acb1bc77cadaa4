package diagnose

import (
	"fmt"
	"strings"

	"github.com/sessionscope/sessionscope/inspector/codec"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// sensitiveDataInCookie reports cookies — any cookie, not only the session's — whose
// value opens (base64, JSON, a JWT, a Flask or Rails signed cookie, ...) onto
// credentials, tokens or privileges. A cookie lives in the browser in plain text and
// rides along with every request, and the user can edit it: the rule is to keep
// everything server-side and put nothing but the session id in the cookie. The
// finding names the cookie and the keys, never the values. One finding per cookie
// name and host.
func sensitiveDataInCookie(rs []*replayed, rec *Recorder) {
	type occurrence struct {
		r      *replayed
		how    string // "Set-Cookie" or "sent"
		layers []string
	}
	type group struct {
		host, name string
		keys       map[string]codec.CookieKey
		order      []string
		seen       []occurrence
	}
	var groups []*group
	byKey := map[string]*group{}
	cache := map[string]codec.CookieContent{} // value -> content: a history repeats values
	open := func(v string, signedBySibling bool) codec.CookieContent {
		k := v
		if signedBySibling {
			k = "\x00" + v
		}
		if c, ok := cache[k]; ok {
			return c
		}
		c := codec.DecodeCookieValue(v)
		if len(cache) >= 4096 {
			clear(cache) // many distinct values: bound the memory, not the work
		}
		if signedBySibling {
			// express cookie-session and similar keep the HMAC in a sibling cookie
			// NAME.sig: the data cannot be edited, but it can be read.
			for i := range c.Keys {
				c.Keys[i].Signed = true
			}
		}
		cache[k] = c
		return c
	}
	note := func(r *replayed, name, value, how string, signedBySibling bool) {
		if value == "" {
			return
		}
		c := open(value, signedBySibling)
		if len(c.Keys) == 0 {
			return
		}
		host := r.u.Hostname()
		gk := host + "\x00" + name
		g := byKey[gk]
		if g == nil {
			g = &group{host: host, name: name, keys: map[string]codec.CookieKey{}}
			byKey[gk] = g
			groups = append(groups, g)
		}
		for _, k := range c.Keys {
			id := k.Name
			if prev, ok := g.keys[id]; ok {
				// Keep the worst: found anywhere unsigned counts as unsigned.
				if prev.Signed && !k.Signed {
					g.keys[id] = k
				}
				continue
			}
			g.keys[id] = k
			g.order = append(g.order, id)
		}
		for _, o := range g.seen {
			if o.r == r && o.how == how {
				return
			}
		}
		g.seen = append(g.seen, occurrence{r: r, how: how, layers: c.Keys[0].Layers})
	}
	for _, r := range rs {
		if r.x.ValuesStripped {
			continue
		}
		sigs := map[string]bool{}
		for _, c := range r.x.SetCookies {
			if n, ok := strings.CutSuffix(c.Name, ".sig"); ok {
				sigs[n] = true
			}
		}
		for _, c := range r.x.CookiesSent {
			if n, ok := strings.CutSuffix(c.Name, ".sig"); ok {
				sigs[n] = true
			}
		}
		for _, c := range r.x.SetCookies {
			if c.ParseError == "" && !(c.MaxAge != nil && *c.MaxAge == 0) {
				note(r, c.Name, c.Value, "Set-Cookie", sigs[c.Name])
			}
		}
		for _, c := range r.x.CookiesSent {
			note(r, c.Name, c.Value, "sent", sigs[c.Name])
		}
	}

	for _, g := range groups {
		var cred, token, authz, authzUnsigned []string
		for _, id := range g.order {
			k := g.keys[id]
			switch k.Class {
			case codec.ClassCredential:
				cred = append(cred, k.Name)
			case codec.ClassToken:
				token = append(token, k.Name)
			case codec.ClassAuthz:
				authz = append(authz, k.Name)
				if !k.Signed {
					authzUnsigned = append(authzUnsigned, k.Name)
				}
			}
		}
		all := append(append(append([]string(nil), cred...), authz...), token...)
		sev := model.SeverityWarning
		if len(cred) > 0 || len(authzUnsigned) > 0 {
			sev = model.SeverityError
		}
		signedAll := true
		for _, id := range g.order {
			signedAll = signedAll && g.keys[id].Signed
		}
		layers := strings.Join(g.seen[0].layers, " → ")

		var detail strings.Builder
		fmt.Fprintf(&detail, "The cookie %s on %s holds %s once its value is decoded (%s). ", g.name, g.host, quoteList(all), layers)
		detail.WriteString("A cookie is kept in the browser in plain text and sent with every request: anyone with the machine, " +
			"a proxy or server log, a HAR file or one XSS hole can read it, and the user can change it at will. ")
		if len(cred) > 0 {
			fmt.Fprintf(&detail, "Credentials (%s) must never leave the server — not even hashed, which only invites offline guessing. ", quoteList(cred))
		}
		if len(authzUnsigned) > 0 {
			fmt.Fprintf(&detail, "The privileges (%s) are not signed, so a user who edits the cookie gets whatever role or login state they write into it — "+
				"the classic broken design, a cookie whose flag and username decided who was logged in. ", quoteList(authzUnsigned))
		}
		if signedAll {
			detail.WriteString("The data is signed, so it cannot be changed without the key, but signing is not encryption: anyone holding the cookie can read it, " +
				"and a signed role stays valid until the cookie expires even after the server revokes it. ")
		}
		if len(token) > 0 {
			fmt.Fprintf(&detail, "Bearer tokens (%s) can be replayed by whoever reads the cookie. ", quoteList(token))
		}
		detail.WriteString("Store all session information server-side and keep nothing in the cookie but the session id.")

		title := fmt.Sprintf("Cookie %s carries %s", g.name, quoteList(all))
		fix := "Keep the data in the server-side session and send only the session id: look it up from the session on each request. " +
			"PHP: $_SESSION['role'] = $role; after session_start(), instead of setcookie('role', ...) or a serialized/base64 array in a cookie; " +
			"never put a password in a cookie, even hashed. " +
			"Node (express-session): req.session.role = role (the store keeps it; the cookie carries only connect.sid), " +
			"instead of res.cookie('role', ...), cookie-session or a JWT full of claims."
		if len(authz) > 0 && len(cred) == 0 && signedAll {
			fix += " If the client must carry claims (a JWT to an API), keep them to ids, check them server-side on every request, and make them short-lived."
		}
		for _, o := range g.seen {
			rec.Report(Report{
				Cause:    g.host + "\x00" + g.name,
				Severity: sev,
				Title:    title,
				Detail:   detail.String(),
				Fix:      fix,
				Session:  o.r.x.SessionRef,
				Exchange: o.r.x.ID,
				Evidence: fmt.Sprintf("%s → %d: cookie %s (%s, %s) holds %s", evidencePrefix(o.r.x), o.r.x.Status, g.name, o.how,
					strings.Join(o.layers, " → "), strings.Join(all, ", ")),
				Time: o.r.x.Start,
			})
		}
	}
}

// quoteList writes names as "a, b and c".
func quoteList(q []string) string {
	switch len(q) {
	case 0:
		return ""
	case 1:
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " and " + q[len(q)-1]
}
