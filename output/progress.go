package output

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/term"
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
}

const barCells = 24

// ProgressLine renders p as one terminal line of at most width columns (no limit when
// width <= 0): with an estimate, a bar, the share done, the keys against the estimate
// and the time left; always the keys and sessions so far and the scan rate. The share
// stops at 99% until the inventory reports done: keys written during the scan can
// push it past the estimate.
func ProgressLine(p Progress, width int) string {
	rate := 0.0
	if p.Elapsed > 0 {
		rate = float64(p.Scanned) / p.Elapsed.Seconds()
	}
	var bar, counts strings.Builder
	if p.Estimate > 0 {
		frac := min(float64(p.Scanned)/float64(p.Estimate), 0.99)
		filled := int(frac * barCells)
		fmt.Fprintf(&bar, " [%s%s] %3d%%", strings.Repeat("#", filled), strings.Repeat(".", barCells-filled), int(frac*100))
		fmt.Fprintf(&counts, "  %s of ~%s keys (estimate)", group(p.Scanned), group(p.Estimate))
	} else {
		fmt.Fprintf(&counts, "  %s keys scanned", group(p.Scanned))
	}
	fmt.Fprintf(&counts, ", %s sessions", group(p.Sessions))
	if rate > 0 {
		fmt.Fprintf(&counts, "  %s keys/s", group(int64(rate)))
		if p.Estimate > p.Scanned {
			left := time.Duration(float64(p.Estimate-p.Scanned) / rate * float64(time.Second))
			counts.WriteString("  ETA " + shortDuration(left))
		}
	}
	head := "sessionscope: inventory of " + p.Node
	line := head + bar.String() + counts.String()
	if width <= 0 || utf8.RuneCountInString(line) < width {
		return line
	}
	// Too wide: the numbers matter more than the bar. One column stays free, since a
	// line filling the last column makes some terminals wrap before the redraw.
	line = head + counts.String()
	if utf8.RuneCountInString(line) >= width {
		line = string([]rune(line)[:max(width-1, 0)])
	}
	return line
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
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return false
	}
	return getenv("TERM") != "dumb"
}

// TerminalWidth returns a function that reads w's width in columns at each call, so the
// bar follows a resized window; 80 when w is not a terminal or does not say.
func TerminalWidth(w io.Writer) func() int {
	return func() int {
		if f, ok := w.(*os.File); ok {
			if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 {
				return cols
			}
		}
		return 80
	}
}
