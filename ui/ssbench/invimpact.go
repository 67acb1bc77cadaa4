package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"time"
)

// Impact on Redis during the inventory (issue 6, "Impact on Redis ... including during
// the inventory"): redis-benchmark's request rate while sessionscope inventories the
// million sessions, against its rate with only a bare redis-cli subscriber attached.
// The benchmark GETs keys that do not exist (-r 100000 random names outside the
// session prefixes): it writes nothing, so the store sessionscope scans stays the same
// and the benchmark's own requests add no events. It is sized to last about
// invImpactSecs at the bare rate, well inside an inventory.
const (
	invImpactSecs     = 2.0
	invImpactPipeline = 16
)

type invImpactRun struct {
	Consumer string  `json:"consumer"` // "bare redis-cli", "sessionscope", "sessionscope --scan-rate N"
	RPS      float64 `json:"rps"`
	Ratio    float64 `json:"ratio_to_bare"`
	InvDoneS float64 `json:"inventory_done_s,omitempty"` // the child's inventory time, for "was it during"
	RBS      float64 `json:"redis_benchmark_s"`          // how long redis-benchmark ran
	Error    string  `json:"error,omitempty"`
}

func runInventoryImpact(ctx context.Context, cfg config, rb, cli, exe string, srv *redisServer, keys, payload int, log io.Writer) []invImpactRun {
	bare, err := startBareSubscriber(ctx, cli, srv, 0)
	if err != nil {
		return []invImpactRun{{Consumer: "bare redis-cli", Error: err.Error()}}
	}
	// A first run measures the bare rate, to size the measured runs to invImpactSecs.
	rps, err := redisBenchmarkGET(ctx, rb, srv, 200_000)
	n := int(rps * invImpactSecs)
	start := time.Now()
	if err == nil {
		rps, err = redisBenchmarkGET(ctx, rb, srv, n)
	}
	bare.stop()
	base := invImpactRun{Consumer: "bare redis-cli", RPS: rps, Ratio: 1, RBS: time.Since(start).Seconds()}
	if err != nil {
		base.Error = err.Error()
		return []invImpactRun{base}
	}
	out := []invImpactRun{base}
	fmt.Fprintf(log, "ssbench: inventory impact: redis-benchmark GET with a bare subscriber: %.0f req/s\n", rps)
	rates := []float64{0}
	if cfg.InvScanRate > 0 {
		rates = append(rates, cfg.InvScanRate)
	}
	for _, rate := range rates {
		name := "sessionscope"
		if rate > 0 {
			name = fmt.Sprintf("sessionscope --scan-rate %.0f", rate)
		}
		child := make(chan invRun, 1)
		childErr := make(chan error, 1)
		go func() {
			r, err := runInventoryChild(ctx, exe, srv, keys, payload, "", rate)
			child <- r
			childErr <- err
		}()
		// The child needs a moment to start and Open; the benchmark then runs inside
		// its inventory (InvDoneS says whether it did).
		time.Sleep(300 * time.Millisecond)
		rbStart := time.Now()
		rps, err := redisBenchmarkGET(ctx, rb, srv, n)
		run := invImpactRun{Consumer: name, RPS: rps, RBS: time.Since(rbStart).Seconds()}
		if err != nil {
			run.Error = err.Error()
		}
		r := <-child
		if err := <-childErr; err != nil && run.Error == "" {
			run.Error = err.Error()
		}
		run.InvDoneS = r.Elapsed.Seconds()
		if base.RPS > 0 {
			run.Ratio = run.RPS / base.RPS
		}
		fmt.Fprintf(log, "ssbench: inventory impact: redis-benchmark GET during %s's inventory: %.0f req/s (%.2f of bare); inventory %.2f s, benchmark %.2f s\n",
			name, run.RPS, run.Ratio, run.InvDoneS, run.RBS)
		out = append(out, run)
	}
	return out
}

// redisBenchmarkGET runs redis-benchmark's GET of absent keys, n requests from 50
// clients, pipelined, and returns requests per second.
func redisBenchmarkGET(ctx context.Context, bin string, srv *redisServer, n int) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-h", "127.0.0.1", "-p", strconv.Itoa(srv.port), "-n", strconv.Itoa(n),
		"-c", "50", "-P", strconv.Itoa(invImpactPipeline), "-r", "100000", "-q", "GET", "ssbench:absent:__rand_int__")
	setChildAttrs(cmd)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("redis-benchmark: %w: %s", err, tailBytes(buf.Bytes(), 300))
	}
	m := rpsRE.FindAllSubmatch(buf.Bytes(), -1)
	if len(m) == 0 {
		return 0, fmt.Errorf("redis-benchmark: no 'requests per second' in its output: %s", tailBytes(buf.Bytes(), 300))
	}
	return strconv.ParseFloat(string(m[len(m)-1][1]), 64)
}

func writeInventoryImpactMarkdown(w io.Writer, runs []invImpactRun) {
	if len(runs) == 0 {
		return
	}
	fmt.Fprintf(w, "Redis throughput during the inventory: redis-benchmark `GET` of absent keys (-c 50 -P %d), sized for about %.0f s, started 0.3 s after sessionscope:\n\n", invImpactPipeline, invImpactSecs)
	fmt.Fprintf(w, "| attached | req/s | ratio to bare | target | benchmark ran | inventory done after |\n|---|---|---|---|---|---|\n")
	for _, r := range runs {
		target, inv := "", ""
		if r.Consumer != "bare redis-cli" {
			target = ">= 0.95 (" + passFail(r.Ratio >= 0.95) + ")"
			inv = fmt.Sprintf("%.2f s", r.InvDoneS)
		}
		row := fmt.Sprintf("| %s | %.0f | %.2f | %s | %.2f s | %s |", r.Consumer, r.RPS, r.Ratio, target, r.RBS, inv)
		if r.Error != "" {
			row += " error: " + r.Error
		}
		fmt.Fprintln(w, row)
	}
	fmt.Fprintln(w)
}
