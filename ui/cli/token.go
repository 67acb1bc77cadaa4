package cli

import (
	"fmt"
	"io"
	"net"

	"github.com/sessionscope/sessionscope/ui"
)

// checkToken refuses a --token too short to resist guessing, and gives a dashboard
// bound beyond loopback without one a generated token, which serve prints once: the
// dashboard shows session ids and personal data, so it never runs open to a network.
func (c *Config) checkToken() error {
	if c.Token != "" && len(c.Token) < ui.MinTokenLength {
		return fmt.Errorf("%w: --token is %d characters: give at least %d (for example the output of openssl rand -hex 16), or leave it out on a network bind to have one generated",
			errUsage, len(c.Token), ui.MinTokenLength)
	}
	if c.Token == "" && ui.NeedsToken(c.Listen) {
		tok, err := ui.GenerateToken()
		if err != nil {
			return err
		}
		c.Token, c.tokenMade = tok, true
	}
	return nil
}

// announceToken prints a generated token, once, with the address to log in at; it
// is shown nowhere else.
func announceToken(w io.Writer, cfg Config, addr net.Addr) {
	if !cfg.tokenMade {
		return
	}
	fmt.Fprintf(w, "sessionscope: no --token was given for a network bind, so this run uses a generated one (shown only now): %s; log in at http://%s/login\n",
		cfg.Token, addr)
}
