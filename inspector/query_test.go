package inspector_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/tracker"
)

func TestSessionQueries(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	h.WaitLive()
	var keys []string
	for i := 0; i < 7; i++ {
		key := fmt.Sprintf("PHPREDIS_SESSION:query%021d", i)
		keys = append(keys, key)
		payload := "csrf|" + phpString("abc")
		if i%2 == 0 {
			payload += "user_id|i:" + fmt.Sprint(40+i) + ";"
		}
		h.do("SETEX", key, 100+i*10, payload)
	}
	h.do("SET", "sess:queryexpress0000000001", `{"cookie":{"path":"/"},"cart":"big"}`, "EX", 50)
	for _, k := range keys {
		h.WaitEvent(model.KindCreated, k)
	}
	h.WaitEvent(model.KindCreated, "sess:queryexpress0000000001")

	page, err := h.in.Sessions(tracker.Query{Text: "fw:php field:user_id", Sort: tracker.SortTTL, Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if page.Matched != 4 || page.Total != 8 || len(page.Rows) != 2 || page.Next == "" {
		t.Fatalf("page: matched %d total %d rows %d next %q", page.Matched, page.Total, len(page.Rows), page.Next)
	}
	if page.Rows[0].Ref != refOfKey(keys[0]) || page.Rows[1].Ref != refOfKey(keys[2]) {
		t.Errorf("ttl order: %s %s", page.Rows[0].Ref, page.Rows[1].Ref)
	}
	var seen []string
	for cursor := ""; ; {
		p, err := h.in.Sessions(tracker.Query{Text: "fw:php field:user_id", Sort: tracker.SortTTL, Limit: 3, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range p.Rows {
			seen = append(seen, r.Ref)
		}
		if p.Next == "" {
			break
		}
		cursor = p.Next
	}
	if len(seen) != 4 || seen[3] != refOfKey(keys[6]) {
		t.Errorf("paging saw %v", seen)
	}
	if p, _ := h.in.Sessions(tracker.Query{Text: "field:user_id=44"}); p.Matched != 1 || p.Rows[0].Ref != refOfKey(keys[4]) {
		t.Errorf("field value search: %+v", p)
	}
	if p, _ := h.in.Sessions(tracker.Query{Text: refOfKey(keys[3])[:6]}); p.Matched != 1 {
		t.Errorf("ref prefix search matched %d", p.Matched)
	}
	if p, _ := h.in.Sessions(tracker.Query{Sort: tracker.SortSize, Limit: 1}); p.Rows[0].Framework != "express" {
		t.Errorf("size order: %+v", p.Rows[0])
	}
	if _, err := h.in.Sessions(tracker.Query{Cursor: "!!"}); !errors.Is(err, tracker.ErrBadCursor) {
		t.Errorf("bad cursor: %v", err)
	}
	d, err := h.in.Session(refOfKey(keys[0]))
	if err != nil || d.Payload == nil || d.Row.Format != "php" || !d.Row.Authenticated {
		t.Errorf("detail: %+v %v", d, err)
	}
	if _, err := h.in.Session("000000000000"); !errors.Is(err, tracker.ErrNotFound) {
		t.Errorf("unknown ref: %v", err)
	}
}
