package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/backend/redisstore"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/tracker"
)

// The inventory phase (issue 6, "Benchmarks"): how long sessionscope takes to list a
// store of a million sessions with their TTL and size, against two clients that only
// list names, and what it does to Redis' latency meanwhile. sessionscope runs in a
// child process (this binary again, role "inventory") so that its peak RSS is its own,
// not the loader's or the previous phases'.
const (
	roleInventory  = "inventory"
	invKeysEnv     = "SSBENCH_INV_KEYS"        // inventory role: sessions the store holds
	invPayloadEnv  = "SSBENCH_INV_PAYLOAD"     // inventory role: their payload size
	invProfileEnv  = "SSBENCH_INV_CPU"         // inventory role: write a CPU profile here
	invRateEnv     = "SSBENCH_INV_SCAN_RATE"   // inventory role: --scan-rate, 0 none
	invHeapEnv     = "SSBENCH_INV_HEAP"        // inventory role: write a heap profile here once the table is complete
	invSampleEvery = 1000                      // inventory role: check every 1000th session
	pingInterval   = 10 * time.Millisecond     // latency probe: one PING every 10 ms
	idleProbe      = 3 * time.Second           // latency probe before any inventory
	invRoleTimeout = 10 * time.Minute          // inventory role: give up after this long
	scanPattern    = sessionPrefix + "*"       // the baselines' MATCH pattern
	bareScanCount  = 1000                      // the bare loop's COUNT, as sessionscope's default
	invRedisRead   = 30 * time.Second          // read timeout of the probe and bare clients
	invLoadTimeout = 10 * time.Minute          // the load of the keys
	invCLITimeout  = 5 * time.Minute           // one redis-cli --scan run
	invSettleLimit = 30 * time.Second          // session table catching up with the done status
	invChildStderr = 4096                      // bytes of a failed child's stderr kept
	invLabelIdle   = "idle"                    // latency label before any inventory
	invLabelSS     = "sessionscope"            // runner names, also latency labels
	invLabelBare   = "go-redis SCAN loop"      //
	invLabelCLI    = "redis-cli --scan, wc -l" //
	invLabelMeta   = "go-redis SCAN + PTTL/STRLEN loop"
	invLabelPaced  = "sessionscope --scan-rate"
	listedSuffix   = ", phase one: listed" // summary rows timed to phase one's end
	metaWorkers    = 2                     // the TTL/size loop's concurrent pipelines, as sessionscope's inventory
)

// invRoleResult is what the child prints: one JSON line.
type invRoleResult struct {
	ListedNs     int64  `json:"listed_ns"`      // Open to the status saying phase one listed every session
	ListedCount  int    `json:"listed_tracked"` // sessions in the table when that status arrived
	DoneNs       int64  `json:"done_ns"`        // Open to the status with inventory.done (phase two done)
	TableNs      int64  `json:"table_ns"`       // Open to the session table holding every session
	Scanned      int64  `json:"scanned"`        // keys the SCAN walked (from the done status)
	Sessions     int64  `json:"sessions"`       // sessions the inventory reported
	Tracked      int    `json:"tracked"`        // sessions in the table
	PeakRSS      int64  `json:"peak_rss_bytes"` // VmHWM when the table was complete
	RSS          int64  `json:"rss_bytes"`
	HeapInuse    uint64 `json:"heap_inuse_bytes"`
	Checked      int    `json:"checked"`        // sampled sessions looked up by ref
	WithTTL      int    `json:"with_ttl"`       // of them, with an expiry in (now, now+1440 s]
	WithSize     int    `json:"with_size"`      // of them, with Size == the payload size
	FromInv      int    `json:"from_inventory"` // of them, marked as found by the inventory
	ProgressRows int    `json:"progress_statuses"`
	Unread       int    `json:"ttl_size_unread"` // sampled sessions still marked TTL/size not read after done
}

type invRun struct {
	Tool      string         `json:"tool"`
	Round     int            `json:"round"`
	Elapsed   time.Duration  `json:"elapsed_ns"`
	Listed    time.Duration  `json:"listed_ns,omitempty"` // sessionscope: phase one done (every session listed)
	Keys      int64          `json:"keys"`
	RedisCPU  float64        `json:"redis_cpu_busy"` // fraction of one core redis-server used
	ClientCPU time.Duration  `json:"client_cpu_ns"`  // CPU of the child (sessionscope, redis-cli + wc); 0 for the in-process loop
	SS        *invRoleResult `json:"sessionscope,omitempty"`
	Latency   latency        `json:"ping_latency"` // PINGs during this run
}

