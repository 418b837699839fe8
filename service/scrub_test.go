package service_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"callfilter/filter"
	"callfilter/phone"
	"callfilter/service"
	"callfilter/store"
)

func reasonCodes(rs []filter.Reason) []filter.ReasonCode {
	out := make([]filter.ReasonCode, len(rs))
	for i, r := range rs {
		out[i] = r.Code
	}
	return out
}

// TestScrubAgreesWithCheck holds the scrub's fast path (no store when the
// blooms say no and no consent is needed) to Check on the same inputs.
func TestScrubAgreesWithCheck(t *testing.T) {
	e := newEnv(t, true)
	ctx := context.Background()
	if _, err := e.lists.Add(ctx, "national", []uint64{12125550199}); err != nil {
		t.Fatal(err)
	}
	numbers := []string{"2125550134", "+1 212 555 0199", "(305) 555-0100", "+86 138 0013 8000", "", "abc", "+44 20 7946 0958", "2125550134"}
	for _, tc := range []struct{ purpose, channel string }{
		{"insurance", "call"}, {"insurance", "sms"}, {"housing", "call"}, {"housing", "sms"},
	} {
		t.Run(tc.purpose+"/"+tc.channel, func(t *testing.T) {
			sc, err := e.svc.Scrubber(service.ScrubInput{Purpose: tc.purpose, Channel: tc.channel, Seller: "acme", At: at})
			if err != nil {
				t.Fatal(err)
			}
			got := make([]service.ScrubResult, len(numbers))
			sc.DecideMany(ctx, numbers, got)
			for i, n := range numbers {
				want := e.check(t, service.CheckInput{Number: n, Purpose: tc.purpose, Channel: tc.channel, Seller: "acme"})
				if got[i].Outcome != want.Outcome || !slices.Equal(reasonCodes(got[i].Reasons), reasonCodes(want.Reasons)) {
					t.Errorf("%q: scrub %s %v, check %s %v", n, got[i].Outcome, reasonCodes(got[i].Reasons), want.Outcome, reasonCodes(want.Reasons))
				}
			}
		})
	}
}

// TestScrubUnloadedListsDeny: before the lists are loaded every row denies
// with unavailable, as a check does, the row before it included (no decision
// is reused across the unknown lists).
func TestScrubUnloadedListsDeny(t *testing.T) {
	e := newEnv(t, false)
	sc, err := e.svc.Scrubber(service.ScrubInput{Purpose: "insurance", Channel: "call", Seller: "acme", At: at})
	if err != nil {
		t.Fatal(err)
	}
	numbers := []string{"2125550134", "2125550135", "+44 20 7946 0958"}
	got := make([]service.ScrubResult, len(numbers))
	sc.DecideMany(context.Background(), numbers, got)
	for i, n := range numbers {
		want := e.check(t, service.CheckInput{Number: n, Purpose: "insurance", Channel: "call", Seller: "acme"})
		if got[i].Outcome != filter.Deny || !slices.Contains(reasonCodes(got[i].Reasons), filter.ReasonUnavailable) ||
			!slices.Equal(reasonCodes(got[i].Reasons), reasonCodes(want.Reasons)) {
			t.Errorf("%q with no list loaded: scrub %s %v, check %s %v", n, got[i].Outcome, reasonCodes(got[i].Reasons), want.Outcome, reasonCodes(want.Reasons))
		}
	}
}

func TestScrubFailsClosed(t *testing.T) {
	e := newEnv(t, true)
	ctx := context.Background()
	if _, err := e.lists.Add(ctx, "national", []uint64{12125550199}); err != nil {
		t.Fatal(err)
	}
	e.faulty.FailOn(store.MethodFacts, nil)
	tests := []struct {
		name, channel, number string
		want                  filter.Outcome
		unavailable           bool
	}{
		{"bloom no, no consent needed: no store", "call", "2125550134", filter.Allow, false},
		{"bloom maybe: store fails", "call", "2125550199", filter.Deny, true},
		{"consent needed: store fails", "sms", "2125550134", filter.Deny, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sc, err := e.svc.Scrubber(service.ScrubInput{Purpose: "insurance", Channel: tc.channel, Seller: "acme", At: at})
			if err != nil {
				t.Fatal(err)
			}
			got := make([]service.ScrubResult, 1)
			sc.DecideMany(ctx, []string{tc.number}, got)
			if got[0].Outcome != tc.want || slices.Contains(reasonCodes(got[0].Reasons), filter.ReasonUnavailable) != tc.unavailable {
				t.Errorf("got %s %v, want %s (unavailable %v)", got[0].Outcome, reasonCodes(got[0].Reasons), tc.want, tc.unavailable)
			}
		})
	}
}

func TestScrubberRejectsBadRequests(t *testing.T) {
	e := newEnv(t, true)
	for _, in := range []service.ScrubInput{
		{Purpose: "nope", Channel: "call"},
		{Purpose: "insurance", Channel: "fax"},
		{Channel: "call"},
	} {
		if _, err := e.svc.Scrubber(in); filter.ErrorKind(err) != filter.EInvalid {
			t.Errorf("%+v: got %v, want an invalid error", in, err)
		}
	}
}

