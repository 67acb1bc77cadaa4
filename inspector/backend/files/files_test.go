package files

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/backend"
	"github.com/sessionscope/sessionscope/inspector/inspectortest"
	"github.com/sessionscope/sessionscope/inspector/model"
)

const (
	idA   = "q3hgl8v5c0m2k7ut3ohs1f2km9"
	idB   = "u8k1c0m2k7ut3ohs1f2kq3hg4t"
	idOld = "gc0ld5essi0nabcdefghijklmn"
	idInv = "inv3ntoryabcdefghijklmnopq"
)

// TestLifecycleTwoDirectories walks sessions through their whole life in two servers'
// directories, through the real tracker: the events are the ones a Redis store gives.
func TestLifecycleTwoDirectories(t *testing.T) {
	web1, web2 := t.TempDir(), t.TempDir()
	writeSession(t, web1, idInv, "u|i:7;")
	// An abandoned session, older than gc_maxlifetime: PHP's GC will remove it.
	writeSession(t, web2, idOld, "u|i:9;")
	age(t, web2, idOld, 2*time.Hour)
	w := newWatch(t, openStore(t, Options{Dirs: []Dir{{Path: web1, Label: "web1"}, {Path: web2, Label: "web2"}}}))
	live := w.WaitLive()
	if live.Inventory.Sessions != 2 {
		t.Errorf("inventory: %d sessions, want 2", live.Inventory.Sessions)
	}
	if !strings.Contains(live.Message, "web1 1, web2 1 session files") || !strings.Contains(live.Message, "known to one server only") {
		t.Errorf("live status message %q: want per-directory counts and that no id is shared", live.Message)
	}

	t.Run("create", func(t *testing.T) {
		writeSession(t, web1, idA, "u|i:1;")
		ev := w.WaitEvent(model.KindCreated, idA)
		if ev.Node != "web1" || ev.Backend != "files" || ev.Session.Framework != "php" || ev.Session.KeyPrefix != Prefix {
			t.Errorf("created: node %q backend %q framework %q prefix %q; want web1, files, php, %s",
				ev.Node, ev.Backend, ev.Session.Framework, ev.Session.KeyPrefix, Prefix)
		}
		if ev.TTL == nil || *ev.TTL <= 0 || *ev.TTL > int64(DefaultGCMaxLifetime/time.Second) {
			t.Errorf("created: ttl %v, want the time left before GC (≤ 1440 s)", ev.TTL)
		}
	})
	t.Run("rewrite", func(t *testing.T) {
		writeSession(t, web1, idA, "u|i:2;cart|a:0:{}")
		ev := w.WaitEvent(model.KindUpdated, idA)
		if !slices.Equal(ev.Changed, []string{"cart", "u"}) && !slices.Equal(ev.Changed, []string{"u", "cart"}) {
			t.Errorf("updated: changed %v, want u and cart", ev.Changed)
		}
	})
	t.Run("rewrite unchanged is a touch", func(t *testing.T) {
		// PHP with lazy_write off rewrites the same bytes; with it on, it touches.
		later := time.Now().Add(time.Second)
		if err := os.Chtimes(filepath.Join(web1, Prefix+idA), later, later); err != nil {
			t.Fatal(err)
		}
		w.WaitEvent(model.KindTouched, idA)
	})
	t.Run("create in the other directory", func(t *testing.T) {
		writeSession(t, web2, idB, "u|i:3;")
		if ev := w.WaitEvent(model.KindCreated, idB); ev.Node != "web2" {
			t.Errorf("created: node %q, want web2", ev.Node)
		}
	})
	t.Run("unlink young is destroyed", func(t *testing.T) {
		remove(t, web1, idA)
		if ev := w.WaitEvent(model.KindDestroyed, idA); ev.Cause != model.CauseApp {
			t.Errorf("destroyed: cause %q, want app", ev.Cause)
		}
	})
	t.Run("unlink old is expired", func(t *testing.T) {
		age(t, web2, idB, 25*time.Minute)
		w.WaitEvent(model.KindTouched, idB) // the store has seen the old mtime
		remove(t, web2, idB)
		w.WaitEvent(model.KindExpired, idB)
	})
	t.Run("GC removes the abandoned inventory session", func(t *testing.T) {
		remove(t, web2, idOld)
		w.WaitEvent(model.KindExpired, idOld)
	})
	t.Run("inventory session destroyed", func(t *testing.T) {
		remove(t, web1, idInv)
		w.WaitEvent(model.KindDestroyed, idInv)
	})
	for _, id := range []string{idA, idB, idOld, idInv} {
		kinds := w.eventsFor(id)
		ends := 0
		for _, k := range kinds {
			if k == string(model.KindDestroyed) || k == string(model.KindExpired) {
				ends++
			}
		}
		if ends != 1 {
			t.Errorf("%s: events %v, want exactly one end", id, kinds)
		}
	}
	if n := w.in.SessionCount(); n != 0 {
		t.Errorf("session table holds %d sessions after every file was removed, want 0", n)
	}
}

