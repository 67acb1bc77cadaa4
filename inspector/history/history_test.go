package history

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
)

var t0 = time.Date(2026, 3, 1, 14, 0, 0, 0, time.UTC)

// clock is a settable Now for tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func session(id string) *model.SessionInfo {
	return &model.SessionInfo{Ref: model.Ref(id), ID: model.Mask(id), Framework: "php", KeyPrefix: "PHPREDIS_SESSION:"}
}

func event(seq uint64, at time.Time, kind model.Kind, id string) *model.Event {
	return &model.Event{Type: model.TypeEvent, Seq: seq, Time: at, Kind: kind, Session: session(id), Backend: "redis"}
}

func openTest(t *testing.T, opts Options) *Store {
	t.Helper()
	if opts.Path == "" {
		opts.Path = filepath.Join(t.TempDir(), "state", "history.db")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s, err := Open(opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func query(t *testing.T, s *Store, q Query) []model.Object {
	t.Helper()
	out, err := s.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("Query(%+v): %v", q, err)
	}
	return out
}

func seqs(objs []model.Object) string {
	var b strings.Builder
	for i, o := range objs {
		if i > 0 {
			b.WriteByte(' ')
		}
		if e, ok := o.(*model.Event); ok && e.Kind == model.KindGap {
			b.WriteString("gap")
			continue
		}
		fmt.Fprint(&b, o.ObjectSeq())
	}
	return b.String()
}

func TestRoundTripAndFilters(t *testing.T) {
	clk := &clock{t: t0}
	s := openTest(t, Options{Now: clk.Now})
	idA, idB, idC := "aaaa1111bbbb2222cccc", "bbbb3333dddd4444eeee", "cccc5555ffff6666aaaa"
	created := event(1, t0.Add(1*time.Second), model.KindCreated, idA)
	regen := event(2, t0.Add(2*time.Second), model.KindRegenerated, idB)
	regen.From = session(idA)
	cand := event(3, t0.Add(3*time.Second), model.KindCreated, idC)
	cand.Candidates = []model.SessionInfo{*session(idB)}
	stored := true
	x := &model.Exchange{Type: model.TypeExchange, Seq: 4, ID: "x1", Start: t0.Add(4 * time.Second), Method: "POST", URL: "/login", Status: 302,
		CookiesSent: []model.SentCookie{{Name: "PHPSESSID", SessionRef: model.Ref(idA), Value: "secret-value"}},
		SetCookies:  []model.SetCookie{{Name: "PHPSESSID", SessionRef: model.Ref(idB), Value: "secret-new", Raw: "PHPSESSID=secret-new", Stored: &stored}},
		RawURL:      "/login?PHPSESSID=secret"}
	f := &model.Finding{Type: model.TypeFinding, Seq: 5, ID: "f1", Time: t0.Add(5 * time.Second), Rule: "login-loop", Severity: model.SeverityError,
		Sessions: []string{model.Ref(idC)}, Exchanges: []string{"x1"}, Evidence: []string{"e"}, Count: 2}
	f2 := &model.Finding{Type: model.TypeFinding, Seq: 6, ID: "f2", Time: t0.Add(6 * time.Second), Rule: "no-ttl", Severity: model.SeverityWarning}
	for _, o := range []model.Object{created, regen, cand, x, f, f2, &model.Status{Type: model.TypeStatus, Seq: 7}} {
		s.Append(o)
	}
	s.flush()
	if got := s.Stats().Written; got != 7 {
		t.Fatalf("Written = %d, want 7", got)
	}

	all := query(t, s, Query{})
	if got := seqs(all); got != "1 2 3 4 5 6" {
		t.Fatalf("all = %q", got)
	}
	gotX := all[3].(*model.Exchange)
	if gotX.CookiesSent[0].Value != "" || gotX.SetCookies[0].Raw != "" || gotX.RawURL != "" {
		t.Fatalf("a cookie value was stored: %+v", gotX)
	}
	if gotX.Start != x.Start || gotX.SetCookies[0].Stored == nil || gotX.SessionRef != x.SessionRef {
		t.Fatalf("exchange round trip: %+v", gotX)
	}
	if e := all[1].(*model.Event); e.From == nil || e.From.Ref != model.Ref(idA) || !e.Time.Equal(regen.Time) {
		t.Fatalf("event round trip: %+v", e)
	}
	if fd := all[4].(*model.Finding); fd.Rule != "login-loop" || fd.Count != 2 || fd.Severity != model.SeverityError {
		t.Fatalf("finding round trip: %+v", fd)
	}

	tests := []struct {
		name string
		q    Query
		want string
	}{
		{"from", Query{From: t0.Add(3 * time.Second)}, "3 4 5 6"},
		{"to", Query{To: t0.Add(2 * time.Second)}, "1 2"},
		{"from and to", Query{From: t0.Add(2 * time.Second), To: t0.Add(4 * time.Second)}, "2 3 4"},
		{"events", Query{Types: []string{model.TypeEvent}}, "1 2 3"},
		{"exchanges and findings", Query{Types: []string{model.TypeExchange, model.TypeFinding}}, "4 5 6"},
		{"ref as session, from and cookie", Query{Ref: model.Ref(idA)}, "1 2 4"},
		{"ref as candidate and set-cookie", Query{Ref: model.Ref(idB)}, "2 3 4"},
		{"ref cited by finding", Query{Ref: model.Ref(idC)}, "3 5"},
		{"ref events only", Query{Ref: model.Ref(idA), Types: []string{model.TypeEvent}}, "1 2"},
		{"id prefix", Query{IDPrefix: "bbbb"}, "2 3"},
		{"id prefix short", Query{IDPrefix: "c"}, "3"},
		{"id prefix masked form", Query{IDPrefix: model.Mask(idA)}, "1 2"},
		{"rule", Query{Rule: "no-ttl"}, "6"},
		{"after row", Query{AfterRow: 4}, "5 6"},
		{"limit", Query{Limit: 2}, "1 2"},
		{"newest", Query{Limit: 2, Newest: true}, "5 6"},
		{"unknown ref", Query{Ref: "000000000000"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := seqs(query(t, s, tc.q)); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
	if got := s.LastRow(); got != 6 {
		t.Fatalf("LastRow = %d, want 6", got)
	}

	// A reader beside the writer (sessionscope history during a watch).
	r, err := OpenReadOnly(s.path)
	if err != nil {
		t.Fatalf("OpenReadOnly: %v", err)
	}
	defer r.Close()
	s.Append(event(8, t0.Add(8*time.Second), model.KindTouched, idA))
	s.flush()
	if got := seqs(query(t, r, Query{AfterRow: 6})); got != "8" || r.LastRow() != 7 {
		t.Fatalf("reader after row 6: %q, LastRow %d", got, r.LastRow())
	}
	r.Append(event(9, t0, model.KindTouched, idA)) // a no-op, never a panic
	if _, err := r.db.Exec("DELETE FROM objects"); err == nil {
		t.Fatal("the read-only store could delete rows")
	}

	// A row that does not decode is skipped and counted.
	if _, err := s.db.Exec("UPDATE objects SET json = '{' WHERE row = 1"); err != nil {
		t.Fatal(err)
	}
	if got := seqs(query(t, s, Query{To: t0.Add(2 * time.Second)})); got != "2" || s.Stats().Skipped != 1 {
		t.Fatalf("after damaging row 1: %q, skipped %d", got, s.Stats().Skipped)
	}
}

func TestLimitIsCapped(t *testing.T) {
	s := openTest(t, Options{Now: func() time.Time { return t0 }})
	s.Append(event(1, t0, model.KindTouched, "aaaa1111bbbb2222cccc"))
	s.flush()
	// More rows than the cap, copied in SQL: Append would be slow under -race.
	if _, err := s.db.Exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < ?)
		INSERT INTO objects(type, time, seq, kind, json) SELECT type, time, seq, kind, json FROM objects, n WHERE row = 1`, MaxLimit+5); err != nil {
		t.Fatal(err)
	}
	if got := len(query(t, s, Query{Limit: MaxLimit * 2})); got != MaxLimit {
		t.Fatalf("len = %d, want %d", got, MaxLimit)
	}
	if got := len(query(t, s, Query{})); got != DefaultLimit {
		t.Fatalf("default len = %d, want %d", got, DefaultLimit)
	}
}

func TestRestartRecordsGap(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.db")
	clk := &clock{t: t0}
	s := openTest(t, Options{Path: path, Now: clk.Now})
	s.Append(event(1, t0, model.KindCreated, "aaaa1111bbbb2222cccc"))
	clk.Set(t0.Add(time.Minute))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	clk.Set(t0.Add(time.Hour))
	s2 := openTest(t, Options{Path: path, Now: clk.Now})
	got := query(t, s2, Query{})
	if len(got) != 2 {
		t.Fatalf("got %d objects, want the event and a gap", len(got))
	}
	gap := got[1].(*model.Event)
	if gap.Kind != model.KindGap || gap.Backend != BackendHistory || gap.Reason != "sessionscope was not running" ||
		!gap.FromTime.Equal(t0.Add(time.Minute)) || !gap.ToTime.Equal(t0.Add(time.Hour)) {
		t.Fatalf("gap = %+v (from %v to %v)", gap, gap.FromTime, gap.ToTime)
	}
	if s2.Stats().Gaps != 1 {
		t.Fatalf("Gaps = %d", s2.Stats().Gaps)
	}
}

func TestOverflowRecordsOneGap(t *testing.T) {
	clk := &clock{t: t0}
	hold := make(chan struct{})
	held := make(chan struct{}, 1)
	var once sync.Once
	s := openTest(t, Options{Now: clk.Now, QueueSize: 10, beforeBatch: func() {
		once.Do(func() { held <- struct{}{}; <-hold })
	}})
	s.Append(event(1, t0, model.KindCreated, "aaaa1111bbbb2222cccc"))
	<-held // the writer took event 1 and is held before writing it
	for i := range 10 {
		s.Append(event(uint64(i+2), t0, model.KindTouched, "aaaa1111bbbb2222cccc"))
	}
	// The queue is full: these return at once (a blocking Append would hang the test).
	// The gap spans the lost events' own times, not the clock's (which runs ahead of
	// them by the live stream's lag).
	clk.Set(t0.Add(time.Hour))
	for i := range 25 {
		s.Append(event(uint64(100+i), t0.Add(time.Duration(i+1)*time.Second), model.KindTouched, "aaaa1111bbbb2222cccc"))
	}
	if got := s.Stats().Dropped; got != 25 {
		t.Fatalf("Dropped = %d, want 25", got)
	}
	close(hold)
	s.flush()
	gaps := query(t, s, Query{Types: []string{model.TypeEvent}, Limit: 100})
	var found []*model.Event
	for _, o := range gaps {
		if e := o.(*model.Event); e.Kind == model.KindGap {
			found = append(found, e)
		}
	}
	if len(found) != 1 {
		t.Fatalf("gaps = %d, want 1 (%s)", len(found), seqs(gaps))
	}
	g := found[0]
	if g.Dropped != 25 || g.Backend != BackendHistory || g.Reason != "history queue overflow: 25 objects not recorded" ||
		!g.FromTime.Equal(t0.Add(time.Second)) || !g.ToTime.Equal(t0.Add(25*time.Second)) {
		t.Fatalf("gap = %+v from %v to %v", g, g.FromTime, g.ToTime)
	}
	if st := s.Stats(); st.Written != 11 || st.Gaps != 1 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestRetentionBySize(t *testing.T) {
	const maxBytes = 4 << 20
	s := openTest(t, Options{MaxBytes: maxBytes, QueueSize: 100000, Now: func() time.Time { return t0 }})
	// Big rows keep the test short under -race (the transpiled SQLite is slow there).
	payload := strings.Repeat("x", 8000)
	var peak int64
	total := 0
	for i := 0; total < 3*maxBytes; i++ {
		e := event(uint64(i+1), t0.Add(time.Duration(i)*time.Millisecond), model.KindUpdated, "aaaa1111bbbb2222cccc")
		e.Reason = payload
		s.Append(e)
		total += len(payload)
		if i%100 == 99 {
			s.flush()
			peak = max(peak, fileSize(t, s.path))
		}
	}
	s.flush()
	peak = max(peak, fileSize(t, s.path))
	t.Logf("wrote %d bytes of payload; file + WAL peaked at %d bytes (MaxBytes %d), now %d", total, peak, maxBytes, s.Stats().Bytes)
	if limit := int64(maxBytes * 105 / 100); peak > limit {
		t.Fatalf("file + WAL peaked at %d bytes, over %d", peak, limit)
	}
	if got := s.Stats().Bytes; got > maxBytes*105/100 || got < maxBytes/2 {
		t.Fatalf("Stats.Bytes = %d", got)
	}
	// The oldest went first: the newest is still there, the first is not.
	first := query(t, s, Query{Limit: 1})
	last := query(t, s, Query{Limit: 1, Newest: true})
	if first[0].ObjectSeq() == 1 || int(last[0].ObjectSeq()) != int(s.Stats().Written) {
		t.Fatalf("first %d, last %d, written %d", first[0].ObjectSeq(), last[0].ObjectSeq(), s.Stats().Written)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	var n int64
	for _, p := range []string{path, path + "-wal"} {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	return n
}

func TestRetentionByAge(t *testing.T) {
	clk := &clock{t: t0}
	s := openTest(t, Options{Now: clk.Now, MaxAge: time.Hour})
	s.Append(event(1, t0, model.KindCreated, "aaaa1111bbbb2222cccc"))
	s.Append(event(2, t0.Add(30*time.Minute), model.KindTouched, "aaaa1111bbbb2222cccc"))
	s.flush()
	clk.Set(t0.Add(80 * time.Minute))
	s.Append(event(3, t0.Add(80*time.Minute), model.KindTouched, "aaaa1111bbbb2222cccc"))
	s.flush()
	if got := seqs(query(t, s, Query{})); got != "2 3" {
		t.Fatalf("after 80 minutes: %q", got)
	}
	if got := seqs(query(t, s, Query{Ref: model.Ref("aaaa1111bbbb2222cccc")})); got != "2 3" {
		t.Fatalf("by ref: %q", got)
	}
	var keys int
	s.db.QueryRow("SELECT count(*) FROM keys WHERE row = 1").Scan(&keys)
	if keys != 0 {
		t.Fatalf("%d keys of row 1 left", keys)
	}
}

func assertOneLine(t *testing.T, err error, want string, sentinel error) {
	t.Helper()
	if err == nil {
		t.Fatalf("Open succeeded, want %q", want)
	}
	if strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), want) || !errors.Is(err, sentinel) {
		t.Fatalf("err = %q, want one line with %q (%v)", err, want, sentinel)
	}
	t.Log(err)
}

func TestOpenRefuses(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	t.Run("random bytes", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "h.db")
		junk := make([]byte, 8192)
		rand.Read(junk)
		os.WriteFile(path, junk, 0o600)
		_, err := Open(Options{Path: path, Logger: logger})
		assertOneLine(t, err, "history "+path+" is damaged: not an SQLite database; move it aside or use --history OTHER", ErrDamaged)
	})
	t.Run("truncated database", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "h.db")
		s, err := Open(Options{Path: path, Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 300 {
			e := event(uint64(i+1), t0, model.KindCreated, fmt.Sprintf("id-%020d", i))
			e.Reason = strings.Repeat("z", 4000)
			s.Append(e)
		}
		s.Close()
		fi, _ := os.Stat(path)
		if err := os.Truncate(path, fi.Size()/2); err != nil {
			t.Fatal(err)
		}
		_, err = Open(Options{Path: path, Logger: logger})
		assertOneLine(t, err, "history "+path+" is damaged: ", ErrDamaged)
	})
	t.Run("newer schema", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "h.db")
		db, _ := sql.Open("sqlite", path)
		db.Exec("PRAGMA user_version=99")
		db.Close()
		_, err := Open(Options{Path: path, Logger: logger})
		assertOneLine(t, err, "history "+path+" was written by a newer sessionscope (schema 99): use --history OTHER, or --no-history", ErrNewer)
		_, err = OpenReadOnly(path)
		assertOneLine(t, err, "newer sessionscope (schema 99)", ErrNewer)
	})
	t.Run("in use", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "h.db")
		s, err := Open(Options{Path: path, Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		_, err = Open(Options{Path: path, Logger: logger})
		assertOneLine(t, err, "history "+path+" is in use by another sessionscope: use --history OTHER", ErrInUse)
		s.Close()
		s2, err := Open(Options{Path: path, Logger: logger})
		if err != nil {
			t.Fatalf("after Close: %v", err)
		}
		s2.Close()
	})
	t.Run("read-only directory", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "ro")
		os.Mkdir(dir, 0o500)
		t.Cleanup(func() { os.Chmod(dir, 0o700) })
		makeReadOnly(t, dir)
		path := filepath.Join(dir, "h.db")
		_, err := Open(Options{Path: path, Logger: logger})
		assertOneLine(t, err, "history "+path+" cannot be written (", ErrReadOnly)
		assertOneLine(t, err, "): use --history OTHER, or --no-history", ErrReadOnly)
	})
	t.Run("read-only file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "h.db")
		s, err := Open(Options{Path: path, Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		makeReadOnly(t, path)
		_, err = Open(Options{Path: path, Logger: logger})
		assertOneLine(t, err, "history "+path+" cannot be written (", ErrReadOnly)
		// A reader still reads it.
		r, err := OpenReadOnly(path)
		if err != nil {
			t.Fatalf("OpenReadOnly: %v", err)
		}
		r.Close()
	})
}

func TestFullDiskKeepsGoing(t *testing.T) {
	var logs bytes.Buffer
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		logMu.Lock()
		defer logMu.Unlock()
		return logs.Write(p)
	}), nil))
	// max_page_count makes a size-limited file: writes past it fail with SQLITE_FULL.
	s := openTest(t, Options{Logger: logger, QueueSize: 100, Now: func() time.Time { return t0 }, pragmas: []string{"max_page_count(60)"}})
	payload := strings.Repeat("y", 2000)
	for i := range 200 {
		e := event(uint64(i+1), t0, model.KindUpdated, "aaaa1111bbbb2222cccc")
		e.Reason = payload
		s.Append(e)
		if i%50 == 49 {
			s.flush()
		}
	}
	s.flush()
	st := s.Stats()
	if st.Errors == 0 || st.Dropped == 0 {
		t.Fatalf("stats = %+v, want failed writes", st)
	}
	logMu.Lock()
	lines := strings.Count(logs.String(), "\n")
	text := logs.String()
	logMu.Unlock()
	if lines != 1 || !strings.Contains(text, "history write failed") {
		t.Fatalf("log = %q, want one line", text)
	}
	// Append keeps returning: the queue is never waited for.
	for i := range 3 * 100 {
		s.Append(event(uint64(i), t0, model.KindTouched, "aaaa1111bbbb2222cccc"))
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestFailedWriteBecomesGap(t *testing.T) {
	s := openTest(t, Options{Now: func() time.Time { return t0 }})
	s.Append(event(1, t0, model.KindCreated, "aaaa1111bbbb2222cccc"))
	s.flush()
	// Make the next batch fail, then heal it: its objects become one gap.
	if _, err := s.db.Exec("CREATE TRIGGER fail BEFORE INSERT ON objects WHEN NEW.seq = 2 BEGIN SELECT RAISE(ABORT, 'disk trouble'); END"); err != nil {
		t.Fatal(err)
	}
	s.Append(event(2, t0.Add(time.Second), model.KindTouched, "aaaa1111bbbb2222cccc"))
	s.flush()
	s.db.Exec("DROP TRIGGER fail")
	s.Append(event(3, t0.Add(2*time.Second), model.KindTouched, "aaaa1111bbbb2222cccc"))
	s.flush()
	got := query(t, s, Query{})
	if seqs(got) != "1 gap 3" {
		t.Fatalf("got %q", seqs(got))
	}
	g := got[1].(*model.Event)
	if g.Dropped != 1 || !strings.HasPrefix(g.Reason, "history write failed: ") || !g.FromTime.Equal(t0.Add(time.Second)) {
		t.Fatalf("gap = %+v", g)
	}
}

// TestMigrateFromSchema1 writes a schema-1 file by hand (no masked-id keys) and opens it.
func TestMigrateFromSchema1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE objects (row INTEGER PRIMARY KEY, type TEXT NOT NULL, time INTEGER NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL, json BLOB NOT NULL)`,
		`CREATE INDEX objects_time ON objects(time)`,
		`CREATE INDEX objects_kind ON objects(type, kind)`,
		`CREATE TABLE keys (key TEXT NOT NULL, row INTEGER NOT NULL, PRIMARY KEY(key, row)) WITHOUT ROWID`,
		`CREATE INDEX keys_row ON keys(row)`,
		`CREATE TABLE runs (id INTEGER PRIMARY KEY, start INTEGER NOT NULL, last_write INTEGER NOT NULL)`,
		fmt.Sprintf(`INSERT INTO objects VALUES(1, 'event', %d, 7, 'created', '{"type":"event","seq":7,"time":"2026-03-01T14:00:00Z","kind":"created","session":{"ref":"0123456789ab","id":"abcd…ef","framework":"php","key_prefix":"x"},"backend":"redis"}')`, t0.UnixNano()),
		`INSERT INTO keys VALUES('r:0123456789ab', 1)`,
		`PRAGMA user_version=1`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	s := openTest(t, Options{Path: path, Now: func() time.Time { return t0.Add(time.Hour) }})
	if got := seqs(query(t, s, Query{IDPrefix: "abc"})); got != "7" {
		t.Fatalf("by id prefix after migration: %q", got)
	}
	var v int
	s.db.QueryRow("PRAGMA user_version").Scan(&v)
	if v != schemaVersion {
		t.Fatalf("user_version = %d, want %d", v, schemaVersion)
	}
}

func TestDefaultPath(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", "/var/state")
	if got, err := DefaultPath(os.Getenv, "lab"); err != nil || got != "/var/state/sessionscope/lab.db" {
		t.Fatalf("DefaultPath = %q, %v", got, err)
	}
	t.Setenv("XDG_STATE_HOME", "")
	t.Setenv("HOME", "/home/u")
	if got, err := DefaultPath(os.Getenv, "history"); err != nil || got != "/home/u/.local/state/sessionscope/history.db" {
		t.Fatalf("DefaultPath = %q, %v", got, err)
	}
}

// BenchmarkAppend measures the objects per second the writer sustains: every Append
// is written (flush at the end), with a queue big enough that nothing is dropped.
func BenchmarkAppend(b *testing.B) {
	s, err := Open(Options{Path: filepath.Join(b.TempDir(), "h.db"), QueueSize: b.N + 1, Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return t0 }})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	objs := make([]model.Object, 1000)
	for i := range objs {
		objs[i] = event(uint64(i), t0.Add(time.Duration(i)*time.Millisecond), model.KindUpdated, fmt.Sprintf("id-%020d", i))
	}
	benchmarkAppend(b, s, objs)
}

// makeReadOnly takes write permission away from path: chmod, and for root (whom modes do
// not stop) the immutable attribute; it skips when neither holds, checked with a probe.
func makeReadOnly(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	mode := fi.Mode().Perm()
	os.Chmod(path, mode&0o555)
	t.Cleanup(func() { os.Chmod(path, mode) })
	if !writable(path, fi.IsDir()) {
		return
	}
	if err := exec.Command("chattr", "+i", path).Run(); err == nil {
		t.Cleanup(func() { exec.Command("chattr", "-i", path).Run() })
	}
	if writable(path, fi.IsDir()) {
		t.Skip("running as root without chattr +i: " + path + " stays writable, no read-only case to test")
	}
}

func writable(path string, dir bool) bool {
	if dir {
		f, err := os.CreateTemp(path, "probe")
		if err != nil {
			return false
		}
		f.Close()
		os.Remove(f.Name())
		return true
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

// TestBusyPausesWriting: while the busy func says so, nothing is written and what the
// writer took is one gap; once it says no, writing resumes after that gap.
func TestBusyPausesWriting(t *testing.T) {
	var busy atomic.Bool
	s := openTest(t, Options{Now: func() time.Time { return t0 }})
	s.SetBusy(busy.Load)
	id := "aaaa1111bbbb2222cccc"
	s.Append(event(1, t0, model.KindCreated, id))
	s.flush()
	busy.Store(true)
	for i := range 40 {
		s.Append(event(uint64(i+2), t0.Add(time.Duration(i+1)*time.Second), model.KindTouched, id))
	}
	s.Append(&model.Status{Type: model.TypeStatus, Seq: 50}) // not history: not counted
	s.flush()
	if got := seqs(query(t, s, Query{Limit: 100})); got != "1" {
		t.Fatalf("written while busy: %q", got)
	}
	busy.Store(false)
	s.Append(event(100, t0.Add(time.Minute), model.KindTouched, id))
	s.Append(event(101, t0.Add(time.Minute+time.Second), model.KindTouched, id))
	s.flush()
	got := query(t, s, Query{Limit: 100})
	if seqs(got) != "1 gap 100 101" {
		t.Fatalf("after resume: %q", seqs(got))
	}
	g := got[1].(*model.Event)
	if g.Kind != model.KindGap || g.Backend != BackendHistory || g.Dropped != 40 ||
		g.Reason != "history paused while the live stream caught up: 40 objects not recorded" ||
		!g.FromTime.Equal(t0.Add(time.Second)) || !g.ToTime.Equal(t0.Add(40*time.Second)) {
		t.Fatalf("gap = %+v from %v to %v", g, g.FromTime, g.ToTime)
	}
	if st := s.Stats(); st.Paused != 40 || st.Dropped != 40 || st.Gaps != 1 {
		t.Fatalf("stats = %+v", st)
	}
}

// TestBusyGapWrittenAtClose: a pause still in force at Close is recorded, not lost.
func TestBusyGapWrittenAtClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	s := openTest(t, Options{Path: path, Now: func() time.Time { return t0 }})
	s.SetBusy(func() bool { return true })
	for i := range 5 {
		s.Append(event(uint64(i+1), t0.Add(time.Duration(i)*time.Second), model.KindTouched, "aaaa1111bbbb2222cccc"))
	}
	s.flush()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := query(t, r, Query{})
	if seqs(got) != "gap" || got[0].(*model.Event).Dropped != 5 {
		t.Fatalf("after Close: %q", seqs(got))
	}
}

// TestMigrateFromSchema2 writes a schema-2 file by hand (keys by key alone, keys_row,
// objects_kind), with rows in more than one key bucket, and opens it: every filter
// still finds its rows, and new rows join them.
func TestMigrateFromSchema2(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	idA, idB := "aaaa1111bbbb2222cccc", "bbbb3333dddd4444eeee"
	evA := event(7, t0, model.KindCreated, idA)
	evB := event(8, t0.Add(time.Second), model.KindCreated, idB)
	x := &model.Exchange{Type: model.TypeExchange, Seq: 9, ID: "x1", Start: t0.Add(2 * time.Second), Method: "GET", URL: "/", Status: 200,
		CookiesSent: []model.SentCookie{{Name: "PHPSESSID", SessionRef: model.Ref(idA)}}, SessionRef: model.Ref(idA)}
	f := &model.Finding{Type: model.TypeFinding, Seq: 10, ID: "f1", Time: t0.Add(3 * time.Second), Rule: "login-loop", Severity: model.SeverityError,
		Sessions: []string{model.Ref(idB)}}
	stmts := []string{
		`CREATE TABLE objects (row INTEGER PRIMARY KEY, type TEXT NOT NULL, time INTEGER NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL, json BLOB NOT NULL)`,
		`CREATE INDEX objects_time ON objects(time)`,
		`CREATE INDEX objects_kind ON objects(type, kind)`,
		`CREATE TABLE keys (key TEXT NOT NULL, row INTEGER NOT NULL, PRIMARY KEY(key, row)) WITHOUT ROWID`,
		`CREATE INDEX keys_row ON keys(row)`,
		`CREATE TABLE runs (id INTEGER PRIMARY KEY, start INTEGER NOT NULL, last_write INTEGER NOT NULL)`,
	}
	// Rows 1, 9000, 20000 and 20001: three buckets.
	for _, r := range []struct {
		row  int64
		o    model.Object
		kind string
		keys []string
	}{
		{1, evA, "created", []string{"r:" + model.Ref(idA), "i:" + model.Mask(idA)}},
		{9000, evB, "created", []string{"r:" + model.Ref(idB), "i:" + model.Mask(idB)}},
		{20000, x, "", []string{"r:" + model.Ref(idA)}},
		{20001, f, "login-loop", []string{"r:" + model.Ref(idB)}},
	} {
		typ, _, _ := describe(r.o)
		data, err := appendJSON(nil, r.o)
		if err != nil {
			t.Fatal(err)
		}
		stmts = append(stmts, fmt.Sprintf(`INSERT INTO objects VALUES(%d, '%s', %d, %d, '%s', '%s')`,
			r.row, typ, objectTime(r.o).UnixNano(), r.o.ObjectSeq(), r.kind, strings.ReplaceAll(string(data), "'", "''")))
		for _, k := range r.keys {
			stmts = append(stmts, fmt.Sprintf(`INSERT INTO keys VALUES('%s', %d)`, k, r.row))
		}
	}
	stmts = append(stmts, `PRAGMA user_version=2`)
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	s := openTest(t, Options{Path: path, Now: func() time.Time { return t0.Add(time.Hour) }})
	var v int
	s.db.QueryRow("PRAGMA user_version").Scan(&v)
	if v != 3 {
		t.Fatalf("user_version = %d, want 3", v)
	}
	var indexes []string
	rows, err := s.db.Query("SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%' ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		rows.Scan(&name)
		indexes = append(indexes, name)
	}
	rows.Close()
	if got := strings.Join(indexes, " "); got != "objects_gaps objects_rare objects_time" {
		t.Fatalf("indexes after migration: %q", got)
	}
	var buckets string
	s.db.QueryRow("SELECT group_concat(DISTINCT bucket) FROM (SELECT bucket FROM keys ORDER BY bucket)").Scan(&buckets)
	if buckets != "0,1,2" {
		t.Fatalf("key buckets = %q, want 0,1,2", buckets)
	}
	s.Append(event(11, t0.Add(time.Hour), model.KindTouched, idA))
	s.flush()
	tests := []struct {
		name string
		q    Query
		want string
	}{
		{"all", Query{}, "7 8 9 10 11"},
		{"ref across buckets", Query{Ref: model.Ref(idA)}, "7 9 11"},
		{"ref cited by finding", Query{Ref: model.Ref(idB)}, "8 10"},
		{"refs", Query{Refs: []string{model.Ref(idA), model.Ref(idB)}, Types: []string{model.TypeEvent}}, "7 8 11"},
		{"id prefix", Query{IDPrefix: "bbbb"}, "8"},
		{"ref after row", Query{Ref: model.Ref(idA), AfterRow: 9000}, "9 11"},
		{"rule", Query{Rule: "login-loop"}, "10"},
		{"exchanges", Query{Types: []string{model.TypeExchange}}, "9"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := seqs(query(t, s, tc.q)); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestRowsNeverGoBack: once retention has emptied the file, the next object still
// gets a row after every row this run handed out, so that --follow (AfterRow) sees it.
func TestRowsNeverGoBack(t *testing.T) {
	clk := &clock{t: t0}
	s := openTest(t, Options{Now: clk.Now, MaxAge: time.Hour})
	id := "aaaa1111bbbb2222cccc"
	s.Append(event(1, t0, model.KindCreated, id))
	s.Append(event(2, t0, model.KindTouched, id))
	s.flush()
	follow := s.LastRow()
	clk.Set(t0.Add(2 * time.Hour))
	s.Append(event(3, t0, model.KindTouched, id)) // written, then retired by age with the rest
	s.flush()
	if got := seqs(query(t, s, Query{})); got != "" {
		t.Fatalf("after retention: %q, want nothing", got)
	}
	s.Append(event(4, t0.Add(2*time.Hour), model.KindTouched, id))
	s.flush()
	if got := seqs(query(t, s, Query{AfterRow: follow})); got != "4" {
		t.Fatalf("after row %d: %q, want 4", follow, got)
	}
	if got := seqs(query(t, s, Query{AfterRow: follow, Ref: model.Ref(id)})); got != "4" {
		t.Fatalf("by ref after row %d: %q, want 4", follow, got)
	}
}
