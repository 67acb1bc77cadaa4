package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/redis/go-redis/v9"

	"github.com/sessionscope/sessionscope/handlers"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/ui/uitest"
)

// wsMsg is a decoded websocket message.
type wsMsg struct {
	Type     string            `json:"type"`
	Seq      uint64            `json:"seq"`
	Count    int               `json:"count"`
	Objects  []json.RawMessage `json:"objects"`
	Counters map[string]any    `json:"counters"`
}

type wsObj struct {
	Type    string `json:"type"`
	Seq     uint64 `json:"seq"`
	Kind    string `json:"kind"`
	Session *struct {
		Ref string `json:"ref"`
	} `json:"session"`
}

// wsClient reads every message of one websocket in the background.
type wsClient struct {
	mu     sync.Mutex
	msgs   []wsMsg
	objs   []wsObj
	closed error
}

func dialWS(t *testing.T, s *started, after uint64) *wsClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	conn, _, err := websocket.Dial(ctx, "ws://"+s.addr+"/ws?after="+strconv.FormatUint(after, 10),
		&websocket.DialOptions{HTTPHeader: map[string][]string{"Origin": {s.base}}})
	if err != nil {
		cancel()
		t.Fatalf("dial: %v", err)
	}
	conn.SetReadLimit(64 << 20)
	c := &wsClient{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			_, data, err := conn.Read(ctx)
			if err != nil {
				c.mu.Lock()
				c.closed = err
				c.mu.Unlock()
				return
			}
			var m wsMsg
			if err := json.Unmarshal(data, &m); err != nil {
				t.Errorf("message is not JSON: %v: %s", err, data)
				continue
			}
			c.mu.Lock()
			c.msgs = append(c.msgs, m)
			for _, raw := range m.Objects {
				var o wsObj
				if err := json.Unmarshal(raw, &o); err != nil {
					t.Errorf("object: %v", err)
				}
				c.objs = append(c.objs, o)
			}
			c.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		conn.Close(websocket.StatusNormalClosure, "")
		cancel()
		<-done
	})
	return c
}

// createdRefs returns the refs of the created events received.
func (c *wsClient) createdRefs() map[string]bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]bool{}
	for _, o := range c.objs {
		if o.Type == "event" && o.Kind == "created" && o.Session != nil {
			out[o.Session.Ref] = true
		}
	}
	return out
}

func (c *wsClient) snapshot() ([]wsMsg, []wsObj) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]wsMsg(nil), c.msgs...), append([]wsObj(nil), c.objs...)
}

// createSessions writes n express sessions in one pipeline and returns their refs.
func createSessions(t *testing.T, env *uitest.Env, prefix string, n int) []string {
	t.Helper()
	pipe := env.RDB.Pipeline()
	refs := make([]string, n)
	for i := 0; i < n; i++ {
		key := fmt.Sprintf("sess:%s%020d", prefix, i)
		refs[i] = uitest.RefOfKey(key)
		pipe.Set(context.Background(), key, `{"cookie":{"path":"/"},"n":`+strconv.Itoa(i)+`}`, time.Hour)
	}
	if _, err := pipe.Exec(context.Background()); err != nil && err != redis.Nil {
		t.Fatalf("pipeline: %v", err)
	}
	return refs
}

func hasAll(got map[string]bool, refs []string) bool {
	for _, r := range refs {
		if !got[r] {
			return false
		}
	}
	return true
}

