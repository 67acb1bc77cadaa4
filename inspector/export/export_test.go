package export_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/export"
	"github.com/sessionscope/sessionscope/inspector/export/exporttest"
	"github.com/sessionscope/sessionscope/inspector/model"
)

const secretID = "s3cr3tSESSIONidVALUE0123456789ab"

func sampleObjects() (*model.Event, *model.Exchange, *model.Finding) {
	at := time.Date(2026, 12, 7, 14, 2, 3, 456789000, time.UTC)
	ttl := int64(1440)
	size := 87
	ev := &model.Event{ // id masked, as the export must show it
		Type: model.TypeEvent, Seq: 7, Time: at, Kind: "created",
		Session: &model.SessionInfo{Ref: model.Ref(secretID), ID: model.Mask(secretID), Framework: "php", KeyPrefix: "PHPREDIS_SESSION:", StoreID: secretID},
		Backend: "redis", Node: "127.0.0.1:7001", TTL: &ttl, Size: &size, Exchange: "x12",
	}
	xc := &model.Exchange{
		Type: model.TypeExchange, Seq: 8, ID: "x12", Start: at.Add(time.Millisecond), End: at.Add(2 * time.Millisecond),
		Method: "POST", URL: "/login?sid=" + model.Mask(secretID), RawURL: "/login?sid=" + secretID, Status: 302,
		SessionRef: model.Ref(secretID), Source: model.SourceProxy,
	}
	fd := &model.Finding{
		Type: model.TypeFinding, Seq: 9, ID: "f1", Time: at.Add(time.Second), Rule: "fixation",
		Severity: model.SeverityError, Title: "Session fixation", Sessions: []string{model.Ref(secretID)}, Count: 1,
	}
	return ev, xc, fd
}

