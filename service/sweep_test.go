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

// TestSweepLists: the periodic sweep removes the entries that expired by the
// service's clock from the store, keeps the others, and records each list's
// removals in the audit trail once.
func TestSweepLists(t *testing.T) {
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
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.svc.SweepLists(ctx, 5*time.Millisecond, slog.New(slog.DiscardHandler))
	}()
	keys := func() []uint64 {
		var ks []uint64
		if err := e.st.ScanList(context.Background(), "litigator", func(k uint64) error { ks = append(ks, k); return nil }); err != nil {
			t.Fatal(err)
		}
		return ks
	}
	deadline := time.Now().Add(10 * time.Second)
	for !slices.Equal(keys(), []uint64{stays, permanent}) {
		if time.Now().After(deadline) {
			t.Fatalf("the sweep left %v, want %v", keys(), []uint64{stays, permanent})
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(30 * time.Millisecond) // a few more sweeps, which find nothing
	cancel()
	<-done

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
