// Package files watches PHP's default session storage: one `sess_<id>` file per
// session in session.save_path, on each web server. It implements backend.Store and
// emits the raw events a Redis session store would for the same lifecycle (a new file
// is new+set, a rewrite or touch is set, an unlink is del or expired), so the tracker,
// the rules and the dashboard run the same code for files as for Redis.
//
// Changes arrive through fsnotify (inotify on Linux). fsnotify can miss changes (a full
// kernel queue, a directory that could not be watched, network file systems), so every
// directory is also rescanned periodically and diffed by mtime and size; because every
// notification is handled the same way, by a stat compared with what is known, the
// two paths never report one change twice.
//
// A file says nothing about why it disappeared. PHP's garbage collector removes files
// whose mtime is older than session.gc_maxlifetime, while session_destroy() removes a
// file the app just used; so an unlinked file older than --gc-maxlifetime is reported
// as expired, a younger one as destroyed. sessionscope only reads the directories.
package files

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/sessionscope/sessionscope/inspector/backend"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// Prefix is the file name prefix of PHP's files save handler; it is fixed in PHP's
// source (ext/session/mod_files.c), so the store key of a session is Prefix + id.
const Prefix = "sess_"

// DefaultGCMaxLifetime is PHP's default session.gc_maxlifetime.
const DefaultGCMaxLifetime = 1440 * time.Second

// DefaultRescan is how often each directory is rescanned when no notification came.
const DefaultRescan = 5 * time.Second

// ErrOpen is wrapped by every error that means sessionscope cannot watch the files.
var ErrOpen = errors.New("cannot watch PHP session files")

// Dir is one server's session.save_path.
type Dir struct {
	Path  string
	Label string // the node name events carry; default the path
}

