package dnc

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"callfilter/filter"
)

// MustNew returns lists over st that the test closes when it ends.
func MustNew(tb testing.TB, st Store, opts Options) *Lists {
	tb.Helper()
	l := New(st, opts)
	tb.Cleanup(l.Close)
	return l
}

// MustLoad loads names or fails the test.
func MustLoad(tb testing.TB, l *Lists, names ...string) {
	tb.Helper()
	if err := l.Load(context.Background(), names); err != nil {
		tb.Fatalf("Load(%q): %v", names, err)
	}
}

// MustAdd adds keys to list or fails the test.
func MustAdd(tb testing.TB, l *Lists, list string, keys ...uint64) {
	tb.Helper()
	if _, err := l.Add(context.Background(), list, keys); err != nil {
		tb.Fatalf("Add(%q, %d keys): %v", list, len(keys), err)
	}
}

// screen1 is the state Screen gives key in one list: ListPresent stands for
// "maybe" (the caller would confirm it in the store).
func screen1(l *Lists, list string, key uint64) filter.ListState {
	facts, maybe := l.Screen(key, []string{list}, nil, nil)
	if len(maybe) == 1 {
		return filter.ListPresent
	}
	return facts[0].State
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func statusOf(tb testing.TB, l *Lists, name string) ListStatus {
	tb.Helper()
	for _, s := range l.Status() {
		if s.Name == name {
			return s
		}
	}
	tb.Fatalf("Status has no list %q", name)
	return ListStatus{}
}

// distinctKeys returns n distinct random phone-like keys, none in avoid.
func distinctKeys(rng *rand.Rand, n int, avoid map[uint64]bool) []uint64 {
	keys := make([]uint64, 0, n)
	for len(keys) < n {
		k := 10_000_000_000 + rng.Uint64N(90_000_000_000_000)
		if !avoid[k] {
			avoid[k] = true
			keys = append(keys, k)
		}
	}
	return keys
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		ok   bool
	}{
		{"zero means defaults", Options{}, true},
		{"explicit", Options{FalsePositiveRate: 1e-3, MinCapacity: 10, RecentKeys: 5}, true},
		{"negative rate", Options{FalsePositiveRate: -0.1}, false},
		{"rate of one", Options{FalsePositiveRate: 1}, false},
		{"negative recent", Options{RecentKeys: -1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.opts.Validate()
			if got := err == nil; got != tt.ok {
				t.Fatalf("Validate() = %v, want ok %v", err, tt.ok)
			}
			if err != nil && filter.ErrorKind(err) != filter.EInvalid {
				t.Errorf("kind = %q, want %q", filter.ErrorKind(err), filter.EInvalid)
			}
		})
	}
	d := Options{}.withDefaults()
	if d.FalsePositiveRate != 1e-4 || d.MinCapacity != 1<<20 || d.RecentKeys != DefaultRecentKeys {
		t.Errorf("defaults = %+v", d)
	}
}

func TestUnknownUntilLoaded(t *testing.T) {
	st := newMemStore()
	if _, err := st.AddToList(context.Background(), "federal", []uint64{12125550100}); err != nil {
		t.Fatal(err)
	}
	l := MustNew(t, st, Options{MinCapacity: 1000})

	if got := screen1(l, "federal", 12125550100); got != filter.ListUnknown {
		t.Errorf("before Load: state = %v, want unknown", got)
	}
	if l.Ready() {
		t.Error("Ready() before Load = true")
	}
	MustLoad(t, l, "federal", "company")
	if !l.Ready() {
		t.Error("Ready() after Load = false")
	}
	tests := []struct {
		list string
		key  uint64
		want filter.ListState
	}{
		{"federal", 12125550100, filter.ListPresent},
		{"federal", 12125550101, filter.ListAbsent},
		{"company", 12125550100, filter.ListAbsent}, // named by the rules, empty in the store: loaded
		{"state-fl", 12125550100, filter.ListUnknown},
	}
	for _, tt := range tests {
		if got := screen1(l, tt.list, tt.key); got != tt.want {
			t.Errorf("Screen(%d, %q) = %v, want %v", tt.key, tt.list, got, tt.want)
		}
	}

	// Screen appends in the order of names.
	facts, maybe := l.Screen(12125550100, []string{"state-fl", "federal", "company"},
		[]filter.ListFact{{List: "earlier", State: filter.ListPresent}}, nil)
	wantFacts := []filter.ListFact{{List: "earlier", State: filter.ListPresent}, {List: "state-fl", State: filter.ListUnknown}, {List: "company", State: filter.ListAbsent}}
	if len(facts) != len(wantFacts) || len(maybe) != 1 || maybe[0] != "federal" {
		t.Fatalf("Screen = %v, %v; want %v, [federal]", facts, maybe, wantFacts)
	}
	for i := range facts {
		if facts[i] != wantFacts[i] {
			t.Errorf("facts[%d] = %v, want %v", i, facts[i], wantFacts[i])
		}
	}
}

