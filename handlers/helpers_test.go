package handlers_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/net/html"

	"github.com/sessionscope/sessionscope/assets"
	"github.com/sessionscope/sessionscope/handlers"
	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/backend/redisstore/redistest"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/stream"
	"github.com/sessionscope/sessionscope/inspector/tracker"
	"github.com/sessionscope/sessionscope/ui/uitest"
)

// newApp mounts the handlers on an echo instance with the routes the ui uses.
func newApp(t *testing.T, src handlers.Source, reveal bool) *echo.Echo {
	t.Helper()
	set, err := assets.New()
	if err != nil {
		t.Fatal(err)
	}
	h := handlers.New(handlers.Deps{Src: src, Asset: set.URL, RevealValues: reveal})
	e := echo.New()
	e.GET("/", h.Live)
	e.GET("/sessions", h.SessionsList)
	e.GET("/sessions/:ref", h.SessionShow)
	e.GET("/findings", h.FindingsList)
	e.GET("/status", h.StatusShow)
	e.GET("/login", h.LoginForm)
	e.GET("/api/sessions", h.APISessions)
	e.GET("/api/sessions/:ref", h.APISession)
	e.GET("/api/events", h.APIEvents)
	e.GET("/api/findings", h.APIFindings)
	e.GET("/api/status", h.APIStatus)
	return e
}

// get runs one request and returns status and body.
func get(t *testing.T, e http.Handler, target string) (int, []byte) {
	t.Helper()
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, body
}

func getJSON(t *testing.T, e http.Handler, target string, wantStatus int, v any) {
	t.Helper()
	status, body := get(t, e, target)
	if status != wantStatus {
		t.Fatalf("GET %s: status %d, want %d; body %s", target, status, wantStatus, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: not JSON: %v; body %s", target, err, body)
	}
}

func getPage(t *testing.T, e http.Handler, target string, wantStatus int) *uitest.Doc {
	t.Helper()
	status, body := get(t, e, target)
	if status != wantStatus {
		t.Fatalf("GET %s: status %d, want %d; body %s", target, status, wantStatus, body)
	}
	return uitest.Parse(t, body)
}

// fakeSource serves fixed data for rendering tests where Redis is not the concern
// (arbitrary payload trees, findings, notification states).
type fakeSource struct {
	hub      *stream.Broadcaster
	rows     []tracker.SessionRow
	details  map[string]tracker.SessionDetail
	findings []model.Finding
	status   inspector.BackendStatus
}

func newFakeSource() *fakeSource {
	return &fakeSource{hub: stream.NewBroadcaster(), details: map[string]tracker.SessionDetail{},
		status: inspector.BackendStatus{Name: "redis", Describe: "redis://127.0.0.1:6379/0", Mode: model.ModeNotify,
			Last: model.Status{Type: model.TypeStatus, State: model.StateLive, Notifications: &model.Notifications{Flags: "Eg$hxen"}}}}
}

func (f *fakeSource) Subscribe(n int) *stream.Subscription { return f.hub.Subscribe(n) }
func (f *fakeSource) Sessions(q tracker.Query) (tracker.Page, error) {
	return tracker.Page{Rows: f.rows, Matched: len(f.rows), Total: len(f.rows)}, nil
}
func (f *fakeSource) Session(ref string) (tracker.SessionDetail, error) {
	d, ok := f.details[ref]
	if !ok {
		return d, fmt.Errorf("session %s: %w", ref, tracker.ErrNotFound)
	}
	return d, nil
}
func (f *fakeSource) Since(after uint64, limit int) ([]model.Object, bool) {
	return f.hub.Since(after, limit)
}
func (f *fakeSource) Events(qs ...inspector.EventQuery) []*model.Event {
	objs, _ := f.hub.Since(0, 0)
	return inspector.SelectEvents(objs, qs...)
}
func (f *fakeSource) Seq() uint64                     { return f.hub.Seq() }
func (f *fakeSource) Findings() []model.Finding       { return f.findings }
func (f *fakeSource) Status() inspector.BackendStatus { return f.status }

func (f *fakeSource) addSession(r tracker.SessionRow, d tracker.SessionDetail) {
	f.rows = append(f.rows, r)
	d.Row = r
	f.details[r.Ref] = d
}

func (f *fakeSource) publishEvent(kind model.Kind, ref, id, fw string) {
	ttl, size := int64(1440), 42
	f.hub.Publish(&model.Event{Type: model.TypeEvent, Time: time.Now(), Kind: kind, Backend: "redis",
		Session: &model.SessionInfo{Ref: ref, ID: id, Framework: fw, KeyPrefix: "PHPREDIS_SESSION:"}, TTL: &ttl, Size: &size})
}

// xssStrings are the hostile strings every rendering test pushes through.
var xssStrings = []string{"<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "javascript:alert(1)"}

// noRawMarkup fails when a hostile string appears unescaped in a response body.
func noRawMarkup(t *testing.T, body []byte) {
	t.Helper()
	for _, s := range []string{"<script>alert(1)", "<img src=x", `href="javascript:`} {
		if strings.Contains(string(body), s) {
			t.Errorf("body contains unescaped %q", s)
		}
	}
}

type htmlNode = html.Node

func redisOff() redistest.Options { return redistest.Options{Notifications: "off"} }
