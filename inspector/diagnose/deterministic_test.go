package diagnose

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// TestAnalyzeExchangesIsDeterministic: the live rules replay a client's history again
// and again and publish a finding whenever its text changes, so the same exchanges
// must give byte-identical findings every time, whatever Go's map order does.
func TestAnalyzeExchangesIsDeterministic(t *testing.T) {
	const id = "q3hgl8v5c0m2k7ut3ohs1f2km9"
	const other = "zz8gl8v5c0m2k7ut3ohs1f2kaa"
	// Two session-named query parameters and two known ids in one URL: each is a
	// candidate for "where", so the answer must not depend on iteration order.
	crafted := []*model.Exchange{
		exch("x1", 0, "POST", "https://shop.example.com/login.php", 302,
			setCookie("PHPSESSID="+id+"; Path=/; Secure; HttpOnly; SameSite=Lax"),
			setCookie("sessionid="+other+"; Path=/; Secure; HttpOnly; SameSite=Lax")),
		exch("x2", 1, "GET", "https://shop.example.com/cart.php?sessionid="+other+"&PHPSESSID="+id, 200),
		exch("x3", 2, "GET", "https://partner.example.net/offer", 200,
			referer("https://shop.example.com/s/"+id+"/"+other+"?sessionid="+other+"&PHPSESSID="+id)),
	}
	cases := map[string][]*model.Exchange{"crafted": crafted}
	files, err := filepath.Glob("testdata/golden/*.har")
	if err != nil {
		t.Fatal(err)
	}
	more, _ := filepath.Glob("testdata/*.har")
	for _, f := range append(files, more...) {
		if strings.HasSuffix(f, "malformed.har") {
			continue
		}
		rel, _ := filepath.Rel("testdata", f)
		xs, _ := readHAR(t, rel)
		cases[rel] = xs
	}
	for name, xs := range cases {
		t.Run(name, func(t *testing.T) {
			first := ""
			for i := 0; i < 30; i++ {
				b, err := json.Marshal(AnalyzeExchanges(xs, AnalyzeOptions{}))
				if err != nil {
					t.Fatal(err)
				}
				if i == 0 {
					first = string(b)
					continue
				}
				if string(b) != first {
					t.Fatalf("run %d differs from run 0:\n%s\n---\n%s", i, b, first)
				}
			}
		})
	}
}
