package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/sessionscope/sessionscope/inspector/history"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/ui/term"
)

// HistoryOptions are the history flags of watch, serve and sessionscope alone.
type HistoryOptions struct {
	Path    string        // --history PATH; default $XDG_STATE_HOME/sessionscope/history.db (the lab: lab.db)
	Off     bool          // --no-history: record nothing
	MaxSize int64         // --history-max-size, e.g. 1GiB or 500MB; default 1 GiB
	MaxAge  time.Duration // --history-max-age, a Go duration or Nd; default 7d
}

// historyFlags adds the history flags to fs. The default file is named after what
// runs: the lab's sessions must not mix with a watched store's.
func historyFlags(fs *flag.FlagSet, h *HistoryOptions, getenv func(string) string, name string) {
	h.Path, h.MaxSize, h.MaxAge = defaultHistoryPath(getenv, name), history.DefaultMaxBytes, history.DefaultMaxAge
	fs.StringVar(&h.Path, "history", h.Path, "history `file`: events, exchanges (never cookie values) and findings kept across restarts (default under $XDG_STATE_HOME or ~/.local/state/sessionscope)")
	fs.BoolVar(&h.Off, "no-history", false, "keep no history file: what sessionscope saw lives only in its 10,000-object ring")
	fs.Var(sizeFlag{&h.MaxSize}, "history-max-size", "history retention by `size`, oldest first, e.g. 1GiB or 500MB")
	fs.Var(ageFlag{&h.MaxAge}, "history-max-age", "history retention by `age`, oldest first: a duration (36h) or days (7d)")
}

// defaultHistoryPath is history.DefaultPath through the getenv Main was given, so that
// a test (or an embedding) can point it elsewhere. "" when there is no state directory:
// Open then says to give --history.
func defaultHistoryPath(getenv func(string) string, name string) string {
	path, err := history.DefaultPath(getenv, name)
	if err != nil {
		return ""
	}
	return path
}

// openHistory opens the history the options ask for; nil when off or when it cannot
// be opened, which costs one line on stderr and no more: sessionscope goes on.
func openHistory(h HistoryOptions, stderr io.Writer, logger *slog.Logger) *history.Store {
	if h.Off {
		return nil
	}
	st, err := history.Open(history.Options{Path: h.Path, MaxBytes: h.MaxSize, MaxAge: h.MaxAge, Logger: logger})
	if err != nil {
		fmt.Fprintf(stderr, "sessionscope: %s\n", strings.TrimPrefix(firstLine(err.Error()), "sessionscope: "))
		return nil
	}
	return st
}

// closeHistory drains and closes st (nil: none); a failure is logged, not fatal.
func closeHistory(st *history.Store, logger *slog.Logger) {
	if st == nil {
		return
	}
	if err := st.Close(); err != nil {
		logger.Error("history: close", "err", err)
	}
}

// firstLine keeps the first line of s: an error printed at start is one line.
func firstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}

type sizeFlag struct{ n *int64 }

func (f sizeFlag) String() string {
	if f.n == nil {
		return ""
	}
	// As it is written on the command line, so that --help shows "1GiB".
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}} {
		if *f.n >= u.mult && *f.n%u.mult == 0 {
			return strconv.FormatInt(*f.n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(*f.n, 10)
}

var sizeUnits = []struct {
	suffix string
	mult   int64
}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}}