func TestLiveSocket(t *testing.T) {
	t.Parallel()
	env := uitest.StartInspector(t, uitest.Options{})
	s := startServer(t, Config{RingResume: true}, env.In)

	t.Run("streams batches with counters", func(t *testing.T) {
		c := dialWS(t, s, env.In.Seq())
		refs := createSessions(t, env, "stream", 20)
		uitest.WaitFor(t, "20 created events", func() bool { return hasAll(c.createdRefs(), refs) })
		msgs, objs := c.snapshot()
		var last uint64
		for _, o := range objs {
			if o.Seq <= last {
				t.Fatalf("objects out of order or repeated: %d after %d", o.Seq, last)
			}
			last = o.Seq
		}
		for _, m := range msgs {
			if m.Type != "batch" {
				t.Errorf("unexpected %q message", m.Type)
				continue
			}
			if len(m.Objects) > 0 && m.Seq != objs[len(objs)-1].Seq && m.Seq < last {
				// seq is the batch's last object
			}
			for _, k := range []string{"live", "created", "regenerated", "expired", "destroyed", "rate", "clients"} {
				if _, ok := m.Counters[k]; !ok {
					t.Errorf("counters lack %q: %v", k, m.Counters)
				}
			}
		}
		uitest.WaitFor(t, "counters to count the creations", func() bool {
			msgs, _ := c.snapshot()
			m := msgs[len(msgs)-1]
			return m.Counters["created"].(float64) >= 20 && m.Counters["live"].(float64) >= 20
		})
		if s.srv.hub.Clients() < 1 {
			t.Error("client not counted")
		}
	})

	t.Run("resumes after seq from the ring", func(t *testing.T) {
		before := createSessions(t, env, "resumeA", 5)
		uitest.WaitFor(t, "first sessions in the ring", func() bool { return ringHas(env, before) })
		after := env.In.Seq()
		later := createSessions(t, env, "resumeB", 5)
		uitest.WaitFor(t, "later sessions in the ring", func() bool { return ringHas(env, later) })
		c := dialWS(t, s, after)
		uitest.WaitFor(t, "resumed objects", func() bool { return hasAll(c.createdRefs(), later) })
		msgs, objs := c.snapshot()
		if msgs[0].Type != "batch" {
			t.Errorf("first message %q", msgs[0].Type)
		}
		for _, o := range objs {
			if o.Seq <= after {
				t.Errorf("resume sent seq %d, not after %d", o.Seq, after)
			}
		}
		for _, r := range before {
			if c.createdRefs()[r] {
				t.Errorf("resume sent %s, which came before the resume point", r)
			}
		}
	})

	t.Run("refresh for a seq from before a restart", func(t *testing.T) {
		c := dialWS(t, s, env.In.Seq()+1000)
		uitest.WaitFor(t, "a message", func() bool { m, _ := c.snapshot(); return len(m) > 0 })
		msgs, _ := c.snapshot()
		if msgs[0].Type != "refresh" || msgs[0].Seq > env.In.Seq() {
			t.Errorf("first message %+v", msgs[0])
		}
	})
}

func TestLiveSocketRefreshBeyondRing(t *testing.T) {
	t.Parallel()
	env := uitest.StartInspector(t, uitest.Options{})
	s := startServer(t, Config{RingResume: true}, env.In)
	first := env.In.Seq()
	// More objects than the 10,000 the ring keeps.
	for i := 0; i < 11; i++ {
		createSessions(t, env, fmt.Sprintf("ring%02d", i), 1000)
	}
	uitest.WaitFor(t, "the ring to overflow", func() bool {
		_, complete := env.In.Since(first, 1)
		return !complete
	})
	c := dialWS(t, s, first)
	uitest.WaitFor(t, "a message", func() bool { m, _ := c.snapshot(); return len(m) > 0 })
	msgs, objs := c.snapshot()
	if msgs[0].Type != "refresh" {
		t.Fatalf("first message %q, want refresh", msgs[0].Type)
	}
	for _, o := range objs {
		if o.Seq <= msgs[0].Seq {
			t.Errorf("after refresh at %d the socket sent older seq %d", msgs[0].Seq, o.Seq)
		}
	}
}

func ringHas(env *uitest.Env, refs []string) bool {
	objs, _ := env.In.Since(0, 0)
	got := map[string]bool{}
	for _, o := range objs {
		if e, ok := o.(*model.Event); ok && e.Kind == model.KindCreated && e.Session != nil {
			got[e.Session.Ref] = true
		}
	}
	return hasAll(got, refs)
}

