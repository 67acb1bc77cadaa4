package ui_test

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/backend/redisstore/redistest"
)

// TestNonLoopbackBindGeneratesToken: `sessionscope serve --listen 0.0.0.0:0` without a
// token neither refuses nor runs open: it generates a token, prints it once on stderr
// with the address to log in at, and the dashboard then wants that token.
func TestNonLoopbackBindGeneratesToken(t *testing.T) {
	t.Parallel()
	redis := redistest.Start(t, redistest.Options{})
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build sessionscope: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "sessionscope")
	build := exec.Command(goBin, "build", "-o", bin, ".")
	build.Dir = moduleRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	listens := []string{"0.0.0.0:0"}
	if ln, err := net.Listen("tcp", "[::]:0"); err == nil {
		ln.Close()
		listens = append(listens, "[::]:0")
	}
	announce := regexp.MustCompile(`generated one \(shown only now\): ([0-9a-f]{32}); log in at http://(\S+)/login$`)
	for _, listen := range listens {
		t.Run(listen, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "serve", "--redis", redis.URL(), "--listen", listen)
			cmd.Env = withoutEnv(os.Environ(), "SESSIONSCOPE_TOKEN", "SESSIONSCOPE_LISTEN")
			var stdout strings.Builder
			cmd.Stdout = &stdout
			pipe, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			lines := make(chan string, 64)
			go func() {
				defer close(lines)
				sc := bufio.NewScanner(pipe)
				for sc.Scan() {
					lines <- sc.Text()
				}
			}()
			var stderr []string
			var token, addr string
			for token == "" {
				line, ok := <-lines
				if !ok {
					_ = cmd.Wait()
					t.Fatalf("sessionscope ended without printing a generated token:\n%s", strings.Join(stderr, "\n"))
				}
				stderr = append(stderr, line)
				if m := announce.FindStringSubmatch(line); m != nil {
					token, addr = m[1], m[2]
				}
			}
			_, port, err := net.SplitHostPort(addr)
			if err != nil {
				t.Fatalf("login address %q: %v", addr, err)
			}
			status := func(auth string) int {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+port+"/api/status", nil)
				if auth != "" {
					req.Header.Set("Authorization", "Bearer "+auth)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatalf("GET /api/status: %v", err)
				}
				resp.Body.Close()
				return resp.StatusCode
			}
			if got := status(""); got != http.StatusUnauthorized {
				t.Errorf("without the token: %d, want 401", got)
			}
			if got := status(token); got != http.StatusOK {
				t.Errorf("with the generated token: %d, want 200", got)
			}
			if err := cmd.Process.Signal(os.Interrupt); err != nil {
				t.Fatal(err)
			}
			for line := range lines {
				stderr = append(stderr, line)
			}
			if err := cmd.Wait(); err != nil && ctx.Err() != nil {
				t.Fatalf("sessionscope did not stop on interrupt: %v", err)
			}
			if n := strings.Count(strings.Join(stderr, "\n"), token); n != 1 {
				t.Errorf("the token is printed %d times, want once:\n%s", n, strings.Join(stderr, "\n"))
			}
			if strings.Contains(stdout.String(), token) {
				t.Errorf("the token is on stdout: %q", stdout.String())
			}
		})
	}
}
