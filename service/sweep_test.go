package service_test

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"callfilter/filter"
	"callfilter/service"
)

// TestSweep: the periodic sweep removes the list entries that expired by
// the service's clock from the store, keeps the others, records each list's
// removals in the audit trail once, and deletes the attempts older than the
// rules' longest cap window and a day.
func TestSweep(t *testing.T) {
	e := newAuditedEnv(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	now := e.svc.Now()
	const gone, stays, permanent = 12125550134, 12125550135, 12125550136
	if _, err := e.st.AddToListUntil(ctx, "litigator", []uint64{gone}, now.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.AddToListUntil(ctx, "litigator", []uint64{stays}, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.AddToList(ctx, "litigator", []uint64{permanent}); err != nil {
		t.Fatal(err)
	}
	// Attempts: one older than the rules' longest cap window (24h) and a
	// day, one inside it.
	oldAttempt, newAttempt := now.Add(-72*time.Hour), now.Add(-time.Hour)
	for _, when := range []time.Time{oldAttempt, newAttempt} {
		q := filter.ReserveQuery{Subject: filter.Subject{3}, Seller: "acme", Purpose: "insurance", Channel: filter.ChannelCall, At: when}
		if ok, err := e.st.Reserve(ctx, q); err != nil || !ok {
			t.Fatalf("Reserve at %v = %v, %v", when, ok, err)
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.svc.Sweep(ctx, 5*time.Millisecond, slog.New(slog.DiscardHandler))
	}()
	keys := func() []uint64 {
		var ks []uint64
		if err := e.st.ScanList(context.Background(), "litigator", func(k uint64) error { ks = append(ks, k); return nil }); err != nil {
			t.Fatal(err)
		}
		return ks
	}
	attempts := func() ([]time.Time, error) {
		f, err := e.st.Facts(context.Background(), filter.FactsQuery{Subject: filter.Subject{3}, Seller: "acme", Purpose: "insurance",
			Channel: filter.ChannelCall, AttemptsSince: now.Add(-100 * time.Hour)})
		return f.Attempts, err
	}
	pruned := func() bool {
		a, err := attempts()
		return err == nil && len(a) == 1 && a[0].Equal(newAttempt)
	}
	// Wait for a whole sweep: one pass removes the list entries, records
	// them in the audit trail, then prunes the attempts. Seeing only the
	// keys gone and cancelling 30ms later could cut that pass short on a
	// loaded machine (the audit commit and the prune then fail on the
	// cancelled context).
	deadline := time.Now().Add(10 * time.Second)
	for !slices.Equal(keys(), []uint64{stays, permanent}) || !pruned() {
		if time.Now().After(deadline) {
			a, err := attempts()
			t.Fatalf("the sweep left %v and attempts %v (%v), want %v and only the attempt at %v", keys(), a, err, []uint64{stays, permanent}, newAttempt)
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(30 * time.Millisecond) // a few more sweeps, which find nothing
	cancel()
	<-done
	if a, err := attempts(); err != nil || len(a) != 1 || !a[0].Equal(newAttempt) {
		t.Fatalf("attempts after the sweep: %v (%v), want only the one at %v", a, err, newAttempt)
	}

	entries, _, err := e.svc.Audit(context.Background(), service.AuditQuery{Kind: string(filter.AuditChange), Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var sweeps []filter.AuditEntry
	for _, en := range entries {
		if en.Action == "list.sweep" {
			sweeps = append(sweeps, en)
		}
	}
	if len(sweeps) != 1 || sweeps[0].Target != "litigator" || sweeps[0].Actor != service.SweepActor ||
		!strings.HasPrefix(sweeps[0].Detail, "1 entries removed") {
		t.Fatalf("audit entries of the sweep: %+v, want one list.sweep of litigator removing 1", sweeps)
	}
}

// TestFirstSweepSoonAfterStart: the first sweep does not wait for the
// interval, so that a service restarted more often than it still sweeps.
func TestFirstSweepSoonAfterStart(t *testing.T) {
	service.SetFirstSweepAfter(t, 10*time.Millisecond)
	e := newAuditedEnv(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := e.st.AddToListUntil(ctx, "litigator", []uint64{12125550134}, e.svc.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	go e.svc.Sweep(ctx, time.Hour, slog.New(slog.DiscardHandler))
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		var n int
		if err := e.st.ScanList(context.Background(), "litigator", func(uint64) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no sweep within 10s of the start with an interval of an hour")
		}
	}
}
