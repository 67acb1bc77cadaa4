// Command ssbench measures sessionscope against a real Redis: how fast it ingests
// keyspace notifications under a write load that saturates Redis, how late its events
// arrive, how much memory a tracked session costs, and how much attaching it costs
// Redis. It starts its own redis-server on a free loopback port and never touches any
// other Redis.
//
//	go run ./ui/ssbench -out docs/bench/ingest.json
//	go run ./ui/ssbench -quick
//
// It prints a Markdown table and writes the raw numbers as JSON to -out.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// config is every flag, with its default.
type config struct {
	N          int           `json:"n"`             // SETEX writes per load run
	Keys       int           `json:"keys"`          // sessions the writes spread over
	Payload    int           `json:"payload"`       // payload bytes
	MemKeys    int           `json:"mem_keys"`      // distinct sessions in the memory phase
	Conns      int           `json:"conns"`         // loader connections
	Pipeline   int           `json:"pipeline"`      // commands per loader pipeline
	Runs       int           `json:"runs"`          // impact runs per configuration
	SubCap     int           `json:"sub_cap"`       // subscriber queue capacity
	RBPipeline int           `json:"rb_pipeline"`   // redis-benchmark -P
	Nice       int           `json:"consumer_nice"` // nice value of the consumers in the impact phase
	Phases     string        `json:"phases"`
	Loader     string        `json:"loader"`                // resp or go-redis
	IngestRate float64       `json:"ingest_rate,omitempty"` // ingest phase: SETEX/s the loader is held to, 0 unpaced
	Timeout    time.Duration `json:"timeout_ns"`
	Out        string        `json:"-"`
	CPUProfile string        `json:"-"`
	MemProfile string        `json:"-"`
	RedisBin   string        `json:"-"`
	CLIBin     string        `json:"-"`
	RBBin      string        `json:"-"`
	Quick      bool          `json:"quick"`
	// Proxy phase.
	ProxyConns      []int         `json:"proxy_conns"`
	ProxyClients    []string      `json:"proxy_clients"`
	ProxyDur        time.Duration `json:"proxy_duration_ns"`
	ProxyPin        string        `json:"proxy_pin"`
	ProxyCPUProfile string        `json:"-"`
	// Analyze phase.
	HARMB           float64 `json:"har_mb"`
	SessionscopeBin string  `json:"-"`
	// Inventory phase.
	InvKeys       int     `json:"inventory_keys"`
	InvCPUProfile string  `json:"-"`
	InvScanRate   float64 `json:"inventory_scan_rate,omitempty"`
	// IngestHistory runs the ingest load twice, without and with a history file, to
	// record what history costs (issue 18).
	IngestHistory bool `json:"ingest_history,omitempty"`
	// IngestExport runs the ingest load twice, without and with an OTLP export to a
	// receiver process, to record what export costs.
	IngestExport bool `json:"ingest_export,omitempty"`
}

