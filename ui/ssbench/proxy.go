package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// proxyConfigs are what the load generator drives, in this order (rotated every round):
// the upstream directly, and the upstream behind each of the proxy child's proxies.
var proxyConfigs = []string{"direct", "plain", "record", "capture"}

// proxyResult is the proxy phase: the same closed-loop load against a small local
// upstream, directly and through the proxy, interleaved.
type proxyResult struct {
	Duration time.Duration `json:"duration_ns"` // measured part of each run
	Warmup   time.Duration `json:"warmup_ns"`
	Rounds   int           `json:"rounds"`
	Modes    []proxyMode   `json:"modes"`
}

// proxyMode is one CPU layout.
type proxyMode struct {
	Pin    string `json:"pin"` // none or split
	Layout string `json:"layout"`
	// GOMAXPROCS of the load generator, the upstream and the proxy.
	LoadProcs     int          `json:"load_gomaxprocs"`
	UpstreamProcs int          `json:"upstream_gomaxprocs"`
	ProxyProcs    int          `json:"proxy_gomaxprocs"`
	Levels        []proxyLevel `json:"levels"`
	ProxyStats    roleStats    `json:"proxy_child"`
	UpstreamStats roleStats    `json:"upstream_child"`
}

// proxyLevel is one concurrency.
type proxyLevel struct {
	Conns   int                  `json:"conns"`
	Configs []*proxyConfigResult `json:"configs"`
}

type proxyConfigResult struct {
	Name  string     `json:"name"`
	Runs  []proxyRun `json:"runs"`
	RPS   float64    `json:"rps_median"`
	Ratio float64    `json:"ratio_median"` // of the per-round ratios to direct
	// RatioMin and RatioMax are the lowest and highest per-round ratio.
	RatioMin float64 `json:"ratio_min"`
	RatioMax float64 `json:"ratio_max"`
	Latency  latency `json:"latency"` // every run's requests pooled
	// AddedP50Us and AddedP99Us are this config's pooled percentile minus direct's, µs.
	AddedP50Us float64 `json:"added_p50_us"`
	AddedP99Us float64 `json:"added_p99_us"`
	// ProxyCPUUs is the proxy process's CPU time per request (median of the runs), µs.
	ProxyCPUUs float64 `json:"proxy_cpu_us_per_request"`
	lat        []time.Duration
}

type proxyRun struct {
	Round       int     `json:"round"`
	Requests    int     `json:"requests"`
	Errors      int     `json:"errors"`
	RPS         float64 `json:"rps"`
	P50Us       float64 `json:"p50_us"`
	P99Us       float64 `json:"p99_us"`
	LoadCPU     float64 `json:"load_cores"`     // the ssbench process: the load generator
	UpstreamCPU float64 `json:"upstream_cores"` // the upstream child
	ProxyCPU    float64 `json:"proxy_cores"`    // the proxy child
	Steal       float64 `json:"cpu_steal"`
	// OtherCPU is what the other processes on the machine used meanwhile, in cores; a
	// run above noisyOtherCPU is repeated, and the quietest attempt kept.
	OtherCPU float64 `json:"other_cores"`
	Attempts int     `json:"attempts"`
}

func runProxy(ctx context.Context, cfg config, srv *redisServer, log io.Writer) (*proxyResult, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	res := &proxyResult{Duration: cfg.ProxyDur, Warmup: cfg.ProxyDur / 4, Rounds: cfg.Runs}
	profile := cfg.ProxyCPUProfile
	for _, pin := range strings.Split(cfg.ProxyPin, ",") {
		pin = strings.TrimSpace(pin)
		if err := srv.flush(ctx); err != nil {
			return res, err
		}
		m, err := runProxyMode(ctx, cfg, exe, pin, srv.URL(), profile, res, log)
		profile = "" // the first layout only
		if m != nil {
			res.Modes = append(res.Modes, *m)
		}
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// child is a role process of the proxy phase.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
	ready map[string]string
}

func startChild(exe, role, cpu string, env ...string) (*child, error) {
	var cmd *exec.Cmd
	if cpu != "" {
		cmd = exec.Command("taskset", "-c", cpu, exe)
	} else {
		cmd = exec.Command(exe)
	}
	cmd.Env = append(append(os.Environ(), roleEnv+"="+role), env...)
	cmd.Stderr = os.Stderr
	setChildAttrs(cmd)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the %s child: %w", role, err)
	}
	c := &child{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout), ready: map[string]string{}}
	line, err := c.out.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ready ") {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("the %s child did not start: %q %v", role, line, err)
	}
	for _, kv := range strings.Fields(strings.TrimPrefix(line, "ready ")) {
		k, v, _ := strings.Cut(kv, "=")
		c.ready[k] = v
	}
	return c, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// stop closes the child's stdin and reads the statistics it prints as it ends.
