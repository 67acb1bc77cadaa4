// Package views renders the dashboard's screens with templ. Every component takes a
// view model shaped like its screen (the types in this file), never an inspector type,
// so a screen can be rendered and tested without a running store. Regions that the
// page's script updates have stable ids and data-testid values, so one component
// serves the whole page, a fragment refresh and a live push.
package views

// Layout is what every page shares: title, active nav entry and asset URLs.
type Layout struct {
	Title       string
	Active      string // live, sessions, requests, findings, status, lab, or "" (login, errors)
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
	// Exchanges is how many HTTP exchanges the finding cites; RequestsURL and FlowURL
	// show them as a table and as a flow (empty when it cites none).
	Exchanges   int
	RequestsURL string
	FlowURL     string
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
	Node          string // the store node holding it (a Redis address, a cluster master); "" unknown
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
	Rule   string // the rule the page is filtered to (?rule=), or ""
}

// StatusPage describes the backend and sessionscope itself.
type StatusPage struct {
	Layout        Layout
	Backend       string
	Describe      string
	Mode          string
	PollLimits    []string // what polling cannot see; set when Mode is polling
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

// CookieMark is one cookie of an exchange with the browser's verdict, as the Requests
// table, the request page and app.js show it.
type CookieMark struct {
	Name    string
	Ref     string // the session the cookie belongs to, when known
	RefURL  string
	Verdict string // sent, blocked, stored, rejected, deleted; "" when the browser model gave none
	Reason  string // Chromium's reason for blocked and rejected
	Detail  string // the attribute at fault and the URL, in words
}

// ExchangeRow is one exchange in a Requests table; app.js builds the same row for
// exchanges pushed over the websocket.
type ExchangeRow struct {
	ID          string
	Seq         uint64
	URL         string // the request's page
	Time        Stamp
	Method      string
	Target      string // the request URL, session ids masked
	Status      string // "" when no response came
	StatusClass string // s-2xx, s-3xx, s-4xx, s-5xx, s-failed
	Location    string // masked
	Client      string // address and short User-Agent
	ClientTitle string // the full User-Agent
	ClientURL   string // the requests of this client
	Upstream    string
	SessionRef  string
	Sent        []CookieMark // session cookies first, then up to a few others
	Blocked     []CookieMark // session cookies the browser held but did not send
	OtherSent   int          // further cookies not listed
	SetCookies  []CookieMark
	OtherSet    int
	Duration    string
}

// ExchangeFilter is what a Requests table or a flow shows; app.js applies the same
// filter to pushed exchanges.
type ExchangeFilter struct {
	Session string // session ref
	Client  string // client address without the port
	UA      string // exact User-Agent
	Status  string // 2xx, 3xx, 4xx, 5xx, failed
	Finding string // finding id
	HAR     string // HAR import id
}

// RequestsTable is a table of exchanges, newest first, with its paging. The Requests
// screen and a HAR import's page share it.
type RequestsTable struct {
	Rows      []ExchangeRow
	NextURL   string // older exchanges; empty on the last page
	NewestURL string // back to the newest page, when paged
	Live      bool   // exchanges pushed over the websocket are added (first page, live log)
	Filter    ExchangeFilter
}

// HARImportRow is one imported HAR in a list.
type HARImportRow struct {
	ID        string
	Name      string
	URL       string
	Imported  Stamp
	Entries   int
	Findings  int
	Worst     string // the worst finding severity, "" without findings
	Truncated bool
}

// RequestsPage is the Requests screen: recent exchanges, filters, HAR upload.
type RequestsPage struct {
	Layout      Layout
	Table       RequestsTable
	Filter      ExchangeFilter
	Filtered    bool     // a filter is set: an empty table means no match, not no traffic
	Statuses    []Option // status class choices
	ClientLabel string   // the client filter as shown (address and short UA)
	Finding     *Finding // ?finding=ID: the finding whose exchanges are listed
	Missing     int      // exchanges the finding cites that are no longer kept
	FlowURL     string   // the same exchanges as a flow
	Error       string   // what is wrong with the query, and how to fix it
	UploadError string   // why the last HAR upload failed, and what to do
	MaxUpload   string   // the upload size limit, as text
	Imports     []HARImportRow
}

// SetCookieView is one Set-Cookie line of a response with every attribute and the
// browser's verdict.
type SetCookieView struct {
	Name        string
	Domain      string // "" : host-only
	Path        string
	Expires     string
	MaxAge      string
	SameSite    string
	Secure      bool
	HTTPOnly    bool
	Partitioned bool
	Ref         string
	RefURL      string
	Verdict     string // stored, rejected, deleted, ""
	Reason      string
	ParseError  string // why the line is not a valid cookie
}

// RequestEvent is a store event an exchange caused.
type RequestEvent struct {
	Seq     uint64
	Kind    string
	Ref     string
	RefURL  string
	Time    Stamp
	After   string // time after the request started, e.g. "+12 ms"
	Late    bool   // written after the response reached the browser
	Detail  string
	JSONURL string
}

// RequestPage is one exchange in detail.
type RequestPage struct {
	Layout      Layout
	ID          string
	Method      string
	Target      string
	Status      string
	StatusClass string
	Location    string
	Failed      string // why there was no response
	Start       Stamp
	HeadersSent Stamp
	End         Stamp
	HeadersAt   string // "+12 ms" after the start
	EndAt       string
	Duration    string
	ClientAddr  string
	UA          string
	ClientURL   string // the client's requests
	Upstream    string
	Source      string // proxy or har
	Session     *Link
	Cookies     []CookieMark // sent and blocked
	SetCookies  []SetCookieView
	Notes       []string // what the page cannot tell, and why
	Findings    []Finding
	Events      []RequestEvent
	EventsNote  string
	Links       []Link // flows and tables around this exchange
	HAR         *Link  // the import it came from
	JSONURL     string
}

// FlowLane is one column of the flow: the browser, an upstream, the store.
type FlowLane struct {
	Kind  string // browser, upstream, store
	Name  string
	Title string
	X     int
}

// FlowMark is one line of annotation under an arrow or beside a store event.
type FlowMark struct {
	Text   string
	Class  string // sent, blocked, stored, rejected, late, repeat, muted
	X, Y   int
	Anchor string // start, middle, end
}

// FlowRow is one step of the flow, laid out: a request or response arrow between the
// browser and an upstream, a store event (with an arrow from the upstream that caused
// it, when known), a pause, or a gap in what the store reported.
type FlowRow struct {
	Kind     string // request, response, event, pause, gap
	Class    string // extra classes: redirect, repeat, error, late, cited, write
	Y        int
	X1, X2   int    // the arrow, X1 == X2: none
	Head     string // the arrowhead's path
	Label    string
	Title    string // the full label and exact time, as a tooltip
	LabelX   int
	LabelY   int
	Anchor   string
	URL      string // the request's page
	Marks    []FlowMark
	DotX     int // store events: the dot on the store lane
	Time     string
	ISO      string // RFC 3339 time, for tests and tooltips
	Exchange string
	Status   string
	Seq      uint64
	// BandY and BandH are the row's background band (cited rows are highlighted).
	BandY, BandH int
}

// Flow is the swimlane diagram, laid out for an SVG.
type Flow struct {
	Width, Height int
	LaneTop       int
	Lanes         []FlowLane
	Rows          []FlowRow
	Shown, Total  int // steps drawn, steps found
}

// FlowPage is the flow view of a session, a client, a finding or a HAR import.
type FlowPage struct {
	Layout      Layout
	Title       string
	Filter      ExchangeFilter
	Flow        Flow
	Finding     *Finding
	Error       string
	StoreNote   string // why the store lane may be empty
	RequestsURL string // the same exchanges as a table
	Links       []Link
	Stale       bool // new exchanges are announced by app.js (live log only)
}

// HARPage is one imported HAR: its findings, its flow and its requests.
type HARPage struct {
	Layout    Layout
	ID        string
	Name      string
	Imported  Stamp
	Entries   int
	Kept      int
	Truncated bool
	Creator   string
	Browser   string
	First     Stamp
	Last      Stamp
	Notes     []string
	Groups    []FindingGroup
	Flow      Flow
	FlowURL   string
	Table     RequestsTable
	JSONURL   string
}

// LabPage is the training lab: its scenarios, and the run panel.
type LabPage struct {
	Layout    Layout
	NoLab     string // set when no lab runs here: how to start one
	Message   string // one line above the panel: a run already in progress, an unknown scenario
	LabURL    string // the lab app through the proxy
	Scenarios []LabScenario
	Run       *LabRun // the run shown in the panel, nil before the first
}

// LabScenario is one scenario's card.
type LabScenario struct {
	ID         string
	Title      string
	Symptom    string
	Story      []string
	Seed       string
	Expected   []Link // rule ids, linking to the Findings screen filtered to the rule
	Events     []string
	Fix        string
	NeedsRedis bool
	Broken     Link // the last broken run: its state, linking to it; zero before one ran
	Fixed      Link // the last fixed run
	Checked    bool // the broken run yielded its findings and the fixed twin ran clean
	TrySteps   []string
	TryURL     string // the lab app configured for the scenario
}

// LabRun is the run panel.
type LabRun struct {
	ID         string
	Scenario   string
	Title      string
	Fixed      bool
	State      string // running, passed, failed, error
	Running    bool   // the page polls PollURL while set
	PollURL    string
	Started    Stamp
	Ended      Stamp
	Summary    string
	Steps      []LabStep
	Findings   []Finding
	Missing    []string
	Unexpected []string
	Err        string
	Exchanges  int
	Events     int
	Links      []Link // Live, Requests, Flow, Findings, filtered to the run where they can be
}

// LabStep is one thing the virtual browser did.
type LabStep struct {
	Time        Stamp
	Actor       string
	Text        string
	ExchangeURL string // the request it made, when one is known
}
