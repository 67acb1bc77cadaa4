package inspector

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/sessionscope/sessionscope/inspector/diagnose"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/traffic"
)

// HAR import bounds: an import keeps its exchanges (without bodies or cookie values,
// about 0.5 KB each) in memory, so at most MaxHARImports × MaxHARImportExchanges
// exchanges are held; the oldest import is forgotten first.
const (
	MaxHARImports         = 5
	MaxHARImportExchanges = 50_000
)

// ErrBadHAR is wrapped by ImportHAR's errors about the file's content: not JSON, not a
// HAR, a malformed entry, no entries at all.
var ErrBadHAR = traffic.ErrHAR

// ErrHARImportNotFound is wrapped by HARImport and HARExchanges for an id that is not
// (or no longer) kept.
var ErrHARImportNotFound = errors.New("HAR import not found")

// HARImport is one HAR file imported into the inspector (the dashboard's upload), with
// the findings of the same analysis `sessionscope analyze` runs. Its exchanges are
// queried with HARExchanges.
type HARImport struct {
	ID       string
	Name     string // the file's base name, as uploaded; for display only
	Imported time.Time
	Summary  traffic.HARSummary // Summary.Entries counts every entry in the file
	// Kept is how many exchanges were kept and analysed: the first
	// MaxHARImportExchanges entries of the file.
	Kept      int
	Truncated bool // the file had more entries than were kept
	Findings  []model.Finding
}

// harImport is an import with its exchanges, sorted by start and numbered from 1 (Seq),
// never modified after the import: readers get clones.
type harImport struct {
	HARImport
	exchanges []*model.Exchange
}

// harImports keeps the last MaxHARImports imports; its zero value is ready to use.
type harImports struct {
	mu   sync.Mutex
	list []*harImport // oldest first
}

func (in *Inspector) harImports() *harImports { return &in.imports }

// ImportHAR reads a HAR as a stream (traffic.ReadHAR: bodies are skipped unread, one
// entry in memory at a time), replays its exchanges through the browser's cookie rules
// as `sessionscope analyze` does, and keeps the result among the last MaxHARImports
// imports. Only the first MaxHARImportExchanges entries are kept and analysed; the rest
// are counted (Truncated). Errors about the content wrap ErrBadHAR; nothing is kept
// from a failed import. Cookie values and unmasked URLs are dropped once analysed.
func (in *Inspector) ImportHAR(r io.Reader, name string) (HARImport, error) {
	id, err := newImportID()
	if err != nil {
		return HARImport{}, err
	}
	mapping := framework.RefMapper(in.cfg.Cookies)
	var xs []*model.Exchange
	sum, err := traffic.ReadHAR(&spaceCollapser{r: r}, traffic.HAROptions{Mapping: mapping, IDPrefix: id + "-", Redact: in.cfg.Tracker.Redact},
		func(x *model.Exchange) error {
			if len(xs) < MaxHARImportExchanges {
				xs = append(xs, x)
			}
			return nil
		})
	if err != nil {
		return HARImport{}, fmt.Errorf("import HAR: %w", err)
	}
	if sum.Entries == 0 {
		return HARImport{}, fmt.Errorf("import HAR: %w: log.entries is empty: record the flow with the Network panel open (Preserve log on), then Save all as HAR", ErrBadHAR)
	}
	sort.SliceStable(xs, func(i, j int) bool { return xs[i].Start.Before(xs[j].Start) })
	findings := diagnose.AnalyzeExchanges(xs, diagnose.AnalyzeOptions{
		ValuesStripped: sum.ValuesStripped, CookiesAbsent: sum.CookiesAbsent,
		Cookies: in.cfg.Cookies, Mapping: mapping, LoginPaths: in.cfg.LoginPaths, Redact: in.cfg.Tracker.Redact,
	})
	for i, x := range xs {
		x.Seq = uint64(i + 1)
		scrub(x)
	}
	imp := &harImport{HARImport: HARImport{ID: id, Name: importName(name), Imported: time.Now(), Summary: sum,
		Kept: len(xs), Truncated: sum.Entries > len(xs), Findings: findings}, exchanges: xs}
	s := in.harImports()
	s.mu.Lock()
	s.list = append(s.list, imp)
	if len(s.list) > MaxHARImports {
		s.list[0] = nil
		s.list = s.list[1:]
	}
	s.mu.Unlock()
	return imp.public(), nil
}

