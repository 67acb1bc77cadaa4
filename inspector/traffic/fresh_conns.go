package traffic

import (
	"net"
	"net/http"
	"sync"
)

// FreshConns tracks a server's connections that have not sent a byte of a request yet
// (http.StateNew), so that stopping need not wait for them.
//
// net/http's Shutdown counts such a connection busy for its first 5 seconds. Browsers
// open connections ahead of need (Chromium's preconnects, a reconnecting page's next
// socket), so one opened just before a stop held Shutdown to its limit. They carry no
// request: once the server's Serve has returned (Shutdown closed the listener, and
// Serve has reported every connection it accepted), Close closes them.
type FreshConns struct {
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// TrackFreshConns sets srv.ConnState to track srv's fresh connections.
func TrackFreshConns(srv *http.Server) *FreshConns {
	f := &FreshConns{conns: map[net.Conn]struct{}{}}
	srv.ConnState = func(c net.Conn, st http.ConnState) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if st == http.StateNew {
			f.conns[c] = struct{}{}
		} else {
			delete(f.conns, c)
		}
	}
	return f
}

// Close closes the connections that have not sent a byte.
func (f *FreshConns) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		_ = c.Close()
		delete(f.conns, c)
	}
}
