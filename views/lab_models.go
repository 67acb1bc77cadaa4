package views

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
