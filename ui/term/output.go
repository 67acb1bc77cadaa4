// Package term writes the event stream to a terminal: human-readable lines (colour
// only on a TTY) or NDJSON exactly as DESIGN.md specifies, one flushed line per object.
package term

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// Writer renders objects.
type Writer interface {
	Write(o model.Object) error
	// Flush pushes buffered lines out; Copy calls it whenever the stream is idle.
	Flush() error
}

// Copy writes every object from ch until it is closed. It flushes whenever no further
// object is immediately waiting, so each line reaches the terminal promptly while a
// burst still costs one write per batch rather than per line.
func Copy(w Writer, ch <-chan model.Object) error {
	for o := range ch {
		if err := w.Write(o); err != nil {
			return err
		}
		if len(ch) == 0 {
			if err := w.Flush(); err != nil {
				return err
			}
		}
	}
	return w.Flush()
}

// JSON writes NDJSON.
type JSON struct {
	bw  *bufio.Writer
	enc *json.Encoder
	buf []byte // reused for objects that append their own JSON
}

// jsonAppender is an object that writes its JSON (the bytes its MarshalJSON returns,
// compact) by appending to a buffer: the proxy's exchanges, one per request, are
// encoded without the encoder's reflection, allocation and re-validation.
type jsonAppender interface {
	AppendJSON(dst []byte) ([]byte, error)
}

// NewJSON writes NDJSON to w.
func NewJSON(w io.Writer) *JSON {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	return &JSON{bw: bw, enc: enc}
}

// Write implements Writer.
func (j *JSON) Write(o model.Object) error {
	if a, ok := o.(jsonAppender); ok {
		b, err := a.AppendJSON(j.buf[:0])
		if err != nil {
			return fmt.Errorf("write json: %w", err)
		}
		j.buf = append(b, '\n')
		if _, err := j.bw.Write(j.buf); err != nil {
			return fmt.Errorf("write json: %w", err)
		}
		return nil
	}
	if err := j.enc.Encode(o); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}

// Flush implements Writer.
func (j *JSON) Flush() error { return j.bw.Flush() }

// Text writes human-readable lines: events and findings to out, status and hints to
// diag (stderr), so that piping the events stays clean.
type Text struct {
	out, diag *bufio.Writer
	color     bool
	notified  bool

	// pollInterval is the time between poll passes, said in poll mode's status line;
	// zero when unknown.
	pollInterval time.Duration
	// findingCounts is the count each finding id was last printed with: a finding
	// that fires again is one short line, not its whole text a second time.
	findingCounts map[string]int

	// barWidth is set by ShowProgressBar: inventory progress is then one line redrawn
	// in place on diag. barShown says that line is on screen and must be cleared
	// before anything else is written, or the next line would start inside it.
	barWidth func() int
	barShown bool
	invStart map[string]time.Time // per node: the first inventory status' time
}

// NewText writes lines to out and status lines to diag. color enables ANSI colours.
func NewText(out, diag io.Writer, color bool) *Text {
	return &Text{out: bufio.NewWriter(out), diag: bufio.NewWriter(diag), color: color, findingCounts: map[string]int{}}
}

// SetPollInterval tells the writer the time between poll passes, so that in poll
// mode the status line says how often it looks.
func (t *Text) SetPollInterval(d time.Duration) { t.pollInterval = d }

