package inspector_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/tracker"
	"github.com/sessionscope/sessionscope/inspector/traffic/traffictest"
)

// Many users log in at once on the real express-session + connect-redis app: each login
// is a DEL of its anonymous session and a SET ... EX of the new one, and with N users
// the N deletions and N births all fall inside one correlation window. Which deletion
// belongs to which birth is then for the evidence to decide. The csrfSecret rotates at
// login (its name marks it as a rotating field), so the only identifying data an old
// and a new session share is the cart the test put there. A wrong link is the worst
// outcome: each login must be linked to its own anonymous session, or left undecided
// with that session among the candidates, never linked to another user's.

// cartMode says what the test puts in the carts.
type cartMode string

const (
	distinctCarts  cartMode = "distinct"  // each user's own: the payload decides
	identicalCarts cartMode = "identical" // all "same": nothing in the store identifies a user
)

func TestConcurrentLoginsRealNode(t *testing.T) {
	for _, tc := range []struct {
		name  string
		users int
		carts cartMode
		proxy bool // through the capturing proxy, which sees which response set which cookie
	}{
		{"4 users, distinct carts", 4, distinctCarts, false},
		{"32 users, distinct carts", 32, distinctCarts, false},
		{"4 users, identical carts", 4, identicalCarts, false},
		{"32 users, identical carts", 32, identicalCarts, false},
		{"32 users, identical carts, through the proxy", 32, identicalCarts, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A login's DEL and SET come from one request, but a busy machine can hold
			// the app between them for longer than the default window: the test is about
			// telling overlapping logins apart, not about the app's speed.
			h := newHarness(t, harnessOptions{tracker: tracker.Config{Window: 1500 * time.Millisecond}})
			app := traffictest.StartNodeLogins(t, h.srv.Addr)
			h.WaitLive()
			base := app.BaseURL
			if tc.proxy {
				base = proxyFor(t, h, false, app.BaseURL)
			}
			users := newLoginUsers(t, base, tc.users)

			// Every user starts an anonymous session; each must be born before the
			// logins, so that the only deaths and births in the logins' window are theirs.
			for i, u := range users {
				cart := "same"
				if tc.carts == distinctCarts {
					cart = fmt.Sprintf("cart-%02d", i)
				}
				if err := u.visit(cart); err != nil {
					t.Fatal(err)
				}
			}
			for _, u := range users {
				if born := h.waitBirth(u.oldRef()); born.Kind != model.KindCreated {
					t.Fatalf("%s: anonymous session %s born as %s, want created: nothing ended before it", u.name, u.oldRef(), born.Kind)
				}
			}

			loginAtOnce(t, users)

			outcomes := map[string]int{}
			for _, u := range users {
				outcomes[h.judgeLogin(t, users, u, tc.proxy)]++
			}
			t.Logf("%d logins: %d linked to their own session, %d undecided with it among the candidates, %d created without it among the candidates, %d linked to another user's session",
				len(users), outcomes[linkedRight], outcomes[undecided], outcomes[unnamed], outcomes[linkedWrong])
			switch {
			case tc.proxy && outcomes[linkedRight] != len(users):
				t.Errorf("through the proxy %d of %d logins were linked by the HTTP exchange, want all", outcomes[linkedRight], len(users))
			case tc.carts == distinctCarts && outcomes[linkedRight] != len(users):
				t.Errorf("with distinct carts %d of %d logins were linked by payload, want all: the cart each old and new session share identifies the user", outcomes[linkedRight], len(users))
			}

			fs := h.findingsAfterStop()
			for _, f := range fs {
				t.Errorf("finding %s (%s, count %d) on a healthy app: %s", f.Rule, f.Severity, f.Count, f.Detail)
			}
			h.checkOneEndEach(t, users)
			h.checkTimeOrder(t)
		})
	}
}

// How a login's new session was reported.
const (
	linkedRight = "linked to its own session"
	undecided   = "undecided"
	unnamed     = "created without its own session among the candidates"
	linkedWrong = "linked to another session"
)

