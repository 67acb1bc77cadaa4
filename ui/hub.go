package ui

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/sessionscope/sessionscope/handlers"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// HubOptions tune the websocket hub; zero fields take the defaults.
type HubOptions struct {
	Interval     time.Duration // how often pending objects are pushed (default 100 ms: ≤10 pushes/s)
	QueueSize    int           // messages queued per client (default 64)
	WriteTimeout time.Duration // one message write (default 5 s)
	PingInterval time.Duration // keep-alive pings (default 15 s)
	StallTimeout time.Duration // a client whose queue stays full this long is closed with 1008 (default 10 s)
	MaxBatch     int           // objects per message (default 1000)
	MaxPending   int           // objects per interval before the oldest are skipped for everyone (default 5000)
	SubCapacity  int           // the hub's subscription queue (default 65536)
}

func (o HubOptions) withDefaults() HubOptions {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	defInt := func(n *int, v int) {
		if *n <= 0 {
			*n = v
		}
	}
	def(&o.Interval, 100*time.Millisecond)
	def(&o.WriteTimeout, 5*time.Second)
	def(&o.PingInterval, 15*time.Second)
	def(&o.StallTimeout, 10*time.Second)
	defInt(&o.QueueSize, 64)
	defInt(&o.MaxBatch, 1000)
	defInt(&o.MaxPending, 5000)
	defInt(&o.SubCapacity, 1<<16)
	return o
}

// Websocket message types.
const (
	msgBatch   = "batch"   // objects and counters
	msgSkipped = "skipped" // the client missed count objects: refetch the view
	msgRefresh = "refresh" // the resume point left the ring: reload the view
)

// wireMsg is every message the hub sends.
type wireMsg struct {
	Type     string             `json:"type"`
	Seq      uint64             `json:"seq"`
	Objects  []model.Object     `json:"objects,omitempty"`
	Counters *handlers.Counters `json:"counters,omitempty"`
	Count    int                `json:"count,omitempty"`
}

// outMsg is one queued message. Batches are shared by every client: marshalled to JSON
// once, and rendered once per kind of page (pages); minSeq/maxSeq let a client that
// resumed from the ring skip objects it already has.
type outMsg struct {
	typ      string         // msgBatch or msgSkipped
	data     []byte         // the JSON message
	objs     []model.Object // batches only
	counters *handlers.Counters
	seq      uint64 // the seq the message brings a client to
	minSeq   uint64 // 0: not a batch of objects; always written
	maxSeq   uint64

	mu    sync.Mutex
	pages map[string][]byte // PageStream.Key -> the batch rendered for it
}

// page is the batch rendered for a page's stream, rendered by the first client that
// needs it and shared with every client whose stream has the same key.
func (m *outMsg) page(s handlers.PageStream) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if data, ok := m.pages[s.Key()]; ok {
		return data, nil
	}
	data, err := s.Batch(m.seq, m.objs, m.counters)
	if err != nil {
		return nil, err
	}
	if m.pages == nil {
		m.pages = map[string][]byte{}
	}
	m.pages[s.Key()] = data
	return data, nil
}

// clientConn is the part of a websocket the hub uses; tests substitute a client that
// never reads.
type clientConn interface {
	Write(ctx context.Context, data []byte) error
	Ping(ctx context.Context) error
	Close(code websocket.StatusCode, reason string) error
}

type wsConn struct{ c *websocket.Conn }

func (w wsConn) Write(ctx context.Context, data []byte) error {
	return w.c.Write(ctx, websocket.MessageText, data)
}
func (w wsConn) Ping(ctx context.Context) error { return w.c.Ping(ctx) }
func (w wsConn) Close(code websocket.StatusCode, reason string) error {
	return w.c.Close(code, reason)
}

type client struct {
	q    chan *outMsg
	kick chan struct{} // closed by the hub when the client stayed stalled
	once sync.Once
	// stop cancels the client's context, so a write blocked on a stalled page
	// returns at once instead of at its timeout.
	stop context.CancelCauseFunc

	// Owned by the hub goroutine.
	skipped    int
	stallSince time.Time
}

// errStalled is the cause of a client's context when it was closed for being too slow.
var errStalled = errors.New("client stalled: its queue stayed full")

func (c *client) kickOut() {
	c.once.Do(func() {
		close(c.kick)
		if c.stop != nil {
			c.stop(errStalled)
		}
	})
}

