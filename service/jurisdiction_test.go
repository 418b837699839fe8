package service_test

import (
	"context"
	"testing"
	"time"

	"callfilter/dnc"
	"callfilter/filter"
	"callfilter/service"
	"callfilter/store"
	"callfilter/store/embedded"
)

// TestListStale: under the US pack (national list at most 31 days old), a
// national list never written denies list_stale; once updated it allows, and
// when the store cannot tell the ages, the check fails closed.
func TestListStale(t *testing.T) {
	rs, err := filter.LoadRules("../rules/us-states.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	newSvc := func() (*service.Service, *store.Faulty) {
		f := store.NewFaulty(embedded.MustOpenTemp(t))
		lists := dnc.New(f, dnc.Options{})
		t.Cleanup(lists.Close)
		if err := lists.Load(ctx, rs.ListNames()); err != nil {
			t.Fatal(err)
		}
		svc, err := service.New(f, lists, rs, service.Options{Hasher: filter.NewHasher([]byte("s"))})
		if err != nil {
			t.Fatal(err)
		}
		return svc, f
	}
	in := service.CheckInput{Number: "+12125550134", Channel: "call", Purpose: "insurance", Seller: "acme", At: time.Now()}
	svc, _ := newSvc()
	res, err := svc.Check(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Decision.Has(filter.ReasonListStale) {
		t.Fatalf("never-updated national list: %v", res.Decision.Reasons)
	}
	// A fresh service (no cached ages) after the list is written: allow.
	svc2, f := newSvc()
	if _, err := svc2.AddNumbers(ctx, "national", []string{"+13055550100"}, ""); err != nil {
		t.Fatal(err)
	}
	if res, _ := svc2.Check(ctx, in); res.Decision.Outcome != filter.Allow {
		t.Fatalf("updated national list: %v", res.Decision.Reasons)
	}
	svc3, f3 := newSvc()
	_ = f
	f3.FailOn(store.MethodLists, nil)
	if res, _ := svc3.Check(ctx, in); res.Decision.Outcome != filter.Deny || !res.Decision.Has(filter.ReasonUnavailable) {
		t.Fatalf("ages unreadable: %s %v, want deny unavailable", res.Decision.Outcome, res.Decision.Reasons)
	}
}
