package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/sessionscope/sessionscope/inspector/traffic/hartest"
)

// analyzeResult is `sessionscope analyze` on a generated HAR of about -har-mb MB:
// the real binary, its wall time and its peak resident set, as GNU time reports them.
type analyzeResult struct {
	Binary   string        `json:"binary"`
	FileSize int64         `json:"file_bytes"`
	Entries  int           `json:"entries"`
	Runs     []analyzeRun  `json:"runs"`
	Elapsed  time.Duration `json:"median_elapsed_ns"`
	MBps     float64       `json:"median_mb_per_s"`
	PeakRSS  int64         `json:"max_peak_rss_bytes"`
	// Scaling is the same command on realistic captures of growing size, side by side.
	Scaling []analyzeScale `json:"scaling"`
}

// analyzeScale is `sessionscope analyze --json` on a generated capture of n realistic
// entries (hartest: logins, redirects, a session per visit, cookies on several hosts):
// the median wall time, the time per entry and its ratio to the smallest capture's.
type analyzeScale struct {
	Entries  int           `json:"entries"`
	FileSize int64         `json:"file_bytes"`
	Elapsed  time.Duration `json:"median_elapsed_ns"`
	PerEntry time.Duration `json:"per_entry_ns"`
	Ratio    float64       `json:"per_entry_ratio"` // over the smallest capture's time per entry
	PeakRSS  int64         `json:"max_peak_rss_bytes"`
	Findings int           `json:"findings"`
}

// analyzeScaleSizes are the captures of the scaling runs; 50,000 is the dashboard's
// import cap (inspector.MaxHARImportExchanges).
var analyzeScaleSizes = []int{2000, 16000, 50000}

type analyzeRun struct {
	Elapsed  time.Duration `json:"elapsed_ns"`
	PeakRSS  int64         `json:"peak_rss_bytes"` // the child's ru_maxrss
	CPU      time.Duration `json:"cpu_ns"`
	ExitCode int           `json:"exit_code"` // 1: findings at or above --fail-on, as expected here
	Findings int           `json:"findings"`  // NDJSON finding lines
}

// harEntryBody is the response body size of the generated entries (every thousandth
// is ten times larger), as inspector/traffic's BenchmarkReadHAR100MB writes them.
const harEntryBody = 4500