type invSummary struct {
	Tool     string  `json:"tool"`
	MinS     float64 `json:"min_s"`
	MedianS  float64 `json:"median_s"`
	KeysPerS float64 `json:"keys_per_s_median"`
	RatioMed float64 `json:"ratio_to_bare_median"`
	RatioMin float64 `json:"ratio_to_bare_min"`
	// FloorMed and FloorMin are the ratios to the SCAN + PTTL/STRLEN loop, the floor of
	// reading every TTL and size.
	FloorMed  float64 `json:"ratio_to_floor_median"`
	FloorMin  float64 `json:"ratio_to_floor_min"`
	Latency   latency `json:"ping_latency"` // PINGs during all its runs
	RedisBusy float64 `json:"redis_cpu_busy_median"`
}

type inventoryResult struct {
	Keys         int            `json:"keys"`
	PayloadBytes int            `json:"payload_bytes"`
	Load         loadResult     `json:"load"`
	DBSize       int64          `json:"dbsize"`
	UsedMemory   int64          `json:"redis_used_memory"`
	Runs         []invRun       `json:"runs"`
	Summaries    []invSummary   `json:"summaries"`
	IdleLatency  latency        `json:"ping_latency_idle"`
	Impact       []invImpactRun `json:"redis_benchmark_during_inventory,omitempty"`
	Profile      string         `json:"cpu_profile,omitempty"`
	Steal        float64        `json:"steal"`
	Elapsed      time.Duration  `json:"elapsed_ns"`
	TTLSizeCheck bool           `json:"ttl_size_check"` // every sampled session carried TTL and size, in every run
}

// pingProbe sends one PING every pingInterval on its own connection and files each
// round trip under the label current when it was sent: redis-cli --latency, in Go.
type pingProbe struct {
	client *redis.Client
	mu     sync.Mutex
	label  string
	byLbl  map[string][]time.Duration
	stop   chan struct{}
	done   chan struct{}
}

func startPingProbe(addr string) *pingProbe {
	p := &pingProbe{
		client: redis.NewClient(&redis.Options{Addr: addr, PoolSize: 1, ReadTimeout: invRedisRead}),
		byLbl:  map[string][]time.Duration{}, stop: make(chan struct{}), done: make(chan struct{}),
	}
	go func() {
		defer close(p.done)
		t := time.NewTicker(pingInterval)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
			}
			p.mu.Lock()
			lbl := p.label
			p.mu.Unlock()
			t0 := time.Now()
			err := p.client.Ping(context.Background()).Err()
			d := time.Since(t0)
			if err != nil || lbl == "" {
				continue
			}
			p.mu.Lock()
			p.byLbl[lbl] = append(p.byLbl[lbl], d)
			p.mu.Unlock()
		}
	}()
	return p
}

// mark files the following PINGs under lbl ("" files none) and returns how many the
// label already holds, so a run can take its own slice.
func (p *pingProbe) mark(lbl string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.label = lbl
	return len(p.byLbl[lbl])
}

func (p *pingProbe) since(lbl string, from int) []time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]time.Duration(nil), p.byLbl[lbl][from:]...)
}

func (p *pingProbe) close() {
	close(p.stop)
	<-p.done
	_ = p.client.Close()
}

