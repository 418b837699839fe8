//go:build !unix

package listfeed

import "time"

// cpuTime is not measured here; the CPU-rate metrics are then left out.
func cpuTime() time.Duration { return 0 }
