// Package history is sessionscope's embedded event store: events, exchanges (metadata
// only, never cookie values) and findings written to a local SQLite file, so that what
// sessionscope saw outlives the in-memory ring and a restart. Writes never wait for the
// disk: Append queues, one goroutine writes in batches, and what the queue could not
// hold is recorded as a history gap.
package history

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
	_ "modernc.org/sqlite" // the pure-Go SQLite driver ("sqlite"): no cgo
)

// Defaults of Options and limits of Query.
const (
	DefaultMaxBytes  int64 = 1 << 30
	DefaultMaxAge          = 7 * 24 * time.Hour
	DefaultQueueSize       = 65536
	DefaultLimit           = 1000
	MaxLimit               = 10000
)

// BackendHistory is the backend of the gaps the history records about itself.
const BackendHistory = "history"

// Batching: big enough to amortise a commit, short enough that --follow stays live.
// A batch waits batchDelay for batchSize objects; what is queued beyond joins it, up
// to maxBatch.
const (
	batchSize  = 1000
	batchDelay = 100 * time.Millisecond
	maxBatch   = 8192
)

// Sentinel errors wrapped by Open's one-line errors, for callers that act on the state.
var (
	ErrDamaged  = errors.New("history damaged")
	ErrInUse    = errors.New("history in use")
	ErrNewer    = errors.New("history newer")
	ErrReadOnly = errors.New("history read-only")
)

// Options configure a Store.
type Options struct {
	Path      string           // the database file; its directory is created (0700)
	MaxBytes  int64            // retention by size; default DefaultMaxBytes (1 GiB)
	MaxAge    time.Duration    // retention by age; default DefaultMaxAge (7 days)
	QueueSize int              // objects waiting to be written; default 65536
	Logger    *slog.Logger     // default slog.Default()
	Now       func() time.Time // the clock; default time.Now (tests set it)

	// pragmas are extra per-connection pragmas (tests: max_page_count for a full disk).
	pragmas []string
	// beforeBatch runs in the writer before each batch (tests: hold the writer).
	beforeBatch func()
}

// Query selects stored objects. Filters combine with AND.
type Query struct {
	From, To time.Time // zero: open
	Types    []string  // model.TypeEvent/TypeExchange/TypeFinding; empty: all
	// Ref is a session ref: events of it (session, from, candidates), exchanges
	// carrying or setting it, findings citing it.
	Ref      string
	IDPrefix string // masked-id prefix as shown (first chars of the id)
	Rule     string // findings of a rule
	AfterRow int64  // rows after this row id (for --follow); 0: none
	Limit    int    // default 1000, max 10000
	Newest   bool   // the newest Limit rows (still returned oldest first)

	// Refs select as Ref does, for any of them: one query for a page of sessions.
	Refs []string
	// Kinds keep the events of these kinds and the findings of these rules; empty: all.
	Kinds []string
}

// Stats are the Store's counters since Open.
type Stats struct {
	Written int64 // objects written
	Dropped int64 // objects not recorded (queue overflow, failed writes or paused)
	Paused  int64 // of Dropped, those not recorded because the busy func said so
	Gaps    int64 // history gaps recorded
	Bytes   int64 // file + WAL size after the last batch
	Errors  int64 // failed writes
	Skipped int64 // rows a query could not decode
}

// lostSpan accumulates objects that were not recorded, until a gap can be written.
type lostSpan struct {
	n          int64
	first, end time.Time
	what       string // the write error, for write failures
}

func (l *lostSpan) add(n int64, first, last time.Time) {
	if l.n == 0 || first.Before(l.first) {
		l.first = first
	}
	if l.n == 0 || last.After(l.end) {
		l.end = last
	}
	l.n += n
}

