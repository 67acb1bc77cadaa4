package cli

import (
	"fmt"
	"os"
	"testing"
)

// TestMain points the default history file of every binary these tests start at a
// throwaway directory, so that no test writes under the real home directory even if
// it forgets isolatedEnv. Each test should still use its own directory: two
// sessionscopes on one history file refuse to share it.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sessionscope-state-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("XDG_STATE_HOME", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// testEnv is env(m) with XDG_STATE_HOME set to a directory of t's own, unless m
// sets it: the default history file of an in-process run.
func testEnv(t *testing.T, m map[string]string) func(string) string {
	t.Helper()
	withState := map[string]string{"XDG_STATE_HOME": t.TempDir()}
	for k, v := range m {
		withState[k] = v
	}
	return env(withState)
}

// isolatedEnv is the process environment with XDG_STATE_HOME set to a directory of
// t's own: the default history file of a started binary.
func isolatedEnv(t *testing.T) []string {
	t.Helper()
	return append(os.Environ(), "XDG_STATE_HOME="+t.TempDir())
}
