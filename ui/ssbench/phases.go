package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"sync/atomic"
	"time"

	"github.com/sessionscope/sessionscope/inspector/export"
	"github.com/sessionscope/sessionscope/inspector/history"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/tracker"
)

// defaultBudget and defaultBurst are the tracker's read budget defaults (1000 reads/s,
// burst of one second's worth).
const (
	defaultBudget = 1000.0
	defaultBurst  = 1000.0
)

type ingestResult struct {
	Load        loadResult       `json:"load"`
	ExpectedRaw int64            `json:"expected_notifications"` // set + expire per SETEX, plus one new per session created
	Processed   int64            `json:"processed_notifications"`
	RawPerSec   float64          `json:"notifications_per_s"` // from load start until the last one was taken in
	RawPeak1s   float64          `json:"notifications_peak_1s_per_s"`
	RawDoneS    float64          `json:"notifications_done_s"` // since load start
	Emitted     int64            `json:"events_emitted"`
	Received    int64            `json:"events_received"`
	Kinds       map[string]int64 `json:"kinds"`
	DroppedRaw  int64            `json:"dropped_queue"`      // Stats().Dropped: raw queue overflow
	DroppedSub  int64            `json:"dropped_subscriber"` // Subscription.Dropped()
	Gaps        int64            `json:"gaps"`
	HubGaps     int64            `json:"hub_gaps"`
	Lost        int64            `json:"lost_unaccounted"` // expected - processed at the end
	DoneS       float64          `json:"processed_all_s"`  // load start -> last event received
	CatchUpS    float64          `json:"catch_up_s"`       // load end -> last event received
	Lag         latency          `json:"lag"`              // received - event.Time - window
	Reads       int64            `json:"reads"`
	Denied      int64            `json:"budget_denied"`
	ReadsPerSec float64          `json:"reads_per_s"`
	ReadBound   float64          `json:"read_bound"` // burst + budget * elapsed
	WithinBudg  bool             `json:"reads_within_budget"`
	AttachedS   float64          `json:"attached_s"`
	Sessions    int              `json:"sessions"`
	GoCPUBusy   float64          `json:"ssbench_cpu_busy"` // cores used by this process: sessionscope (the loader is a child process)
	// SSCPUPerM is the CPU seconds ssbench's process (sessionscope and the benchmark's
	// subscriber) used per million notifications taken in, load start until done.
	SSCPUPerM float64 `json:"sessionscope_cpu_s_per_m_notifications"`
	// LoaderCPU is the CPU seconds the loader child used.
	LoaderCPU   float64 `json:"loader_cpu_s"`
	RedisCPU    float64 `json:"redis_cpu_busy_until_done"`
	PeakHeap    uint64  `json:"peak_heap_bytes"`
	PeakRSS     int64   `json:"peak_rss_bytes"`
	Steal       float64 `json:"cpu_steal"` // share of the machine's CPU time the hypervisor stole
	BufferKills int     `json:"redis_output_buffer_kills"`
	MachineBusy float64 `json:"machine_busy_cores"`  // every process, load start until done
	OtherCPU    float64 `json:"other_processes_cpu"` // machine busy minus ssbench and redis-server
	QuietBefore float64 `json:"other_processes_cpu_before"`
	// DiscardedAttempts are attempts set aside because other processes were busy.
	DiscardedAttempts []ingestResult `json:"discarded_attempts,omitempty"`
	Statuses          []string       `json:"statuses"`
	Samples           []sample       `json:"samples"`
}

func runIngest(ctx context.Context, cfg config, srv *redisServer, gen *payloadGen, log io.Writer) (*ingestResult, error) {
	return runIngestWith(ctx, cfg, srv, gen, log, archiveSinks{})
}

// archiveSinks are the durable sinks a run hands what sessionscope publishes to, as
// --history and --otlp-endpoint do; nil fields are off.
type archiveSinks struct {
	history *history.Store
	export  *export.Exporter
}

