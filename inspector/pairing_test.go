package inspector_test

import (
	"slices"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// Pairing without the proxy, against a real redis-server: overlapping logins that each
// delete an anonymous session and write a new one, with the CSRF token rotated as
// Django, Laravel and csurf do at login. A link is made only on evidence that singles
// one predecessor out; otherwise the new session is created with the candidates.

func candidateRefs(ev *model.Event) []string {
	var refs []string
	for _, c := range ev.Candidates {
		refs = append(refs, c.Ref)
	}
	return refs
}

func TestOverlappingLoginsPairByTheDataTheyCarry(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.WaitLive()
	const (
		oldA, newA = "PHPREDIS_SESSION:pairolda00000000000000001", "PHPREDIS_SESSION:pairnewa00000000000000001"
		oldB, newB = "PHPREDIS_SESSION:pairoldb00000000000000001", "PHPREDIS_SESSION:pairnewb00000000000000001"
	)
	h.do("SETEX", oldA, 1440, "csrf|"+phpString("tokA1")+"cart|"+phpString("books"))
	h.do("SETEX", oldB, 1440, "csrf|"+phpString("tokB1")+"cart|"+phpString("games"))
	h.WaitEvent(model.KindCreated, oldA)
	h.WaitEvent(model.KindCreated, oldB)
	// Both logins at once, interleaved, each with a fresh token.
	h.do("DEL", oldA)
	h.do("DEL", oldB)
	h.do("SETEX", newB, 1440, "csrf|"+phpString("tokB2")+"cart|"+phpString("games")+"user_id|i:2;")
	h.do("SETEX", newA, 1440, "csrf|"+phpString("tokA2")+"cart|"+phpString("books")+"user_id|i:1;")
	for _, c := range []struct{ old, new string }{{oldA, newA}, {oldB, newB}} {
		ev := h.WaitEvent(model.KindRegenerated, c.new)
		if ev.From == nil || ev.From.Ref != refOfKey(c.old) || ev.Evidence != model.EvidencePayload {
			t.Errorf("%s: from %+v evidence %q, want from %s by payload", c.new, ev.From, ev.Evidence, refOfKey(c.old))
		}
	}
}

func TestOverlappingLoginsWithTheSameDataAreUndecided(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.WaitLive()
	const (
		oldA, newA = "PHPREDIS_SESSION:sameolda00000000000000001", "PHPREDIS_SESSION:samenewa00000000000000001"
		oldB, newB = "PHPREDIS_SESSION:sameoldb00000000000000001", "PHPREDIS_SESSION:samenewb00000000000000001"
	)
	// Two visitors with the same cart and different tokens: nothing tells them apart.
	h.do("SETEX", oldA, 1440, "csrf|"+phpString("tokA1")+"lang|"+phpString("en"))
	h.do("SETEX", oldB, 1440, "csrf|"+phpString("tokB1")+"lang|"+phpString("en"))
	h.WaitEvent(model.KindCreated, oldA)
	h.WaitEvent(model.KindCreated, oldB)
	h.do("DEL", oldA)
	h.do("DEL", oldB)
	h.do("SETEX", newA, 1440, "csrf|"+phpString("tokA2")+"lang|"+phpString("en")+"user_id|i:1;")
	h.do("SETEX", newB, 1440, "csrf|"+phpString("tokB2")+"lang|"+phpString("en")+"user_id|i:2;")
	for _, key := range []string{newA, newB} {
		ev := h.WaitEvent(model.KindCreated, key)
		refs := candidateRefs(ev)
		if !slices.Contains(refs, refOfKey(oldA)) || !slices.Contains(refs, refOfKey(oldB)) {
			t.Errorf("%s: candidates %v, want both anonymous sessions %s and %s", key, refs, refOfKey(oldA), refOfKey(oldB))
		}
	}
	for _, key := range []string{oldA, oldB} {
		if ev := h.WaitEvent(model.KindDestroyed, key); ev.Cause != model.CauseApp {
			t.Errorf("%s: destroyed with cause %q, want app", key, ev.Cause)
		}
	}
}

// TestABetterFitLaterInTheWindowWins: a birth that shares a little with a deletion
// after it must not take it before that deletion's window is over, when a birth that
// shares more can still come. The window is 2 s so that the scenario's own timing
// (birth, deletion 1.2 s later, better birth 1 s after that) holds on a loaded machine.
func TestABetterFitLaterInTheWindowWins(t *testing.T) {
	opts := harnessOptions{}
	opts.tracker.Window = 2 * time.Second
	h := newHarness(t, opts)
	h.WaitLive()
	const (
		old      = "PHPREDIS_SESSION:fitold0000000000000000001"
		neighbor = "PHPREDIS_SESSION:fitneighbor0000000000001"
		heir     = "PHPREDIS_SESSION:fitheir000000000000000001"
	)
	h.do("SETEX", old, 1440, "lang|"+phpString("en")+"theme|"+phpString("dark"))
	h.WaitEvent(model.KindCreated, old)
	start := time.Now()
	h.do("SETEX", neighbor, 1440, "lang|"+phpString("en")) // another visitor, a weak match
	time.Sleep(1200 * time.Millisecond)                    // the scenario's timing, not a wait for sessionscope
	h.do("DEL", old)
	time.Sleep(time.Second)
	h.do("SETEX", heir, 1440, "lang|"+phpString("en")+"theme|"+phpString("dark")+"user_id|i:1;")
	if took := time.Since(start); took > 3*time.Second {
		t.Skipf("the machine is too loaded for this scenario's timing (%s for 2.2 s of steps)", took)
	}
	ev := h.WaitEvent(model.KindRegenerated, heir)
	if ev.From == nil || ev.From.Ref != refOfKey(old) {
		t.Errorf("heir: from %+v, want %s", ev.From, refOfKey(old))
	}
	if nb := h.WaitEvent(model.KindCreated, neighbor); nb.From != nil {
		t.Errorf("the neighbour was linked: %+v", nb)
	}
}

// TestAssignmentDecidesWhatNoSinglePairDoes: one login shares as much with both
// deletions, the other only with the second. Taken alone the first is a tie; weighed
// together there is one best assignment (first with the first, second with the
// second), and both are linked.
func TestAssignmentDecidesWhatNoSinglePairDoes(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.WaitLive()
	const (
		old1, new1 = "PHPREDIS_SESSION:assignold10000000000000001", "PHPREDIS_SESSION:assignnew10000000000000001"
		old2, new2 = "PHPREDIS_SESSION:assignold20000000000000001", "PHPREDIS_SESSION:assignnew20000000000000001"
	)
	h.do("SETEX", old1, 1440, "lang|"+phpString("en")+"cart|"+phpString("books"))
	h.do("SETEX", old2, 1440, "lang|"+phpString("en")+"theme|"+phpString("dark"))
	h.WaitEvent(model.KindCreated, old1)
	h.WaitEvent(model.KindCreated, old2)
	h.do("DEL", old1)
	h.do("DEL", old2)
	// new1 shares two fields with each old session; new2 only theme, with the second.
	h.do("SETEX", new1, 1440, "lang|"+phpString("en")+"cart|"+phpString("books")+"theme|"+phpString("dark")+"user_id|i:1;")
	h.do("SETEX", new2, 1440, "theme|"+phpString("dark")+"user_id|i:2;")
	for _, c := range []struct{ old, new string }{{old1, new1}, {old2, new2}} {
		ev := h.WaitEvent(model.KindRegenerated, c.new)
		if ev.From == nil || ev.From.Ref != refOfKey(c.old) || ev.Evidence != model.EvidencePayload {
			t.Errorf("%s: from %+v evidence %q, want from %s by payload", c.new, ev.From, ev.Evidence, refOfKey(c.old))
		}
	}
}