// Hub fans the Source's objects out to websocket clients. It reads one subscription
// and never blocks on a client: each client has a bounded queue, and a client that
// cannot keep up is told what it missed (skipped) or closed with 1008.
type Hub struct {
	src     handlers.Source
	log     *slog.Logger
	opts    HubOptions
	running atomic.Bool
	stopped chan struct{}

	mu      sync.Mutex
	clients map[*client]struct{}
	nClient atomic.Int64

	counters atomic.Pointer[handlers.Counters]
	subDrops atomic.Int64 // objects the hub's own subscription lost (tests check ingestion)

	// Owned by the Run goroutine.
	window   rateWindow
	findings map[string]struct{}
	lastSeq  uint64
}

// NewHub returns a hub over src; call Run to start it.
func NewHub(src handlers.Source, log *slog.Logger, opts HubOptions) *Hub {
	if log == nil {
		log = slog.Default()
	}
	h := &Hub{src: src, log: log, opts: opts.withDefaults(), clients: map[*client]struct{}{},
		findings: map[string]struct{}{}, stopped: make(chan struct{})}
	h.counters.Store(&handlers.Counters{Rate: make([]int, 60)})
	return h
}

// Running reports whether Run is consuming the Source.
func (h *Hub) Running() bool { return h.running.Load() }

// Clients is the number of connected websockets.
func (h *Hub) Clients() int { return int(h.nClient.Load()) }

// Counters returns the latest rolling counters.
func (h *Hub) Counters() handlers.Counters {
	c := *h.counters.Load()
	c.Rate = append([]int(nil), c.Rate...)
	c.Clients = h.Clients()
	return c
}

// Run consumes the Source until ctx ends, then closes every client.
func (h *Hub) Run(ctx context.Context) {
	sub := h.src.Subscribe(h.opts.SubCapacity)
	h.lastSeq = h.src.Seq()
	for _, f := range h.src.Findings() {
		h.findings[f.ID] = struct{}{}
	}
	h.running.Store(true)
	defer func() {
		h.running.Store(false)
		sub.Cancel()
		close(h.stopped)
	}()
	tick := time.NewTicker(h.opts.Interval)
	defer tick.Stop()
	var pending []model.Object
	skippedAll := 0
	lastPush := time.Time{}
	lastStatus := time.Time{}
	var lastReads int64
	var readsPerSec float64
	st := h.src.Status()
	for {
		select {
		case <-ctx.Done():
			return
		case o, ok := <-sub.C():
			if !ok {
				return
			}
			h.observe(o, time.Now())
			pending = append(pending, o)
			if len(pending) > h.opts.MaxPending {
				// A burst no browser can show: keep the newest, and tell clients how
				// many they missed so pages refetch their view instead.
				drop := len(pending) - h.opts.MaxPending/2
				skippedAll += drop
				pending = append(pending[:0], pending[drop:]...)
			}
		case now := <-tick.C:
			if now.Sub(lastStatus) >= time.Second {
				st = h.src.Status()
				if !lastStatus.IsZero() {
					readsPerSec = float64(st.Reads-lastReads) / now.Sub(lastStatus).Seconds()
				}
				lastReads, lastStatus = st.Reads, now
				// Findings can also go away (cleared): count them from the source again,
				// and have open pages refetch their view when some went.
				current := map[string]struct{}{}
				for _, f := range h.src.Findings() {
					current[f.ID] = struct{}{}
				}
				if len(current) < len(h.findings) {
					skippedAll++
				}
				h.findings = current
			}
			h.subDrops.Store(sub.Dropped())
			c := h.window.counters(now)
			c.Live, c.Dropped, c.Gaps, c.ReadsPerSec = st.Sessions, st.Dropped, st.Gaps, readsPerSec
			c.Findings = len(h.findings)
			c.Clients = h.Clients()
			h.counters.Store(&c)
			if len(pending) == 0 && skippedAll == 0 && now.Sub(lastPush) < time.Second {
				continue
			}
			if h.Clients() > 0 {
				if skippedAll > 0 {
					h.broadcast(h.control(msgSkipped, skippedAll), now)
				}
				for _, m := range h.batches(pending, &c) {
					h.broadcast(m, now)
				}
			}
			skippedAll = 0
			clear(pending)
			pending = pending[:0]
			lastPush = now
		}
	}
}

// observe updates the rolling counters.
func (h *Hub) observe(o model.Object, now time.Time) {
	h.lastSeq = max(h.lastSeq, o.ObjectSeq())
	switch v := o.(type) {
	case *model.Event:
		h.window.add(now, v.Kind)
	case *model.Finding:
		h.findings[v.ID] = struct{}{}
	}
}

func (h *Hub) control(typ string, count int) *outMsg {
	data, _ := json.Marshal(wireMsg{Type: typ, Seq: h.lastSeq, Count: count})
	return &outMsg{typ: typ, data: data, seq: h.lastSeq}
}

