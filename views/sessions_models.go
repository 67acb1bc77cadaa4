package views

// SessionRow is one session in the sessions list.
type SessionRow struct {
	Ref           string
	ID            string
	Framework     string
	Format        string
	URL           string
	Born          Stamp  // from the history for a session found by the inventory; empty: unknown
	BornNote      string // where Born comes from, or why it is unknown; "" when seen live
	LastActivity  Stamp
	ExpiresISO    string // RFC 3339, "none" without TTL, "" when unknown
	TTL           string // remaining TTL as text at render time
	Size          string
	Authenticated bool
	Inventory     bool
	FromRef       string
}

// SessionsPage is the sessions list with its search form.
type SessionsPage struct {
	Layout  Layout
	Query   string
	Sorts   []Option
	Rows    []SessionRow
	Matched int
	Total   int
	NextURL string // next page; empty on the last
	Error   string // what was wrong with the query, and how to fix it
	URL     string // this page; "show" reloads its results
}

// SessionsPush is one live-socket message for the Sessions screen.
type SessionsPush struct {
	Summary        bool // Matched and Total are set
	Matched, Total int
	Born           []SessionRow // sessions born that the search matches
	Changed        []SessionRow // sessions that changed
}