func runInventory(ctx context.Context, cfg config, srv *redisServer, gen *payloadGen, log io.Writer) (*inventoryResult, error) {
	began := time.Now()
	_, _, steal0 := cpuTimes()
	total0, _, _ := cpuTimes()
	res := &inventoryResult{Keys: cfg.InvKeys, PayloadBytes: gen.Size(), TTLSizeCheck: true}
	if err := srv.flush(ctx); err != nil {
		return nil, fmt.Errorf("flush before the load: %w", err)
	}
	fmt.Fprintf(log, "ssbench: inventory: loading %d sessions (pipelined SETEX, %d connections)\n", cfg.InvKeys, cfg.Conns)
	ld, err := runLoad(ctx, loadSpec{addr: srv.addr, n: cfg.InvKeys, conns: cfg.Conns, pipeline: cfg.Pipeline,
		gen: gen, keyOf: distinctKeys, timeout: invLoadTimeout}, srv.pid())
	res.Load = ld
	if err != nil {
		return res, err
	}
	res.DBSize, _ = srv.client.DBSize(ctx).Result()
	res.UsedMemory = srv.usedMemory(ctx)
	if res.DBSize != int64(cfg.InvKeys) {
		return res, fmt.Errorf("after the load Redis holds %d keys, want %d", res.DBSize, cfg.InvKeys)
	}
	fmt.Fprintf(log, "ssbench: inventory: loaded in %.1f s (%.0f SETEX/s), used_memory %s\n", ld.Elapsed.Seconds(), ld.PerSec, mib(float64(res.UsedMemory)))
	exe, err := os.Executable()
	if err != nil {
		return res, fmt.Errorf("find ssbench's own binary for the sessionscope child: %w", err)
	}
	cli := lookPath(cfg.CLIBin)

	probe := startPingProbe(srv.addr)
	defer probe.close()
	_ = probe.client.Ping(ctx).Err() // dial outside the measurement
	probe.mark(invLabelIdle)
	select {
	case <-time.After(idleProbe):
	case <-ctx.Done():
		return res, ctx.Err()
	}
	probe.mark("")
	res.IdleLatency = summarize(probe.since(invLabelIdle, 0))

	type runner struct {
		name string
		fn   func(round int) (invRun, error)
	}
	runners := []runner{
		{invLabelSS, func(round int) (invRun, error) {
			prof := ""
			if round == 0 && cfg.InvCPUProfile != "" {
				prof = cfg.InvCPUProfile
				res.Profile = prof
			}
			return runInventoryChild(ctx, exe, srv, cfg.InvKeys, gen.Size(), prof, 0)
		}},
		{invLabelBare, func(int) (invRun, error) { return runBareScan(ctx, srv) }},
		{invLabelMeta, func(int) (invRun, error) { return runMetaScan(ctx, srv) }},
	}
	if cfg.InvScanRate > 0 {
		runners = append(runners, runner{invLabelPaced, func(int) (invRun, error) {
			return runInventoryChild(ctx, exe, srv, cfg.InvKeys, gen.Size(), "", cfg.InvScanRate)
		}})
	}
	if cli != "" {
		runners = append(runners, runner{invLabelCLI, func(int) (invRun, error) { return runCLIScan(ctx, cli, srv) }})
	} else {
		fmt.Fprintf(log, "ssbench: inventory: %s not found; skipping the redis-cli --scan baseline\n", cfg.CLIBin)
	}
	for round := 0; round < cfg.Runs; round++ {
		for i := range runners {
			r := runners[(i+round)%len(runners)] // rotate the order every round
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			from := probe.mark(r.name)
			cpu0 := procCPU(srv.pid())
			run, err := r.fn(round)
			probe.mark("")
			if err != nil {
				return res, fmt.Errorf("%s, round %d: %w", r.name, round+1, err)
			}
			run.Tool, run.Round = r.name, round+1
			if run.Elapsed > 0 {
				run.RedisCPU = float64(procCPU(srv.pid())-cpu0) / float64(run.Elapsed)
			}
			run.Latency = summarize(probe.since(r.name, from))
			if run.Keys != int64(cfg.InvKeys) {
				return res, fmt.Errorf("%s, round %d: listed %d sessions, want %d", r.name, round+1, run.Keys, cfg.InvKeys)
			}
			if s := run.SS; s != nil && (s.Checked == 0 || s.WithTTL != s.Checked || s.WithSize != s.Checked || s.Unread != 0) {
				res.TTLSizeCheck = false
			}
			res.Runs = append(res.Runs, run)
			fmt.Fprintf(log, "ssbench: inventory: round %d %s: %.2f s, %d keys, PING p50/p99 %.2f/%.2f ms\n",
				round+1, r.name, run.Elapsed.Seconds(), run.Keys, run.Latency.P50, run.Latency.P99)
		}
	}
	res.Summaries = summarizeInventory(res.Runs, probe)
	if rb := lookPath(cfg.RBBin); rb != "" && cli != "" {
		res.Impact = runInventoryImpact(ctx, cfg, rb, cli, exe, srv, cfg.InvKeys, gen.Size(), log)
	} else {
		fmt.Fprintf(log, "ssbench: inventory: redis-benchmark or redis-cli not found; skipping the throughput during the inventory\n")
	}
	_, _, steal1 := cpuTimes()
	total1, _, _ := cpuTimes()
	if total1 > total0 {
		res.Steal = float64(steal1-steal0) / float64(total1-total0)
	}
	res.Elapsed = time.Since(began)
	if !res.TTLSizeCheck {
		return res, errors.New("some inventoried sessions lacked their TTL or size (see sessionscope.checked/with_ttl/with_size)")
	}
	return res, nil
}

