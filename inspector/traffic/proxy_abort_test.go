package traffic

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestProxyRecordsAbortedResponse: a client that hangs up mid-body makes
// httputil.ReverseProxy abort the handler; the app still served the request (and may
// have changed the session), so the exchange must be recorded, marked as cut short.
func TestProxyRecordsAbortedResponse(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "PHPSESSID", Value: "abortedsession0123456789ab", Path: "/"})
		w.WriteHeader(200)
		_, _ = w.Write([]byte(strings.Repeat("x", 1<<16)))
		w.(http.Flusher).Flush()
		<-release // the rest of the body comes after the client left
		_, _ = w.Write([]byte(strings.Repeat("y", 1<<20)))
	}))
	defer up.Close()
	defer close(release)
	_, base, ch := startProxy(t, ProxyConfig{}, up)
	res, err := client().Get(base + "/big")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close() // hang up with the body unread
	release <- struct{}{}
	x := next(t, ch)
	if x.Status != 200 || len(x.SetCookies) != 1 || x.SetCookies[0].Name != "PHPSESSID" {
		t.Fatalf("aborted exchange recorded as %+v", x)
	}
	if x.Error == "" {
		t.Fatalf("aborted exchange not marked as cut short")
	}
}
