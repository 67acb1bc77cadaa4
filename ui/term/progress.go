package term

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	xterm "golang.org/x/term"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// Progress is one inventory progress report as the bar shows it.
type Progress struct {
	Node     string
	Scanned  int64 // keys the SCAN returned so far
	Sessions int64 // sessions among them
	Estimate int64 // keys the SCAN is expected to walk (DBSIZE); 0 when unknown
	// Elapsed is the time since the inventory started, from the status timestamps, so
	// the rate describes the scan and not how late the line is drawn.
	Elapsed time.Duration
	// Phase is a two-phase inventory's step (model.InventoryList, InventoryFill); ""
	// for an inventory read in one pass. In the fill phase the bar counts Filled of
	// Sessions, and Elapsed runs from the end of the listing.
	Phase  string
	Filled int64
}

const barCells = 24

// ProgressLine renders p as one terminal line of at most width columns (no limit when
// width <= 0): with an estimate, a bar, the share done, the keys against the estimate
// and the time left; always the keys and sessions so far and the scan rate. The share
// stops at 99% until the inventory reports done: keys written during the scan can
// push it past the estimate. On a narrow terminal the bar goes first, then the
// sessions and the counts, so that the share, the rate and the ETA stay.
func ProgressLine(p Progress, width int) string {
	if p.Phase == model.InventoryFill {
		return fillLine(p, width)
	}
	rate := 0.0
	if p.Elapsed > 0 {
		rate = float64(p.Scanned) / p.Elapsed.Seconds()
	}
	var bar, pct, counts, short, speed, eta string
	if p.Estimate > 0 {
		frac := min(float64(p.Scanned)/float64(p.Estimate), 0.99)
		filled := int(frac * barCells)
		bar = "[" + strings.Repeat("#", filled) + strings.Repeat(".", barCells-filled) + "]"
		pct = fmt.Sprintf("%d%%", int(frac*100))
		counts = fmt.Sprintf("%s of ~%s keys (estimate)", group(p.Scanned), group(p.Estimate))
		short = fmt.Sprintf("%s/~%s keys", group(p.Scanned), group(p.Estimate))
	} else {
		counts = group(p.Scanned) + " keys scanned"
		short = counts
	}
	if rate > 0 {
		speed = group(int64(rate)) + " keys/s"
		if p.Estimate > p.Scanned {
			eta = "ETA " + shortDuration(time.Duration(float64(p.Estimate-p.Scanned)/rate*float64(time.Second)))
		}
	}
	sessions := group(p.Sessions) + " sessions"
	head := "inventory of " + p.Node
	if p.Phase == model.InventoryList {
		head += ", 1/2 listing"
	}
	last := join(head, pct, speed, eta)
	if p.Estimate == 0 {
		last = join(head, short, speed)
	}
	variants := []string{
		join("sessionscope: "+head, bar, pct, counts, sessions, speed, eta),
		join("sessionscope: "+head, pct, counts, sessions, speed, eta),
		join(head, pct, short, speed, eta),
		last,
	}
	// One column stays free: a line filling the last column makes some terminals wrap
	// before the carriage return that redraws it.
	for _, v := range variants {
		if width <= 0 || utf8.RuneCountInString(v) < width {
			return v
		}
	}
	return string([]rune(last)[:max(width-1, 0)])
}

// fillLine is the bar of a two-phase inventory's second phase: every session is
// listed, and their TTL and size are being read.
func fillLine(p Progress, width int) string {
	head := "inventory of " + p.Node + ", 2/2 TTL and size"
	var bar, pct, speed, eta string
	if p.Sessions > 0 {
		frac := min(float64(p.Filled)/float64(p.Sessions), 0.99)
		filled := int(frac * barCells)
		bar = "[" + strings.Repeat("#", filled) + strings.Repeat(".", barCells-filled) + "]"
		pct = fmt.Sprintf("%d%%", int(frac*100))
	}
	counts := fmt.Sprintf("%s of %s sessions read", group(p.Filled), group(p.Sessions))
	if p.Elapsed > 0 && p.Filled > 0 {
		rate := float64(p.Filled) / p.Elapsed.Seconds()
		speed = group(int64(rate)) + " keys/s"
		if p.Sessions > p.Filled {
			eta = "ETA " + shortDuration(time.Duration(float64(p.Sessions-p.Filled)/rate*float64(time.Second)))
		}
	}
	variants := []string{
		join("sessionscope: "+head, bar, pct, counts, speed, eta),
		join("sessionscope: "+head, pct, counts, speed, eta),
		join(head, pct, speed, eta),
		join(head, pct),
	}
	for _, v := range variants {
		if width <= 0 || utf8.RuneCountInString(v) < width {
			return v
		}
	}
	last := variants[len(variants)-1]
	return string([]rune(last)[:max(width-1, 0)])
}

// join puts the non-empty parts on one line, two spaces apart.
func join(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		if p == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("  ")
		}
		b.WriteString(p)
	}
	return b.String()
}

// group writes n with thousands separators: 1,000,000 reads at a glance.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// shortDuration is d in whole seconds, minutes or hours: "7s", "2m05s", "1h04m".
func shortDuration(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second) // round up: "0s" left would be a lie
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	default:
		return fmt.Sprintf("%dh%02dm", s/3600, (s%3600)/60)
	}
}

// ProgressBarFor reports whether inventory progress written to w should be a bar
// redrawn in place: only when w is a terminal that can do it. In a pipe, a file or a
// CI log the carriage returns would garble the output, so the periodic lines stay.
func ProgressBarFor(w io.Writer, getenv func(string) string) bool {
	f, ok := w.(*os.File)
	if !ok || !xterm.IsTerminal(int(f.Fd())) {
		return false
	}
	return getenv("TERM") != "dumb"
}

// TerminalWidth returns a function that reads w's width in columns at each call, so the
// bar follows a resized window; 80 when w is not a terminal or does not say.
func TerminalWidth(w io.Writer) func() int {
	return func() int {
		if f, ok := w.(*os.File); ok {
			if cols, _, err := xterm.GetSize(int(f.Fd())); err == nil && cols > 0 {
				return cols
			}
		}
		return 80
	}
}