// Store is an open history file.
type Store struct {
	opts     Options
	path     string
	db       *sql.DB
	readOnly bool
	unlock   func()

	queue   chan model.Object
	flushes chan chan struct{}
	stop    chan struct{}
	done    chan struct{}
	closed  atomic.Bool
	once    sync.Once

	mu       sync.Mutex
	overflow lostSpan // guarded by mu: Append adds, the writer takes

	w        *writeConn // the writer's connection (nil when read-only)
	failed   lostSpan   // the writer's only
	paused   lostSpan   // the writer's only: objects not written while busy
	stopping bool       // the writer's only: Close is draining, so nothing is paused
	logged   bool       // the writer's only: a write failure was logged

	busy  atomic.Pointer[func() bool] // set by SetBusy; nil: never busy
	runID int64

	written, dropped, pausedN, gaps, bytes, errs, skipped atomic.Int64
	lastRow                                               atomic.Int64
}

func (o *Options) setDefaults() {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxAge <= 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.QueueSize <= 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Open opens (creating or migrating) the history file and records the time since the
// previous run's last write as a gap. Its error is one line: what failed and what to do.
func Open(opts Options) (*Store, error) {
	opts.setDefaults()
	path := opts.Path
	if path == "" {
		return nil, errors.New("history: no path given: use --history PATH, or --no-history")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, readOnlyError(path, err)
	}
	if err := checkWritable(path); err != nil {
		return nil, readOnlyError(path, err)
	}
	unlock, err := lockFile(path + ".lock")
	if err != nil {
		return nil, err
	}
	s, err := openDB(path, opts, false)
	if err != nil {
		unlock()
		return nil, err
	}
	s.unlock = unlock
	if s.w, err = openWriteConn(context.Background(), s.db, opts.MaxBytes); err == nil {
		err = s.startRun()
	}
	if err != nil {
		if s.w != nil {
			s.w.close()
		}
		s.db.Close()
		unlock()
		return nil, damagedError(path, err)
	}
	s.queue = make(chan model.Object, opts.QueueSize)
	s.flushes = make(chan chan struct{})
	s.stop = make(chan struct{})
	s.done = make(chan struct{})
	go s.writer()
	return s, nil
}

// OpenReadOnly opens a history file for reading while another sessionscope may write
// it (WAL lets readers and one writer work at once). Append on it does nothing.
func OpenReadOnly(path string) (*Store, error) {
	opts := Options{Path: path}
	opts.setDefaults()
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("history %s cannot be read (%v): check the path given to --history", path, unwrapPath(err))
	}
	return openDB(path, opts, true)
}

