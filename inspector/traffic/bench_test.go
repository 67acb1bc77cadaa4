package traffic

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// BenchmarkProxyOverhead measures what the proxy adds to a request against a small
// local upstream that answers with a Set-Cookie, for requests carrying a session
// cookie. Direct and proxied requests alternate, so both see the same machine:
//   - sequential: one client; the added latency at the 50th and 99th percentile and
//     the throughput ratio of one request at a time.
//   - parallel: b.RunParallel clients (GOMAXPROCS x -cpu x 8 goroutines, each on its
//     own kept-alive connection), each alternating direct and proxied requests; the
//     throughput ratio is the ratio of the mean latencies, which is what each
//     closed-loop client would get from either alone.
//
// The sink here only takes the exchange; `go run ./cmd/ssbench -phases proxy`
// measures capture into an inspector, with the load generator, the upstream and the
// proxy in separate processes.
func BenchmarkProxyOverhead(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Set-Cookie", "PHPSESSID=q3hgl8v5c0m2k7ut3ohs1f2km9; Path=/; HttpOnly")
		io.WriteString(w, "ok")
	}))
	defer up.Close()
	var sunk atomic.Int64
	p, err := NewProxy(ProxyConfig{Upstreams: []*url.URL{mustURL(b, up.URL)}, Sink: func(*model.Exchange) { sunk.Add(1) }})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()

	do := func(b *testing.B, c *http.Client, u string) time.Duration {
		req, _ := http.NewRequest("GET", u, nil)
		req.Header.Set("Cookie", "PHPSESSID=q3hgl8v5c0m2k7ut3ohs1f2km9; theme=dark")
		t0 := time.Now()
		res, err := c.Do(req)
		if err != nil {
			b.Error(err)
			return 0
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return time.Since(t0)
	}
	direct, proxied := up.URL+"/x?a=1", "http://"+ln.Addr().String()+"/x?a=1"
	report := func(b *testing.B, d, q []time.Duration) {
		sum := func(xs []time.Duration) (s time.Duration) {
			for _, x := range xs {
				s += x
			}
			return s
		}
		if len(d) == 0 || len(q) == 0 {
			return
		}
		ratio := float64(sum(d)) / float64(len(d)) / (float64(sum(q)) / float64(len(q)))
		slices.Sort(d)
		slices.Sort(q)
		pct := func(xs []time.Duration, p float64) time.Duration { return xs[int(float64(len(xs)-1)*p)] }
		us := func(x time.Duration) float64 { return float64(x) / float64(time.Microsecond) }
		b.ReportMetric(us(pct(q, 0.50)-pct(d, 0.50)), "p50-added-µs")
		b.ReportMetric(us(pct(q, 0.99)-pct(d, 0.99)), "p99-added-µs")
		b.ReportMetric(us(pct(d, 0.50)), "p50-direct-µs")
		b.ReportMetric(us(pct(d, 0.99)), "p99-direct-µs")
		b.ReportMetric(ratio, "throughput-ratio")
	}

	b.Run("sequential", func(b *testing.B) {
		c := client()
		do(b, c, direct)
		do(b, c, proxied)
		d := make([]time.Duration, 0, b.N)
		q := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for range b.N {
			d = append(d, do(b, c, direct))
			q = append(q, do(b, c, proxied))
		}
		b.StopTimer()
		report(b, d, q)
	})

	b.Run("parallel", func(b *testing.B) {
		b.SetParallelism(8)
		var mu sync.Mutex
		var d, q []time.Duration
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			c := client()
			var md, mq []time.Duration
			for pb.Next() {
				md = append(md, do(b, c, direct))
				mq = append(mq, do(b, c, proxied))
			}
			c.CloseIdleConnections()
			mu.Lock()
			d, q = append(d, md...), append(q, mq...)
			mu.Unlock()
		})
		b.StopTimer()
		report(b, d, q)
	})
	if sunk.Load() == 0 {
		b.Error("no exchange reached the sink")
	}
}

// BenchmarkReadHAR100MB streams a generated ~100 MB HAR (bodies included) and reports
// the throughput and the peak heap growth while reading it.
func BenchmarkReadHAR100MB(b *testing.B) {
	path := filepath.Join(b.TempDir(), "100mb.har")
	size := writeLargeHAR(b, path, 20000, 4500)
	b.SetBytes(size)
	var peak uint64
	b.ResetTimer()
	for range b.N {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		hs := newHeapSampler(100)
		if _, err := ReadHAR(f, HAROptions{}, func(*model.Exchange) error { hs.sample(); return nil }); err != nil {
			b.Fatal(err)
		}
		f.Close()
		peak = max(peak, hs.growth())
	}
	b.ReportMetric(float64(peak), "peak-heap-B")
	b.ReportMetric(float64(size), "file-B")
}
