package diagnose

import (
	"strings"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// TestFixationLoginsTheTrackerCannotMark: the logins that reach the rule without
// AuthAdded, and the writes that look like them but are not logins.
func TestFixationLoginsTheTrackerCannotMark(t *testing.T) {
	at := time.Unix(3000, 0)
	sess := &model.SessionInfo{Ref: "aaaaaaaaaaaa", Framework: "php", KeyPrefix: "PHPREDIS_SESSION:"}
	other := &model.SessionInfo{Ref: "bbbbbbbbbbbb", Framework: "php", KeyPrefix: "PHPREDIS_SESSION:"}
	created := func(seq uint64, unread string, exchange string) *model.Event {
		return &model.Event{Seq: seq, Time: at, Kind: model.KindCreated, Session: sess, PayloadUnread: unread, Exchange: exchange}
	}
	updated := func(seq uint64, authenticated bool, exchange string, changed ...string) *model.Event {
		return &model.Event{Seq: seq, Time: at.Add(time.Duration(seq) * 10 * time.Millisecond), Kind: model.KindUpdated, Session: sess,
			Authenticated: authenticated, Exchange: exchange, Changed: changed}
	}
	for _, tc := range []struct {
		name   string
		events []*model.Event
		want   bool
	}{
		{"the form posted within the window: creation unread, login on the next request",
			[]*model.Event{created(1, model.UnreadSuperseded, "x-1"), updated(2, true, "x-2")}, true},
		{"creation unread, authenticated on the creating request: maybe born logged in",
			[]*model.Event{created(1, model.UnreadSuperseded, "x-1"), updated(2, true, "x-1")}, false},
		{"creation unread, no exchange to tell the requests apart",
			[]*model.Event{created(1, model.UnreadSuperseded, ""), updated(2, true, "")}, false},
		{"a marker that held no identity gains one (preferences, then the login)",
			[]*model.Event{created(1, "", "x-1"), updated(2, false, "x-2", "user"), updated(3, true, "x-3", "user")}, true},
		{"preferences only", []*model.Event{created(1, "", "x-1"), updated(2, false, "x-2", "user")}, false},
		{"born logged in (a login that created its session)",
			[]*model.Event{{Seq: 1, Time: at, Kind: model.KindCreated, Session: sess, Authenticated: true, Exchange: "x-1"}, updated(2, true, "x-2", "cart")}, false},
		{"the anonymous session was replaced at login",
			[]*model.Event{created(1, "", "x-1"), {Seq: 2, Time: at, Kind: model.KindRegenerated, Session: other, From: sess, Authenticated: true}, updated(3, true, "x-3")}, false},
		{"an update whose payload was not read says nothing",
			[]*model.Event{created(1, "", "x-1"), {Seq: 2, Time: at, Kind: model.KindUpdated, Session: sess, Authenticated: true, PayloadUnread: model.UnreadBudget}}, false},
		{"logged out, then logged in again on the same id",
			[]*model.Event{{Seq: 1, Time: at, Kind: model.KindCreated, Session: sess, Authenticated: true}, updated(2, false, "x-2", "user_id"), updated(3, true, "x-3", "user_id")}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := NewEngine(Config{Window: 100 * time.Millisecond})
			for _, ev := range tc.events {
				e.OnEvent(ev)
			}
			e.Tick(at.Add(time.Hour))
			var got []model.Finding
			for _, f := range e.Findings() {
				if f.Rule == "fixation" {
					got = append(got, f)
				}
			}
			if tc.want != (len(got) == 1) || len(got) > 1 {
				t.Fatalf("%d fixation findings, want a finding: %v: %+v", len(got), tc.want, got)
			}
			if tc.want && (len(got[0].Sessions) != 1 || got[0].Sessions[0] != sess.Ref || strings.Contains(got[0].Detail, "()")) {
				t.Errorf("finding %+v", got[0])
			}
		})
	}
}

// TestFixationRemembersABoundedNumberOfSessions: under any traffic the sessions the
// rule remembers stay bounded, and old ones are forgotten.
func TestFixationRemembersABoundedNumberOfSessions(t *testing.T) {
	r := newFixation(100 * time.Millisecond)
	at := time.Unix(4000, 0)
	for i := 0; i < maxAnonymous*2; i++ {
		ref := strings.Repeat("0", 6) + string(rune('a'+i%26)) + strings.Repeat("0", 5) + string(rune(i))
		r.OnEvent(&model.Event{Time: at, Kind: model.KindCreated, Session: &model.SessionInfo{Ref: ref}}, nil)
	}
	if len(r.anonymous) > maxAnonymous {
		t.Fatalf("%d sessions remembered, bound %d", len(r.anonymous), maxAnonymous)
	}
	r.Tick(at.Add(anonymousHorizon+time.Minute*2), nil)
	if len(r.anonymous) != 0 {
		t.Errorf("%d sessions remembered past the horizon", len(r.anonymous))
	}
}
