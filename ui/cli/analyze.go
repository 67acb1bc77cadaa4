package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/sessionscope/sessionscope/inspector/diagnose"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/traffic"
	"github.com/sessionscope/sessionscope/ui/term"
)

// Exit statuses of analyze.
const (
	exitClean    = 0
	exitFindings = 1
	exitBadInput = 2
)

// analyze runs `sessionscope analyze FILE.har` and returns the exit status: 0 clean,
// 1 a finding at or above --fail-on, 2 an unreadable HAR.
func analyze(cfg Config, stdin io.Reader, stdout, stderr io.Writer) int {
	in, name := stdin, "stdin"
	if cfg.HARPath != "-" {
		f, err := os.Open(cfg.HARPath)
		if err != nil {
			fmt.Fprintf(stderr, "sessionscope: analyze: %v\n", err)
			return exitBadInput
		}
		defer f.Close()
		in, name = f, cfg.HARPath
	}
	var xs []*model.Exchange
	sum, err := traffic.ReadHAR(in, traffic.HAROptions{Mapping: framework.RefMapper(cfg.cookieMappings), IDPrefix: "x", Redact: model.NewRedaction(cfg.Redact)},
		func(x *model.Exchange) error { xs = append(xs, x); return nil })
	if err != nil {
		msg := err.Error()
		if errors.Is(err, traffic.ErrHAR) {
			msg = "not a readable HAR: " + msg
		}
		fmt.Fprintf(stderr, "sessionscope: analyze %s: %s\n", name, strings.ReplaceAll(msg, "\n", " "))
		return exitBadInput
	}
	findings := diagnose.AnalyzeExchanges(xs, diagnose.AnalyzeOptions{
		ValuesStripped: sum.ValuesStripped, CookiesAbsent: sum.CookiesAbsent,
		Cookies: cfg.cookieMappings, Mapping: framework.RefMapper(cfg.cookieMappings), Redact: model.NewRedaction(cfg.Redact),
		LoginPaths: cfg.LoginPaths,
	})

	var w term.Writer
	if cfg.JSON {
		w = term.NewJSON(stdout)
	} else {
		w = term.NewText(stdout, stderr, useColor(cfg.Color, stdout))
	}
	var seq uint64
	write := func(o model.Object) error {
		seq++
		o.SetSeq(seq)
		return w.Write(o)
	}
	if cfg.Exchanges {
		for _, x := range xs {
			if cfg.JSON {
				err = write(x)
			} else {
				seq++
				_, err = fmt.Fprintf(stdout, "%s %s %s %s → %d %s\n", x.ID, x.Start.UTC().Format("15:04:05.000"), x.Method, x.URL, x.Status, x.Location)
			}
			if err != nil {
				break
			}
		}
	}
	worst := model.Severity("")
	for i := range findings {
		f := &findings[i]
		if err == nil {
			err = write(f)
		}
		if f.Severity.Rank() > worst.Rank() {
			worst = f.Severity
		}
	}
	if err == nil && !cfg.JSON {
		err = w.Flush()
		if err == nil {
			_, err = fmt.Fprintf(stdout, "%s: %d exchanges, %d findings\n", name, sum.Entries, len(findings))
		}
	}
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		fmt.Fprintf(stderr, "sessionscope: analyze: write: %v\n", err)
		return exitFindings
	}
	if worst.Rank() >= model.Severity(cfg.FailOn).Rank() && worst != "" {
		return exitFindings
	}
	return exitClean
}
