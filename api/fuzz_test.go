package api_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"callfilter/filter"
)

// FuzzCheckRequest feeds arbitrary bodies to POST /v1/check: the server never
// answers 5xx nor panics, a 200 is a valid decision, and anything else is a
// well-formed error.
func FuzzCheckRequest(f *testing.F) {
	for _, tc := range badRequests {
		f.Add([]byte(tc.body))
	}
	for _, body := range []string{
		checkBody(nyClean, "call", atWednesday),
		checkBody(nyClean, "sms", atWednesday, `"seller":"acme"`, `"reserve":true`),
		checkBody(flNumber, "call", "2026-11-18T01:30:00Z"),
		checkBody("+86 10 6552 9988", "call", atWednesday, `"region":"CN"`),
		checkBody("tel:+1-212-555-0134;ext=12", "call", atWednesday),
		checkBody("", "call", atWednesday),
		`{"number":"+12125550134","channel":"call","purpose":"housing","region":"zz","campaign":"\u0000"}`,
		`{"NUMBER":"+12125550134","Channel":"call","purpose":"insurance"}`,
		`{"number":"+12125550134","channel":"call","purpose":"insurance","at":"9999-12-31T23:59:59+14:00"}`,
		`{"number":"+12125550134","number":"+13125550111","channel":"call","purpose":"insurance"}`,
	} {
		f.Add([]byte(body))
	}
	e := newEnv(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest("POST", "/v1/check", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+e.keys[filter.RoleDialer])
		res := e.send(t, req)
		switch {
		case res.status >= 500:
			t.Fatalf("status %d for %q: %s", res.status, body, res.body)
		case res.status == http.StatusOK:
			if _, err := validateCheck(res.body); err != nil {
				t.Fatalf("200 for %q is not a valid decision: %v: %s", body, err, res.body)
			}
		default:
			errorOf(t, res)
		}
	})
}
