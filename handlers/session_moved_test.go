package handlers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/backend/redisstore/redistest"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/tracker"
	"github.com/sessionscope/sessionscope/ui/uitest"
)

// movedSource is the inspector of a process following part of a cluster (--nodes)
// after a slot migration carried one session's key to a master it does not follow:
// the tracker drops the session and remembers where it went (TestSlotMigrationPartial
// and TestClusterNodesSplitMigration cover that part with real trackers and a real
// cluster). Here only that outcome is set, on a real inspector that saw the session.
type movedSource struct {
	*inspector.Inspector
	ref  string
	fact tracker.EndedSession
}

func (m movedSource) Session(ref string) (tracker.SessionDetail, error) {
	if ref == m.ref {
		return tracker.SessionDetail{}, fmt.Errorf("session %s: %w", ref, tracker.ErrNotFound)
	}
	return m.Inspector.Session(ref)
}

func (m movedSource) EndedSession(ref string) (tracker.EndedSession, error) {
	if ref == m.ref {
		return m.fact, nil
	}
	return m.Inspector.EndedSession(ref)
}

// TestSessionMovedToAnotherMaster: the page and the API object of a session a slot
// migration carried to a master this process does not follow say where it went, not
// that it ended: it is alive, and its payload is there.
func TestSessionMovedToAnotherMaster(t *testing.T) {
	env := uitest.StartInspector(t, uitest.Options{})
	const key = "PHPREDIS_SESSION:movedaway0000000000000000001"
	ref := model.Ref(strings.TrimPrefix(key, "PHPREDIS_SESSION:"))
	if err := redistest.SetEx(context.Background(), env.RDB, key, `user_id|i:7;`, time.Hour); err != nil {
		t.Fatal(err)
	}
	env.WaitEvent(t, model.KindCreated, ref)
	d, err := env.In.Session(ref)
	if err != nil {
		t.Fatal(err)
	}
	const node = "10.0.0.2:7000"
	at := time.Now()
	app := newApp(t, movedSource{Inspector: env.In, ref: ref, fact: tracker.EndedSession{Row: d.Row, At: at, MovedToNode: node}}, false)

	doc := getPage(t, app, "/sessions/"+ref, 200)
	if got := uitest.Text(doc.One("session-ended")); !strings.Contains(got, "did not end") || !strings.Contains(got, "moved its key to master "+node) {
		t.Errorf("the page says %q; want that it did not end and moved to %s", got, node)
	}
	if got := uitest.Text(doc.One("ttl")); got != "on master "+node {
		t.Errorf("ttl %q; want on master %s", got, node)
	}
	if got := uitest.Text(doc.One("auth-until")); !strings.HasPrefix(got, "(when it moved at ") {
		t.Errorf("authenticated %q; want it as it was when it moved", got)
	}
	if body := uitest.Text(doc.One("session-detail")); strings.Contains(body, "gone with the session") || strings.Contains(body, "no longer in the store") {
		t.Errorf("the page says the session is gone: %q", body)
	}
	var api struct {
		Ended         any    `json:"ended"`
		PayloadUnread string `json:"payload_unread"`
		Moved         *struct {
			Node string    `json:"node"`
			Time time.Time `json:"time"`
		} `json:"moved"`
		Events []map[string]any `json:"events"`
	}
	getJSON(t, app, "/api/sessions/"+ref, 200, &api)
	if api.Moved == nil || api.Moved.Node != node || !api.Moved.Time.Equal(at.UTC().Round(0)) {
		t.Errorf("/api/sessions/%s moved %+v; want %s at %s", ref, api.Moved, node, at.UTC())
	}
	if api.Ended != nil || api.PayloadUnread != "" {
		t.Errorf("/api/sessions/%s: ended %v, payload_unread %q; want neither (it did not end, its payload is not gone)", ref, api.Ended, api.PayloadUnread)
	}
	if eventKinds(api.Events) != "created" {
		t.Errorf("events %q; want its birth", eventKinds(api.Events))
	}
}
