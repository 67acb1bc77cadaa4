package cli

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/backend/redisstore/redistest"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// runMain runs the command line in this process and returns its exit status, stdout
// and stderr.
func runMain(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Main(args, testEnv(t, nil), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// oneLine fails the test unless s is exactly one line.
func oneLine(t *testing.T, what, s string) string {
	t.Helper()
	if strings.Count(s, "\n") != 1 || !strings.HasSuffix(s, "\n") {
		t.Errorf("%s: want exactly one line, got %d:\n%s", what, strings.Count(s, "\n"), s)
	}
	return strings.TrimSuffix(s, "\n")
}

func TestVersionLine(t *testing.T) {
	settings := func(kv ...string) []debug.BuildSetting {
		var out []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			out = append(out, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return out
	}
	cases := []struct {
		name string
		info *debug.BuildInfo
		ok   bool
		want string
	}{
		{"release", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.4.0"},
			Settings: settings("vcs.revision", "0123456789abcdef0123456789abcdef01234567", "vcs.modified", "false")},
			true, "sessionscope v1.4.0, revision 0123456789abcdef0123456789abcdef01234567, built with go1.26.8\n"},
		{"checkout with edits", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
			Settings: settings("vcs.revision", "abc123", "vcs.modified", "true")},
			true, "sessionscope (devel), revision abc123 with uncommitted changes, built with go1.26.8\n"},
		{"go run: nothing recorded", &debug.BuildInfo{GoVersion: "go1.26.8"}, true,
			"sessionscope (devel), revision unknown, built with go1.26.8\n"},
		{"no build info", nil, false, "sessionscope (devel), revision unknown\n"},
	}
	for _, tc := range cases {
		if got := versionLine(tc.info, tc.ok); got != tc.want {
			t.Errorf("%s: versionLine = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// --version and the version command print the same one line, on stdout, exit 0.
func TestVersionCommand(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}, {"-version"}} {
		code, stdout, stderr := runMain(t, args...)
		if code != 0 || stderr != "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
		if got := oneLine(t, strings.Join(args, " "), stdout); got+"\n" != buildVersion() || !strings.HasPrefix(got, "sessionscope ") {
			t.Errorf("%v printed %q, want %q", args, got, buildVersion())
		}
	}
	code, _, stderr := runMain(t, "version", "--short")
	if code != 2 || !strings.Contains(oneLine(t, "version --short", stderr), "see sessionscope --help") {
		t.Errorf("version with an argument: exit %d, %q", code, stderr)
	}
}

// The built binary reports the revision go recorded in it, or says it has none:
// whatever the build flags (-buildvcs), never a made-up one.
func TestVersionBinaryMatchesBuildInfo(t *testing.T) {
	bin := sessionscopeBinary(t)
	code, stdout, stderr := runBinary(t, bin, "--version")
	if code != 0 {
		t.Fatalf("--version: exit %d: %s", code, stderr)
	}
	line := oneLine(t, "--version", stdout)
	meta, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatalf("go version -m: %v", err)
	}
	rev := regexp.MustCompile(`(?m)^\s*build\s+vcs\.revision=(\S+)`).FindSubmatch(meta)
	switch {
	case rev != nil && !strings.Contains(line, "revision "+string(rev[1])):
		t.Errorf("--version printed %q, the binary records revision %s", line, rev[1])
	case rev == nil && !strings.Contains(line, "revision unknown"):
		t.Errorf("--version printed %q, but the binary records no revision", line)
	}
}

// A mistyped flag or command costs one line naming it and pointing at --help, exit 2,
// whatever the command.
func TestUnknownFlagOrCommandIsOneLine(t *testing.T) {
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"--foo"}, []string{"unknown flag --foo", "see sessionscope --help"}},
		{[]string{"watch", "--foo"}, []string{"unknown flag --foo", "see sessionscope watch --help"}},
		{[]string{"watch", "--redis", "redis://127.0.0.1:1/0", "-foo=1"}, []string{"unknown flag --foo", "see sessionscope watch --help"}},
		{[]string{"serve", "--foo"}, []string{"unknown flag --foo", "see sessionscope serve --help"}},
		{[]string{"analyze", "x.har", "--foo"}, []string{"unknown flag --foo", "see sessionscope analyze --help"}},
		{[]string{"lab", "--foo"}, []string{"unknown flag --foo", "see sessionscope lab --help"}},
		{[]string{"lab", "run", "healthy", "--foo"}, []string{"unknown flag --foo", "see sessionscope lab --help"}},
		{[]string{"lab"}, []string{"lab needs list or run ID", "see sessionscope lab --help"}},
		{[]string{"lab", "frob"}, []string{`unknown lab command "frob"`, "see sessionscope lab --help"}},
		{[]string{"frobnicate"}, []string{`unknown command "frobnicate"`, "see sessionscope --help"}},
		{[]string{"watch", "--version"}, []string{"--version comes alone: sessionscope --version", "see sessionscope watch --help"}},
		{[]string{"watch", "--window"}, []string{"--window needs a value", "see sessionscope watch --help"}},
		{[]string{"watch", "--redis", "redis://127.0.0.1:1/0", "extra"}, []string{`unexpected argument "extra"`, "see sessionscope watch --help"}},
	}
	for _, tc := range cases {
		code, stdout, stderr := runMain(t, tc.args...)
		if code != 2 || stdout != "" {
			t.Errorf("%v: exit %d (want 2), stdout %q", tc.args, code, stdout)
		}
		line := oneLine(t, strings.Join(tc.args, " "), stderr)
		if !strings.HasPrefix(line, "sessionscope: ") {
			t.Errorf("%v: %q does not start with sessionscope:", tc.args, line)
		}
		for _, w := range tc.want {
			if !strings.Contains(line, w) {
				t.Errorf("%v: %q lacks %q", tc.args, line, w)
			}
		}
	}
	// --help still prints the whole help, flags included, and exits 0.
	for _, args := range [][]string{{"watch", "--help"}, {"analyze", "-h"}, {"lab", "--help"}, {"--help"}} {
		code, _, stderr := runMain(t, args...)
		if code != 0 || strings.Count(stderr, "\n") < 10 || !strings.Contains(stderr, "Usage") {
			t.Errorf("%v: exit %d, %d lines of help:\n%s", args, code, strings.Count(stderr, "\n"), stderr)
		}
	}
}