// summarizeInventory makes one row per client, and for sessionscope two: phase one
// (every session listed) against the bare SCAN loop, and phase two (every TTL and size
// read, inventory.done) against the SCAN + PTTL/STRLEN floor.
func summarizeInventory(runs []invRun, probe *pingProbe) []invSummary {
	var out []invSummary
	var bareMed, bareMin, floorMed, floorMin float64
	rows := []string{invLabelBare, invLabelMeta, invLabelSS + listedSuffix, invLabelSS,
		invLabelPaced + listedSuffix, invLabelPaced, invLabelCLI}
	for _, name := range rows {
		tool, listed := strings.CutSuffix(name, listedSuffix)
		var secs, busy []float64
		var keys int64
		for _, r := range runs {
			if r.Tool != tool {
				continue
			}
			el := r.Elapsed
			if listed {
				el = r.Listed
			}
			secs = append(secs, el.Seconds())
			busy = append(busy, r.RedisCPU)
			keys = r.Keys
		}
		if len(secs) == 0 || minOf(secs) <= 0 {
			continue
		}
		s := invSummary{Tool: name, MinS: minOf(secs), MedianS: median(secs), RedisBusy: median(busy),
			Latency: summarize(probe.since(tool, 0))}
		s.KeysPerS = float64(keys) / s.MedianS
		switch name {
		case invLabelBare:
			bareMed, bareMin = s.MedianS, s.MinS
		case invLabelMeta:
			floorMed, floorMin = s.MedianS, s.MinS
		}
		if bareMed > 0 {
			s.RatioMed, s.RatioMin = s.MedianS/bareMed, s.MinS/bareMin
		}
		if floorMed > 0 {
			s.FloorMed, s.FloorMin = s.MedianS/floorMed, s.MinS/floorMin
		}
		out = append(out, s)
	}
	return out
}

func minOf(v []float64) float64 {
	m := v[0]
	for _, x := range v[1:] {
		m = min(m, x)
	}
	return m
}

// runBareScan is the floor: a go-redis loop of SCAN MATCH PHPREDIS_SESSION:* COUNT 1000
// until the cursor is 0, counting names and reading nothing else.
func runBareScan(ctx context.Context, srv *redisServer) (invRun, error) {
	c := redis.NewClient(&redis.Options{Addr: srv.addr, PoolSize: 1, ReadTimeout: invRedisRead})
	defer c.Close()
	start := time.Now()
	var cursor uint64
	var n int64
	for {
		keys, next, err := c.Scan(ctx, cursor, scanPattern, bareScanCount).Result()
		if err != nil {
			return invRun{}, fmt.Errorf("scan: %w", err)
		}
		n += int64(len(keys))
		if cursor = next; cursor == 0 {
			break
		}
	}
	return invRun{Elapsed: time.Since(start), Keys: n}, nil
}

