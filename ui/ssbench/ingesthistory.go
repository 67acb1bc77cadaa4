package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/sessionscope/sessionscope/inspector/history"
)

// ingestHistoryResult is the same ingest load run twice in one process, without and
// then with a history file, so that what history costs is read off one table.
type ingestHistoryResult struct {
	Without *ingestResult `json:"without"`
	With    *ingestResult `json:"with"`
	// History are the store's counters after Close, so every queued object is counted.
	History   history.Stats `json:"history"`
	FileBytes int64         `json:"history_file_bytes"` // database + WAL on disk after Close
	// CloseCPU is the CPU this process used in Close, writing what was still queued
	// when the run ended: history work the run's CPU per notification does not see.
	CloseCPU float64 `json:"history_close_cpu_s"`
	// PeakRSSReset says whether the peak RSS was reset before each run; if not, the
	// second run's peak includes the first's.
	PeakRSSReset bool `json:"peak_rss_reset"`
}

// runIngestHistory runs the ingest load without history and then with a history file
// in a temporary directory (removed afterwards).
func runIngestHistory(ctx context.Context, cfg config, srv *redisServer, gen *payloadGen, log io.Writer) (*ingestHistoryResult, error) {
	r := &ingestHistoryResult{PeakRSSReset: resetPeakRSS()}
	without, err := runIngestWith(ctx, cfg, srv, gen, log, archiveSinks{})
	r.Without = without
	if err != nil {
		return r, fmt.Errorf("without history: %w", err)
	}
	dir, err := os.MkdirTemp("", "ssbench-history-")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "history.db")
	hist, err := history.Open(history.Options{Path: path})
	if err != nil {
		return r, err
	}
	r.PeakRSSReset = r.PeakRSSReset && resetPeakRSS()
	with, werr := runIngestWith(ctx, cfg, srv, gen, log, archiveSinks{history: hist})
	r.With = with
	cpu0 := selfCPU()
	if err := hist.Close(); err != nil && werr == nil {
		werr = fmt.Errorf("history close: %w", err)
	}
	r.CloseCPU = (selfCPU() - cpu0).Seconds()
	r.History = hist.Stats()
	r.FileBytes = fileSize(path) + fileSize(path+"-wal")
	fmt.Fprintf(log, "ssbench: ingest with history: written %d, dropped %d, gaps %d, errors %d, file %s\n",
		r.History.Written, r.History.Dropped, r.History.Gaps, r.History.Errors, mib(float64(r.FileBytes)))
	if werr != nil {
		return r, fmt.Errorf("with history: %w", werr)
	}
	return r, nil
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// writeIngestHistoryMarkdown writes the two runs side by side.
func writeIngestHistoryMarkdown(w io.Writer, h *ingestHistoryResult, c config) {
	if h.Without == nil || h.With == nil {
		return
	}
	a, b := h.Without, h.With
	fmt.Fprintf(w, "### Ingest with and without history: %d SETEX over %d sessions, %s, same process, without first\n\n", c.N, c.Keys, pairedPace(c))
	fmt.Fprintf(w, "| metric | without history | with history (a file in a temp dir) |\n|---|---|---|\n")
	writePairedIngestRows(w, a, b)
	fmt.Fprintf(w, "| CPU writing what history still held when the run ended (in Close, not in the row above) | — | %.2f s |\n", h.CloseCPU)
	fmt.Fprintf(w, "| history written / dropped / gaps / write errors | — | %d / %d / %d / %d |\n", h.History.Written, h.History.Dropped, h.History.Gaps, h.History.Errors)
	fmt.Fprintf(w, "| history file (database + WAL after close) | — | %s |\n", mib(float64(h.FileBytes)))
	writePairedMachineRows(w, a, b, h.PeakRSSReset)
}

// pairedPace is how a paired run's load was paced, for its heading.
func pairedPace(c config) string {
	if c.IngestRate > 0 {
		return fmt.Sprintf("held to %.0f SETEX/s", c.IngestRate)
	}
	return "as fast as Redis takes them"
}

// writePairedIngestRows writes the rows every paired ingest run (without, then with
// a sink) shares: what was taken in, its cost, its lag and the live stream's drops.
func writePairedIngestRows(w io.Writer, a, b *ingestResult) {
	fmt.Fprintf(w, "| notifications taken in / sent | %d / %d | %d / %d |\n", a.Processed, a.ExpectedRaw, b.Processed, b.ExpectedRaw)
	fmt.Fprintf(w, "| notifications/s (load start to last taken in) | %.0f | %.0f |\n", a.RawPerSec, b.RawPerSec)
	fmt.Fprintf(w, "| sessionscope CPU per million notifications (ssbench's process) | %.2f s | %.2f s (%.2fx) |\n", a.SSCPUPerM, b.SSCPUPerM, ratio(b.SSCPUPerM, a.SSCPUPerM))
	fmt.Fprintf(w, "| lag p50 / p99 (window excluded) | %.1f / %.1f ms | %.1f / %.1f ms |\n", a.Lag.P50, a.Lag.P99, b.Lag.P50, b.Lag.P99)
	fmt.Fprintf(w, "| dropped from the live stream: raw queue + subscriber; lost | %d + %d; %d | %d + %d; %d |\n", a.DroppedRaw, a.DroppedSub, a.Lost, b.DroppedRaw, b.DroppedSub, b.Lost)
	fmt.Fprintf(w, "| events emitted | %d | %d |\n", a.Emitted, b.Emitted)
}

// writePairedMachineRows closes a paired run's table: peak RSS and the machine's noise.
func writePairedMachineRows(w io.Writer, a, b *ingestResult, peakReset bool) {
	peakNote := "reset before each run"
	if !peakReset {
		peakNote = "not reset between runs: the second includes the first"
	}
	fmt.Fprintf(w, "| peak RSS (%s) | %s | %s |\n", peakNote, mib(float64(a.PeakRSS)), mib(float64(b.PeakRSS)))
	fmt.Fprintf(w, "| other processes' CPU during the load | %.2f cores | %.2f cores |\n\n", a.OtherCPU, b.OtherCPU)
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}
