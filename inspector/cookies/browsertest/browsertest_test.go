package browsertest_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sessionscope/sessionscope/inspector/cookies/browsertest"
)

// TestHelpers checks what the dashboard tests rely on: dialogs are recorded and
// dismissed (so a page that calls alert does not hang), document statuses are
// recorded, text is read by data-testid, and WaitJS sees a value set later.
func TestHelpers(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><p data-testid="greeting">  hello
			<b>world</b> </p><script>alert("from the page"); setTimeout(function(){ window.__later = 7 }, 50);</script>`))
	})
	mux.HandleFunc("/gone", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "gone", http.StatusGone)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	b := browsertest.New(t)
	if resp := b.Navigate(srv.URL + "/"); resp.Status != http.StatusOK {
		t.Errorf("status %d, want 200", resp.Status)
	}
	if got := b.TextByTestID("greeting"); got != "hello world" {
		t.Errorf("text %q, want %q", got, "hello world")
	}
	b.WaitJS("window.__later", "window.__later === 7")
	if d := b.Dialogs(); len(d) != 1 || d[0].Type != "alert" || d[0].Message != "from the page" {
		t.Errorf("dialogs %+v, want the one alert", d)
	}
	if got := browsertest.Eval[string](b, browsertest.Quote(`<"quoted" \ é>`)); got != `<"quoted" \ é>` {
		t.Errorf("Quote round trip: %q", got)
	}
	if resp := b.Navigate(srv.URL + "/gone"); resp.Status != http.StatusGone {
		t.Errorf("status %d, want 410", resp.Status)
	}
	rs := b.Responses()
	if len(rs) != 2 || rs[1].Status != http.StatusGone || !strings.HasSuffix(rs[1].URL, "/gone") {
		t.Errorf("responses %+v", rs)
	}
}
