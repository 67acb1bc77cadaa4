package traffic

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
)

// upstreamFailure says, in words, how a request to an upstream failed: "refused the
// connection (nothing listens on 127.0.0.1:8080)". It completes a sentence whose
// subject is the upstream.
func upstreamFailure(err error, u string) string {
	var dnsErr *net.DNSError
	var recordErr tls.RecordHeaderError
	var unknownAuthority x509.UnknownAuthorityError
	var hostnameErr x509.HostnameError
	var certErr *tls.CertificateVerificationError
	var netErr net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused the connection (nothing listens on " + u + ")"
	case errors.Is(err, syscall.ECONNRESET):
		return "reset the connection before answering"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "cannot be reached (no route to the host)"
	case errors.As(err, &dnsErr):
		return "has a host name that does not resolve (" + dnsErr.Name + ")"
	case errors.As(err, &recordErr):
		return "did not answer with TLS (is it http:// rather than https://?)"
	case errors.As(err, &unknownAuthority), errors.As(err, &hostnameErr), errors.As(err, &certErr):
		return "presented a TLS certificate that is not trusted"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "did not answer in time (timeout)"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "closed the connection without answering"
	}
	return "failed: " + err.Error()
}

// badGateway is what the proxy answers when an upstream gave no response.
type badGateway struct {
	Name   string // the upstream's name
	URL    string // the upstream's URL, password hidden
	How    string // upstreamFailure's words
	Method string
	Target string // the request's URL, session ids masked
}

// badGatewayPage is a small page for browsers: the developer opened the app through
// the proxy and needs to know it is the app that is down, not sessionscope.
var badGatewayPage = template.Must(template.New("502").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>502 Bad Gateway: {{.Name}} did not answer</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:3rem auto;padding:0 1rem;color:#1f2328;background:#fff}
h1{font-size:1.4rem;margin:0 0 1rem}
code{font:0.9em ui-monospace,monospace;background:#f3f4f6;padding:0.1em 0.3em;border-radius:3px;word-break:break-all}
.muted{color:#59636e;font-size:0.9rem}
</style>
</head>
<body data-testid="bad-gateway">
<h1>502 Bad Gateway: the app did not answer</h1>
<p>sessionscope's proxy sent <code>{{.Method}} {{.Target}}</code> to the upstream <strong data-testid="upstream-name">{{.Name}}</strong> (<code data-testid="upstream-url">{{.URL}}</code>), which <span data-testid="upstream-error">{{.How}}</span>.</p>
<p><strong>What to do:</strong> start the app, or check <code>--proxy-to</code>: it must name the address the app listens on. Then reload this page.</p>
<p class="muted">The request is recorded, with this error, on sessionscope's Requests screen.</p>
</body>
</html>
`))

// write answers 502 with the page for a browser, one plain-text line for others.
func (b badGateway) write(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if !strings.Contains(r.Header.Get("Accept"), "text/html") {
		h.Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprintf(w, "502 Bad Gateway: upstream %s (%s) %s; start the app, or check --proxy-to\n", b.Name, b.URL, b.How)
		return
	}
	var page bytes.Buffer
	if err := badGatewayPage.Execute(&page, b); err != nil {
		page.Reset()
		template.HTMLEscape(&page, []byte("502 Bad Gateway: upstream "+b.Name+" "+b.How))
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusBadGateway)
	_, _ = w.Write(page.Bytes())
}
