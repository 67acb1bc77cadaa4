package redisstore

import (
	"context"
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/sessionscope/sessionscope/inspector/backend/redisstore/redistest"
	"github.com/sessionscope/sessionscope/inspector/framework"
)

// TestScanEstimate: an unfiltered inventory takes DBSIZE as the total it expects to
// walk (for the progress bar's share and ETA); a MATCH scan has no such total.
func TestScanEstimate(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	ctx := context.Background()
	for i := range 25 {
		if err := rdb.Set(ctx, fmt.Sprintf("PHPREDIS_SESSION:est%02d", i), "x", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 7 { // not sessions, but the scan walks them too
		if err := rdb.Set(ctx, fmt.Sprintf("cache:%d", i), "x", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	s, err := Open(ctx, Config{URL: srv.URL(), Matcher: framework.NewMatcher(framework.Builtin())})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.scanEstimate(ctx, ""); got != 32 {
		t.Errorf("estimate for a full scan %d, want 32 (DBSIZE)", got)
	}
	if got := s.scanEstimate(ctx, "PHPREDIS_SESSION:*"); got != 0 {
		t.Errorf("estimate for a MATCH scan %d, want 0 (unknown)", got)
	}
}
