package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/tracker"
	"github.com/sessionscope/sessionscope/views"
)

// PageSize is how many sessions one page of the list shows.
const PageSize = 50

var sortOptions = [...]views.Option{
	{Value: tracker.SortActivity, Label: "last activity"},
	{Value: tracker.SortTTL, Label: "expires soonest"},
	{Value: tracker.SortSize, Label: "largest"},
}

// parseSessionsQuery reads q, sort, limit and cursor. Its errors are meant for the
// user: they say which parameter is wrong and what it accepts.
func parseSessionsQuery(c echo.Context, defaultLimit int) (tracker.Query, error) {
	q := tracker.Query{Text: c.QueryParam("q"), Sort: c.QueryParam("sort"), Cursor: c.QueryParam("cursor"), Limit: defaultLimit}
	switch q.Sort {
	case "", tracker.SortActivity, tracker.SortTTL, tracker.SortSize:
	default:
		return q, fmt.Errorf("unknown sort %q: use activity, ttl or size", q.Sort)
	}
	if s := c.QueryParam("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			return q, fmt.Errorf("limit %q: use a number from 1 to 1000", s)
		}
		q.Limit = n
	}
	if len(q.Text) > 1000 {
		return q, errors.New("the search is longer than 1000 characters: shorten it")
	}
	return q, nil
}

// queryError turns a tracker error into a message that says what to fix.
func queryError(err error) string {
	if errors.Is(err, tracker.ErrBadCursor) {
		return "this page link is no longer valid (bad cursor): start again from the first page"
	}
	return err.Error()
}

// SessionsList renders the session table with search, sort and cursor paging.
func (h *Handlers) SessionsList(c echo.Context) error {
	vm := views.SessionsPage{Layout: h.Layout("Sessions", "sessions")}
	q, err := parseSessionsQuery(c, PageSize)
	vm.Query = q.Text
	for _, o := range sortOptions {
		o.Selected = o.Value == q.Sort || (q.Sort == "" && o.Value == tracker.SortActivity)
		vm.Sorts = append(vm.Sorts, o)
	}
	status := http.StatusOK
	var page tracker.Page
	if err == nil {
		page, err = h.d.Src.Sessions(q)
	}
	if err != nil {
		vm.Error = queryError(err)
		status = http.StatusBadRequest
		page.Total = h.d.Src.Status().Sessions
	}
	vm.Matched, vm.Total = page.Matched, page.Total
	now := h.d.Now()
	for _, r := range page.Rows {
		vm.Rows = append(vm.Rows, sessionRow(r, now))
	}
	h.addPast(c.Request().Context(), vm.Rows)
	vm.URL = withQuery("/sessions", c.QueryParams())
	vm.Layout.Socket = pageSocketValues(viewSessions, vm.Layout.Seq, sessionsValues(q))
	if page.Next != "" {
		v := url.Values{}
		if q.Text != "" {
			v.Set("q", q.Text)
		}
		if q.Sort != "" {
			v.Set("sort", q.Sort)
		}
		if q.Limit != PageSize {
			v.Set("limit", strconv.Itoa(q.Limit))
		}
		v.Set("cursor", page.Next)
		vm.NextURL = "/sessions?" + v.Encode()
	}
	return Render(c, status, views.SessionsView(vm))
}

// sessionRow is one session of the list, on first load and pushed alike.
func sessionRow(r tracker.SessionRow, now time.Time) views.SessionRow {
	expires, ttl := ttlText(r.ExpiresAt, r.NoTTL, now)
	size := bytesText(int64(r.Size))
	if r.MetaUnread {
		// Listed by the inventory's first phase; its second reads TTL and size.
		expires, ttl, size = "", notReadYet, notReadYet
	}
	row := views.SessionRow{Ref: r.Ref, ID: r.ID, Framework: r.Framework, Format: r.Format,
		URL: sessionURL(r.Ref), Born: stamp(r.Born), LastActivity: stamp(r.LastActivity), ExpiresISO: expires, TTL: ttl,
		Size: size, Authenticated: r.Authenticated, Inventory: r.Inventory, FromRef: r.FromRef}
	if r.Inventory && r.Born.IsZero() {
		row.BornNote = "unknown: found by the inventory scan, born before sessionscope watched it"
	}
	return row
}

// addPast gives the rows of sessions found by the inventory, whose birth this run did
// not see, the birth and lineage the history recorded: one history query for the
// rows of a page, never for the whole table.
func (h *Handlers) addPast(ctx context.Context, rowSets ...[]views.SessionRow) {
	var refs []string
	for _, rows := range rowSets {
		for _, r := range rows {
			if r.Inventory && r.Born.ISO == "" {
				refs = append(refs, r.Ref)
			}
		}
	}
	if len(refs) == 0 {
		return
	}
	past := h.sessionPast(ctx, refs)
	for _, rows := range rowSets {
		pastRows(rows, past)
	}
}

// pastRows puts past into the rows it knows.
func pastRows(rows []views.SessionRow, past map[string]inspector.Past) {
	for i, r := range rows {
		p, ok := past[r.Ref]
		if !ok || r.Born.ISO != "" {
			continue
		}
		if !p.Born.IsZero() {
			rows[i].Born = stamp(p.Born)
			rows[i].BornNote = "from the history: born before sessionscope found it again by its inventory"
		} else if !p.EndedAt.IsZero() {
			rows[i].BornNote = "unknown: born after " + p.EndedAt.Local().Format("2006-01-02 15:04:05.000") +
				", when its previous life ended, while sessionscope was not watching"
		}
		if rows[i].FromRef == "" {
			rows[i].FromRef = p.From
		}
	}
}

// notReadYet stands for a TTL or size the inventory has listed but not read yet: not
// 0, and not "no TTL", which would be a finding.
const notReadYet = "not read yet"

// sessionsValues is the search a Sessions page's live socket counts and matches.
func sessionsValues(q tracker.Query) url.Values {
	v := url.Values{}
	if q.Text != "" {
		v.Set("q", q.Text)
	}
	if q.Sort != "" {
		v.Set("sort", q.Sort)
	}
	return v
}
