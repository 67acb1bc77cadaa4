package tracker

import (
	"bytes"
	"container/heap"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sessionscope/sessionscope/inspector/codec"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// Sort orders for session queries.
const (
	SortActivity = "activity" // most recent activity first
	SortTTL      = "ttl"      // soonest expiry first; sessions without a TTL last
	SortSize     = "size"     // largest first
)

// ErrBadCursor means a paging cursor was not produced by this query.
var ErrBadCursor = errors.New("invalid cursor")

// ErrNotFound means no tracked session has the ref.
var ErrNotFound = errors.New("session not found")

// Query selects sessions. Text is a space-separated list of terms that must all
// match: ref:PREFIX, id:PREFIX (the id as shown), fw:NAME, format:NAME,
// field:NAME or field:NAME=VALUE (payload fields, cached payloads only), or a bare word
// that matches a ref or shown-id prefix, a framework or a field name.
type Query struct {
	Text   string
	Sort   string
	Limit  int
	Cursor string
}

// SessionRow is one tracked session as lists show it.
type SessionRow struct {
	Ref           string
	ID            string
	Framework     string
	KeyPrefix     string
	Format        string
	Born          time.Time // zero when unknown (found by the inventory)
	LastActivity  time.Time // zero when unknown
	ExpiresAt     time.Time // zero when unknown or no TTL
	NoTTL         bool
	Size          int
	Authenticated bool
	// PayloadRead: a payload of this session was read, so Authenticated is what was
	// seen rather than unknown (a session found by the inventory, not read yet).
	PayloadRead bool
	FromRef     string // the session it was regenerated from
	ToRef       string // the session it was regenerated to, when the old key was kept
	Inventory   bool   // found by the inventory, not seen being created
	Node        string // the store node holding it (a cluster master), "" when unknown
	// MetaUnread: listed by the inventory's phase one, TTL and size not read yet
	// (ExpiresAt, NoTTL and Size say nothing until phase two fills them).
	MetaUnread bool
}

// Page is one page of a query.
type Page struct {
	Rows    []SessionRow
	Next    string // cursor of the next page; empty on the last
	Matched int    // sessions matching the query
	Total   int    // sessions tracked
}

// SessionDetail is one session with its decoded payload.
type SessionDetail struct {
	Row     SessionRow
	Payload *codec.Payload // nil when not read (budget) or evicted from the cache
}

type queryTerm struct {
	key, value, fieldValue string
}

func parseQuery(text string) []queryTerm {
	var terms []queryTerm
	for _, w := range strings.Fields(text) {
		k, v, ok := strings.Cut(w, ":")
		switch {
		case ok && (k == "ref" || k == "id" || k == "fw" || k == "framework" || k == "format" || k == "field" || k == "node"):
			term := queryTerm{key: k, value: v}
			if k == "framework" {
				term.key = "fw"
			}
			if k == "field" {
				term.value, term.fieldValue, _ = strings.Cut(v, "=")
			}
			terms = append(terms, term)
		default:
			terms = append(terms, queryTerm{value: w})
		}
	}
	return terms
}

func (t *Tracker) matches(s *session, terms []queryTerm) bool {
	for _, term := range terms {
		if !t.matchTerm(s, term) {
			return false
		}
	}
	return true
}

func (t *Tracker) matchTerm(s *session, term queryTerm) bool {
	switch term.key {
	case "ref":
		return refHasPrefix(s.ref, term.value)
	case "id":
		return strings.HasPrefix(model.ShowID(t.storeID(s), t.cfg.RevealIDs), term.value)
	case "fw":
		return strings.EqualFold(t.fwOf(s).Name, term.value)
	case "node":
		// A prefix, so that node:10.0.0.5 finds every port of that host.
		return term.value != "" && strings.HasPrefix(t.nodes[s.node], term.value)
	case "format":
		return s.payload != nil && s.payload.decoded != nil && strings.EqualFold(string(s.payload.decoded.Format), term.value)
	case "field":
		return t.fieldMatches(s.payload, term.value, term.fieldValue)
	}
	v := term.value
	return refHasPrefix(s.ref, v) ||
		strings.HasPrefix(model.ShowID(t.storeID(s), t.cfg.RevealIDs), v) ||
		strings.EqualFold(t.fwOf(s).Name, v) || t.fieldMatches(s.payload, v, "")
}

// fieldMatches reports whether the cached payload has the top-level field, and when
// want is given, whether one of its scalar values contains want (case-insensitive).
// Values that the dashboard redacts never match: neither a sensitive field, nor
// anything under one, nor the bytes of an opaque value (unless values are revealed).
func (t *Tracker) fieldMatches(c *cachedPayload, name, want string) bool {
	if c == nil || c.decoded == nil {
		return false
	}
	for _, f := range c.decoded.Fields {
		if f.Key != name {
			continue
		}
		if want == "" {
			return true
		}
		if !t.cfg.RevealValues && t.cfg.Redact.Sensitive(f.Key) {
			return false
		}
		budget := maxSearchValues
		return t.valueContains(&f.Value, strings.ToLower(want), 0, &budget)
	}
	return false
}

// Bounds on one field's search, so a deep or wide payload costs a bounded walk.
const (
	maxSearchDepth  = 32
	maxSearchValues = 10_000
)

// valueContains reports whether a scalar in v contains want (lower-cased), skipping the
// values the dashboard would redact.
func (t *Tracker) valueContains(v *codec.Value, want string, depth int, budget *int) bool {
	if *budget--; *budget < 0 || depth > maxSearchDepth {
		return false
	}
	switch v.Kind {
	case codec.KindString:
		return strings.Contains(strings.ToLower(v.Str), want)
	case codec.KindInt, codec.KindFloat, codec.KindBool, codec.KindNull:
		return strings.Contains(strings.ToLower(v.String()), want)
	case codec.KindOpaque, codec.KindRef:
		return false
	case codec.KindList:
		for i := range v.Items {
			if t.valueContains(&v.Items[i], want, depth+1, budget) {
				return true
			}
		}
	case codec.KindMap, codec.KindObject:
		if v.Opaque != nil {
			return false
		}
		if v.Entries == nil && v.Str != "" { // an enum case, shown as Class::Case
			return strings.Contains(strings.ToLower(v.Class+"::"+v.Str), want)
		}
		for i := range v.Entries {
			e := &v.Entries[i]
			if !t.cfg.RevealValues && t.cfg.Redact.Sensitive(e.Key) {
				continue
			}
			if t.valueContains(&e.Value, want, depth+1, budget) {
				return true
			}
		}
	}
	return false
}

// sortKey orders sessions: a larger key comes first, ties by ref ascending.
func sortKey(s *session, order string) int64 {
	switch order {
	case SortTTL:
		if s.ttlDeadline <= 0 {
			return -1 << 62 // no TTL or unknown: last
		}
		return -s.ttlDeadline
	case SortSize:
		return int64(s.size)
	}
	return s.lastActivity
}

type ranked struct {
	key int64
	ref [6]byte // compared as bytes: the same order as the hex refs, without formatting a million of them
	s   *session
}

// before reports whether a comes before b in the listing.
func (a ranked) before(b ranked) bool {
	if a.key != b.key {
		return a.key > b.key
	}
	return bytes.Compare(a.ref[:], b.ref[:]) < 0
}

// worstFirst is a heap whose top is the entry that would be listed last, so a page is
// selected in one pass over the table without sorting it (a million sessions).
type worstFirst []ranked

func (h worstFirst) Len() int           { return len(h) }
func (h worstFirst) Less(i, j int) bool { return h[j].before(h[i]) }
func (h worstFirst) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *worstFirst) Push(x any)        { *h = append(*h, x.(ranked)) }
func (h *worstFirst) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func encodeCursor(r ranked) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(r.key, 10) + ":" + hexRef(r.ref)))
}