// stalledConn is a client that never reads: every write blocks until its deadline.
type stalledConn struct {
	mu     sync.Mutex
	writes int
	code   websocket.StatusCode
	closed chan struct{}
	once   sync.Once
}

func (c *stalledConn) Write(ctx context.Context, _ []byte) error {
	c.mu.Lock()
	c.writes++
	c.mu.Unlock()
	<-ctx.Done()
	return ctx.Err()
}
func (c *stalledConn) Ping(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
func (c *stalledConn) Close(code websocket.StatusCode, _ string) error {
	c.once.Do(func() {
		c.mu.Lock()
		c.code = code
		c.mu.Unlock()
		close(c.closed)
	})
	return nil
}

func TestHubStalledClient(t *testing.T) {
	t.Parallel()
	env := uitest.StartInspector(t, uitest.Options{})
	s := startServer(t, Config{RingResume: true, Hub: HubOptions{QueueSize: 8, StallTimeout: 300 * time.Millisecond,
		WriteTimeout: time.Minute}}, env.In)
	const clients = 8
	var cs []*wsClient
	for i := 0; i < clients; i++ {
		cs = append(cs, dialWS(t, s, env.In.Seq()))
	}
	stalled := &stalledConn{closed: make(chan struct{})}
	served := make(chan struct{})
	go func() {
		defer close(served)
		s.srv.hub.serve(context.Background(), stalled, env.In.Seq(), nil)
	}()
	uitest.WaitFor(t, "every client registered", func() bool { return s.srv.hub.Clients() == clients+1 })

	var refs []string
	for i := 0; i < 6; i++ {
		refs = append(refs, createSessions(t, env, fmt.Sprintf("stall%d", i), 100)...)
	}
	for i, c := range cs {
		uitest.WaitFor(t, fmt.Sprintf("client %d to get all %d sessions", i, len(refs)), func() bool { return hasAll(c.createdRefs(), refs) })
	}
	select {
	case <-stalled.closed:
	case <-time.After(30 * time.Second):
		t.Fatal("the stalled client was never closed")
	}
	<-served
	stalled.mu.Lock()
	code := stalled.code
	stalled.mu.Unlock()
	if code != websocket.StatusPolicyViolation {
		t.Errorf("stalled client closed with %v, want 1008", code)
	}
	if d := s.srv.hub.subDrops.Load(); d != 0 {
		t.Errorf("the hub's own subscription dropped %d objects", d)
	}
	if st := env.In.Status(); st.Dropped != 0 || st.Gaps != 0 {
		t.Errorf("ingestion affected: dropped %d gaps %d", st.Dropped, st.Gaps)
	}
	uitest.WaitFor(t, "the stalled client to be unregistered", func() bool { return s.srv.hub.Clients() == clients })
}

func TestHubSkippedMarker(t *testing.T) {
	t.Parallel()
	h := NewHub(nil, nil, HubOptions{QueueSize: 2, StallTimeout: time.Hour})
	c := &client{q: make(chan *outMsg, 2), kick: make(chan struct{})}
	h.clients[c] = struct{}{}
	now := time.Now()
	batch := func(seq uint64) *outMsg {
		ev := &model.Event{Type: model.TypeEvent, Seq: seq, Kind: model.KindCreated}
		return h.batch([]model.Object{ev}, nil)
	}
	for seq := uint64(1); seq <= 5; seq++ {
		h.broadcast(batch(seq), now)
	}
	if c.skipped != 3 || len(c.q) != 2 {
		t.Fatalf("skipped %d queued %d", c.skipped, len(c.q))
	}
	<-c.q
	<-c.q
	h.broadcast(batch(6), now)
	var m wsMsg
	if err := json.Unmarshal((<-c.q).data, &m); err != nil || m.Type != "skipped" || m.Count != 3 {
		t.Fatalf("first message after draining: %+v %v", m, err)
	}
	if err := json.Unmarshal((<-c.q).data, &m); err != nil || m.Type != "batch" || m.Seq != 6 {
		t.Fatalf("then the batch: %+v %v", m, err)
	}
}

// recordingConn is a client that keeps every message written to it.
type recordingConn struct {
	mu   sync.Mutex
	msgs [][]byte
}

func (c *recordingConn) Write(_ context.Context, data []byte) error {
	c.mu.Lock()
	c.msgs = append(c.msgs, append([]byte(nil), data...))
	c.mu.Unlock()
	return nil
}
func (c *recordingConn) Ping(context.Context) error               { return nil }
func (c *recordingConn) Close(websocket.StatusCode, string) error { return nil }

func (c *recordingConn) snapshot() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.msgs...)
}

