package redisstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionscope/sessionscope/inspector/backend"
	"github.com/sessionscope/sessionscope/inspector/backend/redisstore"
	"github.com/sessionscope/sessionscope/inspector/backend/redisstore/redistest"
	"github.com/sessionscope/sessionscope/inspector/framework"
)

// TestOneCommandIsOneGroup runs commands against a real redis-server and checks how
// the store marks the notifications Redis publishes for them: the second and later
// notifications of one command continue it (Continues), and every other command
// starts a group of its own, however soon it follows, when it is not the TTL of the
// write just before it. A command on a key outside the session prefixes, between
// two, breaks the adjacency although the store filters its notification out.
func TestOneCommandIsOneGroup(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	store, err := redisstore.Open(ctx, redisstore.Config{URL: srv.URL(), Matcher: framework.NewMatcher(framework.Builtin())})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer store.Close()
	feed := backend.NewFeed(1 << 12)
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _ = store.Run(rctx, feed) }()
	waitLive(t, feed)

	const a, b, c = "PHPREDIS_SESSION:groupa000000000000000000001", "PHPREDIS_SESSION:groupb000000000000000000001", "PHPREDIS_SESSION:groupc000000000000000000001"
	do := func(args ...any) {
		t.Helper()
		if err := rdb.Do(ctx, args...).Err(); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	do("SETEX", a, 60, "x|i:1;")                                    // new set expire: one group
	do("SET", a, "x|i:2;", "EX", 60)                                // set expire: one group
	do("EXPIRE", a, 60)                                             // a touch: its own group
	do("EXPIRE", a, 60)                                             // another touch
	do("SET", b, "x|i:1;")                                          // new set
	do("SET", "cache:other", "1")                                   // another key's command in between
	do("EXPIRE", b, 60)                                             // not b's SET's TTL any more
	do("HSET", c, "f", "v")                                         // new hset
	do("RENAME", c, "PHPREDIS_SESSION:groupd000000000000000000001") // new rename_from rename_to
	do("DEL", a)                                                    // del
	do("SETEX", b, 60, "x|i:3;")                                    // set expire (b exists: no new)
	// The stream is read in order: once the marker's notification is in, every
	// notification of the commands before it is too.
	const marker = "PHPREDIS_SESSION:groupz000000000000000000001"
	do("SET", marker, "x|i:1;")
	want := []string{
		"new:a set+:a expire+:a", "set:a expire+:a", "expire:a", "expire:a",
		"new:b set+:b", "expire:b",
		"new:c hset+:c",
		"new:d rename_from+:c rename_to+:d",
		"del:a", "set:b expire+:b",
	}
	short := func(key string) string {
		return strings.TrimRight(strings.TrimPrefix(key, "PHPREDIS_SESSION:group"), "0123456789")
	}
	var groups []string
	deadline := time.After(time.Minute)
	for done := false; !done; {
		select {
		case ev := <-feed.Raw:
			if ev.Key == marker {
				done = true
				continue
			}
			part := fmt.Sprintf("%s:%s", ev.Op, short(ev.Key))
			if ev.Continues {
				if len(groups) == 0 {
					t.Fatalf("the first notification continues nothing: %+v", ev)
				}
				part = fmt.Sprintf("%s+:%s", ev.Op, short(ev.Key))
				groups[len(groups)-1] += " " + part
				continue
			}
			groups = append(groups, part)
		case <-feed.Status:
		case <-deadline:
			t.Fatalf("groups after a minute: %q, want %q", groups, want)
		}
	}
	if strings.Join(groups, " | ") != strings.Join(want, " | ") {
		t.Errorf("groups\n %q\nwant\n %q", groups, want)
	}
}

// TestCommandGrouperGap: an EXPIRE arriving well after the SET before it is a touch of
// its own; a command's own notifications stay together whatever the time.
func TestCommandGrouperGap(t *testing.T) {
	var g backend.CommandGrouper
	t0 := time.Unix(1000, 0)
	if g.Next(backend.OpSet, "k", t0, false) {
		t.Fatal("the first notification continued something")
	}
	if g.Next(backend.OpExpire, "k", t0.Add(80*time.Millisecond), false) {
		t.Error("an EXPIRE 80 ms after the SET joined it")
	}
	g.Next(backend.OpSet, "k", t0.Add(100*time.Millisecond), false)
	if !g.Next(backend.OpExpire, "k", t0.Add(180*time.Millisecond), true) {
		t.Error("an EXPIRE read from the same buffer as the SET did not join it, 80 ms later (a descheduled reader)")
	}
	g.Next(backend.OpNew, "n", t0.Add(200*time.Millisecond), false)
	if !g.Next(backend.OpSet, "n", t0.Add(400*time.Millisecond), false) {
		t.Error("a SET after its key's new, however late it was read, did not join it")
	}
	g.Next(backend.OpSet, "k", t0.Add(time.Second), false)
	if !g.Next(backend.OpExpire, "k", t0.Add(time.Second+time.Millisecond), false) {
		t.Error("the EXPIRE right after the SET did not join it")
	}
	if g.Next(backend.OpExpire, "k", t0.Add(time.Second+2*time.Millisecond), true) {
		t.Error("a second EXPIRE joined: no command publishes two")
	}
}

func waitLive(t *testing.T, feed backend.Feed) {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		select {
		case st := <-feed.Status:
			if st.State == "live" {
				return
			}
		case <-deadline:
			t.Fatal("the store did not go live within a minute")
		}
	}
}
