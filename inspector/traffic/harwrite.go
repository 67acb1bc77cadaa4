package traffic

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// HARCreator is the log.creator name of the HAR files sessionscope writes.
const HARCreator = "sessionscope"

// ErrHARClosed is returned by HARWriter.Add after Close.
var ErrHARClosed = errors.New("har writer: closed")

// HARWriterOptions configures a HARWriter. Zero values take the defaults.
type HARWriterOptions struct {
	// Version is log.creator.version. Default: the main module's version from the
	// build info, or "devel".
	Version string
	// Comment is log.comment. Default: a warning that the file holds live session
	// cookies.
	Comment string
}

// HARWriter streams a HAR 1.2 file from exchanges as they come: the log header is
// written at once, each Add appends one entry with a single write (so an interrupted
// capture loses at most the closing brackets), and Close ends the file. It writes the
// raw values the proxy keeps — unmasked URLs, Location and Referer, cookie values,
// Set-Cookie lines — so the file holds live session credentials. Bodies are never
// kept, so entries have no content. It is safe for concurrent use.
type HARWriter struct {
	mu      sync.Mutex
	w       io.Writer
	closer  io.Closer // closed by Close when the writer owns the file
	n       int       // entries written
	err     error     // the first write error; sticky
	closed  bool
	scratch []byte
}

// NewHARWriter writes the HAR's header to w and returns the writer. Close ends the
// HAR but does not close w.
func NewHARWriter(w io.Writer, opts HARWriterOptions) (*HARWriter, error) {
	if opts.Version == "" {
		opts.Version = "devel"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			opts.Version = bi.Main.Version
		}
	}
	if opts.Comment == "" {
		opts.Comment = "Captured by sessionscope's proxy. It holds live session cookies and ids: treat it as a secret, and use test accounts."
	}
	head, err := json.Marshal(struct {
		Version string     `json:"version"`
		Creator harCreator `json:"creator"`
		Comment string     `json:"comment,omitempty"`
	}{"1.2", harCreator{Name: HARCreator, Version: opts.Version}, opts.Comment})
	if err != nil {
		return nil, fmt.Errorf("har writer: %w", err)
	}
	// {"log":{"version":...,"creator":...,"comment":...,"entries":[
	prefix := append([]byte(`{"log":`), head[:len(head)-1]...)
	prefix = append(prefix, `,"entries":[`...)
	if _, err := w.Write(prefix); err != nil {
		return nil, fmt.Errorf("har writer: write header: %w", err)
	}
	return &HARWriter{w: w}, nil
}

// CreateHARFile creates (or truncates) path with owner-only permissions, since the
// capture holds session credentials, and returns a HARWriter that closes the file on
// Close.
func CreateHARFile(path string, opts HARWriterOptions) (*HARWriter, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("har writer: %w", err)
	}
	hw, err := NewHARWriter(f, opts)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	hw.closer = f
	return hw, nil
}

// Add appends one entry for x. After a write error every Add returns that error.
func (h *HARWriter) Add(x *model.Exchange) error {
	b, err := json.Marshal(harEntryOf(x))
	if err != nil {
		return fmt.Errorf("har writer: entry %s: %w", x.ID, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return ErrHARClosed
	}
	if h.err != nil {
		return h.err
	}
	h.scratch = h.scratch[:0]
	if h.n > 0 {
		h.scratch = append(h.scratch, ',')
	}
	h.scratch = append(h.scratch, '\n')
	h.scratch = append(h.scratch, b...)
	if _, err := h.w.Write(h.scratch); err != nil {
		h.err = fmt.Errorf("har writer: write entry: %w", err)
		return h.err
	}
	h.n++
	return nil
}

// Entries is the number of entries written so far.
func (h *HARWriter) Entries() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}

// Close ends the HAR and closes the file the writer owns. It returns the first write
// error, if any; calling it again returns nil.
func (h *HARWriter) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil
	}
	h.closed = true
	err := h.err
	if err == nil {
		if _, werr := io.WriteString(h.w, "\n]}}\n"); werr != nil {
			err = fmt.Errorf("har writer: write end: %w", werr)
		}
	}
	if h.closer != nil {
		if cerr := h.closer.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("har writer: %w", cerr)
		}
	}
	return err
}

type harCreator struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

type harNV struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type harOutCookie struct {
	Name     string `json:"name"`
	Value    string `json:"value"`
	Path     string `json:"path,omitempty"`
	Domain   string `json:"domain,omitempty"`
	Expires  string `json:"expires,omitempty"`
	HTTPOnly bool   `json:"httpOnly,omitempty"`
	Secure   bool   `json:"secure,omitempty"`
	SameSite string `json:"sameSite,omitempty"`
}

type harOutRequest struct {
	Method      string         `json:"method"`
	URL         string         `json:"url"`
	HTTPVersion string         `json:"httpVersion"`
	Cookies     []harOutCookie `json:"cookies"`
	Headers     []harNV        `json:"headers"`
	QueryString []harNV        `json:"queryString"`
	HeadersSize int            `json:"headersSize"`
	BodySize    int            `json:"bodySize"`
}

type harContent struct {
	Size     int    `json:"size"`
	MimeType string `json:"mimeType"`
	Comment  string `json:"comment,omitempty"`
}

type harOutResponse struct {
	Status      int            `json:"status"`
	StatusText  string         `json:"statusText"`
	HTTPVersion string         `json:"httpVersion"`
	Cookies     []harOutCookie `json:"cookies"`
	Headers     []harNV        `json:"headers"`
	Content     harContent     `json:"content"`
	RedirectURL string         `json:"redirectURL"`
	HeadersSize int            `json:"headersSize"`
	BodySize    int            `json:"bodySize"`
	Error       string         `json:"_error,omitempty"`
	// LoginForm and ClientRedirect: the body held a password input, or a meta refresh
	// or a script assigning the location (model.Exchange), the two things about the
	// body the proxy records.
	LoginForm      bool `json:"_loginForm,omitempty"`
	ClientRedirect bool `json:"_clientRedirect,omitempty"`
}