// TestGCSweep removes many old files at once, as PHP's garbage collector does, and
// a young one in the same sweep: each old one expires, the young one is destroyed.
func TestGCSweep(t *testing.T) {
	dir := t.TempDir()
	var old []string
	for i := range 20 {
		id := "sweep" + strings.Repeat(string(rune('a'+i)), 21)
		old = append(old, id)
		writeSession(t, dir, id, "u|i:1;")
		age(t, dir, id, 30*time.Minute)
	}
	writeSession(t, dir, idA, "u|i:1;")
	w := newWatch(t, openStore(t, Options{Dirs: []Dir{{Path: dir}}, GCMaxLifetime: 20 * time.Minute}))
	if live := w.WaitLive(); live.Inventory.Sessions != 21 {
		t.Fatalf("inventory: %d sessions, want 21", live.Inventory.Sessions)
	}
	for _, id := range append(old, idA) {
		remove(t, dir, id)
	}
	for _, id := range old {
		w.WaitEvent(model.KindExpired, id)
	}
	w.WaitEvent(model.KindDestroyed, idA)
}

// TestRescanCatchesMissedChanges runs without notifications, so only the rescan can see
// anything: the fallback for a notification fsnotify never delivered.
func TestRescanCatchesMissedChanges(t *testing.T) {
	dir := t.TempDir()
	store := openStore(t, Options{Dirs: []Dir{{Path: dir, Label: "nfs"}}, NoNotify: true, Rescan: time.Hour})
	w := newWatch(t, store)
	w.WaitLive()
	w.waitStatus("rescans every 1h0m0s")

	writeSession(t, dir, idA, "u|i:1;")
	store.Rescan()
	if ev := w.WaitEvent(model.KindCreated, idA); ev.Node != "nfs" {
		t.Errorf("created: node %q, want nfs", ev.Node)
	}
	writeSession(t, dir, idA, "u|i:2;")
	later := time.Now().Add(2 * time.Second) // a different mtime, whatever the clock's granularity
	if err := os.Chtimes(filepath.Join(dir, Prefix+idA), later, later); err != nil {
		t.Fatal(err)
	}
	store.Rescan()
	if ev := w.WaitEvent(model.KindUpdated, idA); !slices.Equal(ev.Changed, []string{"u"}) {
		t.Errorf("updated: changed %v, want [u]", ev.Changed)
	}
	remove(t, dir, idA)
	store.Rescan()
	w.WaitEvent(model.KindDestroyed, idA)
}

// TestNotifiedChangeReportedOnce checks that a rescan after a notification finds
// nothing new: both paths compare mtime and size with what is known.
func TestNotifiedChangeReportedOnce(t *testing.T) {
	dir := t.TempDir()
	store := openStore(t, Options{Dirs: []Dir{{Path: dir, Label: "web1"}}, Rescan: time.Hour})
	r := newRawWatch(t, store)
	r.waitLive()
	writeSession(t, dir, idA, "u|i:1;")
	r.waitOp(backend.OpSet, Prefix+idA)
	store.Rescan()
	// A later change, after the rescan request in the store's single loop: once its
	// event is in, the rescan has run.
	writeSession(t, dir, idB, "u|i:1;")
	store.Rescan()
	r.waitOp(backend.OpSet, Prefix+idB)
	remove(t, dir, idA)
	r.waitOp(backend.OpDel, Prefix+idA)
	got := r.opsFor(Prefix + idA)
	want := []string{"new@web1", "set@web1", "del@web1"}
	// Writing a file may deliver several notifications (create, write); each is a stat
	// compared with the known state, so extra sets appear only if the content changed
	// between them. WriteFile truncates then writes: a set for the empty file may come
	// before the set for the written one.
	clean := slices.DeleteFunc(slices.Clone(got), func(s string) bool { return s == "set@web1" })
	if !slices.Equal(clean, []string{"new@web1", "del@web1"}) || len(got) > len(want)+1 {
		t.Errorf("raw ops for %s: %v, want %v (one more set allowed for the empty file WriteFile creates first)", idA, got, want)
	}
}

