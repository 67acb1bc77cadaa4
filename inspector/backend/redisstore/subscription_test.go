package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionscope/sessionscope/inspector/backend"
	"github.com/sessionscope/sessionscope/inspector/backend/redisstore"
	"github.com/sessionscope/sessionscope/inspector/backend/redisstore/redistest"
	"github.com/sessionscope/sessionscope/inspector/framework"
)

// TestSubscriptionProtocols reads the same command over RESP2 (arrays) and RESP3
// (push frames): the subscription parses both itself, and both group SETEX's three
// notifications as one command.
func TestSubscriptionProtocols(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	for _, proto := range []string{"2", "3"} {
		t.Run("RESP"+proto, func(t *testing.T) {
			feed, rdb := runStore(t, srv.URL()+"?protocol="+proto, srv.Addr)
			key := "PHPREDIS_SESSION:proto" + proto + "00000000000000000000001"
			if err := rdb.Do(context.Background(), "SETEX", key, 60, "x|i:1;").Err(); err != nil {
				t.Fatal(err)
			}
			got := nextOps(t, feed, key, 3)
			want := []string{"new", "set+", "expire+"}
			if len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
				t.Errorf("notifications %q, want %q", got, want)
			}
		})
	}
}

// TestSubscriptionReconnects kills the subscription's connection: the reader reports
// a gap (what was published meanwhile is lost), subscribes again on a connection
// go-redis dials and authenticates, and reads on.
func TestSubscriptionReconnects(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	feed, rdb := runStore(t, srv.URL(), srv.Addr)
	ctx := context.Background()
	if err := rdb.Do(ctx, "CLIENT", "KILL", "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(time.Minute)
	for gap := false; !gap; {
		select {
		case ev := <-feed.Raw:
			gap = ev.Op == backend.OpGap
		case <-feed.Status:
		case <-feed.Inventory:
		case <-feed.Resync:
		case <-deadline:
			t.Fatal("no gap within a minute of the subscription's connection being killed")
		}
	}
	// The gap is pushed once the subscription is confirmed again: what follows is read.
	key := "PHPREDIS_SESSION:reconnect000000000000000001"
	if err := rdb.Do(ctx, "SETEX", key, 60, "x|i:1;").Err(); err != nil {
		t.Fatal(err)
	}
	if got := nextOps(t, feed, key, 3); len(got) != 3 {
		t.Errorf("after the reconnect: %q", got)
	}
}

// runStore runs a store on url until the test ends and waits until it is live.
func runStore(t *testing.T, url, addr string) (backend.Feed, *redis.Client) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	store, err := redisstore.Open(ctx, redisstore.Config{URL: url, Matcher: framework.NewMatcher(framework.Builtin())})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	feed := backend.NewFeed(1 << 12)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = store.Run(ctx, feed)
	}()
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() {
		cancel()
		<-done
		_ = store.Close()
		_ = rdb.Close()
	})
	waitLive(t, feed)
	return feed, rdb
}

// nextOps reads the feed until n notifications of key arrived, and names them with
// "+" for those that continue the one before.
func nextOps(t *testing.T, feed backend.Feed, key string, n int) []string {
	t.Helper()
	var ops []string
	deadline := time.After(time.Minute)
	for len(ops) < n {
		select {
		case ev := <-feed.Raw:
			if ev.Key != key {
				continue
			}
			op := ev.Op.String()
			if ev.Continues {
				op += "+"
			}
			ops = append(ops, op)
		case <-feed.Status:
		case <-feed.Inventory:
		case <-feed.Resync:
		case <-deadline:
			t.Fatalf("notifications of %s after a minute: %q", key, ops)
		}
	}
	return ops
}
