package cli

import (
	"fmt"
	"runtime/debug"
)

// versionLine is what --version and `sessionscope version` print: the module version
// and the VCS revision the binary was built from. It says "(devel)" and "revision
// unknown" when the build did not record them (go run, go test, a build outside a
// checkout), rather than invent a version.
func versionLine(info *debug.BuildInfo, ok bool) string {
	version, revision, modified, goVersion := "(devel)", "", false, ""
	if ok && info != nil {
		goVersion = info.GoVersion
		if v := info.Main.Version; v != "" {
			version = v
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	line := "sessionscope " + version
	switch {
	case revision == "":
		line += ", revision unknown"
	case modified:
		line += fmt.Sprintf(", revision %s with uncommitted changes", revision)
	default:
		line += ", revision " + revision
	}
	if goVersion != "" {
		line += ", built with " + goVersion
	}
	return line + "\n"
}

// buildVersion is versionLine for the running binary.
func buildVersion() string {
	return versionLine(debug.ReadBuildInfo())
}