// HARImports returns the kept imports, newest first.
func (in *Inspector) HARImports() []HARImport {
	s := in.harImports()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]HARImport, 0, len(s.list))
	for i := len(s.list) - 1; i >= 0; i-- {
		out = append(out, s.list[i].public())
	}
	return out
}

// HARImport returns one kept import; the error wraps ErrHARImportNotFound when the id
// is unknown or the import was forgotten for newer ones.
func (in *Inspector) HARImport(id string) (HARImport, error) {
	imp, err := in.harImport(id)
	if err != nil {
		return HARImport{}, err
	}
	return imp.public(), nil
}

// HARExchanges queries one import's exchanges as Exchanges queries the live log
// (every filter of ExchangeQuery; BeforeSeq on the import's own numbering; Limit: the
// newest matches), oldest first, with the cookie verdicts of the import's replay.
func (in *Inspector) HARExchanges(id string, q ExchangeQuery) ([]*model.Exchange, error) {
	imp, err := in.harImport(id)
	if err != nil {
		return nil, err
	}
	return queryExchanges(imp.exchanges, q), nil
}

func (in *Inspector) harImport(id string) (*harImport, error) {
	s := in.harImports()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, imp := range s.list {
		if imp.ID == id {
			return imp, nil
		}
	}
	return nil, fmt.Errorf("HAR import %q: %w", id, ErrHARImportNotFound)
}

// public copies the import's description; the findings slice is the caller's own.
func (imp *harImport) public() HARImport {
	p := imp.HARImport
	p.Findings = append([]model.Finding(nil), imp.Findings...)
	return p
}

// queryExchanges walks xs (sorted by seq) newest to oldest like the live log's query
// and returns clones of the picks, oldest first.
func queryExchanges(xs []*model.Exchange, q ExchangeQuery) []*model.Exchange {
	return oldestFirstClones(newestMatches(q, len(xs), func(i int) *model.Exchange { return xs[len(xs)-1-i] }))
}

// scrub drops what an analysed import no longer needs and must not keep: cookie
// values, raw Set-Cookie lines and unmasked URLs are bearer credentials.
func scrub(x *model.Exchange) {
	x.RawURL, x.RawLocation, x.RawReferer = "", "", ""
	for i := range x.CookiesSent {
		x.CookiesSent[i].Value = ""
	}
	for i := range x.SetCookies {
		x.SetCookies[i].Value, x.SetCookies[i].Raw = "", ""
	}
}

// importName is the base name of an uploaded file, bounded: browsers send a base
// name, other clients may send a path.
func importName(name string) string {
	name = path.Base(strings.ReplaceAll(name, `\`, "/"))
	if name == "." || name == "/" || name == "" {
		name = "upload.har"
	}
	const maxRunes = 120
	if utf8.RuneCountInString(name) > maxRunes {
		r := []rune(name)
		name = string(r[:maxRunes-1]) + "…"
	}
	return name
}

func newImportID() (string, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("import HAR: id: %w", err)
	}
	return "h" + hex.EncodeToString(b[:]), nil
}

// spaceCollapser squeezes each run of JSON whitespace outside strings into one space.
// encoding/json's Decoder keeps a run of whitespace in its buffer and scans it again on
// every refill, so megabytes of padding read in small chunks (an upload arrives so)
// would cost quadratic time and their size in memory.
type spaceCollapser struct {
	r                       io.Reader
	inString, escaped, last bool // last: the previous byte written was a collapsed space
}

func (s *spaceCollapser) Read(p []byte) (int, error) {
	for {
		n, err := s.r.Read(p)
		w := 0
		for _, c := range p[:n] {
			switch {
			case s.inString:
				switch {
				case s.escaped:
					s.escaped = false
				case c == '\\':
					s.escaped = true
				case c == '"':
					s.inString = false
				}
			case c == ' ' || c == '\t' || c == '\n' || c == '\r':
				if !s.last {
					s.last = true
					p[w] = ' '
					w++
				}
				continue
			case c == '"':
				s.inString = true
			}
			s.last = false
			p[w] = c
			w++
		}
		if w > 0 || err != nil {
			return w, err
		}
	}
}