// A db number the server does not have: say so, and how many it has.
func TestDBIndexOutOfRange(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{Args: []string{"--databases", "4"},
		ACL: []string{"nocfg on >pw ~* &* +@all -config"}})
	code, _, stderr := runMain(t, "watch", "--redis", "redis://"+srv.Addr+"/99")
	line := oneLine(t, "db 99", stderr)
	for _, want := range []string{"no database 99", "it has 4, numbered 0 to 3", "--redis", "/0"} {
		if !strings.Contains(line, want) {
			t.Errorf("db 99: %q lacks %q", line, want)
		}
	}
	if code != 2 {
		t.Errorf("db 99: exit %d, want 2", code)
	}

	// A user who may not run CONFIG is told the count is unknown, and why.
	code, _, stderr = runMain(t, "watch", "--redis", "redis://nocfg:pw@"+srv.Addr+"/99")
	line = oneLine(t, "db 99 without CONFIG", stderr)
	for _, want := range []string{"no database 99", "CONFIG GET databases was refused", "default being 16"} {
		if !strings.Contains(line, want) {
			t.Errorf("db 99 without CONFIG: %q lacks %q", line, want)
		}
	}
	if strings.Contains(line, ":pw@") || code != 2 {
		t.Errorf("db 99 without CONFIG: exit %d, %q (the password must not show)", code, line)
	}
}

// A port that is not Redis gets a line saying what it looks like, never a TLS guess.
func TestNotRedisPort(t *testing.T) {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("<!DOCTYPE html><title>app</title>"))
	}))
	defer app.Close()
	addr := strings.TrimPrefix(app.URL, "http://")
	code, _, stderr := runMain(t, "watch", "--redis", "redis://"+addr+"/0")
	line := oneLine(t, "HTTP port", stderr)
	if code != 2 || !strings.Contains(line, "did not answer like Redis (it looks like HTTP)") || !strings.Contains(line, "check the host and port") {
		t.Errorf("HTTP port: exit %d, %q", code, line)
	}
	if strings.Contains(line, "TLS") || strings.Contains(line, "rediss") {
		t.Errorf("HTTP port: %q guesses TLS", line)
	}

	// A server that hangs up without a word is not called TLS either.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	code, _, stderr = runMain(t, "watch", "--redis", "redis://"+ln.Addr().String()+"/0")
	line = oneLine(t, "silent port", stderr)
	if code != 2 || !strings.Contains(line, "without answering like Redis") || strings.Contains(line, "TLS") {
		t.Errorf("silent port: exit %d, %q", code, line)
	}
}