// runMetaScan is the floor for what sessionscope reads: the bare loop plus PTTL and
// STRLEN of every key, pipelined per SCAN page on metaWorkers connections while the
// next page is scanned, and nothing kept. The gap between it and the bare loop is
// Redis answering two commands per key; the gap between it and sessionscope is
// sessionscope's own work (matching, the table, the rules).
func runMetaScan(ctx context.Context, srv *redisServer) (invRun, error) {
	c := redis.NewClient(&redis.Options{Addr: srv.addr, PoolSize: metaWorkers + 1, ReadTimeout: invRedisRead})
	defer c.Close()
	start := time.Now()
	pages := make(chan []string, 4)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		read    int64
		readErr error
	)
	for w := 0; w < metaWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for keys := range pages {
				ttls := make([]*redis.DurationCmd, len(keys))
				sizes := make([]*redis.IntCmd, len(keys))
				_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
					for i, k := range keys {
						ttls[i], sizes[i] = p.PTTL(ctx, k), p.StrLen(ctx, k)
					}
					return nil
				})
				n := 0
				for i := range keys {
					if ttls[i].Val() > 0 && sizes[i].Val() > 0 {
						n++
					}
				}
				mu.Lock()
				read += int64(n)
				if err != nil && readErr == nil {
					readErr = err
				}
				mu.Unlock()
			}
		}()
	}
	var cursor uint64
	var scanErr error
	for {
		keys, next, err := c.Scan(ctx, cursor, scanPattern, bareScanCount).Result()
		if err != nil {
			scanErr = fmt.Errorf("scan: %w", err)
			break
		}
		pages <- keys
		if cursor = next; cursor == 0 {
			break
		}
	}
	close(pages)
	wg.Wait()
	if scanErr != nil {
		return invRun{}, scanErr
	}
	if readErr != nil {
		return invRun{}, fmt.Errorf("PTTL/STRLEN pipeline: %w", readErr)
	}
	return invRun{Elapsed: time.Since(start), Keys: read}, nil
}

// runCLIScan runs `redis-cli --scan --pattern 'PHPREDIS_SESSION:*' | wc -l` as a user
// would type it (redis-cli's own default COUNT).
func runCLIScan(ctx context.Context, cli string, srv *redisServer) (invRun, error) {
	ctx, cancel := context.WithTimeout(ctx, invCLITimeout)
	defer cancel()
	script := fmt.Sprintf("%s -h 127.0.0.1 -p %d --scan --pattern '%s' | wc -l", cli, srv.port, scanPattern)
	cmd := exec.CommandContext(ctx, "sh", "-c", script)
	setChildAttrs(cmd)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	el := time.Since(start)
	if err != nil {
		return invRun{}, fmt.Errorf("%s: %w: %s", script, err, tailBytes(errb.Bytes(), 300))
	}
	n, err := strconv.ParseInt(strings.TrimSpace(out.String()), 10, 64)
	if err != nil {
		return invRun{}, fmt.Errorf("%s: unexpected output %q", script, out.String())
	}
	var cpu time.Duration
	if ps := cmd.ProcessState; ps != nil {
		cpu = ps.UserTime() + ps.SystemTime() // sh waits for both, so their CPU is in its children's usage
	}
	return invRun{Elapsed: el, Keys: n, ClientCPU: cpu}, nil
}

// runInventoryChild runs sessionscope's inventory in a child process and returns what
// it measured itself (from Open to inventory.done, and its peak RSS).
func runInventoryChild(ctx context.Context, exe string, srv *redisServer, keys, payload int, profile string, scanRate float64) (invRun, error) {
	ctx, cancel := context.WithTimeout(ctx, invRoleTimeout+time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), roleEnv+"="+roleInventory, redisEnv+"="+srv.URL(),
		invKeysEnv+"="+strconv.Itoa(keys), invPayloadEnv+"="+strconv.Itoa(payload), invProfileEnv+"="+profile, invRateEnv+"="+strconv.FormatFloat(scanRate, 'f', -1, 64))
	setChildAttrs(cmd)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return invRun{}, fmt.Errorf("sessionscope child: %w: %s", err, tailBytes(errb.Bytes(), invChildStderr))
	}
	var r invRoleResult
	if err := json.Unmarshal(bytes.TrimSpace(out.Bytes()), &r); err != nil {
		return invRun{}, fmt.Errorf("sessionscope child: unreadable result %q: %w", tailBytes(out.Bytes(), 300), err)
	}
	run := invRun{Elapsed: time.Duration(r.DoneNs), Listed: time.Duration(r.ListedNs), Keys: r.Sessions, SS: &r}
	if ps := cmd.ProcessState; ps != nil {
		run.ClientCPU = ps.UserTime() + ps.SystemTime()
	}
	return run, nil
}

