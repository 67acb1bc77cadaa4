package views

// Chip is one filter toggle of the live feed.
type Chip struct {
	Value string
	Label string
}

// Counters are the live screen's headline numbers; rates are per minute (last 60 s).
type Counters struct {
	Live        int
	Created     int
	Regenerated int
	Expired     int
	Destroyed   int
}

// Sparkline is the events-per-second graph of the last 60 s, already scaled to the
// SVG's coordinate space.
type Sparkline struct {
	Points string // polyline points
	Max    int    // the highest rate shown
	Now    int    // the latest rate
}

// StatusStrip is the backend summary above the live feed.
type StatusStrip struct {
	Backend   string
	State     string // connecting, inventory, live, polling, disconnected
	Connected bool
	Flags     string
	Missing   string
	Fix       string
	// NoNotifications hides the flags: the backend (memory, files) has none.
	NoNotifications bool
	Dropped         int64
	Gaps            int64
	Message         string
}

// FeedRow is one event in the live feed.
type FeedRow struct {
	Seq        uint64
	Kind       string
	Ref        string
	ID         string // masked id
	Framework  string
	Time       Stamp
	Meta       string // ttl and size
	Detail     string // from, changed, cause, gap span
	SessionURL string // empty when the event has no session
	// Candidates, on a created row, are sessions that ended in its correlation window,
	// any of which it may replace: the store alone could not tell which. "One of
	// these", never a lineage link.
	Candidates     []Link
	CandidatesMore int // further candidates left off to keep the row short
	// ExchangeURL leads to the HTTP exchange that caused the event, when the proxy
	// saw it.
	ExchangeURL string
}

// CandidatesTitle explains an undecided pairing where it is shown.
const CandidatesTitle = "The store alone cannot tell which of these sessions this one replaces; run behind the proxy (--proxy-to) to know."

// LivePage is the live screen.
type LivePage struct {
	Layout     Layout
	Rows       []FeedRow
	Kinds      []Chip
	Frameworks []Chip
	Counters   Counters
	Spark      Sparkline
	Strip      StatusStrip
	// NotificationsFix is the exact command that turns keyspace notifications on, when
	// they are missing: the empty state then says that instead of "log in to your app".
	NotificationsFix string
	// HistoryOn shows the "Show from" form: the history can move the feed back in time.
	HistoryOn bool
	// Past is set when the feed shows the history from a time instead of live events.
	Past *LivePast
}

// LivePast is the Live screen moved back to a time: rows come from the history,
// oldest first, and the page does not follow the live socket.
type LivePast struct {
	From    string // the time shown from, as the banner says it (14:02, or 2026-12-06 14:02)
	Value   string // the form's time input value (15:04)
	NextURL string // the next page of the history; empty on the last
}

// LivePush is one live-socket message for the Live screen.
type LivePush struct {
	Rows     []FeedRow // new events, newest first
	Replace  bool      // Rows are the whole feed: the page missed objects
	Head     bool      // Counters, Spark and Strip are set
	Counters Counters
	Spark    Sparkline
	Strip    StatusStrip
}
