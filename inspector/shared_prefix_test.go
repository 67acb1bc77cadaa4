package inspector_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/tracker/trackertest"
)

// Payloads as the stores write them. express-session's cookie serialises
// originalMaxAge first, @fastify/session's expires first; Flask-Session pickles,
// django-redis-sessions writes Django's signed session string.
const (
	expressPayload = `{"cookie":{"originalMaxAge":86400000,"expires":"2026-12-08T10:00:00.000Z","httpOnly":true,"path":"/"},"cart":3}`
	fastifyPayload = `{"cookie":{"expires":"2026-12-08T10:00:00.000Z","originalMaxAge":86400000,"httpOnly":true,"path":"/"},"cart":3}`
	fastifyLogin   = `{"cookie":{"expires":"2026-12-08T10:00:00.000Z","originalMaxAge":86400000,"httpOnly":true,"path":"/"},"cart":3,"userId":42}`
	flaskPickle    = "\x80\x04\x95\x1d\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x04cart\x94K\x03\x8c\x08_user_id\x94\x8c\x0242\x94u."
	djangoSigned   = "eyJjYXJ0IjozLCJfYXV0aF91c2VyX2lkIjoiNDIifQ:1tQx1a:Yv6m2bQbS0m0cM6m3bJ2hQk1x8o"
)

// TestSharedPrefixNamedByPayload: where two built-in rows default to one prefix, the
// payload names the framework, in events and in the session table; pairing still
// links a login's two keys (they share the prefix); a --prefix the user gives is
// never second-guessed.
func TestSharedPrefixNamedByPayload(t *testing.T) {
	t.Parallel()
	t.Run("builtin", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOptions{})
		h.WaitLive()
		const ex, fa, fl, dj = "sess:sharedexpress0000000001", "sess:sharedfastify0000000001", "session:sharedflask000000001", "session:shareddjango00000001"
		h.do("SET", ex, expressPayload, "EX", 600)
		h.do("SET", fa, fastifyPayload, "EX", 600)
		h.do("SET", fl, flaskPickle, "EX", 600)
		h.do("SET", dj, djangoSigned, "EX", 600)
		for key, want := range map[string]string{ex: "express", fa: "fastify", fl: "flask", dj: "django"} {
			ev := h.WaitEvent(model.KindCreated, key)
			if ev.Session.Framework != want {
				t.Errorf("%s: created as %q, want %q", key, ev.Session.Framework, want)
			}
			d, err := h.in.Session(ev.Session.Ref)
			if err != nil || d.Row.Framework != want {
				t.Errorf("%s: the session table says %q (%v), want %q", key, d.Row.Framework, err, want)
			}
		}
		// A fastify login: the old key deleted, the new one written with the user.
		const fa2 = "sess:sharedfastify0000000002"
		h.do("DEL", fa)
		h.do("SET", fa2, fastifyLogin, "EX", 600)
		ev := h.WaitEvent(model.KindRegenerated, fa2)
		if ev.From == nil || ev.From.Ref != refOfKey(fa) || ev.Session.Framework != "fastify" || ev.From.Framework != "fastify" {
			t.Errorf("fastify login: %s from %+v as %q, want regenerated from %s, both fastify", ev.Kind, ev.From, ev.Session.Framework, refOfKey(fa))
		}
		if !ev.Authenticated {
			t.Errorf("fastify login: not authenticated after userId appeared")
		}
	})
	t.Run("the user's prefix wins", func(t *testing.T) {
		t.Parallel()
		custom, err := framework.ParsePrefix("django=session:")
		if err != nil {
			t.Fatal(err)
		}
		h := newHarness(t, harnessOptions{frameworks: append(framework.Builtin(), custom)})
		h.WaitLive()
		const fl = "session:sharedflask000000001"
		h.do("SET", fl, flaskPickle, "EX", 600)
		if ev := h.WaitEvent(model.KindCreated, fl); ev.Session.Framework != "django" {
			t.Errorf("with --prefix django=session:, a pickled session is named %q, want django", ev.Session.Framework)
		}
	})
}

