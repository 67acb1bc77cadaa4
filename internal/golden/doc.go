// Package golden captures the golden HAR files of the diagnosis rules
// (inspector/diagnose/testdata/golden) from the project's own test apps: for each
// scenario it starts the real PHP or Node app against a throwaway Redis, puts
// sessionscope's capturing proxy in front of it with a HARWriter as its sink, and
// drives real Chromium through the proxy, so every file holds exactly what Chromium
// sent and stored. The harness is test-only:
//
//	go test ./internal/golden -run TestCapture -update   # rewrite the golden files
//	SESSIONSCOPE_REQUIRE_REAL=1 go test ./internal/golden # capture afresh, compare rule ids
//
// Without -update a fresh capture goes to a temporary directory and must yield the
// same rule ids as the committed file, so the golden files stay what Chromium does.
package golden
