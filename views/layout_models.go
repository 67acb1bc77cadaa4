package views

// Layout is what every page shares: title, active nav entry and asset URLs.
type Layout struct {
	Title       string
	Active      string // live, sessions, requests, findings, status, lab, or "" (login, errors)
	CSS         string // hashed asset URLs
	JS          string
	Vendor      []string // vendored scripts JS needs (htmx, its websocket extension), loaded before it
	Icon        string
	Seq         uint64 // the last seq the page reflects; the live socket resumes after it
	AuthEnabled bool   // a token protects the dashboard: offer a way to log out
	Findings    int    // findings so far, for the nav badge
	Live        bool   // the page connects to the live socket
	// Socket is the page's live socket (ws-connect): HTML fragments rendered by the
	// same components as the page, for this page and its filter.
	Socket string
	// LabHint: the dashboard watches the training lab's store (sessionscope alone),
	// so empty screens point at the Lab (LabEmptyHint).
	LabHint bool
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

// Option is one choice of a select.
type Option struct {
	Value    string
	Label    string
	Selected bool
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
