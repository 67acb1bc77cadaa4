package views_test

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/net/html"

	"github.com/sessionscope/sessionscope/ui/uitest"
	"github.com/sessionscope/sessionscope/views"
)

func TestCutURL(t *testing.T) {
	t.Parallel()
	long := "https://shop.example.com/account/orders/2024/11/invoices/INV-000123456789/download?format=pdf&lang=en"
	for _, tc := range []struct {
		name, in      string
		limit         int
		head, tail    string // what the cut keeps; "" head: the text is unchanged
		wantUnchanged bool
	}{
		{name: "fits", in: "http://app.test/login", limit: 64, wantUnchanged: true},
		{name: "exactly the limit", in: strings.Repeat("a", 64), limit: 64, wantUnchanged: true},
		{name: "keeps origin and end", in: long, limit: 64, head: "https://shop.example.com/", tail: "download?format=pdf&lang=en"},
		{name: "path only", in: "/" + strings.Repeat("segment/", 12) + "end?x=1", limit: 40, head: "/segment/", tail: "end?x=1"},
		{name: "host too long to keep whole", in: "https://" + strings.Repeat("h", 80) + ".test/p", limit: 40, head: "https://hh", tail: ".test/p"},
		{name: "multibyte", in: "https://app.test/" + strings.Repeat("é", 80) + "/fin", limit: 30, head: "https://app.test/", tail: "é/fin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := views.CutURL(tc.in, tc.limit)
			if c.Full != tc.in {
				t.Errorf("Full %q, want the input", c.Full)
			}
			cut := views.MiddleCut(tc.in, tc.limit)
			if tc.wantUnchanged {
				if c.Middle != "" || cut != tc.in {
					t.Errorf("cut %q (middle %q), want %q unchanged", cut, c.Middle, tc.in)
				}
				return
			}
			if c.Head+c.Middle+c.Tail != tc.in {
				t.Errorf("parts %q + %q + %q do not make the input back", c.Head, c.Middle, c.Tail)
			}
			if n := utf8.RuneCountInString(cut); n != tc.limit {
				t.Errorf("cut %q is %d characters, want %d", cut, n, tc.limit)
			}
			if !strings.HasPrefix(cut, tc.head) || !strings.HasSuffix(cut, tc.tail) || !strings.Contains(cut, "…") {
				t.Errorf("cut %q, want it to start %q, end %q, with … between", cut, tc.head, tc.tail)
			}
			if !utf8.ValidString(cut) {
				t.Errorf("cut %q is not valid UTF-8", cut)
			}
		})
	}
}

// TestRequestRowCutsLongURL: a long URL shows its start and end in the Requests table,
// the whole URL in the title and in the cell's text (hidden middle), so copying the
// cell still gives the whole URL.
func TestRequestRowCutsLongURL(t *testing.T) {
	t.Parallel()
	long := "https://shop.example.com/account/orders/2024/11/invoices/INV-000123456789/download?format=pdf&lang=en"
	row := views.ExchangeRow{ID: "p1-1", URL: "/requests/p1-1", Method: "GET", Target: long, Status: "200", StatusClass: "s-2xx", Location: "/short"}
	var b strings.Builder
	if err := views.RequestsTableView(views.RequestsTable{Rows: []views.ExchangeRow{row}}).Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	doc := uitest.Parse(t, []byte(b.String()))
	link := doc.One("request-link")
	if title, _ := uitest.Attr(link, "title"); title != long {
		t.Errorf("title %q, want the whole URL", title)
	}
	if txt := uitest.Text(link); txt != long {
		t.Errorf("link text %q, want the whole URL (its middle hidden by the stylesheet)", txt)
	}
	c := views.CutURL(long, views.URLCutLen)
	mids := uitest.All(link, func(n *html.Node) bool { v, _ := uitest.Attr(n, "class"); return v == "cut-mid" })
	if len(mids) != 1 || uitest.Text(mids[0]) != c.Middle {
		t.Errorf("hidden middle %v, want one .cut-mid holding %q", mids, c.Middle)
	}
	if !doc.Has("requests-table-wrap") {
		t.Error("the table has no scrolling wrapper")
	}
}