// TestSameIDInTwoDirectories is servers that do not share sessions, seen from the files: a browser carries
// its PHPSESSID to the other server, which starts a session under that id in its own
// directory. The store says the servers do not share sessions, and the session ends
// only when both files are gone.
func TestSameIDInTwoDirectories(t *testing.T) {
	web1, web2 := t.TempDir(), t.TempDir()
	w := newWatch(t, openStore(t, Options{Dirs: []Dir{{Path: web1, Label: "web1"}, {Path: web2, Label: "web2"}}}))
	w.WaitLive()
	writeSession(t, web1, idA, "u|i:1;")
	w.WaitEvent(model.KindCreated, idA)
	writeSession(t, web2, idA, "")
	st := w.waitStatus("do not share sessions")
	if st.Node != "web2" || !strings.Contains(st.Message, "web1") || strings.Contains(st.Message, idA) {
		t.Errorf("status %q on node %q: want it on web2, naming web1, the id masked", st.Message, st.Node)
	}
	remove(t, web1, idA)
	writeSession(t, web1, idB, "u|i:1;") // a later event: by its time the removal was handled
	w.WaitEvent(model.KindCreated, idB)
	if kinds := w.eventsFor(idA); slices.Contains(kinds, string(model.KindDestroyed)) {
		t.Fatalf("events %v: the session ended while web2 still holds its file", kinds)
	}
	remove(t, web2, idA)
	w.WaitEvent(model.KindDestroyed, idA)
}

// TestUnreadable reports files and directories sessionscope may not read, and keeps
// watching.
func TestUnreadable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("running as root: chmod 000 does not stop root from reading, so the permission errors cannot happen here; run the tests as an ordinary user to check them")
	}
	web1, web2 := t.TempDir(), t.TempDir()
	w := newWatch(t, openStore(t, Options{Dirs: []Dir{{Path: web1, Label: "web1"}, {Path: web2, Label: "web2"}}}))
	w.WaitLive()

	path := filepath.Join(web1, Prefix+idA)
	if err := os.WriteFile(path, []byte("u|i:1;"), 0o000); err != nil {
		t.Fatal(err)
	}
	st := w.waitStatus("cannot read session file")
	if st.Node != "web1" || strings.Contains(st.Message, idA) || !strings.Contains(st.Message, "sudo -u") {
		t.Errorf("status %q on %q: want web1, the id masked, and what to do", st.Message, st.Node)
	}
	if ev := w.WaitEvent(model.KindCreated, idA); ev.PayloadUnread == "" {
		t.Errorf("created: payload_unread empty for an unreadable file")
	}

	if err := os.Chmod(web2, 0o000); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(web2, 0o700) })
	w.store.Rescan()
	st = w.waitStatus("cannot list")
	if st.Node != "web2" {
		t.Errorf("status %q on %q, want web2", st.Message, st.Node)
	}
	// Still watching the readable directory.
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	remove(t, web1, idA)
	w.WaitEvent(model.KindDestroyed, idA)
}

// TestReadCap reads a payload larger than the cap: cut, marked truncated, full size.
func TestReadCap(t *testing.T) {
	web1, web2 := t.TempDir(), t.TempDir()
	big := "u|s:100000:\"" + strings.Repeat("x", 100000) + "\";"
	writeSession(t, web1, idA, big)
	writeSession(t, web2, idB, "u|i:1;")
	store := openStore(t, Options{Dirs: []Dir{{Path: web1}, {Path: web2}}, MaxPayloadBytes: 4096})
	res := store.Read(context.Background(), []backend.ReadRequest{
		{Key: Prefix + idA}, {Key: Prefix + idA, MaxBytes: 100}, {Key: Prefix + idB}, {Key: Prefix + "gone"},
		{Key: Prefix + "../../etc/passwd"}, {Key: Prefix + idB, TTLOnly: true},
	})
	if r := res[0]; !r.Exists || len(r.Data) != 4096 || !r.Truncated || r.Size != len(big) {
		t.Errorf("default cap: exists %v, %d bytes, truncated %v, size %d; want 4096 bytes of %d", r.Exists, len(r.Data), r.Truncated, r.Size, len(big))
	}
	if r := res[1]; len(r.Data) != 100 || !r.Truncated {
		t.Errorf("MaxBytes 100: %d bytes, truncated %v", len(r.Data), r.Truncated)
	}
	if r := res[2]; !r.Exists || string(r.Data) != "u|i:1;" || r.Truncated || r.TTL <= 0 {
		t.Errorf("second directory: %+v", r)
	}
	if r := res[3]; r.Exists || r.Err != nil {
		t.Errorf("missing file: exists %v, err %v; want gone without error", r.Exists, r.Err)
	}
	if r := res[4]; r.Exists || r.Data != nil {
		t.Errorf("a key with a path in it was read: %+v", r)
	}
	if r := res[5]; !r.Exists || r.Data != nil || !r.TTLOnly {
		t.Errorf("TTL only: %+v", r)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "notadir")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	tests := []struct {
		name string
		dirs []Dir
		want string
	}{
		{"none", nil, "no directory given"},
		{"missing", []Dir{{Path: filepath.Join(dir, "nope")}}, "no such directory"},
		{"file", []Dir{{Path: file}}, "is a file, not a directory"},
		{"same twice", []Dir{{Path: dir, Label: "a"}, {Path: dir + "/.", Label: "b"}}, "are the same directory"},
		{"label twice", []Dir{{Path: dir, Label: "web"}, {Path: other, Label: "web"}}, "names two directories"},
		{"levels", []Dir{{Path: "2;" + dir}}, "subdirectories"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(Options{Dirs: tc.dirs})
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("Open: %v, want one line containing %q", err, tc.want)
			}
		})
	}
}