func runAnalyze(ctx context.Context, cfg config, log io.Writer) (*analyzeResult, error) {
	dir, err := os.MkdirTemp("", "ssbench-analyze-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	bin := cfg.SessionscopeBin
	if bin == "" {
		bin = filepath.Join(dir, "sessionscope")
		fmt.Fprintf(log, "ssbench: analyze: building sessionscope\n")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/sessionscope/sessionscope")
		build.Stdout, build.Stderr = log, log
		if err := build.Run(); err != nil {
			return nil, fmt.Errorf("build sessionscope (or pass -sessionscope PATH): %w", err)
		}
	}
	path := filepath.Join(dir, "big.har")
	entries := int(cfg.HARMB * 1e6 / (harEntryBody + 800)) // an entry is about 5.3 KB
	size, err := writeHAR(path, entries, harEntryBody)
	if err != nil {
		return nil, err
	}
	res := &analyzeResult{Binary: bin, FileSize: size, Entries: entries}
	fmt.Fprintf(log, "ssbench: analyze: %s, %.1f MB, %d entries\n", path, float64(size)/1e6, entries)
	var times []float64
	for i := 0; i < cfg.Runs && ctx.Err() == nil; i++ {
		r, err := analyzeOnce(ctx, bin, path)
		if err != nil {
			return res, err
		}
		res.Runs = append(res.Runs, r)
		times = append(times, r.Elapsed.Seconds())
		res.PeakRSS = max(res.PeakRSS, r.PeakRSS)
		fmt.Fprintf(log, "ssbench: analyze: run %d: %.2f s (%.0f MB/s), peak RSS %s, CPU %.2f s, exit %d, %d findings\n",
			i+1, r.Elapsed.Seconds(), float64(size)/1e6/r.Elapsed.Seconds(), mib(float64(r.PeakRSS)), r.CPU.Seconds(), r.ExitCode, r.Findings)
	}
	if len(times) > 0 {
		m := median(times)
		res.Elapsed = time.Duration(m * float64(time.Second))
		res.MBps = float64(size) / 1e6 / m
	}
	for _, n := range analyzeScaleSizes {
		if ctx.Err() != nil {
			break
		}
		s, err := analyzeScaleOnce(ctx, cfg, log, bin, filepath.Join(dir, fmt.Sprintf("shop-%d.har", n)), n)
		if err != nil {
			return res, err
		}
		if len(res.Scaling) > 0 {
			s.Ratio = float64(s.PerEntry) / float64(res.Scaling[0].PerEntry)
		} else {
			s.Ratio = 1
		}
		res.Scaling = append(res.Scaling, s)
		fmt.Fprintf(log, "ssbench: analyze: %d realistic entries: %.2f s, %.1f µs an entry (%.2fx the first), peak RSS %s\n",
			n, s.Elapsed.Seconds(), float64(s.PerEntry.Nanoseconds())/1e3, s.Ratio, mib(float64(s.PeakRSS)))
	}
	return res, nil
}

// analyzeScaleOnce writes a realistic capture of n entries and analyses it cfg.Runs
// times; the median run counts.
func analyzeScaleOnce(ctx context.Context, cfg config, log io.Writer, bin, path string, n int) (analyzeScale, error) {
	s := analyzeScale{Entries: n}
	f, err := os.Create(path)
	if err != nil {
		return s, err
	}
	err = hartest.WriteRealistic(f, n, hartest.Options{})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return s, fmt.Errorf("write %s: %w", path, err)
	}
	if st, err := os.Stat(path); err == nil {
		s.FileSize = st.Size()
	}
	var times []float64
	for i := 0; i < cfg.Runs && ctx.Err() == nil; i++ {
		r, err := analyzeOnce(ctx, bin, path)
		if err != nil {
			return s, err
		}
		times = append(times, r.Elapsed.Seconds())
		s.PeakRSS = max(s.PeakRSS, r.PeakRSS)
		s.Findings = r.Findings
	}
	if len(times) > 0 {
		s.Elapsed = time.Duration(median(times) * float64(time.Second))
		s.PerEntry = s.Elapsed / time.Duration(n)
	}
	return s, nil
}