// judgeLogin waits for the birth of u's new session and says how it was reported,
// failing the test on anything but a correct link or an honest "undecided".
func (h *harness) judgeLogin(t *testing.T, users []*loginUser, u *loginUser, proxy bool) string {
	t.Helper()
	born := h.waitBirth(u.newRef())
	wantEvidence := model.EvidencePayload
	if proxy {
		wantEvidence = model.EvidenceHTTP
	}
	switch born.Kind {
	case model.KindRegenerated:
		if born.From == nil {
			t.Errorf("%s: regenerated without from: %+v", u.name, born)
			return linkedWrong
		}
		if born.From.Ref != u.oldRef() {
			t.Errorf("%s: WRONG LINK: new session %s regenerated from %s (%s), its own anonymous session is %s",
				u.name, u.newRef(), born.From.Ref, ownerOf(users, born.From.Ref), u.oldRef())
			return linkedWrong
		}
		if born.Evidence != wantEvidence {
			t.Errorf("%s: linked to its own session on evidence %q, want %q (anything else is a guess among %d simultaneous logins)",
				u.name, born.Evidence, wantEvidence, len(users))
		}
		return linkedRight
	default: // created
		refs := eventCandidateRefs(born)
		if born.From != nil {
			t.Errorf("%s: created event with from %s: %+v", u.name, born.From.Ref, born)
		}
		outcome := undecided
		if !slices.Contains(refs, u.oldRef()) {
			t.Errorf("%s: new session %s created with candidates %v, want its own anonymous session %s among them",
				u.name, u.newRef(), refs, u.oldRef())
			outcome = unnamed
		}
		end := h.waitEnd(u.oldRef())
		if end.Kind != model.KindDestroyed || end.Cause != model.CauseApp {
			t.Errorf("%s: its anonymous session %s ended as %s (cause %q, new session %s), want destroyed by the app",
				u.name, u.oldRef(), end.Kind, end.Cause, end.Session.Ref)
		}
		return outcome
	}
}

// checkOneEndEach checks, once the run has stopped, that every anonymous session ended
// exactly once: destroyed, or the from of one regeneration, not both, not twice.
func (h *harness) checkOneEndEach(t *testing.T, users []*loginUser) {
	t.Helper()
	ends := map[string][]string{}
	for _, o := range h.Objects() {
		e, ok := o.(*model.Event)
		if !ok {
			continue
		}
		switch {
		case e.Kind == model.KindDestroyed && e.Session != nil:
			ends[e.Session.Ref] = append(ends[e.Session.Ref], "destroyed")
		case e.Kind == model.KindRegenerated && e.From != nil:
			ends[e.From.Ref] = append(ends[e.From.Ref], "regenerated into "+e.Session.Ref)
		}
	}
	for _, u := range users {
		if got := ends[u.oldRef()]; len(got) != 1 {
			t.Errorf("%s: anonymous session %s ended %d times %v, want once", u.name, u.oldRef(), len(got), got)
		}
	}
}

// checkTimeOrder checks, once the run has stopped, that events were emitted in the
// order they happened, however the pairing of deaths and births held some back.
func (h *harness) checkTimeOrder(t *testing.T) {
	t.Helper()
	var last *model.Event
	for _, o := range h.Objects() {
		e, ok := o.(*model.Event)
		if !ok {
			continue
		}
		if last != nil && e.Time.Before(last.Time) {
			t.Errorf("event %d (%s at %s) emitted after event %d (%s at %s): events must be in time order",
				e.Seq, e.Kind, e.Time.Format("15:04:05.000000"), last.Seq, last.Kind, last.Time.Format("15:04:05.000000"))
		}
		last = e
	}
}

// waitBirth waits for the created or regenerated event of the session ref.
func (h *harness) waitBirth(ref string) *model.Event {
	h.t.Helper()
	return h.Wait("birth of "+ref, func(o model.Object) bool {
		e, ok := o.(*model.Event)
		return ok && (e.Kind == model.KindCreated || e.Kind == model.KindRegenerated) && e.Session != nil && e.Session.Ref == ref
	}).(*model.Event)
}

