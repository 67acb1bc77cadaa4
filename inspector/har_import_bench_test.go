package inspector_test

import (
	"bytes"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/traffic/hartest"
)

// harScalingSizes are the capture sizes BenchmarkHARImportScaling imports side by
// side: 50,000 is the import cap (MaxHARImportExchanges).
var harScalingSizes = []int{2000, 16000, 50000}

// BenchmarkHARImportScaling imports generated captures of 2k, 16k and 50k entries
// (logins, redirects, a session per visit, cookies on several hosts; hartest) through
// ImportHAR, as the dashboard's upload does, in the same run. It reports the time per
// entry at each size and its ratio to 2k's (linear: about 1), the heap an import
// keeps per entry once the reader is gone (kept-B), and what the import budget
// charges for it (budget-B, HARImport.Bytes). Each iteration imports all three.
func BenchmarkHARImportScaling(b *testing.B) {
	hars := make([][]byte, len(harScalingSizes))
	for i, n := range harScalingSizes {
		var buf bytes.Buffer
		if err := hartest.WriteRealistic(&buf, n, hartest.Options{}); err != nil {
			b.Fatal(err)
		}
		hars[i] = buf.Bytes()
	}
	elapsed := make([]time.Duration, len(harScalingSizes))
	kept := make([]float64, len(harScalingSizes))
	counted := make([]float64, len(harScalingSizes))
	b.ResetTimer()
	for b.Loop() {
		for i, n := range harScalingSizes {
			// A fresh inspector per import: the bytes kept are this import's alone.
			in := inspector.New(idleStore{}, inspector.Config{})
			before := heapInUse()
			start := time.Now()
			imp, err := in.ImportHAR(bytes.NewReader(hars[i]), fmt.Sprintf("shop-%d.har", n))
			elapsed[i] += time.Since(start)
			if err != nil {
				b.Fatal(err)
			}
			if imp.Kept != n || len(imp.Findings) == 0 {
				b.Fatalf("%d entries: kept %d, %d findings", n, imp.Kept, len(imp.Findings))
			}
			kept[i] = float64(heapInUse()-before) / float64(n)
			counted[i] = float64(imp.Bytes) / float64(n) // what the budget charges
			runtime.KeepAlive(in)
		}
	}
	perEntry := func(i int) float64 {
		return float64(elapsed[i].Nanoseconds()) / float64(b.N) / float64(harScalingSizes[i])
	}
	for i, n := range harScalingSizes {
		b.ReportMetric(perEntry(i), fmt.Sprintf("ns/entry@%dk", n/1000))
		b.ReportMetric(elapsed[i].Seconds()/float64(b.N), fmt.Sprintf("s@%dk", n/1000))
		b.ReportMetric(kept[i], fmt.Sprintf("kept-B/entry@%dk", n/1000))
		b.ReportMetric(counted[i], fmt.Sprintf("budget-B/entry@%dk", n/1000))
		if i > 0 {
			b.ReportMetric(perEntry(i)/perEntry(0), fmt.Sprintf("ratio@%dk/2k", n/1000))
		}
	}
	b.ReportMetric(0, "ns/op") // each op is three imports of different sizes: meaningless
}

// heapInUse is the live heap after a full collection.
func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
