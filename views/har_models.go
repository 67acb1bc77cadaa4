package views

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
	// Dropped says which older imports were forgotten to keep this one, and why.
	Dropped string
	Groups  []FindingGroup
	Flow    Flow
	FlowURL string
	Table   RequestsTable
	JSONURL string
}
