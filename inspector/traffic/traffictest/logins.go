package traffictest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/sessionscope/sessionscope/inspector/inspectortest"
)

// StartNodeLogins runs traffictest/testdata/node/logins.js on a free loopback port with
// its sessions in the Redis at redisAddr (host:port), database 0. It is the app for
// many users logging in at once: GET /?cart=X starts an anonymous session (a random
// csrfSecret, cart = X), POST /login (form user=U) regenerates it with a new csrfSecret,
// the cart carried over and userId = U, and answers 200 with the new cookie; GET
// /dashboard reads the session. Its cookie is connect.sid, HttpOnly, Secure (loopback
// is a secure context) and SameSite=Lax. Without node, or without the app's
// node_modules, the test is skipped (or fails under SESSIONSCOPE_REQUIRE_REAL=1).
func StartNodeLogins(t testing.TB, redisAddr string) *App {
	t.Helper()
	node := inspectortest.Need(t, "node", "apt-get install nodejs npm, then: "+nodeInstallHint)
	dir := AppDir(t, "node")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "connect-redis")); err != nil {
		inspectortest.Missing(t, "the Node test app's dependencies are not installed; run: "+nodeInstallHint)
		return nil
	}
	return start(t, nodeSpec, dir, func(port int) *exec.Cmd {
		cmd := exec.Command(node, "logins.js")
		cmd.Dir = dir
		cmd.Env = append(filterEnv(os.Environ(), "PORT", "REDIS_URL", "NODE_OPTIONS"),
			"PORT="+strconv.Itoa(port), "REDIS_URL=redis://"+redisAddr+"/0", "NODE_ENV=test")
		return cmd
	})
}
