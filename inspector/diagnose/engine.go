// Package diagnose turns events and HTTP exchanges into findings. Each rule
// lives in its own file; the engine aggregates what rules report so that a finding is
// about a cause: when the same rule fires again for the same cause it updates the one
// finding (count, first and last seen, a bounded sample of sessions).
package diagnose

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// maxSampleSessions bounds the sessions a finding lists: a million keys without a TTL
// are one finding with a sample, not a million refs.
const maxSampleSessions = 20

// maxEvidence bounds the evidence lines kept per finding.
const maxEvidence = 10

// SessionFact is what the inventory knows of an existing session.
type SessionFact struct {
	Session model.SessionInfo
	TTL     time.Duration // -1: no TTL
	Time    time.Time
}

// Rule is one diagnosis. Rules run on the tracker goroutine.
type Rule interface {
	// ID is the stable rule id from DESIGN.md.
	ID() string
	OnEvent(ev *model.Event, r *Recorder)
	OnInventory(f SessionFact, r *Recorder)
	Tick(now time.Time, r *Recorder)
}

// Config tunes the rules.
type Config struct {
	// Window is the correlation window; rules that wait for a regeneration wait this long.
	Window time.Duration
	// Cookies are custom session cookie names (--session-cookie), added to the builtin
	// table for the HTTP-side rules. Default: none.
	Cookies []framework.CookieMapping
	// Redact names the URL parameters whose values findings hide: the built-in list
	// plus --redact.
	Redact model.Redaction
	// LoginPaths name the login page(s) (--login-path: a path or a path.Match pattern)
	// for login-loop, when the built-in guess at login URLs does not fit. Default:
	// none, the guess.
	LoginPaths []string
}

// Engine runs the rules, store side and HTTP side, and keeps their findings: it is
// the one store of findings.
type Engine struct {
	cfg        Config
	rules      []Rule
	recorders  []*Recorder // recorders[i] reports for rules[i]; built once, not per call
	joint      *joint
	jointRules []jointRule
	traffic    *liveTraffic // the HTTP-side rules on proxied exchanges

	mu       sync.Mutex
	findings map[string]*model.Finding
	dirty    map[string]bool
}

// NewEngine builds an engine with every rule.
func NewEngine(cfg Config) *Engine {
	if cfg.Window <= 0 {
		cfg.Window = model.DefaultWindow
	}
	e := &Engine{
		cfg:      cfg,
		rules:    []Rule{newFixation(cfg.Window), oldSessionKept{}, newNoServerExpiry(), sessionsEvicted{}, newWeakSessionID()},
		findings: map[string]*model.Finding{},
		dirty:    map[string]bool{},
		joint:    newJoint(cfg.Window),
		jointRules: []jointRule{newHijackRule(cfg.Window), logoutNotDestroyed{window: cfg.Window}, cookieMissing{},
			staleRead{}, sessionNotShared{window: cfg.Window}, cookieLifetimeRule{}, adoptedID{}},
	}
	for _, rule := range e.rules {
		e.recorders = append(e.recorders, &Recorder{e: e, rule: rule.ID()})
	}
	e.traffic = newLiveTraffic(AnalyzeOptions{Cookies: cfg.Cookies, Mapping: framework.RefMapper(cfg.Cookies),
		StoreCauses: e.StoreCauses, StoreWatched: true, LoginPaths: cfg.LoginPaths})
	// A store-side cause (stale-read, cookie-missing, session-not-shared) arrives after
	// the exchanges it explains: replay that client so its login loop names it.
	e.joint.onCause = e.replayClient
	// A replay deferred under load (see liveTraffic) publishes with the next Drain.
	e.traffic.deferred = func(fs []*model.Finding) { e.keep(fs, true) }
	return e
}

// OnEvent feeds an emitted event to every rule.
func (e *Engine) OnEvent(ev *model.Event) {
	for i, rule := range e.rules {
		rule.OnEvent(ev, e.recorders[i])
	}
	e.jointOnEvent(ev)
}

// OnInventory feeds existing sessions (a SCAN page of them) to every rule.
func (e *Engine) OnInventory(facts ...SessionFact) {
	for i, rule := range e.rules {
		for _, f := range facts {
			rule.OnInventory(f, e.recorders[i])
		}
	}
}

// Tick lets rules that wait for something (a regeneration that never came) decide.
func (e *Engine) Tick(now time.Time) {
	for i, rule := range e.rules {
		rule.Tick(now, e.recorders[i])
	}
	e.jointTick(now)
}

// waiter is a rule that holds candidates until a later tick decides them.
type waiter interface {
	pending() int
}

// Pending is the number of decisions the rules still owe: exchanges not yet looked
// at, deferred joint decisions and rules' waiting candidates. Zero means every
// finding the input so far causes has been reported. It runs on the tracker goroutine.
func (e *Engine) Pending() int {
	n := 0
	for _, rule := range e.rules {
		if w, ok := rule.(waiter); ok {
			n += w.pending()
		}
	}
	if j := e.joint; j != nil {
		j.mu.Lock()
		n += len(j.incoming)
		j.mu.Unlock()
		n += len(j.fresh) + len(j.pending)
	}
	// Replays deferred under load, and what they found until Drain takes it.
	n += e.traffic.pending()
	e.mu.Lock()
	n += len(e.dirty)
	e.mu.Unlock()
	return n
}

