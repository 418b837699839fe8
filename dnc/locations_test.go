package dnc

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/bits-and-blooms/bloom/v3"

	"callfilter/filter"
)

// TestLocationsServeEveryK backs the package comment's claim about hashing
// once per key: bloom.Locations(key, K)[:k] tests exactly as Test does on a
// filter of any m and any k <= K, full or empty. (Screen hashes with its
// own copy, keyHash, since Locations allocates; TestKeyHashMatchesBloom
// holds the copy to it.)
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

// TestKeyHashMatchesBloom holds keyHash to bloom's own hashing: the
// locations of random keys, and testHashed against Test on filters of many
// sizes and k, empty, half full and full. A mismatch would be a false
// "absent", which the start-up check (hashAgrees) also guards against.
func TestKeyHashMatchesBloom(t *testing.T) {
	if !hashAgrees {
		t.Fatal("keyHash disagrees with bloom.Locations: Screen has fallen back to Test; update hash.go to the library's hash")
	}
	rng := rand.New(rand.NewPCG(11, 12))
	for i := 0; i < 200_000; i++ {
		key := rng.Uint64()
		if i%2 == 0 {
			key = 10_000_000_000 + rng.Uint64N(90_000_000_000_000)
		}
		b := keyBytes(key)
		want := bloom.Locations(b[:], 20)
		h := keyHash(key)
		for j, w := range want {
			if got := keyLocation(&h, uint64(j)); got != w {
				t.Fatalf("key %d location %d: %d, bloom says %d", key, j, got, w)
			}
		}
	}
	var fs []*bloom.BloomFilter
	for _, c := range []struct {
		n uint
		p float64
	}{{1000, 1e-2}, {5000, 1e-4}, {1 << 16, 1e-6}, {777, 0.3}} {
		f := bloom.NewWithEstimates(c.n, c.p)
		for i := uint(0); i < c.n; i++ {
			b := keyBytes(rng.Uint64N(4 * uint64(c.n)))
			f.Add(b[:])
		}
		fs = append(fs, f)
	}
	full := bloom.New(1<<12+3, 5)
	for i := range full.BitSet().Len() {
		full.BitSet().Set(i)
	}
	fs = append(fs, bloom.New(64, 1), bloom.New(1<<20+7, 40), full)
	present, absent := 0, 0
	for i := 0; i < 100_000; i++ {
		key := rng.Uint64N(1 << 18)
		b := keyBytes(key)
		h := keyHash(key)
		for _, f := range fs {
			want := f.Test(b[:])
			if got := testHashed(f, &h); got != want {
				t.Fatalf("m %d, k %d, key %d: testHashed says %v, Test %v", f.Cap(), f.K(), key, got, want)
			}
			if want {
				present++
			} else {
				absent++
			}
		}
	}
	if present == 0 || absent == 0 {
		t.Fatalf("%d present, %d absent: the filters are not being exercised", present, absent)
	}
}

// TestScreenFallbackAgrees: with keyHash out of step with the library
// (hashAgrees false, as after an upgrade that changed bloom's hash), Screen
// tests each filter with its own Test and answers exactly as the hashed path
// does, over many lists (more than one probing batch), listed keys, keys
// only in the recent sets and keys on no list.
func TestScreenFallbackAgrees(t *testing.T) {
	st := newMemStore()
	rng := rand.New(rand.NewPCG(13, 14))
	var names []string
	var listed []uint64
	for i := range 11 {
		name := "l" + string(rune('a'+i))
		names = append(names, name)
		keys := make([]uint64, 200)
		for j := range keys {
			keys[j] = 10_000_000_000 + rng.Uint64N(1_000_000)
		}
		if _, err := st.AddToList(t.Context(), name, keys); err != nil {
			t.Fatal(err)
		}
		listed = append(listed, keys[:20]...)
	}
	l := MustNew(t, st, Options{MinCapacity: 1000, RecentKeys: 64})
	MustLoad(t, l, names...)
	MustAdd(t, l, "lc", 19_999_999_999) // in a recent set only
	keys := append(listed, 19_999_999_999)
	for range 2000 {
		keys = append(keys, 10_000_000_000+rng.Uint64N(1_000_000))
	}
	screen := func() (facts [][]filter.ListFact, maybe [][]string) {
		for _, k := range keys {
			f, m := l.Screen(k, names, nil, nil)
			facts, maybe = append(facts, f), append(maybe, m)
		}
		return facts, maybe
	}
	hashedFacts, hashedMaybe := screen()
	defer func(v bool) { hashAgrees = v }(hashAgrees)
	hashAgrees = false
	testFacts, testMaybe := screen()
	absent := 0
	for i, k := range keys {
		if !slices.Equal(hashedFacts[i], testFacts[i]) || !slices.Equal(hashedMaybe[i], testMaybe[i]) {
			t.Fatalf("key %d: hashed %v %v, Test %v %v", k, hashedFacts[i], hashedMaybe[i], testFacts[i], testMaybe[i])
		}
		absent += len(testFacts[i])
	}
	if absent == 0 || len(testMaybe[0]) == 0 {
		t.Fatal("no absent or no maybe answer: the lists are not exercised")
	}
}
