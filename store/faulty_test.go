package store_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"callfilter/filter"
	"callfilter/store"
	"callfilter/store/embedded"
)

func newFaulty(t *testing.T) *store.Faulty {
	t.Helper()
	return store.NewFaulty(embedded.MustOpenTemp(t))
}

var subj = sha256.Sum256([]byte("faulty test subject"))

func facts(f *store.Faulty, ctx context.Context) error {
	_, err := f.Facts(ctx, filter.FactsQuery{Key: 1, Lists: []string{"l"}, Subject: subj, Seller: "acme"})
	return err
}

func TestFaultyFailAll(t *testing.T) {
	f := newFaulty(t)
	ctx := t.Context()
	f.FailAll(nil)
	err := facts(f, ctx)
	if filter.ErrorKind(err) != filter.EUnavailable || !errors.Is(err, store.ErrInjected) {
		t.Fatalf("Facts after FailAll(nil): got %v, want EUnavailable wrapping ErrInjected", err)
	}
	n, err := f.AddToList(ctx, "l", []uint64{1})
	if n != 0 || filter.ErrorKind(err) != filter.EUnavailable {
		t.Fatalf("AddToList after FailAll: got %d, %v, want 0 and EUnavailable", n, err)
	}
	ok, err := f.Reserve(ctx, filter.ReserveQuery{Subject: subj, Seller: "acme", Purpose: "p", Channel: filter.ChannelCall, At: time.Now()})
	if ok || filter.ErrorKind(err) != filter.EUnavailable {
		t.Fatalf("Reserve after FailAll: got %v, %v, want false and EUnavailable", ok, err)
	}

	f.Heal()
	if err := facts(f, ctx); err != nil {
		t.Fatalf("Facts after Heal: %v", err)
	}
	// The failed AddToList did not reach the store.
	if got, err := f.Inner().Lists(ctx); err != nil || len(got) != 0 {
		t.Fatalf("lists after a failed AddToList: got %+v, %v, want none", got, err)
	}
}

func TestFaultyErrors(t *testing.T) {
	f := newFaulty(t)
	ctx := t.Context()
	cause := errors.New("connection reset")
	f.FailAll(cause)
	err := facts(f, ctx)
	if filter.ErrorKind(err) != filter.EUnavailable || !errors.Is(err, cause) {
		t.Fatalf("FailAll(plain error): got %v, want EUnavailable wrapping the cause", err)
	}
	kinded := filter.Errorf(filter.ENotFound, "", "gone")
	f.FailOn(store.MethodKeyByHash, kinded)
	if _, err := f.KeyByHash(ctx, [32]byte{1}); err != kinded {
		t.Fatalf("FailOn with a *filter.Error: got %v, want it unchanged", err)
	}
}

func TestFaultyFailOn(t *testing.T) {
	f := newFaulty(t)
	ctx := t.Context()
	f.FailOn(store.MethodFacts, nil)
	if err := facts(f, ctx); filter.ErrorKind(err) != filter.EUnavailable {
		t.Fatalf("Facts after FailOn(Facts): got %v, want EUnavailable", err)
	}
	if _, err := f.AddToList(ctx, "l", []uint64{7}); err != nil {
		t.Fatalf("AddToList after FailOn(Facts): %v, want it to work", err)
	}
	if got := f.Calls(store.MethodFacts); got != 1 {
		t.Fatalf("Calls(Facts): got %d, want 1 (failed calls count)", got)
	}
	f.Heal()
	if err := facts(f, ctx); err != nil {
		t.Fatalf("Facts after Heal: %v", err)
	}
	if got := f.Calls(store.MethodFacts); got != 2 {
		t.Fatalf("Calls(Facts) after Heal: got %d, want 2", got)
	}
}

func TestFaultyUnknownMethodPanics(t *testing.T) {
	f := newFaulty(t)
	defer func() {
		if recover() == nil {
			t.Fatal("FailOn of an unknown method: no panic")
		}
	}()
	f.FailOn("Fact", nil)
}