func decodeCursor(c string) (ranked, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return ranked{}, ErrBadCursor
	}
	k, ref, ok := strings.Cut(string(b), ":")
	n, err := strconv.ParseInt(k, 10, 64)
	raw, herr := hex.DecodeString(ref)
	if !ok || err != nil || herr != nil || len(raw) != 6 {
		return ranked{}, ErrBadCursor
	}
	r := ranked{key: n}
	copy(r.ref[:], raw)
	return r, nil
}

// Sessions runs a query over the session table.
func (t *Tracker) Sessions(q Query) (Page, error) {
	if q.Limit <= 0 || q.Limit > 1000 {
		q.Limit = 50
	}
	switch q.Sort {
	case SortActivity, SortTTL, SortSize:
	case "":
		q.Sort = SortActivity
	default:
		return Page{}, fmt.Errorf("unknown sort %q: use activity, ttl or size", q.Sort)
	}
	var after *ranked
	if q.Cursor != "" {
		c, err := decodeCursor(q.Cursor)
		if err != nil {
			return Page{}, err
		}
		after = &c
	}
	terms := parseQuery(q.Text)
	t.mu.RLock()
	defer t.mu.RUnlock()
	h := make(worstFirst, 0, q.Limit+1)
	matched := 0
	for s := range t.sessions.all() {
		if len(terms) > 0 && !t.matches(s, terms) {
			continue
		}
		matched++
		r := ranked{key: sortKey(s, q.Sort), ref: s.ref, s: s}
		if after != nil && !after.before(r) {
			continue
		}
		if len(h) < q.Limit+1 {
			heap.Push(&h, r)
		} else if r.before(h[0]) {
			h[0] = r
			heap.Fix(&h, 0)
		}
	}
	page := Page{Matched: matched, Total: t.sessions.len()}
	ordered := make([]ranked, len(h))
	for i := len(h) - 1; i >= 0; i-- {
		ordered[i] = heap.Pop(&h).(ranked)
	}
	if len(ordered) > q.Limit {
		ordered = ordered[:q.Limit]
		page.Next = encodeCursor(ordered[len(ordered)-1])
	}
	for _, r := range ordered {
		page.Rows = append(page.Rows, t.row(r.s))
	}
	return page, nil
}