// TestEmptyPrefixNeedsItsPayload: with --prefix koa= (koa-session's bare UUID keys),
// a UUID key is a session only when its payload is a JSON object. Another
// application's UUID-keyed data raises no event, written, touched or deleted.
func TestEmptyPrefixNeedsItsPayload(t *testing.T) {
	t.Parallel()
	koa, err := framework.ParsePrefix("koa=")
	if err != nil {
		t.Fatal(err)
	}
	fws := append(framework.Builtin(), koa)
	const (
		session = "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"
		other   = "0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d"
		// Written before sessionscope attaches: found by the inventory.
		oldSession = "11111111-2222-4333-8444-555555555555"
		oldOther   = "99999999-8888-4777-8666-555555555555"
	)
	h := newHarness(t, harnessOptions{frameworks: fws, before: func(h *harness) {
		h.do("SET", oldSession, `{"user":{"id":7},"_expire":1765000000000,"_maxAge":86400000}`, "EX", 600)
		h.do("SET", oldOther, "\x80\x04K\x07.", "EX", 600)
	}})
	h.WaitLive()
	ref := trackertest.KeyRef(framework.NewMatcher(fws))
	// The inventory takes a UUID key for a session only once its payload is read and
	// fits: the old session is in the table, logged in, the other application's key
	// is not.
	if !pollUntil(15*time.Second, func() bool {
		ok, err := h.in.Settled(context.Background())
		return err == nil && ok
	}) {
		t.Fatal("the inspector did not settle after the inventory")
	}
	if d, err := h.in.Session(ref(oldSession)); err != nil || d.Row.Framework != "koa" || !d.Row.Authenticated {
		t.Errorf("the koa session found by the inventory: %+v, %v; want it in the table as koa, authenticated", d.Row, err)
	}
	if d, err := h.in.Session(ref(oldOther)); err == nil {
		t.Errorf("the inventory took a UUID key holding a pickle for a koa session: %+v", d.Row)
	}
	h.do("SET", other, "\x00\x01binary job data", "EX", 600)
	h.do("EXPIRE", other, 900)
	h.do("SET", session, `{"cart":3,"_expire":1765000000000,"_maxAge":86400000}`, "PX", 86400000)
	// The session is taken for one once its payload is read: a UUID key deleted before
	// that can be read never is.
	h.Wait("the koa session's birth", func(o model.Object) bool {
		e, ok := o.(*model.Event)
		return ok && e.Kind == model.KindCreated && e.Session != nil && e.Session.Ref == ref(session)
	})
	// koa-session rewrites _expire on every save: bookkeeping, so a save that changed
	// nothing else is a touch.
	h.do("SET", session, `{"cart":3,"_expire":1765000900000,"_maxAge":86400000}`, "PX", 86400000)
	h.Wait("the koa session's save", func(o model.Object) bool {
		e, ok := o.(*model.Event)
		return ok && e.Kind != model.KindCreated && e.Session != nil && e.Session.Ref == ref(session)
	})
	h.do("DEL", other)
	h.do("DEL", session)
	// The session's end follows everything done to the other key: once it is out,
	// any event of the other key would be too (events leave in time order).
	h.Wait("the koa session's end", func(o model.Object) bool {
		e, ok := o.(*model.Event)
		return ok && e.Kind == model.KindDestroyed && e.Session != nil && e.Session.Ref == ref(session)
	})
	var got []string
	for _, o := range h.Objects() {
		if e, ok := o.(*model.Event); ok && e.Session != nil {
			if e.Session.Ref == ref(other) {
				t.Errorf("an event for the non-session UUID key: %s", e.Kind)
			}
			if e.Session.Ref == ref(session) {
				got = append(got, string(e.Kind)+"/"+e.Session.Framework)
			}
		}
	}
	if want := []string{"created/koa", "touched/koa", "destroyed/koa"}; !slices.Equal(got, want) {
		t.Errorf("koa session events %v, want %v", got, want)
	}
}