type harTimings struct {
	Blocked float64 `json:"blocked"`
	DNS     float64 `json:"dns"`
	Connect float64 `json:"connect"`
	Send    float64 `json:"send"`
	Wait    float64 `json:"wait"`
	Receive float64 `json:"receive"`
}

type harOutEntry struct {
	StartedDateTime string         `json:"startedDateTime"`
	Time            float64        `json:"time"`
	Request         harOutRequest  `json:"request"`
	Response        harOutResponse `json:"response"`
	Cache           struct{}       `json:"cache"`
	Timings         harTimings     `json:"timings"`
	ServerIPAddress string         `json:"serverIPAddress,omitempty"`
	Upstream        string         `json:"_upstream,omitempty"`
	ClientAddress   string         `json:"_clientAddress,omitempty"`
	Upgraded        bool           `json:"_websocket,omitempty"`
	Injected        []string       `json:"_injectedHeaders,omitempty"`
}

// ms is a duration in HAR's milliseconds, to the nanosecond.
func ms(d time.Duration) float64 {
	if d < 0 {
		return 0
	}
	return float64(d) / float64(time.Millisecond)
}

// harEntryOf builds the HAR entry of an exchange from its raw (unmasked) values.
func harEntryOf(x *model.Exchange) harOutEntry {
	rawURL := x.RawURL
	if rawURL == "" {
		rawURL = x.URL
	}
	e := harOutEntry{
		StartedDateTime: x.Start.UTC().Format(time.RFC3339Nano),
		Time:            ms(x.End.Sub(x.Start)),
		Upstream:        x.Upstream,
		ClientAddress:   x.Client.Addr,
		Upgraded:        x.Upgraded,
		Injected:        x.InjectedHeaders,
	}
	if host, _, err := net.SplitHostPort(x.Upstream); err == nil {
		e.ServerIPAddress = host
	} else {
		e.ServerIPAddress = x.Upstream
	}
	headersSent := x.HeadersSent
	if headersSent.IsZero() || headersSent.Before(x.Start) {
		headersSent = x.Start
	}
	if headersSent.After(x.End) {
		headersSent = x.End
	}
	e.Timings = harTimings{Blocked: -1, DNS: -1, Connect: -1, Send: 0,
		Wait: ms(headersSent.Sub(x.Start)), Receive: ms(x.End.Sub(headersSent))}

	req := harOutRequest{Method: x.Method, URL: rawURL, HTTPVersion: "HTTP/1.1",
		Cookies: []harOutCookie{}, Headers: []harNV{}, QueryString: queryPairs(rawURL), HeadersSize: -1, BodySize: -1}
	if u, err := url.Parse(rawURL); err == nil && u.Host != "" {
		req.Headers = append(req.Headers, harNV{"Host", u.Host})
	}
	if x.Client.UA != "" {
		req.Headers = append(req.Headers, harNV{"User-Agent", x.Client.UA})
	}
	if x.RawReferer != "" {
		req.Headers = append(req.Headers, harNV{"Referer", x.RawReferer})
	}
	var pairs []string
	for _, c := range x.CookiesSent {
		if IsOwnCookie(c.Name) {
			continue // the proxy drops these already; an exchange from elsewhere may not have
		}
		pairs = append(pairs, c.Name+"="+c.Value)
		req.Cookies = append(req.Cookies, harOutCookie{Name: c.Name, Value: c.Value})
	}
	if len(pairs) > 0 {
		req.Headers = append(req.Headers, harNV{"Cookie", strings.Join(pairs, "; ")})
	}
	e.Request = req

	resp := harOutResponse{Status: x.Status, StatusText: http.StatusText(x.Status), HTTPVersion: "HTTP/1.1",
		Cookies: []harOutCookie{}, Headers: []harNV{}, RedirectURL: x.RawLocation, HeadersSize: -1, BodySize: -1,
		Content: harContent{Size: 0, MimeType: "", Comment: "bodies are not captured"}, Error: x.Error,
		LoginForm: x.LoginForm, ClientRedirect: x.ClientRedirect}
	if resp.RedirectURL == "" && x.Location != "" {
		resp.RedirectURL = x.Location
	}
	if resp.RedirectURL != "" {
		resp.Headers = append(resp.Headers, harNV{"Location", resp.RedirectURL})
	}
	for _, sc := range x.SetCookies {
		line := sc.Raw
		if line == "" {
			line = sc.Line()
		}
		resp.Headers = append(resp.Headers, harNV{"Set-Cookie", line})
		c := harOutCookie{Name: sc.Name, Value: sc.Value, Path: sc.Path, Domain: sc.Domain,
			HTTPOnly: sc.HTTPOnly, Secure: sc.Secure, SameSite: sc.SameSite}
		if sc.Expires != nil {
			c.Expires = sc.Expires.UTC().Format(time.RFC3339Nano)
		}
		resp.Cookies = append(resp.Cookies, c)
	}
	e.Response = resp
	return e
}

// queryPairs lists the query parameters in the order written, decoded.
func queryPairs(rawURL string) []harNV {
	out := []harNV{}
	_, q, ok := strings.Cut(rawURL, "?")
	if !ok {
		return out
	}
	q, _, _ = strings.Cut(q, "#")
	for _, part := range strings.Split(q, "&") {
		if part == "" {
			continue
		}
		name, value, _ := strings.Cut(part, "=")
		out = append(out, harNV{unescapeLenient(name, true), unescapeLenient(value, true)})
	}
	return out
}
