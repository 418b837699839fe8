package dnc

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"callfilter/filter"
)

// screenRef is Screen without plans: every name looked up in the registry.
func screenRef(l *Lists, key uint64, names []string) ([]filter.ListFact, []string) {
	reg := *l.reg.Load()
	var facts []filter.ListFact
	var maybe []string
	for _, name := range names {
		lst := reg[name]
		if lst == nil || lst.snap.Load().filter == nil {
			facts = append(facts, filter.ListFact{List: name, State: filter.ListUnknown})
			continue
		}
		s := lst.snap.Load()
		b := keyBytes(key)
		if s.filter.Test(b[:]) || s.has(key) || lst.exact.Load() > 0 || lst.stale.Load() {
			maybe = append(maybe, name)
		} else {
			facts = append(facts, filter.ListFact{List: name, State: filter.ListAbsent})
		}
	}
	return facts, maybe
}

func checkScreen(t *testing.T, l *Lists, key uint64, names []string) {
	t.Helper()
	facts, maybe := l.Screen(key, names, nil, nil)
	wantFacts, wantMaybe := screenRef(l, key, names)
	if !slices.Equal(facts, wantFacts) || !slices.Equal(maybe, wantMaybe) {
		t.Fatalf("Screen(%d, %q) = %v, %v; want %v, %v", key, names, facts, maybe, wantFacts, wantMaybe)
	}
}

// TestScreenPlans screens through more name lists than there are plan
// slots, while lists are created (each creation replaces the registry the
// plans were made for) and loaded, and with the caller rewriting its names
// slice between calls: Screen must answer as the look-up of every name does.
func TestScreenPlans(t *testing.T) {
	st := newMemStore()
	l := MustNew(t, st, Options{MinCapacity: 1000, RecentKeys: 64})
	MustLoad(t, l, "a", "b")
	MustAdd(t, l, "a", 1, 2, 3)
	MustAdd(t, l, "b", 3, 4)
	rng := rand.New(rand.NewPCG(5, 6))
	pool := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"}
	var lists [][]string
	for i := 0; i < 2*len(l.plans); i++ {
		names := make([]string, 1+rng.IntN(4))
		for j := range names {
			names[j] = pool[rng.IntN(len(pool))]
		}
		lists = append(lists, names)
	}
	for round := 0; round < 6; round++ {
		for _, names := range lists {
			for key := uint64(0); key < 8; key++ {
				checkScreen(t, l, key, names)
			}
		}
		// A new list: the registry changes, every plan is stale.
		name := pool[2+round]
		MustAdd(t, l, name, uint64(round))
	}
	// The caller's slice rewritten in place: its new contents count.
	names := []string{"a", "b"}
	checkScreen(t, l, 3, names)
	names[0], names[1] = "zz", "c"
	checkScreen(t, l, 3, names)
	names[0] = "b"
	checkScreen(t, l, 3, names)
}

// TestScreenPlansFull: once every slot holds a plan of the current
// registry, Screen of other names looks them up and allocates nothing.
func TestScreenPlansFull(t *testing.T) {
	l := MustNew(t, newMemStore(), Options{MinCapacity: 1000, RecentKeys: 64})
	MustLoad(t, l, "a", "b")
	for i := range l.plans {
		l.Screen(1, []string{"a", fmt.Sprint(i)}, nil, nil)
	}
	names := []string{"b", "a", "other"}
	facts := make([]filter.ListFact, 0, len(names))
	maybe := make([]string, 0, len(names))
	if allocs := testing.AllocsPerRun(100, func() {
		facts, maybe = l.Screen(1, names, facts[:0], maybe[:0])
	}); allocs != 0 {
		t.Errorf("Screen with the plan slots full allocates %v times per call, want 0", allocs)
	}
	checkScreen(t, l, 1, names)
}

// TestScreenPlansConcurrent screens from several goroutines while lists are
// created (run with -race).
func TestScreenPlansConcurrent(t *testing.T) {
	l := MustNew(t, newMemStore(), Options{MinCapacity: 1000, RecentKeys: 64})
	MustLoad(t, l, "a")
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			names := [][]string{{"a"}, {"a", "n1"}, {"n2", "a", "n3"}, {"n4"}}[g]
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				facts, maybe := l.Screen(uint64(i), names, nil, nil)
				if len(facts)+len(maybe) != len(names) {
					t.Errorf("Screen(%q) answered %d lists", names, len(facts)+len(maybe))
					return
				}
			}
		}()
	}
	for i := 1; i <= 4; i++ {
		MustAdd(t, l, fmt.Sprintf("n%d", i), 7)
	}
	close(stop)
	wg.Wait()
	for _, names := range [][]string{{"a"}, {"a", "n1"}, {"n2", "a", "n3"}, {"n4"}} {
		checkScreen(t, l, 7, names)
	}
}
