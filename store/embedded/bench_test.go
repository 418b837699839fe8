package embedded_test

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"callfilter/filter"
	"callfilter/store"
	"callfilter/store/embedded"
)

// BenchmarkFacts reads the facts of one check: a number on none of the 4
// lists queried (each of 100k numbers), with one consent and one relationship.
func BenchmarkFacts(b *testing.B) {
	s := mustOpen(b, filepath.Join(b.TempDir(), "callfilter.db"), embedded.Options{})
	ctx := b.Context()
	rng := rand.New(rand.NewPCG(1, 1))
	lists := []string{"federal", "state-fl", "company", "litigators"}
	for _, l := range lists {
		keys := make([]uint64, 100_000)
		for i := range keys {
			keys[i] = 12_000_000_000 + rng.Uint64N(1_000_000_000)
		}
		if _, err := s.AddToList(ctx, l, keys); err != nil {
			b.Fatal(err)
		}
	}
	at := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	subj := subject(1)
	if err := s.PutConsent(ctx, filter.Consent{Subject: subj, Last4: "0134", Seller: "acme", Purpose: "insurance",
		Channel: filter.ChannelCall, GrantedAt: at, Source: "web", Evidence: "form 7"}); err != nil {
		b.Fatal(err)
	}
	if err := s.PutRelationship(ctx, filter.Relationship{Subject: subj, Last4: "0134", Seller: "acme",
		Kind: filter.RelationshipPurchase, At: at}); err != nil {
		b.Fatal(err)
	}
	q := filter.FactsQuery{
		Key: 13_000_000_001, Lists: lists, Subject: subj, Seller: "acme", Purpose: "insurance",
		Channel: filter.ChannelCall, AttemptsSince: at.Add(-24 * time.Hour),
	}
	b.ReportAllocs()
	for b.Loop() {
		f, err := s.Facts(ctx, q)
		if err != nil || len(f.Consents) != 1 || len(f.Relationships) != 1 || f.ListState("federal") != filter.ListAbsent {
			b.Fatalf("Facts: %+v, %v", f, err)
		}
	}
}

// BenchmarkReserve reserves attempts from many goroutines at once (as many
// dialers do), each for a number of its own under a cap of 3 a day: each
// reservation is a durable write, and concurrent ones share a transaction and
// its fsync.
func BenchmarkReserve(b *testing.B) {
	s := mustOpen(b, filepath.Join(b.TempDir(), "callfilter.db"), embedded.Options{})
	at := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	caps := []filter.Cap{{Max: 3, Window: 24 * time.Hour}}
	var next atomic.Int64
	b.SetParallelism(32)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := int(next.Add(1))
			ok, err := s.Reserve(b.Context(), filter.ReserveQuery{Subject: subject(n / 3), Seller: "acme",
				Purpose: "insurance", Channel: filter.ChannelCall, At: at.Add(time.Duration(n) * time.Millisecond), Caps: caps})
			if err != nil || !ok {
				b.Errorf("Reserve: %v, %v", ok, err)
				return
			}
		}
	})
}

// BenchmarkReserveSerial is one reservation at a time: the latency of a lone
// durable write (the batch delay plus one fsync).
func BenchmarkReserveSerial(b *testing.B) {
	s := mustOpen(b, filepath.Join(b.TempDir(), "callfilter.db"), embedded.Options{})
	at := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	caps := []filter.Cap{{Max: 3, Window: 24 * time.Hour}}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n++
		ok, err := s.Reserve(b.Context(), filter.ReserveQuery{Subject: subject(n / 3), Seller: "acme",
			Purpose: "insurance", Channel: filter.ChannelCall, At: at.Add(time.Duration(n) * time.Millisecond), Caps: caps})
		if err != nil || !ok {
			b.Fatalf("Reserve: %v, %v", ok, err)
		}
	}
}

// BenchmarkAddToList imports batches of 100k new random numbers into a
// growing list; ns/key is the cost per number.
func BenchmarkAddToList(b *testing.B) {
	const batch = 100_000
	s := mustOpen(b, filepath.Join(b.TempDir(), "callfilter.db"), embedded.Options{})
	rng := rand.New(rand.NewPCG(2, 2))
	keys := make([]uint64, batch)
	b.ReportAllocs()
	added := 0
	for b.Loop() {
		b.StopTimer()
		for i := range keys {
			keys[i] = 10_000_000_000 + rng.Uint64N(90_000_000_000)
		}
		b.StartTimer()
		n, err := s.AddToList(b.Context(), "federal", keys)
		if err != nil {
			b.Fatal(err)
		}
		added += n
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/key")
	b.ReportMetric(float64(added)/float64(b.N), "added/op")
}

// BenchmarkSweepList: store.BenchSweep of 100k expired entries.
func BenchmarkSweepList(b *testing.B) {
	store.BenchSweep(b, mustOpen(b, filepath.Join(b.TempDir(), "callfilter.db"), embedded.Options{}), 100_000)
}

// BenchmarkPruneAttempts: PruneAttempts over 20,000 attempts of 10,000
// numbers, deleting half ("prune"), against the same call with a bound
// before every attempt ("scan": it reads every page and deletes nothing),
// the floor, in the same run. Each iteration records the attempts in a new
// store (32 reservers at a time, sharing fsyncs) and then prunes: ns/op is
// both, attempts/s the prune alone (timed apart, so that the benchmark's
// own iteration count, which the slow set-up bounds, stays small).
func BenchmarkPruneAttempts(b *testing.B) {
	const numbers = 10_000
	at := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, mode := range []string{"prune", "scan"} {
		b.Run(mode, func(b *testing.B) {
			ctx := b.Context()
			bound := at.Add(-time.Hour) // the older attempt of each number
			if mode == "scan" {
				bound = at.Add(-48 * time.Hour)
			}
			dir := b.TempDir()
			round := 0
			var pruning time.Duration
			for b.Loop() {
				round++
				s := mustOpen(b, filepath.Join(dir, fmt.Sprintf("callfilter-%d.db", round)), embedded.Options{})
				var wg sync.WaitGroup
				var next atomic.Int64
				for range 32 {
					wg.Go(func() {
						for n := int(next.Add(1)); n <= 2*numbers; n = int(next.Add(1)) {
							when := at.Add(-2 * time.Hour) // odd n: older, even n: newer
							if n%2 == 0 {
								when = at
							}
							q := filter.ReserveQuery{Subject: subject(n / 2), Seller: "acme", Purpose: "insurance", Channel: filter.ChannelCall, At: when}
							if _, err := s.Reserve(ctx, q); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				start := time.Now()
				n, err := s.PruneAttempts(ctx, bound)
				pruning += time.Since(start)
				if want := map[string]int{"prune": numbers, "scan": 0}[mode]; err != nil || n != want {
					b.Fatalf("%s: pruned %d, %v; want %d", mode, n, err, want)
				}
			}
			b.ReportMetric(float64(2*numbers*round)/pruning.Seconds(), "attempts/s")
		})
	}
}