const (
	ansiReset  = "\x1b[0m"
	ansiDim    = "\x1b[2m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiBlue   = "\x1b[34m"
	ansiMag    = "\x1b[35m"
	ansiCyan   = "\x1b[36m"
	ansiBold   = "\x1b[1m"
)

var kindColor = map[model.Kind]string{
	model.KindCreated: ansiGreen, model.KindUpdated: ansiBlue, model.KindTouched: ansiDim,
	model.KindRegenerated: ansiMag, model.KindExpired: ansiYellow, model.KindEvicted: ansiYellow,
	model.KindDestroyed: ansiRed, model.KindGap: ansiRed + ansiBold, model.KindResynced: ansiCyan,
}

func (t *Text) paint(code, s string) string {
	if !t.color || code == "" {
		return s
	}
	return code + s + ansiReset
}

// ShowProgressBar draws inventory progress as a bar with rate and ETA, redrawn in
// place on the status writer, at most width() columns wide. Use it only when that
// writer is a terminal (see ProgressBarFor).
func (t *Text) ShowProgressBar(width func() int) {
	t.barWidth = width
	t.invStart = map[string]time.Time{}
}

// clearBar blanks the progress line, if one is drawn, so that what follows starts at
// the left margin of an empty line. Lines for out go to the same terminal through
// another writer, so the clearing is flushed now rather than left in diag's buffer.
func (t *Text) clearBar() error {
	if !t.barShown {
		return nil
	}
	t.barShown = false
	if _, err := t.diag.WriteString("\r\x1b[K"); err != nil {
		return err
	}
	return t.diag.Flush()
}

// Write implements Writer.
func (t *Text) Write(o model.Object) error {
	if err := t.clearBar(); err != nil {
		return err
	}
	switch v := o.(type) {
	case *model.Event:
		_, err := t.out.WriteString(t.eventLine(v) + "\n")
		return err
	case *model.Finding:
		return t.finding(v)
	case *model.Status:
		return t.status(v)
	case *model.Exchange:
		_, err := t.out.WriteString(t.exchangeLine(v) + "\n")
		return err
	}
	return nil
}

// Flush implements Writer.
func (t *Text) Flush() error {
	if err := t.out.Flush(); err != nil {
		return err
	}
	return t.diag.Flush()
}

func (t *Text) eventLine(e *model.Event) string {
	var b strings.Builder
	b.WriteString(t.paint(ansiDim, e.Time.Local().Format("15:04:05.000")))
	b.WriteString("  ")
	b.WriteString(t.paint(kindColor[e.Kind], fmt.Sprintf("%-11s", e.Kind)))
	if e.Kind == model.KindGap {
		fmt.Fprintf(&b, "  events may be lost between %s and %s", fmtTime(e.FromTime), fmtTime(e.ToTime))
		if e.Dropped > 0 {
			fmt.Fprintf(&b, " (%d dropped)", e.Dropped)
		}
		if e.Reason != "" {
			b.WriteString(": " + e.Reason)
		}
		return b.String()
	}
	if s := e.Session; s != nil {
		fmt.Fprintf(&b, "  %-10s %s  %-8s", s.ID, t.paint(ansiDim, s.Ref), s.Framework)
	}
	if e.TTL != nil {
		if *e.TTL < 0 {
			b.WriteString("  ttl none")
		} else {
			fmt.Fprintf(&b, "  ttl %ds", *e.TTL)
		}
	}
	if e.Size != nil {
		fmt.Fprintf(&b, "  %dB", *e.Size)
	}
	if len(e.Changed) > 0 {
		b.WriteString("  changed " + strings.Join(e.Changed, ","))
	}
	if e.From != nil {
		fmt.Fprintf(&b, "  from %s %s (%s", e.From.ID, e.From.Ref, e.Evidence)
		if e.OldKept {
			b.WriteString(", old kept")
		}
		b.WriteString(")")
	}
	if len(e.Candidates) > 0 {
		b.WriteString(t.paint(ansiYellow, "  "+candidatesText(e.Candidates)))
	}
	if e.AgeS != nil {
		fmt.Fprintf(&b, "  age %s", fmtSeconds(*e.AgeS))
	}
	if e.IdleS != nil {
		fmt.Fprintf(&b, "  idle %s", fmtSeconds(*e.IdleS))
	}
	if e.Cause != "" && e.Cause != model.CauseApp {
		b.WriteString("  cause " + e.Cause)
	}
	if e.Reason != "" {
		b.WriteString("  (" + e.Reason + ")")
	}
	if e.PayloadUnread != "" {
		b.WriteString(t.paint(ansiDim, "  payload not read: "+unreadText(e.PayloadUnread)))
	}
	return b.String()
}

// maxCandidatesShown bounds the refs listed on one line; the count says how many more.
const maxCandidatesShown = 5

// candidatesText words a birth the store could not pair as undecided: any of these
// sessions, which ended around it, may be the one it replaces, or none of them.
func candidatesText(cands []model.SessionInfo) string {
	refs := make([]string, 0, min(len(cands), maxCandidatesShown))
	for _, c := range cands[:min(len(cands), maxCandidatesShown)] {
		refs = append(refs, c.Ref)
	}
	s := fmt.Sprintf("maybe from one of %d (undecided): %s", len(cands), strings.Join(refs, ", "))
	if len(cands) == 1 {
		s = "maybe from " + refs[0] + " (undecided)"
	}
	if more := len(cands) - len(refs); more > 0 {
		s += fmt.Sprintf(" and %d more", more)
	}
	return s
}

func unreadText(reason string) string {
	switch reason {
	case model.UnreadBudget:
		return "read budget spent (raise --read-budget)"
	case model.UnreadGone:
		return "key gone before the read"
	case model.UnreadTimeout:
		return "Redis did not answer in time"
	case model.UnreadError:
		return "read failed"
	}
	return reason
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "?"
	}
	return t.Local().Format("15:04:05.000")
}

