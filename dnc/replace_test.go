package dnc

import (
	"context"
	"testing"
	"time"

	"callfilter/filter"
	"callfilter/store"
	"callfilter/store/embedded"
)

// screen returns the state Screen gives key in list: ListPresent for "maybe".
func screen(l *Lists, list string, key uint64) filter.ListState {
	facts, maybe := l.Screen(key, []string{list}, nil, nil)
	if len(maybe) == 1 {
		return filter.ListPresent
	}
	return facts[0].State
}

// blockingReplace holds ReplaceList until release is closed, after telling
// entered.
type blockingReplace struct {
	*embedded.Store
	entered, release chan struct{}
}

func (b blockingReplace) ReplaceList(ctx context.Context, list, from string) (filter.ListInfo, error) {
	close(b.entered)
	<-b.release
	return b.Store.ReplaceList(ctx, list, from)
}

// TestReplaceRebuilds: after Replace the filter holds the new contents (a key
// only in them is "maybe", one only in the old absent); while the store call
// runs every key is "maybe".
func TestReplaceRebuilds(t *testing.T) {
	ctx := t.Context()
	st := embedded.MustOpenTemp(t)
	br := blockingReplace{Store: st, entered: make(chan struct{}), release: make(chan struct{})}
	l := New(br, Options{MinCapacity: 1024})
	defer l.Close()
	if _, err := l.Add(ctx, "l", []uint64{1001, 1002}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddToList(ctx, "l~new", []uint64{1002, 1003}); err != nil {
		t.Fatal(err)
	}
	if got := screen(l, "l", 1003); got != filter.ListAbsent {
		t.Fatalf("before: key of the variant only is %v, want absent", got)
	}
	done := make(chan error, 1)
	go func() {
		_, err := l.Replace(ctx, "l", "l~new")
		done <- err
	}()
	<-br.entered
	for _, k := range []uint64{1001, 1003, 4242} {
		if got := screen(l, "l", k); got != filter.ListPresent {
			t.Errorf("during the replace: key %d is %v, want maybe (exact)", k, got)
		}
	}
	close(br.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for k, want := range map[uint64]filter.ListState{1001: filter.ListAbsent, 1002: filter.ListPresent, 1003: filter.ListPresent, 4242: filter.ListAbsent} {
		if got := screen(l, "l", k); got != want {
			t.Errorf("after the replace: key %d is %v, want %v", k, got, want)
		}
	}
	// Refused: nothing changes, no exact mode left behind.
	if _, err := New(st, Options{}).Replace(ctx, "l", "other"); filter.ErrorKind(err) != filter.EInvalid {
		t.Errorf("Replace from a non-variant: %v, want EInvalid", err)
	}
}

// TestReplaceRebuildFails: the store replaced the list but the rebuild
// failed: the list stays "maybe" for every key until the background worker,
// retrying by itself, rebuilds it.
func TestReplaceRebuildFails(t *testing.T) {
	ctx := t.Context()
	f := store.NewFaulty(embedded.MustOpenTemp(t))
	l := New(f, Options{MinCapacity: 1024})
	defer l.Close()
	if _, err := l.Add(ctx, "l", []uint64{1001}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.AddToList(ctx, "l~new", []uint64{1003}); err != nil {
		t.Fatal(err)
	}
	f.FailOn(store.MethodScanList, nil)
	info, err := l.Replace(ctx, "l", "l~new")
	if filter.ErrorKind(err) != filter.EUnavailable || info.Count != 1 {
		t.Fatalf("Replace with scans failing: %+v, %v; want the store's info and EUnavailable", info, err)
	}
	for _, k := range []uint64{1003, 4242} {
		if got := screen(l, "l", k); got != filter.ListPresent {
			t.Errorf("with the filter stale: key %d is %v, want maybe", k, got)
		}
	}
	f.Heal()
	deadline := time.Now().Add(5 * time.Second)
	for screen(l, "l", 4242) != filter.ListAbsent {
		if time.Now().After(deadline) {
			t.Fatal("the background rebuild did not clear the stale mark")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := screen(l, "l", 1003); got != filter.ListPresent {
		t.Errorf("after the background rebuild: key of the new contents is %v, want maybe", got)
	}
}

// TestDeleteRebuilds: Delete empties the filter.
func TestDeleteRebuilds(t *testing.T) {
	ctx := t.Context()
	l := New(embedded.MustOpenTemp(t), Options{MinCapacity: 1024})
	defer l.Close()
	if _, err := l.Add(ctx, "l", []uint64{1001}); err != nil {
		t.Fatal(err)
	}
	if err := l.Delete(ctx, "l"); err != nil {
		t.Fatal(err)
	}
	if got := screen(l, "l", 1001); got != filter.ListAbsent {
		t.Errorf("after delete: %v, want absent", got)
	}
	if err := l.Delete(ctx, "l"); filter.ErrorKind(err) != filter.ENotFound {
		t.Errorf("delete again: %v, want ENotFound", err)
	}
}
