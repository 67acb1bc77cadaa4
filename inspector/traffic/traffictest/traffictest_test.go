package traffictest

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionscope/sessionscope/inspector/backend/redisstore/redistest"
)

// TestLoginFlowKeyEvents drives each real app through the standard login flow and
// checks, event by event, what the framework did to Redis. The expected sequences are
// the facts documented at the top of traffictest.go; "{A}" is the anonymous session's key,
// "{B}" the key after login.
func TestLoginFlowKeyEvents(t *testing.T) {
	tests := []struct {
		name  string
		kind  Kind
		regen string // PHP only
		// sameID: login keeps the anonymous id (no regeneration).
		sameID bool
		// each element is the events of one flow step: anonymous, login, dashboard, logout.
		want [][]string
		// ttl is the TTL the logged-in key gets, payload matches its value after login.
		ttl     int
		payload *regexp.Regexp
	}{
		{
			name: "php regen=true", kind: PHP, regen: "true", ttl: PHPSessionTTL, payload: phpPayload,
			want: [][]string{
				{"new {A}", "set {A}", "expire {A}"},
				{"del {A}", "new {B}", "set {B}", "expire {B}"},
				{"expire {B}"},
				{"del {B}"},
			},
		},
		{
			name: "php regen=false", kind: PHP, regen: "false", ttl: PHPSessionTTL, payload: phpPayload,
			want: [][]string{
				{"new {A}", "set {A}", "expire {A}"},
				{"set {A}", "expire {A}", "new {B}", "set {B}", "expire {B}"},
				{"expire {B}"},
				{"del {B}"},
			},
		},
		{
			name: "php regen=none", kind: PHP, regen: "none", sameID: true, ttl: PHPSessionTTL, payload: phpPayload,
			want: [][]string{
				{"new {A}", "set {A}", "expire {A}"},
				{"set {A}", "expire {A}"},
				{"expire {A}"},
				{"del {A}"},
			},
		},
		{
			name: "node express-session connect-redis", kind: Node, ttl: 86400, payload: nodePayload,
			want: [][]string{
				{"new {A}", "set {A}", "expire {A}"},
				{"del {A}", "new {B}", "set {B}", "expire {B}", "set {B}", "expire {B}"},
				{"expire {B}"},
				{"del {B}"},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := redistest.Start(t, redistest.Options{})
			var app *App
			switch tc.kind {
			case PHP:
				app = StartPHP(t, srv.Addr)
			case Node:
				app = StartNode(t, srv.URL())
			}
			rec := recordKeyEvents(t, srv.Addr)
			client := app.NewClient()

			var perStep [][]string
			client.AfterStep = func(step string, r *Response) {
				perStep = append(perStep, rec.sync(t))
				if step != "login" {
					return
				}
				key := app.Key(r.SessionID)
				ttl, err := strconv.Atoi(srv.Do(t, "TTL", key))
				if err != nil || ttl <= 0 || ttl > tc.ttl || ttl < tc.ttl-10 {
					t.Errorf("TTL %s = %d (%v), want about %d", key, ttl, err, tc.ttl)
				}
				// The new payload carries the anonymous session's csrf over.
				if v := srv.Do(t, "GET", key); !tc.payload.MatchString(v) {
					t.Errorf("payload after login %q does not match %s", v, tc.payload)
				} else {
					t.Logf("payload after login: %s", v)
				}
			}
			var flow *Flow
			var err error
			switch tc.kind {
			case PHP:
				flow, err = client.PHPLoginFlow(tc.regen)
			case Node:
				flow, err = client.NodeLoginFlow()
			}
			if err != nil {
				t.Fatalf("flow: %v", err)
			}

			if len(perStep) != len(tc.want) {
				t.Fatalf("AfterStep ran %d times, want %d", len(perStep), len(tc.want))
			}
			a, b := flow.AnonID, flow.LoggedInID
			if a == "" || b == "" {
				t.Fatalf("session ids: anonymous %q, logged in %q", a, b)
			}
			if (a == b) != tc.sameID {
				t.Fatalf("anonymous id == logged-in id is %v, want %v", a == b, tc.sameID)
			}
			t.Logf("refs: anonymous {A}=%s, logged in {B}=%s", Ref(a), Ref(b))
			repl := strings.NewReplacer("{A}", app.Key(a), "{B}", app.Key(b))
			names := []string{"anonymous", "login", "dashboard", "logout"}
			for i, got := range perStep {
				t.Logf("%-9s %s", names[i], strings.Join(abbreviate(got, app.Key(a), app.Key(b)), ", "))
			}
			for i, got := range perStep {
				want := make([]string, len(tc.want[i]))
				for j, w := range tc.want[i] {
					want[j] = repl.Replace(w)
				}
				if !slices.Equal(got, want) {
					t.Errorf("%s step: key events\n got %q\nwant %q", names[i], got, want)
				}
			}
		})
	}
}

var (
	// phpPayload is the session after login in the php serialize_handler format.
	phpPayload = regexp.MustCompile(`^csrf\|s:16:"[0-9a-f]{16}";user_id\|i:42;$`)
	// nodePayload is express-session's JSON: the cookie first, then the app's fields.
	nodePayload = regexp.MustCompile(`^\{"cookie":\{"originalMaxAge":86400000,"expires":"[^"]+","httpOnly":true,"path":"/"\},"csrf":"[0-9a-f]{16}","user":\{"id":42\}\}$`)
)

