package cli

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/backend/redisstore/redistest"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// exit interrupts the watch and waits until it has exited, its history closed.
func (w *watchProc) exit() {
	w.t.Helper()
	w.stop()
	if err := w.cmd.Wait(); err != nil {
		w.t.Fatalf("watch: %v\n%s", err, w.stderrText())
	}
}

// historyLines runs `sessionscope history --json` in this process.
func historyLines(t *testing.T, args ...string) []line {
	t.Helper()
	code, stdout, stderr := runMain(t, append([]string{"history", "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("history %v: exit %d: %s", args, code, stderr)
	}
	var out []line
	for _, s := range strings.Split(strings.TrimSpace(stdout), "\n") {
		if s == "" {
			continue
		}
		l, err := decodeLine([]byte(s))
		if err != nil {
			t.Fatalf("history printed %q: %v", s, err)
		}
		l.raw = s
		out = append(out, l)
	}
	return out
}

// waitHistory queries until pred holds on what the history returns: the file is
// written behind the live stream, in batches.
func waitHistory(t *testing.T, what string, pred func([]line) bool, args ...string) []line {
	t.Helper()
	limit := time.Now().Add(30 * time.Second)
	for {
		ls := historyLines(t, args...)
		if pred(ls) {
			return ls
		}
		if time.Now().After(limit) {
			t.Fatalf("no %s in the history after 30 s; it holds:\n%s", what, rawLines(ls))
		}
		time.Sleep(50 * time.Millisecond) // a poll of the file, not a timing assumption
	}
}

func rawLines(ls []line) string {
	var b strings.Builder
	for _, l := range ls {
		b.WriteString(l.raw + "\n")
	}
	return b.String()
}

func hasEvent(kind model.Kind, ref string) func([]line) bool {
	return func(ls []line) bool {
		for _, l := range ls {
			if isEvent(kind, ref)(l) {
				return true
			}
		}
		return false
	}
}

const phpPayload = `user|s:5:"alice";`

// TestHistoryRestart: a watch records sessions, stops; a session changes while it is
// away; a second watch on the same file continues the session's timeline, its lineage
// included, and the history marks the away time as a gap.
func TestHistoryRestart(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	hist := filepath.Join(t.TempDir(), "history.db")
	anonID, userID := "hist0anon0000000000000000a", "hist0user0000000000000000b"
	anonRef, userRef := model.Ref(anonID), model.Ref(userID)

	first := startWatch(t, "--redis", srv.URL(), "--history", hist)
	first.waitLive()
	srv.Do(t, "SET", "PHPREDIS_SESSION:"+anonID, phpPayload, "EX", "1440")
	first.waitFor("created", isEvent(model.KindCreated, anonRef))
	srv.Do(t, "DEL", "PHPREDIS_SESSION:"+anonID)
	srv.Do(t, "SET", "PHPREDIS_SESSION:"+userID, phpPayload, "EX", "1440")
	first.waitFor("regenerated", isEvent(model.KindRegenerated, userRef))
	first.exit()

	away := time.Now()
	srv.Do(t, "SET", "PHPREDIS_SESSION:"+userID, `user|s:5:"alice";cart|i:2;`, "EX", "1440")

	second := startWatch(t, "--redis", srv.URL(), "--history", hist)
	second.waitLive()
	srv.Do(t, "SET", "PHPREDIS_SESSION:"+userID, `user|s:5:"alice";cart|i:3;`, "EX", "1440")
	second.waitFor("updated after the restart", isEvent(model.KindUpdated, userRef))

	timeline := waitHistory(t, "update of the second run", hasEvent(model.KindUpdated, userRef), "--history", hist, "--ref", userRef)
	if got := kindsFor(timeline, userRef); !strings.HasPrefix(got, "regenerated ") || !strings.HasSuffix(got, " updated") {
		t.Errorf("timeline of %s across the restart: %q, want the regeneration of the first run, then the update of the second", userRef, got)
	}
	if regen := timeline[0]; regen.From == nil || regen.From.Ref != anonRef {
		t.Errorf("lineage lost: the first event of %s is %s", userRef, regen.raw)
	}

	var gap *line
	for _, l := range historyLines(t, "--history", hist) {
		if l.Type == model.TypeEvent && l.Kind == model.KindGap && l.Backend == "history" {
			gap = &l
		}
	}
	switch {
	case gap == nil:
		t.Fatal("no history gap for the time sessionscope was away")
	case !strings.Contains(gap.Reason, "sessionscope was not running"):
		t.Errorf("history gap reason %q", gap.Reason)
	case gap.FromTime == nil || gap.ToTime == nil || gap.FromTime.After(away) || gap.ToTime.Before(away):
		t.Errorf("history gap %s does not cover the change made at %s while away", gap.raw, away.Format(time.RFC3339Nano))
	}
}

// TestHistoryFollow: `sessionscope history --json --follow` goes on printing what a
// running watch records.
func TestHistoryFollow(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	hist := filepath.Join(t.TempDir(), "history.db")
	w := startWatch(t, "--redis", srv.URL(), "--history", hist)
	w.waitLive()
	first := "hist0follow000000000000001"
	srv.Do(t, "SET", "PHPREDIS_SESSION:"+first, phpPayload, "EX", "1440")
	w.waitFor("created", isEvent(model.KindCreated, model.Ref(first)))
	waitHistory(t, "first session", hasEvent(model.KindCreated, model.Ref(first)), "--history", hist)

	cmd := exec.Command(sessionscopeBinary(t), "history", "--json", "--follow", "--history", hist)
	cmd.Env = isolatedEnv(t)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan line)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			l, err := decodeLine(sc.Bytes())
			if err != nil {
				t.Errorf("history --follow printed %q: %v", sc.Text(), err)
				continue
			}
			lines <- l
		}
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	await := func(what string, pred func(line) bool) {
		t.Helper()
		limit := time.After(30 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("history --follow ended before %s: %s", what, stderr.String())
				}
				if pred(l) {
					return
				}
			case <-limit:
				t.Fatalf("history --follow printed no %s in 30 s", what)
			}
		}
	}
	await("the recorded session", isEvent(model.KindCreated, model.Ref(first)))
	second := "hist0follow000000000000002"
	srv.Do(t, "SET", "PHPREDIS_SESSION:"+second, phpPayload, "EX", "1440")
	await("the session created while following", isEvent(model.KindCreated, model.Ref(second)))
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	for range lines {
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("history --follow on interrupt: %v: %s", err, stderr.String())
	}
}

