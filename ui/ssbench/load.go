package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// ttlArg is the SETEX TTL: PHP's session.gc_maxlifetime default, 1440 s.
const ttlArg = "1440"

// loadSpec describes one loader run: n SETEX over keys chosen by keyOf, pipelined.
type loadSpec struct {
	addr     string
	n        int
	conns    int
	pipeline int
	gen      *payloadGen
	// keyOf maps a write index to a session index.
	keyOf func(w uint64) uint64
	// throttle, when set, is called before each pipeline with the writes sent so far;
	// it may sleep to let a consumer catch up.
	throttle func(sent int64)
	// progress counts completed writes, for the samplers.
	progress *atomic.Int64
	timeout  time.Duration
	// goRedis sends the pipelines through go-redis instead of hand-written RESP.
	goRedis bool
}

type loadResult struct {
	Writes   int64         `json:"writes"`
	Elapsed  time.Duration `json:"elapsed_ns"`
	PerSec   float64       `json:"setex_per_s"`
	Start    time.Time     `json:"-"`
	End      time.Time     `json:"-"`
	RedisCPU float64       `json:"redis_cpu_busy"` // fraction of one core redis-server used
}

// randomKeys spreads writes over keys sessions by a hash of the write index, so that
// some sessions are busier than others, as on a real site.
func randomKeys(keys int) func(uint64) uint64 {
	return func(w uint64) uint64 { return mix(w^0x2545f4914f6cdd1d) % uint64(keys) }
}

// distinctKeys writes every session once: write w creates session w.
func distinctKeys(w uint64) uint64 { return w }

// countDistinct is how many different sessions the first n writes touch, which is how
// many "new" notifications Redis sends on an empty database.
func countDistinct(n, keys int, keyOf func(uint64) uint64) int64 {
	seen := make([]uint64, (keys+63)/64)
	var c int64
	for w := 0; w < n; w++ {
		k := keyOf(uint64(w))
		if seen[k/64]&(1<<(k%64)) == 0 {
			seen[k/64] |= 1 << (k % 64)
			c++
		}
	}
	return c
}

// runLoad writes spec.n SETEX as fast as Redis takes them: spec.conns goroutines, each
// with its own connection, take chunks of spec.pipeline writes and send each chunk as
// one pipeline, then read its replies. With spec.goRedis the pipelines go through
// go-redis; otherwise the loader writes RESP itself into a buffer reused per chunk,
// which costs about a third of the CPU and so leaves Redis, not the loader, as the
// bottleneck on a small machine.
func runLoad(ctx context.Context, spec loadSpec, redisPID int) (loadResult, error) {
	ctx, cancel := context.WithTimeout(ctx, spec.timeout)
	defer cancel()
	workers := make([]loadWorker, spec.conns)
	for i := range workers {
		var err error
		if spec.goRedis {
			workers[i], err = newGoRedisWorker(ctx, spec)
		} else {
			workers[i], err = newRESPWorker(ctx, spec)
		}
		if err != nil {
			for _, w := range workers[:i] {
				w.close()
			}
			return loadResult{}, err
		}
	}
	defer func() {
		for _, w := range workers {
			w.close()
		}
	}()
	chunks := (spec.n + spec.pipeline - 1) / spec.pipeline
	var next, sent atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	cpu0 := procCPU(redisPID)
	start := time.Now()
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				ch := int(next.Add(1) - 1)
				if ch >= chunks {
					return
				}
				lo, hi := ch*spec.pipeline, min((ch+1)*spec.pipeline, spec.n)
				if spec.throttle != nil {
					spec.throttle(sent.Load())
				}
				if err := w.send(ctx, lo, hi); err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("loader: pipeline of %d SETEX: %w", hi-lo, err) })
					cancel()
					return
				}
				sent.Add(int64(hi - lo))
				if spec.progress != nil {
					spec.progress.Add(int64(hi - lo))
				}
			}
		}()
	}
	wg.Wait()
	end := time.Now()
	cpu1 := procCPU(redisPID)
	res := loadResult{Writes: sent.Load(), Elapsed: end.Sub(start), Start: start, End: end}
	res.PerSec = float64(res.Writes) / res.Elapsed.Seconds()
	res.RedisCPU = (cpu1 - cpu0).Seconds() / res.Elapsed.Seconds()
	if firstErr != nil {
		return res, firstErr
	}
	if ctx.Err() != nil && res.Writes < int64(spec.n) {
		return res, fmt.Errorf("loader: stopped after %d of %d writes: %w", res.Writes, spec.n, ctx.Err())
	}
	return res, nil
}

