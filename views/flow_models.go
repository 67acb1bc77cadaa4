package views

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
	Stale       bool // the live socket announces new exchanges (live log only)
}
