//go:build !unix

package scrub_test

import "time"

// cpuTime is not measured here: the benchmarks then report no CPU metric.
func cpuTime() time.Duration { return 0 }