// loadWorker sends writes [lo, hi) as one pipeline on its own connection.
type loadWorker interface {
	send(ctx context.Context, lo, hi int) error
	close()
}

// respWorker speaks RESP directly: one buffer holds the whole pipeline.
type respWorker struct {
	spec loadSpec
	conn net.Conn
	rd   *bufio.Reader
	buf  []byte
}

func newRESPWorker(ctx context.Context, spec loadSpec) (*respWorker, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", spec.addr)
	if err != nil {
		return nil, fmt.Errorf("loader: dial %s: %w", spec.addr, err)
	}
	return &respWorker{spec: spec, conn: conn, rd: bufio.NewReaderSize(conn, 64<<10),
		buf: make([]byte, 0, spec.pipeline*(spec.gen.Size()+keyLen+64))}, nil
}

func (w *respWorker) send(ctx context.Context, lo, hi int) error {
	psize := w.spec.gen.Size()
	b := w.buf[:0]
	for i := lo; i < hi; i++ {
		k := w.spec.keyOf(uint64(i))
		b = append(b, "*4\r\n$5\r\nSETEX\r\n$"...)
		b = strconv.AppendInt(b, int64(keyLen), 10)
		b = append(b, "\r\n"...)
		n := len(b)
		b = b[:n+keyLen]
		appendKey(b[n:], k)
		b = append(b, "\r\n$4\r\n"+ttlArg+"\r\n$"...)
		b = strconv.AppendInt(b, int64(psize), 10)
		b = append(b, "\r\n"...)
		n = len(b)
		b = b[:n+psize]
		w.spec.gen.fill(b[n:], uint64(i), k)
		b = append(b, "\r\n"...)
	}
	w.buf = b
	deadline := time.Now().Add(30 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = w.conn.SetDeadline(deadline)
	if _, err := w.conn.Write(b); err != nil {
		return err
	}
	for i := lo; i < hi; i++ {
		line, err := w.rd.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) == 0 || line[0] != '+' {
			return fmt.Errorf("redis replied %q", bytes.TrimSpace(line))
		}
	}
	return nil
}

func (w *respWorker) close() { _ = w.conn.Close() }

// goRedisWorker sends the pipeline through go-redis, with key and payload bytes in an
// arena reused after each pipeline returns.
type goRedisWorker struct {
	spec     loadSpec
	client   *redis.Client
	pipe     redis.Pipeliner
	keyArena []byte
	valArena []byte
}

func newGoRedisWorker(ctx context.Context, spec loadSpec) (*goRedisWorker, error) {
	client := redis.NewClient(&redis.Options{Addr: spec.addr, PoolSize: 1, MinIdleConns: 1,
		ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second, MaxRetries: -1})
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("loader: ping: %w", err)
	}
	return &goRedisWorker{spec: spec, client: client, pipe: client.Pipeline(),
		keyArena: make([]byte, spec.pipeline*keyLen), valArena: make([]byte, spec.pipeline*spec.gen.Size())}, nil
}

func (w *goRedisWorker) send(ctx context.Context, lo, hi int) error {
	psize := w.spec.gen.Size()
	for i := lo; i < hi; i++ {
		j := i - lo
		k := w.spec.keyOf(uint64(i))
		key := w.keyArena[j*keyLen : (j+1)*keyLen]
		val := w.valArena[j*psize : (j+1)*psize]
		appendKey(key, k)
		w.spec.gen.fill(val, uint64(i), k)
		w.pipe.Do(ctx, "setex", key, ttlArg, val)
	}
	_, err := w.pipe.Exec(ctx)
	return err
}

func (w *goRedisWorker) close() { _ = w.client.Close() }

// loaderEnv, when set, makes ssbench a loader child: it runs the load its JSON value
// describes and reports on stdout (see runLoaderChild). The ingest phase runs its
// loader so, in a process of its own, so that the CPU time ssbench's own process uses
// is sessionscope's alone.
const loaderEnv = "SSBENCH_LOADER"

// loaderChildSpec is what a loader child needs to rebuild its loadSpec.
type loaderChildSpec struct {
	Addr     string `json:"addr"`
	N        int    `json:"n"`
	Keys     int    `json:"keys"`
	Conns    int    `json:"conns"`
	Pipeline int    `json:"pipeline"`
	Payload  int    `json:"payload"`
	GoRedis  bool   `json:"go_redis"`
	RedisPID int    `json:"redis_pid"`
	TimeoutS int    `json:"timeout_s"`
	// Rate paces the load to at most this many SETEX a second; 0 is as fast as Redis
	// takes them.
	Rate float64 `json:"rate,omitempty"`
}

