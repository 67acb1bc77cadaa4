package diagnose

import (
	"fmt"
	"strings"
	"time"

	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// Thresholds of weak-session-id. Long and unpredictable ids, never
// sequential. 128 bits is what OWASP's session guidance and PHP's defaults give;
// below 64 an id is within reach of guessing.
const (
	minIDsAssessed  = 100 // distinct ids before anything is said
	wantIDBits      = 128
	guessableIDBits = 64
	maxIDSamples    = 64 // samples a store-side rule keeps (one per framework/prefix)
)

// idAssessment is the verdict on a sample: its statistics and, when the ids are
// weak, why.
type idAssessment struct {
	idStats
	Reasons  []string // why the ids are weak, in words; empty: not weak
	Severity model.Severity
}

// Weak reports whether the ids are weak.
func (a idAssessment) Weak() bool { return len(a.Reasons) > 0 }

// assess measures the sample and judges it against the rule's thresholds.
func (s *idSample) assess() idAssessment {
	a := idAssessment{idStats: s.measure(), Severity: model.SeverityWarning}
	if a.IDs == 0 {
		return a
	}
	L, k, perChar := a.Length, a.AlphabetSize, a.BitsPerChar
	if a.Bits < wantIDBits && !a.UUIDv4 {
		what := fmt.Sprintf("about %.0f bits of entropy, below the %d bits a session id needs", a.Bits, wantIDBits)
		if a.Bits < guessableIDBits {
			what = fmt.Sprintf("about %.0f bits of entropy, few enough to guess (%d is the bare minimum, %d the goal)", a.Bits, guessableIDBits, wantIDBits)
			a.Severity = model.SeverityError
		}
		a.Reasons = append(a.Reasons, fmt.Sprintf("%d characters of %s (%d symbols, %.1f bits each) hold at most %.0f bits; %s",
			L-a.Constant, a.Alphabet, k, perChar, a.BoundBits, what))
		if a.Constant > 0 {
			a.Reasons = append(a.Reasons, fmt.Sprintf("%d of the %d characters are the same in every id", a.Constant, L))
		}
		if a.Skewed > 0 {
			a.Reasons = append(a.Reasons, fmt.Sprintf("%d characters vary less than random ones would (a timestamp, a counter, a hash of guessable data?)", a.Skewed))
		}
	}
	if k <= 10 {
		a.Reasons = append(a.Reasons, fmt.Sprintf("small alphabet: only %d symbols (%s), typical of counters, timestamps and rand()", k, a.Alphabet))
	}
	if a.Sequential {
		a.Severity = model.SeverityError
		a.Reasons = append(a.Reasons, fmt.Sprintf("sequential: sorted, neighbouring ids differ by %s (median); knowing one id gives away the next", a.MedianGap))
	}
	if len(a.FIPSFailed) > 0 {
		a.Reasons = append(a.Reasons, "their bits fail the FIPS 140-2 "+strings.Join(a.FIPSFailed, ", ")+" test: not the output of a good random generator")
	}
	return a
}

// weakIDText writes the finding's detail and fix.
func weakIDText(what string, a idAssessment) (detail, fix string) {
	detail = fmt.Sprintf("Over %d distinct %s: %s. ", a.IDs, what, strings.Join(a.Reasons, "; ")) +
		"A session id is the only thing between an attacker and a logged-in session: if ids can be guessed or worked out from one another, " +
		"regeneration, HttpOnly and keeping ids out of URLs no longer matter, since the attacker computes a valid id instead of stealing it (OWASP Session Management Cheat Sheet: at least 64 bits of entropy; long, unpredictable, never sequential ids)."
	fix = "Let the framework generate ids from a CSPRNG and make them long: at least 128 bits. " +
		"PHP: keep the defaults or raise them — session.sid_length = 32 and session.sid_bits_per_character = 5 in php.ini (160 bits), never a custom session_id() built from time, uniqid(), rand() or user data. " +
		"Node (express-session): keep the default genid (uid-safe, 24 random bytes); a custom genid must return crypto.randomBytes(32).toString('base64url') or crypto.randomUUID(), never a counter or Date.now()."
	return detail, fix
}

// weakSessionIDs is weak-session-id over the ids the responses set (AnalyzeExchanges):
// one sample per session cookie name, store ids where the cookie maps to one
// (framework.SessionFromCookie), else the raw value.
func weakSessionIDs(rs []*replayed, rec *Recorder, isSession func(string) bool, custom []framework.CookieMapping) {
	type group struct {
		sample *idSample
		xs     []*replayed
		fw     string
	}
	groups := map[string]*group{}
	var names []string
	for _, r := range rs {
		if r.x.ValuesStripped {
			continue
		}
		for _, sc := range r.x.SetCookies {
			if !isSession(sc.Name) || isDeletion(sc, r) {
				continue
			}
			id, fw := sc.Value, ""
			if cs, ok := framework.SessionFromCookie(sc.Name, sc.Value, custom); ok {
				fw = cs.Framework
				if cs.Mapped() {
					id = cs.StoreID
				}
			}
			g := groups[sc.Name]
			if g == nil {
				g = &group{sample: newIDSample(), fw: fw}
				groups[sc.Name] = g
				names = append(names, sc.Name)
			}
			if g.sample.add(id) {
				g.xs = append(g.xs, r)
			}
		}
	}
	for _, name := range names {
		g := groups[name]
		if g.sample.total < minIDsAssessed {
			continue
		}
		a := g.sample.assess()
		if !a.Weak() {
			continue
		}
		detail, fix := weakIDText(name+" session ids set by the responses", a)
		first, last := g.xs[0].x, g.xs[len(g.xs)-1].x
		report := func(x *model.Exchange, evidence string) {
			rec.Report(Report{
				Cause:    "cookie\x00" + g.fw + "\x00" + name,
				Severity: a.Severity,
				Title:    "Weak session ids in " + name,
				Detail:   detail,
				Fix:      fix,
				Exchange: x.ID,
				Evidence: evidence,
				Time:     x.Start,
			})
		}
		report(first, fmt.Sprintf("%s: first of %d distinct %s ids, the last set by %s", evidencePrefix(first), a.IDs, name, last.ID))
		for _, why := range a.Reasons {
			report(last, last.ID+": "+why)
		}
	}
}

// weakSessionIDRule is weak-session-id at the store: the ids of new sessions
// (created, and the new id of a regeneration) and of the inventory, one sample per
// framework and key prefix. It reports when a sample reaches a size in idSample.due
// and the ids are weak, updating the one finding as more ids arrive.
type weakSessionIDRule struct {
	samples   map[string]*idSample
	inventory int // inventory facts seen, for the stride below
}

// An inventory of a million sessions would put every id through the sample (a map
// insert and delete each, a tenth of the tracker's inventory work) for a verdict that
// the first thousands already give: ids from one generator are alike throughout.
// Past inventoryFullSample, one inventory id in inventoryStride is sampled.
const (
	inventoryFullSample = 10_000
	inventoryStride     = 16
)

func newWeakSessionID() *weakSessionIDRule {
	return &weakSessionIDRule{samples: map[string]*idSample{}}
}

func (*weakSessionIDRule) ID() string { return "weak-session-id" }

func (w *weakSessionIDRule) OnEvent(ev *model.Event, rec *Recorder) {
	if ev.Session == nil || ev.Kind != model.KindCreated && ev.Kind != model.KindRegenerated {
		return
	}
	w.observe(*ev.Session, ev.Seq, ev.Time, 1, rec)
}

func (w *weakSessionIDRule) OnInventory(f SessionFact, rec *Recorder) {
	w.inventory++
	weight := 1
	if w.inventory > inventoryFullSample {
		if w.inventory%inventoryStride != 0 {
			return
		}
		weight = inventoryStride
	}
	w.observe(f.Session, 0, f.Time, weight, rec)
}

func (*weakSessionIDRule) Tick(time.Time, *Recorder) {}

func (w *weakSessionIDRule) observe(s model.SessionInfo, seq uint64, at time.Time, weight int, rec *Recorder) {
	if s.StoreID == "" {
		return
	}
	key := s.Framework + "\x00" + s.KeyPrefix
	sample := w.samples[key]
	if sample == nil {
		if len(w.samples) >= maxIDSamples {
			return
		}
		sample = newIDSample()
		w.samples[key] = sample
	}
	if !sample.addWeighted(s.StoreID, weight) || !sample.due() {
		return
	}
	a := sample.assess()
	if !a.Weak() {
		return
	}
	detail, fix := weakIDText(fmt.Sprintf("%s session ids under %q", s.Framework, s.KeyPrefix), a)
	where := "inventory"
	if seq != 0 {
		where = fmt.Sprintf("seq %d", seq)
	}
	rec.Report(Report{
		Cause:    "store\x00" + key,
		Severity: a.Severity,
		Title:    fmt.Sprintf("Weak session ids under %s (%s)", s.KeyPrefix, s.Framework),
		Detail:   detail,
		Fix:      fix,
		Session:  s.Ref,
		Event:    seq,
		Evidence: fmt.Sprintf("%s %s: at %d ids (%d judged): %s", where, at.UTC().Format("15:04:05.000"), sample.total, a.IDs, strings.Join(a.Reasons, "; ")),
		Time:     at,
	})
}
