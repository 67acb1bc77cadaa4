package cookies

// refJar is the jar as it was before Store and Send kept per-cookie and per-host
// facts: every stored cookie's site recomputed and WouldSend called on every request.
// It stays as the oracle the faster Jar is checked against and the anchor its
// benchmark compares with.

import (
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// refJar (was Jar) is a browser's cookie store for one profile, with Chromium's rules. It is
// safe for concurrent use. The zero value is an empty jar.
type refJar struct {
	mu      sync.Mutex
	cookies []Cookie
}

// Store applies one Set-Cookie line received in ctx, as the browser would, and
// returns the verdict.
func (j *refJar) Store(ctx Context, setCookie string) Verdict {
	v := build(ctx, setCookie)
	if len(v.Reasons) > 0 {
		return v
	}
	c := v.Cookie
	now := ctx.now()
	j.mu.Lock()
	defer j.mu.Unlock()
	j.dropExpiredLocked(now)
	if !SecureContext(ctx.URL) {
		// RFC 6265bis §5.7 step 16 ("leave secure cookies alone"): an insecure
		// origin may not overwrite, delete or shadow a Secure cookie of the same name
		// whose domain matches either way and on whose path the new one sits.
		for _, e := range j.cookies {
			if e.Secure && e.Name == c.Name &&
				(DomainMatch(e.Domain, c.Domain) || DomainMatch(c.Domain, e.Domain)) &&
				PathMatch(c.Path, e.Path) {
				v.Reasons = []Reason{OverwriteSecure}
				return v
			}
		}
	}
	for i, e := range j.cookies {
		if e.sameKey(c) {
			if e.Value == c.Value {
				// Chromium keeps the creation date when the value does not change, so
				// re-setting a cookie does not reopen the Lax+POST window.
				c.Created = e.Created
			}
			j.cookies = slices.Delete(j.cookies, i, i+1)
			if c.Expired(now) {
				v.Deleted = true
			}
			break
		}
	}
	v.Cookie = c
	if c.Expired(now) {
		return v
	}
	j.cookies = append(j.cookies, c)
	v.Stored = true
	return v
}

// Add puts c in the jar as is, replacing a cookie with the same name, domain and
// path; for seeding a jar with what a browser already holds.
func (j *refJar) Add(c Cookie) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for i, e := range j.cookies {
		if e.sameKey(c) {
			j.cookies[i] = c
			return
		}
	}
	j.cookies = append(j.cookies, c)
}

// Cookies returns the unexpired cookies in the jar at now (zero: time.Now()), in
// the order they were stored.
func (j *refJar) Cookies(now time.Time) []Cookie {
	if now.IsZero() {
		now = time.Now()
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.dropExpiredLocked(now)
	return slices.Clone(j.cookies)
}

func (j *refJar) dropExpiredLocked(now time.Time) {
	j.cookies = slices.DeleteFunc(j.cookies, func(c Cookie) bool { return c.Expired(now) })
}

// Send returns the cookies the browser would send with the request in ctx, in
// Cookie-header order (longer paths first, then older first), and the cookies it
// considered but blocked, with reasons. Like Chromium's DevTools
// (associatedCookies), it only considers cookies filed under the request's site
// key: the registrable domain, or the host when it has none.
func (j *refJar) Send(ctx Context) (sent []Cookie, blocked []Blocked) {
	if ctx.URL == nil {
		return nil, nil
	}
	now := ctx.now()
	key := siteHost(host(ctx.URL))
	j.mu.Lock()
	j.dropExpiredLocked(now)
	cs := slices.Clone(j.cookies)
	j.mu.Unlock()
	for _, c := range cs {
		if siteHost(strings.ToLower(c.Domain)) != key {
			continue
		}
		if ok, rs := WouldSend(c, ctx); ok {
			sent = append(sent, c)
		} else {
			blocked = append(blocked, Blocked{Cookie: c, Reasons: rs})
		}
	}
	sort.SliceStable(sent, func(a, b int) bool {
		if len(sent[a].Path) != len(sent[b].Path) {
			return len(sent[a].Path) > len(sent[b].Path)
		}
		return sent[a].Created.Before(sent[b].Created)
	})
	return sent, blocked
}