// countingStream renders a batch as its seq and object count, and counts renders.
type countingStream struct {
	key     string
	batches atomic.Int64
}

func (s *countingStream) Key() string { return s.key }
func (s *countingStream) Batch(seq uint64, objs []model.Object, _ *handlers.Counters) ([]byte, error) {
	s.batches.Add(1)
	return []byte(fmt.Sprintf("seq=%d n=%d", seq, len(objs))), nil
}
func (s *countingStream) Snapshot(uint64) ([]byte, uint64, error) {
	return nil, 0, errors.New("no snapshot expected")
}

// TestHubRendersPageOncePerKey: pages whose streams share a key get the same bytes, and
// the hub renders each batch once for all of them, not once per page.
func TestHubRendersPageOncePerKey(t *testing.T) {
	t.Parallel()
	env := uitest.StartInspector(t, uitest.Options{})
	s := startServer(t, Config{RingResume: true}, env.In)
	stream := &countingStream{key: "live"}
	ctx, cancel := context.WithCancel(context.Background())
	var served sync.WaitGroup
	conns := []*recordingConn{{}, {}, {}}
	after := env.In.Seq()
	for _, c := range conns {
		served.Add(1)
		go func() {
			defer served.Done()
			s.srv.hub.serve(ctx, c, after, stream)
		}()
	}
	uitest.WaitFor(t, "the pages registered", func() bool { return s.srv.hub.Clients() == len(conns) })
	createSessions(t, env, "once", 50)
	last := env.In.Seq()
	uitest.WaitFor(t, "every page to reach the last seq", func() bool {
		for _, c := range conns {
			msgs := c.snapshot()
			if len(msgs) == 0 || !strings.HasPrefix(string(msgs[len(msgs)-1]), fmt.Sprintf("seq=%d ", last)) {
				return false
			}
		}
		return true
	})
	cancel()
	served.Wait()
	most := 0
	first := conns[0].snapshot()
	for _, c := range conns {
		msgs := c.snapshot()
		most = max(most, len(msgs))
		for i := 0; i < min(len(msgs), len(first)); i++ {
			if string(msgs[i]) != string(first[i]) {
				t.Errorf("message %d differs between pages: %q and %q", i, msgs[i], first[i])
			}
		}
	}
	if n := stream.batches.Load(); n > int64(most) {
		t.Errorf("%d renders for %d messages to %d pages: want one render per message", n, most, len(conns))
	}
}

// pageClient reads one page socket's messages in the background.
type pageClient struct {
	mu   sync.Mutex
	msgs []string
}

func dialPage(t *testing.T, s *started, query string) *pageClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	conn, _, err := websocket.Dial(ctx, "ws://"+s.addr+"/ws/page?"+query,
		&websocket.DialOptions{HTTPHeader: map[string][]string{"Origin": {s.base}}})
	if err != nil {
		cancel()
		t.Fatalf("dial: %v", err)
	}
	conn.SetReadLimit(64 << 20)
	c := &pageClient{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			_, data, err := conn.Read(ctx)
			if err != nil {
				return
			}
			c.mu.Lock()
			c.msgs = append(c.msgs, string(data))
			c.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		conn.Close(websocket.StatusNormalClosure, "")
		cancel()
		<-done
	})
	return c
}

func (c *pageClient) all() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.msgs, "\n")
}

func (c *pageClient) first() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.msgs) == 0 {
		return ""
	}
	return c.msgs[0]
}

