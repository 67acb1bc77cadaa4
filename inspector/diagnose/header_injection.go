package diagnose

import (
	"fmt"
	"strings"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// headerInjection reports HTTP response splitting: a CR/LF in the request (URL or
// Referer) whose following text came back as a response header of its own, or a raw
// CR/LF inside a response header value. The traffic package finds these at capture
// time (Exchange.InjectedHeaders); the textbook example is exactly this — a
// "next_page" parameter carrying "\r\nSet-Cookie: sessionID=…" fixes the victim's
// session without the app ever accepting ids from the URL. One finding per host and
// path.
func headerInjection(rs []*replayed, rec *Recorder) {
	for _, r := range rs {
		if len(r.x.InjectedHeaders) == 0 {
			continue
		}
		cookie, raw := false, false
		for _, h := range r.x.InjectedHeaders {
			cookie = cookie || strings.Contains(strings.ToLower(h), "set-cookie:")
			raw = raw || strings.Contains(h, `\r`) || strings.Contains(h, `\n`)
		}
		how := "The request to %s carried a CR/LF (%%0d%%0a, perhaps double-encoded) in its URL or Referer, and the text after it came back " +
			"as a response header of its own: %s."
		if raw {
			how = "The response to %s has a header value with a raw CR/LF in it: %s."
		}
		detail := fmt.Sprintf(how+" The application copies request input into a response header without removing CR and LF, "+
			"so anyone who gets a victim to open a crafted link can make the response carry any header they like (HTTP response splitting, CWE-113).",
			describeURL(r.u), strings.Join(r.x.InjectedHeaders, " | "))
		if cookie {
			detail += " Here it is a Set-Cookie: an attacker can plant a session id they know in the victim's browser and wait for the login — " +
				"session fixation, although the app never accepts ids from the URL (CWE-113 leading to CWE-384)."
		} else {
			detail += " The same link can add a Set-Cookie and plant a session id the attacker knows (session fixation), or a Location to redirect the victim."
		}
		// The query carries the payload, and a planted session id becomes the victim's
		// once they log in: the evidence shows the URL without it.
		prefix := evidencePrefix(r.x)
		if r.u.RawQuery != "" {
			prefix = strings.Replace(prefix, r.x.URL, describeURL(r.u)+"?…", 1)
		}
		rec.Report(Report{
			Cause:    r.u.Host + "\x00" + r.u.EscapedPath(),
			Severity: model.SeverityError,
			Title:    "Response splitting: request input became a response header on " + r.u.EscapedPath(),
			Detail:   detail,
			Fix: "Strip CR and LF from anything that goes into a header, and prefer a whitelist of redirect targets (CWE-113). " +
				"PHP: header() refuses new lines since PHP 5.1.2, so keep PHP current and never emit headers any other way; " +
				"header('Location: ' . str_replace([\"\\r\", \"\\n\"], '', $next)); and set session.use_strict_mode = 1 in php.ini so a planted, unknown PHPSESSID is never adopted. " +
				"Node: use res.setHeader()/res.redirect(), which throw ERR_INVALID_CHAR on CR/LF, never raw socket writes, and with express-session " +
				"call req.session.regenerate() at login so a planted connect.sid is worthless.",
			Session:  r.x.SessionRef,
			Exchange: r.x.ID,
			Evidence: fmt.Sprintf("%s → %d: injected %s", prefix, r.x.Status, strings.Join(r.x.InjectedHeaders, " | ")),
			Time:     r.x.Start,
		})
	}
}
