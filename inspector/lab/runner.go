package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// maxKeptRuns bounds the finished runs kept for Get and Last.
const maxKeptRuns = 64

// settleTimeout bounds how long a run waits for the inspector to settle after the
// script; past it the run ends in error rather than hang.
const settleTimeout = 60 * time.Second

// User-Agents of the virtual browser's actors. Each run appends its id, so the
// inspector's HTTP rules (which follow a browser by address and User-Agent) see every
// run's browsers as new ones: an earlier run's cookies and findings cannot leak in.
const (
	victimUA   = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
	attackerUA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:127.0) Gecko/20100101 Firefox/127.0"
)

// thinkTime is the pause before each scripted action: a person reading the page
// before clicking.
const thinkTime = 100 * time.Millisecond

// attackerIP is the attacker's source address: another loopback address, which the
// lab app's fingerprint check and sessionscope's hijack rules tell from 127.0.0.1.
const attackerIP = "127.0.0.2"

type runner struct {
	env *environment

	mu      sync.Mutex
	n       int
	current *Run
	done    []Run   // newest last, at most maxKeptRuns
	batch   *Batch  // the Run all in progress: single runs wait for it
	batches []Batch // finished batches, newest last, at most maxKeptBatches
	nBatch  int
	stopped bool
	active  sync.WaitGroup
	ctx     context.Context
	cancel  context.CancelFunc
}

func newRunner(e *environment) *runner {
	ctx, cancel := context.WithCancel(context.Background())
	return &runner{env: e, ctx: ctx, cancel: cancel}
}

// stop cancels a run in progress and waits for it.
func (r *runner) stop() {
	r.mu.Lock()
	r.stopped = true
	r.mu.Unlock()
	r.cancel()
	r.active.Wait()
}

// begin validates the request and marks a run as in progress. While a batch runs only
// the batch (fromBatch) may begin runs.
func (r *runner) begin(id string, fixed, fromBatch bool) (definition, *Run, error) {
	d, ok := definitionOf(id)
	if !ok {
		return definition{}, nil, fmt.Errorf("lab run %q: %w", id, ErrUnknownScenario)
	}
	if d.NeedsRedis && !r.env.redis {
		return definition{}, nil, fmt.Errorf("lab run %q: %w", id, ErrNeedsRedis)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return definition{}, nil, errors.New("lab run: the lab is shutting down")
	}
	if r.current != nil {
		return definition{}, nil, fmt.Errorf("lab run %q: %w (%s)", id, ErrBusy, r.current.Scenario)
	}
	if r.batch != nil && !fromBatch {
		return definition{}, nil, fmt.Errorf("lab run %q: %w (Run all)", id, ErrBusy)
	}
	r.n++
	run := &Run{ID: "run-" + strconv.Itoa(r.n), Scenario: id, Fixed: fixed, State: RunRunning, Started: time.Now(),
		Steps: []Step{}, Findings: []model.Finding{}, Exchanges: []string{}, Events: []uint64{}}
	r.current = run
	r.active.Add(1)
	return d, run, nil
}

// Start begins a run and returns at once; Current and Get follow it.
func (r *Runner) Start(id string, fixed bool) (Run, error) {
	d, run, err := r.r.begin(id, fixed, false)
	if err != nil {
		return Run{}, err
	}
	snapshot := r.r.snapshot(run)
	go r.r.execute(r.r.ctx, d, run)
	return snapshot, nil
}