func (c *child) stop() roleStats {
	var st roleStats
	_ = c.stdin.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		line, _ := c.out.ReadString('\n')
		_ = json.Unmarshal([]byte(line), &st)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
	}
	_ = c.cmd.Wait()
	return st
}

func runProxyMode(ctx context.Context, cfg config, exe, pin, redisURL, profile string, res *proxyResult, log io.Writer) (*proxyMode, error) {
	m := &proxyMode{Pin: pin}
	loadCPU, upCPU, proxyCPU := "", "", ""
	switch pin {
	case "none":
		m.Layout = "load generator, upstream and proxy share every CPU"
	case "split":
		if runtime.NumCPU() < 2 || lookPath("taskset") == "" {
			return nil, fmt.Errorf("-proxy-pin split needs 2 CPUs and taskset")
		}
		loadCPU, upCPU, proxyCPU = "0", "0", "1"
		m.Layout = "load generator and upstream on CPU 0, proxy on CPU 1"
		orig := runtime.GOMAXPROCS(0)
		allowed := allowedCPUs()
		if err := exec.Command("taskset", "-a", "-p", "-c", loadCPU, strconv.Itoa(os.Getpid())).Run(); err != nil {
			return nil, fmt.Errorf("pin the load generator: %w", err)
		}
		runtime.GOMAXPROCS(1)
		defer func() {
			runtime.GOMAXPROCS(orig)
			_ = exec.Command("taskset", "-a", "-p", "-c", allowed, strconv.Itoa(os.Getpid())).Run()
		}()
	default:
		return nil, fmt.Errorf("-proxy-pin %q: want none or split", pin)
	}
	m.LoadProcs = runtime.GOMAXPROCS(0)
	up, err := startChild(exe, "upstream", upCPU)
	if err != nil {
		return nil, err
	}
	upStopped := false
	defer func() {
		if !upStopped {
			up.stop()
		}
	}()
	env := []string{upstreamEnv + "=" + up.ready["upstream"], redisEnv + "=" + redisURL}
	if profile != "" {
		env = append(env, profileEnv+"="+profile)
	}
	px, err := startChild(exe, "proxy", proxyCPU, env...)
	if err != nil {
		return nil, err
	}
	m.UpstreamProcs, _ = strconv.Atoi(up.ready["gomaxprocs"])
	m.ProxyProcs, _ = strconv.Atoi(px.ready["gomaxprocs"])
	targets := map[string]string{"direct": up.ready["upstream"], "plain": px.ready["plain"],
		"record": px.ready["record"], "capture": px.ready["capture"]}
	fmt.Fprintf(log, "ssbench: proxy: %s (GOMAXPROCS load %d, upstream %d, proxy %d)\n", m.Layout, m.LoadProcs, m.UpstreamProcs, m.ProxyProcs)

	var err2 error
	for _, conns := range cfg.ProxyConns {
		lv := proxyLevel{Conns: conns}
		byName := map[string]*proxyConfigResult{}
		for _, name := range proxyConfigs {
			c := &proxyConfigResult{Name: name}
			byName[name] = c
			lv.Configs = append(lv.Configs, c)
		}
		for round := 0; round < res.Rounds && ctx.Err() == nil; round++ {
			for i := range proxyConfigs {
				name := proxyConfigs[(i+round)%len(proxyConfigs)]
				var run proxyRun
				var lat []time.Duration
				for attempt := 1; attempt <= 3 && ctx.Err() == nil; attempt++ {
					waitQuietFor(5*time.Second, 0.15, up.pid(), px.pid())
					r, l := drive(ctx, targets[name], conns, res.Warmup, res.Duration, up.pid(), px.pid())
					if attempt == 1 || r.OtherCPU < run.OtherCPU {
						run, lat = r, l
					}
					run.Attempts = attempt
					if r.OtherCPU <= noisyOtherCPU {
						break
					}
				}
				run.Round = round + 1
				c := byName[name]
				c.Runs = append(c.Runs, run)
				c.lat = append(c.lat, lat...)
				fmt.Fprintf(log, "ssbench: proxy: %s conns %d round %d %-7s %8.0f req/s  p50 %6.0f µs  p99 %6.0f µs  cores load %.2f upstream %.2f proxy %.2f other %.2f (attempt %d)  errors %d\n",
					pin, conns, round+1, name, run.RPS, run.P50Us, run.P99Us, run.LoadCPU, run.UpstreamCPU, run.ProxyCPU, run.OtherCPU, run.Attempts, run.Errors)
				if run.Errors > 0 && err2 == nil {
					err2 = fmt.Errorf("%s, %d connections: %d failed requests", name, conns, run.Errors)
				}
			}
		}
		summarizeLevel(&lv)
		m.Levels = append(m.Levels, lv)
	}
	m.ProxyStats = px.stop()
	m.UpstreamStats = up.stop()
	upStopped = true
	if err := ctx.Err(); err != nil {
		return m, err
	}
	return m, err2
}

