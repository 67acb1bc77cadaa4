package redisstore

import (
	"testing"
	"time"
)

// TestBackoffDoublesToCap: reconnect attempts start fast, double, and never wait more
// than backoffMax, so a restarted Redis is found within a few seconds.
func TestBackoffDoublesToCap(t *testing.T) {
	var b backoff
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond,
		1600 * time.Millisecond, 3200 * time.Millisecond, 4 * time.Second, 4 * time.Second}
	for i, w := range want {
		if got := b.next(); got != w {
			t.Errorf("attempt %d: wait %s, want %s", i+1, got, w)
		}
	}
	b = backoff{}
	if got := b.next(); got != backoffMin {
		t.Errorf("after a reset: %s, want %s", got, backoffMin)
	}
}
