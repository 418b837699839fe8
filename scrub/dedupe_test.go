package scrub

import (
	"errors"
	"math/rand/v2"
	"os"
	"testing"
)

// TestDupSetMatchesMap adds random keys, a third of them repeats of earlier
// ones (recent and old, so that they are found in the table and in the runs),
// to a set with a budget small enough to spill and merge many times, and
// checks every answer against a map.
func TestDupSetMatchesMap(t *testing.T) {
	for _, tc := range []struct{ budget, n int64 }{{minDuplicateMemory, 20_000}, {64 << 10, 100_000}} {
		budget, n := tc.budget, int(tc.n)
		dir := t.TempDir()
		d := newDupSet(budget, dir)
		rng := rand.New(rand.NewPCG(1, uint64(budget)))
		exact := map[uint64]bool{}
		var added []uint64
		for i := 0; i < n; i++ {
			var k uint64
			switch p := rng.IntN(100); {
			case p < 20 && len(added) > 0:
				k = added[rng.IntN(len(added))] // anywhere before
			case p < 33 && len(added) > 0:
				k = added[len(added)-1-rng.IntN(min(len(added), 100))] // recent
			case p < 40:
				k = 12125550000 + rng.Uint64N(10000) // one exchange: close keys
			default:
				k = 1 + rng.Uint64N(1<<50)
			}
			got, err := d.add(k)
			if err != nil {
				t.Fatal(err)
			}
			if want := exact[k]; got != want {
				t.Fatalf("budget %d, add #%d (%d): got seen %v, want %v", budget, i, k, got, want)
			}
			exact[k] = true
			added = append(added, k)
		}
		if d.nextRun <= maxRuns+1 {
			t.Errorf("budget %d: %d runs written; the test needs merges", budget, d.nextRun)
		}
		if len(d.runs) > maxRuns {
			t.Errorf("budget %d: %d runs kept, want at most %d", budget, len(d.runs), maxRuns)
		}
		if err := d.close(); err != nil {
			t.Fatal(err)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Errorf("budget %d: close left %d entries in the temp dir", budget, len(ents))
		}
	}
}

// TestDupSetInMemory checks that a set within its budget writes nothing.
func TestDupSetInMemory(t *testing.T) {
	dir := t.TempDir()
	d := newDupSet(DefaultDuplicateMemory, dir)
	for k := uint64(1); k <= 100_000; k++ {
		if seen, err := d.add(k); err != nil || seen {
			t.Fatalf("add(%d) = %v, %v", k, seen, err)
		}
		if seen, _ := d.add(k); !seen {
			t.Fatalf("second add(%d): not seen", k)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 || d.nextRun != 0 {
		t.Errorf("%d entries, %d runs: want none", len(ents), d.nextRun)
	}
	_ = d.close()
}

// TestDupSetSpillError checks that a spill that cannot create its directory
// is an error, not a missed duplicate.
func TestDupSetSpillError(t *testing.T) {
	d := newDupSet(minDuplicateMemory, t.TempDir()+"/missing/dir")
	var err error
	for k := uint64(1); err == nil && k < 100_000; k++ {
		_, err = d.add(k)
	}
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("got %v, want a not-exist error", err)
	}
	_ = d.close()
}

// BenchmarkDupSetSpilled adds 3x as many keys as the table holds (3%
// repeats), as a 10M-row file does with the default budget: the later keys go
// through the bloom filter, and repeats and false positives read the runs.
func BenchmarkDupSetSpilled(b *testing.B) {
	const budget = 1 << 20
	n := newDupSet(budget, "").maxKeys * 3
	rng := rand.New(rand.NewPCG(1, 2))
	keys := make([]uint64, n)
	for i := range keys {
		keys[i] = 1 + rng.Uint64N(1<<50)
		if i > 0 && rng.IntN(100) < 3 {
			keys[i] = keys[rng.IntN(i)]
		}
	}
	dir := b.TempDir()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d := newDupSet(budget, dir)
		for _, k := range keys {
			if _, err := d.add(k); err != nil {
				b.Fatal(err)
			}
		}
		_ = d.close()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/key")
}