func TestParseDir(t *testing.T) {
	tests := []struct{ spec, path, label string }{
		{"/var/lib/php/sessions", "/var/lib/php/sessions", "/var/lib/php/sessions"},
		{"web1=/srv/web1/sessions", "/srv/web1/sessions", "web1"},
		{"/srv/a=b/sessions", "/srv/a=b/sessions", "/srv/a=b/sessions"},
		{"=/x", "=/x", "=/x"},
	}
	for _, tc := range tests {
		if d := ParseDir(tc.spec); d.Path != tc.path || d.Label != tc.label {
			t.Errorf("ParseDir(%q) = %+v, want path %q label %q", tc.spec, d, tc.path, tc.label)
		}
	}
}

// TestRealPHP lets PHP's own files handler write, regenerate, destroy and collect
// sessions in a directory sessionscope watches.
func TestRealPHP(t *testing.T) {
	php := inspectortest.Need(t, "php", "apt-get install php-cli")
	dir := t.TempDir()
	w := newWatchWindow(t, openStore(t, Options{Dirs: []Dir{{Path: dir, Label: "web1"}}}), time.Second)
	w.WaitLive()
	run := func(code string) string {
		t.Helper()
		cmd := exec.Command(php, "-n", "-d", "session.save_path="+dir, "-d", "session.use_cookies=0",
			"-d", "session.gc_probability=0", "-d", "session.gc_maxlifetime=1440", "-r", code)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("php -r %q: %v\n%s", code, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	id := run(`session_start(); $_SESSION["u"] = 1; echo session_id();`)
	if ev := w.WaitEvent(model.KindCreated, id); ev.Node != "web1" || ev.Session.Framework != "php" {
		t.Errorf("created: node %q framework %q", ev.Node, ev.Session.Framework)
	}
	run(`session_id("` + id + `"); session_start(); $_SESSION["cart"] = [1]; echo session_id();`)
	if ev := w.WaitEvent(model.KindUpdated, id); !slices.Equal(ev.Changed, []string{"cart"}) {
		t.Errorf("updated: changed %v, want [cart]", ev.Changed)
	}
	newID := run(`session_id("` + id + `"); session_start(); session_regenerate_id(true); $_SESSION["auth"] = 1; echo session_id();`)
	if ev := w.WaitEvent(model.KindRegenerated, newID); ev.From == nil || ev.From.Ref != model.Ref(id) {
		t.Errorf("regenerated: from %+v, want %s", ev.From, model.Ref(id))
	}
	run(`session_id("` + newID + `"); session_start(); session_destroy();`)
	w.WaitEvent(model.KindDestroyed, newID)

	// PHP's garbage collector removes a file older than gc_maxlifetime: expired.
	oldID := run(`session_start(); $_SESSION["u"] = 2; echo session_id();`)
	w.WaitEvent(model.KindCreated, oldID)
	age(t, dir, oldID, 2*time.Hour)
	w.WaitEvent(model.KindTouched, oldID)
	run(`session_start(); echo session_gc();`)
	w.WaitEvent(model.KindExpired, oldID)
	if _, err := os.Stat(filepath.Join(dir, Prefix+oldID)); !os.IsNotExist(err) {
		t.Errorf("PHP's GC left the old file: %v", err)
	}
}