func TestLoadErrors(t *testing.T) {
	st := newMemStore()
	ctx := context.Background()
	st.AddToList(ctx, "a", []uint64{1})
	st.AddToList(ctx, "b", []uint64{2})
	st.listsErr = filter.Errorf(filter.EUnavailable, "", "store down")
	l := MustNew(t, st, Options{MinCapacity: 100})
	if err := l.Load(ctx, []string{"a"}); filter.ErrorKind(err) != filter.EUnavailable {
		t.Fatalf("Load with Lists failing = %v, want unavailable", err)
	}
	if got := screen1(l, "a", 1); got != filter.ListUnknown {
		t.Errorf("state = %v, want unknown", got)
	}

	st.listsErr = nil
	st.scanErr = map[string]error{"b": errors.New("connection reset")}
	err := l.Load(ctx, []string{"a", "b"})
	if filter.ErrorKind(err) != filter.EUnavailable {
		t.Fatalf("Load with a scan failing = %v, want unavailable", err)
	}
	if got := screen1(l, "a", 1); got != filter.ListPresent {
		t.Errorf("list a: state = %v, want maybe (the others still load)", got)
	}
	if got := screen1(l, "b", 3); got != filter.ListUnknown {
		t.Errorf("list b: state = %v, want unknown", got)
	}
	if l.Ready() {
		t.Error("Ready() = true with list b not loaded")
	}
}

// TestNoFalseNegatives is the property the whole package exists for: a key
// on a list is never screened absent, however it got there (the initial load,
// Adds folded into the filter, Adds still in the recent sets, a filter grown
// past its first capacity), and keys not on the list are mostly absent, at
// about the rate Status predicts.
func TestNoFalseNegatives(t *testing.T) {
	const (
		rate    = 0.01 // large enough to measure well with 200k probes
		initial = 20_000
		added   = 30_000
		probes  = 200_000
	)
	rng := rand.New(rand.NewPCG(1, 2))
	seen := map[uint64]bool{}
	onList := distinctKeys(rng, initial+added, seen)
	notOnList := distinctKeys(rng, probes, seen)

	st := newMemStore()
	if _, err := st.AddToList(context.Background(), "dnc", onList[:initial]); err != nil {
		t.Fatal(err)
	}
	l := MustNew(t, st, Options{FalsePositiveRate: rate, MinCapacity: 1000, RecentKeys: 256})
	MustLoad(t, l, "dnc")
	for i := initial; i < len(onList); {
		n := min(1+rng.IntN(500), len(onList)-i)
		MustAdd(t, l, "dnc", onList[i:i+n]...)
		i += n
	}
	check := func(when string) {
		t.Helper()
		for _, k := range onList {
			if got := screen1(l, "dnc", k); got != filter.ListPresent {
				t.Fatalf("%s: key %d on the list screened %v", when, k, got)
			}
		}
	}
	check("right after the adds")

	// Adding 30k to a list loaded with 20k passes its capacity (40k): the
	// worker rebuilds it bigger. Wait until it has, and has folded.
	waitFor(t, "the filter to grow and fold", func() bool {
		s := statusOf(t, l, "dnc")
		return s.Capacity > 2*initial && s.Count <= int64(s.Capacity) && s.Recent <= 256 && s.Err == ""
	})
	check("after grow and fold")

	s := statusOf(t, l, "dnc")
	fp := 0
	for _, k := range notOnList {
		if screen1(l, "dnc", k) != filter.ListAbsent {
			fp++
		}
	}
	got := float64(fp) / probes
	t.Logf("status %+v; measured false-positive rate %.5f over %d probes", s, got, probes)
	if s.FalsePositiveRate > rate {
		t.Errorf("expected rate %.5f above the target %.5f", s.FalsePositiveRate, rate)
	}
	// Binomial: allow 5 standard deviations around the expected rate.
	want := s.FalsePositiveRate
	sd := 5 * math.Sqrt(want*(1-want)/probes)
	if got > want+sd+1e-5 || got < want/2-sd {
		t.Errorf("measured false-positive rate %.5f, want about %.5f (± %.5f), never above", got, want, sd)
	}

	// At capacity the rate is the target: fill a fresh filter exactly.
	l2 := MustNew(t, newMemStore(), Options{FalsePositiveRate: rate, MinCapacity: initial + added, RecentKeys: 1024})
	MustLoad(t, l2, "full")
	MustAdd(t, l2, "full", onList...)
	waitFor(t, "the fold", func() bool { return statusOf(t, l2, "full").Recent == 0 })
	fp = 0
	for _, k := range notOnList {
		if screen1(l2, "full", k) != filter.ListAbsent {
			fp++
		}
	}
	got = float64(fp) / probes
	t.Logf("at capacity: measured %.5f, target %.5f, status %+v", got, rate, statusOf(t, l2, "full"))
	if got > 1.3*rate || got < 0.7*rate {
		t.Errorf("at capacity: measured false-positive rate %.5f, want about %.5f", got, rate)
	}
}