// DefaultPath is $XDG_STATE_HOME (or $HOME/.local/state) + /sessionscope/<name>.db, as
// getenv (os.Getenv, or the CLI's own) reports them.
func DefaultPath(getenv func(string) string, name string) (string, error) {
	dir := getenv("XDG_STATE_HOME")
	if dir == "" || !filepath.IsAbs(dir) {
		home := getenv("HOME")
		if home == "" {
			return "", errors.New("history: no home directory ($HOME is not set): use --history PATH, or --no-history")
		}
		dir = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(dir, "sessionscope", name+".db"), nil
}

func readOnlyError(path string, err error) error {
	return &openError{fmt.Sprintf("history %s cannot be written (%v): use --history OTHER, or --no-history", path, unwrapPath(err)), ErrReadOnly}
}

func damagedError(path string, err error) error {
	return &openError{fmt.Sprintf("history %s is damaged: %s; move it aside or use --history OTHER", path, oneLine(err.Error())), ErrDamaged}
}

// openError is a one-line message that still unwraps to a sentinel.
type openError struct {
	msg  string
	kind error
}

func (e *openError) Error() string { return e.msg }
func (e *openError) Unwrap() error { return e.kind }

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// checkWritable refuses a file or directory we could not write, before SQLite would
// quietly open it read-only and fail on the first batch instead.
func checkWritable(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err == nil {
		return f.Close()
	}
	if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	probe, err := os.CreateTemp(filepath.Dir(path), ".sessionscope-probe-*")
	if err != nil {
		return err
	}
	probe.Close()
	return os.Remove(probe.Name())
}

// sqliteMagic starts every SQLite database file.
const sqliteMagic = "SQLite format 3\x00"

func openDB(path string, opts Options, readOnly bool) (*Store, error) {
	if err := checkHeader(path); err != nil {
		return nil, damagedError(path, err)
	}
	pragmas := []string{"busy_timeout(5000)", "synchronous(NORMAL)"}
	pragmas = append(pragmas, opts.pragmas...)
	// A file: URI, so that SQLite applies mode=ro itself (the driver drops the query of
	// a plain name), with the path escaped so that '?' or '#' in it stay in the name.
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?"
	for i, p := range pragmas {
		if i > 0 {
			dsn += "&"
		}
		dsn += "_pragma=" + p
	}
	if readOnly {
		dsn += "&mode=ro"
	} else {
		// A write transaction takes the write lock at BEGIN, so it never has to be
		// retried half-way through as a deferred one would.
		dsn += "&_txlock=immediate"
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, damagedError(path, err)
	}
	s := &Store{opts: opts, path: path, db: db, readOnly: readOnly}
	if err := s.prepare(); err != nil {
		db.Close()
		var oe *openError
		if errors.As(err, &oe) {
			return nil, err
		}
		return nil, damagedError(path, err)
	}
	return s, nil
}

func checkHeader(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	head := make([]byte, len(sqliteMagic))
	n, _ := f.Read(head)
	if n == 0 {
		return nil // an empty file becomes a new database
	}
	if string(head[:n]) != sqliteMagic {
		return errors.New("not an SQLite database")
	}
	return nil
}

// prepare checks the file and brings its schema to the current version.
func (s *Store) prepare() error {
	ctx := context.Background()
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var check string
	if err := conn.QueryRowContext(ctx, "PRAGMA quick_check(1)").Scan(&check); err != nil {
		return err
	}
	if check != "ok" {
		return errors.New(check)
	}
	var version int
	if err := conn.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return err
	}
	if version > schemaVersion {
		return &openError{fmt.Sprintf("history %s was written by a newer sessionscope (schema %d): use --history OTHER, or --no-history", s.path, version), ErrNewer}
	}
	if s.readOnly {
		if version < schemaVersion {
			return &openError{fmt.Sprintf("history %s has schema %d, older than this sessionscope's (%d): open it once with `sessionscope watch --history %s` to migrate it", s.path, version, schemaVersion, s.path), nil}
		}
		return s.loadLastRow(ctx, conn)
	}
	if version == 0 {
		// Only possible before the first table exists: retention gives pages back
		// to the file system with incremental_vacuum.
		if _, err := conn.ExecContext(ctx, "PRAGMA auto_vacuum=INCREMENTAL"); err != nil {
			return err
		}
	}
	// WAL: a `sessionscope history` reads while the watch writes.
	if _, err := conn.ExecContext(ctx, "PRAGMA journal_mode=WAL"); err != nil {
		return err
	}
	if err := migrate(ctx, conn, version); err != nil {
		return err
	}
	return s.loadLastRow(ctx, conn)
}

// queryer is a *sql.DB or a *sql.Conn.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (s *Store) loadLastRow(ctx context.Context, conn queryer) error {
	var last sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT max(row) FROM objects").Scan(&last); err != nil {
		return err
	}
	s.lastRow.Store(last.Int64)
	return nil
}

// startRun records this run, and the time since the previous run's last write as a
// gap: nothing was watched then.
func (s *Store) startRun() error {
	ctx := context.Background()
	now := s.opts.Now()
	w := s.w
	if err := w.begin(ctx); err != nil {
		return err
	}
	err := s.recordRun(ctx, now)
	if err == nil {
		err = w.commit(ctx)
	}
	if err != nil {
		w.rollback(ctx)
		return err
	}
	return s.loadLastRow(ctx, s.db)
}

