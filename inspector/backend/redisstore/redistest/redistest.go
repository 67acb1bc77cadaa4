// Package redistest starts throwaway redis-server processes for tests.
//
// Every test that concerns Redis talks to a real server started here, on a free
// loopback port, with no persistence and the keyspace notification flags that
// sessionscope needs, so tests never depend on the state of a shared Redis.
package redistest

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionscope/sessionscope/inspector/inspectortest"
)

// DefaultNotifications is the notify-keyspace-events value the helper configures
// unless a test asks for another one.
const DefaultNotifications = "Eg$hxen"

// Server is a running redis-server owned by one test.
type Server struct {
	Addr string // host:port on loopback
	Port int
	Dir  string
	cmd  *exec.Cmd
	log  string
	// hold keeps a killed server's port bound until Stop (KillHoldingPort).
	hold net.Listener
	// Certs are the PEM files of a TLS server (Options.TLS); nil for plain TCP.
	Certs   *Certs
	tlsConf *tls.Config
}

// Options tune the server a test starts.
type Options struct {
	// Notifications is the notify-keyspace-events value; "" means DefaultNotifications,
	// "off" starts with notifications disabled.
	Notifications string
	// Args are extra redis-server arguments, e.g. "--maxmemory", "1mb".
	Args []string
	// TLS serves TLS only (--port 0 --tls-port P) with a CA, server and client
	// certificates generated for this server (Server.Certs); client certificates
	// are optional. The helper's own connections (Do) use TLS too.
	TLS bool
	// ACL are users created at start with ACL SETUSER through the default (admin)
	// user, each "name rule rule ...", e.g. "ro on >pw ~sess:* +@read".
	ACL []string
	// Valkey runs valkey-server instead of redis-server: Valkey 8 speaks Redis 7.2's
	// protocol, so it stands in for a server newer than the distribution's Redis
	// (CLIENT NO-TOUCH arrived in 7.2).
	Valkey bool
}

// ValkeyInstallHint says how CI gets valkey-server on Debian 12.
const ValkeyInstallHint = "apt-get install -t bookworm-backports valkey-server (with bookworm-backports in the apt sources)"

// Start starts a redis-server for the test and stops it when the test ends. Without a
// redis-server binary the test is skipped, or fails under SESSIONSCOPE_REQUIRE_REAL=1.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	bin := ""
	if opts.Valkey {
		bin = inspectortest.Need(t, "valkey-server", ValkeyInstallHint)
	} else {
		bin = inspectortest.Need(t, "redis-server", "apt-get install redis-server")
	}
	notify := opts.Notifications
	switch notify {
	case "":
		notify = DefaultNotifications
	case "off":
		notify = ""
	}
	dir := t.TempDir()
	var certs *Certs
	var tlsConf *tls.Config
	if opts.TLS {
		c := GenerateCerts(t, dir, "tls")
		conf, err := c.ClientConfig()
		if err != nil {
			t.Fatalf("redistest: TLS client config: %v", err)
		}
		certs, tlsConf = &c, conf
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := FreePort()
		if err != nil {
			t.Fatalf("redistest: find a free port: %v", err)
		}
		s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Port: port, Dir: dir,
			log: filepath.Join(dir, fmt.Sprintf("redis-%d.log", port)), Certs: certs, tlsConf: tlsConf}
		args := []string{
			"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", dir,
			"--logfile", s.log, "--notify-keyspace-events", notify,
		}
		if certs != nil {
			args = replacePort(args, *certs)
		}
		args = append(args, opts.Args...)
		s.cmd = exec.Command(bin, args...)
		if err := s.cmd.Start(); err != nil {
			t.Fatalf("redistest: start %s: %v", bin, err)
		}
		if err := waitReady(s, 10*time.Second); err != nil {
			_ = s.cmd.Process.Kill()
			_ = s.cmd.Wait()
			lastErr = fmt.Errorf("%w; log: %s", err, tail(s.log))
			continue
		}
		t.Cleanup(s.Stop)
		for _, rule := range opts.ACL {
			if err := aclSetUser(s, rule); err != nil {
				t.Fatalf("redistest: ACL SETUSER %s: %v", rule, err)
			}
		}
		return s
	}
	t.Fatalf("redistest: redis-server did not start: %v", lastErr)
	return nil
}

