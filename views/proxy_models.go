package views

import "net/url"

// ProxyPanel is the capturing proxy as the Status and Requests screens show it.
type ProxyPanel struct {
	// Listen is the URL to open the app at, through the proxy; "" when no proxy runs.
	Listen    string
	Upstreams []ProxyUpstream
	// Command starts sessionscope with a proxy in front of the app, on the store
	// watched now; shown when no proxy runs.
	Command string
}

// ProxyUpstream is one application server behind the proxy.
type ProxyUpstream struct {
	Name string
	URL  string
}

// hostOf is the host:port of a URL, to tell a default upstream name from a given one.
func hostOf(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	return u.Host
}
