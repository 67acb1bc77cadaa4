package views

// LabPage is the training lab: its scenarios, and the run panel.
type LabPage struct {
	Layout    Layout
	NoLab     string // set when no lab runs here: how to start one
	Message   string // one line above the panel: a run already in progress, an unknown scenario
	LabURL    string // the lab app through the proxy
	Scenarios []LabScenario
	Run       *LabRun // the run shown in the panel, nil before the first
	// CanRunAll and CanClear offer the Run all and Clear runs buttons.
	CanRunAll bool
	CanClear  bool
	// RunningBatch is the summary page of the Run all in progress, if one is.
	RunningBatch string
	Batch        *LabBatch // the Run all summary, on its own page
}

// LabBatch is the summary of one Run all: each scenario's broken and fixed run.
type LabBatch struct {
	ID      string
	State   string // running, passed, failed
	Running bool   // the page reloads itself while set
	Started Stamp
	Ended   Stamp
	Passed  int    // scenarios whose two runs passed
	Failed  int    // scenarios with a run that failed or could not be carried out
	Skipped int    // scenarios this lab cannot run (they need a Redis)
	Summary string // the counts in one line
	Items   []LabBatchItem
}

// LabBatchItem is one scenario's line of a Run all summary.
type LabBatchItem struct {
	ID      string
	Title   string
	Skipped string // why it did not run
	Broken  Link   // the broken run: its state ("waiting" before it starts), linking to it
	Fixed   Link
	Verdict string // passed, failed, running, waiting, skipped
}

// LabScenario is one scenario's card.
type LabScenario struct {
	ID         string
	Title      string
	Symptom    string
	Story      []string
	Principle  string
	Expected   []Link // rule ids, linking to the Findings screen filtered to the rule
	Events     []string
	Fix        string
	NeedsRedis bool
	Broken     Link // the last broken run: its state, linking to it; zero before one ran
	Fixed      Link // the last fixed run
	Checked    bool // the broken run yielded its findings and the fixed twin ran clean
	TrySteps   []string
	TryURL     string // the lab app configured for the scenario
	// TryFixedURL is the lab app configured for the fixed twin; empty for a scenario
	// without one (the healthy baseline).
	TryFixedURL string
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
