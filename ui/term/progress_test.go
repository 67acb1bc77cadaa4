package term

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sessionscope/sessionscope/inspector/model"
)

func TestProgressLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		p     Progress
		width int
		want  string
	}{
		{
			name: "estimate: bar, share, rate and ETA",
			p:    Progress{Node: "127.0.0.1:6379", Scanned: 250_000, Sessions: 200_000, Estimate: 1_000_000, Elapsed: 2 * time.Second},
			want: "sessionscope: inventory of 127.0.0.1:6379  [######..................]  25%  250,000 of ~1,000,000 keys (estimate)  200,000 sessions  125,000 keys/s  ETA 6s",
		},
		{
			name: "ETA in minutes",
			p:    Progress{Node: "n", Scanned: 1_000, Estimate: 151_000, Elapsed: time.Second},
			want: "sessionscope: inventory of n  [........................]  0%  1,000 of ~151,000 keys (estimate)  0 sessions  1,000 keys/s  ETA 2m30s",
		},
		{
			name: "ETA in hours",
			p:    Progress{Node: "n", Scanned: 10, Estimate: 36_010, Elapsed: 10 * time.Second},
			want: "sessionscope: inventory of n  [........................]  0%  10 of ~36,010 keys (estimate)  0 sessions  1 keys/s  ETA 10h00m",
		},
		{
			name: "past the estimate: 99%, no ETA",
			p:    Progress{Node: "n", Scanned: 1_200, Sessions: 3, Estimate: 1_000, Elapsed: time.Second},
			want: "sessionscope: inventory of n  [#######################.]  99%  1,200 of ~1,000 keys (estimate)  3 sessions  1,200 keys/s",
		},
		{
			name: "no estimate (MATCH scan): counts and rate only",
			p:    Progress{Node: "n", Scanned: 42_000, Sessions: 42_000, Elapsed: 4 * time.Second},
			want: "sessionscope: inventory of n  42,000 keys scanned  42,000 sessions  10,500 keys/s",
		},
		{
			name: "first report: nothing elapsed, no rate",
			p:    Progress{Node: "n", Estimate: 500},
			want: "sessionscope: inventory of n  [........................]  0%  0 of ~500 keys (estimate)  0 sessions",
		},
		{
			name:  "narrow terminal drops the bar first",
			p:     Progress{Node: "n", Scanned: 500, Estimate: 1_000, Elapsed: time.Second},
			width: 100,
			want:  "sessionscope: inventory of n  50%  500 of ~1,000 keys (estimate)  0 sessions  500 keys/s  ETA 1s",
		},
		{
			name:  "80 columns keep the share, the rate and the ETA",
			p:     Progress{Node: "127.0.0.1:6399", Scanned: 1_299_593, Sessions: 1_299_593, Estimate: 2_000_000, Elapsed: 6 * time.Second},
			width: 80,
			want:  "inventory of 127.0.0.1:6399  64%  216,598 keys/s  ETA 4s",
		},
		{
			name:  "80 columns without an estimate keep the count and the rate",
			p:     Progress{Node: "10.20.30.40:6379", Scanned: 1_299_593, Sessions: 1_299_593, Elapsed: 6 * time.Second},
			width: 80,
			want:  "inventory of 10.20.30.40:6379  1,299,593 keys scanned  216,598 keys/s",
		},
		{
			name:  "very narrow terminal cuts the line one column short",
			p:     Progress{Node: "n", Scanned: 500, Estimate: 1_000, Elapsed: time.Second},
			width: 21,
			want:  "inventory of n  50% ",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ProgressLine(tc.p, tc.width)
			if got != tc.want {
				t.Errorf("ProgressLine(%+v, %d)\n got %q\nwant %q", tc.p, tc.width, got, tc.want)
			}
			if tc.width > 0 && utf8.RuneCountInString(got) >= tc.width {
				t.Errorf("line of %d columns does not fit %d", utf8.RuneCountInString(got), tc.width)
			}
		})
	}
}