// runInventoryRole is the child: sessionscope attached as watch wires it (Open with the
// built-in prefix table, inspector.New with the default tracker config, one subscriber
// draining the stream), timed from Open to the status saying the inventory is done.
func runInventoryRole() error {
	url := os.Getenv(redisEnv)
	keys, _ := strconv.Atoi(os.Getenv(invKeysEnv))
	payload, _ := strconv.Atoi(os.Getenv(invPayloadEnv))
	if url == "" || keys <= 0 || payload <= 0 {
		return fmt.Errorf("%s, %s and %s must be set", redisEnv, invKeysEnv, invPayloadEnv)
	}
	if p := os.Getenv(invProfileEnv); p != "" {
		f, err := os.Create(p)
		if err != nil {
			return fmt.Errorf("create CPU profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("start CPU profile: %w", err)
		}
		defer pprof.StopCPUProfile() // idempotent; stopped before the checks below
	}
	ctx, cancel := context.WithTimeout(context.Background(), invRoleTimeout)
	defer cancel()
	start := time.Now()
	matcher := framework.NewMatcher(framework.Builtin())
	scanRate, _ := strconv.ParseFloat(os.Getenv(invRateEnv), 64)
	store, err := redisstore.Open(ctx, redisstore.Config{URL: url, Matcher: matcher, ScanRate: scanRate})
	if err != nil {
		return err
	}
	defer store.Close()
	in := inspector.New(store, inspector.Config{Tracker: tracker.Config{Matcher: matcher}})
	sub := in.Subscribe(1 << 16)
	done := make(chan *model.Inventory, 1)
	var listed struct {
		sync.Mutex
		ns      int64
		tracked int
	}
	progress := 0
	go func() {
		closed := false
		for o := range sub.C() {
			st, ok := o.(*model.Status)
			if !ok || st.Inventory == nil || closed {
				continue
			}
			listed.Lock()
			if listed.ns == 0 && st.Inventory.ListedAt != nil {
				// Phase one is done when the status says so: the tracker took every
				// listed page before passing that status on.
				listed.ns, listed.tracked = int64(time.Since(start)), in.SessionCount()
			}
			listed.Unlock()
			if st.Inventory.Done {
				closed = true
				done <- st.Inventory
			} else {
				progress++
			}
		}
	}()
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	runErr := make(chan error, 1)
	go func() { runErr <- in.Run(runCtx) }()
	var inv *model.Inventory
	select {
	case inv = <-done:
	case err := <-runErr:
		return fmt.Errorf("sessionscope stopped before its inventory was done: %v", err)
	case <-ctx.Done():
		return fmt.Errorf("inventory not done within %s", invRoleTimeout)
	}
	r := invRoleResult{DoneNs: int64(time.Since(start)), Scanned: inv.Scanned, Sessions: inv.Sessions}
	listed.Lock()
	r.ListedNs, r.ListedCount = listed.ns, listed.tracked
	listed.Unlock()
	// The done status and the last inventory page travel apart; wait (bounded) until the
	// table holds them all, so the peak RSS is the complete table's.
	deadline := time.Now().Add(invSettleLimit)
	for in.SessionCount() < keys && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	r.TableNs = int64(time.Since(start))
	r.Tracked = in.SessionCount()
	pprof.StopCPUProfile()
	r.RSS, r.PeakRSS = selfRSS()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	r.HeapInuse = ms.HeapInuse
	if p := os.Getenv(invHeapEnv); p != "" {
		if err := writeHeapProfile(p); err != nil {
			return err
		}
	}
	r.ProgressRows = progress

	// Every inventoried session must carry its TTL (SETEX 1440) and size (the payload):
	// look up every invSampleEvery-th one by ref.
	now := time.Now()
	buf := make([]byte, keyLen)
	for k := 0; k < keys; k += invSampleEvery {
		appendKey(buf, uint64(k))
		d, err := in.Session(model.Ref(string(buf[len(sessionPrefix):])))
		if err != nil {
			continue
		}
		r.Checked++
		if !d.Row.NoTTL && d.Row.ExpiresAt.After(now) && !d.Row.ExpiresAt.After(now.Add(1440*time.Second)) {
			r.WithTTL++
		}
		if d.Row.Size == payload {
			r.WithSize++
		}
		if d.Row.Inventory {
			r.FromInv++
		}
		if d.Row.MetaUnread {
			r.Unread++
		}
	}
	stopRun()
	if err := <-runErr; err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	sub.Cancel()
	return json.NewEncoder(os.Stdout).Encode(r)
}

// writeHeapProfile writes the live heap (after a GC) to path, to see where a complete
// table's memory goes.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create heap profile: %w", err)
	}
	defer f.Close()
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		return fmt.Errorf("write heap profile: %w", err)
	}
	return nil
}

