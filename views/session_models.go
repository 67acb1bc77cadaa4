package views

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
	// History: the events come from the history file too, not only from the ring of
	// recent objects, which the empty timeline's text says.
	History bool
	Note    string // what the events leave out (a timeline cut at its bound, a failed read)
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
	BornNote      string // where Born comes from when this run did not see the birth, or why it is unknown
	LastActivity  Stamp
	Authenticated bool
	// AuthUnknown: no payload was read, so whether someone is logged in is not known.
	AuthUnknown bool
	// AuthUntil qualifies Authenticated on an ended session: "until destroyed at …".
	AuthUntil   string
	Inventory   bool
	Node        string // the store node holding it (a Redis address, a cluster master); "" unknown
	From        *Link
	Evidence    string // how the regeneration from From was recognised (http, rename, payload, timing), when known
	To          *Link
	Payload     *Payload
	PayloadNote string // why there is no payload to show
	// ReadAction, when set, is where the "Read payload now" button posts: the payload
	// was not read (budget spent, read failed) and one read may be asked for.
	ReadAction string
	Ended      string // how the session ended, for sessions no longer tracked
	Revealed   bool   // values are shown unredacted
	Timeline   Timeline
	Findings   []Finding
	// RequestsURL, FlowURL and JSONURL lead to the session's requests, its flow and
	// its API object; JSONURL is empty for an ended session (the API has no object).
	RequestsURL string
	FlowURL     string
	JSONURL     string
	// Candidates are the sessions that ended while this one was born, any of which it
	// may replace, when the store alone could not tell which (no From then).
	Candidates []Link
}