func (s *Store) recordRun(ctx context.Context, now time.Time) error {
	conn := s.w.conn
	var last sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT last_write FROM runs ORDER BY id DESC LIMIT 1").Scan(&last); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if last.Valid && last.Int64 < now.UnixNano() {
		gap := historyGap(time.Unix(0, last.Int64), now, 0, "sessionscope was not running")
		if _, err := s.w.insertObjects(ctx, 0, []model.Object{gap}); err != nil {
			return err
		}
		s.gaps.Add(1)
	}
	res, err := conn.ExecContext(ctx, "INSERT INTO runs(start, last_write) VALUES(?, ?)", now.UnixNano(), now.UnixNano())
	if err != nil {
		return err
	}
	s.runID, err = res.LastInsertId()
	return err
}

func historyGap(from, to time.Time, dropped int64, reason string) *model.Event {
	from, to = from.UTC(), to.UTC()
	return &model.Event{
		Type:     model.TypeEvent,
		Time:     from,
		Kind:     model.KindGap,
		Backend:  BackendHistory,
		FromTime: &from,
		ToTime:   &to,
		Dropped:  dropped,
		Reason:   reason,
	}
}

// Append queues o for writing. It never blocks: when the queue is full, o is counted
// and its time remembered, and a history gap is written once the queue drains. o is
// read later by the writer: like a published object, it must not change after Append.
func (s *Store) Append(o model.Object) {
	if s.readOnly || s.closed.Load() {
		return
	}
	select {
	case s.queue <- o:
	default:
		// The gap spans the lost objects' own times, which trail the clock by the live
		// stream's lag: a reader looks for what is missing where it happened.
		at := objectTime(o)
		if at.IsZero() {
			at = s.opts.Now()
		}
		s.mu.Lock()
		s.overflow.add(1, at, at)
		s.mu.Unlock()
		s.dropped.Add(1)
	}
}

// SetBusy gives the store a func that says when the live stream needs the CPU more
// than the history does. While busy returns true, the writer writes nothing: what it
// takes from the queue (everything Append received) is counted, and one history gap
// records it when busy turns false again. The writer calls busy once per batch, so it
// must be cheap (an atomic load, not a syscall). Call it right after Open, before
// objects flow; nil means never busy.
func (s *Store) SetBusy(busy func() bool) {
	if busy == nil {
		s.busy.Store(nil)
		return
	}
	s.busy.Store(&busy)
}

// isBusy asks the busy func; while Close drains, the answer is no, so that the
// queue's last objects and the pause's gap reach the file.
func (s *Store) isBusy() bool {
	if s.stopping {
		return false
	}
	busy := s.busy.Load()
	return busy != nil && (*busy)()
}

// Close drains the queue, records the run's end and closes the file.
func (s *Store) Close() error {
	var err error
	s.once.Do(func() {
		if !s.readOnly {
			s.closed.Store(true)
			close(s.stop)
			<-s.done
			s.w.close()
		}
		err = s.db.Close()
		if s.unlock != nil {
			s.unlock()
		}
	})
	return err
}

// flush waits until everything queued before it is written (tests).
func (s *Store) flush() {
	req := make(chan struct{})
	s.flushes <- req
	<-req
}

// LastRow returns the newest row id, for --follow. A read-only store asks the file,
// since another sessionscope writes it.
func (s *Store) LastRow() int64 {
	if s.readOnly {
		s.loadLastRow(context.Background(), s.db)
	}
	return s.lastRow.Load()
}

// Stats returns the counters.
func (s *Store) Stats() Stats {
	return Stats{
		Written: s.written.Load(),
		Dropped: s.dropped.Load(),
		Paused:  s.pausedN.Load(),
		Gaps:    s.gaps.Load(),
		Bytes:   s.bytes.Load(),
		Errors:  s.errs.Load(),
		Skipped: s.skipped.Load(),
	}
}
