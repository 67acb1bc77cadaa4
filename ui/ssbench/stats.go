package main

import (
	"runtime/metrics"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// latency summarises durations in milliseconds.
type latency struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p999_ms"`
	Max   float64 `json:"max_ms"`
	Min   float64 `json:"min_ms"`
}

func summarize(d []time.Duration) latency {
	if len(d) == 0 {
		return latency{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	q := func(p float64) float64 { return ms(s[int(p*float64(len(s)-1))]) }
	return latency{Count: len(s), P50: q(0.50), P90: q(0.90), P99: q(0.99), P999: q(0.999), Max: ms(s[len(s)-1]), Min: ms(s[0])}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// sample is one point of the ingest time series.
type sample struct {
	T         float64 `json:"t_s"`       // since the loader started
	Written   int64   `json:"written"`   // SETEX acknowledged by Redis
	Processed int64   `json:"processed"` // raw notifications sessionscope took in
	Emitted   int64   `json:"emitted"`
	HeapBytes uint64  `json:"heap_bytes"` // live+unswept heap objects
}

// sampler records the progress of a run at a fixed interval, bounded in count.
type sampler struct {
	mu      sync.Mutex
	samples []sample
	stopC   chan struct{}
	done    chan struct{}
}

func startSampler(start time.Time, every time.Duration, maxSamples int, written *atomic.Int64, processed, emitted func() int64) *sampler {
	s := &sampler{stopC: make(chan struct{}), done: make(chan struct{})}
	heap := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-s.stopC:
				return
			case now := <-t.C:
				metrics.Read(heap)
				var hb uint64
				if heap[0].Value.Kind() == metrics.KindUint64 {
					hb = heap[0].Value.Uint64()
				}
				s.mu.Lock()
				if len(s.samples) < maxSamples {
					s.samples = append(s.samples, sample{T: now.Sub(start).Seconds(), Written: written.Load(),
						Processed: processed(), Emitted: emitted(), HeapBytes: hb})
				}
				s.mu.Unlock()
			}
		}
	}()
	return s
}

func (s *sampler) stop() []sample {
	close(s.stopC)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.samples
}

// peakRate is the highest increase of f over any window of the samples.
func peakRate(ss []sample, window time.Duration, f func(sample) int64) float64 {
	best := 0.0
	j := 0
	for i := range ss {
		for j < i && ss[i].T-ss[j].T > window.Seconds() {
			j++
		}
		if dt := ss[i].T - ss[j].T; dt >= window.Seconds()*0.9 && dt > 0 {
			best = max(best, float64(f(ss[i])-f(ss[j]))/dt)
		}
	}
	return best
}

// stealMeter measures, over an interval, the share of the machine's CPU time the
// hypervisor stole and the cores the whole machine kept busy (every process).
type stealMeter struct {
	start               time.Time
	total, idle, stolen time.Duration
}

func startSteal() stealMeter {
	t, i, s := cpuTimes()
	return stealMeter{time.Now(), t, i, s}
}

// fraction is the stolen share of all CPU time since start.
func (m stealMeter) fraction() float64 {
	t, _, s := cpuTimes()
	if t <= m.total {
		return 0
	}
	return float64(s-m.stolen) / float64(t-m.total)
}

// busyCores is how many cores the machine kept busy since start, steal excluded.
func (m stealMeter) busyCores() float64 {
	t, i, s := cpuTimes()
	wall := time.Since(m.start)
	if wall <= 0 {
		return 0
	}
	return float64((t-m.total)-(i-m.idle)-(s-m.stolen)) / float64(wall)
}

// waitQuiet waits, at most limit, until the processes other than ssbench and its Redis
// use less than threshold cores over half a second, so that a run does not start while
// something else on the machine is busy. It returns the last measured share.
func waitQuiet(limit time.Duration, threshold float64, redisPID int) float64 {
	deadline := time.Now().Add(limit)
	others := 0.0
	for time.Now().Before(deadline) {
		m := startSteal()
		self0, redis0 := selfCPU(), procCPU(redisPID)
		time.Sleep(500 * time.Millisecond)
		wall := time.Since(m.start).Seconds()
		ours := ((selfCPU() - self0) + (procCPU(redisPID) - redis0)).Seconds() / wall
		others = m.busyCores() - ours
		if others < threshold {
			return others
		}
	}
	return others
}
