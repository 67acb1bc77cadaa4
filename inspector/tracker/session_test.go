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
	sessions := map[string]*session{}
	pc := newPayloadCache(1000, sessions)
	php := &framework.Builtin()[0]
	var all []*session
	for i := 0; i < 20; i++ {
		s := &session{key: string(rune('a' + i)), fw: php}
		sessions[s.key] = s
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