// TestHistoryFlagErrors: a bad history flag is one line naming it, exit 2.
func TestHistoryFlagErrors(t *testing.T) {
	watch := []string{"watch", "--redis", "redis://127.0.0.1:1/0"}
	for _, tc := range []struct {
		args []string
		flag string
	}{
		{append(watch, "--history-max-size", "lots"), "--history-max-size"},
		{append(watch, "--history-max-size", "10KB"), "--history-max-size"},
		{append(watch, "--history-max-size", "NaN"), "--history-max-size"},
		{append(watch, "--history-max-size", "+Inf"), "--history-max-size"},
		{append(watch, "--history-max-age", "forever"), "--history-max-age"},
		{append(watch, "--history-max-age", "0d"), "--history-max-age"},
		{append(watch, "--history"), "--history"},
		{[]string{"history", "--from", "yesterday"}, "--from"},
		{[]string{"history", "--limit", "0"}, "--limit"},
		{[]string{"history", "--to", "2026-01-01T00:00:00Z", "--from", "2026-02-01T00:00:00Z"}, "--to"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, _, stderr := runMain(t, tc.args...)
			if code != 2 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tc.flag) {
				t.Errorf("exit %d, stderr %q; want 2 and one line naming %s", code, stderr, tc.flag)
			}
		})
	}
	for _, tc := range []struct {
		value string
		want  int64
	}{{"1GiB", 1 << 30}, {"500MB", 500e6}, {"2048MiB", 2 << 30}} {
		var n int64
		if err := (sizeFlag{&n}).Set(tc.value); err != nil || n != tc.want {
			t.Errorf("--history-max-size %s = %d, %v; want %d", tc.value, n, err, tc.want)
		}
	}
	var d time.Duration
	if err := (ageFlag{&d}).Set("7d"); err != nil || d != 7*24*time.Hour {
		t.Errorf("--history-max-age 7d = %v, %v", d, err)
	}
}