func main() {
	if spec := os.Getenv(loaderEnv); spec != "" { // the ingest phase's loader
		os.Exit(runLoaderChild(spec))
	}
	if role := os.Getenv(roleEnv); role != "" { // a child of the proxy phase
		os.Exit(runRole(role))
	}
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

func realMain(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "ssbench: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	res, err := run(ctx, cfg, stderr)
	if res != nil {
		writeMarkdown(stdout, res)
		if cfg.Out != "" {
			if werr := writeJSON(cfg.Out, res); werr != nil {
				fmt.Fprintf(stderr, "ssbench: %v\n", werr)
				return 1
			}
			fmt.Fprintf(stderr, "ssbench: raw results in %s\n", cfg.Out)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "ssbench: %v\n", err)
		return 1
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("ssbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&c.N, "n", 1_000_000, "SETEX writes per load run")
	fs.IntVar(&c.Keys, "keys", 100_000, "sessions the ingest writes spread over")
	fs.IntVar(&c.Payload, "payload", 500, "session payload size in bytes (php session format)")
	fs.IntVar(&c.MemKeys, "memkeys", 1_000_000, "distinct sessions created in the memory phase")
	fs.IntVar(&c.Conns, "conns", 3, "loader connections (concurrent pipelines)")
	fs.IntVar(&c.Pipeline, "pipeline", 1000, "SETEX per loader pipeline")
	fs.IntVar(&c.Runs, "runs", 3, "Redis-impact runs per configuration (median reported)")
	fs.IntVar(&c.SubCap, "subcap", 1<<16, "capacity of the benchmark subscriber's queue")
	fs.IntVar(&c.RBPipeline, "rb-pipeline", 16, "redis-benchmark -P")
	fs.Float64Var(&c.IngestRate, "ingest-rate", 0, "ingest phase: hold the loader (a child process) to this many SETEX/s; 0 for as fast as Redis takes them")
	fs.BoolVar(&c.IngestHistory, "ingest-history", false, "ingest phase: run the load twice, without and with a history file in a temp dir, and report what history costs")
	fs.BoolVar(&c.IngestExport, "ingest-export", false, "ingest phase: run the load twice, without and with an OTLP export to the Collector's receiver in a child process, and report what export costs")
	fs.StringVar(&c.Loader, "loader", "resp", "loader client: resp (hand-written RESP pipelines, cheapest) or go-redis")
	fs.IntVar(&c.Nice, "consumer-nice", 0, "impact phase: run the consumer (redis-cli, or this process with sessionscope) at this nice value, 0..19")
	fs.StringVar(&c.Phases, "phases", "ingest,memory,impact", "comma-separated phases to run: ingest, memory, impact")
	fs.DurationVar(&c.Timeout, "timeout", 15*time.Minute, "abort the whole run after this long")
	fs.StringVar(&c.Out, "out", "ssbench.json", "write raw results as JSON to this file (\"\" for none)")
	fs.StringVar(&c.CPUProfile, "cpuprofile", "", "write a CPU profile of the ingest phase to this file")
	fs.StringVar(&c.MemProfile, "memprofile", "", "write a heap profile at the end of the memory phase to this file")
	fs.StringVar(&c.RedisBin, "redis-server", "redis-server", "redis-server binary")
	fs.StringVar(&c.CLIBin, "redis-cli", "redis-cli", "redis-cli binary (the bare subscriber); \"\" to use none")
	fs.StringVar(&c.RBBin, "redis-benchmark", "redis-benchmark", "redis-benchmark binary; \"\" to skip its runs")
	fs.BoolVar(&c.Quick, "quick", false, "smoke run: -n 50000 -keys 10000 -memkeys 50000 -runs 1 -proxy-duration 1s unless set")
	proxyConns := fs.String("proxy-conns", "1,8,32,64", "proxy phase: concurrent connections of the load generator, comma-separated")
	proxyClientsFlag := fs.String("proxy-clients", strings.Join(proxyClients, ","), "proxy phase: load shapes, comma-separated: one (one address and User-Agent, a cookie per connection), nocookie (one client that never returns its cookie, as wrk), many (64 distinct clients)")
	fs.DurationVar(&c.ProxyDur, "proxy-duration", 1500*time.Millisecond, "proxy phase: measured length of each run (a quarter of it more is warm-up)")
	fs.StringVar(&c.ProxyPin, "proxy-pin", "none", "proxy phase: CPU layouts, comma-separated: none (all share every CPU), split (load generator and upstream on CPU 0, proxy on CPU 1)")
	fs.StringVar(&c.ProxyCPUProfile, "proxy-cpuprofile", "", "proxy phase: write a CPU profile of the proxy process (first layout) to this file")
	fs.Float64Var(&c.HARMB, "har-mb", 100, "analyze phase: size of the generated HAR in MB")
	fs.IntVar(&c.InvKeys, "inventory-keys", 1_000_000, "inventory phase: sessions in the store sessionscope inventories")
	fs.Float64Var(&c.InvScanRate, "inventory-scan-rate", 100_000, "inventory phase: also run sessionscope with this --scan-rate (keys/s); 0 to skip")
	fs.StringVar(&c.InvCPUProfile, "inventory-cpuprofile", "", "inventory phase: write a CPU profile of round 1's sessionscope to this file")
	fs.StringVar(&c.SessionscopeBin, "sessionscope", "", "analyze phase: the sessionscope binary to run (default: go build it)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if c.Quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		quick := map[string]func(){
			"n": func() { c.N = 50_000 }, "keys": func() { c.Keys = 10_000 },
			"memkeys": func() { c.MemKeys = 50_000 }, "runs": func() { c.Runs = 1 },
			"proxy-duration": func() { c.ProxyDur = time.Second },
			"inventory-keys": func() { c.InvKeys = 50_000 },
		}
		for name, apply := range quick {
			if !set[name] {
				apply()
			}
		}
	}
	switch {
	case c.N <= 0 || c.N > 100_000_000:
		return c, fmt.Errorf("-n %d: want 1..100000000", c.N)
	case c.Keys <= 0 || c.Keys > c.N:
		return c, fmt.Errorf("-keys %d: want 1..n (%d)", c.Keys, c.N)
	case c.MemKeys <= 0 || c.MemKeys > 20_000_000:
		return c, fmt.Errorf("-memkeys %d: want 1..20000000", c.MemKeys)
	case c.Payload < 64 || c.Payload > 1<<20:
		return c, fmt.Errorf("-payload %d: want 64..1048576", c.Payload)
	case c.Conns < 1 || c.Conns > 64:
		return c, fmt.Errorf("-conns %d: want 1..64", c.Conns)
	case c.Pipeline < 1 || c.Pipeline > 100_000:
		return c, fmt.Errorf("-pipeline %d: want 1..100000", c.Pipeline)
	case c.Runs < 1 || c.Runs > 20:
		return c, fmt.Errorf("-runs %d: want 1..20", c.Runs)
	case c.Loader != "resp" && c.Loader != "go-redis":
		return c, fmt.Errorf("-loader %q: want resp or go-redis", c.Loader)
	case c.Nice < 0 || c.Nice > 19:
		return c, fmt.Errorf("-consumer-nice %d: want 0..19", c.Nice)
	case c.SubCap < 1:
		return c, fmt.Errorf("-subcap %d: want > 0", c.SubCap)
	case c.InvKeys < 1 || c.InvKeys > 20_000_000:
		return c, fmt.Errorf("-inventory-keys %d: want 1..20000000", c.InvKeys)
	}
	for _, p := range strings.Split(c.Phases, ",") {
		switch strings.TrimSpace(p) {
		case "ingest", "memory", "impact", "proxy", "analyze", "inventory":
		default:
			return c, fmt.Errorf("-phases: unknown phase %q (want ingest, memory, impact, proxy, analyze, inventory)", p)
		}
	}
	for _, f := range strings.Split(*proxyClientsFlag, ",") {
		if f = strings.TrimSpace(f); !isProxyClients(f) {
			return c, fmt.Errorf("-proxy-clients %q: want some of %s", *proxyClientsFlag, strings.Join(proxyClients, ","))
		}
		c.ProxyClients = append(c.ProxyClients, f)
	}
	for _, f := range strings.Split(*proxyConns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 1024 {
			return c, fmt.Errorf("-proxy-conns %q: want numbers 1..1024", *proxyConns)
		}
		c.ProxyConns = append(c.ProxyConns, n)
	}
	if c.HARMB < 1 || c.HARMB > 10_000 {
		return c, fmt.Errorf("-har-mb %g: want 1..10000", c.HARMB)
	}
	if c.ProxyDur < 100*time.Millisecond {
		return c, fmt.Errorf("-proxy-duration %s: want at least 100ms", c.ProxyDur)
	}
	return c, nil
}

func (c config) phase(name string) bool {
	for _, p := range strings.Split(c.Phases, ",") {
		if strings.TrimSpace(p) == name {
			return true
		}
	}
	return false
}

// results is the JSON document ssbench writes.
type results struct {
	Machine   machine          `json:"machine"`
	Config    config           `json:"config"`
	Ingest    *ingestResult    `json:"ingest,omitempty"`
	Memory    *memoryResult    `json:"memory,omitempty"`
	Impact    *impactResult    `json:"impact,omitempty"`
	Proxy     *proxyResult     `json:"proxy,omitempty"`
	Analyze   *analyzeResult   `json:"analyze,omitempty"`
	Inventory *inventoryResult `json:"inventory,omitempty"`
	Errors    []string         `json:"errors,omitempty"`
	Elapsed   time.Duration    `json:"elapsed_ns"`

	// IngestHistory is the paired run of -ingest-history; Ingest is then its run without.
	IngestHistory *ingestHistoryResult `json:"ingest_history,omitempty"`
	// IngestExport is the paired run of -ingest-export; Ingest is then its run without.
	IngestExport *ingestExportResult `json:"ingest_export,omitempty"`
}

type machine struct {
	Date         string `json:"date"`
	CPUs         int    `json:"cpus"`
	GOMAXPROCS   int    `json:"gomaxprocs"`
	GoVersion    string `json:"go_version"`
	OS           string `json:"os"`
	RedisVersion string `json:"redis_version"`
	MemTotal     string `json:"mem_total"`
	PayloadBytes int    `json:"payload_bytes"`
	// SHA256MBps is single-core SHA-256 throughput at the start and at the end of the
	// run: on a shared virtual machine it shows how fast the CPU was that day.
	SHA256MBpsStart float64 `json:"sha256_mb_per_s_start"`
	SHA256MBpsEnd   float64 `json:"sha256_mb_per_s_end"`
	// MemLatencyNs is the time of one dependent random load over 64 MiB (cache misses),
	// at the start and at the end: Redis and the tracker's maps are bound by it.
	MemLatencyNsStart float64 `json:"mem_latency_ns_start"`
	MemLatencyNsEnd   float64 `json:"mem_latency_ns_end"`
}

func run(ctx context.Context, cfg config, log io.Writer) (*results, error) {
	began := time.Now()
	gen, err := newPayloadGen(cfg.Payload)
	if err != nil {
		return nil, err
	}
	srv, err := startRedis(ctx, cfg.RedisBin)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	res := &results{Config: cfg, Machine: machine{
		Date: time.Now().UTC().Format(time.RFC3339), CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH, RedisVersion: srv.version(ctx),
		MemTotal: memTotal(), PayloadBytes: gen.Size(), SHA256MBpsStart: cpuCalibration(),
		MemLatencyNsStart: memLatency(),
	}}
	fmt.Fprintf(log, "ssbench: redis-server %s on %s (pid %d), payload %d bytes\n", res.Machine.RedisVersion, srv.addr, srv.pid(), gen.Size())
	fail := func(phase string, err error) {
		res.Errors = append(res.Errors, phase+": "+err.Error())
		fmt.Fprintf(log, "ssbench: %s: %v\n", phase, err)
	}
	if cfg.phase("ingest") && cfg.IngestHistory && ctx.Err() == nil {
		fmt.Fprintf(log, "ssbench: ingest: %d SETEX over %d sessions, without and then with history\n", cfg.N, cfg.Keys)
		r, err := runIngestHistory(ctx, cfg, srv, gen, log)
		res.IngestHistory = r
		if r != nil {
			res.Ingest = r.Without
		}
		if err != nil {
			fail("ingest", err)
		}
	}
	if cfg.phase("ingest") && cfg.IngestExport && ctx.Err() == nil {
		fmt.Fprintf(log, "ssbench: ingest: %d SETEX over %d sessions, without and then with OTLP export\n", cfg.N, cfg.Keys)
		r, err := runIngestExport(ctx, cfg, srv, gen, log)
		res.IngestExport = r
		if r != nil && res.Ingest == nil {
			res.Ingest = r.Without
		}
		if err != nil {
			fail("ingest", err)
		}
	}
	if cfg.phase("ingest") && !cfg.IngestHistory && !cfg.IngestExport && ctx.Err() == nil {
		fmt.Fprintf(log, "ssbench: ingest: %d SETEX over %d sessions, sessionscope attached\n", cfg.N, cfg.Keys)
		r, err := runIngest(ctx, cfg, srv, gen, log)
		// Up to two more attempts when other processes took CPU during the load (the
		// results keep the attempts set aside in discarded_attempts).
		var discarded []ingestResult
		for attempt := 1; attempt < 3 && err == nil && r != nil && r.OtherCPU > noisyOtherCPU && ctx.Err() == nil; attempt++ {
			fmt.Fprintf(log, "ssbench: ingest: other processes used %.2f cores during the load; repeating\n", r.OtherCPU)
			d := *r
			d.Samples, d.Statuses = nil, nil
			discarded = append(discarded, d)
			r, err = runIngest(ctx, cfg, srv, gen, log)
		}
		if r != nil {
			r.DiscardedAttempts = discarded
		}
		res.Ingest = r
		if err != nil {
			fail("ingest", err)
		}
	}
	if cfg.phase("memory") && ctx.Err() == nil {
		fmt.Fprintf(log, "ssbench: memory: %d distinct sessions, payload cache disabled (PayloadCacheBytes=1)\n", cfg.MemKeys)
		r, err := runMemory(ctx, cfg, srv, gen, log)
		res.Memory = r
		if err != nil {
			fail("memory", err)
		}
	}
	if cfg.phase("impact") && ctx.Err() == nil {
		fmt.Fprintf(log, "ssbench: impact: %d runs per configuration, alternating\n", cfg.Runs)
		r, err := runImpact(ctx, cfg, srv, gen, log)
		res.Impact = r
		if err != nil {
			fail("impact", err)
		}
	}
	if cfg.phase("proxy") && ctx.Err() == nil {
		fmt.Fprintf(log, "ssbench: proxy: %d rounds of %s per configuration, connections %v, layouts %s\n", cfg.Runs, cfg.ProxyDur, cfg.ProxyConns, cfg.ProxyPin)
		r, err := runProxy(ctx, cfg, srv, log)
		res.Proxy = r
		if err != nil {
			fail("proxy", err)
		}
	}
	if cfg.phase("analyze") && ctx.Err() == nil {
		r, err := runAnalyze(ctx, cfg, log)
		res.Analyze = r
		if err != nil {
			fail("analyze", err)
		}
	}
	if cfg.phase("inventory") && ctx.Err() == nil {
		fmt.Fprintf(log, "ssbench: inventory: %d sessions, %d rounds of sessionscope and the name-only baselines\n", cfg.InvKeys, cfg.Runs)
		r, err := runInventory(ctx, cfg, srv, gen, log)
		res.Inventory = r
		if err != nil {
			fail("inventory", err)
		}
	}
	res.Machine.SHA256MBpsEnd = cpuCalibration()
	res.Machine.MemLatencyNsEnd = memLatency()
	res.Elapsed = time.Since(began)
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	if len(res.Errors) > 0 {
		return res, fmt.Errorf("%d phase(s) failed", len(res.Errors))
	}
	return res, nil
}

// cpuCalibration hashes 64 MiB with SHA-256 on one core and returns MB/s.
func cpuCalibration() float64 {
	buf := make([]byte, 1<<20)
	start := time.Now()
	var sum [32]byte
	for i := 0; i < 64; i++ {
		buf[0] = sum[0]
		sum = sha256.Sum256(buf)
	}
	return 64 * (1 << 20) / 1e6 / time.Since(start).Seconds()
}

// memLatency chases pointers through a random cycle over 64 MiB and returns the
// nanoseconds per step.
func memLatency() float64 {
	const n = 1 << 24 // 16M uint32
	next := make([]uint32, n)
	perm := make([]uint32, n)
	for i := range perm {
		perm[i] = uint32(i)
	}
	x := uint64(88172645463325252)
	for i := n - 1; i > 0; i-- { // Fisher-Yates with xorshift
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		j := int(x % uint64(i+1))
		perm[i], perm[j] = perm[j], perm[i]
	}
	for i := 0; i < n; i++ {
		next[perm[i]] = perm[(i+1)%n]
	}
	const steps = 4_000_000
	p := uint32(0)
	start := time.Now()
	for i := 0; i < steps; i++ {
		p = next[p]
	}
	el := time.Since(start)
	runtime.KeepAlive(p)
	return float64(el.Nanoseconds()) / steps
}

func memTotal() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return ""
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.Join(strings.Fields(strings.TrimPrefix(line, "MemTotal:")), " ")
}

func writeJSON(path string, res *results) error {
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// lookPath returns the binary's path, or "" when it is not installed.
func lookPath(bin string) string {
	if bin == "" {
		return ""
	}
	p, err := exec.LookPath(bin)
	if err != nil {
		return ""
	}
	return p
}
