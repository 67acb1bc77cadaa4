package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/backend/redisstore"
	"github.com/sessionscope/sessionscope/inspector/backend/redisstore/redistest"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/tracker"
	"github.com/sessionscope/sessionscope/inspector/tracker/trackertest"
)

// watch runs an Inspector on the built-in framework table over a store opened by the
// test, until the test ends, recording what it emits. Sessions are named by store id.
func watch(t *testing.T, store *redisstore.Store) *trackertest.Watch {
	t.Helper()
	in := inspector.New(store, inspector.Config{Tracker: tracker.Config{Matcher: framework.NewMatcher(framework.Builtin())}})
	return trackertest.Start(t, in, model.Ref)
}

// open opens a store on the built-in framework table, closed when the test ends.
func open(t *testing.T, cfg redisstore.Config) *redisstore.Store {
	t.Helper()
	cfg.Matcher = framework.NewMatcher(framework.Builtin())
	store, err := redisstore.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open %s: %v", redisstore.Redact(cfg.URL), err)
	}
	t.Cleanup(func() { _ = store.Close() })
	return store
}

// aclUser creates user ro with password pw and rule through the admin (default)
// user, and returns its URL for db.
func aclUser(t *testing.T, srv *redistest.Server, db int, rule []string) string {
	t.Helper()
	srv.Do(t, append([]string{"ACL", "SETUSER", "ro", "reset", "on", ">pw"}, rule...)...)
	return fmt.Sprintf("redis://ro:pw@%s/%d", srv.Addr, db)
}

func without(rule []string, drop string) []string {
	var out []string
	for _, r := range rule {
		if r != drop {
			out = append(out, r)
		}
	}
	return out
}

// TestACLReadOnlyUser attaches as a user holding exactly the rule the README
// documents, on a db other than 0 (which needs +select and that db's channel
// pattern), and checks the inventory and the live stream both work under it.
func TestACLReadOnlyUser(t *testing.T) {
	const db = 3
	srv := redistest.Start(t, redistest.Options{})
	rule := redisstore.ACLRule(db, framework.Builtin())
	url := aclUser(t, srv, db, rule)
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr, DB: db})
	t.Cleanup(func() { _ = admin.Close() })
	ctx := context.Background()
	if err := admin.Set(ctx, "PHPREDIS_SESSION:existing0001", "user|s:3:\"ann\";", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := admin.Set(ctx, "cache:not-a-session", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}

	// The rule really is read-only: the user cannot write a session key.
	ro := redis.NewClient(&redis.Options{Addr: srv.Addr, Username: "ro", Password: "pw", DB: db})
	t.Cleanup(func() { _ = ro.Close() })
	if err := ro.Set(ctx, "PHPREDIS_SESSION:x", "y", 0).Err(); err == nil || !strings.Contains(err.Error(), "NOPERM") {
		t.Fatalf("SET as the read-only user: %v, want NOPERM", err)
	}

	store := open(t, redisstore.Config{URL: url})
	w := watch(t, store)
	st := w.WaitLive()
	if st.Inventory.Sessions != 1 {
		t.Errorf("inventory found %d sessions, want 1 (the existing one)", st.Inventory.Sessions)
	}
	if n := store.Notifications(); n.Error != "" || n.Missing != "" {
		t.Errorf("notifications under the read-only user: %+v, want read and complete", n)
	}

	if err := redistest.SetEx(ctx, admin, "PHPREDIS_SESSION:fresh0000001", "user|s:3:\"bob\";", time.Hour); err != nil {
		t.Fatal(err)
	}
	created := w.WaitEvent(model.KindCreated, "fresh0000001")
	if created.Size == nil || *created.Size == 0 {
		t.Errorf("created event without a size: the payload read was refused? %+v", created)
	}
	if err := admin.Del(ctx, "PHPREDIS_SESSION:fresh0000001").Err(); err != nil {
		t.Fatal(err)
	}
	w.WaitEvent(model.KindDestroyed, "fresh0000001")
}

