package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/sessionscope/sessionscope/inspector/backend/redisstore"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/lab"
	"github.com/sessionscope/sessionscope/ui/term"
)

// labCommand runs lab list and lab run, and returns the exit status: lab run exits 0
// when the scenario behaved as expected, 1 when not or when the lab failed, 2 for a
// usage error the lab found (a scenario that needs Redis) or a --redis it cannot
// attach to, as watch does.
func labCommand(ctx context.Context, cfg Config, stdout, stderr io.Writer) int {
	if cfg.LabAction == "list" {
		if err := labList(stdout); err != nil {
			fmt.Fprintf(stderr, "sessionscope: %v\n", err)
			return 1
		}
		return 0
	}
	passed, err := labRun(ctx, cfg, stdout, stderr)
	switch {
	case errors.Is(err, lab.ErrUnknownScenario), errors.Is(err, lab.ErrNeedsRedis), errors.Is(err, redisstore.ErrConnect):
		fmt.Fprintf(stderr, "sessionscope: lab run %s: %v\n", cfg.LabScenario, err)
		return 2
	case err != nil:
		fmt.Fprintf(stderr, "sessionscope: lab run %s: %v\n", cfg.LabScenario, err)
		return 1
	case !passed:
		return 1
	}
	return 0
}

// labList prints one scenario a line: id, title, the findings it yields, and whether
// it needs Redis.
func labList(stdout io.Writer) error {
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTITLE\tEXPECTED FINDINGS")
	for _, s := range lab.Scenarios() {
		expected := strings.Join(s.Expected, ", ")
		if expected == "" {
			expected = "none"
		}
		if s.NeedsRedis {
			expected += "\tneeds --redis"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.ID, s.Title, expected)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("lab list: %w", err)
	}
	return nil
}

// labRun runs one scenario in a lab of its own and prints what its inspector saw,
// as watch does, then a summary. It reports whether the run passed.
func labRun(ctx context.Context, cfg Config, stdout, stderr io.Writer) (bool, error) {
	logger := newLogger(cfg, stderr)
	env, err := lab.Start(ctx, lab.Config{RedisURL: cfg.RedisURL, Listen: cfg.LabListen,
		Inspector: inspectorConfig(cfg, framework.NewMatcher(cfg.frameworks), logger), Logger: logger})
	if err != nil {
		return false, err
	}
	defer func() {
		if err := env.Close(); err != nil {
			logger.Error("lab: stop", "err", err)
		}
	}()
	var w term.Writer
	if cfg.JSON {
		w = term.NewJSON(stdout)
	} else {
		w = term.NewText(stdout, stderr, useColor(cfg.Color, stdout))
	}
	sub := env.Inspector.Subscribe(1 << 16)
	writeErr := make(chan error, 1)
	go func() { writeErr <- term.Copy(w, sub.C()) }()
	run, runErr := env.Runner.Run(ctx, cfg.LabScenario, cfg.Fixed)
	// Run returns once the run's findings are settled; what it published is queued
	// in the subscription, which Cancel closes after it, so Copy prints it all.
	sub.Cancel()
	if err := <-writeErr; err != nil && runErr == nil {
		return false, fmt.Errorf("write events: %w", err)
	}
	if runErr != nil {
		return false, runErr
	}
	// The summary goes with the lines it sums up; under --json stdout stays NDJSON.
	summaryOut := stdout
	if cfg.JSON {
		summaryOut = stderr
	}
	fmt.Fprint(summaryOut, labRunSummary(run))
	return run.State == lab.RunPassed, nil
}

// labRunSummary is what lab run prints after the stream: the verdict, the expected
// findings that did not appear and the ones that should not have.
func labRunSummary(r lab.Run) string {
	var b strings.Builder
	variant := "broken"
	if r.Fixed {
		variant = "fixed"
	}
	fmt.Fprintf(&b, "lab run %s (%s): %s", r.Scenario, variant, r.State)
	var rules []string
	seen := map[string]bool{}
	for _, f := range r.Findings {
		if !seen[f.Rule] {
			seen[f.Rule] = true
			rules = append(rules, f.Rule)
		}
	}
	if len(rules) > 0 {
		fmt.Fprintf(&b, "; findings: %s", strings.Join(rules, ", "))
	} else {
		b.WriteString("; no findings")
	}
	if len(r.Missing) > 0 {
		fmt.Fprintf(&b, "; missing: %s", strings.Join(r.Missing, ", "))
	}
	if len(r.Unexpected) > 0 {
		fmt.Fprintf(&b, "; unexpected: %s", strings.Join(r.Unexpected, ", "))
	}
	if r.Err != "" {
		fmt.Fprintf(&b, "; error: %s", r.Err)
	}
	b.WriteString("\n")
	return b.String()
}