// TestPageSocket: a page's socket pushes HTML fragments for htmx to swap in: feed rows
// on top of the feed, the exchanges of a Requests table's filter only, and each message
// ends with the seq the page then reflects. A resume point the ring no longer holds
// gets the page's live regions whole.
func TestPageSocket(t *testing.T) {
	t.Parallel()
	env := uitest.StartInspector(t, uitest.Options{})
	s := startServer(t, Config{RingResume: true}, env.In)

	t.Run("live feed rows", func(t *testing.T) {
		c := dialPage(t, s, "view=live&after="+strconv.FormatUint(env.In.Seq(), 10))
		refs := createSessions(t, env, "page", 5)
		uitest.WaitFor(t, "a feed row for every session", func() bool {
			all := c.all()
			for _, r := range refs {
				if !strings.Contains(all, `data-ref="`+r+`"`) {
					return false
				}
			}
			return true
		})
		c.mu.Lock()
		msgs := append([]string(nil), c.msgs...)
		c.mu.Unlock()
		for _, m := range msgs {
			if !strings.Contains(m, `<span id="live-seq" data-seq="`) {
				t.Errorf("message does not end with the seq marker: %.200s", m)
			}
			if strings.Contains(m, `data-testid="feed-row"`) && !strings.Contains(m, `hx-swap-oob="afterbegin:#feed"`) {
				t.Errorf("feed rows not inserted on top of the feed: %.200s", m)
			}
		}
		if !strings.Contains(c.all(), `id="counters"`) || !strings.Contains(c.all(), `id="findings-badge"`) {
			t.Error("no counters or findings badge pushed")
		}
	})

	t.Run("requests of the filter only", func(t *testing.T) {
		after := strconv.FormatUint(env.In.Seq(), 10)
		c := dialPage(t, s, "view=requests&client=10.1.1.1&after="+after)
		other := dialPage(t, s, "view=requests&client=10.2.2.2&after="+after)
		for i, addr := range []string{"10.1.1.1:4000", "10.2.2.2:4000", "10.1.1.1:4001"} {
			env.In.PublishExchange(&model.Exchange{Type: model.TypeExchange, ID: fmt.Sprintf("ps-%d", i), Start: time.Now(),
				Method: "GET", URL: "http://app.test/", RawURL: "http://app.test/", Status: 200, Client: model.Client{Addr: addr, UA: "curl/8"}})
		}
		uitest.WaitFor(t, "the matching rows", func() bool {
			all := c.all()
			return strings.Contains(all, `data-id="ps-0"`) && strings.Contains(all, `data-id="ps-2"`) &&
				strings.Contains(other.all(), `data-id="ps-1"`)
		})
		if strings.Contains(c.all(), `data-id="ps-1"`) || strings.Contains(other.all(), `data-id="ps-0"`) {
			t.Error("a table got an exchange its filter excludes")
		}
		if !strings.Contains(c.all(), `hx-swap-oob="afterbegin:#requests-body"`) {
			t.Errorf("rows not inserted on top of the table: %.300s", c.all())
		}
	})

	t.Run("snapshot for a seq from before a restart", func(t *testing.T) {
		c := dialPage(t, s, "view=live&after="+strconv.FormatUint(env.In.Seq()+1000, 10))
		uitest.WaitFor(t, "a message", func() bool { return c.first() != "" })
		if m := c.first(); !strings.Contains(m, `hx-swap-oob="innerHTML:#feed"`) || !strings.Contains(m, `data-testid="feed-row"`) {
			t.Errorf("first message is not the whole feed: %.300s", m)
		}
	})

	t.Run("bad view", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, resp, err := websocket.Dial(ctx, "ws://"+s.addr+"/ws/page?view=nope",
			&websocket.DialOptions{HTTPHeader: map[string][]string{"Origin": {s.base}}})
		if err == nil || resp == nil || resp.StatusCode != 400 {
			t.Errorf("view=nope: %v %v, want 400", resp, err)
		}
	})
}