// ParseDir parses a --files value, [LABEL=]DIR. A label is taken only when the part
// before '=' has no path separator, so a path that contains '=' still works.
func ParseDir(spec string) Dir {
	if label, path, ok := strings.Cut(spec, "="); ok && label != "" && path != "" && !strings.ContainsAny(label, `/\`) {
		return Dir{Path: path, Label: label}
	}
	return Dir{Path: spec, Label: spec}
}

// Options configure a Store. Zero values take the documented defaults.
type Options struct {
	Dirs []Dir
	// GCMaxLifetime is the app's session.gc_maxlifetime: an unlinked file older than
	// this was removed by PHP's garbage collector (expired), a younger one by the app
	// (destroyed). Default DefaultGCMaxLifetime.
	GCMaxLifetime time.Duration
	// Rescan is the fallback rescan interval; default DefaultRescan.
	Rescan time.Duration
	// MaxPayloadBytes is the default cap of Read; default backend.DefaultMaxPayloadBytes.
	MaxPayloadBytes int
	// InventoryBatch is how many sessions one inventory batch holds; default 1000.
	InventoryBatch int
	// NoNotify turns file notifications off and relies on the rescans alone: for
	// network file systems (NFS, SMB), whose notifications do not report other
	// machines' writes.
	NoNotify bool
	Logger   *slog.Logger
}

// Store watches one or more session directories. Run owns the directory state; Read
// only opens files, so it is safe to call from another goroutine.
type Store struct {
	opts  Options
	dirs  []*dir
	byDir map[string]*dir // cleaned path -> dir, for notifications
	nodes string          // the labels, for status lines

	queue         *backend.Queue
	feed          backend.Feed
	rescanNow     chan struct{}
	reportedPairs map[string]bool // directory pairs already named in a status line
	lastPush      lastPush
}

// dir is one watched directory and what the last look at it found.
type dir struct {
	Dir
	files      map[string]fileState // by session id
	unreadable map[string]bool      // ids whose file could not be opened
	listErr    string               // the last error listing the directory, reported once
}

type fileState struct {
	mtime time.Time
	size  int64
	info  os.FileInfo // for os.SameFile across directories
}

// Open checks the directories and returns a store ready to Run. A directory that does
// not exist is an error; one sessionscope may not read is reported while running, as
// a permission problem that the user can fix without restarting.
func Open(opts Options) (*Store, error) {
	if len(opts.Dirs) == 0 {
		return nil, fmt.Errorf("%w: no directory given; use --files DIR with PHP's session.save_path (php -r 'echo session_save_path();')", ErrOpen)
	}
	if opts.GCMaxLifetime <= 0 {
		opts.GCMaxLifetime = DefaultGCMaxLifetime
	}
	if opts.Rescan <= 0 {
		opts.Rescan = DefaultRescan
	}
	if opts.MaxPayloadBytes <= 0 {
		opts.MaxPayloadBytes = backend.DefaultMaxPayloadBytes
	}
	if opts.InventoryBatch <= 0 {
		opts.InventoryBatch = 1000
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Store{opts: opts, byDir: map[string]*dir{}, rescanNow: make(chan struct{}, 1), reportedPairs: map[string]bool{}}
	labels := map[string]bool{}
	var infos []os.FileInfo
	var names []string
	for _, d := range opts.Dirs {
		if d.Label == "" {
			d.Label = d.Path
		}
		if strings.Contains(d.Path, ";") {
			return nil, fmt.Errorf("%w: --files %s: a save_path with levels (N;/path) spreads sessions over subdirectories, which sessionscope does not watch; give the plain directory of a one-level save_path", ErrOpen, d.Path)
		}
		fi, err := os.Stat(d.Path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("%w: --files %s: no such directory; give PHP's session.save_path (php -r 'echo session_save_path();')", ErrOpen, d.Path)
		case err != nil:
			return nil, fmt.Errorf("%w: --files %s: %v; check the path and that sessionscope may enter it", ErrOpen, d.Path, pathErr(err))
		case !fi.IsDir():
			return nil, fmt.Errorf("%w: --files %s is a file, not a directory; give the directory PHP writes sess_* files to", ErrOpen, d.Path)
		}
		if labels[d.Label] {
			return nil, fmt.Errorf("%w: --files: the label %q names two directories; give each server its own, e.g. --files web1=DIR1 --files web2=DIR2", ErrOpen, d.Label)
		}
		for i, other := range infos {
			if os.SameFile(fi, other) {
				return nil, fmt.Errorf("%w: --files %s and %s are the same directory; give each server's directory once", ErrOpen, d.Path, names[i])
			}
		}
		labels[d.Label] = true
		infos, names = append(infos, fi), append(names, d.Path)
		dd := &dir{Dir: d, files: map[string]fileState{}, unreadable: map[string]bool{}}
		s.dirs = append(s.dirs, dd)
		s.byDir[filepath.Clean(d.Path)] = dd
	}
	labelList := make([]string, len(s.dirs))
	for i, d := range s.dirs {
		labelList[i] = d.Label
	}
	s.nodes = strings.Join(labelList, ", ")
	return s, nil
}

// Name implements backend.Store.
func (s *Store) Name() string { return "files" }

// Describe implements backend.Store.
func (s *Store) Describe() string {
	parts := make([]string, len(s.dirs))
	for i, d := range s.dirs {
		parts[i] = d.Path
		if d.Label != d.Path {
			parts[i] = d.Label + "=" + d.Path
		}
	}
	return "PHP session files in " + strings.Join(parts, ", ")
}

// Rescan asks a running store to rescan every directory now, as its timer would.
func (s *Store) Rescan() {
	select {
	case s.rescanNow <- struct{}{}:
	default:
	}
}

// Run implements backend.Store: watch the directories, report the files that exist as
// the inventory, then stream changes until ctx ends. Watching starts before the
// inventory so that nothing written during it is lost; notifications that concern
// files the inventory already saw are recognised by their unchanged mtime and size.
func (s *Store) Run(ctx context.Context, feed backend.Feed) error {
	s.feed = feed
	s.queue = feed.Queue(ctx, s.nodes)
	s.sendStatus(model.StateConnecting, s.nodes, nil, "")
	var events <-chan fsnotify.Event
	var errs <-chan error
	w, err := s.newWatcher()
	if err != nil {
		s.sendStatus(model.StateConnecting, s.nodes, nil, fmt.Sprintf(
			"file notifications are unavailable (%v): sessionscope rescans every %s instead, so changes show up late and changes inside one interval merge", err, s.opts.Rescan))
	} else {
		defer w.Close()
		events, errs = w.Events, w.Errors
		for _, d := range s.dirs {
			if err := w.Add(d.Path); err != nil {
				s.sendStatus(model.StateConnecting, d.Label, nil, fmt.Sprintf(
					"cannot watch %s for changes (%v): sessionscope rescans it every %s instead; if the error is about a limit, raise fs.inotify.max_user_watches",
					d.Path, pathErr(err), s.opts.Rescan))
			}
		}
	}

	s.sendStatus(model.StateInventory, s.nodes, &model.Inventory{}, "")
	inv, dups := s.inventory(ctx, time.Now())
	if ctx.Err() != nil {
		return nil
	}
	inv.Done = true
	s.sendStatus(model.StateLive, s.nodes, inv, s.summary(dups))

	rescan := time.NewTicker(s.opts.Rescan)
	defer rescan.Stop()
	flush := time.NewTicker(time.Second)
	defer flush.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			s.onNotify(ev, time.Now())
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			s.onWatchError(err, time.Now())
		case <-s.rescanNow:
			s.rescan(time.Now())
		case <-rescan.C:
			s.rescan(time.Now())
		case now := <-flush.C:
			s.queue.Flush(now)
		}
	}
}

func (s *Store) newWatcher() (*fsnotify.Watcher, error) {
	if s.opts.NoNotify {
		return nil, errors.New("turned off")
	}
	return fsnotify.NewWatcher()
}

// onWatchError handles fsnotify's error channel. An overflow means the kernel dropped
// notifications: the rescan recovers the final state, but what happened in between
// (a session created and destroyed within it) is lost, so it is a gap.
func (s *Store) onWatchError(err error, now time.Time) {
	if errors.Is(err, fsnotify.ErrEventOverflow) {
		s.queue.PushGap(now, now, "file notifications overflowed (the kernel queue was full); rescanned")
		s.rescan(now)
		return
	}
	s.opts.Logger.Warn("files backend: watch error", "err", err)
	s.sendStatus(model.StateLive, s.nodes, nil, fmt.Sprintf("file notifications reported an error (%v); rescans every %s keep the table right", err, s.opts.Rescan))
}

// onNotify handles one notification by looking at the file it names: whatever the
// operation (create, write, chmod for a touch, rename, remove), the stat decides.
func (s *Store) onNotify(ev fsnotify.Event, now time.Time) {
	d := s.byDir[filepath.Dir(ev.Name)]
	if d == nil {
		return
	}
	id, ok := sessionID(filepath.Base(ev.Name))
	if !ok {
		return
	}
	fi, err := os.Stat(ev.Name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		s.removed(d, id, now)
	case err != nil:
		s.reportUnreadable(d, id, err)
	case fi.Mode().IsRegular():
		s.seen(d, id, fi, now)
	}
}

// sessionID returns the id in a file name sess_<id>, refusing names PHP would not
// write (its ids are [a-zA-Z0-9,-]; session.sid_bits_per_character never adds more).
func sessionID(name string) (string, bool) {
	id, ok := strings.CutPrefix(name, Prefix)
	if !ok || id == "" || len(id) > 256 {
		return "", false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == ',' || c == '-') {
			return "", false
		}
	}
	return id, true
}

// list stats every session file of d. A directory that cannot be listed is reported
// once (until it can be listed again) and yields ok false, so its known files are
// kept rather than reported gone.
func (s *Store) list(d *dir) (map[string]os.FileInfo, bool) {
	entries, err := os.ReadDir(d.Path)
	if err != nil {
		msg := fmt.Sprintf("cannot list %s (%v): its sessions are not watched until it can be; run sessionscope as the web server's user or a member of its group, e.g. sudo -u www-data",
			d.Path, pathErr(err))
		if msg != d.listErr {
			d.listErr = msg
			s.opts.Logger.Warn("files backend: list directory", "dir", d.Path, "err", err)
			s.sendStatus(model.StateLive, d.Label, nil, msg)
		}
		return nil, false
	}
	if d.listErr != "" {
		d.listErr = ""
		s.sendStatus(model.StateLive, d.Label, nil, "can list "+d.Path+" again")
	}
	found := make(map[string]os.FileInfo, len(entries))
	for _, e := range entries {
		id, ok := sessionID(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue // removed since ReadDir: the next look reports it
		}
		found[id] = fi
	}
	return found, true
}

// inventory records the files that exist without emitting events and hands them to the
// tracker. It returns the ids found in more than one directory.
func (s *Store) inventory(ctx context.Context, now time.Time) (*model.Inventory, []string) {
	inv := &model.Inventory{}
	var batch []backend.InventoryItem
	send := func() bool {
		if len(batch) == 0 {
			return true
		}
		select {
		case s.feed.Inventory <- batch:
			batch = nil
			return true
		case <-ctx.Done():
			return false
		}
	}
	seen := map[string]int{}
	for _, d := range s.dirs {
		found, ok := s.list(d)
		if !ok {
			continue
		}
		for id, fi := range found {
			inv.Scanned++
			d.files[id] = fileState{mtime: fi.ModTime(), size: fi.Size(), info: fi}
			s.checkReadable(d, id)
			seen[id]++
			if seen[id] > 1 {
				continue // one session for the tracker; the summary names the duplicates
			}
			inv.Sessions++
			batch = append(batch, backend.InventoryItem{Key: Prefix + id, Node: d.Label, TTL: s.ttl(fi.ModTime(), now),
				Size: int(fi.Size()), Type: framework.KeyString, Read: now})
			if len(batch) >= s.opts.InventoryBatch && !send() {
				return inv, nil
			}
		}
	}
	send()
	var dups []string
	for id, n := range seen {
		if n > 1 && len(s.holders(id, nil)) > 1 {
			dups = append(dups, id)
		}
	}
	return inv, dups
}

// summary is the live status line's message: with several directories, how many
// sessions each holds and whether any id is known to more than one server.
func (s *Store) summary(dups []string) string {
	if len(s.dirs) < 2 {
		return ""
	}
	var b strings.Builder
	for i, d := range s.dirs {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %d", d.Label, len(d.files))
	}
	b.WriteString(" session files; ")
	if len(dups) == 0 {
		b.WriteString("no id is in more than one directory: each session is known to one server only, so without sticky sessions a request that reaches another server looks logged out")
		return b.String()
	}
	fmt.Fprintf(&b, "%d id(s) in more than one directory (e.g. %s): a server started a session with an id another server issued, so the servers do not share sessions",
		len(dups), describeID(dups[0]))
	return b.String()
}

// holders lists the directories whose file for id is a distinct file, skipping except.
func (s *Store) holders(id string, except *dir) []*dir {
	var out []*dir
	for _, d := range s.dirs {
		st, ok := d.files[id]
		if !ok || d == except {
			continue
		}
		dup := false
		for _, o := range out {
			if os.SameFile(o.files[id].info, st.info) {
				dup = true
			}
		}
		if !dup {
			out = append(out, d)
		}
	}
	return out
}

// rescan diffs every directory against what is known: the fallback for notifications
// that never came.
func (s *Store) rescan(now time.Time) {
	for _, d := range s.dirs {
		found, ok := s.list(d)
		if !ok {
			continue
		}
		for id, fi := range found {
			s.seen(d, id, fi, now)
		}
		for id := range d.files {
			if _, ok := found[id]; !ok {
				s.removed(d, id, now)
			}
		}
	}
}

// seen records the current state of d's file for id and emits what changed: a new
// file is new+set (a birth, as a Redis SET of a new key), a changed mtime or size is
// set (the tracker reads the payload and tells an update from a touch).
func (s *Store) seen(d *dir, id string, fi os.FileInfo, now time.Time) {
	old, had := d.files[id]
	if had && old.mtime.Equal(fi.ModTime()) && old.size == fi.Size() {
		return
	}
	d.files[id] = fileState{mtime: fi.ModTime(), size: fi.Size(), info: fi}
	key := Prefix + id
	if had {
		s.push(now, backend.OpSet, key, d.Label)
		return
	}
	s.checkReadable(d, id)
	others := s.holders(id, d)
	if len(others) == 0 {
		s.push(now, backend.OpNew, key, d.Label)
		s.push(now, backend.OpSet, key, d.Label)
		return
	}
	// The session is known in another directory; for the tracker it is one session
	// written again.
	s.push(now, backend.OpSet, key, d.Label)
	if sameFileAs(d, others, id) {
		return // a hard link, not a second server's file
	}
	// Say once per pair of servers what it means; later cases go to the log only.
	pair := others[0].Label + "\x00" + d.Label
	s.opts.Logger.Info("files backend: session id in two directories", "ref", model.Ref(id), "dirs", []string{others[0].Label, d.Label})
	if s.reportedPairs[pair] {
		return
	}
	s.reportedPairs[pair] = true
	msg := fmt.Sprintf("session %s is now in %s and also in %s: a server created a file for an id that another server issued (PHP accepts an unknown id unless session.use_strict_mode=1), so the servers do not share sessions; give them one shared store (session.save_handler=redis) or sticky sessions",
		describeID(id), d.Label, others[0].Label)
	s.sendStatus(model.StateLive, d.Label, nil, msg)
}

func sameFileAs(d *dir, others []*dir, id string) bool {
	for _, o := range others {
		if os.SameFile(o.files[id].info, d.files[id].info) {
			return true
		}
	}
	return false
}

// removed emits the end of a session whose file left d, unless another directory still
// holds it. The file's last mtime against gc_maxlifetime tells PHP's GC (expired) from
// session_destroy() (destroyed).
func (s *Store) removed(d *dir, id string, now time.Time) {
	old, had := d.files[id]
	if !had {
		return
	}
	delete(d.files, id)
	delete(d.unreadable, id)
	if len(s.holders(id, nil)) > 0 {
		return
	}
	op := backend.OpDel
	if now.Sub(old.mtime) >= s.opts.GCMaxLifetime {
		op = backend.OpExpired
	}
	s.push(now, op, Prefix+id, d.Label)
}

func (s *Store) push(now time.Time, op backend.Op, key, node string) {
	// One write of a session file reaches sessionscope as several file notifications
	// (PHP truncates, then writes). Like the notifications of one Redis command, they
	// form one event: a change of the same file right after the last is its rest.
	continues := op == backend.OpSet && key == s.lastPush.key && node == s.lastPush.node && now.Sub(s.lastPush.at) <= fileWriteSpread
	s.lastPush = lastPush{key: key, node: node, at: now}
	s.queue.Push(backend.RawEvent{Time: now, Op: op, Key: key, Node: node, Continues: continues})
}

// fileWriteSpread bounds the time between the notifications of one file write.
const fileWriteSpread = 20 * time.Millisecond

// lastPush is the last notification pushed, to group one write's notifications.
type lastPush struct {
	key, node string
	at        time.Time
}

// checkReadable opens a newly seen file once, so that a permission problem is reported
// when the session appears rather than as a silent "payload unread" later.
func (s *Store) checkReadable(d *dir, id string) {
	f, err := os.Open(filepath.Join(d.Path, Prefix+id))
	if err == nil {
		f.Close()
		if d.unreadable[id] {
			delete(d.unreadable, id)
		}
		return
	}
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	s.reportUnreadable(d, id, err)
}

// reportUnreadable says, once per file, that a session file cannot be read. The first
// one in a directory goes to the status line; the rest to the log.
func (s *Store) reportUnreadable(d *dir, id string, err error) {
	if d.unreadable[id] {
		return
	}
	first := len(d.unreadable) == 0
	d.unreadable[id] = true
	s.opts.Logger.Info("files backend: unreadable session file", "dir", d.Path, "ref", model.Ref(id), "err", pathErr(err))
	if first {
		s.sendStatus(model.StateLive, d.Label, nil, fmt.Sprintf(
			"cannot read session file %s/%s%s (%v): its events come without payload; run sessionscope as the web server's user or a member of its group, e.g. sudo -u www-data",
			d.Path, Prefix, model.Mask(id), pathErr(err)))
	}
}

// ttl is how long the file has until PHP's garbage collector may remove it: the
// equivalent of a Redis TTL, 0 when it is already due.
func (s *Store) ttl(mtime, now time.Time) time.Duration {
	return max(s.opts.GCMaxLifetime-now.Sub(mtime), 0)
}

func (s *Store) sendStatus(state, node string, inv *model.Inventory, msg string) {
	st := model.Status{Type: model.TypeStatus, Time: time.Now(), Backend: s.Name(), Node: node, State: state,
		Inventory: inv, Message: msg}
	select {
	case s.feed.Status <- st:
	default:
		// Status is advisory and the next one supersedes it; never block on it.
	}
}

// describeID names a session in a message without revealing its id.
func describeID(id string) string {
	return model.Mask(id) + " (" + model.Ref(id) + ")"
}

// pathErr strips the path from an os error: the path holds the session id, a bearer
// credential, and the messages already name the file with the id masked.
func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Read implements backend.Store: the file's payload, capped at MaxBytes. When several
// directories hold the id it reads the most recently written copy, which is the write
// the tracker's latest event is about. TTL is the time left before PHP's GC may remove
// the file.
func (s *Store) Read(ctx context.Context, reqs []backend.ReadRequest) []backend.ReadResult {
	now := time.Now()
	out := make([]backend.ReadResult, len(reqs))
	for i, r := range reqs {
		res := &out[i]
		res.Key, res.TTLOnly = r.Key, r.TTLOnly
		if err := ctx.Err(); err != nil {
			res.Err = fmt.Errorf("files backend: read: %w", err)
			continue
		}
		id, ok := sessionID(r.Key)
		if !ok {
			continue // not a session file name: nothing to read
		}
		limit := r.MaxBytes
		if limit <= 0 {
			limit = s.opts.MaxPayloadBytes
		}
		s.readOne(res, id, limit, now)
	}
	return out
}

func (s *Store) readOne(res *backend.ReadResult, id string, limit int, now time.Time) {
	var (
		best     *os.File
		bestInfo os.FileInfo
		bestDir  *dir
		firstErr error
	)
	for _, d := range s.dirs {
		f, err := os.Open(filepath.Join(d.Path, Prefix+id))
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) && firstErr == nil {
				firstErr = fmt.Errorf("files backend: read %s/%s%s: %w", d.Path, Prefix, model.Mask(id), pathErr(err))
			}
			continue
		}
		fi, err := f.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			f.Close()
			continue
		}
		if best == nil || fi.ModTime().After(bestInfo.ModTime()) {
			if best != nil {
				best.Close()
			}
			best, bestInfo, bestDir = f, fi, d
		} else {
			f.Close()
		}
	}
	if best == nil {
		res.Err = firstErr // nil: gone, Exists stays false
		return
	}
	defer best.Close()
	res.Exists = true
	res.TTL = s.ttl(bestInfo.ModTime(), now)
	if res.TTLOnly {
		return
	}
	data, err := io.ReadAll(io.LimitReader(best, int64(limit)+1))
	if err != nil {
		res.Err = fmt.Errorf("files backend: read %s/%s%s: %w", bestDir.Path, Prefix, model.Mask(id), pathErr(err))
		return
	}
	// The size is what was there when read: PHP may have rewritten the file since the
	// stat, and the payload is what the event describes.
	res.Size = int(bestInfo.Size())
	if len(data) > limit {
		data, res.Truncated = data[:limit], true
		res.Size = max(res.Size, len(data)+1)
	} else {
		res.Size = len(data)
	}
	if data == nil {
		data = []byte{}
	}
	res.Data = data
}
