package views

// CookieMark is one cookie of an exchange with the browser's verdict, as the Requests
// table and the request page show it.
type CookieMark struct {
	Name    string
	Ref     string // the session the cookie belongs to, when known
	RefURL  string
	Verdict string // sent, blocked, stored, rejected, deleted; "" when the browser model gave none
	Reason  string // Chromium's reason for blocked and rejected
	Detail  string // the attribute at fault and the URL, in words
}

// ExchangeRow is one exchange in a Requests table, rendered by the same component on
// first load and when pushed over the websocket.
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

// ExchangeFilter is what a Requests table or a flow shows; their live socket pushes
// only the exchanges that pass it.
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
	Filtered    bool       // a filter is set: an empty table means no match, not no traffic
	Statuses    []Option   // status class choices
	ClientLabel string     // the client filter as shown (address and short UA)
	Finding     *Finding   // ?finding=ID: the finding whose exchanges are listed
	Missing     int        // exchanges the finding cites that are no longer kept
	FlowURL     string     // the same exchanges as a flow
	FlowHidden  bool       // no row yet: the flow link shows with the first pushed row
	Proxy       ProxyPanel // where to open the app through the proxy, or how to start one
	Error       string     // what is wrong with the query, and how to fix it
	UploadError string     // why the last HAR upload failed, and what to do
	MaxUpload   string     // the upload size limit, as text
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
	Late    bool   // written after the response's headers reached the browser
	LateBy  string // how long after them, "30 ms"; set when Late
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
	Given       []Link       // sessions the response's Set-Cookie handed the browser
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

// RequestsPush is one live-socket message for a live Requests table.
type RequestsPush struct {
	Rows    []ExchangeRow // new exchanges matching the table's filter, newest first
	Replace bool          // Rows are the table's whole first page: the page missed objects
}

// lateLabel is the tag of a late write, the words the flow uses: "written 30 ms
// after the response".
func lateLabel(by string) string {
	if by == "" {
		return "written after the response"
	}
	return "written " + by + " after the response"
}