// TestRebuildWhileAdding runs Adds, Removes, Screens and repeated Loads at
// once (run it with -race): every key whose Add returned must screen maybe at
// once and forever after, whichever filter is current.
func TestRebuildWhileAdding(t *testing.T) {
	st := newMemStore()
	// Yield often during scans, so that they are slow and Adds interleave.
	var scanned atomic.Int64
	st.scanEach = func() {
		if scanned.Add(1)%4 == 0 {
			runtime.Gosched()
		}
	}
	testRebuildWhileAdding(t, st, st.has)
}

// testRebuildWhileAdding is TestRebuildWhileAdding over st; inStore reports
// whether st holds a key of list "dnc".
func testRebuildWhileAdding(t *testing.T, st Store, inStore func(list string, key uint64) bool) {
	const (
		adders    = 8
		screeners = 4
		duration  = time.Second
	)
	rng := rand.New(rand.NewPCG(3, 4))
	seen := map[uint64]bool{}
	base := distinctKeys(rng, 5000, seen)
	if _, err := st.AddToList(context.Background(), "dnc", base); err != nil {
		t.Fatal(err)
	}
	// Small sets and a small capacity: seals, folds and grows all happen.
	l := MustNew(t, st, Options{MinCapacity: 512, RecentKeys: 8})
	MustLoad(t, l, "dnc")

	var (
		mu       sync.Mutex
		acked    []uint64
		failures atomic.Int64
		wg       sync.WaitGroup
	)
	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	fail := func(format string, args ...any) {
		if failures.Add(1) <= 5 {
			t.Errorf(format, args...)
		}
	}

	for a := range adders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(a), 99))
			for ctx.Err() == nil {
				keys := make([]uint64, 1+rng.IntN(4))
				for i := range keys {
					// Adder a owns keys ≡ a (mod adders): no two adders share one.
					keys[i] = (20_000_000_000+rng.Uint64N(1e12))/adders*adders + uint64(a)
				}
				if _, err := l.Add(context.Background(), "dnc", keys); err != nil {
					fail("Add: %v", err)
					return
				}
				for _, k := range keys {
					if got := screen1(l, "dnc", k); got != filter.ListPresent {
						fail("key %d screened %v right after its Add returned", k, got)
					}
				}
				mu.Lock()
				acked = append(acked, keys...)
				mu.Unlock()
				if rng.IntN(4) == 0 {
					// Removing base keys (never acknowledged here) makes
					// the worker rebuild from the store now and then.
					if _, err := l.Remove(context.Background(), "dnc", []uint64{base[rng.IntN(len(base))]}); err != nil {
						fail("Remove: %v", err)
					}
				}
			}
		}()
	}
	for s := range screeners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(s), 7))
			var facts []filter.ListFact
			var maybe []string
			for ctx.Err() == nil {
				mu.Lock()
				if len(acked) == 0 {
					mu.Unlock()
					runtime.Gosched()
					continue
				}
				k := acked[rng.IntN(len(acked))]
				mu.Unlock()
				facts, maybe = l.Screen(k, []string{"dnc"}, facts[:0], maybe[:0])
				if len(maybe) != 1 {
					fail("acknowledged key %d screened %v", k, facts)
				}
			}
		}()
	}
	wg.Add(1)
	loads := 0
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			if err := l.Load(context.Background(), []string{"dnc"}); err != nil {
				fail("Load: %v", err)
			}
			loads++
		}
	}()
	wg.Wait()

	for _, k := range acked {
		if got := screen1(l, "dnc", k); got != filter.ListPresent {
			fail("acknowledged key %d screened %v at the end", k, got)
		}
		if !inStore("dnc", k) {
			fail("acknowledged key %d not in the store", k)
		}
	}
	t.Logf("%d keys acknowledged, %d loads; status %+v", len(acked), loads, statusOf(t, l, "dnc"))
}

