package handlers_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/tracker"
	"github.com/sessionscope/sessionscope/ui/uitest"
)

// TestStatusShowsBothInventoryPhases renders the Status screen and /api/status at each
// step of a two-phase inventory: listing, filling (every session listed, part of their
// TTL and size read), done; and a session listed but not filled, whose TTL and size
// the Sessions table says are not read yet rather than showing 0 or "no TTL".
func TestStatusShowsBothInventoryPhases(t *testing.T) {
	started := time.Now().Add(-5 * time.Second)
	listedAt := started.Add(2 * time.Second)
	filledAt := listedAt.Add(3 * time.Second)
	cases := []struct {
		name                string
		inv                 model.Inventory
		listed, filled      string // text the panel's rows must hold
		wantPhase, wantDone string
	}{
		{"listing", model.Inventory{Scanned: 4000, Sessions: 3000, Phase: model.InventoryList, StartedAt: &started},
			"listing (3000 so far)", "0 of 3000 read", model.InventoryList, "false"},
		{"filling", model.Inventory{Scanned: 10000, Sessions: 9000, Filled: 4000, Phase: model.InventoryFill, StartedAt: &started, ListedAt: &listedAt},
			"every session listed in 2.00 s", "4000 of 9000 read", model.InventoryFill, "false"},
		{"done", model.Inventory{Scanned: 10000, Sessions: 9000, Filled: 9000, Phase: model.InventoryDone, Done: true, StartedAt: &started,
			ListedAt: &listedAt, FilledAt: &filledAt}, "every session listed in 2.00 s", "9000 of 9000 read in 3.00 s", model.InventoryDone, "true"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := newFakeSource()
			inv := tc.inv
			src.status.Last.State = model.StateInventory
			src.status.Last.Inventory = &inv
			app := newApp(t, src, false)
			doc := getPage(t, app, "/status", 200)
			panel := doc.One("inventory")
			if phase, _ := uitest.Attr(panel, "data-phase"); phase != tc.wantPhase {
				t.Errorf("data-phase %q, want %q", phase, tc.wantPhase)
			}
			if done, _ := uitest.Attr(panel, "data-done"); done != tc.wantDone {
				t.Errorf("data-done %q, want %q", done, tc.wantDone)
			}
			if got := strings.Join(strings.Fields(uitest.Text(doc.One("inventory-listed"))), " "); !strings.Contains(got, tc.listed) {
				t.Errorf("phase one row %q, want it to say %q", got, tc.listed)
			}
			if got := strings.Join(strings.Fields(uitest.Text(doc.One("inventory-filled"))), " "); !strings.Contains(got, tc.filled) {
				t.Errorf("phase two row %q, want it to say %q", got, tc.filled)
			}
			var st struct {
				Last struct {
					Inventory struct {
						Phase    string     `json:"phase"`
						Sessions int64      `json:"sessions"`
						Filled   int64      `json:"filled"`
						ListedAt *time.Time `json:"listed_at"`
						FilledAt *time.Time `json:"filled_at"`
						Done     bool       `json:"done"`
					} `json:"inventory"`
				} `json:"last"`
			}
			getJSON(t, app, "/api/status", 200, &st)
			got := st.Last.Inventory
			if got.Phase != tc.wantPhase || got.Sessions != inv.Sessions || got.Filled != inv.Filled ||
				(got.ListedAt == nil) != (inv.ListedAt == nil) || (got.FilledAt == nil) != (inv.FilledAt == nil) {
				t.Errorf("/api/status inventory %+v, want the status object's %+v", got, inv)
			}
		})
	}

	t.Run("a listed session's TTL and size are not read yet", func(t *testing.T) {
		src := newFakeSource()
		src.addSession(tracker.SessionRow{Ref: "0123456789ab", ID: "abcd…yz", Framework: "php", KeyPrefix: "PHPREDIS_SESSION:",
			Inventory: true, MetaUnread: true}, tracker.SessionDetail{})
		app := newApp(t, src, false)
		_, body := get(t, app, "/sessions")
		page := string(body)
		if strings.Count(page, "not read yet") < 2 || strings.Contains(page, "no TTL") {
			t.Errorf("the Sessions table must say TTL and size are not read yet (and never no TTL); page:\n%s", page)
		}
		var s struct {
			TTL    *int64 `json:"ttl_s"`
			Unread bool   `json:"ttl_size_unread"`
		}
		getJSON(t, app, "/api/sessions/0123456789ab", 200, &s)
		if s.TTL != nil || !s.Unread {
			t.Errorf("/api/sessions/{ref}: ttl_s %v, ttl_size_unread %v; want null and true", s.TTL, s.Unread)
		}
	})
}
