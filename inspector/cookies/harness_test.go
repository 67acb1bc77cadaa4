package cookies

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"
)

// hosts expands the placeholders of a case URL.
type hosts struct {
	port string
	pub  string // a non-loopback IPv4 address of this machine, or ""
}

func (h hosts) expand(s string) string {
	return strings.NewReplacer(
		"{L}", "localhost:"+h.port,
		"{A}", "a.localhost:"+h.port,
		"{B}", "b.localhost:"+h.port,
		"{S}", "sub.localhost:"+h.port,
		"{I}", "127.0.0.1:"+h.port,
		"{P}", h.pub+":"+h.port,
	).Replace(s)
}

// normalize puts the public address back as its placeholder, so wants are stable.
func (h hosts) normalize(s string) string {
	if h.pub == "" {
		return s
	}
	return strings.ReplaceAll(s, h.pub, "{P}")
}

// lineName is the cookie name of a Set-Cookie line, shortened for summaries.
func lineName(line string) string {
	n := line
	if i := strings.IndexAny(n, "=;"); i >= 0 {
		n = n[:i]
	}
	n = strings.TrimSpace(n)
	if len(n) > 24 {
		n = n[:24] + "..."
	}
	return n
}

func setLine(line string, stored, expired bool, reasons []string) string {
	switch {
	case len(reasons) > 0:
		return fmt.Sprintf("set %s: blocked %s", lineName(line), strings.Join(reasons, "+"))
	case stored:
		return "set " + lineName(line) + ": stored"
	case expired:
		return "set " + lineName(line) + ": not stored"
	}
	return "set " + lineName(line) + ": ???"
}

func sendLine(name string, reasons []string) string {
	if len(reasons) == 0 {
		return "send " + name + ": sent"
	}
	return "send " + name + ": blocked " + strings.Join(reasons, "+")
}

// jarEntry is NAME@DOMAIN(PATH) plus flags; DOMAIN has a leading dot for domain cookies.
func jarEntry(name, domain, path string, secure bool, sameSite string) string {
	if len(name) > 24 {
		name = name[:24] + "..."
	}
	s := name + "@" + domain + "(" + path + ")"
	if secure {
		s += " Secure"
	}
	if sameSite != "" {
		s += " " + sameSite
	}
	return s
}

func jarLine(entries []string) string {
	sort.Strings(entries)
	return strings.TrimSpace("jar: " + strings.Join(entries, " "))
}

func strs(rs []Reason) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	return out
}

// modelRun replays a case's steps against this package.
type modelRun struct {
	h   hosts
	jar Jar
	cur *url.URL // the page the next link/post/fetch starts from
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func (m *modelRun) step(st step) []string {
	u := mustURL(m.h.expand(st.url))
	now := time.Now()
	ctx := Context{URL: u, Now: now, BlockThirdPartyCookies: true}
	switch st.how {
	case "cdpset":
		name, value, _ := strings.Cut(st.set[0], "=")
		value, _, _ = strings.Cut(value, ";")
		m.jar.Add(Cookie{Name: name, Value: value, Domain: host(u), HostOnly: true, Path: "/",
			Secure: strings.Contains(st.set[0], "Secure"), Created: now})
		return nil
	case "nav":
		ctx.TopLevelNav = true
	case "link":
		ctx.TopLevelNav, ctx.Initiator = true, m.cur
	case "post":
		ctx.TopLevelNav, ctx.Initiator, ctx.Method = true, m.cur, "POST"
	case "fetch":
		ctx.SiteForCookies, ctx.Initiator = m.cur, m.cur
	}
	for _, v := range st.via {
		ctx.RedirectChain = append(ctx.RedirectChain, mustURL(m.h.expand(v)))
	}
	var out []string
	sent, blocked := m.jar.Send(ctx)
	for _, c := range sent {
		out = append(out, sendLine(c.Name, nil))
	}
	for _, b := range blocked {
		out = append(out, sendLine(b.Cookie.Name, strs(b.Reasons)))
	}
	for _, line := range st.set {
		v := m.jar.Store(ctx, line)
		out = append(out, setLine(line, v.Stored, len(v.Reasons) == 0 && !v.Stored, strs(v.Reasons)))
	}
	if st.how != "fetch" {
		m.cur = u
	}
	sort.Strings(out)
	var entries []string
	for _, c := range m.jar.Cookies(now) {
		d := c.Domain
		if !c.HostOnly {
			d = "." + d
		}
		entries = append(entries, jarEntry(c.Name, d, c.Path, c.Secure, c.SameSite.String()))
	}
	return append(out, m.h.normalize(jarLine(entries)))
}