// Run runs a scenario and returns the finished run. It fails with ErrBusy while
// another run is in progress, ErrUnknownScenario and ErrNeedsRedis; a run that could
// not be carried out is returned with State RunError.
func (r *Runner) Run(ctx context.Context, id string, fixed bool) (Run, error) {
	d, run, err := r.r.begin(id, fixed, false)
	if err != nil {
		return Run{}, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(r.r.ctx, cancel)
	defer stop()
	r.r.execute(ctx, d, run)
	got, _ := r.Get(run.ID)
	return got, nil
}

// Current returns the run in progress.
func (r *Runner) Current() (Run, bool) {
	r.r.mu.Lock()
	defer r.r.mu.Unlock()
	if r.r.current == nil {
		return Run{}, false
	}
	return copyRun(*r.r.current), true
}

// Get returns a run in progress or kept.
func (r *Runner) Get(runID string) (Run, bool) {
	r.r.mu.Lock()
	defer r.r.mu.Unlock()
	if c := r.r.current; c != nil && c.ID == runID {
		return copyRun(*c), true
	}
	for i := len(r.r.done) - 1; i >= 0; i-- {
		if r.r.done[i].ID == runID {
			return copyRun(r.r.done[i]), true
		}
	}
	return Run{}, false
}

// Last returns the latest finished run of a scenario, broken or fixed.
func (r *Runner) Last(scenario string, fixed bool) (Run, bool) {
	r.r.mu.Lock()
	defer r.r.mu.Unlock()
	for i := len(r.r.done) - 1; i >= 0; i-- {
		if d := r.r.done[i]; d.Scenario == scenario && d.Fixed == fixed {
			return copyRun(d), true
		}
	}
	return Run{}, false
}

func (r *runner) snapshot(run *Run) Run {
	r.mu.Lock()
	defer r.mu.Unlock()
	return copyRun(*run)
}

func copyRun(run Run) Run {
	run.Steps = slices.Clone(run.Steps)
	run.Findings = slices.Clone(run.Findings)
	run.Exchanges = slices.Clone(run.Exchanges)
	run.Events = slices.Clone(run.Events)
	run.Missing = slices.Clone(run.Missing)
	run.Unexpected = slices.Clone(run.Unexpected)
	run.MissingEvents = slices.Clone(run.MissingEvents)
	return run
}

// collector keeps what the inspector emitted during a run.
type collector struct {
	mu      sync.Mutex
	objects []model.Object
	lastSeq uint64
}

// execute drives the scenario, waits for the inspector to settle and judges the run.
func (r *runner) execute(ctx context.Context, d definition, run *Run) {
	defer r.active.Done()
	e := r.env
	sub := e.in.Subscribe(1 << 15)
	startSeq := e.in.Seq()
	col := &collector{}
	consumed := make(chan struct{})
	go func() {
		defer close(consumed)
		for o := range sub.C() {
			col.mu.Lock()
			col.objects = append(col.objects, o)
			col.lastSeq = max(col.lastSeq, o.ObjectSeq())
			col.mu.Unlock()
		}
	}()
	defer func() { sub.Cancel(); <-consumed }()

	e.app.configure(d, run.Fixed)
	victimAgent := victimUA + " sessionscope-lab/" + run.ID
	attackerAgent := attackerUA + " sessionscope-lab/" + run.ID
	if d.attackerSameUA {
		attackerAgent = victimAgent
	}
	// The proxy's count is the lab's since it started; the run waits for its own share.
	publishedBefore := e.published.Load()
	var proxied int64
	record := func(s Step) {
		r.mu.Lock()
		defer r.mu.Unlock()
		run.Steps = append(run.Steps, s)
		// Only requests through the proxy count: not the attacker's own site, and not
		// the script's notes (a skipped optional action records a step with no URL).
		if s.rawURL != "" && hostOf(s.rawURL) != hostEvil {
			proxied++
		}
	}
	victim := newBrowser(ActorVictim, victimAgent, "", e.clock, record)
	attacker := newBrowser(ActorAttacker, attackerAgent, attackerIP, e.clock, record)
	defer victim.close()
	defer attacker.close()

	err := r.play(ctx, d.script, victim, attacker, record)
	if err == nil {
		r.mu.Lock()
		want := publishedBefore + proxied
		r.mu.Unlock()
		err = r.settle(ctx, want, col)
	}
	r.finish(d, run, col, startSeq, []string{victimAgent, attackerAgent}, err)
}

// play runs the script.
func (r *runner) play(ctx context.Context, script []Action, victim, attacker *browser, record func(Step)) error {
	for i, a := range script {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("lab run stopped at step %d: %w", i+1, err)
		}
		b := victim
		if a.Actor == ActorAttacker {
			b = attacker
		}
		// Real time even on a virtual clock: the inspector correlates on the wall clock.
		if err := pause(ctx, thinkTime); err != nil {
			return fmt.Errorf("lab run stopped at step %d: %w", i+1, err)
		}
		var err error
		switch a.Do {
		case DoOpen:
			u := &url.URL{Scheme: "http", Host: hostPort(a.Host, r.env.portFor(a.Host)), Path: a.Path}
			err = b.open(ctx, u)
		case DoClick:
			if a.Optional && !b.hasLink(a.Link) {
				record(Step{Time: time.Now(), Actor: a.Actor, Text: "no link " + a.Link + " on this page: skipped"})
				continue
			}
			err = b.click(ctx, a.Link)
		case DoSubmit:
			if a.Optional && !b.hasForm(a.Form) {
				record(Step{Time: time.Now(), Actor: a.Actor, Text: "no form " + a.Form + " on this page: skipped"})
				continue
			}
			err = b.submit(ctx, a.Form, a.Fields)
		case DoWait:
			record(Step{Time: time.Now(), Actor: a.Actor, Text: "wait " + a.Wait.String() + ": " + a.Note})
			err = r.env.clock.Pass(ctx, a.Wait)
		case DoSteal:
			var got bool
			got, err = b.stealFrom(victim, a.Cookie)
			text := "read document.cookie in the victim's page: " + a.Cookie + " copied into the attacker's browser"
			if !got {
				text = "read document.cookie in the victim's page: " + a.Cookie + " is HttpOnly (or absent), nothing to copy"
			}
			record(Step{Time: time.Now(), Actor: a.Actor, Text: text})
		default:
			err = fmt.Errorf("unknown action %q", a.Do)
		}
		if err != nil {
			return fmt.Errorf("step %d (%s %s): %w", i+1, a.Actor, a.Do, err)
		}
	}
	return nil
}