func summarizeLevel(lv *proxyLevel) {
	direct := lv.Configs[0]
	for _, c := range lv.Configs {
		var rps, ratios, cpu []float64
		for i, r := range c.Runs {
			rps = append(rps, r.RPS)
			if i < len(direct.Runs) && direct.Runs[i].RPS > 0 {
				ratios = append(ratios, r.RPS/direct.Runs[i].RPS)
			}
			if r.RPS > 0 {
				cpu = append(cpu, 1e6*r.ProxyCPU/r.RPS)
			}
		}
		c.RPS, c.Ratio, c.ProxyCPUUs = median(rps), median(ratios), median(cpu)
		if len(ratios) > 0 {
			c.RatioMin, c.RatioMax = slices.Min(ratios), slices.Max(ratios)
		}
		c.Latency = summarize(c.lat)
	}
	for _, c := range lv.Configs {
		c.AddedP50Us = 1000 * (c.Latency.P50 - direct.Latency.P50)
		c.AddedP99Us = 1000 * (c.Latency.P99 - direct.Latency.P99)
	}
	for _, c := range lv.Configs {
		c.lat = nil
	}
}

// sessionID is the session cookie of load worker i: 26 characters, as PHP's.
func sessionID(i int) string {
	s := fmt.Sprintf("ssbench%019d", i)
	return s[len(s)-26:]
}

// drive runs a closed-loop load: conns workers, each on its own kept-alive connection,
// send GET /dashboard with a session cookie and read the whole response, back to back,
// for warmup+dur. Requests that start after the warm-up and end within dur count.
func drive(ctx context.Context, target string, conns int, warmup, dur time.Duration, upPID, proxyPID int) (proxyRun, []time.Duration) {
	start := time.Now()
	from, until := start.Add(warmup), start.Add(warmup+dur)
	lats := make([][]time.Duration, conns)
	errs := make([]int, conns)
	var wg sync.WaitGroup
	for w := 0; w < conns; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := &http.Transport{MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1, DisableCompression: true}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr}
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, target+"/dashboard", nil)
			if err != nil {
				errs[w]++
				return
			}
			req.Header.Set("Cookie", "PHPSESSID="+sessionID(w)+"; theme=dark")
			req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) ssbench")
			req.Header.Set("Accept", "text/html")
			buf := make([]byte, 4096)
			out := make([]time.Duration, 0, 1<<14)
			for {
				t0 := time.Now()
				if !t0.Before(until) || ctx.Err() != nil {
					break
				}
				res, err := client.Do(req)
				if err != nil {
					errs[w]++
					continue
				}
				for {
					if _, err := res.Body.Read(buf); err != nil {
						break
					}
				}
				res.Body.Close()
				t1 := time.Now()
				if res.StatusCode != http.StatusOK {
					errs[w]++
				}
				if !t0.Before(from) && !t1.After(until) {
					out = append(out, t1.Sub(t0))
				}
			}
			lats[w] = out
		}()
	}
	time.Sleep(time.Until(from))
	load0, up0, px0 := selfCPU(), procCPU(upPID), procCPU(proxyPID)
	procs0 := procTimes()
	steal := startSteal()
	time.Sleep(time.Until(until))
	load1, up1, px1 := selfCPU(), procCPU(upPID), procCPU(proxyPID)
	stolen := steal.fraction()
	others := othersCPU(procs0, procTimes(), os.Getpid(), upPID, proxyPID)
	wg.Wait()
	var all []time.Duration
	run := proxyRun{Steal: stolen}
	for w := range lats {
		all = append(all, lats[w]...)
		run.Errors += errs[w]
	}
	secs := dur.Seconds()
	run.Requests = len(all)
	run.RPS = float64(len(all)) / secs
	run.LoadCPU, run.UpstreamCPU, run.ProxyCPU = (load1-load0).Seconds()/secs, (up1-up0).Seconds()/secs, (px1-px0).Seconds()/secs
	run.OtherCPU = others.Seconds() / secs
	if l := summarize(all); l.Count > 0 {
		run.P50Us, run.P99Us = 1000*l.P50, 1000*l.P99
	}
	return run, all
}

// procTimes is the CPU time each process on the machine has used, from /proc.
func procTimes() map[int]time.Duration {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	m := make(map[int]time.Duration, len(entries))
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			m[pid] = procCPU(pid)
		}
	}
	return m
}

