package traffic

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// HAR import defaults.
const (
	DefaultHARMaxString     = 8 << 20 // bytes in any one string other than a body
	DefaultHAREntryBytes    = 8 << 20 // bytes of one entry, bodies excluded
	DefaultHARMaxDepth      = 128
	DefaultHARMaxHeaders    = 1000 // headers or cookies in one list
	harRedactedPlaceholders = "redacted,[redacted],<redacted>,sanitized,[sanitized],<sanitized>,[filtered],filtered,removed,[removed],hidden,[hidden],xxx,xxxx,xxxxx"
)

// ErrHAR is wrapped by every error about the HAR's content (not about reading it).
var ErrHAR = errors.New("har")

// HAROptions configures ReadHAR. Zero values take the defaults.
type HAROptions struct {
	// Mapping fills session refs from cookies. Default framework.RefMapper(nil).
	Mapping func(name, value string) (ref string, ok bool)
	// Redact names the URL parameters whose values are hidden. Default the built-in
	// list (model.SensitiveNames).
	Redact model.Redaction
	// IDPrefix starts every exchange id, followed by the entry index. Default "h" and
	// random hex, so two imports do not collide.
	IDPrefix string
	// MaxString bounds any string other than a body (bodies are skipped unread).
	MaxString int
	// MaxEntryBytes bounds one entry's JSON, bodies excluded.
	MaxEntryBytes int64
	// MaxDepth bounds the nesting of the JSON.
	MaxDepth int
	// MaxHeaders bounds one list of headers or cookies.
	MaxHeaders int
}

// HARSummary describes an imported HAR.
type HARSummary struct {
	Entries int    // exchanges emitted
	Creator string // log.creator name and version, e.g. "WebInspector 537.36"
	Browser string // log.browser, when given
	// ValuesStripped is set when cookie values were removed or replaced (a sanitized
	// export): conclusions that need values (session refs, cookie sizes) could not be
	// reached for StrippedExchanges of the exchanges.
	ValuesStripped    bool
	StrippedExchanges int
	// CookiesAbsent is set when no entry carried a Cookie or Set-Cookie header or a
	// cookie at all: Chrome's sanitized export drops them, so cookie-based conclusions
	// (login loops, rejected cookies) cannot be drawn from this file.
	CookiesAbsent    bool
	BodyBytesSkipped int64     // bytes of bodies skipped without being kept
	First, Last      time.Time // earliest and latest entry start
}

