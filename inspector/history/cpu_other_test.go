//go:build !unix

package history

import "time"

// processCPU is not measured here: the benchmarks report 0 CPU per object.
func processCPU() time.Duration { return 0 }
