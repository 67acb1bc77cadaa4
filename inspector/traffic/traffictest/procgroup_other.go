//go:build !unix

package traffictest

import "os/exec"

// ownGroup does nothing where process groups are not unix ones: the apps fork no
// workers there.
func ownGroup(*exec.Cmd) {}

// killGroup kills the process.
func killGroup(cmd *exec.Cmd) { _ = cmd.Process.Kill() }