func TestRemoveScreensMaybe(t *testing.T) {
	st := newMemStore()
	l := MustNew(t, st, Options{MinCapacity: 1000})
	MustLoad(t, l, "dnc")
	// Twenty keys, one removed: below the tenth that would start a rebuild in
	// the background, which would race this check (it made the removed key
	// absent in one CI run).
	keys := make([]uint64, 20)
	for i := range keys {
		keys[i] = 12125550100 + uint64(i)
	}
	MustAdd(t, l, "dnc", keys...)
	removed, err := l.Remove(context.Background(), "dnc", []uint64{12125550100, 12125550199})
	if err != nil || removed != 1 {
		t.Fatalf("Remove = %d, %v; want 1, nil", removed, err)
	}
	// The filter cannot forget: "maybe", and the caller's exact check says absent.
	if got := screen1(l, "dnc", 12125550100); got != filter.ListPresent {
		t.Errorf("removed key screened %v, want maybe", got)
	}
	if st.has("dnc", 12125550100) {
		t.Error("removed key still in the store")
	}
}

// TestRemovalsRebuild: once removals pass a tenth of the list, the worker
// rebuilds the filter from the store and the removed keys become absent.
func TestRemovalsRebuild(t *testing.T) {
	st := newMemStore()
	rng := rand.New(rand.NewPCG(5, 6))
	keys := distinctKeys(rng, 1000, map[uint64]bool{})
	st.AddToList(context.Background(), "dnc", keys)
	l := MustNew(t, st, Options{MinCapacity: 1000})
	MustLoad(t, l, "dnc")
	gone := keys[:200]
	if _, err := l.Remove(context.Background(), "dnc", gone); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the rebuild", func() bool { return statusOf(t, l, "dnc").Count == 800 })
	absent := 0
	for _, k := range gone {
		if screen1(l, "dnc", k) == filter.ListAbsent {
			absent++
		}
	}
	if absent < 190 {
		t.Errorf("%d of 200 removed keys absent after the rebuild, want nearly all", absent)
	}
	for _, k := range keys[200:] {
		if got := screen1(l, "dnc", k); got != filter.ListPresent {
			t.Fatalf("kept key %d screened %v", k, got)
		}
	}
	if s := statusOf(t, l, "dnc"); s.Removed != 0 {
		t.Errorf("Removed = %d after the rebuild, want 0", s.Removed)
	}
}

