package views

// Finding is one finding as the findings screen and a session page show it.
type Finding struct {
	ID       string
	Rule     string
	Severity string
	Title    string
	Detail   string
	// DetailParts is Detail in parts: text, and references to other findings
	// ("[finding RULE-HASH]") as links to them; empty shows Detail as it is.
	DetailParts []TextPart
	Fix         string
	Evidence    []string
	Count       int
	First       Stamp
	Last        Stamp
	Sessions    []Link
	Events      []Link
	// Exchanges is how many HTTP exchanges the finding cites; RequestsURL and FlowURL
	// show them as a table and as a flow (empty when it cites none). Requests links
	// the first few exchanges one by one.
	Exchanges   int
	RequestsURL string
	FlowURL     string
	Requests    []Link
}

// TextPart is a run of text, a link when URL is set.
type TextPart struct {
	Text string
	URL  string
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
	// Severity is the severity the page is filtered to (?severity=), or "".
	Severity string
	// Severities and RuleChips filter the page: each a link to the page so filtered.
	Severities []FilterLink
	RuleChips  []FilterLink
	// URL is the page as filtered; "show" reloads its list.
	URL string
}

// FilterLink is one choice of a filter: a link to the page filtered so.
type FilterLink struct {
	Label    string
	URL      string
	Selected bool
}

// FindingsPush is one live-socket message for the Findings screen: the findings that
// are new or changed, for the page to update in place or count as new, and the
// headings of the groups, whose counts they change.
type FindingsPush struct {
	Findings []Finding
	Groups   []FindingGroup
}
