package ui

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/backend/memory"
	"github.com/sessionscope/sessionscope/inspector/history"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/ui/uitest"
)

// TestMetricsHistory: /metrics reports the history's counters when there is one.
func TestMetricsHistory(t *testing.T) {
	st, err := history.Open(history.Options{Path: filepath.Join(t.TempDir(), "h.db")})
	if err != nil {
		t.Fatal(err)
	}
	in := inspector.New(memory.New(memory.Options{}), inspector.Config{History: st})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = in.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; st.Close() })
	s := startServer(t, Config{}, in)
	now := time.Now()
	in.PublishExchange(&model.Exchange{Type: model.TypeExchange, ID: "h-1", Start: now, HeadersSent: now, End: now,
		Method: "GET", URL: "http://app.test/", RawURL: "http://app.test/", Status: 200, Client: model.Client{Addr: "10.0.0.1:1"}})
	uitest.WaitFor(t, "the exchange written to the history", func() bool {
		return scrape(t, s)["sessionscope_history_written_total"] >= 1
	})
	m := scrape(t, s)
	for _, name := range []string{"sessionscope_history_dropped_total", "sessionscope_history_errors_total"} {
		if got := sample(t, m, name); got != 0 {
			t.Errorf("%s = %v, want 0", name, got)
		}
	}
	sample(t, m, "sessionscope_history_gaps_total")
	if got := sample(t, m, "sessionscope_history_bytes"); got <= 0 {
		t.Errorf("history bytes %v, want the file's size", got)
	}
}
