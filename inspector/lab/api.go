// Package lab is sessionscope's training lab: a real login app whose session layer
// can be broken on purpose (one Knobs per scenario), a virtual browser that stores
// and sends cookies with inspector/cookies, and the scenarios of the lab catalogue, each
// with a fixed twin that must run clean.
//
// This file is the lab's public surface, shared by the CLI (lab list, lab run, the
// default run) and the dashboard's Lab screen.
package lab

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/cookies"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// Scenario is one failure the lab reproduces, and its fix.
type Scenario struct {
	ID      string `json:"id"`
	Title   string `json:"title"`
	Symptom string `json:"symptom"` // what the user sees, one sentence
	// Story is 3 to 6 plain sentences.
	Story     []string `json:"story"`
	Principle string   `json:"principle"` // the session-security principle it shows
	// Expected are the rule ids the broken run yields, exactly; the fixed twin yields
	// none of them.
	Expected []string `json:"expected"`
	// Events are the lifecycle events the broken run must show, as "kind" or
	// "kind cause=CAUSE" (e.g. "destroyed cause=hijack-suspect").
	Events     []string `json:"events,omitempty"`
	Fix        string   `json:"fix"`
	NeedsRedis bool     `json:"needs_redis,omitempty"` // runs only with --redis
	Try        Try      `json:"try"`
}

// Try is how a trainer shows the scenario in a real browser.
type Try struct {
	Steps []string `json:"steps"`
	// Path is the path on the lab's URL that configures the lab for this scenario
	// (its broken variant) and starts it, e.g. "/lab/use?scenario=ID".
	Path string `json:"path"`
}

// Step is one thing the virtual browser did during a run.
type Step struct {
	Time     time.Time `json:"time"`
	Actor    string    `json:"actor"` // "victim" or "attacker"
	Text     string    `json:"text"`  // e.g. "POST http://localhost:7071/login → 302 /dashboard"
	Exchange string    `json:"exchange,omitempty"`

	// rawURL and method match the step to the proxy's exchange for it.
	rawURL, method string
	// sent, held and set are the browser's cookie verdicts for this request and its
	// response, as data for the Chromium parity test (Text says the same in words):
	// the cookies sent, those held back and why, and every Set-Cookie line with why
	// it was refused (no reasons: accepted).
	sent      []string
	held, set []cookieVerdict
}

// cookieVerdict is the browser's decision on one cookie, by name: held back from a
// request, or refused from a response, for reasons (Chromium's names); accepted when
// there are none.
type cookieVerdict struct {
	name    string
	reasons []cookies.Reason
}

// Run states.
const (
	RunRunning = "running"
	RunPassed  = "passed" // broken: exactly the expected findings appeared; fixed: none did
	RunFailed  = "failed"
	RunError   = "error" // the run could not be carried out (Err says why)
)

// Run is one run of a scenario, broken or fixed.
type Run struct {
	ID       string    `json:"id"`
	Scenario string    `json:"scenario"`
	Fixed    bool      `json:"fixed"`
	State    string    `json:"state"`
	Started  time.Time `json:"started"`
	Ended    time.Time `json:"ended,omitzero"`
	Steps    []Step    `json:"steps"`
	// Findings are those that appeared or were updated during the run.
	Findings []model.Finding `json:"findings"`
	// Exchanges and Events are what the run produced, by id and seq.
	Exchanges []string `json:"exchanges"`
	Events    []uint64 `json:"events"`
	// Missing are expected rule ids that did not appear; Unexpected are rule ids that
	// appeared without being expected (for a fixed run, every one that appeared).
	Missing    []string `json:"missing"`
	Unexpected []string `json:"unexpected"`
	// MissingEvents are the scenario's expected events (Scenario.Events) that the
	// broken run did not show.
	MissingEvents []string `json:"missing_events"`
	Err           string   `json:"error,omitempty"`
}

// ErrBusy is returned when a run is asked for while another is in progress.
var ErrBusy = errors.New("a lab run is already in progress: wait for it to finish")

// ErrUnknownScenario is returned for an id that Scenarios does not list.
var ErrUnknownScenario = errors.New("unknown lab scenario: 'sessionscope lab list' shows them")

// ErrNeedsRedis is returned when a scenario that needs Redis is run on the memory store.
var ErrNeedsRedis = errors.New("this scenario needs a real Redis: start sessionscope with --redis URL")

// Config assembles a lab environment.
type Config struct {
	// RedisURL stores the lab's sessions in that Redis in phpredis format; empty uses
	// the embedded memory backend.
	RedisURL string
	// Listen is the proxy's address, the lab's URL; default 127.0.0.1:7071 (also
	// reachable as localhost:PORT).
	Listen string
	// Inspector configures the inspector watching the lab's store.
	Inspector inspector.Config
	Logger    *slog.Logger
	// VirtualTime runs the lab on a clock that jumps instead of sleeping: a scenario's
	// waits (a user stepping away until a cookie or a session expires) and the store's
	// latency move the clock of the app, the virtual browser and the memory store
	// forward at once. The inspector still sees real, shorter gaps, and the pacing it
	// needs between requests stays real. For tests; memory store only, since a Redis
	// expires keys on its own clock. Default false: real time, as a trainer shows it.
	VirtualTime bool
}

// Env is a running lab: its store, its nodes behind the round-robin proxy, the
// inspector watching both, and the runner.
type Env struct {
	Inspector *inspector.Inspector
	Runner    *Runner
	// URL is the lab app's address through the proxy, e.g. http://127.0.0.1:7071.
	URL string
	env *environment // implementation
}

// Runner runs scenarios one at a time against an Env.
type Runner struct {
	r *runner // implementation
}

// The functions below are the rest of the surface; their bodies live in the
// implementation files.
//
//	func Scenarios() []Scenario                     // in display order
//	func Find(id string) (Scenario, bool)
//	func Start(ctx context.Context, cfg Config) (*Env, error)
//	func (e *Env) Close() error                     // stops the proxy, nodes, inspector; waits
//	func (r *Runner) Start(id string, fixed bool) (Run, error)        // async; ErrBusy, ErrUnknownScenario, ErrNeedsRedis
//	func (r *Runner) Run(ctx context.Context, id string, fixed bool) (Run, error) // sync, same errors
//	func (r *Runner) Current() (Run, bool)          // the run in progress
//	func (r *Runner) Get(runID string) (Run, bool)
//	func (r *Runner) Last(scenario string, fixed bool) (Run, bool) // the latest finished run
//	func (e *Env) AttackerURL() string              // the attacker's site (fixation), outside the proxy
//	func Script(id string) ([]Action, error)        // a scenario's browser script, for a real browser to replay
var _ = context.Background
