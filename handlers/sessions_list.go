package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

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
	return views.SessionRow{Ref: r.Ref, ID: r.ID, Framework: r.Framework, Format: r.Format,
		URL: sessionURL(r.Ref), LastActivity: stamp(r.LastActivity), ExpiresISO: expires, TTL: ttl,
		Size: size, Authenticated: r.Authenticated, Inventory: r.Inventory, FromRef: r.FromRef}
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
