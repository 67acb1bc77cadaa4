package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/history"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/tracker"
	"github.com/sessionscope/sessionscope/views"
)

// validRef reports whether s looks like a session ref (hex, at most 12 digits), so a
// malformed path gets a clear 404 without a table scan.
func validRef(s string) bool {
	if s == "" || len(s) > 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// payloadReader reads a session's payload on demand, within the read budget;
// *inspector.Inspector has it.
type payloadReader interface {
	ReadPayload(ctx context.Context, ref string, wait bool) (tracker.SessionDetail, error)
}

// endedSessions remembers the last known facts of sessions that ended;
// *inspector.Inspector has it.
type endedSessions interface {
	EndedSession(ref string) (tracker.EndedSession, error)
}

// loadSession returns a tracked session with its payload, reading the payload once
// when none was read yet (a session found by the inventory). readErr says why the
// payload is still missing after trying: a spent read budget, a failed read.
func (h *Handlers) loadSession(ctx context.Context, ref string, wait bool) (d tracker.SessionDetail, readErr, err error) {
	d, err = h.d.Src.Session(ref)
	if err != nil || d.Payload != nil {
		return d, nil, err
	}
	pr, ok := h.d.Src.(payloadReader)
	if !ok {
		return d, nil, nil
	}
	read, rerr := pr.ReadPayload(ctx, ref, wait)
	if rerr != nil {
		if !errors.Is(rerr, tracker.ErrBudgetSpent) && !errors.Is(rerr, tracker.ErrNotFound) {
			h.d.Logger.Warn("session page: payload read failed", "ref", ref, "err", rerr)
		}
		return d, rerr, nil
	}
	return read, nil, nil
}

// readNote tells why an on-demand read left no payload, and what to do next.
func (h *Handlers) readNote(err error) string {
	switch {
	case errors.Is(err, tracker.ErrBudgetSpent):
		return fmt.Sprintf("Not read yet: the payload read budget (%s reads/s, --read-budget) is spent right now. Read it now, or wait for its next write.",
			strconv.FormatFloat(h.d.Src.Status().ReadBudget, 'f', -1, 64))
	case errors.Is(err, tracker.ErrKeyGone):
		return "Not read: the key was gone from the store when sessionscope read it; the session has probably just ended."
	case errors.Is(err, tracker.ErrNotFound):
		return "Not read: the session left the table while it was being read; reload to see how it ended."
	}
	return "Not read: reading the payload from the store failed (sessionscope's log has the error). Check the store on the Status screen, then try again."
}

// SessionShow renders one session: payload tree (read once on demand when it was not
// read yet), TTL, lineage, timeline, findings, and links to its requests, flow and JSON.
func (h *Handlers) SessionShow(c echo.Context) error {
	ref := c.Param("ref")
	var d tracker.SessionDetail
	var readErr error
	err := tracker.ErrNotFound
	if validRef(ref) {
		d, readErr, err = h.loadSession(c.Request().Context(), ref, false)
	}
	if errors.Is(err, tracker.ErrNotFound) {
		// A session that ended (the "from" of a regeneration, a logout) is no longer
		// tracked, but its last facts and its events may still be known.
		if validRef(ref) {
			events, note := h.sessionTimeline(c, ref)
			ended, eerr := h.endedFacts(ref)
			if len(events) > 0 || eerr == nil {
				return h.endedSession(c, ref, events, note, ended, eerr == nil)
			}
		}
		return h.ErrorPage(c, http.StatusNotFound, "Session not found",
			fmt.Sprintf("No tracked session has the ref %q. The session may have ended (destroyed, expired or regenerated to a new id); its last events may still be in the Live feed.", ref),
			views.Link{Text: "Go to Live", URL: "/"}, views.Link{Text: "Search sessions", URL: "/sessions"})
	}
	if err != nil {
		return fmt.Errorf("session %s: %w", ref, err)
	}
	r := d.Row
	now := h.d.Now()
	vm := views.SessionPage{Layout: h.Layout("Session "+r.Ref, "sessions"), Ref: r.Ref, ID: r.ID, Framework: r.Framework,
		KeyPrefix: r.KeyPrefix, Format: r.Format, Size: bytesText(int64(r.Size)), Born: stamp(r.Born),
		LastActivity: stamp(r.LastActivity), Authenticated: r.Authenticated, Inventory: r.Inventory, Revealed: h.d.RevealValues,
		Node: r.Node, JSONURL: "/api/sessions/" + url.PathEscape(r.Ref), AuthUnknown: !r.PayloadRead && !r.Authenticated}
	vm.RequestsURL, vm.FlowURL = sessionTrafficURLs(r.Ref)
	vm.ExpiresISO, vm.TTL = ttlText(r.ExpiresAt, r.NoTTL, now)
	if r.MetaUnread {
		vm.ExpiresISO, vm.TTL, vm.Size = "", notReadYet, notReadYet
	}
	if vm.ExpiresISO == "" {
		vm.ExpiresISO = "none" // unknown: the countdown has nothing to tick
	}
	if r.FromRef != "" {
		vm.From = &views.Link{Text: r.FromRef, URL: sessionURL(r.FromRef)}
	}
	if r.ToRef != "" {
		vm.To = &views.Link{Text: r.ToRef, URL: sessionURL(r.ToRef)}
	}
	events, timelineNote := h.sessionTimeline(c, r.Ref)
	ctx := c.Request().Context()
	var past inspector.Past
	var known bool
	if r.Inventory {
		// This run found it by its inventory; what the history recorded of its birth
		// and lineage, before a restart or a gap, is still its own.
		past, known = h.sessionPast(ctx, []string{r.Ref})[r.Ref]
	}
	born := r.Born
	if born.IsZero() {
		born = past.Born
	}
	gaps := h.lifeGaps(ctx, events, r.Ref, born, time.Time{})
	if r.Inventory {
		vm.Born, vm.BornNote, vm.Evidence = bornFromPast(r.Born, past, known, events, gaps, r.Ref)
		if vm.From == nil && past.From != "" {
			vm.From = &views.Link{Text: past.From, URL: sessionURL(past.From)}
		}
		if vm.To == nil && past.To != "" {
			vm.To = &views.Link{Text: past.To, URL: sessionURL(past.To)}
		}
	}
	if p, ok := inspector.PastOf(r.Ref, events); ok && vm.Evidence == "" && vm.From != nil && p.From == vm.From.Text {
		vm.Evidence = p.Evidence
	}
	if vm.From == nil {
		vm.Candidates = birthCandidates(events, r.Ref)
	}
	vm.Payload = viewPayload(buildPayload(d.Payload, h.d.RevealValues, h.d.Redact))
	if vm.Payload == nil {
		vm.PayloadNote = payloadNote(events)
		if readErr != nil {
			vm.PayloadNote = h.readNote(readErr)
			if !errors.Is(readErr, tracker.ErrKeyGone) && !errors.Is(readErr, tracker.ErrNotFound) {
				vm.ReadAction = sessionURL(r.Ref) + "/read"
			}
		}
	}
	vm.Timeline = h.timelineWithGaps(events, gaps, r.Ref)
	vm.Timeline.Note = timelineNote
	for _, f := range sessionFindings(h.d.Src, r.Ref) {
		vm.Findings = append(vm.Findings, findingView(f))
	}
	return Render(c, http.StatusOK, views.SessionView(vm))
}

// sessionHistory is what the history tells of sessions beyond their events;
// *inspector.Inspector has it.
type sessionHistory interface {
	SessionPast(ctx context.Context, refs []string) (map[string]inspector.Past, error)
	Gaps(ctx context.Context, from, to time.Time) ([]*model.Event, error)
}

// sessionPast is the past of refs in the history: one query for all of them. It is
// empty without a history; a failed query is logged and shows as unknown.
func (h *Handlers) sessionPast(ctx context.Context, refs []string) map[string]inspector.Past {
	sh, ok := h.d.Src.(sessionHistory)
	if !ok || len(refs) == 0 {
		return nil
	}
	past, err := sh.SessionPast(ctx, refs)
	if err != nil {
		h.d.Logger.Warn("sessions: reading their birth from the history failed", "sessions", len(refs), "err", err)
	}
	return past
}

// restartReason is the reason of the history gap that spans the time sessionscope was
// not running (inspector/history writes it at the start of a run).
const restartReason = "sessionscope was not running"

// bornFromPast is the born fact of a session this run found by its inventory: the
// history's birth when it holds one, else why the birth is unknown, in words that
// say what the user sees. events are its timeline and gaps those of its life, oldest
// first.
func bornFromPast(born time.Time, p inspector.Past, known bool, events, gaps []*model.Event, ref string) (views.Stamp, string, string) {
	switch {
	case !born.IsZero():
		return stamp(born), "", ""
	case known && !p.Born.IsZero():
		note := "from the history: sessionscope found it again by its inventory after a gap in what it watched"
		if restartedSince(gaps, p.Born) {
			note = "before sessionscope's restart (from the history); found again by the inventory"
		}
		return stamp(p.Born), note, p.Evidence
	case known && !p.EndedAt.IsZero():
		return views.Stamp{}, fmt.Sprintf("unknown: after %s, when its previous life ended (%s), while sessionscope was not watching; found by the inventory",
			p.EndedAt.Local().Format("2006-01-02 15:04:05.000"), p.EndedKind), ""
	}
	for _, e := range events {
		if e.Session != nil && e.Session.Ref == ref {
			return views.Stamp{}, fmt.Sprintf("unknown: before %s, its oldest event in the history; found by the inventory",
				e.Time.Local().Format("2006-01-02 15:04:05.000")), ""
		}
	}
	return views.Stamp{}, "unknown: found by the inventory, born before sessionscope watched it", ""
}

// restartedSince reports whether gaps hold the time sessionscope was not running,
// after t: it was stopped and started again since.
func restartedSince(gaps []*model.Event, t time.Time) bool {
	for _, g := range gaps {
		if g.Backend == history.BackendHistory && strings.Contains(g.Reason, restartReason) && !g.Time.Before(t) {
			return true
		}
	}
	return false
}

// SessionRead is POST /sessions/:ref/read, the "Read payload now" button: one read of
// the payload, waiting a moment for the read budget, then back to the session page
// (POST-redirect-GET, so a reload does not post again).
func (h *Handlers) SessionRead(c echo.Context) error {
	ref := c.Param("ref")
	if !validRef(ref) {
		return h.ErrorPage(c, http.StatusNotFound, "Session not found",
			fmt.Sprintf("%q is not a session ref: a ref is up to 12 lowercase hex digits.", truncate(ref, 40)),
			views.Link{Text: "Search sessions", URL: "/sessions"})
	}
	if _, _, err := h.loadSession(c.Request().Context(), ref, true); err != nil && !errors.Is(err, tracker.ErrNotFound) {
		return fmt.Errorf("session %s: %w", ref, err)
	}
	return c.Redirect(http.StatusSeeOther, sessionURL(ref))
}

// sessionTrafficURLs are the Requests table and the Flow filtered to one session.
func sessionTrafficURLs(ref string) (requests, flow string) {
	q := filterValues(views.ExchangeFilter{Session: ref})
	return withQuery("/requests", q), withQuery("/flow", q)
}

// endedFacts asks the Source for an ended session's last known facts, when it keeps them.
func (h *Handlers) endedFacts(ref string) (tracker.EndedSession, error) {
	if es, ok := h.d.Src.(endedSessions); ok {
		return es.EndedSession(ref)
	}
	return tracker.EndedSession{}, fmt.Errorf("ended session %s: %w", ref, tracker.ErrNotFound)
}

// birthCandidates are the sessions ref may replace, from its birth event, when the
// store could not decide its predecessor: all of them, since this page is where the
// feed's shortened list leads.
func birthCandidates(events []*model.Event, ref string) []views.Link {
	for _, e := range events {
		if e.Kind == model.KindCreated && e.Session != nil && e.Session.Ref == ref {
			links, _ := candidateLinks(e.Candidates, len(e.Candidates))
			return links
		}
	}
	return nil
}

// payloadNote says why there is no payload, from the latest event that tells.
func payloadNote(events []*model.Event) string {
	for i := len(events) - 1; i >= 0; i-- {
		switch events[i].PayloadUnread {
		case model.UnreadBudget:
			return "Not read: the payload read budget was spent when this session changed. Raise --read-budget, or wait for its next write."
		case model.UnreadGone:
			return "Not read: the key was gone when sessionscope read it."
		case model.UnreadTimeout, model.UnreadError:
			return "Not read: reading the payload failed (" + events[i].PayloadUnread + "); see Status."
		}
	}
	return "No payload read yet: sessionscope reads a payload when the session is written (sessions found by the inventory are read on their next write)."
}

// Timeline geometry: one row per event.
const (
	timelineTop = 16
	timelineRow = 28
)

// timeline lays out a session's events for the SVG, oldest at the top.
func timeline(events []*model.Event, ref string) views.Timeline {
	tl := views.Timeline{Height: timelineTop * 2}
	for i, e := range events {
		label := string(e.Kind)
		if e.Kind == model.KindRegenerated && e.From != nil && e.From.Ref == ref {
			label = "regenerated →" // this session was the predecessor
		}
		detail := eventDetail(e)
		if e.Kind == model.KindGap {
			detail = gapDetail(e) // the full sentence would be cut; the row's title has it
		}
		if m := eventMeta(e); m != "" {
			detail = m + "  " + detail
		}
		detail = truncate(detail, 60)
		tl.Items = append(tl.Items, views.TimelineItem{Y: timelineTop + i*timelineRow, Seq: e.Seq, Kind: string(e.Kind),
			Label: label, Time: clock(e.Time), Detail: detail})
	}
	if n := len(events); n > 0 {
		tl.Height = timelineTop*2 + (n-1)*timelineRow
	}
	return tl
}

// gapDetail is a gap on a session's timeline in a few words: why, and until when.
func gapDetail(e *model.Event) string {
	s := e.Reason
	if s == "" {
		s = "events may have been lost"
	}
	if e.ToTime != nil {
		s += ", until " + e.ToTime.Local().Format("15:04:05.000")
	}
	return s
}

func eventURL(seq uint64) string {
	return "/api/events?after=" + strconv.FormatUint(seq-1, 10) + "&limit=1"
}

// truncate cuts s to at most n runes, ending in "…" when cut.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// endedState is what is known of how a session no longer tracked ended: from the
// tracker's last facts, then from its timeline, whose later events tell more.
type endedState struct {
	info      *model.SessionInfo // its identity, from its events
	kind      model.Kind         // how it ended; "" unknown
	at        time.Time
	movedTo   string // regenerated away (old key not kept): the session it became
	handedTo  string // not ended: a migration carried it to this master, not followed here
	evidence  string // of that regeneration
	from, to  string // lineage its events tell
	lastEvent time.Time
}

// endedOf reads how ref ended from the tracker's facts (when known) and its timeline,
// oldest first; the page and the API object of an ended session both tell this.
func endedOf(ref string, events []*model.Event, facts tracker.EndedSession, known bool) endedState {
	var st endedState
	if known {
		st.kind, st.at = facts.Kind, facts.At
	}
	for _, e := range events {
		switch {
		case e.Session != nil && e.Session.Ref == ref:
			st.info = e.Session
			switch e.Kind {
			case model.KindDestroyed, model.KindExpired, model.KindEvicted:
				st.kind, st.at, st.movedTo = e.Kind, e.Time, ""
			case model.KindRegenerated:
				if e.From != nil {
					st.from = e.From.Ref
				}
			}
		case e.From != nil && e.From.Ref == ref:
			st.info = e.From
			st.to = e.Session.Ref
			if !e.OldKept {
				st.kind, st.at, st.movedTo, st.evidence = model.KindRegenerated, e.Time, e.Session.Ref, e.Evidence
			}
		}
		st.lastEvent = e.Time
	}
	if known && facts.MovedToNode != "" && (st.kind == "" || !st.at.After(facts.At)) {
		// Moved after whatever its events say ended (an earlier life of the ref).
		st.kind, st.movedTo, st.handedTo, st.at = "", "", facts.MovedToNode, facts.At
	}
	return st
}

// endedSession renders a session that is no longer tracked: its last known facts
// (when known) and its timeline, from the history and the ring.
func (h *Handlers) endedSession(c echo.Context, ref string, events []*model.Event, timelineNote string, facts tracker.EndedSession, known bool) error {
	st := endedOf(ref, events, facts, known)
	vm := views.SessionPage{Ref: ref, Size: "—", TTL: "ended", ExpiresISO: "none", JSONURL: "/api/sessions/" + url.PathEscape(ref)}
	if known {
		r := facts.Row
		vm.ID, vm.Framework, vm.KeyPrefix, vm.Format, vm.Node = r.ID, r.Framework, r.KeyPrefix, r.Format, r.Node
		if r.Size > 0 {
			vm.Size = bytesText(int64(r.Size))
		}
		vm.Born, vm.LastActivity, vm.Inventory = stamp(r.Born), stamp(r.LastActivity), r.Inventory
		vm.Authenticated, vm.AuthUnknown = r.Authenticated, !r.PayloadRead && !r.Authenticated
		if r.Authenticated {
			vm.AuthUntil = fmt.Sprintf("(until %s at %s)", endedVerb(facts.Kind), facts.At.Local().Format("15:04:05.000"))
			if facts.MovedToNode != "" {
				vm.AuthUntil = fmt.Sprintf("(when it moved at %s)", facts.At.Local().Format("15:04:05.000"))
			}
		}
		if r.FromRef != "" {
			vm.From = &views.Link{Text: r.FromRef, URL: sessionURL(r.FromRef)}
		}
		if r.ToRef != "" {
			vm.To = &views.Link{Text: r.ToRef, URL: sessionURL(r.ToRef)}
		}
	}
	if st.from != "" {
		vm.From = &views.Link{Text: st.from, URL: sessionURL(st.from)}
	}
	if st.to != "" {
		vm.To = &views.Link{Text: st.to, URL: sessionURL(st.to)}
	}
	ended := "This session is no longer in the store; its events below are what sessionscope still remembers."
	switch {
	case st.movedTo != "":
		ended = fmt.Sprintf("This session ended at %s when it was regenerated to %s (%s evidence).",
			st.at.Local().Format("15:04:05.000"), st.movedTo, st.evidence)
	case st.kind != "" && st.kind != model.KindRegenerated:
		ended = fmt.Sprintf("This session ended: %s at %s.", st.kind, st.at.Local().Format("15:04:05.000"))
	case st.handedTo != "":
		ended = fmt.Sprintf("This session did not end: at %s a slot migration moved its key to master %s, which this sessionscope does not follow (--nodes). "+
			"The sessionscope that follows %[2]s shows the rest of its life.", st.at.Local().Format("15:04:05.000"), st.handedTo)
	}
	if past, ok := inspector.PastOf(ref, events); ok && vm.Born.ISO == "" && !past.Born.IsZero() {
		// Its birth is in the timeline the history keeps, before this run found it.
		vm.Born = stamp(past.Born)
		if vm.Inventory {
			vm.BornNote = "from the history; this run found it by its inventory"
		}
		if vm.From != nil && past.From == vm.From.Text {
			vm.Evidence = past.Evidence
		}
	}
	if vm.From == nil {
		vm.Candidates = birthCandidates(events, ref)
	}
	if !known {
		vm.AuthUnknown = true // nothing of its payload is remembered
	}
	if st.info != nil && !known {
		vm.ID, vm.Framework, vm.KeyPrefix = st.info.ID, st.info.Framework, st.info.KeyPrefix
	}
	vm.Layout = h.Layout("Session "+ref, "sessions")
	vm.Ended = ended
	vm.RequestsURL, vm.FlowURL = sessionTrafficURLs(ref)
	vm.PayloadNote = "The payload is gone with the session."
	if st.handedTo != "" {
		vm.TTL = "on master " + st.handedTo
		vm.PayloadNote = "The payload is on master " + st.handedTo + ", which this sessionscope does not follow."
	}
	vm.Timeline = h.timelineWithGaps(events, h.lifeGaps(c.Request().Context(), events, ref, time.Time{}, st.lastEvent), ref)
	vm.Timeline.Note = timelineNote
	for _, f := range sessionFindings(h.d.Src, ref) {
		vm.Findings = append(vm.Findings, findingView(f))
	}
	return Render(c, http.StatusOK, views.SessionView(vm))
}

// timelineReader reads a session's timeline and says whether it is whole;
// *inspector.Inspector has it.
type timelineReader interface {
	SessionTimeline(ctx context.Context, ref string) (events []*model.Event, truncated bool, err error)
}

// sessionTimeline is the session's events: from the history too when there is one,
// so the page shows its whole timeline however long ago it began. note, when set,
// tells what the events leave out.
func (h *Handlers) sessionTimeline(c echo.Context, ref string) (events []*model.Event, note string) {
	ctx := c.Request().Context()
	if tr, ok := h.d.Src.(timelineReader); ok {
		events, truncated, err := tr.SessionTimeline(ctx, ref)
		switch {
		case err != nil:
			h.d.Logger.Warn("session page: reading its timeline from the history failed", "ref", ref, "err", err)
			note = "Reading this session's events from the history failed (sessionscope's log has the error): the timeline shows those read, and the latest still in memory. Reload to try again."
		case truncated:
			n := groupThousands(inspector.MaxTimelineEvents)
			note = "The history holds more than " + n + " events of this session: the timeline shows its first " + n +
				" and the latest still in memory, not those between."
		}
		return events, note
	}
	if hs := h.history(); hs != nil {
		return hs.SessionEvents(ctx, ref), ""
	}
	return sessionEvents(h.d.Src, ref), ""
}

// groupThousands writes n with commas between groups of three digits: 20,000.
func groupThousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// timelineWithGaps lays out a session's events with the gaps of its life.
func (h *Handlers) timelineWithGaps(events, gaps []*model.Event, ref string) views.Timeline {
	tl := timeline(withGaps(events, gaps), ref)
	tl.History = h.historyOn()
	return tl
}

// lifeGaps are the gaps that began during a session's life (from its birth or first
// event to end; zero end: now), where events of it may be missing: the time
// sessionscope was not running, a store disconnect, a history pause.
func (h *Handlers) lifeGaps(ctx context.Context, events []*model.Event, ref string, born, end time.Time) []*model.Event {
	start := born
	if len(events) > 0 && (start.IsZero() || events[0].Time.Before(start)) {
		start = events[0].Time
	}
	sh, ok := h.d.Src.(sessionHistory)
	if !ok || start.IsZero() {
		return nil
	}
	gaps, err := sh.Gaps(ctx, start, end)
	if err != nil {
		h.d.Logger.Warn("session: reading gaps from the history failed", "ref", ref, "err", err)
	}
	return gaps
}

// withGaps merges a session's events and the gaps of its life, oldest first.
func withGaps(events, gaps []*model.Event) []*model.Event {
	if len(gaps) == 0 {
		return events
	}
	return slices.SortedStableFunc(slices.Values(append(slices.Clip(events), gaps...)),
		func(a, b *model.Event) int { return a.Time.Compare(b.Time) })
}

// endedVerb is how an end reads after "until": "destroyed", "regenerated to a new id".
func endedVerb(k model.Kind) string {
	if k == model.KindRegenerated {
		return "regenerated to a new id"
	}
	return string(k)
}
