package inspector_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/backend"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// idleStore is a store that never reports anything: HAR imports need no store.
type idleStore struct{}

func (idleStore) Name() string     { return "idle" }
func (idleStore) Describe() string { return "idle test store" }
func (idleStore) Run(ctx context.Context, _ backend.Feed) error {
	<-ctx.Done()
	return nil
}
func (idleStore) Read(_ context.Context, reqs []backend.ReadRequest) []backend.ReadResult {
	return make([]backend.ReadResult, len(reqs))
}

// chunked hands out at most 4 KB per read, as a network upload does.
type chunked struct{ r io.Reader }

func (c chunked) Read(p []byte) (int, error) {
	if len(p) > 4096 {
		p = p[:4096]
	}
	return c.r.Read(p)
}

func openHAR(t *testing.T, name string) *os.File {
	t.Helper()
	f, err := os.Open("diagnose/testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}

func TestImportHAR(t *testing.T) {
	t.Parallel()
	in := inspector.New(idleStore{}, inspector.Config{})

	imp, err := in.ImportHAR(openHAR(t, "loop_path.har"), `C:\Users\dev\Downloads\loop_path.har`)
	if err != nil {
		t.Fatal(err)
	}
	if imp.Name != "loop_path.har" || imp.Summary.Entries != 7 || imp.Kept != 7 || imp.Truncated {
		t.Errorf("import %+v", imp)
	}
	rules := map[string]model.Finding{}
	for _, f := range imp.Findings {
		rules[f.Rule] = f
	}
	loop, ok := rules["login-loop"]
	if !ok || rules["cookie-not-sent"].ID == "" {
		t.Fatalf("findings %v, want login-loop and cookie-not-sent", rules)
	}
	if len(loop.Exchanges) == 0 || !strings.HasPrefix(loop.Exchanges[0], imp.ID+"-") {
		t.Errorf("login-loop cites %v, want ids of this import (%s-N)", loop.Exchanges, imp.ID)
	}

	t.Run("exchanges are annotated, numbered and scrubbed", func(t *testing.T) {
		xs, err := in.HARExchanges(imp.ID, inspector.ExchangeQuery{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(xs) != 7 {
			t.Fatalf("%d exchanges", len(xs))
		}
		var blocked, stored int
		for i, x := range xs {
			if x.Seq != uint64(i+1) || (i > 0 && x.Start.Before(xs[i-1].Start)) {
				t.Errorf("exchange %d: seq %d start %s: want numbered in time order", i, x.Seq, x.Start)
			}
			if x.RawURL != "" || x.RawLocation != "" {
				t.Errorf("%s keeps its raw URL", x.ID)
			}
			for _, c := range x.SetCookies {
				if c.Value != "" || c.Raw != "" {
					t.Errorf("%s keeps a Set-Cookie value", x.ID)
				}
				if c.Stored != nil && *c.Stored {
					stored++
				}
			}
			for _, b := range x.CookiesBlocked {
				if b.Reason == "NotOnPath" && b.SessionRef != "" {
					blocked++
				}
			}
		}
		if blocked != 4 || stored != 2 {
			t.Errorf("%d NotOnPath blocks, %d stored session cookies; want 4 and 2", blocked, stored)
		}
		// Readers get copies.
		xs[0].Method = "CHANGED"
		again, _ := in.HARExchanges(imp.ID, inspector.ExchangeQuery{IDs: []string{xs[0].ID}})
		if len(again) != 1 || again[0].Method == "CHANGED" {
			t.Error("HARExchanges hands out the import's own exchanges")
		}
	})

	t.Run("query", func(t *testing.T) {
		// The session the login set (the HAR's findings cite no session ref).
		ref := "41ed6986151a"
		for _, tc := range []struct {
			name string
			q    inspector.ExchangeQuery
			want int
		}{
			{"all", inspector.ExchangeQuery{}, 7},
			{"limit keeps the newest", inspector.ExchangeQuery{Limit: 2}, 2},
			{"before", inspector.ExchangeQuery{BeforeSeq: 3}, 2},
			{"ids", inspector.ExchangeQuery{IDs: loop.Exchanges}, len(loop.Exchanges)},
			{"session", inspector.ExchangeQuery{SessionRef: ref}, 4},
			{"client", inspector.ExchangeQuery{Client: &model.Client{UA: "Mozilla/5.0 Chrome/131"}}, 7},
			{"other client", inspector.ExchangeQuery{Client: &model.Client{UA: "curl"}}, 0},
		} {
			t.Run(tc.name, func(t *testing.T) {
				xs, err := in.HARExchanges(imp.ID, tc.q)
				if err != nil {
					t.Fatal(err)
				}
				if len(xs) != tc.want {
					t.Errorf("%d exchanges, want %d", len(xs), tc.want)
				}
				if tc.q.Limit == 2 && len(xs) == 2 && xs[1].Seq != 7 {
					t.Errorf("limit picked seq %d..%d, want the newest", xs[0].Seq, xs[1].Seq)
				}
			})
		}
	})

	t.Run("bad files fail and keep nothing", func(t *testing.T) {
		before := len(in.HARImports())
		for _, tc := range []struct{ name, body, want string }{
			{"not JSON", "\x89PNG\r\n\x1a\n....", "har"},
			{"JSON but not a HAR", `{"hello": "world"}`, "log"},
			{"no entries", `{"log": {"version": "1.2", "creator": {"name": "x", "version": "1"}, "entries": []}}`, "empty"},
			{"empty file", "", "end of input"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := in.ImportHAR(strings.NewReader(tc.body), "x.har")
				if err == nil {
					t.Fatal("no error")
				}
				if !errors.Is(err, inspector.ErrBadHAR) {
					t.Errorf("error %v does not wrap ErrBadHAR", err)
				}
				if !strings.Contains(err.Error(), tc.want) {
					t.Errorf("error %q lacks %q", err, tc.want)
				}
			})
		}
		_, err := in.ImportHAR(openHAR(t, "malformed.har"), "malformed.har")
		if !errors.Is(err, inspector.ErrBadHAR) || !strings.Contains(err.Error(), "entry") {
			t.Errorf("malformed.har: %v, want an ErrBadHAR naming the entry", err)
		}
		if n := len(in.HARImports()); n != before {
			t.Errorf("%d imports after failures, want %d", n, before)
		}
	})

	t.Run("whitespace padding streams in linear time", func(t *testing.T) {
		// 16 MB of padding in 4 KB reads, as an upload arrives: quadratic without the
		// collapsing reader (minutes), instant with it.
		body := `{"log": {"version": "1.2", "entries": [` + strings.Repeat(" \n\t", 16<<20/3) +
			`{"startedDateTime": "2026-03-14T09:26:10.000Z", "request": {"method": "GET", "url": "https://a.test/a b?x=\" \\ \"", "headers": []}, "response": {"status": 200, "headers": []}}]}}`
		done := make(chan error, 1)
		go func() {
			imp, err := in.ImportHAR(chunked{strings.NewReader(body)}, "pad.har")
			if err == nil && imp.Summary.Entries != 1 {
				err = fmt.Errorf("%d entries", imp.Summary.Entries)
			}
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(time.Minute): // a hang guard, not a timing assertion
			t.Fatal("importing padded JSON does not finish")
		}
		imps := in.HARImports()
		xs, _ := in.HARExchanges(imps[0].ID, inspector.ExchangeQuery{})
		// Whitespace inside strings is kept as it was.
		if len(xs) != 1 || xs[0].URL != `https://a.test/a b?x=" \ "` {
			t.Errorf("strings are not kept whole: %q", xs[0].URL)
		}
	})

	t.Run("bounded by the budget, oldest dropped first", func(t *testing.T) {
		// Measure one import, then give the inspector room for three of them.
		probe, err := inspector.New(idleStore{}, inspector.Config{}).ImportHAR(openHAR(t, "fixed.har"), "probe.har")
		if err != nil {
			t.Fatal(err)
		}
		if probe.Bytes <= 0 || probe.Budget != inspector.DefaultHARBudget {
			t.Fatalf("probe: %d bytes, budget %d; want a size and the default budget", probe.Bytes, probe.Budget)
		}
		in := inspector.New(idleStore{}, inspector.Config{HARBudget: 3*probe.Bytes + probe.Bytes/2})
		var ids []string
		var last inspector.HARImport
		for i := range 5 {
			last, err = in.ImportHAR(openHAR(t, "fixed.har"), fmt.Sprintf("f%d.har", i))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, last.ID)
			if want := max(0, i-2); i >= 3 && (len(last.Dropped) != 1 || last.Dropped[0].ID != ids[want-1]) {
				t.Errorf("import %d dropped %+v, want only %s", i, last.Dropped, ids[want-1])
			}
		}
		list := in.HARImports()
		if len(list) != 3 || list[0].ID != ids[4] || list[2].ID != ids[2] {
			t.Fatalf("%d imports kept, newest %v; want f4, f3, f2", len(list), list[0].ID)
		}
		_, err = in.HARImport(ids[0])
		var dropped *inspector.HARImportDroppedError
		if !errors.Is(err, inspector.ErrHARImportNotFound) || !errors.As(err, &dropped) {
			t.Fatalf("the oldest import: %v, want a HARImportDroppedError wrapping ErrHARImportNotFound", err)
		}
		if dropped.Name != "f0.har" || dropped.ForID != ids[3] || dropped.ForName != "f3.har" || dropped.Kept != probe.Kept {
			t.Errorf("dropped %+v, want f0.har dropped for f3.har", dropped.DroppedHARImport)
		}
		if _, err := in.HARExchanges(ids[1], inspector.ExchangeQuery{}); !errors.As(err, &dropped) || dropped.ForName != "f4.har" {
			t.Errorf("exchanges of the second import: %v, want dropped for f4.har", err)
		}
		if _, err := in.HARExchanges("nope", inspector.ExchangeQuery{}); !errors.Is(err, inspector.ErrHARImportNotFound) || errors.As(err, &dropped) {
			t.Errorf("unknown import: %v", err)
		}
	})

	t.Run("the newest import is kept even alone over the budget", func(t *testing.T) {
		in := inspector.New(idleStore{}, inspector.Config{HARBudget: 1})
		first, err := in.ImportHAR(openHAR(t, "fixed.har"), "a.har")
		if err != nil {
			t.Fatal(err)
		}
		second, err := in.ImportHAR(openHAR(t, "fixed.har"), "b.har")
		if err != nil {
			t.Fatal(err)
		}
		list := in.HARImports()
		if len(list) != 1 || list[0].ID != second.ID || len(second.Dropped) != 1 || second.Dropped[0].ID != first.ID {
			t.Errorf("kept %d imports, second dropped %+v; want b.har alone, a.har dropped", len(list), second.Dropped)
		}
		// Another inspector has its own imports.
		if n := len(inspector.New(idleStore{}, inspector.Config{}).HARImports()); n != 0 {
			t.Errorf("a new inspector has %d imports", n)
		}
	})
}