func fmtSeconds(s float64) string {
	return (time.Duration(s * float64(time.Second))).Round(time.Millisecond).String()
}

// maxFindingsRemembered bounds findingCounts. Findings are one per cause, so this is
// rarely reached; past it a finding that fires again is printed in full once more.
const maxFindingsRemembered = 4096

func (t *Text) finding(f *model.Finding) error {
	stamp := t.paint(ansiDim, f.Time.Local().Format("15:04:05.000"))
	if last, seen := t.findingCounts[f.ID]; seen && f.ID != "" {
		t.findingCounts[f.ID] = f.Count
		what := "finding updated"
		if f.Count > last {
			what = "finding again"
		}
		fmt.Fprintf(t.out, "%s  %s ×%d: %s %s\n", stamp, what, max(f.Count, 1), f.ID, f.Title)
		return nil
	}
	if len(t.findingCounts) >= maxFindingsRemembered {
		clear(t.findingCounts)
	}
	t.findingCounts[f.ID] = f.Count
	sev := map[model.Severity]string{model.SeverityError: ansiRed, model.SeverityWarning: ansiYellow}[f.Severity]
	fmt.Fprintf(t.out, "%s  %s  %s %s", stamp,
		t.paint(sev+ansiBold, fmt.Sprintf("finding %-7s", f.Severity)), f.Rule, t.paint(ansiBold, f.Title))
	if f.Count > 1 {
		fmt.Fprintf(t.out, " (×%d)", f.Count)
	}
	fmt.Fprintf(t.out, "\n    %s\n    fix: %s\n", f.Detail, f.Fix)
	for _, e := range f.Evidence {
		fmt.Fprintf(t.out, "    · %s\n", e)
	}
	return nil
}

func (t *Text) status(s *model.Status) error {
	w := t.diag
	// In poll mode the status message already is the one warning line, fix included.
	if n := s.Notifications; n != nil && !t.notified && s.Mode != model.ModePoll && (n.Missing != "" || n.Error != "") {
		t.notified = true
		writeNotificationHelp(w, s.Node, n)
	}
	if s.State == model.StateInventory && s.Inventory != nil && !s.Inventory.Done {
		if t.barWidth != nil {
			return t.drawBar(s)
		}
		// Progress only when the inventory is large enough to take a while.
		if s.Inventory.Scanned < 10000 {
			return nil
		}
		switch inv := s.Inventory; inv.Phase {
		case model.InventoryFill:
			fmt.Fprintf(w, "sessionscope: inventory of %s: every session listed (%d); TTL and size read for %d\n", s.Node, inv.Sessions, inv.Filled)
		case model.InventoryList:
			fmt.Fprintf(w, "sessionscope: inventory of %s, listing: %d keys scanned, %d sessions\n", s.Node, inv.Scanned, inv.Sessions)
		default:
			fmt.Fprintf(w, "sessionscope: inventory of %s: %d keys scanned, %d sessions\n", s.Node, inv.Scanned, inv.Sessions)
		}
		return nil
	}
	if s.Message != "" {
		fmt.Fprintf(w, "sessionscope: %s: %s\n", s.Node, s.Message)
	}
	if s.Inventory != nil && s.Inventory.Done {
		delete(t.invStart, s.Node) // a later inventory (after a resync) times itself anew
		fmt.Fprintf(w, "sessionscope: %s: %s; %d existing sessions (inventory, not events)%s\n", s.Node, t.modeText(s), s.Inventory.Sessions, t.modeTail(s))
	}
	return nil
}

