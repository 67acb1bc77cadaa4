// Package inspectortest decides what a test does when a real component it needs (redis-server,
// php, node, chromium) is missing: locally it skips with a message saying what to
// install; under SESSIONSCOPE_REQUIRE_REAL=1, as in CI, it fails.
package inspectortest

import (
	"os"
	"os/exec"
	"testing"
)

// RequireRealVar is the environment variable that turns missing components into failures.
const RequireRealVar = "SESSIONSCOPE_REQUIRE_REAL"

// Required reports whether missing real components must fail tests.
func Required() bool { return os.Getenv(RequireRealVar) == "1" }

// Need returns the path of the named executable, or skips (fails when Required) with
// the install hint.
func Need(t testing.TB, name, installHint string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		Missing(t, name+" not found on PATH; install it with: "+installHint)
		return ""
	}
	return path
}

// Missing skips the test with why, or fails it when real components are required.
func Missing(t testing.TB, why string) {
	t.Helper()
	if Required() {
		t.Fatalf("%s (%s=1: real components are required)", why, RequireRealVar)
	}
	t.Skip(why)
}
