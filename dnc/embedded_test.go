package dnc

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"

	"callfilter/filter"
	"callfilter/store"
	"callfilter/store/embedded"
)

// The tests in this file run against the real embedded store (bbolt on a
// temporary file), wrapped in store.Faulty where they need it to fail.

// slowScan yields to other goroutines on every key a scan yields, so that
// rebuilds take long enough for Adds to interleave with them.
type slowScan struct{ Store }

func (s slowScan) ScanList(ctx context.Context, list string, fn func(key uint64) error) error {
	return s.Store.ScanList(ctx, list, func(k uint64) error {
		runtime.Gosched()
		return fn(k)
	})
}

func TestEmbeddedRebuildWhileAdding(t *testing.T) {
	st := embedded.MustOpenTemp(t)
	testRebuildWhileAdding(t, slowScan{st}, func(list string, key uint64) bool {
		found := false
		err := st.ScanList(context.Background(), list, func(k uint64) error {
			if k == key {
				found = true
				return errStop
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStop) {
			t.Fatalf("ScanList: %v", err)
		}
		return found
	})
}

var errStop = errors.New("stop")

// TestEmbeddedRestart: what one process added is on the lists of the next,
// built from the store alone.
func TestEmbeddedRestart(t *testing.T) {
	st := embedded.MustOpenTemp(t)
	rng := rand.New(rand.NewPCG(11, 12))
	seen := map[uint64]bool{}
	keys := distinctKeys(rng, 5000, seen)
	first := MustNew(t, st, Options{MinCapacity: 1000, RecentKeys: 64})
	MustLoad(t, first, "federal")
	for i := 0; i < len(keys); i += 100 {
		MustAdd(t, first, "federal", keys[i:i+100]...)
	}
	MustAdd(t, first, "company", keys[:10]...)
	first.Close()

	second := MustNew(t, st, Options{MinCapacity: 1000})
	MustLoad(t, second, "federal")
	for _, k := range keys {
		if got := screen1(second, "federal", k); got != filter.ListPresent {
			t.Fatalf("key %d after restart: %v", k, got)
		}
	}
	// "company" was not named, but the store has it: loaded too.
	if got := screen1(second, "company", keys[0]); got != filter.ListPresent {
		t.Errorf("list only the store knows: %v, want maybe", got)
	}
	absent := 0
	for _, k := range distinctKeys(rng, 1000, seen) {
		if screen1(second, "federal", k) == filter.ListAbsent {
			absent++
		}
	}
	if absent < 990 {
		t.Errorf("%d of 1000 keys not on the list screened absent", absent)
	}
}

func TestEmbeddedFailures(t *testing.T) {
	ctx := context.Background()
	fs := store.NewFaulty(embedded.MustOpenTemp(t))
	if _, err := fs.AddToList(ctx, "dnc", []uint64{12125550100, 12125550101}); err != nil {
		t.Fatal(err)
	}
	l := MustNew(t, fs, Options{MinCapacity: 1000})

	fs.FailScanAfter(1, nil)
	if err := l.Load(ctx, []string{"dnc"}); filter.ErrorKind(err) != filter.EUnavailable || !errors.Is(err, store.ErrInjected) {
		t.Fatalf("Load with the scan failing = %v, want unavailable wrapping the injected failure", err)
	}
	if got := screen1(l, "dnc", 12125550109); got != filter.ListUnknown || l.Ready() {
		t.Fatalf("after a failed load: %v, ready %v; want unknown, not ready", got, l.Ready())
	}

	fs.Heal()
	MustLoad(t, l, "dnc")
	fs.FailOn(store.MethodAddToList, nil)
	n, err := l.Add(ctx, "dnc", []uint64{12125550102})
	if n != 0 || filter.ErrorKind(err) != filter.EUnavailable || !errors.Is(err, store.ErrInjected) {
		t.Fatalf("Add with the store failing = %d, %v; want 0 and unavailable", n, err)
	}
	fs.FailOn(store.MethodRemoveFromList, nil)
	if _, err := l.Remove(ctx, "dnc", []uint64{12125550100}); filter.ErrorKind(err) != filter.EUnavailable {
		t.Fatalf("Remove with the store failing = %v, want unavailable", err)
	}

	// A failed rebuild keeps the old filter: still no false "absent".
	fs.Heal()
	fs.FailOn(store.MethodScanList, nil)
	if err := l.Load(ctx, []string{"dnc"}); err == nil {
		t.Fatal("Load with the scan failing succeeded")
	}
	for _, k := range []uint64{12125550100, 12125550101} {
		if got := screen1(l, "dnc", k); got != filter.ListPresent {
			t.Errorf("key %d after a failed rebuild: %v, want maybe", k, got)
		}
	}
	if !l.Ready() {
		t.Error("Ready() = false after a failed rebuild of a loaded list")
	}
}

// TestEmbeddedSweep: Sweep removes the expired entries of every loaded list
// from the store, keeps the rest, reports counts per list, and its removals
// lead to a rebuild that makes the swept keys absent in the filter too.
func TestEmbeddedSweep(t *testing.T) {
	ctx := context.Background()
	st := embedded.MustOpenTemp(t)
	rng := rand.New(rand.NewPCG(21, 22))
	seen := map[uint64]bool{}
	perm, soon := distinctKeys(rng, 500, seen), distinctKeys(rng, 300, seen)
	l := MustNew(t, st, Options{MinCapacity: 1000})
	MustLoad(t, l, "refusers", "national")
	MustAdd(t, l, "refusers", perm...)
	at := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	if _, err := l.AddUntil(ctx, "refusers", soon, at); err != nil {
		t.Fatal(err)
	}
	if _, err := l.AddUntil(ctx, "national", soon[:10], at.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}

	if swept, err := l.Sweep(ctx, at.Add(-time.Millisecond)); err != nil || len(swept) != 0 {
		t.Fatalf("Sweep before the expiry = %v, %v; want nothing", swept, err)
	}
	swept, err := l.Sweep(ctx, at)
	if err != nil || len(swept) != 1 || swept["refusers"] != len(soon) {
		t.Fatalf("Sweep at the expiry = %v, %v; want refusers: %d", swept, err, len(soon))
	}
	f, err := st.Facts(ctx, filter.FactsQuery{Key: soon[0], Lists: []string{"refusers", "national"}})
	if err != nil || f.Lists[0].State != filter.ListAbsent || f.Lists[1].State != filter.ListPresent {
		t.Fatalf("key %d after the sweep: %+v, %v; want absent from refusers only", soon[0], f.Lists, err)
	}
	// 300 removals of 800 pass a tenth: the filter is rebuilt without them.
	waitFor(t, "the rebuild", func() bool { return statusOf(t, l, "refusers").Count == int64(len(perm)) })
	absent := 0
	for _, k := range soon {
		if screen1(l, "refusers", k) == filter.ListAbsent {
			absent++
		}
	}
	if absent < len(soon)*9/10 {
		t.Errorf("%d of %d swept keys absent from the filter after the rebuild, want nearly all", absent, len(soon))
	}
	for _, k := range perm {
		if got := screen1(l, "refusers", k); got != filter.ListPresent {
			t.Fatalf("permanent key %d screened %v after the sweep", k, got)
		}
	}
}

// TestSweepReportsFailures: a store that cannot be read fails the sweep with
// EUnavailable naming the list.
func TestSweepReportsFailures(t *testing.T) {
	f := store.NewFaulty(embedded.MustOpenTemp(t))
	l := MustNew(t, f, Options{MinCapacity: 1000})
	MustLoad(t, l, "refusers")
	f.FailOn(store.MethodSweepList, nil)
	_, err := l.Sweep(context.Background(), time.Now())
	if filter.ErrorKind(err) != filter.EUnavailable || !strings.Contains(err.Error(), `"refusers"`) {
		t.Fatalf("Sweep on a failing store = %v, want EUnavailable naming the list", err)
	}
}
