package views

import "strings"

// How many characters of a URL a table cell shows: the request URL, and the
// Location a redirect points to (a narrower column). Longer URLs are cut in the
// middle and carry the whole URL in their title.
const (
	URLCutLen      = 48
	LocationCutLen = 40
)

// URLCut is a URL split for a table cell. The page shows Head, "…" and Tail; Middle
// stays in the document, hidden, so copying the cell or searching the page still
// finds the whole URL. Middle is empty when the URL fits.
type URLCut struct {
	Full   string
	Head   string
	Middle string
	Tail   string
}

// CutURL splits u so that at most limit characters show. A URL keeps its start
// (scheme and host: where the request went) and its end (the last path segment and
// the query: what was asked); an end cut would drop exactly the part that tells one
// request from the next.
func CutURL(u string, limit int) URLCut {
	r := []rune(u)
	if len(r) <= limit || limit < 3 {
		return URLCut{Full: u, Head: u}
	}
	keep := limit - 1 // the ellipsis takes one
	head := keep / 2
	// A long origin is kept whole as long as it leaves a quarter for the end, so the
	// host itself is never cut.
	if origin := originLen(u); origin > head && origin <= keep-keep/4 {
		head = origin
	}
	tail := keep - head
	return URLCut{Full: u, Head: string(r[:head]), Middle: string(r[head : len(r)-tail]), Tail: string(r[len(r)-tail:])}
}

// MiddleCut is CutURL as plain text ("http://host/a…/end"), for places that cannot
// hide part of their text, such as SVG labels.
func MiddleCut(u string, limit int) string {
	c := CutURL(u, limit)
	if c.Middle == "" {
		return u
	}
	return c.Head + "…" + c.Tail
}

// originLen is the length in characters of "scheme://host[:port]/" at the start of s,
// or 0 when s does not start with an absolute URL's origin followed by more.
func originLen(s string) int {
	i := strings.Index(s, "://")
	if i <= 0 || strings.ContainsAny(s[:i], "/?#") {
		return 0
	}
	rest := s[i+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		return 0 // the whole text is the origin: nothing to keep apart
	}
	return len([]rune(s[:i+3+end+1]))
}
