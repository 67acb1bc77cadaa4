package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// These tests build the real binary and run it as the README says: sessionscope
// alone, then the lab's CLI.

// startupGuard only stops a test whose binary would otherwise hang at startup (a
// race-enabled build starting a lab); no test asserts on how long anything took.
const startupGuard = 2 * time.Minute

// stderrLines collects a process's stderr and hands each line to a channel too.
type stderrLines struct {
	mu    sync.Mutex
	all   bytes.Buffer
	lines chan string
	done  chan struct{}
}

func readLines(r io.Reader) *stderrLines {
	s := &stderrLines{lines: make(chan string, 1024), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			s.mu.Lock()
			s.all.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
			select {
			case s.lines <- sc.Text():
			default:
			}
		}
	}()
	return s
}

func (s *stderrLines) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.all.String()
}

// stackTrace matches what a panic, a fatal error or the race detector print.
var stackTrace = regexp.MustCompile(`(?m)^(goroutine \d+ \[|panic:|fatal error:|WARNING: DATA RACE)`)

// TestDefaultRunBinary: sessionscope with no command starts the dashboard and the
// lab app, prints both URLs, answers on both (the lab also as localhost), and stops
// cleanly on Ctrl-C with status 0. The addresses are free ports so the test does not
// collide with a developer's sessionscope on the default 7070/7071.
func TestDefaultRunBinary(t *testing.T) {
	t.Parallel()
	bin := sessionscopeBinary(t)
	cmd := exec.Command(bin, "--listen", "127.0.0.1:0", "--lab-listen", "127.0.0.1:0")
	cmd.Env = isolatedEnv(t)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := false
	t.Cleanup(func() {
		if !exited {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	out := readLines(stderr)
	dashRE := regexp.MustCompile(`dashboard on (http://\S+/)`)
	labRE := regexp.MustCompile(`lab app on (http://\S+?)/? \(also (http://\S+?)/?\)`)
	var dash, labURL, labLocal string
	guard := time.After(startupGuard)
	for dash == "" || labURL == "" {
		select {
		case l := <-out.lines:
			if m := dashRE.FindStringSubmatch(l); m != nil {
				dash = m[1]
			}
			if m := labRE.FindStringSubmatch(l); m != nil {
				labURL, labLocal = m[1], m[2]
			}
		case <-out.done:
			t.Fatalf("sessionscope exited before printing both URLs:\n%s", out.String())
		case <-guard:
			t.Fatalf("no dashboard and lab URLs printed; stderr so far:\n%s", out.String())
		}
	}
	if u, _ := url.Parse(labLocal); u == nil || u.Hostname() != "localhost" {
		t.Errorf("the second lab URL %q is not the localhost one", labLocal)
	}

	for _, target := range []string{dash, labURL + "/", labLocal + "/"} {
		resp, err := http.Get(target)
		if err != nil {
			t.Fatalf("GET %s: %v", target, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d", target, resp.StatusCode)
		}
		if target != dash && !strings.Contains(strings.ToLower(string(body)), "password") {
			t.Errorf("GET %s (after redirects, at %s) is not the lab's login page:\n%.400s", target, resp.Request.URL, body)
		}
	}
	resp, err := http.Get(dash + "lab")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `data-id="cookie-path-mismatch"`) {
		t.Errorf("GET /lab = %d without the scenarios", resp.StatusCode)
	}

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	<-out.done
	err = cmd.Wait()
	exited = true
	if err != nil {
		t.Errorf("after Ctrl-C: %v, want exit 0; stderr:\n%s", err, out.String())
	}
	if stackTrace.MatchString(out.String()) {
		t.Errorf("stderr holds a stack trace:\n%s", out.String())
	}
}

// TestDefaultRunPortInUse: a taken address is one line naming the flag that picks
// another, for the dashboard and for the lab.
func TestDefaultRunPortInUse(t *testing.T) {
	t.Parallel()
	bin := sessionscopeBinary(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, tc := range []struct{ flag, other string }{{"--listen", "--lab-listen"}, {"--lab-listen", "--listen"}} {
		t.Run(tc.flag, func(t *testing.T) {
			code, _, stderr := runBinary(t, bin, tc.flag, taken.Addr().String(), tc.other, "127.0.0.1:0")
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if code != 1 || len(lines) != 1 || !strings.Contains(lines[0], taken.Addr().String()+" is already in use") ||
				!strings.Contains(lines[0], "pick another address with "+tc.flag) {
				t.Errorf("exit %d, stderr:\n%s\nwant one line naming %s", code, stderr, tc.flag)
			}
		})
	}
}

// TestLabCLIBinary: lab list, lab run (NDJSON as watch prints it), the fixed twin,
// and an unknown id.
func TestLabCLIBinary(t *testing.T) {
	t.Parallel()
	bin := sessionscopeBinary(t)

	code, stdout, stderr := runBinary(t, bin, "lab", "list")
	if code != 0 {
		t.Fatalf("lab list: exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"healthy", "cookie-path-mismatch", "login-loop", "needs --redis"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("lab list lacks %q:\n%s", want, stdout)
		}
	}

	code, stdout, stderr = runBinary(t, bin, "lab", "run", "healthy", "--json")
	if code != 0 {
		t.Errorf("lab run healthy --json: exit %d, want 0\nstderr:\n%s", code, stderr)
	}
	types := map[string]int{}
	var lastEvent time.Time
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		if l == "" {
			continue // nothing printed at all: the check below says so
		}
		var o struct {
			Type string
			Time time.Time
		}
		if err := json.Unmarshal([]byte(l), &o); err != nil {
			t.Fatalf("not NDJSON: %q: %v", l, err)
		}
		types[o.Type]++
		// Events are printed in the order they happened in the store.
		if o.Type == "event" {
			if o.Time.Before(lastEvent) {
				t.Errorf("event at %s printed after one at %s: %s", o.Time.Format("15:04:05.000000"), lastEvent.Format("15:04:05.000000"), l)
			}
			lastEvent = o.Time
		}
	}
	if types["exchange"] == 0 || types["event"] == 0 {
		t.Errorf("lab run healthy printed %v; want exchanges and events", types)
	}
	if !strings.Contains(stderr, "lab run healthy (broken): passed") {
		t.Errorf("no summary on stderr:\n%s", stderr)
	}

	code, stdout, stderr = runBinary(t, bin, "lab", "run", "cookie-path-mismatch", "--fixed", "--color", "never")
	if code != 0 {
		t.Errorf("lab run cookie-path-mismatch --fixed: exit %d, want 0\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "lab run cookie-path-mismatch (fixed): passed; no findings") {
		t.Errorf("no summary:\n%s", stdout)
	}

	code, _, stderr = runBinary(t, bin, "lab", "run", "no-such-scenario")
	if code != 2 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, "sessionscope lab list") {
		t.Errorf("unknown id: exit %d, stderr %q; want 2 and one line pointing to lab list", code, stderr)
	}
}

// runBinary runs bin to completion and returns its exit status and output.
func runBinary(t *testing.T, bin string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Env = isolatedEnv(t)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return exit.ExitCode(), stdout.String(), stderr.String()
	case err != nil:
		t.Fatalf("%s %s: %v", bin, strings.Join(args, " "), err)
	}
	if stackTrace.MatchString(stderr.String()) {
		t.Errorf("%s: stderr holds a stack trace:\n%s", strings.Join(args, " "), stderr.String())
	}
	return 0, stdout.String(), stderr.String()
}
