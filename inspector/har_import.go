package inspector

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/sessionscope/sessionscope/inspector/diagnose"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/traffic"
)

// MaxHARImportExchanges bounds one import: only the first entries of a larger file are
// kept and analysed (HARImport.Truncated).
const MaxHARImportExchanges = 50_000

// DefaultHARBudget is the memory all kept HAR imports may hold together, when
// Config.HARBudget is not set (--har-budget, in MiB).
const DefaultHARBudget = 256 << 20

// maxDroppedHARImports bounds the record of dropped imports kept to explain them.
const maxDroppedHARImports = 64

// ErrBadHAR is wrapped by ImportHAR's errors about the file's content: not JSON, not a
// HAR, a malformed entry, no entries at all.
var ErrBadHAR = traffic.ErrHAR

// ErrHARImportNotFound is wrapped by HARImport and HARExchanges for an id that is not
// (or no longer) kept. For an import dropped to stay within the budget, the error is
// also a *HARImportDroppedError, which says when and for which import.
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
	// Bytes is about how much memory the import keeps (its exchanges and findings).
	Bytes int64
	// Budget is the memory all imports may keep together (Config.HARBudget).
	Budget int64
	// Dropped are the older imports forgotten, oldest first, so that this one fits
	// within Budget with the others.
	Dropped []DroppedHARImport
}

// DroppedHARImport is an import forgotten to keep the imports within their budget.
type DroppedHARImport struct {
	ID       string
	Name     string
	Imported time.Time
	Kept     int   // exchanges it held
	Bytes    int64 // memory it held
	Dropped  time.Time
	// ForID and ForName are the import whose arrival pushed the total over Budget.
	ForID, ForName string
	Budget         int64
}

// HARImportDroppedError is the error for an import that was dropped to stay within
// the budget. It wraps ErrHARImportNotFound.
type HARImportDroppedError struct{ DroppedHARImport }

func (e *HARImportDroppedError) Error() string {
	return fmt.Sprintf("HAR import %q (%s) was dropped at %s to make room for %s within the %d MiB kept for imports: %v",
		e.ID, e.Name, e.Dropped.Format(time.TimeOnly), e.ForName, e.Budget>>20, ErrHARImportNotFound)
}

func (e *HARImportDroppedError) Unwrap() error { return ErrHARImportNotFound }

// harImport is an import with its exchanges, sorted by start and numbered from 1 (Seq),
// never modified after the import: readers get clones.
type harImport struct {
	HARImport
	exchanges []*model.Exchange
}

// harImports keeps the newest imports whose Bytes add up to at most the budget (the
// newest is kept even when it alone is larger); its zero value is ready to use.
type harImports struct {
	mu      sync.Mutex
	list    []*harImport // oldest first
	bytes   int64        // the sum of list's Bytes
	dropped []DroppedHARImport
}

func (in *Inspector) harImports() *harImports { return &in.imports }

// harBudget is the configured budget for all imports together.
func (in *Inspector) harBudget() int64 {
	if in.cfg.HARBudget > 0 {
		return in.cfg.HARBudget
	}
	return DefaultHARBudget
}

// ImportHAR reads a HAR as a stream (traffic.ReadHAR: bodies are skipped unread, one
// entry in memory at a time), replays its exchanges through the browser's cookie rules
// as `sessionscope analyze` does, and keeps the result. Imports share a memory budget
// (Config.HARBudget): the oldest are dropped, and listed in the new import's Dropped,
// until the kept ones fit. Only the first MaxHARImportExchanges entries are kept and
// analysed; the rest are counted (Truncated). Errors about the content wrap ErrBadHAR;
// nothing is kept from a failed import. Cookie values and unmasked URLs are dropped once
// analysed.
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
	k := newKeeper()
	for i, x := range xs {
		x.Seq = uint64(i + 1)
		k.keep(x)
	}
	xs = slices.Clip(xs)
	imp := &harImport{HARImport: HARImport{ID: id, Name: importName(name), Imported: time.Now(), Summary: sum,
		Kept: len(xs), Truncated: sum.Entries > len(xs), Findings: findings, Budget: in.harBudget()}, exchanges: xs}
	imp.Bytes = k.bytes + int64(cap(xs))*int64(unsafe.Sizeof(xs[0])) + findingsBytes(findings)
	in.harImports().add(imp)
	return imp.public(), nil
}

// add keeps imp and drops the oldest imports until the kept ones fit the budget.
func (s *harImports) add(imp *harImport) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.list = append(s.list, imp)
	s.bytes += imp.Bytes
	for len(s.list) > 1 && s.bytes > imp.Budget {
		old := s.list[0]
		s.list[0] = nil
		s.list = s.list[1:]
		s.bytes -= old.Bytes
		d := DroppedHARImport{ID: old.ID, Name: old.Name, Imported: old.Imported, Kept: old.Kept, Bytes: old.Bytes,
			Dropped: imp.Imported, ForID: imp.ID, ForName: imp.Name, Budget: imp.Budget}
		imp.Dropped = append(imp.Dropped, d)
		s.dropped = append(s.dropped, d)
		if len(s.dropped) > maxDroppedHARImports {
			s.dropped = slices.Delete(s.dropped, 0, len(s.dropped)-maxDroppedHARImports)
		}
	}
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
	for _, d := range s.dropped {
		if d.ID == id {
			return nil, &HARImportDroppedError{d}
		}
	}
	return nil, fmt.Errorf("HAR import %q: %w", id, ErrHARImportNotFound)
}