// settle waits until the inspector has turned everything the run caused into events
// and findings: the app has no write or fill still to land, the proxy's published
// count has reached proxied (the count before the run plus the run's requests), and the inspector reports Settled — continuously for a
// correlation window or more, so that store notifications still on their way from a
// Redis are not missed. Then it waits for the run's subscription to catch up.
func (r *runner) settle(ctx context.Context, proxied int64, col *collector) error {
	e := r.env
	window := e.cfg.Inspector.Tracker.Window
	if window <= 0 {
		window = model.DefaultWindow
	}
	confirm := max(2*window, 200*time.Millisecond)
	ctx, cancel := context.WithTimeout(ctx, settleTimeout)
	defer cancel()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	var quietSince time.Time
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("the inspector did not settle after the run: %w", ctx.Err())
		case now := <-tick.C:
			ok := e.app.quiet() && e.published.Load() >= proxied
			if ok {
				settled, err := e.in.Settled(ctx)
				if err != nil {
					return fmt.Errorf("ask the inspector whether it settled: %w", err)
				}
				ok = settled
			}
			switch {
			case !ok:
				quietSince = time.Time{}
			case quietSince.IsZero():
				quietSince = now
			case now.Sub(quietSince) >= confirm:
				target := e.in.Seq()
				for {
					col.mu.Lock()
					caught := col.lastSeq >= target
					col.mu.Unlock()
					if caught {
						return nil
					}
					select {
					case <-ctx.Done():
						return fmt.Errorf("the run's subscription did not catch up: %w", ctx.Err())
					case <-tick.C:
					}
				}
			}
		}
	}
}

// finish sorts what the run produced from what other traffic did, judges it and
// files the run.
func (r *runner) finish(d definition, run *Run, col *collector, startSeq uint64, agents []string, runErr error) {
	col.mu.Lock()
	objects := slices.Clone(col.objects)
	col.mu.Unlock()

	ours := map[string]bool{}
	for _, a := range agents {
		ours[a] = true
	}
	exchanges := map[string]*model.Exchange{}
	var exchangeOrder []*model.Exchange
	refs := map[string]bool{}
	for _, o := range objects {
		x, ok := o.(*model.Exchange)
		if !ok || !ours[x.Client.UA] || x.Seq <= startSeq {
			continue
		}
		if exchanges[x.ID] == nil {
			exchangeOrder = append(exchangeOrder, x)
		}
		exchanges[x.ID] = x
		for _, ref := range exchangeSessionRefs(x) {
			refs[ref] = true
		}
	}
	var events []*model.Event
	for _, o := range objects {
		ev, ok := o.(*model.Event)
		if !ok || ev.Session == nil || ev.Seq <= startSeq {
			continue
		}
		if exchanges[ev.Exchange] != nil || refs[ev.Session.Ref] || ev.From != nil && refs[ev.From.Ref] {
			events = append(events, ev)
		}
	}
	latest := map[string]model.Finding{}
	for _, o := range objects {
		f, ok := o.(*model.Finding)
		if !ok || f.Seq <= startSeq || !findingOfRun(f, exchanges, refs, run.Started) {
			continue
		}
		latest[f.ID] = *f
	}
	findings := make([]model.Finding, 0, len(latest))
	for _, f := range latest {
		findings = append(findings, f)
	}
	sort.Slice(findings, func(i, j int) bool {
		if !findings[i].FirstSeen.Equal(findings[j].FirstSeen) {
			return findings[i].FirstSeen.Before(findings[j].FirstSeen)
		}
		return findings[i].ID < findings[j].ID
	})

	r.mu.Lock()
	defer r.mu.Unlock()
	assignExchanges(run.Steps, exchangeOrder, agents)
	run.Findings = findings
	run.Exchanges = run.Exchanges[:0]
	for _, x := range exchangeOrder {
		run.Exchanges = append(run.Exchanges, x.ID)
	}
	run.Events = run.Events[:0]
	for _, ev := range events {
		run.Events = append(run.Events, ev.Seq)
	}
	judge(d, run, findings, events)
	if runErr != nil {
		run.State, run.Err = RunError, runErr.Error()
	}
	run.Ended = time.Now()
	r.done = append(r.done, copyRun(*run))
	if len(r.done) > maxKeptRuns {
		r.done = slices.Delete(r.done, 0, len(r.done)-maxKeptRuns)
	}
	r.current = nil
}

