package service_test

import (
	"context"
	"slices"
	"testing"

	"callfilter/filter"
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