// paced returns a loadSpec throttle that holds the load to rate SETEX a second.
func paced(rate float64) func(sent int64) {
	if rate <= 0 {
		return nil
	}
	start := time.Now()
	return func(sent int64) {
		if d := time.Duration(float64(sent)/rate*float64(time.Second)) - time.Since(start); d > 0 {
			time.Sleep(d) // a loader's pacing, not a wait on a condition
		}
	}
}

// loaderChildResult is the child's last line.
type loaderChildResult struct {
	Load  loadResult `json:"load"`
	Start time.Time  `json:"start"`
	End   time.Time  `json:"end"`
	Error string     `json:"error,omitempty"`
}

// runLoaderChild is a loader child's main: it writes "p N" lines with the writes done
// so far while it loads, then "r" and its result as JSON.
func runLoaderChild(specJSON string) int {
	var cs loaderChildSpec
	if err := json.Unmarshal([]byte(specJSON), &cs); err != nil {
		fmt.Fprintf(os.Stderr, "ssbench loader: %s: %v\n", loaderEnv, err)
		return 2
	}
	gen, err := newPayloadGen(cs.Payload)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ssbench loader: %v\n", err)
		return 2
	}
	var progress atomic.Int64
	out := bufio.NewWriter(os.Stdout)
	var outMu sync.Mutex
	stop := make(chan struct{})
	reported := make(chan struct{})
	go func() {
		defer close(reported)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				outMu.Lock()
				fmt.Fprintf(out, "p %d\n", progress.Load())
				_ = out.Flush()
				outMu.Unlock()
			}
		}
	}()
	res, err := runLoad(context.Background(), loadSpec{addr: cs.Addr, n: cs.N, conns: cs.Conns, pipeline: cs.Pipeline, gen: gen,
		keyOf: randomKeys(cs.Keys), progress: &progress, timeout: time.Duration(cs.TimeoutS) * time.Second, goRedis: cs.GoRedis,
		throttle: paced(cs.Rate)}, cs.RedisPID)
	close(stop)
	<-reported
	r := loaderChildResult{Load: res, Start: res.Start, End: res.End}
	if err != nil {
		r.Error = err.Error()
	}
	b, _ := json.Marshal(r)
	outMu.Lock()
	defer outMu.Unlock()
	fmt.Fprintf(out, "p %d\nr %s\n", progress.Load(), b)
	if err := out.Flush(); err != nil {
		return 1
	}
	return 0
}

// runLoadProcess runs spec in a loader child (this binary again) and returns its
// result and the CPU time the child used. written follows the child's progress.
func runLoadProcess(ctx context.Context, spec loadSpec, cfg config, redisPID int) (loadResult, time.Duration, error) {
	self, err := os.Executable()
	if err != nil {
		return loadResult{}, 0, fmt.Errorf("loader: find this binary: %w", err)
	}
	cs, _ := json.Marshal(loaderChildSpec{Addr: spec.addr, N: spec.n, Keys: cfg.Keys, Conns: spec.conns, Pipeline: spec.pipeline,
		Payload: cfg.Payload, GoRedis: spec.goRedis, RedisPID: redisPID, TimeoutS: int(spec.timeout / time.Second), Rate: cfg.IngestRate})
	cmd := exec.CommandContext(ctx, self)
	cmd.Env = append(os.Environ(), loaderEnv+"="+string(cs))
	cmd.Stderr = os.Stderr
	setChildAttrs(cmd)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return loadResult{}, 0, fmt.Errorf("loader: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return loadResult{}, 0, fmt.Errorf("loader: start %s: %w", self, err)
	}
	var child loaderChildResult
	got := false
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case bytes.HasPrefix(line, []byte("p ")):
			if n, err := strconv.ParseInt(string(line[2:]), 10, 64); err == nil && spec.progress != nil {
				spec.progress.Store(n)
			}
		case bytes.HasPrefix(line, []byte("r ")):
			if err := json.Unmarshal(line[2:], &child); err == nil {
				got = true
			}
		}
	}
	werr := cmd.Wait()
	var cpu time.Duration
	if cmd.ProcessState != nil {
		cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	res := child.Load
	res.Start, res.End = child.Start, child.End
	switch {
	case !got && werr != nil:
		return res, cpu, fmt.Errorf("loader child: %w", werr)
	case !got:
		return res, cpu, errors.New("loader child ended without a result")
	case child.Error != "":
		return res, cpu, errors.New(child.Error)
	}
	return res, cpu, nil
}
