package traffic

import (
	"bytes"
	"mime"
	"net/http"
)

// maxLoginFormScan bounds how much of an HTML body the proxy looks through for a
// password input: a login form sits near the top of its page, and the proxy must
// not pay for scanning large documents as they stream by.
const maxLoginFormScan = 256 << 10

// passwordInputs are the ways HTML writes a password input's type attribute,
// lower-cased (the scan lower-cases the body).
var passwordInputs = [][]byte{[]byte(`type="password"`), []byte(`type='password'`), []byte(`type=password`)}

// longestPasswordInput is how many bytes of a chunk's end are kept, so a type
// attribute split across two writes is still found.
const longestPasswordInput = len(`type="password"`)

// loginFormScan notices a password input in an HTML response as it streams to the
// client, without buffering the body: an application that answers a protected URL
// with its login form (200, no redirect) says "not logged in" only in its body.
type loginFormScan struct {
	decided bool // the content type was looked at
	html    bool
	found   bool
	scanned int
	tail    []byte // the end of the previous chunk, lower-cased
}

// write looks at the next chunk of the body; header is the response's.
func (s *loginFormScan) write(header http.Header, b []byte) {
	if !s.decided {
		s.decided = true
		mt, _, err := mime.ParseMediaType(header.Get("Content-Type"))
		s.html = err == nil && (mt == "text/html" || mt == "application/xhtml+xml")
	}
	if !s.html || s.found || s.scanned >= maxLoginFormScan || len(b) == 0 {
		return
	}
	if n := maxLoginFormScan - s.scanned; len(b) > n {
		b = b[:n]
	}
	s.scanned += len(b)
	chunk := bytes.ToLower(append(s.tail, b...))
	for _, p := range passwordInputs {
		if bytes.Contains(chunk, p) {
			s.found = true
			s.tail = nil
			return
		}
	}
	keep := min(len(chunk), longestPasswordInput-1)
	s.tail = append(s.tail[:0], chunk[len(chunk)-keep:]...)
}