func writeInventoryMarkdown(w io.Writer, r *inventoryResult, cfg config) {
	fmt.Fprintf(w, "### Inventory of %d sessions (%d-byte PHP payloads, SETEX 1440): sessionscope vs name-only listing (%d rounds, order rotated)\n\n", r.Keys, r.PayloadBytes, cfg.Runs)
	fmt.Fprintf(w, "Load (not part of the result): %d pipelined SETEX in %.1f s (%.0f/s); Redis used_memory %s.\n\n", r.Load.Writes, r.Load.Elapsed.Seconds(), r.Load.PerSec, mib(float64(r.UsedMemory)))
	fmt.Fprintf(w, "| client | what it reads | min | median | keys/s (median) | ratio to bare loop (median / min) | ratio to TTL/size floor (median / min) | target | redis-server CPU | PING p50 / p99 / max during |\n|---|---|---|---|---|---|---|---|---|---|\n")
	what := map[string]string{
		invLabelBare:                 "names (SCAN MATCH COUNT 1000)",
		invLabelMeta:                 "names + PTTL + STRLEN (2 pipelines), no table: the TTL/size floor",
		invLabelSS + listedSuffix:    "Open to every session listed (ref, framework, node) in the table",
		invLabelSS:                   "Open to every TTL and size read (inventory.done)",
		invLabelPaced + listedSuffix: fmt.Sprintf("the same at --scan-rate %.0f keys/s", cfg.InvScanRate),
		invLabelPaced:                fmt.Sprintf("the same at --scan-rate %.0f keys/s", cfg.InvScanRate),
		invLabelCLI:                  "names (redis-cli default COUNT 10)",
	}
	for _, s := range r.Summaries {
		target := ""
		switch s.Tool {
		case invLabelSS + listedSuffix:
			target = "<= 1.5 to bare (" + passFail(s.RatioMed <= 1.5) + ")"
		case invLabelSS:
			target = "<= 1.2 to floor (" + passFail(s.FloorMed <= 1.2) + ")"
		}
		fmt.Fprintf(w, "| %s | %s | %.2f s | %.2f s | %.0f | %.2f / %.2f | %.2f / %.2f | %s | %.0f%% | %.2f / %.2f / %.2f ms |\n", s.Tool, what[s.Tool], s.MinS, s.MedianS, s.KeysPerS,
			s.RatioMed, s.RatioMin, s.FloorMed, s.FloorMin, target, 100*s.RedisBusy, s.Latency.P50, s.Latency.P99, s.Latency.Max)
	}
	fmt.Fprintf(w, "\nRedis PING round trip (one every %s on its own connection), idle before any inventory: p50 %.2f ms, p99 %.2f ms, max %.2f ms (%d PINGs).\n\n",
		pingInterval, r.IdleLatency.P50, r.IdleLatency.P99, r.IdleLatency.Max, r.IdleLatency.Count)
	fmt.Fprintf(w, "| sessionscope run | Open to phase one done (in the table then) | Open to inventory.done | to table complete | sessions / tracked | peak RSS (target <= 300 MB) | sampled with TTL / size / inventory flag | CPU | PING p50 / p99 |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, run := range r.Runs {
		s := run.SS
		if s == nil {
			continue
		}
		fmt.Fprintf(w, "| %s, round %d | %.2f s (%d) | %.2f s | %.2f s | %d / %d | %s (%s) | %d / %d / %d of %d | %.2f s | %.2f / %.2f ms |\n", run.Tool, run.Round,
			float64(s.ListedNs)/1e9, s.ListedCount, float64(s.DoneNs)/1e9, float64(s.TableNs)/1e9,
			s.Sessions, s.Tracked, mib(float64(s.PeakRSS)), passFail(s.PeakRSS <= 300e6), s.WithTTL, s.WithSize, s.FromInv, s.Checked, run.ClientCPU.Seconds(), run.Latency.P50, run.Latency.P99)
	}
	fmt.Fprintln(w)
	writeInventoryImpactMarkdown(w, r.Impact)
	fmt.Fprintf(w, "CPU stolen by the hypervisor during the phase: %.1f%%.", 100*r.Steal)
	if r.Profile != "" {
		fmt.Fprintf(w, " CPU profile of round 1's sessionscope: `%s`.", r.Profile)
	}
	fmt.Fprintf(w, "\n\n")
}