// TestACLConfigureNotificationsRefused: the one write sessionscope can do is refused
// to the read-only user, with a message naming the permission, and the server's flags
// stay as they were.
func TestACLConfigureNotificationsRefused(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{Notifications: "off"})
	url := aclUser(t, srv, 0, redisstore.ACLRule(0, framework.Builtin()))
	ctx := context.Background()
	store := open(t, redisstore.Config{URL: url, ConfigureNotifications: true})
	n := store.CheckNotifications(ctx)
	for _, want := range []string{"--configure-notifications", "lacks +config|set", "CONFIG SET notify-keyspace-events"} {
		if !strings.Contains(n.Error, want) {
			t.Errorf("notifications error %q lacks %q", n.Error, want)
		}
	}
	if strings.Contains(n.Error, "\n") {
		t.Errorf("notifications error is not one line: %q", n.Error)
	}
	if got := srv.Do(t, "CONFIG", "GET", "notify-keyspace-events"); got != "notify-keyspace-events\n" {
		t.Errorf("the server's flags changed: %q", got)
	}
}

// TestACLWithoutConfigGet: a user without +config|get is told so, and sessionscope
// still sees sessions created when the flags are already on: live with --mode
// notify, by polling in the default auto mode (it cannot confirm the flags).
func TestACLWithoutConfigGet(t *testing.T) {
	for _, mode := range []string{redisstore.ModeNotify, ""} {
		t.Run("mode "+mode, func(t *testing.T) {
			srv := redistest.Start(t, redistest.Options{})
			url := aclUser(t, srv, 0, without(redisstore.ACLRule(0, framework.Builtin()), "+config|get"))
			store := open(t, redisstore.Config{URL: url, Mode: mode})
			w := watch(t, store)
			w.WaitLive()
			n := store.Notifications()
			for _, want := range []string{"lacks +config|get", "add it, or run with notifications already configured"} {
				if !strings.Contains(n.Error, want) {
					t.Errorf("notifications error %q lacks %q", n.Error, want)
				}
			}
			srv.Do(t, "SET", "sess:abcdefghijkl", `{"cookie":{}}`, "EX", "60")
			w.WaitEvent(model.KindCreated, "abcdefghijkl")
		})
	}
}

// TestACLChannelPattern: without the keyevent channel pattern of the db, the
// subscription is refused with the exact pattern to grant. &__keyevent@*__:* is not
// enough: Redis 7 compares PSUBSCRIBE patterns literally.
func TestACLChannelPattern(t *testing.T) {
	for _, tc := range []struct{ name, channels string }{
		{"none", ""},
		{"wildcard db", "&__keyevent@*__:*"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := redistest.Start(t, redistest.Options{})
			rule := without(redisstore.ACLRule(0, framework.Builtin()), "&__keyevent@0__:*")
			if tc.channels != "" {
				rule = append(rule, tc.channels)
			}
			url := aclUser(t, srv, 0, rule)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			store := open(t, redisstore.Config{URL: url})
			in := inspector.New(store, inspector.Config{Tracker: tracker.Config{Matcher: framework.NewMatcher(framework.Builtin())}})
			err := in.Run(ctx)
			var perm *redisstore.PermError
			if !errors.As(err, &perm) || perm.Need != "+psubscribe and the channel pattern &__keyevent@0__:*" {
				t.Fatalf("run: %v, want a PermError naming the channel pattern", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

// TestACLKeyPatternMissing: a session prefix outside the user's key patterns makes
// the inventory's reads fail, and the status says read access to the keys is missing.
func TestACLKeyPatternMissing(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	rule := []string{"resetkeys", "%R~sess:*", "resetchannels", "&__keyevent@0__:*",
		"-@all", "+@read", "+@connection", "+psubscribe", "+config|get"}
	url := aclUser(t, srv, 0, rule)
	srv.Do(t, "SET", "PHPREDIS_SESSION:outside00001", "a|i:1;")
	store := open(t, redisstore.Config{URL: url})
	w := watch(t, store)
	w.Wait("a status saying the inventory's reads were refused", func(o model.Object) bool {
		s, ok := o.(*model.Status)
		return ok && strings.Contains(s.Message, "lacks read access to the session keys")
	})
}
