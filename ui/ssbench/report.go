package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

func mib(b float64) string { return fmt.Sprintf("%.1f MiB", b/(1<<20)) }

func passFail(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

func joinRates(v []float64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = fmt.Sprintf("%.0f", x)
	}
	return strings.Join(parts, ", ")
}

// writeMarkdown prints the results as Markdown tables.
func writeMarkdown(w io.Writer, r *results) {
	m := r.Machine
	fmt.Fprintf(w, "## ssbench results\n\n")
	fmt.Fprintf(w, "%s; %d CPUs (GOMAXPROCS %d), %s, %s, Redis %s; payload %d bytes; total %.0f s; calibration: SHA-256 on one core %.0f / %.0f MB/s, random memory load %.0f / %.0f ns (start / end)\n\n",
		m.Date, m.CPUs, m.GOMAXPROCS, m.MemTotal, m.GoVersion, m.RedisVersion, m.PayloadBytes, r.Elapsed.Seconds(),
		m.SHA256MBpsStart, m.SHA256MBpsEnd, m.MemLatencyNsStart, m.MemLatencyNsEnd)
	if in := r.Ingest; in != nil {
		c := r.Config
		pace := "as fast as Redis takes them"
		if c.IngestRate > 0 {
			pace = fmt.Sprintf("held to %.0f SETEX/s", c.IngestRate)
		}
		fmt.Fprintf(w, "### Ingest: %d SETEX over %d sessions, %d connections x pipelines of %d, %s, loader in a child process, sessionscope attached (default config)\n\n", c.N, c.Keys, c.Conns, c.Pipeline, pace)
		fmt.Fprintf(w, "| metric | value | target |\n|---|---|---|\n")
		fmt.Fprintf(w, "| loader SETEX/s | %.0f (%d in %.2f s) | Redis-bound |\n", in.Load.PerSec, in.Load.Writes, in.Load.Elapsed.Seconds())
		fmt.Fprintf(w, "| redis-server CPU during the load | %.0f%% of a core | ~100%% |\n", 100*in.Load.RedisCPU)
		fmt.Fprintf(w, "| notifications taken in / sent | %d / %d | all |\n", in.Processed, in.ExpectedRaw)
		fmt.Fprintf(w, "| notifications/s (load start to last taken in, %.2f s) | %.0f | keep up with Redis |\n", in.RawDoneS, in.RawPerSec)
		fmt.Fprintf(w, "| notifications/s, best 1 s | %.0f | |\n", in.RawPeak1s)
		fmt.Fprintf(w, "| events emitted / received | %d / %d | |\n", in.Emitted, in.Received)
		fmt.Fprintf(w, "| event kinds | %s | |\n", kindsString(in.Kinds))
		fmt.Fprintf(w, "| dropped: raw queue + subscriber (gap events); lost to a disconnect | %d + %d (%d); %d | 0 (%s) |\n", in.DroppedRaw, in.DroppedSub, in.Gaps, in.Lost, passFail(in.DroppedRaw+in.DroppedSub == 0 && in.Lost == 0 && in.Gaps == 0))
		fmt.Fprintf(w, "| everything processed (load start to last event) | %.2f s | |\n", in.DoneS)
		fmt.Fprintf(w, "| catch-up after the loader finished | %.2f s | |\n", in.CatchUpS)
		fmt.Fprintf(w, "| lag p50 / p99 / max (window excluded, %d events) | %.1f / %.1f / %.1f ms | |\n", in.Lag.Count, in.Lag.P50, in.Lag.P99, in.Lag.Max)
		fmt.Fprintf(w, "| payload reads / budget denied | %d / %d | |\n", in.Reads, in.Denied)
		fmt.Fprintf(w, "| reads/s over %.1f s attached (bound: burst + budget x t = %.0f reads) | %.0f | <= 1000/s (%s) |\n", in.AttachedS, in.ReadBound, in.ReadsPerSec, passFail(in.WithinBudg))
		fmt.Fprintf(w, "| sessionscope's CPU per million notifications (ssbench's process; the loader runs in a child) | %.2f s | |\n", in.SSCPUPerM)
		fmt.Fprintf(w, "| ssbench process CPU (sessionscope) / redis-server CPU / whole machine, until done; loader child | %.2f / %.2f / %.2f cores; %.1f s | |\n", in.GoCPUBusy, in.RedisCPU, in.MachineBusy, in.LoaderCPU)
		fmt.Fprintf(w, "| peak Go heap / peak RSS | %s / %s | |\n", mib(float64(in.PeakHeap)), mib(float64(in.PeakRSS)))
		fmt.Fprintf(w, "| subscribers Redis disconnected for passing the 32 MB pub/sub output buffer limit | %d | 0 |\n", in.BufferKills)
		fmt.Fprintf(w, "| other processes on the machine, before / during the load | %.2f / %.2f cores | noise indicator |\n", in.QuietBefore, in.OtherCPU)
		fmt.Fprintf(w, "| CPU stolen by the hypervisor during the phase | %.1f%% | noise indicator |\n", 100*in.Steal)
		for i, d := range in.DiscardedAttempts {
			fmt.Fprintf(w, "| attempt %d, set aside (other processes used %.2f cores) | %.0f SETEX/s, %.0f notifications/s, dropped %d, lag p50 / p99 / max %.1f / %.1f / %.1f ms | |\n",
				i+1, d.OtherCPU, d.Load.PerSec, d.RawPerSec, d.DroppedRaw+d.DroppedSub, d.Lag.P50, d.Lag.P99, d.Lag.Max)
		}
		fmt.Fprintln(w)
	}
	if mem := r.Memory; mem != nil {
		fmt.Fprintf(w, "### Tracker memory per session\n\n")
		fmt.Fprintf(w, "| sessions | heap before -> after (GC'd) | bytes/session | target | loader SETEX/s | dropped | Redis used_memory |\n|---|---|---|---|---|---|---|\n")
		fmt.Fprintf(w, "| %d | %s -> %s | %.0f | <= 512 (%s) | %.0f | %d | %s |\n\n", mem.Sessions, mib(float64(mem.HeapBefore)), mib(float64(mem.HeapAfter)),
			mem.BytesPerSession, passFail(mem.BytesPerSession <= 512), mem.Load.PerSec, mem.DroppedRaw+mem.DroppedSub, mib(float64(mem.RedisUsedMemory)))
		fmt.Fprintf(w, "Payload caching excluded with %s.\n\n", mem.PayloadCache)
	}
	if im := r.Impact; im != nil {
		nice := ""
		if r.Config.Nice != 0 {
			nice = fmt.Sprintf(", consumers at nice %d", r.Config.Nice)
		}
		fmt.Fprintf(w, "### Redis impact: SETEX/s with a bare subscriber vs sessionscope attached (median of %d alternating runs%s)\n\n", r.Config.Runs, nice)
		fmt.Fprintf(w, "| loader | bare subscriber (redis-cli psubscribe) | sessionscope | ratio | target | runs bare / sessionscope | sessionscope dropped / gaps / lost | reference: no subscriber |\n|---|---|---|---|---|---|---|---|\n")
		for _, s := range im.Summaries {
			fmt.Fprintf(w, "| %s | %.0f | %.0f | %.3f | >= 0.95 (%s) | %s / %s | %d / %d / %d | %.0f (%s) |\n", s.Tool, s.BareMedian, s.SSMedian, s.Ratio,
				passFail(s.Ratio >= 0.95), joinRates(s.BareRuns), joinRates(s.SSRuns), s.SSDropped, s.SSGaps, s.SSLost, s.NoneMedian, joinRates(s.NoneRuns))
		}
		for _, s := range im.Summaries {
			fmt.Fprintf(w, "\n%s: highest CPU steal in a run %.1f%%, highest CPU of other processes on the machine %.2f cores (%d runs repeated because other processes used more than %.2f cores); subscribers Redis disconnected for passing the pub/sub output buffer limit: %d.", s.Tool, 100*s.MaxSteal, s.MaxOtherCPU, s.Discarded, noisyOtherCPU, s.BufferKills)
		}
		fmt.Fprintf(w, "\n\nWhere the CPU went during the load (medians, in cores of %d; redis-server's CPU per SETEX is its own work, independent of how much CPU it was given):\n\n", m.CPUs)
		fmt.Fprintf(w, "| loader | consumer | redis-server cores | redis-server µs/SETEX | consumer cores | ssbench process cores | redis-benchmark cores |\n|---|---|---|---|---|---|---|\n")
		for _, s := range im.Summaries {
			fmt.Fprintf(w, "| %s | bare (redis-cli) | %.2f | %.2f | %.2f | %.2f | %.2f |\n", s.Tool, s.BareRedis, s.BareUsPerOp, s.BareConsumerCPU, s.BareProcessCPU, s.LoaderCPU)
			ssOnly := s.SSProcessCPU
			if s.Tool == "ssbench-loader" {
				ssOnly = s.SSProcessCPU - s.BareProcessCPU // the loader's share is the bare runs' process CPU
			}
			fmt.Fprintf(w, "| %s | sessionscope | %.2f | %.2f (work ratio %.3f) | %.2f | %.2f | %.2f |\n", s.Tool, s.SSRedis, s.SSUsPerOp, s.WorkRatio, ssOnly, s.SSProcessCPU, s.LoaderCPU)
		}
		for _, n := range im.Notes {
			fmt.Fprintf(w, "\nNote: %s\n", n)
		}
		fmt.Fprintln(w)
	}
	if r.Proxy != nil {
		writeProxyMarkdown(w, r.Proxy)
	}
	if r.Analyze != nil {
		writeAnalyzeMarkdown(w, r.Analyze)
	}
	if r.Inventory != nil {
		writeInventoryMarkdown(w, r.Inventory, r.Config)
	}
	if r.IngestHistory != nil {
		writeIngestHistoryMarkdown(w, r.IngestHistory, r.Config)
	}
	if r.IngestExport != nil {
		writeIngestExportMarkdown(w, r.IngestExport, r.Config)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "Error: %s\n", e)
	}
}

func kindsString(k map[string]int64) string {
	names := make([]string, 0, len(k))
	for n := range k {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %d", n, k[n])
	}
	return strings.Join(parts, ", ")
}