// batches splits pending objects into messages of at most MaxBatch objects; with no
// objects it is one counters-only message, which keeps rates and the sparkline moving.
func (h *Hub) batches(objs []model.Object, c *handlers.Counters) []*outMsg {
	var out []*outMsg
	for len(objs) > 0 || len(out) == 0 {
		n := min(len(objs), h.opts.MaxBatch)
		chunk := append([]model.Object(nil), objs[:n]...)
		objs = objs[n:]
		out = append(out, h.batch(chunk, c))
	}
	return out
}

func (h *Hub) batch(objs []model.Object, c *handlers.Counters) *outMsg {
	m := &outMsg{typ: msgBatch, objs: objs, counters: c, seq: h.lastSeq}
	if len(objs) > 0 {
		m.minSeq, m.maxSeq = objs[0].ObjectSeq(), objs[len(objs)-1].ObjectSeq()
		m.seq = m.maxSeq
	}
	m.data = marshalBatch(m.seq, objs, c)
	return m
}

func marshalBatch(seq uint64, objs []model.Object, c *handlers.Counters) []byte {
	if objs == nil {
		objs = []model.Object{}
	}
	data, err := json.Marshal(struct {
		Type     string             `json:"type"`
		Seq      uint64             `json:"seq"`
		Objects  []model.Object     `json:"objects"`
		Counters *handlers.Counters `json:"counters,omitempty"`
	}{msgBatch, seq, objs, c})
	if err != nil {
		// Model objects always marshal; this is a programming error, not data.
		panic("ui: marshal batch: " + err.Error())
	}
	return data
}

// broadcast offers m to every client without blocking.
func (h *Hub) broadcast(m *outMsg, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		if c.skipped > 0 {
			if cap(c.q)-len(c.q) < 2 {
				h.stalled(c, m, now)
				continue
			}
			c.q <- h.control(msgSkipped, c.skipped)
			c.skipped = 0
		}
		select {
		case c.q <- m:
			c.stallSince = time.Time{}
		default:
			h.stalled(c, m, now)
		}
	}
}

func (h *Hub) stalled(c *client, m *outMsg, now time.Time) {
	c.skipped += max(len(m.objs), 1)
	if c.stallSince.IsZero() {
		c.stallSince = now
	} else if now.Sub(c.stallSince) >= h.opts.StallTimeout {
		c.kickOut()
	}
}

// Serve implements handlers.Live: it streams JSON objects to one websocket until it
// closes.
func (h *Hub) Serve(ctx context.Context, conn *websocket.Conn, after uint64) {
	ctx = conn.CloseRead(ctx) // answers pings and notices the close; clients send nothing
	h.serve(ctx, wsConn{conn}, after, nil)
}

// ServePage implements handlers.Live: it streams page's HTML fragments to one
// websocket until it closes.
func (h *Hub) ServePage(ctx context.Context, conn *websocket.Conn, after uint64, page handlers.PageStream) {
	ctx = conn.CloseRead(ctx) // answers pings and notices the close; pages send nothing
	h.serve(ctx, wsConn{conn}, after, page)
}

// serve resumes the client after seq from the ring, then drains its queue. With a
// page stream, batches are that page's fragments, and where a JSON client is told
// what it missed (skipped, refresh) the page gets its live regions re-rendered whole.
func (h *Hub) serve(ctx context.Context, conn clientConn, after uint64, page handlers.PageStream) {
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	c := &client{q: make(chan *outMsg, h.opts.QueueSize), kick: make(chan struct{}), stop: stop}
	// Register before reading the ring, so nothing published in between is lost; the
	// overlap is skipped below by seq.
	h.mu.Lock()
	h.clients[c] = struct{}{}
	h.mu.Unlock()
	h.nClient.Add(1)
	defer func() {
		h.mu.Lock()
		delete(h.clients, c)
		h.mu.Unlock()
		h.nClient.Add(-1)
	}()

	write := func(data []byte) error {
		wctx, cancel := context.WithTimeout(ctx, h.opts.WriteTimeout)
		defer cancel()
		return conn.Write(wctx, data)
	}
	fail := func(err error) {
		code := websocket.StatusPolicyViolation
		reason := "write timed out: the page stopped reading"
		switch {
		case errors.Is(context.Cause(ctx), errStalled):
			reason = "too slow: reconnect to resync"
		case ctx.Err() != nil:
			code, reason = websocket.StatusGoingAway, "closing"
		case !errors.Is(err, context.DeadlineExceeded):
			code, reason = websocket.StatusInternalError, "write failed"
			h.log.Warn("websocket: write failed", "err", err)
		}
		_ = conn.Close(code, reason)
	}

	sent, err := h.resume(write, after, page)
	if err != nil {
		fail(err)
		return
	}
	ping := time.NewTicker(h.opts.PingInterval)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			if errors.Is(context.Cause(ctx), errStalled) {
				_ = conn.Close(websocket.StatusPolicyViolation, "too slow: reconnect to resync")
				return
			}
			_ = conn.Close(websocket.StatusGoingAway, "sessionscope is stopping or the page left")
			return
		case <-h.stopped:
			_ = conn.Close(websocket.StatusGoingAway, "sessionscope is stopping")
			return
		case <-c.kick:
			_ = conn.Close(websocket.StatusPolicyViolation, "too slow: reconnect to resync")
			return
		case <-ping.C:
			pctx, cancel := context.WithTimeout(ctx, h.opts.WriteTimeout)
			err := conn.Ping(pctx)
			cancel()
			if err != nil {
				fail(err)
				return
			}
		case m := <-c.q:
			if page != nil && m.typ == msgSkipped {
				data, seq, err := page.Snapshot(sent)
				if err == nil {
					err = write(data)
				}
				if err != nil {
					fail(err)
					return
				}
				sent = max(sent, seq)
				continue
			}
			data := m.data
			var err error
			switch {
			case m.minSeq != 0 && m.minSeq <= sent:
				if m.maxSeq <= sent && m.counters == nil {
					continue
				}
				seq, objs := max(m.maxSeq, sent), afterSeq(m.objs, sent)
				if page != nil {
					data, err = page.Batch(seq, objs, m.counters)
				} else {
					data = marshalBatch(seq, objs, m.counters)
				}
			case page != nil:
				data, err = m.page(page)
			}
			if err == nil {
				err = write(data)
			}
			if err != nil {
				fail(err)
				return
			}
			sent = max(sent, m.maxSeq)
		}
	}
}