func (f sizeFlag) Set(s string) error {
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(strings.ToUpper(num), strings.ToUpper(u.suffix)) {
			num, mult = strings.TrimSpace(num[:len(num)-len(u.suffix)]), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(num, 64)
	// Written so that NaN, which fails every comparison, fails this one too.
	if err != nil || !(v*float64(mult) >= 1<<20 && v*float64(mult) <= 1<<50) {
		return errors.New("want a size from 1MiB, such as 1GiB or 500MB")
	}
	*f.n = int64(v * float64(mult))
	return nil
}

type ageFlag struct{ d *time.Duration }

func (f ageFlag) String() string {
	if f.d == nil {
		return ""
	}
	if day := 24 * time.Hour; *f.d >= day && *f.d%day == 0 {
		return strconv.FormatInt(int64(*f.d/day), 10) + "d" // as --help shows the default
	}
	return f.d.String()
}

func (f ageFlag) Set(s string) error {
	d, err := time.ParseDuration(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		n, err = strconv.Atoi(days)
		d = time.Duration(n) * 24 * time.Hour
	}
	if err != nil || d < time.Minute || d > 10*365*24*time.Hour {
		return errors.New("want an age from 1m to 3650d, such as 7d or 36h")
	}
	*f.d = d
	return nil
}

// printObjects prints objs as watch does: text lines or NDJSON.
func printObjects(w term.Writer, objs []model.Object) error {
	for _, o := range objs {
		if err := w.Write(o); err != nil {
			return err
		}
	}
	return w.Flush()
}

const historyHelp = `Usage: sessionscope history [--ref REF] [--id PREFIX] [--rule RULE] [--from T] [--to T] [--json] [--follow]

Prints what a sessionscope recorded in its history file (events, exchanges without
cookie values, findings, and history gaps), oldest first, as watch prints it. It
only reads the file, so it works while a watch writes it. A time (--from, --to)
is a time of day in the local zone (14:02 or 14:02:05: today, or yesterday if that
time is still to come), a local date and time (2026-12-07T14:02), RFC 3339
(2026-12-07T14:02:05Z) or unix seconds, as the Live screen's Show from takes it.

Flags:
`

// historyFollowInterval is how often --follow looks for new rows.
const historyFollowInterval = 250 * time.Millisecond

// HistoryCommand is what `sessionscope history` was asked.
type HistoryCommand struct {
	Query  history.Query // --ref, --id, --rule, --from, --to; the newest 1000 by default (--limit)
	Follow bool          // --follow: go on printing new rows until interrupted
}

// parseHistory parses `sessionscope history [flags]`.
func parseHistory(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	cfg := Config{Command: "history", Color: "auto"}
	fs, showHelp := quietFlagSet("history", historyHelp, stderr)
	cfg.History.Path = defaultHistoryPath(getenv, "history")
	fs.StringVar(&cfg.History.Path, "history", cfg.History.Path, "history `file` to read (default the one watch writes, under $XDG_STATE_HOME or ~/.local/state/sessionscope)")
	q := &cfg.HistoryCmd.Query
	fs.StringVar(&q.Ref, "ref", "", "only what concerns this session `ref`: its events, the exchanges carrying or setting it, the findings citing it")
	fs.StringVar(&q.IDPrefix, "id", "", "only the sessions whose masked id starts with this `prefix`, as printed")
	fs.StringVar(&q.Rule, "rule", "", "only the findings of this `rule`")
	fs.Var(instantFlag{&q.From}, "from", "from this `time` on")
	fs.Var(instantFlag{&q.To}, "to", "up to this `time`")
	fs.IntVar(&q.Limit, "limit", history.DefaultLimit, "print at most this many objects, the newest ones, from 1 to 10000")
	fs.BoolVar(&cfg.HistoryCmd.Follow, "follow", false, "after printing, go on printing what is recorded until interrupted")
	fs.BoolVar(&cfg.JSON, "json", envBool(getenv, "SESSIONSCOPE_JSON"), "print NDJSON, one object per line [SESSIONSCOPE_JSON]")
	fs.StringVar(&cfg.Color, "color", "auto", "colour the lines: auto (on a terminal), always or never")
	if err := parseFlags(fs, args, "history", showHelp); err != nil {
		return cfg, err
	}
	switch {
	case fs.NArg() > 0:
		return cfg, fmt.Errorf("%w: unexpected argument %q; flags come as --name value; %s", errUsage, fs.Arg(0), seeHelp("history"))
	case q.Limit < 1 || q.Limit > history.MaxLimit:
		return cfg, fmt.Errorf("%w: --limit %d: want 1 to %d", errUsage, q.Limit, history.MaxLimit)
	case !q.From.IsZero() && q.To.Before(q.From) && !q.To.IsZero():
		// The instants: a time of day still to come today is yesterday's.
		return cfg, fmt.Errorf("%w: --to %s is before --from %s; a time of day still to come today means yesterday's: give a date too", errUsage, q.To.Format(time.RFC3339), q.From.Format(time.RFC3339))
	case cfg.History.Path == "":
		return cfg, fmt.Errorf("%w: no state directory ($XDG_STATE_HOME or $HOME) to find the history in: give --history PATH", errUsage)
	case cfg.Color != "auto" && cfg.Color != "always" && cfg.Color != "never":
		return cfg, fmt.Errorf("%w: --color %q: want auto, always or never", errUsage, cfg.Color)
	}
	q.Newest = true
	return cfg, nil
}

// historyCommand prints the history and, with --follow, what is written after, until
// ctx ends. It returns the exit status.
func historyCommand(ctx context.Context, cfg Config, stdout, stderr io.Writer) int {
	st, err := history.OpenReadOnly(cfg.History.Path)
	if err != nil {
		fmt.Fprintf(stderr, "sessionscope: %s\n", firstLine(err.Error()))
		return 1
	}
	defer st.Close()
	var w term.Writer = term.NewText(stdout, stderr, useColor(cfg.Color, stdout))
	if cfg.JSON {
		w = term.NewJSON(stdout)
	}
	if err := followHistory(ctx, st, cfg.HistoryCmd, w); err != nil && ctx.Err() == nil {
		fmt.Fprintf(stderr, "sessionscope: history: %v\n", err)
		return 1
	}
	return 0
}

// objectKey tells printed objects apart across runs, whose seqs restart.
type objectKey struct {
	typ  string
	seq  uint64
	nano int64
}

func keyOf(o model.Object) objectKey {
	switch v := o.(type) {
	case *model.Event:
		return objectKey{model.TypeEvent, v.Seq, v.Time.UnixNano()}
	case *model.Exchange:
		return objectKey{model.TypeExchange, v.Seq, v.Start.UnixNano()}
	case *model.Finding:
		return objectKey{model.TypeFinding, v.Seq, v.Time.UnixNano()}
	}
	return objectKey{seq: o.ObjectSeq()}
}

func followHistory(ctx context.Context, st *history.Store, c HistoryCommand, w term.Writer) error {
	// The row is read before the query: a row written in between comes again in the
	// first round of --follow, and the printed set drops it.
	last := st.LastRow()
	objs, err := st.Query(ctx, c.Query)
	if err != nil {
		return err
	}
	if err := printObjects(w, objs); err != nil || !c.Follow {
		return err
	}
	printed := keysOf(objs)
	tick := time.NewTicker(historyFollowInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		now := st.LastRow()
		if now <= last {
			continue
		}
		q := c.Query
		q.Newest, q.AfterRow, q.Limit = false, last, history.MaxLimit
		objs, err := st.Query(ctx, q)
		if err != nil {
			return err
		}
		fresh := objs[:0]
		for _, o := range objs {
			if !printed[keyOf(o)] {
				fresh = append(fresh, o)
			}
		}
		if err := printObjects(w, fresh); err != nil {
			return err
		}
		// Rows past now may already be in objs: keep their keys for the next round.
		printed, last = keysOf(objs), now
	}
}

func keysOf(objs []model.Object) map[objectKey]bool {
	m := make(map[objectKey]bool, len(objs))
	for _, o := range objs {
		m[keyOf(o)] = true
	}
	return m
}

type instantFlag struct{ t *time.Time }

func (f instantFlag) String() string {
	if f.t == nil || f.t.IsZero() {
		return ""
	}
	return f.t.Format(time.RFC3339)
}

// Set takes what the Live screen's "Show from" and the API's from and to take, by
// the same rule (history.ParseTime), in the local zone.
func (f instantFlag) Set(s string) error {
	t, err := history.ParseTime(s, time.Now())
	if err != nil {
		return err
	}
	*f.t = t
	return nil
}
