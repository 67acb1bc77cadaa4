package inspector

import (
	"slices"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/stream"
)

// queryExchangesFixture is a small log: two browsers on one machine (different
// ports), a curl on another, every status class, and sessions reached through each
// place an exchange can name one.
func queryExchangesFixture() []*model.Exchange {
	chrome := "Mozilla/5.0 Chrome/131.0"
	firefox := "Mozilla/5.0 Firefox/133.0"
	xs := []*model.Exchange{
		{ID: "x1", Status: 200, Client: model.Client{Addr: "10.0.0.1:50001", UA: chrome}, SessionRef: "aaaaaaaaaaaa"},
		{ID: "x2", Status: 302, Client: model.Client{Addr: "10.0.0.1:50002", UA: chrome},
			SetCookies: []model.SetCookie{{Name: "PHPSESSID", SessionRef: "bbbbbbbbbbbb"}}},
		{ID: "x3", Status: 404, Client: model.Client{Addr: "10.0.0.1:50003", UA: firefox},
			CookiesSent: []model.SentCookie{{Name: "PHPSESSID", SessionRef: "bbbbbbbbbbbb"}}},
		{ID: "x4", Status: 503, Client: model.Client{Addr: "10.0.0.2:41000", UA: "curl/8.5.0"},
			CookiesBlocked: []model.BlockedCookie{{Name: "PHPSESSID", SessionRef: "cccccccccccc", Reason: "SecureOnly"}}},
		{ID: "x5", Status: 0, Client: model.Client{Addr: "10.0.0.2:41001", UA: "curl/8.5.0"}},
		{ID: "x6", Status: 101, Client: model.Client{Addr: "[::1]:8080", UA: chrome}},
		{ID: "x7", Status: 301, Client: model.Client{Addr: "10.0.0.1", UA: chrome}, SessionRef: "aaaaaaaaaaaa"},
	}
	for i, x := range xs {
		x.Type, x.Seq = model.TypeExchange, uint64(10*(i+1))
	}
	return xs
}

// TestExchangeQueries runs each filter over the live log and over a HAR import's
// exchanges, which must answer alike.
func TestExchangeQueries(t *testing.T) {
	t.Parallel()
	xs := queryExchangesFixture()
	in := &Inspector{exchanges: newExchangeLog(len(xs))}
	for _, x := range xs {
		in.exchanges.add(x)
	}
	cases := []struct {
		name string
		q    ExchangeQuery
		want []string // ids, oldest first
	}{
		{"no filter", ExchangeQuery{}, []string{"x1", "x2", "x3", "x4", "x5", "x6", "x7"}},
		{"session carried", ExchangeQuery{SessionRef: "aaaaaaaaaaaa"}, []string{"x1", "x7"}},
		{"session set or sent", ExchangeQuery{SessionRef: "bbbbbbbbbbbb"}, []string{"x2", "x3"}},
		{"session held back", ExchangeQuery{SessionRef: "cccccccccccc"}, []string{"x4"}},
		{"unknown session", ExchangeQuery{SessionRef: "dddddddddddd"}, nil},
		{"client host whatever the port", ExchangeQuery{ClientHost: "10.0.0.1"}, []string{"x1", "x2", "x3", "x7"}},
		{"client host v6", ExchangeQuery{ClientHost: "::1"}, []string{"x6"}},
		{"user agent exactly", ExchangeQuery{UA: "Mozilla/5.0 Chrome/131.0"}, []string{"x1", "x2", "x6", "x7"}},
		{"user agent prefix is not enough", ExchangeQuery{UA: "Mozilla/5.0"}, nil},
		{"one browser: host and UA", ExchangeQuery{ClientHost: "10.0.0.1", UA: "Mozilla/5.0 Chrome/131.0"}, []string{"x1", "x2", "x7"}},
		{"one connection exactly", ExchangeQuery{Client: &model.Client{Addr: "10.0.0.1:50002", UA: "Mozilla/5.0 Chrome/131.0"}}, []string{"x2"}},
		{"status 2xx counts 1xx", ExchangeQuery{Status: "2xx"}, []string{"x1", "x6"}},
		{"status 3xx", ExchangeQuery{Status: "3xx"}, []string{"x2", "x7"}},
		{"status 4xx", ExchangeQuery{Status: "4xx"}, []string{"x3"}},
		{"status 5xx", ExchangeQuery{Status: "5xx"}, []string{"x4"}},
		{"status failed", ExchangeQuery{Status: "failed"}, []string{"x5"}},
		{"status unknown class", ExchangeQuery{Status: "6xx"}, nil},
		{"status and client", ExchangeQuery{Status: "3xx", ClientHost: "10.0.0.1", SessionRef: "bbbbbbbbbbbb"}, []string{"x2"}},
		{"ids", ExchangeQuery{IDs: []string{"x5", "x2", "nope"}}, []string{"x2", "x5"}},
		{"before a seq", ExchangeQuery{BeforeSeq: 30}, []string{"x1", "x2"}},
		{"limit keeps the newest", ExchangeQuery{Limit: 2}, []string{"x6", "x7"}},
		{"limit after filtering", ExchangeQuery{ClientHost: "10.0.0.1", Limit: 2, BeforeSeq: 70}, []string{"x2", "x3"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for src, got := range map[string][]*model.Exchange{
				"log": in.Exchanges(tc.q),
				"har": queryExchanges(xs, tc.q),
			} {
				var ids []string
				for _, x := range got {
					ids = append(ids, x.ID)
				}
				if !slices.Equal(ids, tc.want) {
					t.Errorf("%s: got %v, want %v", src, ids, tc.want)
				}
			}
		})
	}
	t.Run("clones", func(t *testing.T) {
		got := in.Exchanges(ExchangeQuery{IDs: []string{"x2"}})
		got[0].SetCookies[0].SessionRef = "changed"
		if again := in.Exchanges(ExchangeQuery{IDs: []string{"x2"}}); again[0].SetCookies[0].SessionRef != "bbbbbbbbbbbb" {
			t.Errorf("a caller's change reached the log: %q", again[0].SetCookies[0].SessionRef)
		}
	})
}

