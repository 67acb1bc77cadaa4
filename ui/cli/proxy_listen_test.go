package cli

import (
	"bytes"
	"net"
	"strings"
	"testing"

	"github.com/sessionscope/sessionscope/inspector/backend/redisstore/redistest"
)

// TestProxyListenInUse: a proxy port that is taken stops watch with one line naming
// the flag (it used to print "proxy on …" and carry on watching with no proxy).
func TestProxyListenInUse(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	var stdout, stderr bytes.Buffer
	code := Main([]string{"watch", "--redis", srv.URL(), "--proxy-to", "http://127.0.0.1:9",
		"--proxy-listen", taken.Addr().String()}, testEnv(t, nil), &stdout, &stderr)
	msg := stderr.String()
	if code != 1 || !strings.Contains(msg, "proxy: listen on "+taken.Addr().String()) ||
		!strings.Contains(msg, "--proxy-listen") || strings.Contains(msg, "proxy on http://") {
		t.Errorf("exit %d, stderr:\n%s", code, msg)
	}
	if n := strings.Count(strings.TrimSpace(msg), "\n"); n > 0 {
		t.Errorf("more than one line on stderr:\n%s", msg)
	}
}

// TestProxyFlagsNeedProxyTo: the proxy's own flags without --proxy-to are a usage error
// naming the flag, not silently ignored (a browser pointed at --proxy-listen would find
// nothing there).
func TestProxyFlagsNeedProxyTo(t *testing.T) {
	for _, c := range []struct {
		flag string
		args []string
	}{
		{"--proxy-listen", []string{"watch", "--redis", "redis://127.0.0.1:1", "--proxy-listen", "127.0.0.1:7999"}},
		{"--sticky", []string{"watch", "--redis", "redis://127.0.0.1:1", "--sticky"}},
		{"--proxy-public", []string{"serve", "--redis", "redis://127.0.0.1:1", "--proxy-public"}},
	} {
		var stdout, stderr bytes.Buffer
		code := Main(c.args, testEnv(t, nil), &stdout, &stderr)
		msg := strings.TrimSpace(stderr.String())
		if code != 2 || !strings.Contains(msg, c.flag+" needs --proxy-to") || strings.Contains(msg, "\n") {
			t.Errorf("%v: exit %d, stderr:\n%s", c.args, code, msg)
		}
	}
}
