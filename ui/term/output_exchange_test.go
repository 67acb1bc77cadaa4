package term

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// TestJSONExchangeLinesUnchanged holds the exchange lines, which the writer appends
// into a reused buffer, to what the encoder wrote for them (DESIGN.md's NDJSON
// contract), interleaved with objects that still go through the encoder.
func TestJSONExchangeLinesUnchanged(t *testing.T) {
	at := time.Date(2026, 12, 7, 11, 0, 0, 123456789, time.FixedZone("CET", 3600))
	maxAge, stored := 0, false
	objs := []model.Object{
		&model.Exchange{Seq: 1, ID: "p1-1", Start: at, HeadersSent: at, End: at.Add(time.Millisecond),
			Method: "GET", URL: "http://app.test/a?x=<1>&sid=abcd…ef", Status: 302, Location: "/login?next=%2F&a=\u2028",
			Client: model.Client{Addr: "127.0.0.1:5000", UA: "Mozilla/5.0 \"x\" \xff"}, Upstream: "127.0.0.1:8080",
			CookiesSent: []model.SentCookie{{Name: "PHPSESSID", SessionRef: "a1b2c3d4e5f6", Value: "secret"}},
			SetCookies: []model.SetCookie{{Name: "PHPSESSID", Path: "/", HTTPOnly: true, SameSite: "Lax", Expires: &at,
				MaxAge: &maxAge, Stored: &stored, Reason: "SameSiteLax", Value: "secret"}},
			SessionRef: "a1b2c3d4e5f6", Source: model.SourceProxy,
			CookiesBlocked: []model.BlockedCookie{{Name: "sid", Reason: "NotOnPath", Detail: "Path=/admin & /x"}}},
		sampleEvent(),
		&model.Exchange{Seq: 2, ID: "p1-2"}, // nil lists: []
		&model.Finding{Type: model.TypeFinding, Rule: "fixation", Evidence: []string{"x <b>"}},
		&model.Exchange{Seq: 3, Start: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, // refused either way
	}
	var want bytes.Buffer
	enc := json.NewEncoder(&want)
	enc.SetEscapeHTML(false)
	var got bytes.Buffer
	w := NewJSON(&got)
	for i, o := range objs {
		wantErr := enc.Encode(o)
		gotErr := w.Write(o)
		if (wantErr != nil) != (gotErr != nil) {
			t.Fatalf("object %d: error %v, want %v", i, gotErr, wantErr)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatalf("NDJSON changed:\n got %s\nwant %s", got.Bytes(), want.Bytes())
	}
}

// BenchmarkJSONWriteExchange compares the encoder (what every exchange went through
// before) with the writer's appending path, on a proxied exchange of the ssbench shape.
func BenchmarkJSONWriteExchange(b *testing.B) {
	at := time.Date(2026, 12, 7, 11, 0, 0, 123456789, time.UTC)
	x := &model.Exchange{Seq: 123456, ID: "p1a2b3-123456", Start: at, HeadersSent: at.Add(time.Millisecond), End: at.Add(2 * time.Millisecond),
		Method: "GET", URL: "http://127.0.0.1:41234/dashboard", Status: 200,
		Client: model.Client{Addr: "127.0.0.1:51234", UA: "Mozilla/5.0 (X11; Linux x86_64) ssbench/17"}, Upstream: "127.0.0.1:40000",
		CookiesSent: []model.SentCookie{{Name: "PHPSESSID", SessionRef: "a1b2c3d4e5f6"}},
		SetCookies:  []model.SetCookie{{Name: "PHPSESSID", Path: "/", HTTPOnly: true, SameSite: "Lax", SessionRef: "a1b2c3d4e5f6"}},
		SessionRef:  "a1b2c3d4e5f6", Source: model.SourceProxy}
	b.Run("encoder", func(b *testing.B) {
		bw := bufio.NewWriterSize(io.Discard, 64<<10)
		enc := json.NewEncoder(bw)
		enc.SetEscapeHTML(false)
		b.ReportAllocs()
		for b.Loop() {
			if err := enc.Encode(model.Object(x)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("append", func(b *testing.B) {
		w := NewJSON(io.Discard)
		b.ReportAllocs()
		for b.Loop() {
			if err := w.Write(x); err != nil {
				b.Fatal(err)
			}
		}
	})
}
