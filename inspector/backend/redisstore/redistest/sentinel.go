package redistest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/inspectortest"
)

// StartReplica starts a redis-server replicating master (--replicaof), with the
// default notification flags, and waits until its link to the master is up.
func StartReplica(t testing.TB, master *Server) *Server {
	t.Helper()
	r := Start(t, Options{Args: []string{"--replicaof", "127.0.0.1", strconv.Itoa(master.Port)}})
	logOnFailure(t, r, "replica")
	sentinelWait(t, 20*time.Second, "replica "+r.Addr+" to sync with "+master.Addr, func() bool {
		info, err := Command(r.Addr, "INFO", "replication")
		return err == nil && strings.Contains(info, "master_link_status:up")
	})
	return r
}

// StartSentinel starts a redis-server --sentinel monitoring master under name with a
// quorum of 1, a down-after of 1 s and a failover timeout of 5 s, so a killed master is
// replaced within a few seconds. It waits until the sentinel knows replicas (one each)
// of the master, so that a failover can happen.
func StartSentinel(t testing.TB, name string, master *Server, replicas int) *Server {
	t.Helper()
	bin := inspectortest.Need(t, "redis-server", "apt-get install redis-server")
	dir := t.TempDir()
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := FreePort()
		if err != nil {
			t.Fatalf("redistest: find a free port: %v", err)
		}
		s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Port: port, Dir: dir,
			log: filepath.Join(dir, fmt.Sprintf("sentinel-%d.log", port))}
		// The sentinel rewrites its config file as it learns the group: it must be
		// writable, hence a file per attempt in the test's directory.
		conf := filepath.Join(dir, fmt.Sprintf("sentinel-%d.conf", port))
		body := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nlogfile %s\n"+
			"sentinel monitor %s 127.0.0.1 %d 1\n"+
			"sentinel down-after-milliseconds %s 1000\n"+
			"sentinel failover-timeout %s 5000\n",
			port, dir, s.log, name, master.Port, name, name)
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			t.Fatalf("redistest: write %s: %v", conf, err)
		}
		s.cmd = exec.Command(bin, conf, "--sentinel")
		if err := s.cmd.Start(); err != nil {
			t.Fatalf("redistest: start %s --sentinel: %v", bin, err)
		}
		if err := waitReady(s, 10*time.Second); err != nil {
			_ = s.cmd.Process.Kill()
			_ = s.cmd.Wait()
			lastErr = fmt.Errorf("%w; log: %s", err, tail(s.log))
			continue
		}
		t.Cleanup(s.Stop)
		// A failover is the servers' own doing: when a test of one fails, what they
		// logged (elections, promotions, resyncs) says what happened.
		logOnFailure(t, s, "sentinel")
		logOnFailure(t, master, "master")
		sentinelWait(t, 30*time.Second, fmt.Sprintf("sentinel %s to discover %d replica(s) of %s", s.Addr, replicas, name), func() bool {
			reply, err := Command(s.Addr, "SENTINEL", "REPLICAS", name)
			return err == nil && strings.Count(reply, "\nslave\n") >= replicas
		})
		return s
	}
	t.Fatalf("redistest: redis-server --sentinel did not start: %v", lastErr)
	return nil
}

// LogTail is the tail of the server's log file, for a failure message.
func (s *Server) LogTail() string { return tail(s.log) }

// logOnFailure logs the tail of s's log at the end of a test that failed.
func logOnFailure(t testing.TB, s *Server, role string) {
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("redistest: the %s %s logged:\n%s", role, s.Addr, s.LogTail())
		}
	})
}

func sentinelWait(t testing.TB, limit time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("redistest: waited %s for %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