func TestStatusClassAndClientHost(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status int
		want   string
	}{{0, "failed"}, {101, "2xx"}, {204, "2xx"}, {299, "2xx"}, {300, "3xx"}, {399, "3xx"}, {400, "4xx"}, {499, "4xx"}, {500, "5xx"}, {502, "5xx"}} {
		if got := StatusClass(&model.Exchange{Status: tc.status}); got != tc.want {
			t.Errorf("StatusClass(%d) = %q, want %q", tc.status, got, tc.want)
		}
	}
	for addr, want := range map[string]string{"10.0.0.1:443": "10.0.0.1", "[::1]:80": "::1", "10.0.0.1": "10.0.0.1", "": "", "host.example:8080": "host.example"} {
		if got := ClientHost(addr); got != want {
			t.Errorf("ClientHost(%q) = %q, want %q", addr, got, want)
		}
	}
}

// TestEventQueries publishes a small history into the ring, interleaved with an
// exchange and a finding, and selects from it.
func TestEventQueries(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	sess := func(ref string) *model.SessionInfo { return &model.SessionInfo{Ref: ref} }
	in := &Inspector{broadcast: stream.NewBroadcaster()}
	for _, o := range []model.Object{
		&model.Event{Type: model.TypeEvent, Kind: model.KindCreated, Time: at(0), Session: sess("aaaaaaaaaaaa"), Exchange: "x1"}, // seq 1
		&model.Exchange{Type: model.TypeExchange, ID: "x1", Start: at(0)},                                                        // seq 2
		&model.Event{Type: model.TypeEvent, Kind: model.KindUpdated, Time: at(10), Session: sess("aaaaaaaaaaaa")},                // seq 3
		&model.Event{Type: model.TypeEvent, Kind: model.KindGap, Time: at(20)},                                                   // seq 4
		&model.Event{Type: model.TypeEvent, Kind: model.KindRegenerated, Time: at(30), Session: sess("bbbbbbbbbbbb"),
			From: sess("aaaaaaaaaaaa"), Exchange: "x2"}, // seq 5
		&model.Finding{Type: model.TypeFinding, ID: "f1"}, // seq 6
		&model.Event{Type: model.TypeEvent, Kind: model.KindDestroyed, Time: at(40), Session: sess("cccccccccccc"), Exchange: "x3"}, // seq 7
		&model.Event{Type: model.TypeEvent, Kind: model.KindGap, Time: at(50)},                                                      // seq 8
	} {
		in.broadcast.Publish(o)
	}
	gaps := []model.Kind{model.KindGap}
	cases := []struct {
		name string
		qs   []EventQuery
		want []uint64 // seqs, oldest first
	}{
		{"no query", nil, nil},
		{"empty query selects nothing", []EventQuery{{}}, nil},
		{"session, with the regeneration that moved it", []EventQuery{{Sessions: []string{"aaaaaaaaaaaa"}}}, []uint64{1, 3, 5}},
		{"successor session", []EventQuery{{Sessions: []string{"bbbbbbbbbbbb"}}}, []uint64{5}},
		{"unknown session", []EventQuery{{Sessions: []string{"dddddddddddd"}}}, nil},
		{"exchange", []EventQuery{{Exchanges: []string{"x2"}}}, []uint64{5}},
		{"exchanges", []EventQuery{{Exchanges: []string{"x1", "x3", "x9"}}}, []uint64{1, 7}},
		{"seqs, never a non-event", []EventQuery{{Seqs: []uint64{3, 6, 99}}}, []uint64{3}},
		{"selectors are alternatives", []EventQuery{{Sessions: []string{"cccccccccccc"}, Exchanges: []string{"x1"}, Seqs: []uint64{3}}}, []uint64{1, 3, 7}},
		{"time range, inclusive", []EventQuery{{From: at(10), To: at(40)}}, []uint64{3, 4, 5, 7}},
		{"time range open end", []EventQuery{{From: at(35)}}, []uint64{7, 8}},
		{"time range open start", []EventQuery{{To: at(5)}}, []uint64{1}},
		{"gaps within a range", []EventQuery{{From: at(0), To: at(45), Kinds: gaps}}, []uint64{4}},
		{"kinds narrow the selectors", []EventQuery{{Sessions: []string{"aaaaaaaaaaaa"}, Kinds: []model.Kind{model.KindCreated, model.KindRegenerated}}}, []uint64{1, 5}},
		{"kinds alone select nothing", []EventQuery{{Kinds: gaps}}, nil},
		{"queries are alternatives, in ring order, once each", []EventQuery{
			{Sessions: []string{"cccccccccccc"}},
			{From: at(0), To: at(60), Kinds: gaps},
			{Exchanges: []string{"x3"}},
		}, []uint64{4, 7, 8}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var seqs []uint64
			for _, e := range in.Events(tc.qs...) {
				seqs = append(seqs, e.Seq)
			}
			if !slices.Equal(seqs, tc.want) {
				t.Errorf("got seqs %v, want %v", seqs, tc.want)
			}
			for _, q := range tc.qs {
				objs, _ := in.broadcast.Since(0, 0)
				for _, e := range SelectEvents(objs, q) {
					if !q.Match(e) {
						t.Errorf("SelectEvents returned seq %d, which Match rejects", e.Seq)
					}
				}
			}
		})
	}
}
