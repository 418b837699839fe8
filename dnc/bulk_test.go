package dnc

import (
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/bits-and-blooms/bloom/v3"
)

// TestBulkAdderMatchesAdd: the bulk adder sets exactly the bits Add sets,
// for filters of several sizes, with batches that flush in both ways.
func TestBulkAdderMatchesAdd(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		capacity uint
		fp       float64
		keys     int
		batch    int
	}{
		{1000, 1e-4, 10, bulkBatch},              // one small flush
		{1000, 1e-4, 5000, smallFlush * 2},       // grouped flushes and a small last one
		{200_000, 1e-4, 150_000, 1 << 16},        // many regions
		{3_000_000, 1e-3, 300_000, 1 << 20},      // a filter of several megabytes
		{100, 0.05, 1000, smallFlush + 1},        // overfull, tiny filter
		{50_000, 1e-6, 50_000, smallFlush/2 + 7}, // only small flushes
	} {
		want := bloom.NewWithEstimates(tc.capacity, tc.fp)
		got := bloom.NewWithEstimates(tc.capacity, tc.fp)
		a := newBulkAdder(got)
		a.batch = tc.batch
		keys := make([]uint64, tc.keys)
		for i := range keys {
			keys[i] = 10_000_000_000 + rng.Uint64N(1e12)
			b := keyBytes(keys[i])
			want.Add(b[:])
			a.add(keys[i])
		}
		a.flush()
		if !got.Equal(want) {
			t.Errorf("capacity %d, fp %g, %d keys, batch %d: the filters differ", tc.capacity, tc.fp, tc.keys, tc.batch)
		}
		for _, k := range keys {
			if b := keyBytes(k); !got.Test(b[:]) {
				t.Fatalf("capacity %d: key %d tests absent", tc.capacity, k)
			}
		}
	}
}

// BenchmarkLoadBulk compares filling a filter of CALLFILTER_BULK_KEYS keys
// (default 20M: 46 MiB at 1e-4) with Add and with the bulk adder.
func BenchmarkLoadBulk(b *testing.B) {
	n := 20_000_000
	if v, err := strconv.Atoi(os.Getenv("CALLFILTER_BULK_KEYS")); err == nil && v > 0 {
		n = v
	}
	for _, mode := range []string{"add", "bulk"} {
		b.Run(mode, func(b *testing.B) {
			for b.Loop() {
				f := bloom.NewWithEstimates(uint(n), 1e-4)
				a := newBulkAdder(f)
				for i := range uint64(n) {
					k := 12_000_000_000 + i*7919%(1<<40)
					if mode == "add" {
						kb := keyBytes(k)
						f.Add(kb[:])
					} else {
						a.add(k)
					}
				}
				a.flush()
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "keys/s")
		})
	}
}
