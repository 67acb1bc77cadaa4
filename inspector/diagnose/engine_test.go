package diagnose

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
)

func TestSameCauseUpdatesOneFinding(t *testing.T) {
	e := NewEngine(Config{})
	at := time.Unix(1000, 0)
	for i := 0; i < 1000; i++ {
		e.OnInventory(SessionFact{Session: model.SessionInfo{Ref: fmt.Sprintf("%012d", i), Framework: "php", KeyPrefix: "PHPREDIS_SESSION:"}, TTL: -1, Time: at.Add(time.Duration(i) * time.Second)})
	}
	e.OnInventory(SessionFact{Session: model.SessionInfo{Ref: "other", Framework: "express", KeyPrefix: "sess:"}, TTL: -1, Time: at})
	e.OnInventory(SessionFact{Session: model.SessionInfo{Ref: "fine", Framework: "express", KeyPrefix: "sess:"}, TTL: time.Hour, Time: at})
	all := e.Findings()
	if len(all) != 2 {
		t.Fatalf("%d findings, want one per prefix (2)", len(all))
	}
	php := all[0]
	if php.Sessions[0] == "other" {
		php = all[1]
	}
	if php.Rule != "no-server-expiry" || php.Count != 1000 || len(php.Sessions) != maxSampleSessions || len(php.Evidence) != maxEvidence {
		t.Errorf("php finding: rule %s count %d sessions %d evidence %d", php.Rule, php.Count, len(php.Sessions), len(php.Evidence))
	}
	if !php.FirstSeen.Equal(at) || !php.LastSeen.Equal(at.Add(999*time.Second)) {
		t.Errorf("first %v last %v", php.FirstSeen, php.LastSeen)
	}
	drained := e.Drain()
	if len(drained) != 2 || e.Drain() != nil {
		t.Errorf("drain gave %d, then more", len(drained))
	}
	e.OnInventory(SessionFact{Session: model.SessionInfo{Ref: "x", Framework: "php", KeyPrefix: "PHPREDIS_SESSION:"}, TTL: -1, Time: at})
	e.Published(php.ID, 77)
	again := e.Drain()
	if len(again) != 1 || again[0].ID != php.ID || again[0].Count != 1001 {
		t.Errorf("an update must re-emit the same finding id: %+v", again)
	}
	for _, f := range e.Findings() {
		if f.ID == php.ID && f.Seq != 77 {
			t.Errorf("Findings() seq %d, want the published 77", f.Seq)
		}
	}
}

func TestFixationWaitsForARegeneration(t *testing.T) {
	e := NewEngine(Config{Window: 100 * time.Millisecond})
	at := time.Unix(2000, 0)
	a := &model.SessionInfo{Ref: "aaaaaaaaaaaa", Framework: "php", KeyPrefix: "PHPREDIS_SESSION:"}
	b := &model.SessionInfo{Ref: "bbbbbbbbbbbb", Framework: "php", KeyPrefix: "PHPREDIS_SESSION:"}
	e.OnEvent(&model.Event{Seq: 1, Time: at, Kind: model.KindUpdated, Session: a, Changed: []string{"user_id"}, AuthAdded: true})
	e.OnEvent(&model.Event{Seq: 2, Time: at, Kind: model.KindRegenerated, Session: b, From: a, OldKept: true})
	e.Tick(at.Add(time.Hour))
	for _, f := range e.Findings() {
		if f.Rule == "fixation" {
			t.Errorf("fixation for a login that regenerated: %+v", f)
		}
	}
	c := &model.SessionInfo{Ref: "cccccccccccc", Framework: "php", KeyPrefix: "PHPREDIS_SESSION:"}
	e.OnEvent(&model.Event{Seq: 3, Time: at, Kind: model.KindUpdated, Session: c, Changed: []string{"user_id"}, AuthAdded: true})
	e.Tick(at.Add(10 * time.Millisecond))
	if n := countRule(e, "fixation"); n != 0 {
		t.Errorf("fixation before the settle time")
	}
	e.Tick(at.Add(time.Hour))
	if n := countRule(e, "fixation"); n != 1 {
		t.Errorf("%d fixation findings, want 1", n)
	}
	if countRule(e, "old-session-kept") != 1 {
		t.Errorf("old_kept regeneration without an old-session-kept finding")
	}
}

func countRule(e *Engine, rule string) int {
	n := 0
	for _, f := range e.Findings() {
		if f.Rule == rule {
			n++
		}
	}
	return n
}

// A finding two browsers raise (the same cookie's flags) describes its newest sighting,
// whatever order the clients' histories are replayed in: the replay of a client's
// older history, run after a newer one (a store-side cause found for it, or the
// deferred worker), must not move its last sighting back.
func TestSharedFindingKeepsNewestSighting(t *testing.T) {
	e := NewEngine(Config{})
	older := model.Client{Addr: "127.0.0.1:50000", UA: "Mozilla/5.0 older"}
	newer := model.Client{Addr: "127.0.0.1:50001", UA: "Mozilla/5.0 newer"}
	b := &exchangeBuilder{now: time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC), step: time.Minute}
	const setCookie = "PHPSESSID=" + sidA + "; path=/"
	var shared string
	for _, c := range []model.Client{older, newer} {
		_, fs := e.ObserveExchange(b.make(c, "GET", "http://127.0.0.1:8080/index.php", 200, "", "", setCookie))
		for _, f := range fs {
			if f.Rule == "cookie-flags" {
				shared = f.ID
			}
		}
	}
	if shared == "" {
		t.Fatal("no cookie-flags finding for a session cookie without HttpOnly")
	}
	byID := func() model.Finding {
		for _, f := range e.Findings() {
			if f.ID == shared {
				return f
			}
		}
		t.Fatalf("finding %s gone", shared)
		return model.Finding{}
	}
	want := byID()
	if !want.LastSeen.Equal(b.now) {
		t.Fatalf("last seen %s after the newer browser's exchange, want %s", want.LastSeen, b.now)
	}
	e.replayClient(browserOf(older))
	got := byID()
	if !got.LastSeen.Equal(want.LastSeen) || got.Count < want.Count || !slices.Equal(got.Exchanges, want.Exchanges) {
		t.Errorf("after replaying the older browser: last seen %s count %d exchanges %v, want %s, at least %d, %v",
			got.LastSeen, got.Count, got.Exchanges, want.LastSeen, want.Count, want.Exchanges)
	}
	if !got.FirstSeen.Equal(b.now.Add(-time.Minute)) {
		t.Errorf("first seen %s, want the older browser's %s", got.FirstSeen, b.now.Add(-time.Minute))
	}
}