// URL is the redis:// URL of the server's db 0 (rediss:// for a TLS server).
func (s *Server) URL() string {
	if s.Certs != nil {
		return "rediss://" + s.Addr + "/0"
	}
	return "redis://" + s.Addr + "/0"
}

// Stop kills the server and lets go of its port if KillHoldingPort held it; it is
// safe to call twice.
func (s *Server) Stop() {
	s.kill()
	if s.hold != nil {
		_ = s.hold.Close()
		s.hold = nil
	}
}

// kill ends the server's process for good, keeping a held port held.
func (s *Server) kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Do runs one command on a fresh connection and returns the reply as text. It keeps
// tests free of a client library when they only need to set up state.
func (s *Server) Do(t testing.TB, args ...string) string {
	t.Helper()
	reply, err := s.command(args...)
	if err != nil {
		t.Fatalf("redistest: %v: %v", args, err)
	}
	return reply
}

// command is Command over TLS when the server serves TLS.
func (s *Server) command(args ...string) (string, error) {
	if s.tlsConf == nil {
		return Command(s.Addr, args...)
	}
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second}, Config: s.tlsConf}
	conn, err := d.Dial("tcp", s.Addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	return commandOn(conn, args...)
}

// Command sends one RESP command and returns a simple rendering of the reply.
func Command(addr string, args ...string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	return commandOn(conn, args...)
}

func commandOn(conn net.Conn, args ...string) (string, error) {
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write([]byte(b.String())); err != nil {
		return "", err
	}
	return readReply(bufio.NewReader(conn))
}

func readReply(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("empty reply")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", fmt.Errorf("redis error: %s", line[1:])
	case '$':
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return "", nil
		}
		buf := make([]byte, n+2)
		if _, err := ioReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	case '*':
		n, _ := strconv.Atoi(line[1:])
		parts := make([]string, 0, max(n, 0))
		for i := 0; i < n; i++ {
			p, err := readReply(r)
			if err != nil {
				return "", err
			}
			parts = append(parts, p)
		}
		return strings.Join(parts, "\n"), nil
	}
	return line, nil
}

func ioReadFull(r *bufio.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// FreePort asks the kernel for a free loopback TCP port.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func waitReady(s *Server, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	for {
		reply, err := s.command("PING")
		if err != nil && strings.Contains(err.Error(), "NOAUTH") {
			return nil // a server that is up and wants a password
		}
		if err == nil && reply == "PONG" {
			// The port was free when FreePort picked it, but another process (another
			// package's tests run at the same time) may have bound it first; then this
			// server failed to start and the answer is that process's. Using it would
			// mix two tests' data: make the caller try another port.
			info, err := s.command("INFO", "server")
			if err == nil && strings.Contains(info, fmt.Sprintf("process_id:%d\r\n", s.cmd.Process.Pid)) {
				return nil
			}
			if err == nil {
				return fmt.Errorf("another process answers on %s", s.Addr)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("redis-server on %s did not answer PING within %s", s.Addr, limit)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log)"
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// SetEx writes key with a TTL in whole seconds by sending the SETEX command itself, as
// phpredis does. go-redis deprecates its SetEx for SET with EX; Redis notifies both as
// set+expire, but a test that stands in for a framework sends that framework's command.
func SetEx(ctx context.Context, c interface {
	Do(context.Context, ...any) *redis.Cmd
}, key string, value any, ttl time.Duration) error {
	return c.Do(ctx, "SETEX", key, int64(ttl/time.Second), value).Err()
}