// othersCPU is the CPU time the processes other than ours used between two
// procTimes: a process that started meanwhile counts whole; one that ended is missed.
// The kernel's softirq time, where loopback traffic is handled, is in no process.
func othersCPU(before, after map[int]time.Duration, ours ...int) time.Duration {
	var sum time.Duration
	for pid, t := range after {
		if !slices.Contains(ours, pid) {
			sum += max(0, t-before[pid])
		}
	}
	return sum
}

// waitQuietFor waits, at most limit, until the processes other than ssbench and pids
// use less than threshold cores over a quarter of a second.
func waitQuietFor(limit time.Duration, threshold float64, pids ...int) {
	ours := append([]int{os.Getpid()}, pids...)
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		t0, p0 := time.Now(), procTimes()
		time.Sleep(250 * time.Millisecond)
		if othersCPU(p0, procTimes(), ours...).Seconds()/time.Since(t0).Seconds() < threshold {
			return
		}
	}
}

// allowedCPUs is this process's CPU affinity list, to restore after pinning.
func allowedCPUs() string {
	b, err := os.ReadFile("/proc/self/status")
	if err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
				return strings.TrimSpace(v)
			}
		}
	}
	return "0-" + strconv.Itoa(runtime.NumCPU()-1)
}

// writeProxyMarkdown prints the proxy phase's tables.
func writeProxyMarkdown(w io.Writer, p *proxyResult) {
	fmt.Fprintf(w, "### Proxy overhead: closed-loop GET /dashboard (session cookie sent, Set-Cookie and a %d-byte page back), direct vs through the proxy, interleaved (%d rounds of %.1f s after %.1f s warm-up; medians, per-round ratio range)\n\n",
		len(upstreamBody), p.Rounds, p.Duration.Seconds(), p.Warmup.Seconds())
	fmt.Fprintf(w, "plain: httputil.ReverseProxy, nothing recorded. record: traffic.Proxy, exchanges kept in its ring, no sink. capture: traffic.Proxy with an inspector as sink (live cookie rules, hub, NDJSON subscriber), as `watch --json --proxy-to` runs it.\n\n")
	for _, m := range p.Modes {
		fmt.Fprintf(w, "#### %s (GOMAXPROCS: load %d, upstream %d, proxy %d)\n\n", m.Layout, m.LoadProcs, m.UpstreamProcs, m.ProxyProcs)
		fmt.Fprintf(w, "| conns | direct req/s | plain req/s (ratio) | record req/s (ratio) | capture req/s | capture ratio (range) | target | direct p50 / p99 µs | capture p50 / p99 µs | added p50 / p99 µs | proxy CPU µs/req plain / record / capture |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, lv := range m.Levels {
			d, pl, rec, c := lv.Configs[0], lv.Configs[1], lv.Configs[2], lv.Configs[3]
			fmt.Fprintf(w, "| %d | %.0f | %.0f (%.2f) | %.0f (%.2f) | %.0f | %.2f (%.2f–%.2f) | ≥ 0.7 (%s) | %.0f / %.0f | %.0f / %.0f | %.0f / %.0f | %.1f / %.1f / %.1f |\n",
				lv.Conns, d.RPS, pl.RPS, pl.Ratio, rec.RPS, rec.Ratio, c.RPS, c.Ratio, c.RatioMin, c.RatioMax, passFail(c.Ratio >= 0.7),
				1000*d.Latency.P50, 1000*d.Latency.P99, 1000*c.Latency.P50, 1000*c.Latency.P99, c.AddedP50Us, c.AddedP99Us,
				pl.ProxyCPUUs, rec.ProxyCPUUs, c.ProxyCPUUs)
		}
		maxOther, repeated := 0.0, 0
		for _, lv := range m.Levels {
			for _, c := range lv.Configs {
				for _, r := range c.Runs {
					maxOther = max(maxOther, r.OtherCPU)
					repeated += r.Attempts - 1
				}
			}
		}
		fmt.Fprintf(w, "\nNoise: other processes used at most %.2f cores during a kept run; %d attempts repeated because they used more than %.2f.\n", maxOther, repeated, noisyOtherCPU)
		fmt.Fprintf(w, "\nProxy child: exchanges recorded %v, objects published %d, NDJSON %s, subscriber dropped %d, findings %v, peak RSS %s.\n\n",
			m.ProxyStats.Exchanges, m.ProxyStats.Published, mib(float64(m.ProxyStats.Written)), m.ProxyStats.Dropped, m.ProxyStats.Findings, mib(float64(m.ProxyStats.PeakRSS)))
	}
}
