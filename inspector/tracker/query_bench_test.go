package tracker

import (
	"fmt"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/framework"
)

// tableOf builds a tracker holding n sessions without a store, as the inventory would.
func tableOf(b *testing.B, n int) *Tracker {
	b.Helper()
	fws := framework.Builtin()
	t := New(Config{Matcher: framework.NewMatcher(fws)}, nil, nil, nil)
	php := t.cfg.Matcher.Frameworks()[0]
	for _, fw := range t.cfg.Matcher.Frameworks() {
		if fw.Name == "php" {
			php = fw
		}
	}
	now := time.Now().UnixNano()
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("%026d", i)
		key := php.Prefix + id
		t.sessions.put(&session{key: key, fw: t.fwIndex(php), ref: refOf(id), size: int32(200 + i%1000),
			lastActivity: now - int64(i)*int64(time.Millisecond), ttlDeadline: now + int64(i%1440)*int64(time.Second)})
	}
	return t
}

// BenchmarkSessionsPage1M is the Sessions screen's server time with a million tracked
// sessions: one page of 50, newest activity first, and a filtered search.
func BenchmarkSessionsPage1M(b *testing.B) {
	t := tableOf(b, 1_000_000)
	for _, q := range []Query{
		{Sort: SortActivity, Limit: 50},
		{Sort: SortTTL, Limit: 50},
		{Text: "ref:00", Sort: SortSize, Limit: 50},
	} {
		b.Run(fmt.Sprintf("sort=%s/q=%q", q.Sort, q.Text), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				p, err := t.Sessions(q)
				if err != nil || len(p.Rows) == 0 {
					b.Fatalf("page: %v rows %d", err, len(p.Rows))
				}
			}
		})
	}
}