// TestFlows checks the exported flow helpers end to end and the ids they report.
func TestFlows(t *testing.T) {
	tests := []struct {
		name   string
		kind   Kind
		regen  string
		sameID bool
	}{
		{name: "php regen=true", kind: PHP, regen: "true"},
		{name: "php regen=false", kind: PHP, regen: "false"},
		{name: "php regen=none", kind: PHP, regen: "none", sameID: true},
		{name: "node", kind: Node},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := redistest.Start(t, redistest.Options{})
			var (
				flow *Flow
				err  error
				app  *App
			)
			switch tc.kind {
			case PHP:
				app = StartPHP(t, srv.Addr)
				flow, err = app.NewClient().PHPLoginFlow(tc.regen)
			case Node:
				app = StartNode(t, srv.URL())
				flow, err = app.NewClient().NodeLoginFlow()
			}
			if err != nil {
				t.Fatalf("flow: %v", err)
			}
			if len(flow.Steps()) != 4 {
				t.Fatalf("flow has %d steps, want 4", len(flow.Steps()))
			}
			if (flow.AnonID == flow.LoggedInID) != tc.sameID {
				t.Errorf("anonymous %s, logged in %s: same id = %v, want %v",
					Ref(flow.AnonID), Ref(flow.LoggedInID), !tc.sameID, tc.sameID)
			}
			// Everything the flow left behind: a regen=false old key, nothing else.
			keys := srv.Do(t, "KEYS", app.KeyPrefix+"*")
			wantKeys := ""
			if tc.regen == "false" {
				wantKeys = app.Key(flow.AnonID)
			}
			if keys != wantKeys {
				t.Errorf("keys left after logout: %q, want %q", keys, wantKeys)
			}
		})
	}
}

// TestDashboardWithoutLogin checks the login-loop behaviour the diagnoses rely on: the
// dashboard sends a visitor without a logged-in session back to the start.
func TestDashboardWithoutLogin(t *testing.T) {
	tests := []struct {
		name, path, location string
		kind                 Kind
	}{
		{name: "php", kind: PHP, path: "/dashboard.php", location: "index.php"},
		{name: "node", kind: Node, path: "/dashboard", location: "/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := redistest.Start(t, redistest.Options{})
			var app *App
			switch tc.kind {
			case PHP:
				app = StartPHP(t, srv.Addr)
			case Node:
				app = StartNode(t, srv.URL())
			}
			r, err := app.NewClient().Get(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != 302 || r.Location != tc.location {
				t.Errorf("GET %s: status %d, Location %q; want 302 to %q", tc.path, r.Status, r.Location, tc.location)
			}
		})
	}
}

func TestConnectSID(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{in: "s%3AabcDEF_-123.sig%2Bnat%2Fure", want: "abcDEF_-123"},
		{in: "s:abc.def", want: "abc"},
		{in: "abc.def", wantErr: true},
		{in: "s%3Aabc", wantErr: true},
		{in: "%zz", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ConnectSID(tc.in)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("ConnectSID(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestRef(t *testing.T) {
	// sha256("abc") = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
	if got := Ref("abc"); got != "ba7816bf8f01" {
		t.Errorf("Ref(abc) = %q", got)
	}
}

// abbreviate renders events with the session keys replaced by {A}/{B} for the log.
func abbreviate(events []string, keyA, keyB string) []string {
	out := make([]string, len(events))
	for i, e := range events {
		ev, key, _ := strings.Cut(e, " ")
		switch key {
		case keyA:
			key = "{A}"
		case keyB:
			key = "{B}"
		}
		out[i] = ev + " " + key
	}
	return out
}

// keyEventRecorder collects "<event> <key>" lines from __keyevent@0__:* in arrival
// order.
type keyEventRecorder struct {
	client *redis.Client
	mu     sync.Mutex
	events []string
	marks  int
}

const markerPrefix = "realapp-test-marker:"

func recordKeyEvents(t *testing.T, addr string) *keyEventRecorder {
	t.Helper()
	client := redis.NewClient(&redis.Options{Addr: addr})
	ps := client.PSubscribe(context.Background(), "__keyevent@0__:*")
	// Wait for the subscription to be in force before any request is made.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := ps.Receive(ctx); err != nil {
		t.Fatalf("psubscribe: %v", err)
	}
	r := &keyEventRecorder{client: client}
	ch := ps.Channel(redis.WithChannelSize(1000))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for msg := range ch {
			ev := strings.TrimPrefix(msg.Channel, "__keyevent@0__:")
			r.mu.Lock()
			r.events = append(r.events, ev+" "+msg.Payload)
			r.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ps.Close()
		<-done
		_ = client.Close()
	})
	return r
}

// sync returns the events that arrived since the previous sync. It writes a marker key
// and waits for its own notification, which Redis delivers after every notification of
// the commands that ran before it, so nothing is timed.
func (r *keyEventRecorder) sync(t *testing.T) []string {
	t.Helper()
	r.marks++
	marker := fmt.Sprintf("%s%d", markerPrefix, r.marks)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.client.Set(ctx, marker, "1", 0).Err(); err != nil {
		t.Fatalf("set marker: %v", err)
	}
	for {
		r.mu.Lock()
		idx := slices.Index(r.events, "set "+marker)
		if idx >= 0 {
			var got []string
			for _, e := range r.events[:idx] {
				if !strings.Contains(e, " "+markerPrefix) {
					got = append(got, e)
				}
			}
			r.events = r.events[idx+1:]
			r.mu.Unlock()
			return got
		}
		r.mu.Unlock()
		select {
		case <-ctx.Done():
			t.Fatalf("marker %s not seen; events so far: %q", marker, r.snapshot())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (r *keyEventRecorder) snapshot() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}
