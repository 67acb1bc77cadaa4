package diagnose

import (
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// TestSessionNotSharedTrustsALateRegeneration: a login on the second upstream that
// answers with a new id is that server knowing the session when the store says it
// regenerated the session into that id, however late the store's notification came
// (a loaded machine can date it after the response ended). A new id the store saw
// born on its own is still a server that did not know the session.
func TestSessionNotSharedTrustsALateRegeneration(t *testing.T) {
	t0 := time.Now()
	const oldRef, newRef = "aaaaaaaaaaaa", "bbbbbbbbbbbb"
	client := model.Client{Addr: "127.0.0.1:40000", UA: "Mozilla/5.0"}
	index := &model.Exchange{ID: "index", Start: t0, HeadersSent: t0.Add(5 * time.Millisecond), End: t0.Add(5 * time.Millisecond),
		Method: "GET", URL: "http://app.test/index.php", Status: 200, Client: client, Upstream: "10.0.0.1:80",
		SetCookies: []model.SetCookie{{Name: "PHPSESSID", SessionRef: oldRef}}}
	login := &model.Exchange{ID: "login", SessionRef: oldRef, Start: t0.Add(80 * time.Millisecond),
		HeadersSent: t0.Add(120 * time.Millisecond), End: t0.Add(120 * time.Millisecond), Method: "POST",
		URL: "http://app.test/login.php", Status: 302, Location: "/dashboard.php", Client: client, Upstream: "10.0.0.2:80",
		CookiesSent: []model.SentCookie{{Name: "PHPSESSID", SessionRef: oldRef}},
		SetCookies:  []model.SetCookie{{Name: "PHPSESSID", SessionRef: newRef}}}
	late := login.End.Add(26 * time.Millisecond)
	for _, tc := range []struct {
		name  string
		event *model.Event
		want  bool
	}{
		{"the store regenerated it into the new id, dated after the response", &model.Event{Kind: model.KindRegenerated, Time: late,
			Session: &model.SessionInfo{Ref: newRef}, From: &model.SessionInfo{Ref: oldRef}, Evidence: model.EvidenceHTTP}, false},
		{"the new id was born on its own", &model.Event{Kind: model.KindCreated, Time: late,
			Session: &model.SessionInfo{Ref: newRef}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := NewEngine(Config{})
			e.OnEvent(&model.Event{Kind: model.KindCreated, Time: t0.Add(3 * time.Millisecond), Session: &model.SessionInfo{Ref: oldRef}})
			e.OnExchange(index)
			e.OnExchange(login)
			e.OnEvent(tc.event)
			e.Tick(login.End.Add(10 * time.Second))
			got := false
			for _, f := range e.Findings() {
				got = got || f.Rule == "session-not-shared"
			}
			if got != tc.want {
				t.Fatalf("session-not-shared reported: %v, want %v (findings %v)", got, tc.want, e.Findings())
			}
		})
	}
}
