package handlers_test

import (
	"net/http"
	"testing"

	"github.com/sessionscope/sessionscope/inspector/traffic/traffictest"
)

// TestFrameworkPayloadsPython: Django's (django-redis' cache backend and
// django-redis-sessions) and Flask-Session's real session layers. django-redis-sessions
// and Flask-Session both default to session: keys, so the builtin table must tell
// them apart by payload; a --prefix naming django must win outright.
func TestFrameworkPayloadsPython(t *testing.T) {
	for name, fc := range map[string]frameworkCase{
		"django-redis": {start: traffictest.StartDjango, name: "django", authField: "_auth_user_id", loginStatus: http.StatusFound},
		"django-redis-sessions": {start: traffictest.StartDjangoRedisSessions, name: "django", authField: "_auth_user_id",
			loginStatus: http.StatusFound},
		"django-redis-sessions prefix": {start: traffictest.StartDjangoRedisSessions, prefixes: []string{"django=session:"},
			name: "django", authField: "_auth_user_id", loginStatus: http.StatusFound},
		"flask": {start: traffictest.StartFlask, name: "flask", authField: "_user_id", loginStatus: http.StatusFound},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			checkFrameworkPayloads(t, fc)
		})
	}
}