func TestProgressBarFor(t *testing.T) {
	t.Parallel()
	env := func(term string) func(string) string {
		return func(k string) string {
			if k == "TERM" {
				return term
			}
			return ""
		}
	}
	file, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	for _, tc := range []struct {
		name string
		w    io.Writer
		want bool
	}{
		{"a buffer", &bytes.Buffer{}, false},
		{"a regular file (stderr redirected to a log)", file, false},
		{"a pipe (stderr piped to another program)", pw, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ProgressBarFor(tc.w, env("xterm-256color")); got != tc.want {
				t.Errorf("ProgressBarFor = %v, want %v", got, tc.want)
			}
		})
	}
	// A pseudo-terminal's master side answers the terminal ioctls as the terminal a
	// user runs sessionscope in does.
	tty, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Logf("no pseudo-terminal to test the terminal case (%v)", err)
		return
	}
	defer tty.Close()
	if !ProgressBarFor(tty, env("xterm-256color")) {
		t.Error("a terminal gets no progress bar")
	}
	if ProgressBarFor(tty, env("dumb")) {
		t.Error("TERM=dumb gets a progress bar: it cannot redraw a line")
	}
}

func inventoryStatus(at time.Time, scanned, estimate int64, done bool) *model.Status {
	st := model.StateInventory
	if done {
		st = model.StateLive
	}
	return &model.Status{Type: model.TypeStatus, Time: at, Node: "n", State: st,
		Inventory: &model.Inventory{Scanned: scanned, Sessions: scanned / 2, Estimate: estimate, Done: done}}
}

// TestTextProgressBar: on a terminal the progress is one line redrawn in place and
// cleared before anything else is printed; elsewhere the periodic lines stay.
func TestTextProgressBar(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)
	feed := func(w *Text) {
		t.Helper()
		ch := make(chan model.Object, 8)
		ch <- inventoryStatus(t0, 0, 0, false)
		ch <- inventoryStatus(t0.Add(2*time.Second), 20_000, 100_000, false)
		ch <- sampleEvent()
		ch <- inventoryStatus(t0.Add(4*time.Second), 40_000, 100_000, false)
		ch <- inventoryStatus(t0.Add(5*time.Second), 100_000, 0, true)
		close(ch)
		if err := Copy(w, ch); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("terminal", func(t *testing.T) {
		var out, diag bytes.Buffer
		w := NewText(&out, &diag, false)
		w.ShowProgressBar(func() int { return 200 })
		feed(w)
		d := diag.String()
		for _, want := range []string{
			"\rsessionscope: inventory of n  [####....................]  20%  20,000 of ~100,000 keys (estimate)  10,000 sessions  10,000 keys/s  ETA 8s\x1b[K",
			"\r\x1b[K", // cleared for the event line
			"\rsessionscope: inventory of n  [#########...............]  40%  40,000 of ~100,000 keys (estimate)  20,000 sessions  10,000 keys/s  ETA 6s\x1b[K",
		} {
			if !strings.Contains(d, want) {
				t.Errorf("stderr lacks %q:\n%q", want, d)
			}
		}
		if !strings.HasSuffix(d, "\r\x1b[Ksessionscope: n: live; 50000 existing sessions (inventory, not events); watching for changes\n") {
			t.Errorf("the bar is not cleared before the live line:\n%q", d)
		}
		if strings.Contains(d, "\n") && strings.Index(d, "\n") != len(d)-1 {
			t.Errorf("lines other than the final one printed besides the bar:\n%q", d)
		}
		if !strings.Contains(out.String(), "regenerated") {
			t.Errorf("event line missing: %q", out.String())
		}
	})

	t.Run("not a terminal", func(t *testing.T) {
		var out, diag bytes.Buffer
		feed(NewText(&out, &diag, false))
		want := "sessionscope: inventory of n: 20000 keys scanned, 10000 sessions\n" +
			"sessionscope: inventory of n: 40000 keys scanned, 20000 sessions\n" +
			"sessionscope: n: live; 50000 existing sessions (inventory, not events); watching for changes\n"
		if diag.String() != want {
			t.Errorf("stderr\n got %q\nwant %q", diag.String(), want)
		}
	})
}
