package inspector_test

import (
	"testing"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// TestLogoutThatStartsAFreshSession replays what Laravel's invalidate() and Rails'
// reset_session do at logout, in phpredis' format: DEL of the logged-in session, then
// SETEX of a new anonymous one carrying none of the user's data. That is the old
// session's end and a new session's birth, not a regeneration. The login before it,
// DEL of the anonymous session and SETEX of a logged-in one, stays a regeneration.
func TestLogoutThatStartsAFreshSession(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.WaitLive()
	const (
		anon    = "PHPREDIS_SESSION:logoutanon000000000000000"
		user    = "PHPREDIS_SESSION:logoutuser000000000000000"
		after   = "PHPREDIS_SESSION:logoutafter00000000000000"
		visitor = "csrf|s:3:\"aaa\";"
	)
	h.do("SETEX", anon, 1440, visitor)
	h.WaitEvent(model.KindCreated, anon)
	// Login: regenerate(true) keeps the visitor's data and adds the user.
	h.do("DEL", anon)
	h.do("SETEX", user, 1440, visitor+"user_id|i:42;cart|i:3;")
	login := h.WaitEvent(model.KindRegenerated, user)
	if login.From == nil || login.From.Ref != refOfKey(anon) {
		t.Fatalf("login: %+v, want regenerated from the anonymous session", login)
	}
	// Logout: the user's session is deleted and a fresh one starts with a new token.
	h.do("DEL", user)
	h.do("SETEX", after, 1440, "csrf|s:3:\"bbb\";")
	h.WaitEvent(model.KindDestroyed, user)
	born := h.WaitEvent(model.KindCreated, after)
	if born.From != nil {
		t.Errorf("the session after logout was linked to %s: %+v", born.From.Ref, born)
	}
	if got := kinds(h.Events(after)); got != "created" {
		t.Errorf("events of the new session: %s, want created", got)
	}
	if got := kinds(h.Events(user)); got != "regenerated destroyed" {
		t.Errorf("events of the logged-in session: %s, want regenerated destroyed", got)
	}
}
