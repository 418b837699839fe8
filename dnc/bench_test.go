package dnc

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/bits-and-blooms/bloom/v3"

	"callfilter/filter"
)

// installFull gives the named list a filter sized for capacity keys and as
// full as one holding capacity keys: about half its bits set. Random words
// set each bit with probability 1/2, which tests like a filled filter for
// absent keys (the probes stop at the first clear bit) and takes milliseconds
// instead of the tens of seconds 10M Adds would.
func installFull(l *Lists, name string, capacity uint, rng *rand.Rand) {
	m, k := bloom.EstimateParameters(capacity, l.opts.FalsePositiveRate)
	words := make([]uint64, (m+63)/64)
	for i := range words {
		words[i] = rng.Uint64()
	}
	lst := l.list(name)
	lst.build.Lock()
	defer lst.build.Unlock()
	prev := lst.seal(l.opts.RecentKeys)
	// A count just under capacity, so that the few Adds below do not make
	// the worker rebuild it from the (empty) store in the middle of a run.
	count := int64(capacity - capacity/100)
	lst.publish(prev, snapshot{filter: bloom.FromWithM(words, m, k), count: count, capacity: capacity})
}

// benchLists returns 4 lists with 10M-key filters at capacity and a few keys
// in each list's recent set, as in production between folds.
func benchLists(b *testing.B, capacity uint) (*Lists, []string) {
	b.Helper()
	l := MustNew(b, newMemStore(), Options{})
	rng := rand.New(rand.NewPCG(1, 2))
	names := []string{"federal", "state", "company", "litigators"}
	for _, name := range names {
		installFull(l, name, capacity, rng)
		MustAdd(b, l, name, 12125550100, 13105550100, 14155550100)
	}
	return l, names
}

// BenchmarkScreen4Lists screens keys that are on none of 4 lists: the common
// case. 10M-key filters (24 MB each) miss the CPU caches; 1M-key filters
// mostly fit in them, which shows Screen's own overhead over bloom's Test.
func BenchmarkScreen4Lists(b *testing.B) {
	for _, c := range []struct {
		name     string
		capacity uint
	}{{"10M", 10_000_000}, {"1M", 1 << 20}} {
		b.Run(c.name, func(b *testing.B) { benchScreen4(b, c.capacity) })
	}
}

func benchScreen4(b *testing.B, capacity uint) {
	l, names := benchLists(b, capacity)
	rng := rand.New(rand.NewPCG(3, 4))
	keys := make([]uint64, 1<<16)
	for i := range keys {
		keys[i] = 10_000_000_000 + rng.Uint64N(90_000_000_000_000)
	}
	facts := make([]filter.ListFact, 0, len(names))
	maybe := make([]string, 0, len(names))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		facts, maybe = l.Screen(keys[i&(len(keys)-1)], names, facts[:0], maybe[:0])
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(names)), "ns/list")
}

func BenchmarkScreenParallel(b *testing.B) {
	l, names := benchLists(b, 10_000_000)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(rand.Uint64(), 0))
		facts := make([]filter.ListFact, 0, len(names))
		maybe := make([]string, 0, len(names))
		for pb.Next() {
			facts, maybe = l.Screen(10_000_000_000+rng.Uint64N(90_000_000_000_000), names, facts[:0], maybe[:0])
		}
	})
}

// BenchmarkAdd measures one opt-out: the memory insert, the in-memory store's
// write and, every RecentKeys adds, a background fold of a 1M-key filter.
func BenchmarkAdd(b *testing.B) {
	l := MustNew(b, newMemStore(), Options{})
	MustLoad(b, l, "dnc")
	ctx := context.Background()
	key := []uint64{0}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		key[0] = 10_000_000_000 + uint64(i)
		if _, err := l.Add(ctx, "dnc", key); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoad1M(b *testing.B) {
	st := newMemStore()
	rng := rand.New(rand.NewPCG(5, 6))
	keys := distinctKeys(rng, 1_000_000, map[uint64]bool{})
	ctx := context.Background()
	if _, err := st.AddToList(ctx, "dnc", keys); err != nil {
		b.Fatal(err)
	}
	l := MustNew(b, st, Options{})
	MustLoad(b, l, "dnc") // warms the store's sorted cache
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := l.Load(ctx, []string{"dnc"}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e6, "ns/key")
	s := statusOf(b, l, "dnc")
	b.Logf("%+v", s)
}

// BenchmarkBloomTest is the library's own cost, for comparison.
func BenchmarkBloomTest(b *testing.B) {
	for _, n := range []uint{1000, 1 << 20, 10_000_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			l := New(newMemStore(), Options{})
			defer l.Close()
			installFull(l, "x", n, rand.New(rand.NewPCG(7, 8)))
			f := l.list("x").snap.Load().filter
			rng := rand.New(rand.NewPCG(9, 10))
			b.ReportAllocs()
			for b.Loop() {
				k := keyBytes(rng.Uint64())
				f.Test(k[:])
			}
		})
	}
}