// Drain returns copies of the findings created or updated since the last Drain, in a
// stable order, for publishing.
func (e *Engine) Drain() []*model.Finding {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.dirty) == 0 {
		return nil
	}
	out := make([]*model.Finding, 0, len(e.dirty))
	for id := range e.dirty {
		f := *e.findings[id]
		f.Sessions = append([]string(nil), f.Sessions...)
		f.Evidence = append([]string(nil), f.Evidence...)
		f.Exchanges = append([]string(nil), f.Exchanges...)
		f.Events = append([]uint64(nil), f.Events...)
		out = append(out, &f)
	}
	clear(e.dirty)
	sort.Slice(out, func(i, j int) bool { return oldestFirst(out[i], out[j]) })
	return out
}

// Published records the seq a finding was last published with, so that Findings
// reports the same seq as the stream did.
func (e *Engine) Published(id string, seq uint64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if f := e.findings[id]; f != nil {
		f.Seq = seq
	}
}

// Findings returns a copy of every finding, oldest first.
func (e *Engine) Findings() []model.Finding {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]model.Finding, 0, len(e.findings))
	for _, f := range e.findings {
		c := *f
		c.Sessions = append([]string(nil), f.Sessions...)
		c.Evidence = append([]string(nil), f.Evidence...)
		c.Exchanges = append([]string(nil), f.Exchanges...)
		c.Events = append([]uint64(nil), f.Events...)
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return oldestFirst(&out[i], &out[j]) })
	return out
}

// Clear forgets every finding and returns how many there were. The HTTP-side rules
// also forget the exchanges they replay (each browser's kept history): otherwise the
// next replay would count the occurrences from before Clear again. So a cause that
// occurs again is reported as a new finding, counted from its new occurrence. The
// traffic's locks are taken first, as a deferred replay holding them reaches into the
// engine.
func (e *Engine) Clear() int {
	e.traffic.forgetAll()
	e.mu.Lock()
	defer e.mu.Unlock()
	n := len(e.findings)
	clear(e.findings)
	clear(e.dirty)
	return n
}

// oldestFirst orders findings by first sighting, then by id: findings first seen on
// the same exchange come out in the same order every time.
func oldestFirst(a, b *model.Finding) bool {
	if !a.FirstSeen.Equal(b.FirstSeen) {
		return a.FirstSeen.Before(b.FirstSeen)
	}
	return a.ID < b.ID
}

// Recorder is how a rule reports. It is bound to one rule.
type Recorder struct {
	e    *Engine
	rule string
}

// Report describes one occurrence of a cause.
type Report struct {
	Cause    string // what makes two occurrences the same finding
	Severity model.Severity
	Title    string
	Detail   string
	Fix      string
	Session  string // ref, may be empty
	Event    uint64 // seq, may be 0
	Exchange string // exchange id, may be empty
	Evidence string
	Time     time.Time
	// Sessions and Exchanges are more session refs and exchange ids the occurrence
	// concerns: an HTTP-side finding lists the sessions its exchanges carried, so the
	// session's page shows it.
	Sessions  []string
	Exchanges []string
}

// Report creates the finding for the cause or updates it.
func (r *Recorder) Report(rep Report) {
	e := r.e
	e.mu.Lock()
	defer e.mu.Unlock()
	id := findingID(r.rule, rep.Cause)
	f, ok := e.findings[id]
	if !ok {
		f = &model.Finding{Type: model.TypeFinding, ID: id, Rule: r.rule, Severity: rep.Severity,
			Title: rep.Title, Detail: rep.Detail, Fix: rep.Fix, FirstSeen: rep.Time,
			Sessions: []string{}, Exchanges: []string{}, Evidence: []string{}}
		e.findings[id] = f
	}
	f.Count++
	f.Time = rep.Time
	f.LastSeen = rep.Time
	if rep.Detail != "" {
		f.Detail = rep.Detail
	}
	for _, s := range append([]string{rep.Session}, rep.Sessions...) {
		if s != "" && len(f.Sessions) < maxSampleSessions && !slices.Contains(f.Sessions, s) {
			f.Sessions = append(f.Sessions, s)
		}
	}
	if rep.Event != 0 && len(f.Events) < maxSampleSessions {
		f.Events = append(f.Events, rep.Event)
	}
	for _, x := range append([]string{rep.Exchange}, rep.Exchanges...) {
		if x != "" && len(f.Exchanges) < maxSampleSessions && !slices.Contains(f.Exchanges, x) {
			f.Exchanges = append(f.Exchanges, x)
		}
	}
	if rep.Evidence != "" && len(f.Evidence) < maxEvidence {
		f.Evidence = append(f.Evidence, rep.Evidence)
	}
	e.dirty[id] = true
}

func findingID(rule, cause string) string {
	sum := sha256.Sum256([]byte(rule + "\x00" + cause))
	return rule + "-" + hex.EncodeToString(sum[:4])
}
