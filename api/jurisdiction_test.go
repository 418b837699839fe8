package api_test

import (
	"strings"
	"testing"

	"callfilter/filter"
)

// TestCheckPostalCode: postal_code through the API. A New York number whose
// owner lives in California (ZIP 94105) is checked in Los Angeles' time too:
// 07:00 there is outside the hours; a malformed postal code is a 400.
func TestCheckPostalCode(t *testing.T) {
	e := newEnv(t)
	base := `{"number":"2125550134","channel":"call","purpose":"insurance","seller":"acme","at":"` + atWednesday + `"`
	if c := mustCheck(t, e.do(t, filter.RoleDialer, "POST", "/v1/check", base+`}`)); c.Decision != "allow" {
		t.Fatalf("without postal_code: %s %v", c.Decision, c.codes())
	}
	c := mustCheck(t, e.do(t, filter.RoleDialer, "POST", "/v1/check", base+`,"postal_code":"94105"}`))
	if c.Decision != "deny" || !c.has("outside_hours", "") || c.NextAllowedAt == "" {
		t.Fatalf("with a California ZIP: %s %v next %q, want deny outside_hours with next_allowed_at", c.Decision, c.codes(), c.NextAllowedAt)
	}
	r := e.do(t, filter.RoleDialer, "POST", "/v1/check", base+`,"postal_code":"9410"}`)
	if r.status != 400 || !strings.Contains(string(r.body), "invalid_postal_code") {
		t.Fatalf("bad postal code: %d %s", r.status, r.body)
	}
}
