package diagnose

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"golang.org/x/net/publicsuffix"

	"github.com/sessionscope/sessionscope/inspector/cookies"
)

// Chromium's cookie limits (net/cookies/cookie_monster.cc: kDomainMaxCookies,
// kDomainPurgeCookies, kMaxCookies, kPurgeCookies): past 180 cookies for one site the
// browser evicts 30 of them, past 3,300 in all it evicts 300.
const (
	siteMaxCookies   = 180
	sitePurgeCookies = 30
	jarMaxCookies    = 3300
	jarPurgeCookies  = 300
)

// replayJar is a replay's cookie jar held within Chromium's limits. cookies.Jar keeps
// every cookie it is given and each request looks at all of them, so a capture whose
// responses keep setting new cookie names (one per product viewed, say) made the
// replay quadratic: 1.8 ms an entry at 1,000 entries, 6.7 ms at 4,000. A browser
// evicts instead, the least recently used first and insecure cookies before secure
// ones, and so does this jar: it keeps the time each cookie was last sent or set, and
// rebuilds the jar without the evicted ones when a site or the whole jar goes over.
type replayJar struct {
	jar     *cookies.Jar
	lastUse map[jarKey]time.Time
	sites   map[string]string // cookie domain -> its site (registrable domain)
	// perSite and total count the cookies stored since the last exact count: upper
	// bounds (a replaced cookie counts again), checked exactly when they pass a limit.
	perSite map[string]int
	total   int
}

type jarKey struct {
	name, domain, path    string
	hostOnly, partitioned bool
}

func keyOf(c cookies.Cookie) jarKey {
	return jarKey{c.Name, c.Domain, c.Path, c.HostOnly, c.Partitioned}
}

func newReplayJar() *replayJar {
	return &replayJar{jar: &cookies.Jar{}, lastUse: map[jarKey]time.Time{}, sites: map[string]string{}, perSite: map[string]int{}}
}

// Send is cookies.Jar.Send, noting the cookies sent as used.
func (j *replayJar) Send(ctx cookies.Context) (sent []cookies.Cookie, blocked []cookies.Blocked) {
	sent, blocked = j.jar.Send(ctx)
	for _, c := range sent {
		j.lastUse[keyOf(c)] = ctx.Now
	}
	return sent, blocked
}

// Store is cookies.Jar.Store, then evicts as Chromium would if a limit is passed.
func (j *replayJar) Store(ctx cookies.Context, setCookie string) cookies.Verdict {
	v := j.jar.Store(ctx, setCookie)
	if !v.Stored {
		return v
	}
	j.lastUse[keyOf(v.Cookie)] = ctx.Now
	site := j.site(v.Cookie.Domain)
	j.perSite[site]++
	j.total++
	if j.perSite[site] > siteMaxCookies || j.total > jarMaxCookies {
		j.evict(ctx.Now)
	}
	return v
}

func (j *replayJar) site(domain string) string {
	if s, ok := j.sites[domain]; ok {
		return s
	}
	s, err := publicsuffix.EffectiveTLDPlusOne(strings.TrimPrefix(strings.ToLower(domain), "."))
	if err != nil {
		s = strings.ToLower(domain)
	}
	j.sites[domain] = s
	return s
}

// evict counts the jar exactly and drops what Chromium would: the least recently
// used cookies of each site over its limit, then of the whole jar.
func (j *replayJar) evict(now time.Time) {
	cs := j.jar.Cookies(now)
	used := func(c cookies.Cookie) time.Time {
		if t, ok := j.lastUse[keyOf(c)]; ok {
			return t
		}
		return c.Created
	}
	bySite := map[string][]int{}
	for i, c := range cs {
		s := j.site(c.Domain)
		bySite[s] = append(bySite[s], i)
	}
	evicted := make([]bool, len(cs))
	left := len(cs)
	for _, idx := range bySite {
		if len(idx) <= siteMaxCookies {
			continue
		}
		slices.SortStableFunc(idx, func(a, b int) int {
			if cs[a].Secure != cs[b].Secure {
				if cs[a].Secure {
					return 1
				}
				return -1
			}
			return used(cs[a]).Compare(used(cs[b]))
		})
		for _, i := range idx[:len(idx)-(siteMaxCookies-sitePurgeCookies)] {
			evicted[i] = true
			left--
		}
	}
	if left > jarMaxCookies {
		var idx []int
		for i := range cs {
			if !evicted[i] {
				idx = append(idx, i)
			}
		}
		slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(used(cs[a]).UnixNano(), used(cs[b]).UnixNano()) })
		for _, i := range idx[:left-(jarMaxCookies-jarPurgeCookies)] {
			evicted[i] = true
			left--
		}
	}
	clear(j.perSite)
	j.total = left
	if left == len(cs) { // the counts were high, not the jar: nothing to evict
		for _, c := range cs {
			j.perSite[j.site(c.Domain)]++
		}
		return
	}
	jar := &cookies.Jar{}
	lastUse := make(map[jarKey]time.Time, left)
	for i, c := range cs {
		if evicted[i] {
			continue
		}
		jar.Add(c) // in the order they were stored, which Send's ties follow
		lastUse[keyOf(c)] = used(c)
		j.perSite[j.site(c.Domain)]++
	}
	j.jar, j.lastUse = jar, lastUse
}
