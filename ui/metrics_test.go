package ui

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/tracker"
	"github.com/sessionscope/sessionscope/ui/uitest"
)

// scrape fetches /metrics and returns each sample by its name and labels as written,
// e.g. `sessionscope_events_total{kind="created"}`.
func scrape(t *testing.T, s *started, opts ...reqOpt) map[string]float64 {
	t.Helper()
	resp, body := do(t, http.MethodGet, s.base+"/metrics", nil, opts...)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("content type %q, want Prometheus' text format", ct)
	}
	samples := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("sample %q: %v", line, err)
		}
		samples[line[:i]] = v
	}
	return samples
}

func sample(t *testing.T, m map[string]float64, name string) float64 {
	t.Helper()
	v, ok := m[name]
	if !ok {
		t.Fatalf("/metrics has no %s", name)
	}
	return v
}

// TestMetrics: /metrics reads the live inspector and hub, so its numbers follow what
// happens in a real Redis and on the dashboard.
func TestMetrics(t *testing.T) {
	t.Parallel()
	env := uitest.StartInspector(t, uitest.Options{})
	s := startServer(t, Config{}, env.In)

	m := scrape(t, s)
	for name, want := range map[string]float64{
		`sessionscope_events_total{kind="created"}`:   0,
		`sessionscope_events_total{kind="destroyed"}`: 0,
		`sessionscope_events_total{kind="gap"}`:       0,
		`sessionscope_inventory_done`:                 1, // StartInspector waited for it
		`sessionscope_websocket_clients`:              0,
		`sessionscope_exchanges_total`:                0,
		`sessionscope_sessions`:                       0,
		`sessionscope_dropped_events_total`:           0,
		`sessionscope_gaps_total`:                     0,
		`sessionscope_read_budget_per_second`:         1000,
	} {
		if got := sample(t, m, name); got != want {
			t.Errorf("before: %s = %v, want %v", name, got, want)
		}
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "sessionscope_payload_reads_total",
		"sessionscope_payload_reads_over_budget_total", "sessionscope_raw_events_total", "sessionscope_inventory_keys_scanned",
		"sessionscope_inventory_sessions", "sessionscope_inventory_keys_estimate"} {
		sample(t, m, name)
	}

	// Three logins and one logout, as an app does them.
	for _, id := range []string{"metricsa1", "metricsa2", "metricsa3"} {
		env.Do(t, "SETEX", "PHPREDIS_SESSION:"+id, 1440, `user|s:5:"alice";`)
		// A key born and deleted inside one correlation window is one story, not two
		// events: let each birth be emitted first.
		env.WaitEvent(t, model.KindCreated, uitest.RefOfKey("PHPREDIS_SESSION:"+id))
	}
	env.Do(t, "DEL", "PHPREDIS_SESSION:metricsa2")
	env.WaitEvent(t, model.KindDestroyed, uitest.RefOfKey("PHPREDIS_SESSION:metricsa2"))
	uitest.WaitFor(t, "three created events counted", func() bool {
		return scrape(t, s)[`sessionscope_events_total{kind="created"}`] == 3
	})
	m = scrape(t, s)
	for name, want := range map[string]float64{
		`sessionscope_events_total{kind="created"}`:   3,
		`sessionscope_events_total{kind="destroyed"}`: 1,
		`sessionscope_events_total{kind="expired"}`:   0,
		`sessionscope_sessions`:                       2,
	} {
		if got := sample(t, m, name); got != want {
			t.Errorf("after: %s = %v, want %v", name, got, want)
		}
	}
	// SETEX publishes set and expire, DEL publishes del: at least 7 raw events.
	if got := sample(t, m, "sessionscope_raw_events_total"); got < 7 {
		t.Errorf("raw events %v, want ≥ 7", got)
	}
	if got := sample(t, m, "sessionscope_payload_reads_total"); got < 3 {
		t.Errorf("payload reads %v, want ≥ 3 (one per created session)", got)
	}

	// A dashboard tab connects; a proxied request is captured.
	ws := dialWS(t, s, 0)
	uitest.WaitFor(t, "websocket client counted", func() bool {
		return scrape(t, s)["sessionscope_websocket_clients"] == 1
	})
	_ = ws
	now := time.Now()
	env.In.PublishExchange(&model.Exchange{Type: model.TypeExchange, ID: "m-1", Start: now, HeadersSent: now, End: now,
		Method: "GET", URL: "http://app.test/", RawURL: "http://app.test/", Status: 200,
		Client: model.Client{Addr: "10.0.0.1:1", UA: "curl/8"}})
	if got := sample(t, scrape(t, s), "sessionscope_exchanges_total"); got != 1 {
		t.Errorf("exchanges %v, want 1", got)
	}
}

// TestMetricsReadBudget: reads the budget refuses are counted apart from reads done.
func TestMetricsReadBudget(t *testing.T) {
	t.Parallel()
	// One read, then none for 1,000 s: every later payload read is over budget.
	env := uitest.StartInspector(t, uitest.Options{Tracker: tracker.Config{ReadBudget: 0.001}})
	s := startServer(t, Config{}, env.In)
	for _, id := range []string{"budgetb1", "budgetb2", "budgetb3"} {
		env.Do(t, "SETEX", "PHPREDIS_SESSION:"+id, 1440, `user|s:3:"bob";`)
		env.WaitEvent(t, model.KindCreated, uitest.RefOfKey("PHPREDIS_SESSION:"+id))
	}
	m := scrape(t, s)
	if got := sample(t, m, "sessionscope_payload_reads_total"); got != 1 {
		t.Errorf("reads done %v, want 1 (the budget's one token)", got)
	}
	if got := sample(t, m, "sessionscope_payload_reads_over_budget_total"); got < 2 {
		t.Errorf("reads over budget %v, want ≥ 2", got)
	}
	if got := sample(t, m, "sessionscope_read_budget_per_second"); got != 0.001 {
		t.Errorf("read budget %v, want 0.001", got)
	}
}

// TestMetricsToken: /metrics shows what the dashboard shows in aggregate, so a --token
// protects it like the API: a scraper sends the bearer token, others get a 401 (not
// the login page, which a scraper cannot use).
func TestMetricsToken(t *testing.T) {
	t.Parallel()
	env := uitest.StartInspector(t, uitest.Options{})
	const token = "scrape-me-not"
	s := startServer(t, Config{Token: token}, env.In)
	for _, tc := range []struct {
		name string
		opts []reqOpt
	}{
		{"no token", nil},
		{"wrong token", []reqOpt{withHeader("Authorization", "Bearer nope")}},
		{"token as basic auth", []reqOpt{withHeader("Authorization", "Basic "+token)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := do(t, http.MethodGet, s.base+"/metrics", nil, tc.opts...)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", resp.StatusCode)
			}
			if !strings.Contains(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate %q", resp.Header.Get("WWW-Authenticate"))
			}
			if strings.Contains(body, "sessionscope_") {
				t.Errorf("metrics leaked without the token: %s", body)
			}
		})
	}
	m := scrape(t, s, withHeader("Authorization", "Bearer "+token))
	sample(t, m, `sessionscope_events_total{kind="created"}`)
}