func TestAddStoreError(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want filter.Kind
	}{
		{"kind kept", filter.Errorf(filter.EUnavailable, "", "redis: connection refused"), filter.EUnavailable},
		{"invalid kept", filter.Errorf(filter.EInvalid, "", "bad list name"), filter.EInvalid},
		{"no kind is unavailable", errors.New("i/o timeout"), filter.EUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newMemStore()
			l := MustNew(t, st, Options{MinCapacity: 100})
			MustLoad(t, l, "dnc")
			st.addErr = tt.err
			added, err := l.Add(context.Background(), "dnc", []uint64{12125550100})
			if added != 0 || filter.ErrorKind(err) != tt.want {
				t.Fatalf("Add = %d, %v (kind %q); want 0 and kind %q", added, err, filter.ErrorKind(err), tt.want)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("Add error %v does not wrap the store's %v", err, tt.err)
			}
			// The key reached memory first: a harmless "maybe" the exact check denies.
			if got := screen1(l, "dnc", 12125550100); got != filter.ListPresent {
				t.Errorf("after a failed Add: %v, want maybe", got)
			}
		})
	}
}

func TestAddValidates(t *testing.T) {
	l := MustNew(t, newMemStore(), Options{MinCapacity: 100})
	if _, err := l.Add(context.Background(), "", []uint64{1}); filter.ErrorKind(err) != filter.EInvalid {
		t.Errorf("Add to \"\" = %v, want invalid", err)
	}
	if _, err := l.Remove(context.Background(), "", []uint64{1}); filter.ErrorKind(err) != filter.EInvalid {
		t.Errorf("Remove from \"\" = %v, want invalid", err)
	}
	if n, err := l.Add(context.Background(), "x", nil); n != 0 || err != nil {
		t.Errorf("Add of no keys = %d, %v", n, err)
	}
}

// TestAddLoadsUnloadedList: Add to a list this instance has not loaded must
// not make it loaded with only the added keys (the store, maybe shared with
// other instances, can hold more): it loads the list from the store.
func TestAddLoadsUnloadedList(t *testing.T) {
	st := newMemStore()
	st.AddToList(context.Background(), "other", []uint64{12125550100})
	l := MustNew(t, st, Options{MinCapacity: 100})
	MustAdd(t, l, "other", 12125550101)
	MustAdd(t, l, "brand-new", 12125550102)
	tests := []struct {
		list string
		key  uint64
		want filter.ListState
	}{
		{"other", 12125550100, filter.ListPresent}, // written by someone else
		{"other", 12125550101, filter.ListPresent},
		{"other", 12125550109, filter.ListAbsent},
		{"brand-new", 12125550102, filter.ListPresent},
		{"brand-new", 12125550100, filter.ListAbsent},
	}
	for _, tt := range tests {
		if got := screen1(l, tt.list, tt.key); got != tt.want {
			t.Errorf("Screen(%d, %q) = %v, want %v", tt.key, tt.list, got, tt.want)
		}
	}

	st.scanErr = map[string]error{"third": filter.Errorf(filter.EUnavailable, "", "down")}
	n, err := l.Add(context.Background(), "third", []uint64{5})
	if n != 1 || filter.ErrorKind(err) != filter.EUnavailable {
		t.Errorf("Add with the load failing = %d, %v; want 1 and unavailable", n, err)
	}
	if got := screen1(l, "third", 6); got != filter.ListUnknown {
		t.Errorf("list that failed to load: %v, want unknown", got)
	}
}

func TestScreenAllocs(t *testing.T) {
	st := newMemStore()
	l := MustNew(t, st, Options{MinCapacity: 1000, RecentKeys: 64})
	MustLoad(t, l, "a", "b")
	MustAdd(t, l, "a", 12125550100)
	names := []string{"a", "b", "not-loaded", "a"}
	facts := make([]filter.ListFact, 0, len(names))
	maybe := make([]string, 0, len(names))
	for _, key := range []uint64{12125550100, 12125550101} {
		allocs := testing.AllocsPerRun(1000, func() {
			facts, maybe = l.Screen(key, names, facts[:0], maybe[:0])
		})
		if allocs != 0 {
			t.Errorf("Screen(%d) allocates %v times per call, want 0", key, allocs)
		}
	}
}