// TestHistoryFileChoices: --no-history writes no file, the default goes under
// XDG_STATE_HOME, and a path that cannot be opened is one line while the watch runs.
func TestHistoryFileChoices(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	watchOnce := func(t *testing.T, env []string, args ...string) *watchProc {
		w := startWatchEnv(t, env, append([]string{"--redis", srv.URL()}, args...)...)
		w.waitLive()
		id := "hist0choice" + strings.Repeat("0", 14) + string(rune('a'+len(args)))
		srv.Do(t, "SET", "PHPREDIS_SESSION:"+id, phpPayload, "EX", "1440")
		w.waitFor("created", isEvent(model.KindCreated, model.Ref(id)))
		w.exit()
		return w
	}
	t.Run("no-history", func(t *testing.T) {
		state := t.TempDir()
		watchOnce(t, append(os.Environ(), "XDG_STATE_HOME="+state), "--no-history")
		if entries, _ := os.ReadDir(state); len(entries) != 0 {
			t.Errorf("--no-history wrote %v under XDG_STATE_HOME", entries)
		}
	})
	t.Run("default path", func(t *testing.T) {
		state := t.TempDir()
		watchOnce(t, append(os.Environ(), "XDG_STATE_HOME="+state))
		if _, err := os.Stat(filepath.Join(state, "sessionscope", "history.db")); err != nil {
			t.Errorf("the default history file: %v", err)
		}
	})
	t.Run("unopenable", func(t *testing.T) {
		notDir := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(notDir, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		w := watchOnce(t, isolatedEnv(t), "--history", filepath.Join(notDir, "history.db"))
		msg := w.stderrText()
		if strings.Count(msg, "\n") != 1 || !strings.HasPrefix(msg, "sessionscope: history") {
			t.Errorf("stderr %q; want one line about the history", msg)
		}
	})
}

// TestHistoryTimeForms: --from and --to take what the Live screen's Show from and the
// API take, by the same rule: a time of day is the latest such time past, local.
func TestHistoryTimeForms(t *testing.T) {
	getenv := func(string) string { return "" }
	past := time.Now().Add(-2 * time.Hour).Truncate(time.Minute)
	for _, tc := range []struct {
		flag, value string
		want        time.Time
	}{
		{"--from", past.Format("15:04"), past},
		{"--from", past.Format("15:04:05"), past},
		{"--to", past.Format("2006-01-02T15:04"), past},
		{"--to", past.UTC().Format(time.RFC3339), past},
		{"--from", strconv.FormatInt(past.Unix(), 10), past},
	} {
		t.Run(tc.flag+" "+tc.value, func(t *testing.T) {
			var stderr bytes.Buffer
			cfg, err := parseHistory([]string{"--history", "h.db", tc.flag, tc.value}, getenv, &stderr)
			if err != nil {
				t.Fatalf("history %s %s: %v", tc.flag, tc.value, err)
			}
			got := cfg.HistoryCmd.Query.From
			if tc.flag == "--to" {
				got = cfg.HistoryCmd.Query.To
			}
			if !got.Equal(tc.want) {
				t.Errorf("history %s %s = %v; want %v", tc.flag, tc.value, got, tc.want)
			}
		})
	}
	code, _, stderr := runMain(t, "history", "--to", "2pm")
	if code != 2 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "--to") || !strings.Contains(stderr, "a time of day (14:02") {
		t.Errorf("--to 2pm: exit %d, stderr %q; want 2 and one line naming --to and the forms it takes", code, stderr)
	}
}
