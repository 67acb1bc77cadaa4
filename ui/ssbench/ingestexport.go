package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/sessionscope/sessionscope/inspector/export"
	"github.com/sessionscope/sessionscope/inspector/export/exporttest"
)

// roleOTLPSink is the child that stands in for a team's Collector: the Collector's
// own OTLP receiver, counting what it receives. It runs in its own process so that
// the receiving side's CPU is not counted as sessionscope's, as in a deployment.
const roleOTLPSink = "otlp-sink"

// ingestExportResult is the same ingest load run twice in one process, without and
// then with an OTLP export to a receiver process, so that what export costs is read
// off one table.
type ingestExportResult struct {
	Without *ingestResult `json:"without"`
	With    *ingestResult `json:"with"`
	// Export are the exporter's counters after Close, so every queued record is counted.
	Export export.Stats `json:"export"`
	// Received is what the receiver counted: the end-to-end check of Export.Exported.
	Received uint64 `json:"received"`
	// CloseCPU is this process's CPU in Close, sending what was still queued when the
	// run ended: export work the run's CPU per notification does not see.
	CloseCPU float64 `json:"export_close_cpu_s"`
	// ReceiverCPU is the receiver process's CPU over the run with export.
	ReceiverCPU  float64 `json:"receiver_cpu_s"`
	PeakRSSReset bool    `json:"peak_rss_reset"`
}

// runIngestExport runs the ingest load without export and then exporting over
// OTLP/HTTP (the exporter's default protocol) to a receiver child.
func runIngestExport(ctx context.Context, cfg config, srv *redisServer, gen *payloadGen, log io.Writer) (*ingestExportResult, error) {
	r := &ingestExportResult{PeakRSSReset: resetPeakRSS()}
	without, err := runIngestWith(ctx, cfg, srv, gen, log, archiveSinks{})
	r.Without = without
	if err != nil {
		return r, fmt.Errorf("without export: %w", err)
	}
	exe, err := os.Executable()
	if err != nil {
		return r, err
	}
	sink, err := startChild(exe, roleOTLPSink, "")
	if err != nil {
		return r, err
	}
	sinkStopped := false
	defer func() {
		if !sinkStopped {
			sink.stop()
		}
	}()
	exp, err := export.Open(ctx, export.Options{Endpoint: sink.ready["endpoint"]})
	if err != nil {
		return r, fmt.Errorf("open the exporter: %w", err)
	}
	r.PeakRSSReset = r.PeakRSSReset && resetPeakRSS()
	sinkCPU0 := procCPU(sink.pid())
	with, werr := runIngestWith(ctx, cfg, srv, gen, log, archiveSinks{export: exp})
	r.With = with
	cpu0 := selfCPU()
	closeCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := exp.Close(closeCtx); err != nil && werr == nil {
		werr = fmt.Errorf("export close: %w", err)
	}
	r.CloseCPU = (selfCPU() - cpu0).Seconds()
	r.ReceiverCPU = (procCPU(sink.pid()) - sinkCPU0).Seconds()
	r.Export = exp.Stats()
	st := sink.stop()
	sinkStopped = true
	r.Received = st.Published
	fmt.Fprintf(log, "ssbench: ingest with export: exported %d, dropped %d, errors %d, the receiver counted %d\n",
		r.Export.Exported, r.Export.Dropped, r.Export.Errors, r.Received)
	if werr != nil {
		return r, fmt.Errorf("with export: %w", werr)
	}
	return r, nil
}

// runOTLPSink is the receiver child's main: it prints its endpoint, counts the log
// records it receives until its standard input closes, then prints the count.
func runOTLPSink() error {
	httpAddr, err := exporttest.FreeAddr()
	if err != nil {
		return err
	}
	grpcAddr, err := exporttest.FreeAddr()
	if err != nil {
		return err
	}
	var received atomic.Uint64
	count, err := consumer.NewLogs(func(_ context.Context, ld plog.Logs) error {
		received.Add(uint64(ld.LogRecordCount()))
		return nil
	})
	if err != nil {
		return err
	}
	stop, err := exporttest.Serve(context.Background(), httpAddr, grpcAddr, count)
	if err != nil {
		return fmt.Errorf("otlp receiver: %w", err)
	}
	fmt.Printf("ready endpoint=http://%s\n", httpAddr)
	_, _ = io.Copy(io.Discard, os.Stdin)
	if err := stop(context.Background()); err != nil {
		return fmt.Errorf("otlp receiver: shutdown: %w", err)
	}
	_, peak := selfRSS()
	return json.NewEncoder(os.Stdout).Encode(roleStats{Published: received.Load(), PeakRSS: peak})
}

// writeIngestExportMarkdown writes the two runs side by side.
func writeIngestExportMarkdown(w io.Writer, x *ingestExportResult, c config) {
	if x.Without == nil || x.With == nil {
		return
	}
	a, b := x.Without, x.With
	fmt.Fprintf(w, "### Ingest with and without OTLP export: %d SETEX over %d sessions, %s, same process, without first\n\n", c.N, c.Keys, pairedPace(c))
	fmt.Fprintf(w, "| metric | without export | with export (OTLP/HTTP to the Collector's receiver in another process) |\n|---|---|---|\n")
	writePairedIngestRows(w, a, b)
	fmt.Fprintf(w, "| CPU sending what export still held when the run ended (in Close, not in the row above) | — | %.2f s |\n", x.CloseCPU)
	fmt.Fprintf(w, "| records exported / dropped / failed exports; the receiver counted | — | %d / %d / %d; %d |\n", x.Export.Exported, x.Export.Dropped, x.Export.Errors, x.Received)
	fmt.Fprintf(w, "| the receiver's CPU (its own process) | — | %.2f s |\n", x.ReceiverCPU)
	writePairedMachineRows(w, a, b, x.PeakRSSReset)
}
