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
	newSvcOn := func(f *store.Faulty) (*service.Service, *store.Faulty) {
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
	newSvc := func() (*service.Service, *store.Faulty) { return newSvcOn(store.NewFaulty(embedded.MustOpenTemp(t))) }
	// The ages are real (lists written now): check at 10:00 in New York on
	// the last Wednesday, inside calling hours whenever the test runs.
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	y, m, d := time.Now().In(ny).Date()
	at := time.Date(y, m, d, 10, 0, 0, 0, ny)
	at = at.AddDate(0, 0, -(int(at.Weekday()-time.Wednesday)+7)%7)
	in := service.CheckInput{Number: "+12125550134", Channel: "call", Purpose: "insurance", Seller: "acme", At: at}
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
	// Written today from a registry file published 40 days ago: the age is
	// the file's, so the list is stale (the US pack allows 31 days).
	if err := f.SetListSource(ctx, "national", time.Now().AddDate(0, 0, -40)); err != nil {
		t.Fatal(err)
	}
	svc4, _ := newSvcOn(f)
	if res, _ := svc4.Check(ctx, in); !res.Decision.Has(filter.ReasonListStale) {
		t.Fatalf("list written today from a 40-day-old file: %s %v, want list_stale", res.Decision.Outcome, res.Decision.Reasons)
	}
	svc3, f3 := newSvc()
	f3.FailOn(store.MethodLists, nil)
	if res, _ := svc3.Check(ctx, in); res.Decision.Outcome != filter.Deny || !res.Decision.Has(filter.ReasonUnavailable) {
		t.Fatalf("ages unreadable: %s %v, want deny unavailable", res.Decision.Outcome, res.Decision.Reasons)
	}
}
