// Package inspector is sessionscope's domain: it wires a watched store to the tracker,
// the diagnosis rules and the subscribers. It knows nothing of the web; the CLI and the
// dashboard consume it through Subscribe and its queries.
package inspector

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/sessionscope/sessionscope/inspector/backend"
	"github.com/sessionscope/sessionscope/inspector/diagnose"
	"github.com/sessionscope/sessionscope/inspector/export"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/history"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/stream"
	"github.com/sessionscope/sessionscope/inspector/tracker"
)

// DefaultQueueSize is the raw event queue between the store's subscription reader and
// the tracker. It absorbs bursts so that nothing is dropped while the tracker catches
// up: at the ~220,000 notifications/s a 2-core machine sustains it holds two seconds,
// in about 40 MB (an event is 64 bytes plus its key).
const DefaultQueueSize = 1 << 19

// Config assembles an Inspector.
type Config struct {
	Tracker   tracker.Config
	QueueSize int // raw event queue capacity; default DefaultQueueSize
	// ExchangeLog is how many exchanges are kept for Exchanges; default DefaultExchangeLog.
	ExchangeLog int
	// Cookies are custom session cookie names (--session-cookie), added to the builtin table.
	Cookies []framework.CookieMapping
	// LoginPaths name the app's login pages (--login-path) for the login-loop rule,
	// besides the pages it recognises by their path or their password input.
	LoginPaths []string
	// HARBudget is the memory, in bytes, all kept HAR imports may hold together
	// (--har-budget); the oldest are dropped first. Default DefaultHARBudget.
	HARBudget int64
	// History records every published event, exchange and finding to a file (nil:
	// none). The inspector only appends and queries; the caller opens and closes it.
	History *history.Store
	// Export sends every published event, exchange and finding as an OTLP log record
	// (nil: none). Like History, the caller opens and closes it.
	Export *export.Exporter
}

// Inspector watches one store.
type Inspector struct {
	cfg       Config
	store     backend.Store
	broadcast *stream.Broadcaster
	rules     *diagnose.Engine // every rule, and the one store of findings
	tracker   *tracker.Tracker
	exchanges *exchangeLog
	imports   harImports
	counts    *counters // what Metrics reports beyond the tracker's Stats
	archive   archive   // the durable sinks every published object also goes to
	proxy     atomic.Pointer[model.ProxyInfo]
}

// New builds an inspector over store.
func New(store backend.Store, cfg Config) *Inspector {
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	cfg.Tracker.Backend = store.Name()
	broadcast := stream.NewBroadcaster()
	rules := diagnose.NewEngine(diagnose.Config{Window: cfg.Tracker.Window, Cookies: cfg.Cookies, Redact: cfg.Tracker.Redact,
		LoginPaths: cfg.LoginPaths})
	counts := &counters{}
	arch := archive{history: cfg.History, export: cfg.Export}
	return &Inspector{
		cfg:       cfg,
		store:     store,
		broadcast: broadcast,
		rules:     rules,
		tracker:   tracker.New(cfg.Tracker, store, archivingPublisher{countingPublisher{broadcast, counts}, arch}, rules),
		exchanges: newExchangeLog(cfg.ExchangeLog),
		counts:    counts,
		archive:   arch,
	}
}

// Subscribe returns a bounded subscription to every emitted object. Subscribe before
// Run to see the first status objects.
func (in *Inspector) Subscribe(capacity int) *stream.Subscription {
	return in.broadcast.Subscribe(capacity)
}

// PublishExchange hands an HTTP exchange (from the reverse proxy) to the stream, with
// the process-wide sequence number. It never blocks, and never waits for a full
// replay of the HTTP-side rules under load: the findings an exchange changes are
// published right after it when its client could be replayed at once, else with the
// tracker's next round of findings, once the rules' worker has replayed it.
func (in *Inspector) PublishExchange(x *model.Exchange) {
	in.counts.exchanges.Add(1)
	annotated, changed := in.rules.ObserveExchange(x)
	in.broadcast.Publish(annotated)
	// Only proxied exchanges are archived: a HAR import is a separate analysis,
	// kept apart from the live stream and never published.
	in.archive.record(annotated)
	in.exchanges.add(annotated)
	in.rules.OnExchange(annotated)
	for _, f := range changed {
		in.broadcast.Publish(f)
		in.archive.record(f)
		in.rules.Published(f.ID, f.Seq)
	}
}

// Settled reports whether everything the store and the proxy delivered so far has
// been turned into events and findings: nothing is queued or waiting in the
// correlation window, and no rule owes a decision. Exchanges handed to
// PublishExchange before the call are included. It blocks until Run is running.
func (in *Inspector) Settled(ctx context.Context) (bool, error) { return in.tracker.Idle(ctx) }

// Findings returns every finding so far, store side and HTTP side, oldest first.
func (in *Inspector) Findings() []model.Finding { return in.rules.Findings() }

// Stats returns the tracker's live counters.
func (in *Inspector) Stats() *tracker.Stats { return in.tracker.Stats() }

// SessionCount is the number of tracked sessions.
func (in *Inspector) SessionCount() int { return in.tracker.SessionCount() }