// findingOfRun tells whether a finding emitted during the run is about the run. A
// finding names a bounded sample of its exchanges and sessions: when the sample
// holds one of the run's it is; when the sample is full (the finding is older than
// the run and kept growing) the finding counts if it was last seen during the run.
func findingOfRun(f *model.Finding, exchanges map[string]*model.Exchange, refs map[string]bool, started time.Time) bool {
	for _, id := range f.Exchanges {
		if exchanges[id] != nil {
			return true
		}
	}
	for _, ref := range f.Sessions {
		if refs[ref] {
			return true
		}
	}
	const sample = 20 // diagnose's bound on a finding's sessions and exchanges
	full := len(f.Exchanges) >= sample || len(f.Sessions) >= sample || len(f.Exchanges) == 0 && len(f.Sessions) == 0
	return full && !f.LastSeen.Before(started)
}

// exchangeSessionRefs are the sessions an exchange carried or was given.
func exchangeSessionRefs(x *model.Exchange) []string {
	var refs []string
	if x.SessionRef != "" {
		refs = append(refs, x.SessionRef)
	}
	for _, c := range x.CookiesSent {
		if c.SessionRef != "" {
			refs = append(refs, c.SessionRef)
		}
	}
	for _, c := range x.SetCookies {
		if c.SessionRef != "" {
			refs = append(refs, c.SessionRef)
		}
	}
	return refs
}

// assignExchanges pairs each proxied step with the proxy's exchange for it: the
// browsers' requests are sequential, so the first unpaired exchange with the step's
// method, URL and actor is its own.
func assignExchanges(steps []Step, xs []*model.Exchange, agents []string) {
	used := map[string]bool{}
	for i := range steps {
		s := &steps[i]
		if s.rawURL == "" {
			continue
		}
		for _, x := range xs {
			if used[x.ID] || x.Method != s.method || x.RawURL != s.rawURL {
				continue
			}
			if (s.Actor == ActorVictim) != (x.Client.UA == agents[0]) && agents[0] != agents[1] {
				continue
			}
			used[x.ID] = true
			s.Exchange = x.ID
			break
		}
	}
}

// judge compares what the run produced with what the scenario expects.
func judge(d definition, run *Run, findings []model.Finding, events []*model.Event) {
	found := map[string]bool{}
	for _, f := range findings {
		found[f.Rule] = true
	}
	run.Missing, run.Unexpected, run.MissingEvents = []string{}, []string{}, []string{}
	expected := map[string]bool{}
	for _, id := range d.Expected {
		expected[id] = true
	}
	if run.Fixed {
		for rule := range found {
			run.Unexpected = append(run.Unexpected, rule)
		}
		sort.Strings(run.Unexpected)
		run.State = RunPassed
		for _, rule := range d.Expected {
			if found[rule] {
				run.State = RunFailed
			}
		}
		return
	}
	for _, rule := range d.Expected {
		if !found[rule] {
			run.Missing = append(run.Missing, rule)
		}
	}
	for rule := range found {
		if !expected[rule] {
			run.Unexpected = append(run.Unexpected, rule)
		}
	}
	sort.Strings(run.Unexpected)
	for _, spec := range d.Events {
		kind, cause, err := parseEventSpec(spec)
		seen := false
		for _, ev := range events {
			if err == nil && eventMatches(ev, kind, cause) {
				seen = true
				break
			}
		}
		if !seen {
			run.MissingEvents = append(run.MissingEvents, spec)
		}
	}
	run.State = RunPassed
	if len(run.Missing)+len(run.Unexpected)+len(run.MissingEvents) > 0 {
		run.State = RunFailed
	}
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

func hostPort(host, port string) string { return net.JoinHostPort(host, port) }
