package views

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