// modeText names how changes are seen once the inventory is done: live events from
// keyspace notifications, or poll passes that only compare snapshots.
func (t *Text) modeText(s *model.Status) string {
	if s.Mode != model.ModePoll {
		return "live"
	}
	every := "polling for changes"
	if t.pollInterval > 0 {
		every = "polling every " + t.pollInterval.String()
	}
	if n := s.Notifications; n != nil && (n.Missing != "" || n.Error != "") {
		return every + " (keyspace notifications are off)"
	}
	return every + " (--mode poll)"
}

// modeTail ends the line: only live events are watched as they happen.
func (t *Text) modeTail(s *model.Status) string {
	if s.Mode == model.ModePoll {
		return "; changes between two passes are seen, not each write"
	}
	return "; watching for changes"
}

// drawBar draws the progress line for an inventory status. The rate counts from the
// node's first inventory status, which the store sends as the scan starts.
func (t *Text) drawBar(s *model.Status) error {
	start, ok := t.invStart[s.Node]
	if !ok {
		start = s.Time
		t.invStart[s.Node] = start
	}
	inv := s.Inventory
	elapsed := s.Time.Sub(start)
	if inv.Phase == model.InventoryFill && inv.ListedAt != nil {
		elapsed = s.Time.Sub(*inv.ListedAt) // the fill rate counts from the listing's end
	}
	line := ProgressLine(Progress{Node: s.Node, Scanned: inv.Scanned, Sessions: inv.Sessions, Estimate: inv.Estimate,
		Elapsed: elapsed, Phase: inv.Phase, Filled: inv.Filled}, t.barWidth())
	t.barShown = true
	_, err := t.diag.WriteString("\r" + line + "\x1b[K")
	return err
}

// writeNotificationHelp says which flags are missing and exactly how to fix it.
func writeNotificationHelp(w io.Writer, node string, n *model.Notifications) {
	if n.Error != "" {
		fmt.Fprintf(w, "sessionscope: %s: %s\n", node, n.Error)
	}
	if n.Missing != "" {
		fmt.Fprintf(w, "sessionscope: %s: keyspace notifications are missing the flags %q (in force: %q); without them sessionscope sees no live events.\n", node, n.Missing, n.Flags)
		fmt.Fprintf(w, "  fix (merges, keeps your current flags):  %s\n", n.Fix)
		fmt.Fprintf(w, "  or restart sessionscope with --configure-notifications to merge them for you\n")
	}
	for _, h := range n.Hints {
		fmt.Fprintf(w, "  %s\n", h)
	}
}

// exchangeLine renders one proxied request: method, URL, status, redirect, and the
// session cookies that went each way (names and refs, never values).
func (t *Text) exchangeLine(x *model.Exchange) string {
	var b strings.Builder
	b.WriteString(t.paint(ansiDim, x.Start.Local().Format("15:04:05.000")))
	fmt.Fprintf(&b, "  %-11s  %s %s → %d", t.paint(ansiCyan, "http"), x.Method, x.URL, x.Status)
	if x.Location != "" {
		b.WriteString(" " + x.Location)
	}
	for _, c := range x.CookiesSent {
		if c.SessionRef != "" {
			fmt.Fprintf(&b, "  sent %s %s", c.Name, c.SessionRef)
		}
	}
	for _, c := range x.SetCookies {
		if clears(c, x.Start) {
			// The value of a clearing cookie ("deleted", "") names no session: its ref
			// would send the reader looking for a session that never existed.
			fmt.Fprintf(&b, "  cleared %s", c.Name)
			continue
		}
		fmt.Fprintf(&b, "  set %s", c.Name)
		if c.SessionRef != "" {
			b.WriteString(" " + c.SessionRef)
		}
	}
	if x.Upstream != "" {
		b.WriteString(t.paint(ansiDim, "  via "+x.Upstream))
	}
	return b.String()
}

// clears reports whether a Set-Cookie deletes the cookie rather than setting it: a
// Max-Age of zero or less (which wins over Expires), or an Expires not after the
// response.
func clears(c model.SetCookie, at time.Time) bool {
	if c.MaxAge != nil {
		return *c.MaxAge <= 0
	}
	if c.Expires == nil {
		return false
	}
	if at.IsZero() {
		at = time.Now()
	}
	return !c.Expires.After(at)
}
