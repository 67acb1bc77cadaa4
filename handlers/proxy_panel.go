package handlers

import (
	"strings"

	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/views"
)

// exampleApp is the application address the start command suggests; the user puts
// their own.
const exampleApp = "http://127.0.0.1:8000"

// proxyPanel is the proxy as the Status and Requests screens show it: where to open
// the app, or the command that starts a proxy on the store watched now.
func proxyPanel(st inspector.BackendStatus) views.ProxyPanel {
	if st.Proxy == nil {
		return views.ProxyPanel{Command: proxyCommand(st)}
	}
	p := views.ProxyPanel{Listen: st.Proxy.Listen}
	for _, u := range st.Proxy.Upstreams {
		p.Upstreams = append(p.Upstreams, views.ProxyUpstream{Name: u.Name, URL: u.URL})
	}
	return p
}

// proxyCommand is the command line that watches the same store with a proxy in front
// of the app. The store's description is where its flags come from (passwords in it
// are already hidden, so the user fills theirs in).
func proxyCommand(st inspector.BackendStatus) string {
	store := "--redis redis://127.0.0.1:6379"
	switch d := st.Describe; {
	case st.Name == "redis" && strings.HasPrefix(d, "sentinel "):
		// "sentinel A,B master NAME at HOST:PORT"
		if f := strings.Fields(d); len(f) >= 4 && f[2] == "master" {
			store = "--sentinel " + f[1] + " --master " + f[3]
		}
	case st.Name == "redis":
		if f := strings.Fields(d); len(f) > 0 && strings.Contains(f[0], "://") {
			store = "--redis " + f[0]
		}
	case st.Name == "files":
		if dirs, ok := strings.CutPrefix(d, "PHP session files in "); ok {
			store = ""
			for _, dir := range strings.Split(dirs, ", ") {
				store += " --files " + shellWord(dir)
			}
			store = strings.TrimSpace(store)
		}
	}
	return "sessionscope serve " + store + " --proxy-to " + exampleApp
}

// shellWord quotes s for a POSIX shell when it holds a character the shell would split
// or interpret.
func shellWord(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t'\"\\$`;&|<>()*?[]#~!") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
