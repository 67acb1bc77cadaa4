package diagnose

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// loginPath matches the paths login forms usually post to.
var loginPath = regexp.MustCompile(`(?i)(log-?in|sign-?in|auth|session)`)

// loginLoop reports the broken authentication loop: the login
// succeeds, the redirect lands on a protected page, and that page sends the user back
// to the login page (or each response hands out a fresh session). It names the
// cookie finding that explains the loop, or says the cause is on the store side.
// It returns the conclusions it could not reach for a sanitized HAR.
func loginLoop(rs []*replayed, rec *Recorder, cited map[string][]citation, opts AnalyzeOptions) (missing []string) {
	var navs []*replayed
	for _, r := range rs {
		if r.nav {
			navs = append(navs, r)
		}
	}
	key := func(u *url.URL) string { return strings.ToLower(u.Host) + u.EscapedPath() }
	target := func(r *replayed) *url.URL {
		if r.x.Status < 300 || r.x.Status >= 400 || r.x.RawLocation == "" {
			return nil
		}
		t, err := r.u.Parse(r.x.RawLocation)
		if err != nil {
			return nil
		}
		return t
	}

	// Criterion 1: after a login POST, the redirected-to page bounces and the same
	// Location is reached at least twice.
	first := -1
	var bounces []int
	counts := map[string]int{}
	for i, r := range navs {
		t := target(r)
		if first >= 0 && t != nil {
			counts[key(t)]++
		}
		if !strings.EqualFold(r.x.Method, "POST") || t == nil {
			continue
		}
		if !loginPath.MatchString(r.u.Path) && len(r.issued) == 0 && len(r.rejected) == 0 {
			continue
		}
		if first < 0 {
			first = i
			counts[key(t)]++
		}
		for j := i + 1; j < len(navs); j++ {
			if key(navs[j].u) != key(t) {
				continue
			}
			if back := target(navs[j]); back != nil && key(back) != key(t) || navs[j].x.Status == 401 || navs[j].x.Status == 403 {
				bounces = append(bounces, j)
			}
			break
		}
	}
	repeated := ""
	for k, n := range counts { // ties go to the smaller key, so replays agree
		if n >= 2 && (repeated == "" || n > counts[repeated] || n == counts[repeated] && k < repeated) {
			repeated = k
		}
	}
	if first >= 0 && len(bounces) > 0 && repeated != "" {
		last := bounces[len(bounces)-1]
		var ev []string
		var ids []string
		for _, j := range bounces {
			b := navs[j]
			ids = append(ids, b.x.ID)
			ev = append(ev, fmt.Sprintf("%s → %d %s (bounced after login)", evidencePrefix(b.x), b.x.Status, b.x.Location))
		}
		ev = append([]string{fmt.Sprintf("%s → %d %s (login POST)", evidencePrefix(navs[first].x), navs[first].x.Status, navs[first].x.Location),
			fmt.Sprintf("redirect Location %s reached %d times after the login POST", repeated, counts[repeated])}, ev...)
		ids = append([]string{navs[first].x.ID, ""}, ids...)
		reportLoop(rec, navs, first, last, "redirect\x00"+repeated,
			fmt.Sprintf("After the login POST (%s), the page it redirected to sent the browser away again %d time(s); %s was reached %d times.",
				navs[first].x.ID, len(bounces), repeated, counts[repeated]),
			ev, ids, cited, opts)
		return nil
	}

	// Criterion 2: a fresh session cookie on each of >= 3 consecutive page loads.
	if opts.ValuesStripped || opts.CookiesAbsent {
		return []string{"not reached: a login loop that shows only as a fresh session id on every response (needs cookie values)"}
	}
	start, prev := -1, ""
	for i, r := range navs {
		v := ""
		for _, sc := range r.issued {
			if sc.Value != "" && (sc.MaxAge == nil || *sc.MaxAge > 0) {
				v = sc.Name + "=" + sc.Value
			}
		}
		if v == "" || v == prev || start >= 0 && strangerRequest(r) {
			start, prev = -1, v
			continue
		}
		if start < 0 {
			start = i
		}
		prev = v
		if i-start+1 < 3 {
			continue
		}
		end := i
		for end+1 < len(navs) {
			n := navs[end+1]
			nv := ""
			for _, sc := range n.issued {
				if sc.Value != "" {
					nv = sc.Name + "=" + sc.Value
				}
			}
			if nv == "" || nv == prev {
				break
			}
			prev = nv
			end++
		}
		var ev, ids []string
		for j := start; j <= end; j++ {
			ids = append(ids, navs[j].x.ID)
			ev = append(ev, fmt.Sprintf("%s → %d: new %s issued", evidencePrefix(navs[j].x), navs[j].x.Status, navs[j].issued[0].Name))
		}
		reportLoop(rec, navs, start, end, "fresh\x00"+strings.ToLower(navs[start].u.Host),
			fmt.Sprintf("The server issued a fresh session cookie on each of %d consecutive responses: every request arrived without a session it recognised.", end-start+1),
			ev, ids, cited, opts)
		return nil
	}
	return nil
}

