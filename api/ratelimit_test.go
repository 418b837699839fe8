package api_test

import (
	"net/http"
	"testing"

	"callfilter/api"
	"callfilter/filter"
)

// TestSetRateLimit: a limit set on a running server applies at once (a server
// started without one included), an invalid one is refused and changes
// nothing, and the zero value lifts it.
func TestSetRateLimit(t *testing.T) {
	e := newEnv(t)
	body := checkBody("2125550134", "call", atWednesday)
	status := func() int { return e.do(t, filter.RoleDialer, "POST", "/v1/check", body).status }
	for i := range 5 {
		if got := status(); got != http.StatusOK {
			t.Fatalf("no limit, request %d: status %d, want 200", i+1, got)
		}
	}
	if err := e.srv.SetRateLimit(api.RateLimit{PerSecond: 0.01, Burst: 2}); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if got := status(); got != http.StatusOK {
			t.Fatalf("limit set, request %d: status %d, want 200 (within the burst)", i+1, got)
		}
	}
	res := e.do(t, filter.RoleDialer, "POST", "/v1/check", body)
	if res.status != http.StatusTooManyRequests || res.header.Get("Retry-After") == "" {
		t.Fatalf("past the burst: status %d, Retry-After %q; want 429 with Retry-After", res.status, res.header.Get("Retry-After"))
	}
	if err := e.srv.SetRateLimit(api.RateLimit{PerSecond: -1}); err == nil {
		t.Error("a negative rate was accepted")
	}
	if got := status(); got != http.StatusTooManyRequests {
		t.Errorf("after a refused change: status %d, want the limit kept (429)", got)
	}
	if err := e.srv.SetRateLimit(api.RateLimit{}); err != nil {
		t.Fatal(err)
	}
	if got := status(); got != http.StatusOK {
		t.Errorf("limit lifted: status %d, want 200", got)
	}
}