// resume sends what the client missed since after, or a refresh marker when the ring
// no longer holds it (a page gets its live regions whole instead). It returns the last
// seq sent.
func (h *Hub) resume(write func([]byte) error, after uint64, page handlers.PageStream) (uint64, error) {
	seq := h.src.Seq()
	objs, complete := h.src.Since(after, 0)
	if page != nil && (after > seq || !complete) {
		data, seq, err := page.Snapshot(after)
		if err != nil {
			return 0, err
		}
		return seq, write(data)
	}
	if after > seq || !complete {
		data, _ := json.Marshal(wireMsg{Type: msgRefresh, Seq: seq})
		if err := write(data); err != nil {
			return 0, err
		}
		// Send only what is newer than the moment the page is told to reload.
		return seq, nil
	}
	sent := after
	for len(objs) > 0 {
		n := min(len(objs), h.opts.MaxBatch)
		chunk := objs[:n]
		objs = objs[n:]
		last := chunk[len(chunk)-1].ObjectSeq()
		var data []byte
		if page == nil {
			data = marshalBatch(last, chunk, nil)
		} else {
			var err error
			if data, err = page.Batch(last, chunk, nil); err != nil {
				return 0, err
			}
		}
		if err := write(data); err != nil {
			return 0, err
		}
		sent = last
	}
	return sent, nil
}

func afterSeq(objs []model.Object, seq uint64) []model.Object {
	out := make([]model.Object, 0, len(objs))
	for _, o := range objs {
		if o.ObjectSeq() > seq {
			out = append(out, o)
		}
	}
	return out
}

// rateWindow counts events per second over the last 60 s.
type rateWindow struct {
	secs [60]int64 // the unix second each slot holds
	all  [60]int
	kind [60]map[model.Kind]int
}

func (w *rateWindow) slot(now time.Time) int {
	s := now.Unix()
	i := int(s % 60)
	if w.secs[i] != s {
		w.secs[i], w.all[i] = s, 0
		if w.kind[i] == nil {
			w.kind[i] = map[model.Kind]int{}
		}
		clear(w.kind[i])
	}
	return i
}

func (w *rateWindow) add(now time.Time, k model.Kind) {
	i := w.slot(now)
	w.all[i]++
	w.kind[i][k]++
}

// counters sums the window ending at now.
func (w *rateWindow) counters(now time.Time) handlers.Counters {
	c := handlers.Counters{Rate: make([]int, 60)}
	s := now.Unix()
	for j := 0; j < 60; j++ {
		sec := s - 59 + int64(j)
		i := int(sec % 60)
		if w.secs[i] != sec {
			continue
		}
		c.Rate[j] = w.all[i]
		k := w.kind[i]
		c.Created += k[model.KindCreated]
		c.Updated += k[model.KindUpdated]
		c.Touched += k[model.KindTouched]
		c.Regenerated += k[model.KindRegenerated]
		c.Expired += k[model.KindExpired]
		c.Evicted += k[model.KindEvicted]
		c.Destroyed += k[model.KindDestroyed]
	}
	return c
}
