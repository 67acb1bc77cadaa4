package term

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
)

func sampleEvent() *model.Event {
	ttl := int64(1440)
	return &model.Event{Type: model.TypeEvent, Seq: 3, Time: time.Date(2026, 11, 22, 1, 2, 3, 0, time.UTC), Kind: model.KindRegenerated,
		Session: &model.SessionInfo{Ref: "a1b2c3d4e5f6", ID: "q3hg…m9", Framework: "php", KeyPrefix: "PHPREDIS_SESSION:"},
		From:    &model.SessionInfo{Ref: "0f0f0f0f0f0f", ID: "zzzz…11"}, Evidence: "payload", OldKept: true, TTL: &ttl, Backend: "redis"}
}

func TestJSONOneLinePerObject(t *testing.T) {
	var buf bytes.Buffer
	ch := make(chan model.Object, 3)
	ch <- sampleEvent()
	ch <- &model.Finding{Type: model.TypeFinding, Rule: "fixation", Evidence: []string{"x <b>"}}
	ch <- &model.Status{Type: model.TypeStatus, State: model.StateLive}
	close(ch)
	if err := Copy(NewJSON(&buf), ch); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines:\n%s", len(lines), buf.String())
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
	}
	if !strings.Contains(lines[1], "x <b>") {
		t.Errorf("JSON output should not HTML-escape: %s", lines[1])
	}
}

func TestTextLine(t *testing.T) {
	var out, diag bytes.Buffer
	w := NewText(&out, &diag, false)
	if err := w.Write(sampleEvent()); err != nil {
		t.Fatal(err)
	}
	_ = w.Flush()
	line := out.String()
	for _, want := range []string{"regenerated", "q3hg…m9", "a1b2c3d4e5f6", "php", "ttl 1440s", "from zzzz…11", "payload, old kept"} {
		if !strings.Contains(line, want) {
			t.Errorf("line %q lacks %q", line, want)
		}
	}
	if strings.Contains(line, "\x1b[") {
		t.Error("colour without a terminal")
	}
	w = NewText(&out, &diag, true)
	_ = w.Write(sampleEvent())
	_ = w.Flush()
	if !strings.Contains(out.String(), "\x1b[") {
		t.Error("no colour when asked for it")
	}
}

func TestTextNotificationHelpGoesToStderrOnce(t *testing.T) {
	var out, diag bytes.Buffer
	w := NewText(&out, &diag, false)
	st := &model.Status{Type: model.TypeStatus, Node: "h:1", State: model.StateConnecting,
		Notifications: &model.Notifications{Flags: "", Missing: "Eg$hxe", Fix: "redis-cli CONFIG SET notify-keyspace-events 'Eg$hxe'", Hints: []string{"AWS ElastiCache: ..."}}}
	_ = w.Write(st)
	_ = w.Write(st)
	_ = w.Flush()
	if out.Len() != 0 {
		t.Errorf("status went to stdout: %q", out.String())
	}
	if strings.Count(diag.String(), "CONFIG SET") != 1 || !strings.Contains(diag.String(), "--configure-notifications") {
		t.Errorf("help:\n%s", diag.String())
	}
}