// analyzeOnce runs `sessionscope analyze --json FILE` under GNU time, which reports
// the wall time, CPU and peak RSS of the binary alone. (The rusage of a child Go
// starts directly is no good for the peak: Go starts children with vfork, and Linux
// counts the parent's resident set, at the exec, into the child's ru_maxrss.)
func analyzeOnce(ctx context.Context, bin, path string) (analyzeRun, error) {
	var r analyzeRun
	timeBin := lookPath("/usr/bin/time")
	if timeBin == "" {
		return r, fmt.Errorf("analyze phase: needs GNU time (/usr/bin/time; apt-get install time)")
	}
	report, err := os.CreateTemp("", "ssbench-time-")
	if err != nil {
		return r, err
	}
	report.Close()
	defer os.Remove(report.Name())
	cmd := exec.CommandContext(ctx, timeBin, "-f", "%M %e %U %S", "-o", report.Name(), bin, "analyze", "--json", path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return r, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return r, err
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"type":"finding"`) {
			r.Findings++
		}
	}
	_ = cmd.Wait()
	if st := cmd.ProcessState; st != nil {
		r.ExitCode = st.ExitCode()
	}
	if r.ExitCode > 1 {
		return r, fmt.Errorf("sessionscope analyze exited %d: %s", r.ExitCode, stderr.String())
	}
	b, err := os.ReadFile(report.Name())
	if err != nil {
		return r, err
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	var kb int64
	var wall, user, sys float64
	if _, err := fmt.Sscanf(lines[len(lines)-1], "%d %f %f %f", &kb, &wall, &user, &sys); err != nil {
		return r, fmt.Errorf("read GNU time's report %q: %w", b, err)
	}
	r.PeakRSS = kb << 10
	r.Elapsed = time.Duration(wall * float64(time.Second))
	r.CPU = time.Duration((user + sys) * float64(time.Second))
	return r, nil
}

// writeHAR writes a HAR of n entries with bodies of bodySize bytes (every thousandth
// ten times that), each a GET carrying a PHPSESSID cookie and answered with a
// Set-Cookie, the shape of inspector/traffic's 100 MB HAR benchmark.
func writeHAR(path string, n, bodySize int) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	body := strings.Repeat(`<div class=\"row\">lorem ipsum \u00e9 dolor</div>\n`, bodySize/48+1)[:bodySize]
	body = strings.TrimRight(body, `\u0`) // do not end inside an escape
	big := strings.Repeat(body, 10)
	start := time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
	fmt.Fprint(w, `{"log":{"version":"1.2","creator":{"name":"WebInspector","version":"537.36"},"pages":[],"entries":[`)
	for i := range n {
		if i > 0 {
			w.WriteByte(',')
		}
		b := body
		if i%1000 == 999 {
			b = big
		}
		fmt.Fprintf(w, `{"startedDateTime":%q,"time":12.5,"request":{"method":"GET","url":"https://shop.example.test/item/%d?PHPSESSID=q3hgl8v5c0m2k7ut3ohs1f2km9",`+
			`"headers":[{"name":"user-agent","value":"Mozilla/5.0"},{"name":"cookie","value":"PHPSESSID=q3hgl8v5c0m2k7ut3ohs1f2km9; theme=dark"}],"cookies":[{"name":"PHPSESSID","value":"q3hgl8v5c0m2k7ut3ohs1f2km9"}]},`+
			`"response":{"status":200,"headers":[{"name":"content-type","value":"text/html"},{"name":"set-cookie","value":"seen=%d; Path=/; HttpOnly"}],"cookies":[],`+
			`"content":{"size":%d,"mimeType":"text/html","text":"%s"},"redirectURL":""},`+
			`"timings":{"blocked":1,"dns":-1,"connect":-1,"send":0.1,"wait":10,"receive":1.4},"serverIPAddress":"203.0.113.7",`+
			`"_initiator":{"type":"parser","url":"https://shop.example.test/"}}`,
			start.Add(time.Duration(i)*time.Millisecond).Format(time.RFC3339Nano), i, i, len(b), b)
	}
	fmt.Fprint(w, `]}}`)
	if err := w.Flush(); err != nil {
		return 0, err
	}
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// writeAnalyzeMarkdown prints the analyze phase's table.
func writeAnalyzeMarkdown(w io.Writer, a *analyzeResult) {
	fmt.Fprintf(w, "### `sessionscope analyze --json` on a generated %.1f MB HAR (%d entries, bodies included; median of %d runs)\n\n", float64(a.FileSize)/1e6, a.Entries, len(a.Runs))
	fmt.Fprintf(w, "| run | wall time | MB/s | CPU | peak RSS | target | exit | findings |\n|---|---|---|---|---|---|---|---|\n")
	for i, r := range a.Runs {
		fmt.Fprintf(w, "| %d | %.2f s | %.0f | %.2f s | %s | ≤ 100 MB (%s) | %d | %d |\n", i+1, r.Elapsed.Seconds(), float64(a.FileSize)/1e6/r.Elapsed.Seconds(),
			r.CPU.Seconds(), mib(float64(r.PeakRSS)), passFail(r.PeakRSS <= 100<<20), r.ExitCode, r.Findings)
	}
	fmt.Fprintln(w)
	if len(a.Scaling) == 0 {
		return
	}
	fmt.Fprintf(w, "### `sessionscope analyze --json` on realistic captures (logins, redirects, a session per visit), side by side\n\n")
	fmt.Fprintf(w, "| entries | file | wall time (median) | per entry | per entry / %d entries' | target | peak RSS | findings |\n|---|---|---|---|---|---|---|---|\n", a.Scaling[0].Entries)
	for _, s := range a.Scaling {
		target := "—"
		switch s.Entries {
		case 16000:
			target = fmt.Sprintf("≤ 2 s (%s)", passFail(s.Elapsed <= 2*time.Second))
		case 50000:
			target = fmt.Sprintf("≤ 7 s (%s)", passFail(s.Elapsed <= 7*time.Second))
		}
		fmt.Fprintf(w, "| %d | %.1f MB | %.2f s | %.1f µs | %.2f | %s | %s | %d |\n", s.Entries, float64(s.FileSize)/1e6, s.Elapsed.Seconds(),
			float64(s.PerEntry.Nanoseconds())/1e3, s.Ratio, target, mib(float64(s.PeakRSS)), s.Findings)
	}
	fmt.Fprintln(w)
}