func TestStatus(t *testing.T) {
	st := newMemStore()
	st.AddToList(context.Background(), "b", []uint64{1, 2, 3})
	l := MustNew(t, st, Options{MinCapacity: 1000, RecentKeys: 100})
	MustLoad(t, l, "c", "a")
	MustAdd(t, l, "a", 7, 8)
	l.list("z") // registered, never loaded
	got := l.Status()
	names := make([]string, len(got))
	for i, s := range got {
		names[i] = s.Name
	}
	if len(got) != 4 || names[0] != "a" || names[1] != "b" || names[2] != "c" || names[3] != "z" {
		t.Fatalf("Status names = %v, want [a b c z]", names)
	}
	a, b, z := got[0], got[1], got[3]
	if !a.Loaded || a.Count != 2 || a.Recent != 2 || a.Capacity != 1000 || a.Bits == 0 || a.HashFunctions == 0 {
		t.Errorf("a = %+v", a)
	}
	if !b.Loaded || b.Count != 3 || b.Recent != 0 || b.BuiltAt.IsZero() || b.FalsePositiveRate <= 0 || b.FalsePositiveRate > 1e-4 {
		t.Errorf("b = %+v", b)
	}
	if z.Loaded || z.Bits != 0 {
		t.Errorf("z = %+v", z)
	}
}

func TestCloseStopsWorker(t *testing.T) {
	l := New(newMemStore(), Options{MinCapacity: 100, RecentKeys: 8})
	MustLoad(t, l, "dnc")
	for i := range 100 {
		MustAdd(t, l, "dnc", uint64(i))
	}
	l.Close()
	l.Close() // idempotent
	select {
	case <-l.done:
	default:
		t.Fatal("worker still running after Close")
	}
	// Still usable: Adds after Close are kept in the recent sets.
	MustAdd(t, l, "dnc", 1000, 1001)
	for i := range 100 {
		if got := screen1(l, "dnc", uint64(i)); got != filter.ListPresent {
			t.Fatalf("key %d after Close: %v", i, got)
		}
	}
}

func TestNewPanicsOnInvalidOptions(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New with an invalid rate did not panic")
		}
	}()
	New(newMemStore(), Options{FalsePositiveRate: 2})
}

// TestScreenManyLists: Screen of more names than one ScreenMask takes
// answers each name as ScreenMask does for it alone: loaded lists holding
// the key are "maybe", loaded ones without it absent, the rest unknown.
func TestScreenManyLists(t *testing.T) {
	st := newMemStore()
	l := MustNew(t, st, Options{MinCapacity: 1000})
	const key = 12125550100
	var names []string
	for i := range MaxMaskLists + 6 {
		names = append(names, fmt.Sprintf("list-%02d", i))
	}
	var loaded []string
	for i, name := range names {
		if i%3 != 2 {
			loaded = append(loaded, name)
		}
	}
	MustLoad(t, l, loaded...)
	for i, name := range names {
		if i%3 == 0 {
			MustAdd(t, l, name, key)
		}
	}
	facts, maybe := l.Screen(key, names, nil, nil)
	if len(facts)+len(maybe) != len(names) {
		t.Fatalf("Screen answered %d facts and %d maybes for %d names", len(facts), len(maybe), len(names))
	}
	state := map[string]filter.ListState{}
	for _, f := range facts {
		state[f.List] = f.State
	}
	for _, m := range maybe {
		state[m] = filter.ListPresent
	}
	for i, name := range names {
		want := []filter.ListState{filter.ListPresent, filter.ListAbsent, filter.ListUnknown}[i%3]
		if state[name] != want {
			t.Errorf("%s: screened %v, want %v", name, state[name], want)
		}
		absent, unknown := l.ScreenMask(key, []string{name})
		if got := map[[2]uint64]filter.ListState{{0, 0}: filter.ListPresent, {1, 0}: filter.ListAbsent, {0, 1}: filter.ListUnknown}[[2]uint64{absent, unknown}]; got != want {
			t.Errorf("%s: ScreenMask = %b, %b; want %v", name, absent, unknown, want)
		}
	}
}
