package traffictest

// The gorilla app: gorilla/sessions over boj/redistore, Go's own session layer, built
// from traffictest/testdata/gorilla (its own module, so the main module does not
// depend on gorilla) with the go command the test runs under.
//
// Observed store traffic (redis-server 7.0, read with MONITOR; A is the only session:
// gorilla has no id regeneration; redistore PINGs each pooled connection it borrows and
// GETs the session on every store.Get of a request with a cookie, neither of which
// raises an event):
//
//	GET /?cart=3     SETEX session_A   (gob of {cart: 3}; TTL 2592000, the cookie's MaxAge)
//	POST /login      SETEX session_A   (cart, user_id, api_token)
//	GET /dashboard   nothing written   (the app only reads)
//	POST /logout     DEL session_A     (MaxAge -1: redistore deletes the key and
//	                                    expires the cookie)

import (
	"bytes"
	"encoding/base64"
	"encoding/gob"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/sessionscope/sessionscope/inspector/inspectortest"
)

// Gorilla is traffictest/testdata/gorilla: gorilla/sessions with boj/redistore.
const Gorilla Kind = "gorilla"

// Cookie name and key prefix of the gorilla app: the cookie is the app's choice,
// the prefix redistore's default.
const (
	GorillaCookie    = "session"
	GorillaKeyPrefix = "session_"
)

// GorillaSessionTTL is the TTL redistore gives keys: the cookie's MaxAge, 30 days.
const GorillaSessionTTL = 86400 * 30

// gorillaHashKey signs the app's cookies. A fixed test key: GorillaStoreID does not
// need it, since securecookie only signs a value when no encryption key is given.
const gorillaHashKey = "sessionscope-traffictest-gorilla-hash-key"

const gorillaInstallHint = "apt-get install golang-go (or Go from go.dev)"

var gorillaSpec = AppSpec{Kind: Gorilla, Cookie: GorillaCookie, KeyPrefix: GorillaKeyPrefix, ReadyLine: "listening", StoreID: GorillaStoreID}

// StartGorilla builds traffictest/testdata/gorilla with the go command (its modules
// come through the Go proxy or the module cache) and runs it on a free loopback port
// with its sessions in the Redis at redisAddr (host:port). Without go the test is
// skipped (or fails under SESSIONSCOPE_REQUIRE_REAL=1).
func StartGorilla(t testing.TB, redisAddr string) *App {
	t.Helper()
	goCmd := inspectortest.Need(t, "go", gorillaInstallHint)
	dir := AppDir(t, "gorilla")
	// The app is its own module: no workspace of the caller's may pull it in.
	env := append(filterEnv(os.Environ(), "GOWORK"), "GOWORK=off")
	// Modules that cannot be fetched (offline, no proxy) mean gorilla is not
	// available here; an app that then does not build is a failure.
	download := exec.Command(goCmd, "mod", "download")
	download.Dir, download.Env = dir, env
	if out, err := download.CombinedOutput(); err != nil {
		inspectortest.Missing(t, fmt.Sprintf("the gorilla app's modules could not be downloaded (%v: %s); allow the Go proxy, or run go mod download in %s", err, bytes.TrimSpace(out), dir))
		return nil
	}
	bin := filepath.Join(t.TempDir(), "app")
	// -buildvcs=false: the app sits inside this repository, whose VCS state is no
	// business of a test build.
	build := exec.Command(goCmd, "build", "-buildvcs=false", "-o", bin, ".")
	build.Dir, build.Env = dir, env
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("traffictest: build the gorilla app: %v\n%s", err, out)
	}
	return start(t, gorillaSpec, dir, func(port int) *exec.Cmd {
		cmd := exec.Command(bin)
		cmd.Dir = dir
		cmd.Env = append(filterEnv(os.Environ(), "PORT", "REDIS_ADDR", "SESSION_HASH_KEY"),
			"PORT="+strconv.Itoa(port), "REDIS_ADDR="+redisAddr, "SESSION_HASH_KEY="+gorillaHashKey)
		return cmd
	})
}

// GorillaStoreID extracts the session id from a gorilla/securecookie value as
// redistore writes it without an encryption key: base64url of
// "<time>|<base64url of the gob-encoded id>|<mac>". It does not check the MAC.
func GorillaStoreID(value string) (string, error) {
	raw, err := base64.URLEncoding.DecodeString(value)
	if err != nil {
		return "", fmt.Errorf("traffictest: gorilla cookie %q: %w", value, err)
	}
	parts := bytes.SplitN(raw, []byte("|"), 3)
	if len(parts) != 3 {
		return "", fmt.Errorf("traffictest: gorilla cookie is not date|value|mac")
	}
	enc, err := base64.URLEncoding.DecodeString(string(parts[1]))
	if err != nil {
		return "", fmt.Errorf("traffictest: gorilla cookie value: %w", err)
	}
	var id string
	if err := gob.NewDecoder(bytes.NewReader(enc)).Decode(&id); err != nil {
		return "", fmt.Errorf("traffictest: gorilla cookie value: %w", err)
	}
	return id, nil
}
