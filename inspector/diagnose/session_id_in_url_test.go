package diagnose

import (
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