func TestFaultyDelay(t *testing.T) {
	f := newFaulty(t)
	f.Delay(50 * time.Millisecond)
	start := time.Now()
	if err := facts(f, t.Context()); err != nil {
		t.Fatalf("delayed Facts: %v", err)
	}
	if took := time.Since(start); took < 50*time.Millisecond {
		t.Fatalf("delayed Facts took %v, want at least 50ms", took)
	}

	f.Delay(time.Hour)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	start = time.Now()
	err := facts(f, ctx)
	if filter.ErrorKind(err) != filter.EUnavailable || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Facts delayed past its deadline: got %v, want EUnavailable wrapping DeadlineExceeded", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("Facts delayed past its deadline took %v: the delay ignored ctx", took)
	}
	f.Heal()
	start = time.Now()
	if err := facts(f, t.Context()); err != nil || time.Since(start) > time.Second {
		t.Fatalf("Facts after Heal: %v after %v", err, time.Since(start))
	}
}

func TestFaultyFailScanAfter(t *testing.T) {
	f := newFaulty(t)
	ctx := t.Context()
	if _, err := f.AddToList(ctx, "l", []uint64{1, 2, 3, 4, 5}); err != nil {
		t.Fatal(err)
	}
	f.FailScanAfter(2, nil)
	var got []uint64
	err := f.ScanList(ctx, "l", func(k uint64) error { got = append(got, k); return nil })
	if filter.ErrorKind(err) != filter.EUnavailable || !errors.Is(err, store.ErrInjected) {
		t.Fatalf("ScanList failing after 2 keys: got %v, want EUnavailable", err)
	}
	if !slices.Equal(got, []uint64{1, 2}) {
		t.Fatalf("ScanList failing after 2 keys: fn saw %v, want [1 2]", got)
	}
	// A list shorter than n still fails: the scan never completes.
	f.FailScanAfter(10, nil)
	got = nil
	if err := f.ScanList(ctx, "l", func(k uint64) error { got = append(got, k); return nil }); err == nil || len(got) != 5 {
		t.Fatalf("ScanList failing after 10 of 5 keys: got %v with %v, want an error after all 5", err, got)
	}
	f.Heal()
	got = nil
	if err := f.ScanList(ctx, "l", func(k uint64) error { got = append(got, k); return nil }); err != nil || len(got) != 5 {
		t.Fatalf("ScanList after Heal: got %v, %v", got, err)
	}
}

func TestFaultyCloseAfterFailAll(t *testing.T) {
	inner := embedded.MustOpenTemp(t)
	f := store.NewFaulty(inner)
	f.FailAll(nil)
	if err := f.Close(); err != nil {
		t.Fatalf("Close after FailAll: %v, want nil (FailAll spares Close)", err)
	}
	if _, err := inner.Lists(t.Context()); filter.ErrorKind(err) != filter.EUnavailable {
		t.Fatalf("inner store after Faulty.Close: got %v, want it closed", err)
	}
	f2 := store.NewFaulty(embedded.MustOpenTemp(t))
	f2.FailOn(store.MethodClose, nil)
	if err := f2.Close(); !errors.Is(err, store.ErrInjected) {
		t.Fatalf("Close after FailOn(Close): got %v, want the injected error", err)
	}
}

// TestFaultyConcurrent flips failures while many goroutines call: every call
// either succeeds or fails with EUnavailable (run with -race).
func TestFaultyConcurrent(t *testing.T) {
	f := newFaulty(t)
	ctx := t.Context()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			switch i % 4 {
			case 0:
				f.FailAll(nil)
			case 1:
				f.FailOn(store.MethodFacts, nil)
			case 2:
				f.Delay(time.Microsecond)
			case 3:
				f.Heal()
			}
		}
	})
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for range 200 {
				if err := facts(f, ctx); err != nil && filter.ErrorKind(err) != filter.EUnavailable {
					errs <- err
					return
				}
			}
		})
	}
	time.Sleep(10 * time.Millisecond)
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent call: %v, want nil or EUnavailable", err)
	}
}