// runIngestWith is runIngest with sinks recording what sessionscope publishes.
func runIngestWith(ctx context.Context, cfg config, srv *redisServer, gen *payloadGen, log io.Writer, sinks archiveSinks) (*ingestResult, error) {
	if err := srv.flush(ctx); err != nil {
		return nil, err
	}
	runtime.GC()
	a, err := attach(ctx, srv.URL(), attachOptions{subCap: cfg.SubCap, lagCap: cfg.N + cfg.Keys + 1024, invTimeout: 30 * time.Second, sinks: sinks})
	if err != nil {
		return nil, err
	}
	defer a.stop()
	keyOf := randomKeys(cfg.Keys)
	r := &ingestResult{ExpectedRaw: 2*int64(cfg.N) + countDistinct(cfg.N, cfg.Keys, keyOf)}
	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
		defer pprof.StopCPUProfile()
	}
	r.QuietBefore = waitQuiet(20*time.Second, 0.15, srv.pid())
	var written atomic.Int64
	start := time.Now()
	smp := startSampler(start, 50*time.Millisecond, 20000, &written, a.processed, a.in.Stats().Emitted.Load)
	cpu0, rcpu0 := selfCPU(), procCPU(srv.pid())
	steal := startSteal()
	kills0 := srv.bufferKills()
	a.recordOn.Store(true)
	// The loader runs in a child process, so that this process's CPU is sessionscope's.
	load, loaderCPU, lerr := runLoadProcess(ctx, loadSpec{addr: srv.addr, n: cfg.N, conns: cfg.Conns, pipeline: cfg.Pipeline, gen: gen,
		keyOf: keyOf, progress: &written, timeout: 3 * time.Minute, goRedis: cfg.Loader == "go-redis"}, cfg, srv.pid())
	r.Load = load
	r.LoaderCPU = loaderCPU.Seconds()
	fmt.Fprintf(log, "ssbench: ingest: loader %d SETEX in %.2fs = %.0f/s (redis-server %.0f%% of a core)\n",
		load.Writes, load.Elapsed.Seconds(), load.PerSec, 100*load.RedisCPU)
	expected := r.ExpectedRaw
	if lerr != nil {
		expected = 0 // wait for quiescence instead
	}
	doneAt, werr := a.waitProcessed(ctx, expected, 3*time.Minute)
	end := time.Now()
	cpu1, rcpu1 := selfCPU(), procCPU(srv.pid())
	r.Steal, r.MachineBusy = steal.fraction(), steal.busyCores()
	r.OtherCPU = r.MachineBusy - (cpu1-cpu0).Seconds()/end.Sub(start).Seconds() - (rcpu1-rcpu0).Seconds()/end.Sub(start).Seconds() -
		loaderCPU.Seconds()/end.Sub(start).Seconds()
	r.BufferKills = srv.bufferKills() - kills0
	samples := smp.stop()
	st := a.in.Stats()
	r.Processed = a.processed()
	r.Emitted = st.Emitted.Load()
	r.Received = a.events.Load()
	r.DroppedRaw = st.Dropped.Load()
	r.DroppedSub = a.sub.Dropped()
	r.Gaps = st.Gaps.Load()
	r.HubGaps = a.hubGaps.Load()
	r.Lost = max(0, r.ExpectedRaw-r.Processed)
	r.Reads = st.Reads.Load()
	r.Denied = st.BudgetDenied.Load()
	attached := end.Sub(a.started)
	r.AttachedS = attached.Seconds()
	r.ReadsPerSec = float64(r.Reads) / attached.Seconds()
	r.ReadBound = defaultBurst + defaultBudget*attached.Seconds()
	r.WithinBudg = float64(r.Reads) <= r.ReadBound
	r.Sessions = a.in.SessionCount()
	r.GoCPUBusy = (cpu1 - cpu0).Seconds() / end.Sub(start).Seconds()
	if r.Processed > 0 {
		r.SSCPUPerM = (cpu1 - cpu0).Seconds() / float64(r.Processed) * 1e6
	}
	r.RedisCPU = (rcpu1 - rcpu0).Seconds() / end.Sub(start).Seconds()
	if !doneAt.IsZero() {
		r.DoneS = doneAt.Sub(start).Seconds()
		r.CatchUpS = doneAt.Sub(load.End).Seconds()
	}
	// The last notification was taken in at the first sample that saw the final count.
	r.RawDoneS = end.Sub(start).Seconds()
	for _, s := range samples {
		if s.Processed >= r.Processed {
			r.RawDoneS = s.T
			break
		}
	}
	r.RawPerSec = float64(r.Processed) / r.RawDoneS
	r.RawPeak1s = peakRate(samples, time.Second, func(s sample) int64 { return s.Processed })
	for _, s := range samples {
		r.PeakHeap = max(r.PeakHeap, s.HeapBytes)
	}
	_, r.PeakRSS = selfRSS()
	r.Samples = samples
	if err := a.stop(); err != nil {
		fmt.Fprintf(log, "ssbench: ingest: stop: %v\n", err)
	}
	r.Lag = summarize(a.lags)
	r.Kinds = kindsOf(a.kinds)
	r.Statuses = a.statuses
	fmt.Fprintf(log, "ssbench: ingest: %d notifications at %.0f/s, %d events, dropped %d+%d, lag p50 %.1f ms p99 %.1f ms max %.1f ms; sessionscope CPU %.2f s per M notifications (loader %.1f s in its own process)\n",
		r.Processed, r.RawPerSec, r.Emitted, r.DroppedRaw, r.DroppedSub, r.Lag.P50, r.Lag.P99, r.Lag.Max, r.SSCPUPerM, r.LoaderCPU)
	if lerr != nil {
		return r, lerr
	}
	return r, werr
}

func kindsOf(m map[model.Kind]int64) map[string]int64 {
	out := make(map[string]int64, len(m))
	for k, v := range m {
		out[string(k)] = v
	}
	return out
}