func TestExportReachesCollector(t *testing.T) {
	for _, tc := range []struct{ name, protocol string }{
		{"http", ""},
		{"grpc", "grpc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rcv := exporttest.Start(t)
			endpoint := rcv.Endpoint
			if tc.protocol != "" {
				t.Setenv("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", tc.protocol)
				endpoint = rcv.GRPCEndpoint
			}
			e, err := export.Open(context.Background(), export.Options{
				Endpoint: endpoint,
				Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
				Resource: map[string]string{"sessionscope.nodes": "127.0.0.1:7001"},
			})
			if err != nil {
				t.Fatal(err)
			}
			ev, xc, fd := sampleObjects()
			// As under --reveal-ids: the export masks the id all the same.
			revealed := *ev // same seq: compared against ev, masked
			revealedSession := *ev.Session
			revealedSession.ID = secretID
			revealed.Session = &revealedSession
			e.Append(&revealed)
			e.Append(xc)
			e.Append(fd)
			e.Append(&model.Status{Type: model.TypeStatus, Seq: 10}) // not exported
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := e.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if st := e.Stats(); st != (export.Stats{Exported: 3}) {
				t.Errorf("stats = %+v, want 3 exported, nothing dropped", st)
			}
			recs := rcv.Records()
			if len(recs) != 3 {
				t.Fatalf("received %d records, want 3", len(recs))
			}
			bySeq := map[int64]exporttest.Record{}
			for _, r := range recs {
				if strings.Contains(r.Body, secretID) {
					t.Errorf("body holds the full session id: %s", r.Body)
				}
				for k, v := range r.Attrs {
					if !strings.HasPrefix(k, export.Namespace) {
						t.Errorf("attribute %q outside the namespace", k)
					}
					if s, ok := v.(string); ok && strings.Contains(s, secretID) {
						t.Errorf("attribute %s holds the full session id", k)
					}
				}
				if r.Resource["service.name"] != "sessionscope" || r.Resource["service.instance.id"] == "" || r.Resource["sessionscope.nodes"] != "127.0.0.1:7001" {
					t.Errorf("resource = %v", r.Resource)
				}
				bySeq[r.Attrs["sessionscope.seq"].(int64)] = r
			}
			wants := []struct {
				obj   model.Object
				time  time.Time
				attrs map[string]any
			}{
				{ev, ev.Time, map[string]any{
					"sessionscope.type": "event", "sessionscope.seq": int64(7), "sessionscope.kind": "created",
					"sessionscope.session.ref": ev.Session.Ref, "sessionscope.session.id": ev.Session.ID,
					"sessionscope.session.framework": "php", "sessionscope.session.key_prefix": "PHPREDIS_SESSION:",
					"sessionscope.backend": "redis", "sessionscope.node": "127.0.0.1:7001", "sessionscope.exchange": "x12",
					"sessionscope.ttl_s": int64(1440), "sessionscope.size": int64(87),
				}},
				{xc, xc.Start, map[string]any{
					"sessionscope.type": "exchange", "sessionscope.seq": int64(8), "sessionscope.exchange": "x12",
					"sessionscope.method": "POST", "sessionscope.status": int64(302), "sessionscope.url": xc.URL,
					"sessionscope.session.ref": xc.SessionRef, "sessionscope.source": model.SourceProxy,
				}},
				{fd, fd.Time, map[string]any{
					"sessionscope.type": "finding", "sessionscope.seq": int64(9), "sessionscope.finding.id": "f1",
					"sessionscope.rule": "fixation", "sessionscope.severity": "error", "sessionscope.title": "Session fixation",
					"sessionscope.count": int64(1), "sessionscope.sessions": []any{model.Ref(secretID)},
				}},
			}
			for _, w := range wants {
				got, ok := bySeq[int64(w.obj.ObjectSeq())]
				if !ok {
					t.Errorf("seq %d not received", w.obj.ObjectSeq())
					continue
				}
				if !got.Time.Equal(w.time) {
					t.Errorf("seq %d: time %v, want %v", w.obj.ObjectSeq(), got.Time, w.time)
				}
				body, err := json.Marshal(w.obj)
				if err != nil {
					t.Fatal(err)
				}
				if got.Body != string(body) {
					t.Errorf("seq %d: body\n%s\nwant\n%s", w.obj.ObjectSeq(), got.Body, body)
				}
				if len(got.Attrs) != len(w.attrs) {
					t.Errorf("seq %d: attributes %v, want %v", w.obj.ObjectSeq(), got.Attrs, w.attrs)
				}
				for k, v := range w.attrs {
					gv, _ := json.Marshal(got.Attrs[k])
					wv, _ := json.Marshal(v)
					if string(gv) != string(wv) {
						t.Errorf("seq %d: %s = %s, want %s", w.obj.ObjectSeq(), k, gv, wv)
					}
				}
			}
		})
	}
}

// TestExportDeadEndpointNeverBlocks: with nothing listening, Append returns at once
// however many objects come, and every object is counted as dropped.
func TestExportDeadEndpointNeverBlocks(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	e, err := export.Open(context.Background(), export.Options{
		Endpoint:  dead,
		QueueSize: 16,
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	const total = 50000
	ev, _, _ := sampleObjects()
	// The SDK holds up to its queue size while the exports retry; more than that
	// must be refused by our queue, without waiting.
	for range total {
		e.Append(ev)
	}
	if st := e.Stats(); st.Dropped == 0 {
		t.Errorf("stats after %d appends to a dead endpoint = %+v, want drops counted at once", total, st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = e.Close(ctx) // what it could not send is counted below
	st := e.Stats()
	if st.Exported != 0 || st.Dropped != total {
		t.Errorf("stats = %+v, want all %d dropped", st, total)
	}
	if st.Errors == 0 {
		t.Errorf("stats = %+v, want the failed export counted", st)
	}
}

func TestOpenRejectsBadEndpoint(t *testing.T) {
	for _, bad := range []string{"collector:4318", "ftp://x", "http://"} {
		if _, err := export.Open(context.Background(), export.Options{Endpoint: bad}); err == nil || !strings.Contains(err.Error(), "--otlp-endpoint") {
			t.Errorf("Open(%q) = %v, want an error naming --otlp-endpoint", bad, err)
		}
	}
}