// ReadHAR reads a HAR 1.2 file (Chrome, Firefox, and other exports) as a stream and
// calls emit with one exchange per entry, in file order. Only one entry is in memory at
// a time and bodies are skipped as they stream past, so a file of any size costs
// little memory. Errors about the content wrap ErrHAR and name the entry; an error from
// emit stops the import and is returned wrapped. The summary covers the entries read
// before any error.
func ReadHAR(r io.Reader, opts HAROptions, emit func(*model.Exchange) error) (HARSummary, error) {
	if opts.MaxString <= 0 {
		opts.MaxString = DefaultHARMaxString
	}
	if opts.MaxEntryBytes <= 0 {
		opts.MaxEntryBytes = DefaultHAREntryBytes
	}
	if opts.MaxDepth <= 0 {
		opts.MaxDepth = DefaultHARMaxDepth
	}
	if opts.MaxHeaders <= 0 {
		opts.MaxHeaders = DefaultHARMaxHeaders
	}
	if opts.IDPrefix == "" {
		var b [3]byte
		_, _ = rand.Read(b[:])
		opts.IDPrefix = "h" + hex.EncodeToString(b[:]) + "-"
	}
	f := newBodyFilter(r, opts.MaxString, opts.MaxDepth)
	// jsontext reads tokens without the allocations encoding/json's Decoder.Token makes
	// for every value (it builds, then drops, an error at the end of each one): half the
	// import's time went there. Duplicate keys and invalid UTF-8 are let through as
	// encoding/json did (the latter as U+FFFD): browsers' exports are not that strict.
	dec := jsontext.NewDecoder(f, jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	p := &harParser{dec: dec, filter: f, opts: opts, mapping: defaultMapping(opts.Mapping), emit: emit, index: -1}
	err := p.file()
	p.sum.BodyBytesSkipped = f.dropped
	p.sum.ValuesStripped = p.sum.StrippedExchanges > 0
	p.sum.CookiesAbsent = p.sum.Entries > 0 && !p.sawCookies
	return p.sum, err
}

type harParser struct {
	dec        *jsontext.Decoder
	filter     *bodyFilter
	opts       HAROptions
	mapping    Mapping
	emit       func(*model.Exchange) error
	sum        HARSummary
	index      int   // current entry, -1 outside entries
	entryStart int64 // decoder offset where the entry began
	path       []string
	sawCookies bool
	emitErr    error
}

// errorf wraps ErrHAR with where the parser is.
func (p *harParser) errorf(format string, args ...any) error {
	where := ""
	if p.index >= 0 {
		where = "entry " + strconv.Itoa(p.index)
	}
	if len(p.path) > 0 {
		if where != "" {
			where += ": "
		}
		where += strings.Join(p.path, ".")
	}
	if where != "" {
		where += ": "
	}
	return fmt.Errorf("%w: %s%s", ErrHAR, where, fmt.Sprintf(format, args...))
}

// harToken is one JSON token: its kind (jsontext's: '{', '}', '[', ']', '"', '0'
// for a number, 't', 'f', 'n') and, for strings and numbers, its value.
type harToken struct {
	kind jsontext.Kind
	str  string
	num  float64
}

// token reads the next token, enforcing the entry bound and explaining errors.
func (p *harParser) token() (harToken, error) {
	t, err := p.dec.ReadToken()
	if err != nil {
		var se *jsontext.SyntacticError
		switch {
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return harToken{}, p.errorf("unexpected end of input (truncated file?)")
		case errors.Is(err, errDepth), errors.Is(err, errLongString):
			return harToken{}, p.errorf("%v", errors.Unwrap(err))
		case errors.As(err, &se):
			return harToken{}, p.errorf("invalid JSON: %v", strings.TrimPrefix(se.Error(), "jsontext: "))
		}
		return harToken{}, fmt.Errorf("har: read: %w", err) // an I/O error, not the content's
	}
	if p.index >= 0 && p.dec.InputOffset()-p.entryStart > p.opts.MaxEntryBytes {
		return harToken{}, p.errorf("entry larger than %d bytes (bodies excluded)", p.opts.MaxEntryBytes)
	}
	ht := harToken{kind: t.Kind()}
	switch ht.kind {
	case '"':
		ht.str = t.String()
	case '0':
		ht.num = t.Float()
	}
	return ht, nil
}

// more reports whether the current object or array has another element.
func (p *harParser) more() bool {
	k := p.dec.PeekKind()
	return k != '}' && k != ']' && k != 0 // 0: an error, which the next token() reports
}

func describe(t harToken) string {
	switch t.kind {
	case '{', '}', '[', ']':
		return "'" + string(rune(t.kind)) + "'"
	case '"':
		return "a string"
	case '0':
		return "a number"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return t.kind.String()
}

// object reads an object, calling field for each key; field must consume the value.
// null counts as an empty object.
func (p *harParser) object(field func(key string) error) error {
	t, err := p.token()
	if err != nil {
		return err
	}
	if t.kind == 'n' {
		return nil
	}
	if t.kind != '{' {
		return p.errorf("want an object, got %s", describe(t))
	}
	for p.more() {
		kt, err := p.token()
		if err != nil {
			return err
		}
		p.path = append(p.path, kt.str)
		err = field(kt.str)
		p.path = p.path[:len(p.path)-1]
		if err != nil {
			return err
		}
	}
	_, err = p.token() // '}'
	return err
}

// array reads an array, calling elem for each element; elem must consume it. null
// counts as empty. max bounds the elements (0: unbounded).
func (p *harParser) array(max int, elem func(i int) error) error {
	t, err := p.token()
	if err != nil {
		return err
	}
	if t.kind == 'n' {
		return nil
	}
	if t.kind != '[' {
		return p.errorf("want an array, got %s", describe(t))
	}
	for i := 0; p.more(); i++ {
		if max > 0 && i >= max {
			return p.errorf("more than %d elements", max)
		}
		if err := elem(i); err != nil {
			return err
		}
	}
	_, err = p.token() // ']'
	return err
}

// skip consumes one value of any shape, token by token so that the entry bound holds.
func (p *harParser) skip() error {
	depth := 0
	for {
		t, err := p.token()
		if err != nil {
			return err
		}
		switch t.kind {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}

func (p *harParser) str() (string, error) {
	t, err := p.token()
	if err != nil {
		return "", err
	}
	switch t.kind {
	case '"':
		return t.str, nil
	case 'n':
		return "", nil
	}
	return "", p.errorf("want a string, got %s", describe(t))
}

// num reads a number; null reads as -1, HAR's "not available".
func (p *harParser) num() (float64, error) {
	t, err := p.token()
	if err != nil {
		return 0, err
	}
	switch t.kind {
	case '0':
		return t.num, nil
	case 'n':
		return -1, nil
	}
	return 0, p.errorf("want a number, got %s", describe(t))
}

func (p *harParser) boolean() (bool, error) {
	t, err := p.token()
	if err != nil {
		return false, err
	}
	switch t.kind {
	case 't', 'f':
		return t.kind == 't', nil
	case 'n':
		return false, nil
	}
	return false, p.errorf("want true or false, got %s", describe(t))
}

func (p *harParser) file() error {
	sawLog, sawEntries := false, false
	err := p.object(func(key string) error {
		if key != "log" {
			return p.skip()
		}
		sawLog = true
		return p.object(func(key string) error {
			switch key {
			case "entries":
				sawEntries = true
				return p.array(0, func(i int) error {
					p.index, p.entryStart = i, p.dec.InputOffset()
					saved := p.path
					p.path = nil
					err := p.entry()
					p.path, p.index = saved, -1
					return err
				})
			case "creator", "browser":
				var name, version string
				if err := p.object(func(k string) error {
					switch k {
					case "name":
						return p.into(&name)
					case "version":
						return p.into(&version)
					}
					return p.skip()
				}); err != nil {
					return err
				}
				s := strings.TrimSpace(name + " " + version)
				if key == "creator" {
					p.sum.Creator = s
				} else {
					p.sum.Browser = s
				}
				return nil
			}
			return p.skip()
		})
	})
	if err != nil {
		if p.emitErr != nil {
			return p.emitErr
		}
		return err
	}
	if !sawLog || !sawEntries {
		return p.errorf("not a HAR file: no log.entries")
	}
	if _, err := p.dec.ReadToken(); err != io.EOF {
		return p.errorf("unexpected data after the HAR's closing brace")
	}
	return nil
}

func (p *harParser) into(s *string) error {
	v, err := p.str()
	*s = v
	return err
}

type harPair struct{ name, value string }

type harCookie struct {
	name, value, path, domain, expires, sameSite string
	httpOnly, secure                             bool
}

type harEntry struct {
	started, serverIP, upstream, method, url, redirectURL, errText string
	time                                                           float64
	status                                                         int
	reqHeaders, respHeaders                                        []harPair
	reqCookies                                                     []harCookie
	respCookies                                                    []harCookie
	timings                                                        map[string]float64
	hasStarted, hasTime                                            bool
	loginForm, clientRedirect                                      bool
}

func (p *harParser) entry() error {
	var e harEntry
	e.time = -1
	err := p.object(func(key string) error {
		switch key {
		case "startedDateTime":
			e.hasStarted = true
			return p.into(&e.started)
		case "time":
			v, err := p.num()
			e.time, e.hasTime = v, err == nil && v >= 0
			return err
		case "serverIPAddress":
			return p.into(&e.serverIP)
		case "_upstream":
			// sessionscope's own HAR keeps the upstream's port too: two upstreams on
			// one host stay apart (session-not-shared tells servers by it).
			return p.into(&e.upstream)
		case "request":
			return p.object(func(k string) error {
				switch k {
				case "method":
					return p.into(&e.method)
				case "url":
					return p.into(&e.url)
				case "headers":
					return p.pairs(&e.reqHeaders)
				case "cookies":
					return p.cookies(&e.reqCookies)
				}
				return p.skip()
			})
		case "response":
			return p.object(func(k string) error {
				switch k {
				case "status":
					v, err := p.num()
					if err != nil {
						return err
					}
					if v > 999 || v != float64(int64(v)) {
						return p.errorf("%v is not an HTTP status", v)
					}
					e.status = max(int(v), 0) // Chrome writes 0 for failed requests, some tools -1
					return nil
				case "redirectURL":
					return p.into(&e.redirectURL)
				case "headers":
					return p.pairs(&e.respHeaders)
				case "cookies":
					return p.cookies(&e.respCookies)
				case "_error": // Chrome: the network error of a failed request
					return p.into(&e.errText)
				case "_loginForm": // sessionscope's proxy: the body held a password input
					v, err := p.boolean()
					e.loginForm = v
					return err
				case "_clientRedirect": // sessionscope's proxy: a meta refresh or a script assigning the location
					v, err := p.boolean()
					e.clientRedirect = v
					return err
				}
				return p.skip() // content: its text was dropped by the filter
			})
		case "timings":
			e.timings = map[string]float64{}
			return p.object(func(k string) error {
				v, err := p.num()
				e.timings[k] = v
				return err
			})
		}
		return p.skip()
	})
	if err != nil {
		return err
	}
	x, err := p.exchange(&e)
	if err != nil {
		return err
	}
	p.sum.Entries++
	if x.ValuesStripped {
		p.sum.StrippedExchanges++
	}
	if p.sum.First.IsZero() || x.Start.Before(p.sum.First) {
		p.sum.First = x.Start
	}
	if x.Start.After(p.sum.Last) {
		p.sum.Last = x.Start
	}
	if err := p.emit(x); err != nil {
		p.emitErr = fmt.Errorf("har: entry %d: %w", p.index, err)
		return p.emitErr
	}
	return nil
}

func (p *harParser) pairs(out *[]harPair) error {
	return p.array(p.opts.MaxHeaders, func(int) error {
		var h harPair
		err := p.object(func(k string) error {
			switch k {
			case "name":
				return p.into(&h.name)
			case "value":
				return p.into(&h.value)
			}
			return p.skip()
		})
		*out = append(*out, h)
		return err
	})
}

func (p *harParser) cookies(out *[]harCookie) error {
	return p.array(p.opts.MaxHeaders, func(int) error {
		var c harCookie
		err := p.object(func(k string) error {
			switch k {
			case "name":
				return p.into(&c.name)
			case "value":
				return p.into(&c.value)
			case "path":
				return p.into(&c.path)
			case "domain":
				return p.into(&c.domain)
			case "expires":
				return p.into(&c.expires)
			case "sameSite":
				return p.into(&c.sameSite)
			case "httpOnly":
				v, err := p.boolean()
				c.httpOnly = v
				return err
			case "secure":
				v, err := p.boolean()
				c.secure = v
				return err
			}
			return p.skip()
		})
		*out = append(*out, c)
		return err
	})
}

// exchange turns a parsed entry into an exchange.
func (p *harParser) exchange(e *harEntry) (*model.Exchange, error) {
	p.path = nil
	if !e.hasStarted {
		return nil, p.errorf("startedDateTime missing")
	}
	start, err := time.Parse(time.RFC3339Nano, e.started)
	if err != nil {
		return nil, p.errorf("startedDateTime %q is not an ISO 8601 time", truncate(e.started, 40))
	}
	if e.method == "" || e.url == "" {
		return nil, p.errorf("request.method or request.url missing")
	}
	x := &model.Exchange{
		Type:           model.TypeExchange,
		ID:             p.opts.IDPrefix + strconv.Itoa(p.index),
		Start:          start,
		Method:         e.method,
		URL:            MaskURL(e.url, p.mapping, p.opts.Redact),
		RawURL:         e.url,
		Status:         e.status,
		Upstream:       cmp.Or(e.upstream, e.serverIP),
		Source:         model.SourceHAR,
		Error:          e.errText,
		LoginForm:      e.loginForm,
		ClientRedirect: e.clientRedirect,
	}
	if e.hasTime {
		x.End = start.Add(msDuration(e.time))
	}
	if e.timings != nil {
		var d time.Duration
		for _, k := range []string{"blocked", "dns", "connect", "send", "wait"} {
			d += msDuration(e.timings[k])
		}
		x.HeadersSent = start.Add(d)
		if !e.hasTime {
			x.End = x.HeadersSent.Add(msDuration(e.timings["receive"]))
		}
	}
	if x.End.IsZero() {
		x.End = start
	}
	if x.HeadersSent.IsZero() || x.HeadersSent.After(x.End) {
		x.HeadersSent = x.End
	}

	var cookieLines, setCookieLines []string
	for _, h := range e.reqHeaders {
		switch strings.ToLower(h.name) {
		case "user-agent":
			x.Client.UA = h.value
		case "cookie":
			cookieLines = append(cookieLines, h.value)
		case "upgrade":
			x.Upgraded = strings.EqualFold(h.value, "websocket")
		case "referer":
			x.RawReferer = h.value
		}
	}
	for _, h := range e.respHeaders {
		switch strings.ToLower(h.name) {
		case "location":
			x.RawLocation = h.value
		case "set-cookie":
			// Chrome and Firefox join repeated Set-Cookie headers with newlines.
			for _, line := range strings.Split(h.value, "\n") {
				if line = strings.TrimSpace(line); line != "" {
					setCookieLines = append(setCookieLines, line)
				}
			}
		}
	}
	x.InjectedHeaders = harInjectedHeaders(e, x.RawReferer, p.mapping, p.opts.Redact)
	if x.RawLocation == "" {
		x.RawLocation = e.redirectURL
	}
	if x.RawLocation != "" {
		x.Location = MaskURL(x.RawLocation, p.mapping, p.opts.Redact)
	}

	if len(cookieLines) > 0 {
		x.CookiesSent, x.SessionRef = sentCookies(cookieLines, p.mapping, "")
	} else {
		for _, c := range e.reqCookies {
			sc := model.SentCookie{Name: c.name, Value: c.value}
			if ref, ok := p.mapping(c.name, c.value); ok {
				sc.SessionRef = ref
				if x.SessionRef == "" {
					x.SessionRef = ref
				}
			}
			x.CookiesSent = append(x.CookiesSent, sc)
		}
	}
	if len(setCookieLines) > 0 {
		for _, line := range setCookieLines {
			x.SetCookies = append(x.SetCookies, parseSetCookie(line, p.mapping))
		}
	} else {
		for _, c := range e.respCookies {
			x.SetCookies = append(x.SetCookies, p.harSetCookie(c))
		}
	}
	if len(x.CookiesSent) > 0 || len(x.SetCookies) > 0 {
		p.sawCookies = true
	}
	for _, c := range x.CookiesSent {
		x.ValuesStripped = x.ValuesStripped || redacted(c.Value)
	}
	for _, c := range x.SetCookies {
		// An empty Set-Cookie value with an expiry in the past is a deletion, not a strip.
		deletion := c.MaxAge != nil && *c.MaxAge == 0 || c.Expires != nil && c.Expires.Before(start)
		x.ValuesStripped = x.ValuesStripped || (redacted(c.Value) && !(c.Value == "" && deletion))
	}
	return x, nil
}

// harSetCookie converts a response.cookies element, for HARs without Set-Cookie
// headers.
func (p *harParser) harSetCookie(c harCookie) model.SetCookie {
	sc := model.SetCookie{Name: c.name, Value: c.value, Domain: c.domain, Path: c.path,
		Secure: c.secure, HTTPOnly: c.httpOnly}
	switch strings.ToLower(c.sameSite) {
	case "lax":
		sc.SameSite = "Lax"
	case "strict":
		sc.SameSite = "Strict"
	case "none":
		sc.SameSite = "None"
	}
	if c.expires != "" {
		if t, err := time.Parse(time.RFC3339Nano, c.expires); err == nil {
			t = t.UTC()
			sc.Expires = &t
		}
	}
	if ref, ok := p.mapping(c.name, c.value); ok {
		sc.SessionRef = ref
	}
	return sc
}

// redacted reports whether a cookie value was stripped or replaced by a sanitizer.
func redacted(v string) bool {
	v = strings.TrimSpace(strings.Trim(v, `"`))
	if v == "" || strings.Trim(v, "*") == "" {
		return true
	}
	if len(v) > 12 {
		return false
	}
	l := strings.ToLower(v)
	for _, s := range strings.Split(harRedactedPlaceholders, ",") {
		if l == s {
			return true
		}
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