// watchStderr runs the binary's watch until a stderr line matches want (or the
// process ends), then stops it; it returns all of stderr.
func watchStderr(t *testing.T, want *regexp.Regexp, args ...string) string {
	t.Helper()
	cmd := exec.Command(sessionscopeBinary(t), append([]string{"watch", "--color", "never"}, args...)...)
	cmd.Env = isolatedEnv(t)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := readLines(pipe)
	guard := time.NewTimer(startupGuard)
	defer guard.Stop()
wait:
	for {
		select {
		case l := <-lines.lines:
			if want.MatchString(l) {
				break wait
			}
		case <-lines.done:
			break wait
		case <-guard.C:
			t.Errorf("no stderr line matching %s:\n%s", want, lines.String())
			break wait
		}
	}
	_ = cmd.Process.Signal(os.Interrupt)
	<-lines.done
	_ = cmd.Wait()
	if stackTrace.MatchString(lines.String()) {
		t.Errorf("stderr holds a stack trace:\n%s", lines.String())
	}
	return lines.String()
}

// --configure-notifications says what the flags were and what they are now.
func TestConfigureNotificationsPrintsBeforeAndAfter(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{Notifications: "off"})
	text := watchStderr(t, regexp.MustCompile(`notify-keyspace-events: `), "--redis", srv.URL(), "--configure-notifications")
	after := strings.TrimSpace(srv.Do(t, "CONFIG", "GET", "notify-keyspace-events"))
	after = strings.TrimSpace(strings.TrimPrefix(after, "notify-keyspace-events"))
	want := `notify-keyspace-events: "" -> "` + after + `"`
	if after == "" || !strings.Contains(text, want) {
		t.Errorf("stderr lacks %q (the server now holds %q):\n%s", want, after, text)
	}

	// Already set: it says so, and that nothing changed.
	srv2 := redistest.Start(t, redistest.Options{})
	text = watchStderr(t, regexp.MustCompile(`notify-keyspace-events: `), "--redis", srv2.URL(), "--configure-notifications")
	if !regexp.MustCompile(`notify-keyspace-events: "(\S+)" -> "(\S+)" \(.*nothing changed\)`).MatchString(text) {
		t.Errorf("flags already set: stderr lacks the unchanged line:\n%s", text)
	}
}

// In poll mode the text output says it polls, and how often; never "live".
func TestPollModeWording(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	text := watchStderr(t, regexp.MustCompile(`existing sessions`), "--redis", srv.URL(), "--mode", "poll", "--poll-interval", "500ms")
	if !strings.Contains(text, ": polling every 500ms (--mode poll); 0 existing sessions") {
		t.Errorf("poll mode: stderr lacks the polling line:\n%s", text)
	}
	if strings.Contains(text, "live;") || strings.Contains(text, "watching for changes") {
		t.Errorf("poll mode: stderr says live:\n%s", text)
	}

	off := redistest.Start(t, redistest.Options{Notifications: "off"})
	text = watchStderr(t, regexp.MustCompile(`existing sessions`), "--redis", off.URL())
	if !strings.Contains(text, ": polling every 2s (keyspace notifications are off)") || strings.Contains(text, "live;") {
		t.Errorf("notifications off: stderr lacks the polling line:\n%s", text)
	}
}

// The lab's logout reads "cleared PHPSESSID", without the ref of "deleted"; a finding
// that fires again is one line with its count.
func TestLabRunTextClearedAndFindingAgain(t *testing.T) {
	code, stdout, stderr := runMain(t, "lab", "run", "logout-without-destroy", "--color", "never")
	if code != 0 {
		t.Fatalf("lab run logout-without-destroy: exit %d: %s\n%s", code, stderr, stdout)
	}
	if !regexp.MustCompile(`POST \S+/logout → 302 .*  cleared PHPSESSID`).MatchString(stdout) {
		t.Errorf("the logout line lacks cleared PHPSESSID:\n%s", stdout)
	}
	if deleted := model.Ref("deleted"); strings.Contains(stdout, deleted) {
		t.Errorf("the output names the ref of the value \"deleted\" (%s):\n%s", deleted, stdout)
	}

	code, stdout, stderr = runMain(t, "lab", "run", "cookie-path-mismatch", "--color", "never")
	if code != 0 {
		t.Fatalf("lab run cookie-path-mismatch: exit %d: %s\n%s", code, stderr, stdout)
	}
	again := regexp.MustCompile(`(?m)^\S+  finding again ×(\d+): (cookie-not-sent-\S+) The browser did not send the session cookie PHPSESSID`).FindStringSubmatch(stdout)
	if again == nil {
		t.Fatalf("no one-line repeat of cookie-not-sent:\n%s", stdout)
	}
	if n := strings.Count(stdout, "finding error    cookie-not-sent "); n != 1 {
		t.Errorf("cookie-not-sent printed in full %d times, want once:\n%s", n, stdout)
	}
}
