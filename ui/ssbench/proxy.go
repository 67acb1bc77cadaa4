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
// the upstream directly, nginx in front of it (when installed), a plain
// httputil.ReverseProxy, and sessionscope's capturing proxy.
var proxyConfigs = []string{"direct", "nginx", "plain", "capture"}

// proxyClients are the shapes of the load, each run at every concurrency:
//   - one: one browser (one address and User-Agent) with a session cookie per
//     connection, as an SPA's parallel requests or users behind one NAT;
//   - nocookie: one address and User-Agent that never sends a cookie back, as wrk or
//     ab: the app starts a new session on every request;
//   - many: 64 distinct browsers (a User-Agent each), each with its own session
//     cookie, taken in turn across the connections.
var proxyClients = []string{"one", "nocookie", "many"}

func isProxyClients(name string) bool { return slices.Contains(proxyClients, name) }

// manyClients is how many distinct browsers the "many" load has.
const manyClients = 64

// proxyResult is the proxy phase: the same closed-loop load against a small local
// upstream, directly and through each proxy, interleaved.
type proxyResult struct {
	Duration time.Duration `json:"duration_ns"` // measured part of each run
	Warmup   time.Duration `json:"warmup_ns"`
	Rounds   int           `json:"rounds"`
	Nginx    string        `json:"nginx"` // its version, or why it was not run
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

// proxyLevel is one load shape at one concurrency.
type proxyLevel struct {
	Clients string               `json:"clients"` // one of proxyClients
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
	// PlainRatio is the median of the per-round ratios to plain (the same round's
	// httputil.ReverseProxy run); PlainRatioMin and PlainRatioMax their range.
	PlainRatio    float64 `json:"plain_ratio_median"`
	PlainRatioMin float64 `json:"plain_ratio_min"`
	PlainRatioMax float64 `json:"plain_ratio_max"`
	Latency       latency `json:"latency"` // every run's requests pooled
	// AddedP50Us and AddedP99Us are this config's pooled percentile minus direct's,
	// µs; OverPlainP50Us and OverPlainP99Us minus plain's.
	AddedP50Us     float64 `json:"added_p50_us"`
	AddedP99Us     float64 `json:"added_p99_us"`
	OverPlainP50Us float64 `json:"over_plain_p50_us"`
	OverPlainP99Us float64 `json:"over_plain_p99_us"`
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
	ProxyCPU    float64 `json:"proxy_cores"`    // the proxy child (nginx's own processes for nginx)
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
	res.Nginx = nginxVersion()
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
	targets := map[string]string{"direct": up.ready["upstream"], "plain": px.ready["plain"], "capture": px.ready["capture"]}
	pids := map[string]int{"plain": px.pid(), "capture": px.pid()}
	configs := []string{}
	for _, name := range proxyConfigs {
		if name != "nginx" {
			configs = append(configs, name)
			continue
		}
		if !strings.HasPrefix(res.Nginx, "nginx/") {
			continue // not installed: the table says so
		}
		ng, err := startNginx(up.ready["upstream"], proxyCPU)
		if err != nil {
			return nil, err
		}
		defer ng.stop()
		targets["nginx"], pids["nginx"] = ng.url, ng.pid()
		configs = append(configs, name)
	}
	fmt.Fprintf(log, "ssbench: proxy: %s (GOMAXPROCS load %d, upstream %d, proxy %d); %s\n", m.Layout, m.LoadProcs, m.UpstreamProcs, m.ProxyProcs, res.Nginx)

	var err2 error
	for _, clients := range cfg.ProxyClients {
		for _, conns := range cfg.ProxyConns {
			lv := proxyLevel{Clients: clients, Conns: conns}
			byName := map[string]*proxyConfigResult{}
			for _, name := range configs {
				c := &proxyConfigResult{Name: name}
				byName[name] = c
				lv.Configs = append(lv.Configs, c)
			}
			for round := 0; round < res.Rounds && ctx.Err() == nil; round++ {
				for i := range configs {
					name := configs[(i+round)%len(configs)]
					var run proxyRun
					var lat []time.Duration
					for attempt := 1; attempt <= 3 && ctx.Err() == nil; attempt++ {
						waitQuietFor(5*time.Second, 0.15, up.pid(), px.pid(), pids["nginx"])
						r, l := drive(ctx, targets[name], clients, conns, res.Warmup, res.Duration, up.pid(), pids[name], px.pid(), pids["nginx"])
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
					fmt.Fprintf(log, "ssbench: proxy: %s %-8s conns %2d round %d %-7s %8.0f req/s  p50 %6.0f µs  p99 %6.0f µs  cores load %.2f upstream %.2f proxy %.2f other %.2f (attempt %d)  errors %d\n",
						pin, clients, conns, round+1, name, run.RPS, run.P50Us, run.P99Us, run.LoadCPU, run.UpstreamCPU, run.ProxyCPU, run.OtherCPU, run.Attempts, run.Errors)
					if run.Errors > 0 && err2 == nil {
						err2 = fmt.Errorf("%s, %s, %d connections: %d failed requests", name, clients, conns, run.Errors)
					}
				}
			}
			summarizeLevel(&lv)
			m.Levels = append(m.Levels, lv)
		}
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
	var plain *proxyConfigResult
	for _, c := range lv.Configs {
		if c.Name == "plain" {
			plain = c
		}
	}
	for _, c := range lv.Configs {
		var rps, ratios, overPlain, cpu []float64
		for i, r := range c.Runs {
			rps = append(rps, r.RPS)
			if i < len(direct.Runs) && direct.Runs[i].RPS > 0 {
				ratios = append(ratios, r.RPS/direct.Runs[i].RPS)
			}
			if plain != nil && i < len(plain.Runs) && plain.Runs[i].RPS > 0 {
				overPlain = append(overPlain, r.RPS/plain.Runs[i].RPS)
			}
			if r.RPS > 0 {
				cpu = append(cpu, 1e6*r.ProxyCPU/r.RPS)
			}
		}
		c.RPS, c.Ratio, c.ProxyCPUUs, c.PlainRatio = median(rps), median(ratios), median(cpu), median(overPlain)
		if len(ratios) > 0 {
			c.RatioMin, c.RatioMax = slices.Min(ratios), slices.Max(ratios)
		}
		if len(overPlain) > 0 {
			c.PlainRatioMin, c.PlainRatioMax = slices.Min(overPlain), slices.Max(overPlain)
		}
		c.Latency = summarize(c.lat)
	}
	for _, c := range lv.Configs {
		c.AddedP50Us = 1000 * (c.Latency.P50 - direct.Latency.P50)
		c.AddedP99Us = 1000 * (c.Latency.P99 - direct.Latency.P99)
		if plain != nil {
			c.OverPlainP50Us = 1000 * (c.Latency.P50 - plain.Latency.P50)
			c.OverPlainP99Us = 1000 * (c.Latency.P99 - plain.Latency.P99)
		}
	}
	for _, c := range lv.Configs {
		c.lat = nil
	}
}

// config returns the level's result for name, nil if it was not run.
func (lv *proxyLevel) config(name string) *proxyConfigResult {
	for _, c := range lv.Configs {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// sessionID is the session cookie of load worker i: 26 characters, as PHP's.
func sessionID(i int) string {
	s := fmt.Sprintf("ssbench%019d", i)
	return s[len(s)-26:]
}

// loadRequest is what one worker sends: its browser's User-Agent and cookie.
type loadRequest struct{ ua, cookie string }

// loadRequests are the requests worker w of conns sends in turn for the load shape
// clients (see proxyClients).
func loadRequests(clients string, w, conns int) []loadRequest {
	const ua = "Mozilla/5.0 (X11; Linux x86_64) ssbench"
	switch clients {
	case "nocookie":
		return []loadRequest{{ua: ua}}
	case "many":
		// Worker w takes the browsers w, w+conns, ...: every browser is driven, and
		// with fewer connections than browsers each connection serves several in turn.
		var out []loadRequest
		for c := w % manyClients; c < manyClients; c += max(1, conns) {
			out = append(out, loadRequest{ua: fmt.Sprintf("%s client-%02d", ua, c), cookie: "PHPSESSID=" + sessionID(c) + "; theme=dark"})
		}
		return out
	default: // one
		return []loadRequest{{ua: ua, cookie: "PHPSESSID=" + sessionID(w) + "; theme=dark"}}
	}
}

// drive runs a closed-loop load: conns workers, each on its own kept-alive connection,
// send GET /dashboard as the load shape clients says, and read the whole response,
// back to back, for warmup+dur. Requests that start after the warm-up and end within
// dur count. proxyPID is the process serving target (0 for direct); the CPU of
// ourPIDs does not count as other processes'.
func drive(ctx context.Context, target, clients string, conns int, warmup, dur time.Duration, upPID, proxyPID int, ourPIDs ...int) (proxyRun, []time.Duration) {
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
			var reqs []*http.Request
			for _, lr := range loadRequests(clients, w, conns) {
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, target+"/dashboard", nil)
				if err != nil {
					errs[w]++
					return
				}
				if lr.cookie != "" {
					req.Header.Set("Cookie", lr.cookie)
				}
				req.Header.Set("User-Agent", lr.ua)
				req.Header.Set("Accept", "text/html")
				reqs = append(reqs, req)
			}
			buf := make([]byte, 4096)
			out := make([]time.Duration, 0, 1<<14)
			for n := 0; ; n++ {
				t0 := time.Now()
				if !t0.Before(until) || ctx.Err() != nil {
					break
				}
				res, err := client.Do(reqs[n%len(reqs)])
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
	load0, up0, px0 := selfCPU(), procCPU(upPID), procTreeCPU(proxyPID)
	procs0 := procTimes()
	steal := startSteal()
	time.Sleep(time.Until(until))
	load1, up1, px1 := selfCPU(), procCPU(upPID), procTreeCPU(proxyPID)
	stolen := steal.fraction()
	ours := append([]int{os.Getpid(), upPID}, ourPIDs...)
	for pid := range procs0 {
		if proxyPID > 0 && parentPID(pid) == proxyPID {
			ours = append(ours, pid) // nginx's worker
		}
	}
	others := othersCPU(procs0, procTimes(), ours...)
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

// proxyTarget is the goal: sessionscope's proxy, capture and live rules on, at least
// this share of a plain httputil.ReverseProxy's throughput.
const proxyTarget = 0.8

// proxyAddedP50Us is the goal for sessionscope's added p50 at 32 connections, µs.
const proxyAddedP50Us = 1000

var proxyClientsText = map[string]string{
	"one":      "one client, a session cookie per connection",
	"nocookie": "one client, no cookie sent back (wrk-like)",
	"many":     "64 clients, each its own cookie",
}

// writeProxyMarkdown prints the proxy phase's tables.
func writeProxyMarkdown(w io.Writer, p *proxyResult) {
	fmt.Fprintf(w, "### Proxy throughput and latency: closed-loop GET /dashboard (Set-Cookie and a %d-byte page back), direct, through nginx, a plain httputil.ReverseProxy and sessionscope, interleaved (%d rounds of %.1f s after %.1f s warm-up; medians, per-round ratio range)\n\n",
		len(upstreamBody), p.Rounds, p.Duration.Seconds(), p.Warmup.Seconds())
	fmt.Fprintf(w, "nginx: %s, 1 worker, keep-alive upstream pool, no access log. plain: `httputil.ReverseProxy` with `Rewrite` (SetURL, SetXForwarded), defaults otherwise, recording nothing. sessionscope: `traffic.Proxy` with an inspector as sink (live cookie rules, hub, NDJSON subscriber), as `watch --json --proxy-to` runs it. Clients: one = one address and User-Agent, each connection with its own session cookie (an SPA, a NAT); nocookie = one address and User-Agent that never returns the cookie (wrk, ab), so the app starts a session on every request; many = %d User-Agents, each with its own cookie, taken in turn by the connections. Added latency is against direct; \"over plain\" against the plain proxy in the same rounds.\n\n",
		p.Nginx, manyClients)
	for _, m := range p.Modes {
		fmt.Fprintf(w, "#### %s (GOMAXPROCS: load %d, upstream %d, proxy %d)\n\n", m.Layout, m.LoadProcs, m.UpstreamProcs, m.ProxyProcs)
		fmt.Fprintf(w, "| clients | conns | direct req/s | nginx req/s | plain req/s | sessionscope req/s | sessionscope / plain (range) | target ≥ %.1f | sessionscope p50 / p99 µs | added p50 / p99 µs (vs direct) | over plain p50 / p99 µs | proxy CPU µs/req plain / sessionscope |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n", proxyTarget)
		for _, lv := range m.Levels {
			d, ng, pl, c := lv.config("direct"), lv.config("nginx"), lv.config("plain"), lv.config("capture")
			if d == nil || pl == nil || c == nil {
				continue
			}
			nginx := "—"
			if ng != nil {
				nginx = fmt.Sprintf("%.0f", ng.RPS)
			}
			goal := passFail(c.PlainRatio >= proxyTarget)
			if lv.Conns == 32 {
				goal += fmt.Sprintf("; added p50 ≤ 1 ms: %s", passFail(c.AddedP50Us <= proxyAddedP50Us))
			}
			fmt.Fprintf(w, "| %s | %d | %.0f | %s | %.0f | %.0f | %.2f (%.2f–%.2f) | %s | %.0f / %.0f | %.0f / %.0f | %.0f / %.0f | %.1f / %.1f |\n",
				proxyClientsText[lv.Clients], lv.Conns, d.RPS, nginx, pl.RPS, c.RPS, c.PlainRatio, c.PlainRatioMin, c.PlainRatioMax, goal,
				1000*c.Latency.P50, 1000*c.Latency.P99, c.AddedP50Us, c.AddedP99Us, c.OverPlainP50Us, c.OverPlainP99Us,
				pl.ProxyCPUUs, c.ProxyCPUUs)
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
