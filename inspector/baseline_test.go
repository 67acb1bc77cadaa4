package inspector_test

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// TestAttachToLoggedInSessionsIsNotFixation attaches to a Redis that already holds
// logged-in sessions, as on staging, and lets the app rewrite some of them. Their first
// read is a baseline: the login happened before sessionscope looked, so nothing may be
// reported as a login that kept its id.
func TestAttachToLoggedInSessionsIsNotFixation(t *testing.T) {
	const existing, rewritten = 10000, 100
	ids := make([]string, existing)
	h := newHarness(t, harnessOptions{before: func(h *harness) {
		ctx := context.Background()
		for i := range ids {
			ids[i] = phpSessionID()
		}
		for start := 0; start < existing; start += 1000 {
			_, err := h.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				for _, id := range ids[start : start+1000] {
					p.Do(ctx, "SETEX", "PHPREDIS_SESSION:"+id, 1440, "csrf|"+phpString("tok")+"user_id|i:42;")
				}
				return nil
			})
			if err != nil {
				t.Fatalf("seed the logged-in sessions: %v", err)
			}
		}
	}})
	h.WaitLive()
	for _, id := range ids[:rewritten] {
		h.do("SETEX", "PHPREDIS_SESSION:"+id, 1440, "csrf|"+phpString("tok")+"user_id|i:42;cart|i:3;")
	}
	for _, id := range ids[:rewritten] {
		h.WaitEvent(model.KindUpdated, "PHPREDIS_SESSION:"+id)
	}
	// Settled waits for every decision the rules still owe, fixation's included (it
	// holds a login back for a few seconds in case a regeneration follows).
	deadline := time.Now().Add(time.Minute) // only turns a hang into a failure
	for {
		ok, err := h.in.Settled(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the inspector never settled")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, f := range h.in.Findings() {
		t.Errorf("finding %s (%s): %s", f.Rule, f.Severity, f.Detail)
	}
}

// phpSessionID is a PHP-style session id: 26 characters of [0-9a-v], random.
func phpSessionID() string {
	const chars = "0123456789abcdefghijklmnopqrstuv"
	b := make([]byte, 26)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = chars[b[i]&31]
	}
	return string(b)
}
