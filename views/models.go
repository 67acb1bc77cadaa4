// Package views renders the dashboard's screens with templ. Every component takes a
// view model shaped like its screen (the types in this file), never an inspector type,
// so a screen can be rendered and tested without a running store. Regions that the
// page's script updates have stable ids and data-testid values, so one component
// serves the whole page, a fragment refresh and a live push.
package views

// Layout is what every page shares: title, active nav entry and asset URLs.
type Layout struct {
	Title       string
	Active      string // live, sessions, findings, status, or "" (login, errors)
	CSS         string // hashed asset URLs
	JS          string
	Icon        string
	Seq         uint64 // the last seq the page reflects; the live socket resumes after it
	AuthEnabled bool   // a token protects the dashboard: offer a way to log out
	Findings    int    // findings so far, for the nav badge
	Live        bool   // the page connects to the live socket
}

// Stamp is a point in time as the page shows it: exact text, and the RFC 3339 form the
// script turns into "3 s ago". The zero Stamp renders as a dash.
type Stamp struct {
	ISO   string
	Exact string
}

// Link is a text with its URL.
type Link struct {
	Text string
	URL  string
}

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
	Dropped   int64
	Gaps      int64
	Message   string
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
}

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
}

// Option is one choice of a select.
type Option struct {
	Value    string
	Label    string
	Selected bool
}

// SessionRow is one session in the sessions list.
type SessionRow struct {
	Ref           string
	ID            string
	Framework     string
	Format        string
	URL           string
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
}

// Opaque is a payload shown as bytes: type, size and a hex/ASCII preview.
type Opaque struct {
	Type      string
	Size      int
	Preview   string
	Truncated bool
}

// PayloadNode is one key of a decoded payload tree.
type PayloadNode struct {
	Key      string
	Kind     string // null, bool, int, float, string, list, map, object, opaque, ref
	Class    string // objects: the class name
	Value    string // scalars as displayed
	Redacted bool
	Children []PayloadNode
	More     int // children left out to keep the page small
	Opaque   *Opaque
}

// Payload is a decoded session payload.
type Payload struct {
	Format string
	Nodes  []PayloadNode
	Opaque *Opaque // the whole payload is opaque
	Size   int
}

// TimelineItem is one event on the session's timeline.
type TimelineItem struct {
	Y      int
	Seq    uint64
	Kind   string
	Label  string
	Time   Stamp
	Detail string
}

// Timeline is the session's events, oldest at the top, laid out for an SVG.
type Timeline struct {
	Height int
	Items  []TimelineItem
}

// Finding is one finding as the findings screen and a session page show it.
type Finding struct {
	ID       string
	Rule     string
	Severity string
	Title    string
	Detail   string
	Fix      string
	Evidence []string
	Count    int
	First    Stamp
	Last     Stamp
	Sessions []Link
	Events   []Link
}

// SessionPage is one session in detail.
type SessionPage struct {
	Layout        Layout
	Ref           string
	ID            string
	Framework     string
	KeyPrefix     string
	Format        string
	ExpiresISO    string // RFC 3339, "none" without TTL, "" when unknown
	TTL           string
	Size          string
	Born          Stamp
	LastActivity  Stamp
	Authenticated bool
	Inventory     bool
	From          *Link
	To            *Link
	Payload       *Payload
	PayloadNote   string // why there is no payload to show
	Ended         string // how the session ended, for sessions no longer tracked
	Revealed      bool   // values are shown unredacted
	Timeline      Timeline
	Findings      []Finding
}

// FindingGroup is the findings of one rule.
type FindingGroup struct {
	Rule     string
	Severity string // the worst severity in the group
	Count    int
	Findings []Finding
}

// FindingsPage is every finding, grouped by rule.
type FindingsPage struct {
	Layout Layout
	Groups []FindingGroup
	Rules  []Link // the rules that run, with what they look for
}

// StatusPage describes the backend and sessionscope itself.
type StatusPage struct {
	Layout        Layout
	Backend       string
	Describe      string
	Mode          string
	State         string
	Node          string
	Message       string
	Since         Stamp
	Flags         string
	Missing       string
	Fix           string
	Hints         []string
	NotifError    string
	Scanned       int64
	InvSessions   int64
	InvDone       bool
	Sessions      int
	Budget        string // reads/s allowed, or "unlimited"
	Reads         int64
	Denied        int64
	Clients       int
	HeapAlloc     string
	Sys           string
	RawEvents     int64
	Emitted       int64
	Dropped       int64
	Gaps          int64
	ReadsPerSec   string
	BudgetPercent int
}

// LoginPage asks for the dashboard token.
type LoginPage struct {
	Layout Layout
	Next   string
	Error  string
}

// ErrorPage tells what failed and what to do next.
type ErrorPage struct {
	Layout  Layout
	Status  int
	Title   string
	Message string
	Links   []Link
}
