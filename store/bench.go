package store

import (
	"math/rand/v2"
	"testing"
	"time"

	"callfilter/filter"
)

// BenchSweep measures SweepList of n expired entries spread as refusals are
// (random numbers across the whole +1 plan, a few per million-number
// block), against RemoveFromList of the same keys in the same run: the
// baseline, since a sweep is a removal that must first find its keys.
// Each iteration fills the list afresh, untimed. It reports keys/s.
func BenchSweep(b *testing.B, st filter.ExpiringListStore, n int) {
	ctx := b.Context()
	rng := rand.New(rand.NewPCG(7, 8))
	keys := make([]uint64, n)
	for i := range keys {
		keys[i] = 12_000_000_000 + rng.Uint64N(8_000_000_000)
	}
	expires := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, mode := range []string{"sweep", "remove"} {
		b.Run(mode, func(b *testing.B) {
			list := "bench-" + mode
			for b.Loop() {
				b.StopTimer()
				if _, err := st.AddToListUntil(ctx, list, keys, expires); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				var removed int
				var err error
				if mode == "sweep" {
					removed, err = st.SweepList(ctx, list, expires)
				} else {
					removed, err = st.RemoveFromList(ctx, list, keys)
				}
				if err != nil || removed == 0 {
					b.Fatalf("%s: removed %d, %v", mode, removed, err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "keys/s")
		})
	}
}
