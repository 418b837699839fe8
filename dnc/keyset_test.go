package dnc

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
)

func TestKeySet(t *testing.T) {
	s := newKeySet(100)
	if s.room() < 100 {
		t.Fatalf("room() = %d, want at least 100", s.room())
	}
	rng := rand.New(rand.NewPCG(1, 1))
	want := map[uint64]bool{0: true}
	if !s.insert(0) || s.insert(0) {
		t.Error("insert(0) twice: want new, then not new")
	}
	for s.room() > 0 {
		k := rng.Uint64N(1000) // small range: collisions and duplicates
		if got := s.insert(k); got == want[k] {
			t.Fatalf("insert(%d) = %v with the key already there = %v", k, got, want[k])
		}
		want[k] = true
	}
	if s.len() != int64(len(want)) {
		t.Errorf("len() = %d, want %d", s.len(), len(want))
	}
	for k := range uint64(1000) {
		if got := s.has(k); got != want[k] {
			t.Errorf("has(%d) = %v, want %v", k, got, want[k])
		}
	}
	seen := map[uint64]bool{}
	s.each(func(k uint64) { seen[k] = true })
	if len(seen) != len(want) {
		t.Errorf("each saw %d keys, want %d", len(seen), len(want))
	}
	for k := range want {
		if !seen[k] {
			t.Errorf("each missed %d", k)
		}
	}
}

// TestKeySetConcurrent: readers never miss a key whose insert returned
// (run with -race).
func TestKeySetConcurrent(t *testing.T) {
	const n = 1 << 14
	key := func(i int64) uint64 { return uint64(i)*7919 + 1 }
	s := newKeySet(n)
	var upTo atomic.Int64 // keys key(0)..key(upTo-1) are inserted
	var wg sync.WaitGroup
	for r := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 0))
			for {
				m := upTo.Load()
				if m > 0 {
					if i := rng.Int64N(m); !s.has(key(i)) {
						t.Errorf("key %d missing after its insert", key(i))
						return
					}
				}
				if m == n {
					return
				}
			}
		}()
	}
	for i := range int64(n) {
		s.insert(key(i))
		upTo.Store(i + 1)
	}
	wg.Wait()
	if s.len() != n {
		t.Errorf("len() = %d, want %d", s.len(), n)
	}
}
