package cli

import (
	"strings"
	"testing"
)

// TestShortTokenRefused: a token shorter than 16 characters is a usage error at
// startup, one line naming --token and what it accepts, exit 2; it was accepted even
// for a public bind.
func TestShortTokenRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"one character, public bind", []string{"serve", "--redis", "redis://127.0.0.1:1/0", "--listen", "0.0.0.0:0", "--token", "x"}},
		{"fifteen characters, loopback", []string{"serve", "--redis", "redis://127.0.0.1:1/0", "--token", "123456789012345"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runMain(t, tc.args...)
			if code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			line := oneLine(t, "stderr", stderr)
			if !strings.Contains(line, "--token") || !strings.Contains(line, "at least 16") {
				t.Errorf("stderr %q does not name --token and what it accepts", line)
			}
			if stdout != "" {
				t.Errorf("stdout %q", stdout)
			}
		})
	}
	// Sixteen characters pass the check (and a loopback bind needs none).
	var c Config
	c.Command, c.Listen, c.Token = "serve", "127.0.0.1:7070", "1234567890123456"
	if err := c.checkToken(); err != nil {
		t.Errorf("a 16-character token: %v", err)
	}
	c.Token = ""
	if err := c.checkToken(); err != nil || c.Token != "" || c.tokenMade {
		t.Errorf("loopback without a token: err %v, token %q", err, c.Token)
	}
	c.Listen = "0.0.0.0:7070"
	if err := c.checkToken(); err != nil || len(c.Token) != 32 || !c.tokenMade {
		t.Errorf("public bind without a token: err %v, token of %d characters", err, len(c.Token))
	}
}
