package history

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// realisticObjects is a watch's mix: mostly updated and touched events of many
// sessions (ref, masked id, TTL, size, changed fields), an exchange in ten carrying and
// setting session cookies, and a rare finding.
func realisticObjects(n, sessions int) []model.Object {
	objs := make([]model.Object, n)
	ttl := int64(1440)
	stored := true
	maxAge := 1440
	for i := range objs {
		id := fmt.Sprintf("%026x", uint64(i%sessions)*2654435761)
		at := t0.Add(time.Duration(i) * 50 * time.Microsecond)
		switch {
		case i%1000 == 999:
			objs[i] = &model.Finding{Type: model.TypeFinding, Seq: uint64(i), ID: fmt.Sprintf("f%d", i%7), Time: at, Rule: "no-server-expiry",
				Severity: model.SeverityWarning, Title: "Sessions are stored without an expiry",
				Detail:   "12 sessions were written without a TTL: the store keeps them until it is full.",
				Fix:      "Set a TTL on every session write (SETEX, or EXPIRE after SET).",
				Sessions: []string{model.Ref(id)}, Exchanges: []string{}, Evidence: []string{"SET without EX"},
				Count: i, FirstSeen: t0, LastSeen: at}
		case i%10 == 9:
			size := 180 + i%300
			objs[i] = &model.Exchange{Type: model.TypeExchange, Seq: uint64(i), ID: fmt.Sprintf("x%d", i), Start: at,
				HeadersSent: at.Add(3 * time.Millisecond), End: at.Add(4 * time.Millisecond), Method: "POST", URL: "/login", Status: 302,
				Location: "/account", Client: model.Client{Addr: "127.0.0.1:51234", UA: "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0"},
				Upstream:    "http://127.0.0.1:8080",
				CookiesSent: []model.SentCookie{{Name: "PHPSESSID", SessionRef: model.Ref(id)}},
				SetCookies: []model.SetCookie{{Name: "PHPSESSID", Path: "/", HTTPOnly: true, SameSite: "Lax", MaxAge: &maxAge,
					SessionRef: model.Ref(id + "n"), Stored: &stored}},
				SessionRef: model.Ref(id), Source: model.SourceProxy}
			_ = size
		default:
			size := 180 + i%300
			e := event(uint64(i), at, model.KindUpdated, id)
			e.Node = "127.0.0.1:6379"
			e.TTL, e.Size, e.Format = &ttl, &size, "php"
			e.Changed = []string{"cart", "last_seen"}
			if i%3 == 0 {
				e.Kind, e.Changed = model.KindTouched, nil
			}
			objs[i] = e
		}
	}
	return objs
}

// BenchmarkAppendRealistic is BenchmarkAppend with realisticObjects over 50,000
// sessions, so that the keys index grows as it does in a long watch.
func BenchmarkAppendRealistic(b *testing.B) {
	objs := realisticObjects(100000, 50000)
	s, err := Open(Options{Path: filepath.Join(b.TempDir(), "h.db"), QueueSize: b.N + 1, Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return t0 }})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	benchmarkAppend(b, s, objs)
}

// benchmarkAppend appends b.N of objs and waits until they are written; it reports
// objects per second and the process's CPU per object (the writer's, mostly).
func benchmarkAppend(b *testing.B, s *Store, objs []model.Object) {
	b.ResetTimer()
	cpu0 := processCPU()
	for i := range b.N {
		s.Append(objs[i%len(objs)])
	}
	s.flush()
	cpu := processCPU() - cpu0
	b.StopTimer()
	if d := s.Stats().Dropped; d != 0 {
		b.Fatalf("dropped %d", d)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "objects/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/object")
}

// BenchmarkAppendRetained is BenchmarkAppendRealistic in a file kept at 32 MiB, as a
// long watch runs once it has reached MaxBytes: every batch also pays retention.
func BenchmarkAppendRetained(b *testing.B) {
	objs := realisticObjects(100000, 50000)
	s, err := Open(Options{Path: filepath.Join(b.TempDir(), "h.db"), MaxBytes: 32 << 20, QueueSize: b.N + 1, Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return t0 }})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	benchmarkAppend(b, s, objs)
	b.ReportMetric(float64(s.Stats().Bytes)/(1<<20), "MiB")
}

// BenchmarkQuery measures the filters on a file of 300,000 realistic objects (37 key
// buckets): what a reader pays for the writer's bucketed keys.
func BenchmarkQuery(b *testing.B) {
	objs := realisticObjects(300000, 50000)
	s, err := Open(Options{Path: filepath.Join(b.TempDir(), "h.db"), QueueSize: len(objs) + 1, Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return t0 }})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for _, o := range objs {
		s.Append(o)
	}
	s.flush()
	ev := objs[12345].(*model.Event)
	var refs []string
	for i := range 50 {
		refs = append(refs, objs[i*1000+1].(*model.Event).Session.Ref)
	}
	for _, tc := range []struct {
		name string
		q    Query
	}{
		{"ref", Query{Ref: ev.Session.Ref}},
		{"ref newest", Query{Ref: ev.Session.Ref, Newest: true, Limit: 10}},
		{"refs 50", Query{Refs: refs, Types: []string{model.TypeEvent}}},
		{"id prefix", Query{IDPrefix: ev.Session.ID[:4]}},
		{"ref after row", Query{Ref: ev.Session.Ref, AfterRow: 290000}},
		{"rule", Query{Rule: "no-server-expiry", Limit: 10}},
		{"from recent", Query{From: ev.Time.Add(14 * time.Second), Limit: 500}},
		{"from old", Query{From: ev.Time, Limit: 500}},
		{"from and to", Query{From: ev.Time, To: ev.Time.Add(time.Second), Limit: 500}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for range b.N {
				if _, err := s.Query(context.Background(), tc.q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
