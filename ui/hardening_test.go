package ui

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/sessionscope/sessionscope/handlers"
	"github.com/sessionscope/sessionscope/ui/uitest"
)

// startServerTimeouts is startServer with the server's timeouts replaced before it serves.
func startServerTimeouts(t *testing.T, src handlers.Source, to timeouts) *started {
	t.Helper()
	return startServerEdited(t, Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, src, func(s *Server) { s.timeouts = to })
}

// hangGuard bounds every wait on a raw connection; the timeouts under test are far
// shorter, so reaching it means the server held the connection.
const hangGuard = 20 * time.Second

// waitClosed reads from conn until the server closes it, and fails the test if the
// hang guard runs out first. It returns what the server sent.
func waitClosed(t *testing.T, conn net.Conn, what string) string {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(hangGuard))
	b, err := io.ReadAll(conn)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("%s: the server still holds the connection after %v", what, hangGuard)
	}
	return string(b)
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// TestServerTimeouts: slow headers, a slow body and an idle keep-alive connection are
// each cut off by the server, while a websocket outlives every timeout.
func TestServerTimeouts(t *testing.T) {
	t.Parallel()
	env := uitest.StartInspector(t, uitest.Options{})
	short := 300 * time.Millisecond
	s := startServerTimeouts(t, env.In, timeouts{header: short, body: short, idle: short})

	t.Run("slow headers", func(t *testing.T) {
		conn := dial(t, s.addr)
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			// The attack: a request line and headers, one byte at a time, never ending.
			msg := "GET / HTTP/1.1\r\nHost: " + s.addr + "\r\nX-Slow: " + strings.Repeat("a", 1000)
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			for i := 0; i < len(msg); i++ {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				if _, err := conn.Write([]byte{msg[i]}); err != nil {
					return
				}
			}
		}()
		if got := waitClosed(t, conn, "slow headers"); strings.Contains(got, "200 OK") {
			t.Errorf("the slow request was served: %q", got)
		}
	})

	t.Run("slow body", func(t *testing.T) {
		conn := dial(t, s.addr)
		// Ten bytes of a hundred promised, then nothing.
		req := "POST /login HTTP/1.1\r\nHost: " + s.addr + "\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ntoken=abcd"
		if _, err := io.WriteString(conn, req); err != nil {
			t.Fatal(err)
		}
		waitClosed(t, conn, "slow body")
	})

	t.Run("idle keep-alive", func(t *testing.T) {
		conn := dial(t, s.addr)
		if _, err := io.WriteString(conn, "GET /api/status HTTP/1.1\r\nHost: "+s.addr+"\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(hangGuard))
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Close {
			t.Fatalf("GET /api/status: %d, close %v; want a kept-alive 200", resp.StatusCode, resp.Close)
		}
		if rest, err := io.ReadAll(br); errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("the idle connection is still open after %v", hangGuard)
		} else if len(rest) != 0 {
			t.Errorf("unexpected bytes on the idle connection: %q", rest)
		}
	})

	t.Run("websocket outlives them", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
		defer cancel()
		ws, _, err := websocket.Dial(ctx, "ws://"+s.addr+"/ws", &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {s.base}}})
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer ws.CloseNow()
		// Read in the background: the hub pushes status objects, and reading is
		// what lets Ping see its pong.
		go func() {
			for {
				if _, _, err := ws.Read(ctx); err != nil {
					return
				}
			}
		}()
		// Wait, on a condition, until every timeout has passed: an idle keep-alive
		// connection opened after the socket has been closed by the server.
		idle := dial(t, s.addr)
		if _, err := io.WriteString(idle, "GET /api/status HTTP/1.1\r\nHost: "+s.addr+"\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		waitClosed(t, idle, "idle connection")
		if err := ws.Ping(ctx); err != nil {
			t.Fatalf("the websocket did not survive the server's timeouts: %v", err)
		}
	})
}

// TestMethods: HEAD is answered wherever GET is, without a body, and a method a path
// does not take is a 405 that lists the ones it does.
func TestMethods(t *testing.T) {
	t.Parallel()
	env := uitest.StartInspector(t, uitest.Options{})
	s := startServer(t, Config{}, env.In)

	for _, path := range []string{"/", "/sessions", "/findings", "/status", "/api/status"} {
		conn := dial(t, s.addr)
		if _, err := io.WriteString(conn, "HEAD "+path+" HTTP/1.1\r\nHost: "+s.addr+"\r\nConnection: close\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		raw := waitClosed(t, conn, "HEAD "+path)
		head, body, _ := strings.Cut(raw, "\r\n\r\n")
		if !strings.HasPrefix(head, "HTTP/1.1 200 ") {
			t.Errorf("HEAD %s: %q, want 200", path, head)
		}
		if body != "" {
			t.Errorf("HEAD %s sent a body: %q", path, body)
		}
	}

	for _, tc := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{http.MethodPost, "/sessions", 405, "GET, HEAD"},
		{http.MethodGet, "/lab/run", 405, "POST"},
		{http.MethodGet, "/logout", 405, "POST"},
		{http.MethodDelete, "/api/status", 405, "GET, HEAD"},
		{http.MethodPut, "/sessions/0123456789ab", 405, "GET, HEAD"},
		{http.MethodHead, "/ws", 405, "GET"},
		{http.MethodGet, "/nope", 404, ""},
		{http.MethodPost, "/nope", 404, ""},
		{http.MethodGet, "/sessions/0123456789ab", 404, ""}, // the route's own 404 stays one
	} {
		resp, _ := do(t, tc.method, s.base+tc.path, nil)
		if resp.StatusCode != tc.status || resp.Header.Get("Allow") != tc.allow {
			t.Errorf("%s %s: %d Allow %q, want %d Allow %q", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Allow"), tc.status, tc.allow)
		}
	}
}