// Sessions runs a query over the session table (search, sort, cursor paging).
func (in *Inspector) Sessions(q tracker.Query) (tracker.Page, error) { return in.tracker.Sessions(q) }

// Session returns one tracked session by ref; the error wraps tracker.ErrNotFound when
// no tracked session has it (it may have ended: its events are still in Since).
func (in *Inspector) Session(ref string) (tracker.SessionDetail, error) {
	return in.tracker.Session(ref)
}

// Since returns the recent objects after seq from the ring; complete is false when
// the consumer is too far behind and must refresh its whole view.
func (in *Inspector) Since(after uint64, limit int) ([]model.Object, bool) {
	return in.broadcast.Since(after, limit)
}

// Seq is the last sequence number handed out.
func (in *Inspector) Seq() uint64 { return in.broadcast.Seq() }

// BackendStatus describes the watched store for status screens.
type BackendStatus struct {
	Name       string       // backend id: redis, memory, files
	Describe   string       // where, with secrets hidden
	Mode       string       // how changes are seen: model.ModeNotify or model.ModePoll
	Last       model.Status // the latest status object
	ReadBudget float64      // payload reads per second allowed; negative means unlimited
	Reads      int64
	Denied     int64 // reads skipped because the budget was spent
	Dropped    int64
	Gaps       int64
	RawEvents  int64
	Emitted    int64
	Sessions   int
	Proxy      *model.ProxyInfo // the capturing proxy feeding PublishExchange; nil: none runs
}

// Status summarises the backend and the tracker's counters.
func (in *Inspector) Status() BackendStatus {
	st := in.tracker.Stats()
	last := in.tracker.LastStatus()
	mode := model.ModeNotify
	if last.Mode == model.ModePoll {
		mode = model.ModePoll
	}
	return BackendStatus{
		Name: in.store.Name(), Describe: in.store.Describe(), Mode: mode,
		Last: last, ReadBudget: in.tracker.ReadBudget(),
		Reads: st.Reads.Load(), Denied: st.BudgetDenied.Load(), Dropped: st.Dropped.Load(),
		Gaps: st.Gaps.Load(), RawEvents: st.RawEvents.Load(), Emitted: st.Emitted.Load(),
		Sessions: in.tracker.SessionCount(), Proxy: in.proxy.Load(),
	}
}

// SetProxy tells the status which proxy feeds PublishExchange, once it is bound.
func (in *Inspector) SetProxy(info model.ProxyInfo) { in.proxy.Store(&info) }

// Run watches the store until ctx ends. It returns the store's error if the store
// stops on its own; a cancelled ctx is a clean stop and returns nil.
func (in *Inspector) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	feed := backend.NewFeed(in.cfg.QueueSize)
	if in.cfg.History != nil {
		// The history yields to the live stream: while the raw queue is backed up, its
		// writer sheds into a history gap and leaves the CPU to the tracker.
		backlog := newBacklogGauge(feed.RawLen, in.cfg.QueueSize)
		in.cfg.History.SetBusy(backlog.busy)
		// The feed is abandoned with the run, and a backlog it still counts would keep
		// the history paused; Close writes whatever is still queued.
		defer in.cfg.History.SetBusy(nil)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = in.tracker.Run(ctx, feed)
	}()
	err := in.store.Run(ctx, feed)
	if err != nil && !errors.Is(err, context.Canceled) {
		cancel()
		wg.Wait()
		return err
	}
	<-ctx.Done()
	wg.Wait()
	return nil
}

// The history pauses when the raw queue is a quarter full and resumes once it is
// down to a sixteenth. A quarter leaves three quarters of the queue (about 1.8 s of
// notifications at 220,000/s with DefaultQueueSize) before the live stream drops
// anything, while a backlog that small still comes from a burst the tracker absorbs
// alone; past it the backlog is growing, and the history writer, which costs more
// CPU per object than the tracker, is what competes with it. Resuming only at a
// sixteenth makes the tracker work off 3/16 of the queue (about 100,000 events at
// the default) between a pause and the next: each pause is one history gap, so a
// backlog hovering at one threshold would otherwise record a gap per batch.
const (
	historyPauseAbove  = 4  // pause when the backlog exceeds capacity / historyPauseAbove
	historyResumeBelow = 16 // resume when it is below capacity / historyResumeBelow
)

// backlogGauge says whether the raw queue's backlog is high enough that the history
// must yield, with hysteresis between its two thresholds.
type backlogGauge struct {
	backlog       func() int
	pause, resume int
	busyNow       atomic.Bool // atomic: nothing promises busy is called from one goroutine only
}

func newBacklogGauge(backlog func() int, capacity int) *backlogGauge {
	return &backlogGauge{backlog: backlog,
		pause:  max(capacity/historyPauseAbove, 1),
		resume: capacity / historyResumeBelow}
}

// busy reports whether the history must pause. It costs two atomic loads and a
// channel length: the history writer calls it once per batch.
func (g *backlogGauge) busy() bool {
	n := g.backlog()
	switch {
	case n > g.pause:
		g.busyNow.Store(true)
	case n < g.resume || n == 0:
		g.busyNow.Store(false)
	}
	return g.busyNow.Load()
}
