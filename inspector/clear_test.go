package inspector_test

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// TestClearExchangesAndFindings empties the exchange log and the findings of an
// inspector fed through PublishExchange, as the proxy feeds it.
func TestClearExchangesAndFindings(t *testing.T) {
	in := inspector.New(idleStore{}, inspector.Config{})
	start := time.Now()
	publish := func(i int) *model.Exchange {
		x := &model.Exchange{Type: model.TypeExchange, ID: "x" + strconv.Itoa(i), Start: start.Add(time.Duration(i) * time.Millisecond),
			End: start.Add(time.Duration(i)*time.Millisecond + time.Millisecond), Method: "GET", RawURL: "http://localhost:8000/login",
			URL: "http://localhost:8000/login", Status: 200, Client: model.Client{Addr: "127.0.0.1:5000", UA: "clear-test"},
			// A session cookie without HttpOnly, Secure or SameSite: cookie-flags.
			SetCookies: []model.SetCookie{{Name: "PHPSESSID", Value: "abcdefghijklmnopqrstuvwxyz" + strconv.Itoa(i), Path: "/"}}}
		in.PublishExchange(x)
		return x
	}
	for i := range 3 {
		publish(i)
	}
	if n := len(in.Exchanges(inspector.ExchangeQuery{})); n != 3 {
		t.Fatalf("%d exchanges kept, want 3", n)
	}
	findings := len(in.Findings())
	if findings == 0 {
		t.Fatal("no finding from session cookies without flags: nothing to clear")
	}

	if got := in.ClearExchanges(); got != 3 {
		t.Errorf("ClearExchanges = %d, want 3", got)
	}
	if n := len(in.Exchanges(inspector.ExchangeQuery{})); n != 0 {
		t.Errorf("%d exchanges after ClearExchanges", n)
	}
	if _, err := in.Exchange("x1"); !errors.Is(err, inspector.ErrExchangeNotFound) {
		t.Errorf("Exchange(x1) after clearing: %v, want ErrExchangeNotFound", err)
	}
	if got := in.ClearFindings(); got != findings {
		t.Errorf("ClearFindings = %d, want %d", got, findings)
	}
	if n := len(in.Findings()); n != 0 {
		t.Errorf("%d findings after ClearFindings", n)
	}

	// The log fills again from empty.
	publish(3)
	xs := in.Exchanges(inspector.ExchangeQuery{})
	if len(xs) != 1 || xs[0].ID != "x3" {
		t.Errorf("after clearing, the log holds %d exchanges", len(xs))
	}
	// The cause occurs again: its finding is back, as a new one.
	fs := in.Findings()
	if len(fs) == 0 {
		t.Fatal("a cleared finding whose cause occurred again did not come back")
	}
	for _, f := range fs {
		if f.Count != 1 {
			t.Errorf("finding %s came back with count %d, want 1 (new)", f.ID, f.Count)
		}
	}
}