// TestScrubDecisionCacheAgrees: DecideMany's per-chunk cache of rule
// decisions (direct-mapped, so keys collide and overwrite each other) gives
// every row the decision DecideNumber, which uses no cache, gives it: rows
// of many regions, line types and zones, some inside calling hours at the
// instant and some outside, more distinct keys than the cache has slots.
func TestScrubDecisionCacheAgrees(t *testing.T) {
	e := newEnv(t, true)
	ctx := context.Background()
	var numbers []string
	for _, npa := range []string{"212", "305", "415", "312", "713", "206", "907", "808", "416", "604", "876", "787", "671", "340", "868", "902", "709", "684"} {
		for _, nxx := range []string{"201", "555", "734", "989"} {
			numbers = append(numbers, "+1 "+npa+" "+nxx+" 0134")
		}
	}
	numbers = append(numbers, "+44 20 7946 0958", "+44 7911 123456", "+49 30 901820", "+49 171 1234567", "+86 138 0013 8000",
		"+86 10 6552 9988", "+61 2 9374 4000", "+61 412 345 678", "+33 1 42 68 53 00", "+33 6 12 34 56 78", "+91 98765 43210",
		"+81 3 3224 5000", "+55 11 91234 5678", "+7 495 123 4567", "+52 55 1234 5678")
	// Twice over, so that the second pass reads what the first cached.
	numbers = append(numbers, numbers...)
	for _, tc := range []struct{ purpose, channel string }{{"insurance", "call"}, {"housing", "call"}} {
		sc, err := e.svc.Scrubber(service.ScrubInput{Purpose: tc.purpose, Channel: tc.channel, Seller: "acme", At: at})
		if err != nil {
			t.Fatal(err)
		}
		got := make([]service.ScrubResult, len(numbers))
		sc.DecideMany(ctx, numbers, got)
		outcomes := map[filter.Outcome]int{}
		for i, raw := range numbers {
			n, err := phone.Normalize(raw, "US")
			if err != nil {
				if got[i].Outcome != filter.Deny {
					t.Errorf("%s: %q is invalid (%v) but scrubbed %s", tc.purpose, raw, err, got[i].Outcome)
				}
				continue
			}
			want := sc.DecideNumber(ctx, n)
			outcomes[want.Outcome]++
			if got[i].Outcome != want.Outcome || !slices.Equal(got[i].Reasons, want.Reasons) {
				t.Errorf("%s: %q: DecideMany %s %v, DecideNumber %s %v", tc.purpose, raw, got[i].Outcome, got[i].Reasons, want.Outcome, want.Reasons)
			}
		}
		if outcomes[filter.Allow] == 0 || outcomes[filter.Deny] == 0 {
			t.Errorf("%s: outcomes %v: the rows should include allows and denies", tc.purpose, outcomes)
		}
	}
}

// TestScrubBatchesStoreReads: the rows of a chunk that need the store (here
// every row: SMS needs consent) are read in one FactsMany, not one Facts
// each, and decided as one by one: the consented number allows, the others
// deny for want of consent.
func TestScrubBatchesStoreReads(t *testing.T) {
	e := newEnv(t, true)
	ctx := context.Background()
	if err := e.svc.PutConsent(ctx, service.ConsentInput{Number: "+1 212 555 0107", Seller: "acme", Purpose: "insurance",
		Channel: "sms", Source: "web-form", GrantedAt: at.Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	var numbers []string
	for i := range 30 {
		numbers = append(numbers, fmt.Sprintf("+1 212 555 %04d", 100+i))
	}
	sc, err := e.svc.Scrubber(service.ScrubInput{Purpose: "insurance", Channel: "sms", Seller: "acme", At: at})
	if err != nil {
		t.Fatal(err)
	}
	before := e.faulty.Calls(store.MethodFacts)
	got := make([]service.ScrubResult, len(numbers))
	sc.DecideMany(ctx, numbers, got)
	if calls := e.faulty.Calls(store.MethodFacts) - before; calls != 1 {
		t.Errorf("%d store reads for %d rows that need the store, want 1", calls, len(numbers))
	}
	allows := 0
	for i, raw := range numbers {
		n, err := phone.Normalize(raw, "US")
		if err != nil {
			t.Fatal(err)
		}
		want := sc.DecideNumber(ctx, n)
		if !got[i].Stored || got[i].Outcome != want.Outcome || !slices.Equal(got[i].Reasons, want.Reasons) {
			t.Errorf("%q: DecideMany %s %v (stored %v), DecideNumber %s %v", raw, got[i].Outcome, got[i].Reasons, got[i].Stored, want.Outcome, want.Reasons)
		}
		if got[i].Outcome == filter.Allow {
			allows++
		}
	}
	if allows != 1 {
		t.Errorf("%d allows, want 1 (the consented number)", allows)
	}
}