func reportLoop(rec *Recorder, navs []*replayed, from, to int, cause, what string, ev, ids []string,
	cited map[string][]citation, opts AnalyzeOptions) {
	var causes []citation
	seen := map[string]bool{}
	for j := from; j <= to; j++ {
		for _, c := range cited[navs[j].x.ID] {
			if !seen[c.id] {
				seen[c.id] = true
				causes = append(causes, c)
			}
		}
	}
	detail := what + " The user logs in and is sent back to the login page, again and again. "
	fix := ""
	if len(causes) > 0 {
		var parts []string
		for _, c := range causes {
			parts = append(parts, c.summary+" [finding "+c.id+"]")
		}
		detail += "Root cause: " + strings.Join(parts, "; ") + "."
		fix = "Fix the root cause named in the detail (see its finding's fix): once the browser keeps and sends the session cookie, the loop ends."
		for _, c := range causes {
			if c.store {
				fix = "Fix the root cause named in the detail (see its finding's fix): once the session the login wrote is there for the next request, the loop ends."
			}
		}
	} else if opts.CookiesAbsent {
		detail += "The HAR has no cookies, so the cause cannot be told from it: re-export it with cookies, or watch the session store."
		fix = "Re-export the HAR with sensitive data, or run sessionscope watch --redis URL while reproducing the loop."
	} else {
		detail += "No cookie finding explains it: the browser stored the session cookie and sent it back. The cause is not visible from the HTTP side — " +
			"a stale read (the redirect's request read the session before the login request had written it) or servers that do not share sessions " +
			"(a load balancer without a shared store). It needs the store side: run sessionscope watch --redis URL while reproducing the loop."
		fix = "Write the session before redirecting and share one store across servers. " +
			"PHP: session_regenerate_id(true); $_SESSION['user'] = $id; session_write_close(); header('Location: /dashboard'); with session.save_handler = redis on every server. " +
			"Node (express-session): req.session.save(() => res.redirect('/dashboard')) with one shared store (connect-redis) for every instance."
	}
	last := navs[to].x
	for i, line := range ev {
		id := ""
		if i < len(ids) {
			id = ids[i]
		}
		rec.Report(Report{
			Cause:    cause,
			Severity: model.SeverityError,
			Title:    "Login loop: the browser is sent back to log in again",
			Detail:   detail,
			Fix:      fix,
			Exchange: id,
			Evidence: line,
			Time:     last.Start,
		})
	}
}

// strangerRequest reports a request that carried no session cookie although the
// replayed browser held one it would have sent: it came from another browser (a
// capture of a proxy several clients used, or a second visitor), so it cannot
// continue one browser's loop of fresh sessions.
func strangerRequest(r *replayed) bool {
	return len(r.sentJar) > 0 && len(r.sentHAR) == 0
}
