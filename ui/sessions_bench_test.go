package ui_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/backend"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/tracker"
	"github.com/sessionscope/sessionscope/ui"
)

// inventoryStore is a store that only reports an inventory of n sessions, the shape of
// a staging Redis that holds a million of them while nothing changes.
type inventoryStore struct{ n int }

func (s inventoryStore) Name() string     { return "redis" }
func (s inventoryStore) Describe() string { return "benchmark inventory" }
func (s inventoryStore) Read(_ context.Context, reqs []backend.ReadRequest) []backend.ReadResult {
	return make([]backend.ReadResult, len(reqs))
}

func (s inventoryStore) Run(ctx context.Context, feed backend.Feed) error {
	now := time.Now()
	batch := make([]backend.InventoryItem, 0, 1000)
	for i := 0; i < s.n; i++ {
		batch = append(batch, backend.InventoryItem{Key: fmt.Sprintf("PHPREDIS_SESSION:%026d", i),
			TTL: time.Duration(60+i%1440) * time.Second, Size: 200 + i%1000, Read: now})
		if len(batch) == cap(batch) {
			feed.Inventory <- batch
			batch = make([]backend.InventoryItem, 0, 1000)
		}
	}
	feed.Inventory <- batch
	feed.Status <- model.Status{Type: model.TypeStatus, Backend: "redis", State: model.StateLive,
		Inventory: &model.Inventory{Scanned: int64(s.n), Sessions: int64(s.n), Done: true}}
	<-ctx.Done()
	return nil
}

// BenchmarkSessionsScreen1M is the Sessions screen's server time (request to complete,
// buffered response, so first byte = last byte) with a million tracked sessions.
func BenchmarkSessionsScreen1M(b *testing.B) {
	const n = 1_000_000
	in := inspector.New(inventoryStore{n: n}, inspector.Config{Tracker: tracker.Config{
		Matcher: framework.NewMatcher(framework.Builtin())}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = in.Run(ctx) }()
	for in.SessionCount() < n {
		time.Sleep(50 * time.Millisecond)
	}
	srv, err := ui.New(ui.DefaultConfig(), in)
	if err != nil {
		b.Fatal(err)
	}
	h := srv.Handler()
	for _, path := range []string{"/sessions", "/sessions?sort=ttl", "/sessions?q=ref:0a", "/api/sessions?limit=50"} {
		b.Run(path, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:7070"+path, nil)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("%s: %d %s", path, rec.Code, rec.Body.String())
				}
			}
		})
	}
}