// Session returns one tracked session by ref.
func (t *Tracker) Session(ref string) (SessionDetail, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var key [6]byte
	if b, err := hex.DecodeString(ref); err == nil && len(b) == len(key) {
		copy(key[:], b)
		if s := t.sessions.getRef(key); s != nil {
			d := SessionDetail{Row: t.row(s)}
			if s.payload != nil {
				d.Payload = s.payload.decoded
			}
			return d, nil
		}
	}
	return SessionDetail{}, fmt.Errorf("session %s: %w", ref, ErrNotFound)
}

func (t *Tracker) row(s *session) SessionRow {
	fw := t.fwOf(s)
	r := SessionRow{Ref: s.refString(), ID: model.ShowID(t.storeID(s), t.cfg.RevealIDs), Framework: fw.Name,
		KeyPrefix: fw.Prefix, Size: int(s.size), Authenticated: s.flags&flagAuthenticated != 0,
		Inventory: s.flags&flagFromInventory != 0, Node: t.nodes[s.node], PayloadRead: s.flags&flagPayloadRead != 0,
		MetaUnread: s.metaUnread()}
	if s.born != 0 {
		r.Born = time.Unix(0, s.born)
	}
	if s.lastActivity != 0 {
		r.LastActivity = time.Unix(0, s.lastActivity)
	}
	switch {
	case s.ttlDeadline == -1:
		r.NoTTL = true
	case s.ttlDeadline > 0:
		r.ExpiresAt = time.Unix(0, s.ttlDeadline)
	}
	if s.payload != nil && s.payload.decoded != nil {
		r.Format = string(s.payload.decoded.Format)
	}
	regenRow(&r, s.flags, t.sessions.regenOf(s))
	return r
}

// regenRow names the other ends of a session's regenerations in its row.
func regenRow(r *SessionRow, flags uint8, refs regenRefs) {
	if flags&flagBornRegenerated != 0 {
		r.FromRef = hexRef(refs.from)
	}
	if flags&flagRegeneratedTo != 0 {
		r.ToRef = hexRef(refs.to)
	}
}

// refHasPrefix compares a hex prefix with a binary ref digit by digit, so a search over a
// million sessions formats none of them.
func refHasPrefix(ref [6]byte, prefix string) bool {
	if len(prefix) > 12 {
		return false
	}
	const digits = "0123456789abcdef"
	for i := 0; i < len(prefix); i++ {
		b := ref[i/2]
		d := b >> 4
		if i%2 == 1 {
			d = b & 0x0f
		}
		c := prefix[i]
		if c >= 'A' && c <= 'F' {
			c += 'a' - 'A'
		}
		if digits[d] != c {
			return false
		}
	}
	return true
}
