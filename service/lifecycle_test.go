package service_test

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"callfilter/filter"
	"callfilter/service"
	"callfilter/store"
)

// withRules puts the shipped rules with extra purposes in force.
func withRules(t *testing.T, e *env, purposes string) {
	t.Helper()
	src, err := os.ReadFile("../rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rs, err := filter.ParseRules([]byte(strings.Replace(string(src), "\npurposes:\n", "\npurposes:\n"+purposes, 1)))
	if err != nil {
		t.Fatal(err)
	}
	e.svc.SetRules(rs)
}

// TestScrubRenewalAgreesWithCheck: a renewal window needs the number's
// policies, so the scrub reads the store for it as Check does.
func TestScrubRenewalAgreesWithCheck(t *testing.T) {
	e := newEnv(t, true)
	withRules(t, e, "  renewal:\n    call: {renewal_window_days: 40}\n")
	ctx := context.Background()
	if err := e.svc.PutRelationship(ctx, service.RelationshipInput{Number: "2125550134", Seller: "acme", Kind: "purchase",
		At: at.AddDate(-1, 0, 0), PolicyExpiresAt: at.Add(20 * 24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	sc, err := e.svc.Scrubber(service.ScrubInput{Purpose: "renewal", Channel: "call", Seller: "acme", At: at})
	if err != nil {
		t.Fatal(err)
	}
	numbers := []string{"2125550134", "2125550135"}
	got := make([]service.ScrubResult, len(numbers))
	sc.DecideMany(ctx, numbers, got)
	for i, n := range numbers {
		want := e.check(t, service.CheckInput{Number: n, Purpose: "renewal", Channel: "call", Seller: "acme"})
		if got[i].Outcome != want.Outcome || !slices.Equal(reasonCodes(got[i].Reasons), reasonCodes(want.Reasons)) {
			t.Errorf("%q: scrub %s %v, check %s %v", n, got[i].Outcome, reasonCodes(got[i].Reasons), want.Outcome, reasonCodes(want.Reasons))
		}
	}
	if got[0].Outcome != filter.Allow || got[1].Outcome != filter.Deny {
		t.Errorf("scrub: got %s, %s; want allow (policy in its window), deny (none)", got[0].Outcome, got[1].Outcome)
	}
}

// TestLifecycleWritesFailClosed: a write the store refuses is an error, never
// an acknowledgement; a refusal that cannot be opted out is not recorded.
func TestLifecycleWritesFailClosed(t *testing.T) {
	e := newEnv(t, true)
	ctx := context.Background()
	e.faulty.FailOn(store.MethodPutDisconnects, nil)
	if _, err := e.svc.ImportReassigned(ctx, []service.ReassignedInput{{Number: "2125550134", DisconnectedAt: at}}, ""); filter.ErrorKind(err) != filter.EUnavailable {
		t.Errorf("ImportReassigned on a failing store: %v, want unavailable", err)
	}
	e.faulty.FailOn(store.MethodAddToListUntil, nil)
	if _, err := e.svc.AddNumbersUntil(ctx, "internal", []string{"2125550134"}, "", time.Now().Add(time.Hour)); filter.ErrorKind(err) != filter.EUnavailable {
		t.Errorf("AddNumbersUntil on a failing store: %v, want unavailable", err)
	}
	e.faulty.FailOn(store.MethodAddToList, nil)
	in := service.OutcomeInput{Number: "2125550134", Seller: "acme", Purpose: "insurance", Channel: "call", Outcome: "refused", At: at}
	if _, err := e.svc.RecordOutcome(ctx, in); filter.ErrorKind(err) != filter.EUnavailable {
		t.Errorf("a refusal whose opt-out fails: %v, want unavailable", err)
	}
	e.faulty.Heal()
	e.faulty.FailOn(store.MethodRecordOutcome, nil)
	in.Outcome = "busy"
	if _, err := e.svc.RecordOutcome(ctx, in); filter.ErrorKind(err) != filter.EUnavailable {
		t.Errorf("RecordOutcome on a failing store: %v, want unavailable", err)
	}
}
