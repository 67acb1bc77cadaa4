package model

// ProxyInfo describes the capturing reverse proxy, the `proxy` object of the status
// API: where the browser opens the app through it, and where it sends the requests.
type ProxyInfo struct {
	// Listen is the URL to open in the browser, built from the bound address (a
	// wildcard bind is shown as 127.0.0.1), e.g. http://127.0.0.1:7080/.
	Listen    string          `json:"listen"`
	Upstreams []ProxyUpstream `json:"upstreams"`
}

// ProxyUpstream is one application server behind the proxy.
type ProxyUpstream struct {
	Name string `json:"name"` // as given with --proxy-to NAME=URL, else the URL's host:port
	URL  string `json:"url"`  // password hidden
}
