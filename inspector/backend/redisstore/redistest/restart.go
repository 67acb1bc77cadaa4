package redistest

import (
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Kill stops the server abruptly (SIGKILL, no save), as a crash would, and keeps its
// port and directory for Restart. Clients see their connections drop.
func (s *Server) Kill(t testing.TB) {
	t.Helper()
	if s.cmd == nil || s.cmd.Process == nil {
		t.Fatalf("redistest: kill %s: not running", s.Addr)
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
}

// KillHoldingPort is Kill for a server that will not be restarted while something
// (a Sentinel, a cluster) still knows its address: it then keeps the port bound until
// its Stop, closing every connection it accepts, so that it stays down.
// Without it another test's server may take the port within seconds; a Sentinel that
// sees its old master up again, empty, can then resync the promoted replica from it,
// which loses the replica's data. The port is let go only at Stop, which runs after
// the cleanups of what was started later (its replicas, its Sentinel; StartCluster
// stops all nodes first): a cleanup of its own would run first and hand the port back
// while a Sentinel still watched it, to harm a test running in another process.
func (s *Server) KillHoldingPort(t testing.TB) {
	t.Helper()
	s.Kill(t)
	var l net.Listener
	var err error
	for attempt := 0; attempt < 50; attempt++ { // the kernel may release it a moment late
		if l, err = net.Listen("tcp", s.Addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Logf("redistest: could not hold the port of the killed %s: %v", s.Addr, err)
		return
	}
	s.hold = l
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_ = c.Close() // a client sees its connection drop at once, as from a dead server
		}
	}()
}

// Restart starts the server again on the same port, with the same arguments and
// directory, after Kill (or a SHUTDOWN a test sent). With persistence on (e.g. Args
// "--appendonly", "yes") it reloads its data; without, it comes back empty.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if s.cmd == nil {
		t.Fatalf("redistest: restart %s: the server was stopped for good", s.Addr)
	}
	_ = s.cmd.Wait() // reaps a process that a SHUTDOWN ended; a no-op after Kill
	path, args := s.cmd.Path, s.cmd.Args[1:]
	var lastErr error
	// The port was free a moment ago, but the kernel may still hold it briefly, or
	// another test may have taken it: retry for a while before giving up.
	for attempt := 0; attempt < 20; attempt++ {
		cmd := exec.Command(path, args...)
		if err := cmd.Start(); err != nil {
			t.Fatalf("redistest: restart %s: %v", path, err)
		}
		s.cmd = cmd
		if lastErr = waitPing(s.Addr, 10*time.Second, cmd.Process.Pid); lastErr == nil {
			return
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("redistest: restart on %s failed: %v; log: %s", s.Addr, lastErr, tail(s.log))
}

// waitPing waits until the redis-server started as pid answers on addr with its data
// loaded (while it loads an append-only file it answers LOADING). The pid check makes
// sure the answer is not another process that took the port in between.
func waitPing(addr string, limit time.Duration, pid int) error {
	deadline := time.Now().Add(limit)
	want := fmt.Sprintf("process_id:%d", pid)
	for time.Now().Before(deadline) {
		reply, err := Command(addr, "PING")
		if err == nil && reply == "PONG" {
			info, err := Command(addr, "INFO", "server")
			if err == nil && strings.Contains(info, want+"\r\n") {
				return nil
			}
			if err == nil {
				return fmt.Errorf("another process answers on %s", addr)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("redis-server on %s did not answer PING within %s", addr, limit)
}