// public copies the import's description; the slices are the caller's own.
func (imp *harImport) public() HARImport {
	p := imp.HARImport
	p.Findings = append([]model.Finding(nil), imp.Findings...)
	p.Dropped = append([]DroppedHARImport(nil), imp.Dropped...)
	return p
}

// queryExchanges walks xs (sorted by seq) newest to oldest like the live log's query
// and returns clones of the picks, oldest first.
func queryExchanges(xs []*model.Exchange, q ExchangeQuery) []*model.Exchange {
	return oldestFirstClones(newestMatches(q, len(xs), func(i int) *model.Exchange { return xs[len(xs)-1-i] }))
}

// keeper shrinks analysed exchanges to what an import keeps, and counts its bytes.
// An import keeps its exchanges until it is dropped, and the parser gives every entry
// its own copy of each string: the same User-Agent, method, cookie names, refs and
// verdicts, and cookie names cut out of the whole Cookie or Set-Cookie line, which kept
// the line (and the cookie values in it) alive. The keeper makes each distinct string
// one copy; its map goes when the import is done.
type keeper struct {
	strs  map[string]string
	bytes int64
	yes   *bool // every stored verdict points at one of these
	no    *bool
}

func newKeeper() *keeper {
	yes, no := true, false
	return &keeper{strs: map[string]string{}, yes: &yes, no: &no}
}

// str returns the kept copy of s.
func (k *keeper) str(s string) string {
	if s == "" {
		return ""
	}
	if c, ok := k.strs[s]; ok {
		return c
	}
	c := strings.Clone(s) // s may be a slice of a longer line that must not be kept
	k.strs[c] = c
	k.bytes += int64(len(c))
	return c
}

// keep drops what an analysed exchange no longer needs and must not keep (cookie
// values, raw Set-Cookie lines and unmasked URLs are bearer credentials), makes its
// strings shared copies and its slices exact, and adds what it keeps to k.bytes.
func (k *keeper) keep(x *model.Exchange) {
	x.RawURL, x.RawLocation, x.RawReferer = "", "", ""
	x.Type, x.Source, x.Method = k.str(x.Type), k.str(x.Source), k.str(x.Method)
	x.URL, x.Location, x.Error = k.str(x.URL), k.str(x.Location), k.str(x.Error)
	x.Client.Addr, x.Client.UA = k.str(x.Client.Addr), k.str(x.Client.UA)
	x.Upstream, x.UpstreamName, x.SessionRef = k.str(x.Upstream), k.str(x.UpstreamName), k.str(x.SessionRef)
	k.bytes += int64(unsafe.Sizeof(*x)) + int64(len(x.ID)) // the id is the exchange's own

	x.CookiesSent = slices.Clip(x.CookiesSent)
	for i := range x.CookiesSent {
		c := &x.CookiesSent[i]
		c.Value, c.Name, c.SessionRef = "", k.str(c.Name), k.str(c.SessionRef)
	}
	k.bytes += int64(cap(x.CookiesSent)) * int64(unsafe.Sizeof(model.SentCookie{}))

	x.SetCookies = slices.Clip(x.SetCookies)
	for i := range x.SetCookies {
		c := &x.SetCookies[i]
		c.Value, c.Raw = "", ""
		c.Name, c.Domain, c.Path, c.SameSite = k.str(c.Name), k.str(c.Domain), k.str(c.Path), k.str(c.SameSite)
		c.SessionRef, c.Reason, c.ParseError = k.str(c.SessionRef), k.str(c.Reason), k.str(c.ParseError)
		if c.Stored != nil {
			if *c.Stored {
				c.Stored = k.yes
			} else {
				c.Stored = k.no
			}
		}
		if c.Expires != nil {
			k.bytes += int64(unsafe.Sizeof(*c.Expires))
		}
		if c.MaxAge != nil {
			k.bytes += int64(unsafe.Sizeof(*c.MaxAge))
		}
	}
	k.bytes += int64(cap(x.SetCookies)) * int64(unsafe.Sizeof(model.SetCookie{}))

	x.CookiesBlocked = slices.Clip(x.CookiesBlocked)
	for i := range x.CookiesBlocked {
		b := &x.CookiesBlocked[i]
		b.Name, b.SessionRef, b.Reason, b.Detail = k.str(b.Name), k.str(b.SessionRef), k.str(b.Reason), k.str(b.Detail)
	}
	k.bytes += int64(cap(x.CookiesBlocked)) * int64(unsafe.Sizeof(model.BlockedCookie{}))

	x.InjectedHeaders = slices.Clip(x.InjectedHeaders)
	for i, h := range x.InjectedHeaders {
		x.InjectedHeaders[i] = k.str(h)
	}
	k.bytes += int64(cap(x.InjectedHeaders)) * int64(unsafe.Sizeof(""))
}

// findingsBytes is about what an import's findings keep: they are bounded per
// finding (a sample of sessions, exchanges and evidence), so their strings count once.
func findingsBytes(fs []model.Finding) int64 {
	n := int64(cap(fs)) * int64(unsafe.Sizeof(model.Finding{}))
	for _, f := range fs {
		n += int64(len(f.Title) + len(f.Detail) + len(f.Fix))
		for _, l := range [][]string{f.Sessions, f.Exchanges, f.Evidence} {
			n += int64(cap(l)) * int64(unsafe.Sizeof(""))
			for _, s := range l {
				n += int64(len(s))
			}
		}
	}
	return n
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
