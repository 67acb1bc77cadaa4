package traffic

import (
	"bytes"
	"mime"
	"net/http"
)

// maxBodyScan bounds how much of an HTML body the proxy looks through: a login form
// and a redirecting script or meta refresh sit near the top of their page, and the
// proxy must not pay for scanning large documents as they stream by.
const maxBodyScan = 256 << 10

// passwordInputs are the ways HTML writes a password input's type attribute,
// lower-cased (the scan lower-cases the body).
var passwordInputs = [][]byte{[]byte(`type="password"`), []byte(`type='password'`), []byte(`type=password`)}

// clientRedirects are the ways a page sends the browser on by itself, lower-cased: a
// meta refresh, or a script that assigns the location. A script may also only read
// location.href; the loop rule trusts the mark only when the next page load came
// from this page.
var clientRedirects = [][]byte{
	[]byte(`http-equiv="refresh"`), []byte(`http-equiv='refresh'`), []byte(`http-equiv=refresh`),
	[]byte(`location.href`), []byte(`location.replace(`), []byte(`location.assign(`),
	[]byte(`location=`), []byte(`location =`),
}

// Every needle of a set holds its anchor: a chunk without the anchors is passed
// over in one search each instead of one per needle.
var (
	passwordAnchor  = []byte(`password`)
	redirectAnchors = [][]byte{[]byte(`location`), []byte(`http-equiv`)}
)

// longestNeedle is how many bytes of a chunk's end are kept, so a needle split
// across two writes is still found.
var longestNeedle = func() int {
	n := 0
	for _, set := range [][][]byte{passwordInputs, clientRedirects} {
		for _, p := range set {
			n = max(n, len(p))
		}
	}
	return n
}()

// bodyScan notices, in an HTML response as it streams to the client and without
// buffering it, the two things its body alone says: a password input (an
// application that answers a protected URL with its login form, 200 and no
// redirect, says "not logged in" only there) and a client-side redirect (a page
// that sends the browser on with a script or a meta refresh).
type bodyScan struct {
	decided        bool // the content type was looked at
	html           bool
	loginForm      bool
	clientRedirect bool
	scanned        int
	// buf starts with the end of the previous chunk (keep bytes), lower-cased; the
	// next chunk is lower-cased after it, in place.
	buf  []byte
	keep int
}

// write looks at the next chunk of the body; header is the response's.
func (s *bodyScan) write(header http.Header, b []byte) {
	if !s.decided {
		s.decided = true
		s.html = isHTML(header.Get("Content-Type"))
	}
	if !s.html || s.loginForm && s.clientRedirect || s.scanned >= maxBodyScan || len(b) == 0 {
		return
	}
	if n := maxBodyScan - s.scanned; len(b) > n {
		b = b[:n]
	}
	s.scanned += len(b)
	// Lower-cased byte by byte in a buffer kept across writes (bytes.ToLower made a
	// new copy of every chunk). Only ASCII is folded: every needle is ASCII, and no
	// other letter's lower case ends one (the Kelvin sign's, k, is in none).
	chunk := append(s.buf[:s.keep], b...)
	lowerASCII(chunk[s.keep:])
	s.loginForm = s.loginForm || bytes.Contains(chunk, passwordAnchor) && containsAny(chunk, passwordInputs)
	s.clientRedirect = s.clientRedirect || containsAny(chunk, redirectAnchors) && containsAny(chunk, clientRedirects)
	s.keep = copy(chunk, chunk[len(chunk)-min(len(chunk), longestNeedle-1):])
	s.buf = chunk
}

// isHTML reports whether a Content-Type is an HTML document's. The usual values are
// answered without parsing the media type.
func isHTML(contentType string) bool {
	switch contentType {
	case "text/html", "text/html; charset=utf-8", "text/html; charset=UTF-8":
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "text/html" || mt == "application/xhtml+xml")
}

func lowerASCII(b []byte) {
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
}

func containsAny(b []byte, needles [][]byte) bool {
	for _, p := range needles {
		if bytes.Contains(b, p) {
			return true
		}
	}
	return false
}