// memWarmup is how many sessions the memory phase creates before its baseline.
const memWarmup = 20_000

// warmupKeys are sessions distinct from those distinctKeys creates.
func warmupKeys(w uint64) uint64 { return 1<<40 + w }

type memoryResult struct {
	Warmup          int        `json:"warmup_sessions"`
	Load            loadResult `json:"load"`
	Sessions        int        `json:"sessions"`
	HeapBefore      uint64     `json:"heap_before_bytes"`
	HeapAfter       uint64     `json:"heap_after_bytes"`
	BytesPerSession float64    `json:"bytes_per_session"`
	PayloadCache    string     `json:"payload_cache"`
	Reads           int64      `json:"reads"`
	DroppedRaw      int64      `json:"dropped_queue"`
	DroppedSub      int64      `json:"dropped_subscriber"`
	RedisUsedMemory int64      `json:"redis_used_memory_bytes"`
	Events          int64      `json:"events_received"`
}

// gcHeap collects twice (finalizers, then what they freed) and returns HeapAlloc.
func gcHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func runMemory(ctx context.Context, cfg config, srv *redisServer, gen *payloadGen, log io.Writer) (*memoryResult, error) {
	if err := srv.flush(ctx); err != nil {
		return nil, err
	}
	runtime.GC()
	// PayloadCacheBytes=1: every decoded payload is evicted as soon as the next one is
	// cached, so the table holds session metadata only (at most one payload is live).
	a, err := attach(ctx, srv.URL(), attachOptions{tracker: tracker.Config{PayloadCacheBytes: 1},
		subCap: cfg.SubCap, invTimeout: 30 * time.Second})
	if err != nil {
		return nil, err
	}
	defer a.stop()
	r := &memoryResult{PayloadCache: "PayloadCacheBytes=1 (payloads are still read within the default budget, but at most one decoded payload is retained)",
		Warmup: memWarmup}
	const maxBacklog = 300_000
	throttle := func(sent int64) {
		// Keep the notifications not yet taken in well below the raw queue, so the
		// table is built without overflow gaps: this phase measures memory, not speed.
		for i := 0; i < 10_000 && 3*sent-a.processed() > maxBacklog; i++ {
			time.Sleep(time.Millisecond)
		}
	}
	// Warm up with sessions of their own, so that fixed costs reach their steady size
	// before the baseline: the raw queue (inspector.DefaultQueueSize events) and the
	// subscriber's queue are allocated at attach, the hub's ring of recent objects fills
	// with the first events, the pending maps grow to their working size.
	if _, err := runLoad(ctx, loadSpec{addr: srv.addr, n: memWarmup, conns: cfg.Conns, pipeline: cfg.Pipeline, gen: gen,
		keyOf: warmupKeys, timeout: time.Minute, goRedis: cfg.Loader == "go-redis"}, srv.pid()); err != nil {
		return r, err
	}
	if _, err := a.waitProcessed(ctx, 3*int64(memWarmup), time.Minute); err != nil {
		return r, err
	}
	r.HeapBefore = gcHeap()
	warm := a.in.SessionCount()
	load, lerr := runLoad(ctx, loadSpec{addr: srv.addr, n: cfg.MemKeys, conns: cfg.Conns, pipeline: cfg.Pipeline, gen: gen,
		keyOf: distinctKeys, throttle: throttle, timeout: 5 * time.Minute, goRedis: cfg.Loader == "go-redis"}, srv.pid())
	r.Load = load
	if lerr != nil {
		return r, lerr
	}
	if _, err := a.waitProcessed(ctx, 3*int64(memWarmup+cfg.MemKeys), 3*time.Minute); err != nil {
		return r, err
	}
	r.HeapAfter = gcHeap()
	r.Sessions = a.in.SessionCount() - warm
	if r.Sessions > 0 {
		r.BytesPerSession = (float64(r.HeapAfter) - float64(r.HeapBefore)) / float64(r.Sessions)
	}
	st := a.in.Stats()
	r.Reads = st.Reads.Load()
	r.DroppedRaw = st.Dropped.Load()
	r.DroppedSub = a.sub.Dropped()
	r.Events = a.events.Load()
	r.RedisUsedMemory = srv.usedMemory(ctx)
	if cfg.MemProfile != "" {
		f, err := os.Create(cfg.MemProfile)
		if err == nil {
			_ = pprof.Lookup("heap").WriteTo(f, 0)
			_ = f.Close()
		}
	}
	fmt.Fprintf(log, "ssbench: memory: %d sessions, heap %d -> %d bytes: %.0f bytes/session\n",
		r.Sessions, r.HeapBefore, r.HeapAfter, r.BytesPerSession)
	runtime.KeepAlive(a)
	if err := a.stop(); err != nil {
		fmt.Fprintf(log, "ssbench: memory: stop: %v\n", err)
	}
	return r, srv.flush(ctx)
}
