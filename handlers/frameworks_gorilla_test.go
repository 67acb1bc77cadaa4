package handlers_test

import (
	"net/http"
	"testing"

	"github.com/sessionscope/sessionscope/inspector/traffic/traffictest"
)

// TestFrameworkPayloadsGorilla: gorilla/sessions with boj/redistore, whose gob
// payloads sessionscope reads as data.
func TestFrameworkPayloadsGorilla(t *testing.T) {
	checkFrameworkPayloads(t, frameworkCase{start: traffictest.StartGorilla, name: "gorilla", authField: "user_id", loginStatus: http.StatusFound})
}
