package redisstore_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
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
	feed := runLiveStore(t, srv.URL())

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

// runLiveStore runs a store on url with the builtin frameworks until the test ends,
// and returns its feed once it is live.
func runLiveStore(t *testing.T, url string) backend.Feed {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	store, err := redisstore.Open(ctx, redisstore.Config{URL: url, Matcher: framework.NewMatcher(framework.Builtin())})
	if err != nil {
		cancel()
		t.Fatalf("open: %v", err)
	}
	feed := backend.NewFeed(1 << 12)
	done := make(chan struct{})
	go func() { defer close(done); _ = store.Run(ctx, feed) }()
	t.Cleanup(func() { cancel(); <-done; _ = store.Close() })
	waitLive(t, feed)
	return feed
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

// TestCommandSplitAcrossReads: a read of the subscription may end inside a frame. Here
// a relay between Redis and the store cuts SETEX's notifications inside its expire and
// holds the rest back past ttlGap, as a reader descheduled between two reads does on
// a busy machine. The expire began in the same write as the set: it is still part of
// the SETEX, not a touch of its own.
func TestCommandSplitAcrossReads(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	relay := splittingRelay(t, srv.Addr, []byte("__keyevent@0__:exp"), 3*ttlGapForTests)
	feed := runLiveStore(t, "redis://"+relay)

	const key = "PHPREDIS_SESSION:splitread00000000000000001"
	srv.Do(t, "SETEX", key, "60", "x|i:1;")
	ops := nextOps(t, feed, key, 3)
	if got := strings.Join(ops, " "); got != "new set+ expire+" {
		t.Errorf("SETEX's notifications read across two reads: %q, want one command (new set+ expire+)", got)
	}
}

// ttlGapForTests is backend's ttlGap (unexported): the relay holds the rest of a frame
// back longer than it.
const ttlGapForTests = 50 * time.Millisecond

// splittingRelay relays TCP to addr. Where a chunk from the server holds cut, it sends
// the chunk up to the middle of cut, then the rest after hold. It returns its address.
func splittingRelay(t *testing.T, addr string, cut []byte, hold time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", addr)
			if err != nil {
				_ = client.Close()
				continue
			}
			t.Cleanup(func() { _ = client.Close(); _ = server.Close() })
			go func() { _, _ = io.Copy(server, client) }()
			go func() {
				buf := make([]byte, 64<<10)
				for {
					n, err := server.Read(buf)
					chunk := buf[:n]
					if i := bytes.Index(chunk, cut); i >= 0 {
						mid := i + len(cut)/2
						if _, err := client.Write(chunk[:mid]); err != nil {
							return
						}
						time.Sleep(hold) // the scenario: the rest of the frame comes later
						chunk = chunk[mid:]
					}
					if _, werr := client.Write(chunk); werr != nil || err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}
