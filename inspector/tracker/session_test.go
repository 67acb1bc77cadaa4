package tracker

import (
	"testing"

	"github.com/sessionscope/sessionscope/inspector/codec"
	"github.com/sessionscope/sessionscope/inspector/framework"
)

func decoded(t *testing.T, fw *framework.Framework, data string) *cachedPayload {
	t.Helper()
	p, err := codec.Decode(fw.Format, []byte(data), codec.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return newCached("k", p, fw, DefaultAuthMarkers)
}

func TestCarriesAndChanged(t *testing.T) {
	php := &framework.Builtin()[0]
	anon := decoded(t, php, `csrf|s:3:"abc";`)
	user := decoded(t, php, `csrf|s:3:"abc";user_id|i:42;`)
	other := decoded(t, php, `csrf|s:3:"xyz";user_id|i:42;`)
	empty := decoded(t, php, ``)
	if !carries(user, anon) || carries(anon, user) || carries(other, anon) {
		t.Error("carries: the new payload must hold every old field with the same value")
	}
	if carries(user, empty) || carries(empty, empty) {
		t.Error("an empty payload identifies nothing and must never match")
	}
	changed, added := changedFields(anon, user)
	if len(changed) != 1 || changed[0] != "user_id" || len(added) != 1 {
		t.Errorf("changed %v added %v", changed, added)
	}
	if !user.auth || anon.auth {
		t.Error("user_id is an auth marker")
	}
}

func TestExpressCookieIsBookkeeping(t *testing.T) {
	var express *framework.Framework
	for _, fw := range framework.Builtin() {
		if fw.Name == "express" {
			fw := fw
			express = &fw
		}
	}
	a := decoded(t, express, `{"cookie":{"expires":"2026-11-23T01:00:00.000Z","path":"/"},"csrf":"t"}`)
	b := decoded(t, express, `{"cookie":{"expires":"2026-11-23T01:00:09.000Z","path":"/"},"csrf":"t"}`)
	if changed, _ := changedFields(a, b); len(changed) != 0 {
		t.Errorf("a new cookie expiry is a touch, not a change: %v", changed)
	}
	c := decoded(t, express, `{"cookie":{"path":"/"},"passport":{"user":"42"}}`)
	if !c.auth {
		t.Error("passport.user is an auth marker")
	}
}

func TestPayloadCacheIsBounded(t *testing.T) {
	sessions := newSessionTable()
	pc := newPayloadCache(1000, sessions)
	var all []*session
	for i := 0; i < 20; i++ {
		s := &session{key: string(rune('a' + i))}
		sessions.put(s)
		c := &cachedPayload{key: s.key, bytes: 300}
		pc.put(s, c)
		all = append(all, s)
	}
	if pc.used > 1000 {
		t.Errorf("cache holds %d bytes, limit 1000", pc.used)
	}
	if all[19].payload == nil || all[0].payload != nil {
		t.Error("the most recent payload must stay and the oldest go")
	}
	pc.drop(all[19])
	if all[19].payload != nil || pc.used < 0 {
		t.Errorf("drop: used %d", pc.used)
	}
}

// TestAuthMarkersOfOtherFrameworks: Flask-Login's _user_id and warden's user key (a
// Rails session's top-level "warden.user.user.key", in real Marshal bytes) mark a
// login; a CSRF token alone does not.
func TestAuthMarkersOfOtherFrameworks(t *testing.T) {
	var rails *framework.Framework
	for i, fw := range framework.Builtin() {
		if fw.Name == "rails" && fw.Variant == "redis-rack" {
			rails = &framework.Builtin()[i]
		}
	}
	if rails == nil {
		t.Fatal("no redis-rack row in the builtin table")
	}
	// ruby -e 'print Marshal.dump({"warden.user.user.key"=>[[7], "salt"], "_csrf_token"=>"t"})'
	warden := "\x04\b{\aI\"\x19warden.user.user.key\x06:\x06ET[\a[\x06i\fI\"\tsalt\x06;\x00TI\"\x10_csrf_token\x06;\x00TI\"\x06t\x06;\x00T"
	// ruby -e 'print Marshal.dump({"_csrf_token"=>"t"})'
	anonymous := "\x04\b{\x06I\"\x10_csrf_token\x06:\x06ETI\"\x06t\x06;\x00T"
	if !decoded(t, rails, warden).auth {
		t.Error("warden.user.user.key is a login")
	}
	if decoded(t, rails, anonymous).auth {
		t.Error("a CSRF token alone is not a login")
	}
	// {"_user_id": "42", "_fresh": true} as Flask-Session's JSON-like payloads decode.
	express := &framework.Builtin()[0]
	for _, fw := range framework.Builtin() {
		if fw.Name == "express" {
			express = &fw
		}
	}
	if !decoded(t, express, `{"cookie":{},"_user_id":"42","_fresh":true}`).auth {
		t.Error("_user_id (Flask-Login) is a login")
	}
}