// waitEnd waits for the end of the session ref: its destroyed event, or a regeneration
// that names it as from.
func (h *harness) waitEnd(ref string) *model.Event {
	h.t.Helper()
	return h.Wait("end of "+ref, func(o model.Object) bool {
		e, ok := o.(*model.Event)
		if !ok {
			return false
		}
		return (e.Kind == model.KindDestroyed && e.Session != nil && e.Session.Ref == ref) ||
			(e.Kind == model.KindRegenerated && e.From != nil && e.From.Ref == ref)
	}).(*model.Event)
}

// ownerOf names whose session ref is, for a wrong link's message.
func ownerOf(users []*loginUser, ref string) string {
	for _, u := range users {
		switch ref {
		case u.oldRef():
			return u.name + "'s anonymous session"
		case u.newRef():
			return u.name + "'s logged-in session"
		}
	}
	return "no user's session"
}

// loginAtOnce logs every user in at the same moment: each request waits behind a
// barrier until all goroutines are ready.
func loginAtOnce(t *testing.T, users []*loginUser) {
	t.Helper()
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, len(users))
	for i, u := range users {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			errs[i] = u.login()
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// loginUser is one user's browser on the logins app: its own cookie jar, no redirects
// followed, and the store ids its cookie held before and after login.
type loginUser struct {
	name         string
	base         *url.URL
	c            *http.Client
	oldID, newID string
}

// newLoginUsers returns n users on base sharing one transport, so that the logins are
// not held back by connection setup.
func newLoginUsers(t *testing.T, base string, n int) []*loginUser {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: n}
	t.Cleanup(tr.CloseIdleConnections)
	users := make([]*loginUser, n)
	for i := range users {
		jar, _ := cookiejar.New(nil) // never fails without options
		users[i] = &loginUser{
			name: fmt.Sprintf("user-%02d", i),
			base: u,
			c: &http.Client{Jar: jar, Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			}},
		}
	}
	return users
}

// visit opens the anonymous page with a cart and records the session it started.
func (u *loginUser) visit(cart string) error {
	if err := u.do(http.MethodGet, "/?cart="+url.QueryEscape(cart), nil); err != nil {
		return err
	}
	id, err := u.storeID()
	if err != nil {
		return fmt.Errorf("%s: anonymous visit: %w", u.name, err)
	}
	u.oldID = id
	return nil
}

// login posts the login form and records the session it ends up with.
func (u *loginUser) login() error {
	if err := u.do(http.MethodPost, "/login", url.Values{"user": {u.name}}); err != nil {
		return err
	}
	id, err := u.storeID()
	if err != nil {
		return fmt.Errorf("%s: login: %w", u.name, err)
	}
	if id == u.oldID {
		return fmt.Errorf("%s: login kept the session id: the app did not regenerate it", u.name)
	}
	u.newID = id
	return nil
}

func (u *loginUser) do(method, path string, form url.Values) error {
	target, err := u.base.Parse(path)
	if err != nil {
		return err
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, target.String(), body)
	if err != nil {
		return err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("User-Agent", "sessionscope-concurrent-logins/1 "+u.name)
	res, err := u.c.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %s %s: %w", u.name, method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s %s: status %d, want 200: %q", u.name, method, path, res.StatusCode, b)
	}
	return nil
}

// storeID is the store id the user's connect.sid cookie holds now.
func (u *loginUser) storeID() (string, error) {
	for _, ck := range u.c.Jar.Cookies(u.base) {
		if ck.Name == traffictest.NodeCookie {
			return traffictest.ConnectSID(ck.Value)
		}
	}
	return "", fmt.Errorf("no %s cookie in the jar", traffictest.NodeCookie)
}

func (u *loginUser) oldRef() string { return traffictest.Ref(u.oldID) }
func (u *loginUser) newRef() string { return traffictest.Ref(u.newID) }
