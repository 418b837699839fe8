package dnc

import (
	"math/rand/v2"
	"testing"

	"github.com/bits-and-blooms/bloom/v3"
)

// TestLocationsServeEveryK backs the package comment's claim about hashing
// once per key: bloom.Locations(key, K)[:k] tests exactly as Test does on a
// filter of any m and any k <= K, full or empty. (Screen does not use it
// while Locations allocates; this keeps the claim checked for when it can.)
func TestLocationsServeEveryK(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var fs []*bloom.BloomFilter
	for _, c := range []struct {
		n uint
		p float64
	}{{1000, 1e-2}, {5000, 1e-4}, {1 << 16, 1e-6}, {777, 0.3}, {100, 1e-9}} {
		f := bloom.NewWithEstimates(c.n, c.p)
		for i := uint(0); i < c.n; i++ {
			b := keyBytes(rng.Uint64N(4 * uint64(c.n)))
			f.Add(b[:])
		}
		fs = append(fs, f)
	}
	fs = append(fs, bloom.New(64, 1), bloom.New(1<<20+7, 40))
	var maxK uint
	for _, f := range fs {
		maxK = max(maxK, f.K())
	}
	present := 0
	for i := 0; i < 50_000; i++ {
		b := keyBytes(rng.Uint64N(1 << 18))
		locs := bloom.Locations(b[:], maxK)
		for _, f := range fs {
			want := f.Test(b[:])
			if got := f.TestLocations(locs[:f.K()]); got != want {
				t.Fatalf("m %d, k %d, key %x: TestLocations says %v, Test %v", f.Cap(), f.K(), b, got, want)
			}
			if want {
				present++
			}
		}
	}
	if present == 0 {
		t.Fatal("no key tested present: the filters are not being exercised")
	}
}
