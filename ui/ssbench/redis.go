package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionscope/sessionscope/inspector/backend/redisstore/redistest"
)

// notifyFlags are the keyspace notification classes sessionscope needs (DESIGN.md),
// with n for "new" events on Redis 7.
const notifyFlags = "Eg$hxen"

// redisServer is the throwaway redis-server ssbench starts on a free loopback port.
type redisServer struct {
	bin    string
	addr   string
	port   int
	dir    string
	cmd    *exec.Cmd
	client *redis.Client
}

// startRedis execs redis-server on a free 127.0.0.1 port, without persistence and with
// the notification flags sessionscope needs, and waits until it answers PING.
func startRedis(ctx context.Context, bin string) (*redisServer, error) {
	dir, err := os.MkdirTemp("", "ssbench-redis-")
	if err != nil {
		return nil, err
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := redistest.FreePort()
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		s := &redisServer{bin: bin, port: port, dir: dir, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
		s.cmd = exec.Command(bin,
			"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no",
			"--notify-keyspace-events", notifyFlags,
			"--dir", dir, "--logfile", filepath.Join(dir, "redis.log"))
		setChildAttrs(s.cmd)
		if err := s.cmd.Start(); err != nil {
			return nil, fmt.Errorf("start %s: %w (install redis-server, or pass -redis-server PATH)", bin, err)
		}
		s.client = redis.NewClient(&redis.Options{Addr: s.addr, PoolSize: 2, ReadTimeout: 30 * time.Second})
		if err := s.waitReady(ctx, 10*time.Second); err != nil {
			lastErr = err
			s.stop()
			continue
		}
		return s, nil
	}
	return nil, fmt.Errorf("redis-server did not start: %w", lastErr)
}

func (s *redisServer) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		err := s.client.Ping(pctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(20 * time.Millisecond)
	}
	log, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	return fmt.Errorf("redis-server on %s did not answer PING within %s; log: %s", s.addr, limit, tailBytes(log, 1000))
}

func tailBytes(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// URL is the redis:// URL of db 0.
func (s *redisServer) URL() string { return "redis://" + s.addr + "/0" }

func (s *redisServer) pid() int {
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// flush empties the server and waits until it is done, so runs start alike.
func (s *redisServer) flush(ctx context.Context) error {
	return s.client.FlushAll(ctx).Err()
}

// stop kills the server this program started (by its pid) and removes its directory.
func (s *redisServer) stop() {
	if s.client != nil {
		_ = s.client.Close()
	}
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
		s.cmd = nil
	}
	_ = os.RemoveAll(s.dir)
}

// version returns redis_version from INFO server.
func (s *redisServer) version(ctx context.Context) string {
	info, err := s.client.Info(ctx, "server").Result()
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			return v
		}
	}
	return ""
}

// usedMemory returns INFO memory's used_memory in bytes.
func (s *redisServer) usedMemory(ctx context.Context) int64 {
	info, err := s.client.Info(ctx, "memory").Result()
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

// bufferKills counts the clients Redis has closed so far for passing their output
// buffer limit (for a subscriber: 32 MB of notifications it had not read yet).
func (s *redisServer) bufferKills() int {
	b, err := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	if err != nil {
		return 0
	}
	return bytes.Count(b, []byte("for overcoming of output buffer limits"))
}

// bareSubscriber is the minimal consumer of the same notifications sessionscope
// subscribes to: `redis-cli psubscribe '__keyevent@0__:*'` writing to /dev/null.
type bareSubscriber struct {
	cmd *exec.Cmd
}

// startBareSubscriber starts redis-cli in psubscribe mode, at the given nice value, and
// waits until Redis counts its pattern subscription.
func startBareSubscriber(ctx context.Context, cli string, srv *redisServer, nice int) (*bareSubscriber, error) {
	cmd := exec.Command(cli, "-h", "127.0.0.1", "-p", strconv.Itoa(srv.port), "psubscribe", "__keyevent@0__:*")
	setChildAttrs(cmd)
	// Stdout and Stderr stay nil: os/exec connects them to /dev/null.
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cli, err)
	}
	b := &bareSubscriber{cmd: cmd}
	if nice != 0 {
		if err := setNice(cmd.Process.Pid, nice); err != nil {
			b.stop()
			return nil, fmt.Errorf("nice redis-cli: %w", err)
		}
	}
	if err := waitNumPat(ctx, srv, 1, 10*time.Second); err != nil {
		b.stop()
		return nil, err
	}
	return b, nil
}

func waitNumPat(ctx context.Context, srv *redisServer, want int64, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		n, err := srv.client.PubSubNumPat(ctx).Result()
		if err == nil && n >= want {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("pattern subscription not registered within %s", limit)
}

func (b *bareSubscriber) stop() {
	if b.cmd != nil && b.cmd.Process != nil {
		_ = b.cmd.Process.Kill()
		_ = b.cmd.Wait()
		b.cmd = nil
	}
}

var rpsRE = regexp.MustCompile(`([0-9]+(?:\.[0-9]+)?) requests per second`)

// runRedisBenchmark runs redis-benchmark with SETEX on phpredis-style keys and a fixed
// PHP session payload, and returns the requests per second it reports and the CPU time
// it used.
// started, when set, is called once redis-benchmark runs.
func runRedisBenchmark(ctx context.Context, bin string, srv *redisServer, n, keys, pipeline int, payload []byte, started func()) (float64, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-h", "127.0.0.1", "-p", strconv.Itoa(srv.port),
		"-n", strconv.Itoa(n), "-c", "50", "-P", strconv.Itoa(pipeline), "-r", strconv.Itoa(keys), "-q",
		"SETEX", sessionPrefix+"__rand_int__", "1440", string(payload))
	setChildAttrs(cmd)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Start()
	if err == nil {
		if started != nil {
			started()
		}
		err = cmd.Wait()
	}
	var cpu time.Duration
	if cmd.ProcessState != nil {
		cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	if err != nil {
		return 0, cpu, fmt.Errorf("redis-benchmark: %w: %s", err, tailBytes(out.Bytes(), 300))
	}
	m := rpsRE.FindAllSubmatch(out.Bytes(), -1)
	if len(m) == 0 {
		return 0, cpu, fmt.Errorf("redis-benchmark: no 'requests per second' in its output: %s", tailBytes(out.Bytes(), 300))
	}
	rps, err := strconv.ParseFloat(string(m[len(m)-1][1]), 64)
	return rps, cpu, err
}
