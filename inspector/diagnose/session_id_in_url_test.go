package diagnose

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// A session id in the Referer went to whoever received the request.
func TestSessionIDInReferer(t *testing.T) {
	const id = "q3hgl8v5c0m2k7ut3ohs1f2km9"
	login := exch("x1", 0, "POST", "https://shop.example.com/login.php", 302,
		setCookie("PHPSESSID="+id+"; Path=/; Secure; HttpOnly; SameSite=Lax"))
	tests := []struct {
		name     string
		xs       []*model.Exchange
		want     int
		contains []string
	}{
		{name: "trans_sid link to another site", want: 1,
			xs: []*model.Exchange{login, exch("x2", 1, "GET", "https://partner.example.net/offer", 200,
				referer("https://shop.example.com/cart.php?PHPSESSID="+id+"&step=2"))},
			contains: []string{"Session id leaked in the Referer to partner.example.net", "query parameter PHPSESSID",
				"PHPSESSID=q3hg…m9", "another site", "Referrer-Policy", "session.use_trans_sid = 0", "res.set('Referrer-Policy', 'no-referrer')", "x2"}},
		{name: "id in the path, same site", want: 1,
			xs: []*model.Exchange{login, exch("x2", 1, "GET", "https://shop.example.com/logo.png", 200,
				referer("https://shop.example.com/s/"+id+"/cart"))},
			contains: []string{"in its path", "/s/q3hg…m9/cart", "ends up in logs"}},
		{name: "a clean Referer", want: 0,
			xs: []*model.Exchange{login, exch("x2", 1, "GET", "https://partner.example.net/offer", 200,
				referer("https://shop.example.com/cart.php?step=2"))}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var fs []model.Finding
			for _, f := range ruleFindings(tc.xs, "session-id-in-url") {
				if strings.Contains(f.Title, "Referer") {
					fs = append(fs, f)
				}
			}
			if len(fs) != tc.want {
				t.Fatalf("%d Referer findings, want %d", len(fs), tc.want)
			}
			if tc.want == 0 {
				return
			}
			text := findingText(fs[0])
			for _, s := range tc.contains {
				if !strings.Contains(text, s) {
					t.Errorf("missing %q in\n%s", s, text)
				}
			}
			if strings.Contains(text, id) {
				t.Errorf("the full id leaked:\n%s", text)
			}
		})
	}
}

// BenchmarkSessionIDInURLScaling analyses captures where every page load carries its
// own session id in the URL, at 2k and 16k entries. ns/entry should stay flat: the
// import was quadratic in the number of sessions (0.4 s at 2k, 31 s at 16k).
func BenchmarkSessionIDInURLScaling(b *testing.B) {
	for _, n := range []int{2000, 16000} {
		xs := idsInURLs(n)
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			for b.Loop() {
				AnalyzeExchanges(xs, AnalyzeOptions{})
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/entry")
		})
	}
}

// idsInURLs is n page loads, each sending its own session id in a cookie and in the URL.
func idsInURLs(n int) []*model.Exchange {
	f := newLoopFlow()
	for i := range n {
		// Ids that share their start, as signed or encoded cookie values do.
		id := fmt.Sprintf("s%%3A%022x", uint64(i)*0x9e3779b97f4a7c15)
		f.add("GET", fmt.Sprintf("%s/cart/%s?view=full", loopSite, id), 200, "", "", false, "PHPSESSID="+id)
	}
	return f.xs
}

// TestIDIndexFindsWhatContainsFinds: the prefix index finds exactly the values a
// substring search over every value finds, longest first.
func TestIDIndexFindsWhatContainsFinds(t *testing.T) {
	names := map[string]string{}
	for _, v := range []string{"aaaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaab", "baaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbb", "abcdefghijklmnopq", "0123456789abcdef"} {
		names[v] = "PHPSESSID"
	}
	ix := newIDIndex(names)
	for _, s := range []string{"", "/x/aaaaaaaaaaaaaaaab/y", "baaaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaaa", "?q=abcdefghijklmnopq&r=0123456789abcdef", "aaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbb"} {
		var want []string
		for v := range names {
			if strings.Contains(s, v) {
				want = append(want, v)
			}
		}
		want = longestFirst(want)
		if got := longestFirst(ix.within(s)); !slices.Equal(got, want) {
			t.Errorf("%q: index found %v, substring search %v", s, got, want)
		}
	}
}
