package diagnose

import (
	"fmt"
	"strings"

	"github.com/sessionscope/sessionscope/inspector/cookies"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// cookieRejected reports a session cookie whose Set-Cookie line the browser refused
// to store. The server believes it started a session; the browser never holds it,
// so the next request arrives without it and the login "does not stick" — the
// classic Domain/Path mismatch in its most direct form.
func cookieRejected(rs []*replayed, rec *Recorder, cited map[string][]citation) {
	for _, r := range rs {
		for _, rj := range r.rejected {
			reason := rj.verdict.Reasons[0]
			raw := rj.verdict.Raw
			name := rj.sc.Name
			attr, why, fix := rejectionText(reason, raw, r)
			cause := name + "\x00" + string(reason) + "\x00" + attr
			summary := fmt.Sprintf("cookie-rejected (%s: %s)", reason, why)
			rep := Report{
				Cause:    cause,
				Severity: model.SeverityError,
				Title:    fmt.Sprintf("The browser refused the session cookie %s (%s)", name, reason),
				Detail: fmt.Sprintf("The response set %s, but a browser does not store it: %s (Chromium: %s, attribute at fault: %s). "+
					"The server thinks a session started; the browser will come back without it, so every request looks logged out.",
					name, why, reason, attr),
				Fix:      fix,
				Session:  rj.sc.SessionRef,
				Exchange: r.x.ID,
				Evidence: fmt.Sprintf("%s → %d: Set-Cookie %s%s refused: %s", evidencePrefix(r.x), r.x.Status, name, attrList(raw), reason),
				Time:     r.x.Start,
			}
			rec.Report(rep)
			cited[r.x.ID] = append(cited[r.x.ID], citation{id: findingID("cookie-rejected", cause), summary: summary})
		}
	}
}

// attrList renders a parsed line's attributes without its value.
func attrList(raw cookies.Raw) string {
	var b strings.Builder
	if raw.HasDomain {
		b.WriteString("; Domain=" + raw.Domain)
	}
	if raw.HasPath {
		b.WriteString("; Path=" + raw.Path)
	}
	if raw.Secure {
		b.WriteString("; Secure")
	}
	if raw.HasSameSite {
		b.WriteString("; SameSite=" + raw.SameSiteRaw)
	}
	return b.String()
}

// rejectionText names the attribute at fault, says why in plain words, and gives the
// fix for PHP and express-session.
func rejectionText(reason cookies.Reason, raw cookies.Raw, r *replayed) (attr, why, fix string) {
	host := r.u.Hostname()
	name := raw.Name
	switch reason {
	case cookies.InvalidDomain:
		attr = "Domain=" + raw.Domain
		why = fmt.Sprintf("%s has Domain=%s but the response came from %s, which that domain does not cover", name, raw.Domain, host)
		fix = fmt.Sprintf("Set the cookie domain to the host the app is served from (%s), a parent domain of every host the app uses, or leave it out (host-only). "+
			"PHP: session_set_cookie_params(['domain' => '']) before session_start(), or session.cookie_domain = \"\" in php.ini. "+
			"Node (express-session): session({ cookie: { domain: undefined } }) — or a parent domain that covers %s. "+
			"If you move to a parent domain, browsers that hold a host-only %s from before keep it next to the new one and send both, and the server reads the old one first: "+
			"expire the old one with its exact attributes (no Domain: PHP: setcookie(session_name(), '', ['expires' => 1, 'path' => '/']) after session_start()) or users get duplicates (see duplicate-cookie).", host, host, name)
	case cookies.SecureOnly:
		attr = "Secure"
		why = fmt.Sprintf("%s has the Secure attribute but was set over plain http (%s)", name, describeURL(r.u))
		fix = "Serve the app over https (and redirect http to https); only for local plain-http development drop Secure. " +
			"PHP: session_set_cookie_params(['secure' => true]) behind https, or session.cookie_secure = 0 in php.ini for http-only dev. " +
			"Node (express-session): session({ cookie: { secure: 'auto' } }) with app.set('trust proxy', 1) behind a TLS proxy."
	case cookies.SameSiteNoneInsecure:
		attr = "SameSite=None"
		why = fmt.Sprintf("%s has SameSite=None without Secure", name)
		fix = "SameSite=None needs Secure (and https); if the cookie is not needed cross-site, use Lax. " +
			"PHP: session_set_cookie_params(['samesite' => 'None', 'secure' => true]) or session.cookie_samesite = \"Lax\" in php.ini. " +
			"Node (express-session): session({ cookie: { sameSite: 'none', secure: true } })."
	case cookies.InvalidPrefix:
		attr = "name prefix " + prefixOf(name)
		why = fmt.Sprintf("%s breaks the rules of its %s prefix (needs Secure and https; __Host- also needs Path=/ and no Domain)", name, prefixOf(name))
		fix = "Either keep the prefix and set Secure, Path=/ and no Domain over https, or drop the prefix. " +
			"PHP: session_set_cookie_params(['secure' => true, 'path' => '/', 'domain' => '']) with session_name('__Host-PHPSESSID'). " +
			"Node (express-session): session({ name: '__Host-sid', cookie: { secure: true, path: '/' } }) without a domain."
	case cookies.NameValuePairExceedsMaxSize:
		attr = "value size"
		why = fmt.Sprintf("%s's name and value are over 4096 bytes", name)
		fix = "Keep session data on the server and only the id in the cookie. " +
			"PHP: session.save_handler = redis (or files) in php.ini; do not put session data in cookies. " +
			"Node: use express-session with a store (connect-redis) instead of cookie-session."
	case cookies.OverwriteSecure:
		attr = "Secure (existing cookie)"
		why = fmt.Sprintf("a plain-http response (%s) tried to overwrite a Secure %s", describeURL(r.u), name)
		fix = "Serve every page over https so the session cookie is always set from a secure origin. " +
			"PHP: session.cookie_secure = 1 in php.ini and redirect http to https. " +
			"Node (express-session): session({ cookie: { secure: true } }) and redirect http to https."
	default:
		attr = "the Set-Cookie line"
		why = fmt.Sprintf("%s was refused (%s)", name, reason)
		fix = "Check the Set-Cookie line against DevTools' Issues panel. " +
			"PHP: set the cookie only through session_set_cookie_params([...]) before session_start(). " +
			"Node (express-session): set it through session({ cookie: { ... } })."
	}
	return attr, why, fix
}

func prefixOf(name string) string {
	if strings.HasPrefix(strings.ToLower(name), "__host-") {
		return "__Host-"
	}
	return "__Secure-"
}
