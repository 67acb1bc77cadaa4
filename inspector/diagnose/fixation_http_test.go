package diagnose

import (
	"strings"
	"testing"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// TestFixationFromHTTP: in a HAR alone, a login that kept the session cookie and led
// to a page served with it is fixation; a login that renewed it, a refused login, a
// login answered with a token of its own, or a capture without values is not.
func TestFixationFromHTTP(t *testing.T) {
	const before = "PHPSESSID=aaaaaaaaaaaaaaaaaaaaaaaaaa"
	tests := []struct {
		name  string
		flow  func(f *loopFlow)
		opts  AnalyzeOptions
		found bool
	}{
		{name: "the login keeps the id", found: true, flow: func(f *loopFlow) {
			f.add("GET", loopSite+"/index", 200, "", "", true, "", "PHPSESSID=aaaaaaaaaaaaaaaaaaaaaaaaaa; path=/; HttpOnly")
			f.add("POST", loopSite+"/login", 302, "/dashboard", loopSite+"/index", false, before)
			f.add("GET", loopSite+"/dashboard", 200, "", loopSite+"/index", false, before)
		}},
		{name: "answered 200, the page moves on by script, same id", found: true, flow: func(f *loopFlow) {
			f.add("GET", loopSite+"/index", 200, "", "", true, "", "PHPSESSID=aaaaaaaaaaaaaaaaaaaaaaaaaa; path=/; HttpOnly")
			f.add("POST", loopSite+"/login", 200, "", loopSite+"/index", false, before).ClientRedirect = true
			f.add("GET", loopSite+"/dashboard", 200, "", loopSite+"/login", false, before)
		}},
		{name: "healthy: the login renews the id", flow: func(f *loopFlow) {
			f.add("GET", loopSite+"/index", 200, "", "", true, "", "PHPSESSID=aaaaaaaaaaaaaaaaaaaaaaaaaa; path=/; HttpOnly")
			f.add("POST", loopSite+"/login", 302, "/dashboard", loopSite+"/index", false, before, "PHPSESSID=bbbbbbbbbbbbbbbbbbbbbbbbbb; path=/; HttpOnly")
			f.add("GET", loopSite+"/dashboard", 200, "", loopSite+"/index", false, "PHPSESSID=bbbbbbbbbbbbbbbbbbbbbbbbbb")
		}},
		{name: "healthy: a wrong password", flow: func(f *loopFlow) {
			f.add("GET", loopSite+"/index", 200, "", "", true, "", "PHPSESSID=aaaaaaaaaaaaaaaaaaaaaaaaaa; path=/; HttpOnly")
			f.add("POST", loopSite+"/login", 200, "", loopSite+"/index", true, before)
			f.add("GET", loopSite+"/about", 200, "", loopSite+"/login", false, before)
		}},
		{name: "a login that did not hold is the loop's business", flow: func(f *loopFlow) {
			f.add("GET", loopSite+"/index", 200, "", "", true, "", "PHPSESSID=aaaaaaaaaaaaaaaaaaaaaaaaaa; path=/; HttpOnly")
			f.add("POST", loopSite+"/login", 302, "/dashboard", loopSite+"/index", false, before)
			f.add("GET", loopSite+"/dashboard", 302, "/index", loopSite+"/index", false, before)
		}},
		{name: "the login sets a token of its own", flow: func(f *loopFlow) {
			f.add("GET", loopSite+"/index", 200, "", "", true, "", "PHPSESSID=aaaaaaaaaaaaaaaaaaaaaaaaaa; path=/; HttpOnly")
			f.add("POST", loopSite+"/login", 302, "/dashboard", loopSite+"/index", false, before, "auth_token=0123456789abcdef0123; path=/; HttpOnly")
			f.add("GET", loopSite+"/dashboard", 200, "", loopSite+"/index", false, before+"; auth_token=0123456789abcdef0123")
		}},
		{name: "with the store watched, the store side owns it", opts: AnalyzeOptions{StoreWatched: true}, flow: func(f *loopFlow) {
			f.add("GET", loopSite+"/index", 200, "", "", true, "", "PHPSESSID=aaaaaaaaaaaaaaaaaaaaaaaaaa; path=/; HttpOnly")
			f.add("POST", loopSite+"/login", 302, "/dashboard", loopSite+"/index", false, before)
			f.add("GET", loopSite+"/dashboard", 200, "", loopSite+"/index", false, before)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newLoopFlow()
			tc.flow(f)
			var fix []model.Finding
			for _, k := range AnalyzeExchanges(f.xs, tc.opts) {
				if k.Rule == "fixation" {
					fix = append(fix, k)
				}
			}
			if !tc.found {
				if len(fix) > 0 {
					t.Fatalf("a fixation finding: %s", fix[0].Detail)
				}
				return
			}
			if len(fix) != 1 {
				t.Fatalf("%d fixation findings, want 1", len(fix))
			}
			if !strings.Contains(fix[0].Detail, "carried the session cookie PHPSESSID") || !strings.Contains(fix[0].Detail, "https://shop.test/dashboard was then served with the same id") {
				t.Errorf("detail: %s", fix[0].Detail)
			}
			if len(fix[0].Exchanges) != 2 {
				t.Errorf("exchanges %v, want the login and the page it led to", fix[0].Exchanges)
			}
		})
	}
}
