package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
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

// FuzzSMSInbound feeds arbitrary webhook bodies to POST /v1/sms/inbound, as
// a Twilio form (correctly signed, so the parser behind the signature check is
// reached) and as JSON: the server never answers 5xx nor panics, a 200 names
// an intent and an action, and anything else is a well-formed error.
func FuzzSMSInbound(f *testing.F) {
	f.Add(true, []byte(inboundForm("+12125550177", "Stop. Thank you").Encode()))
	f.Add(true, []byte(inboundForm("+8613800138000", "退订").Encode()))
	f.Add(true, []byte("From=%2B12125550177&Body=STOP&To="))
	f.Add(true, []byte("From=&Body=&From=1&%zz=%"))
	f.Add(false, []byte(`{"from":"+12125550150","to":"`+acmeNumber+`","body":"please stop texting me"}`))
	f.Add(false, []byte(`{"from":"+8613800138000","body":"TD","seller":"acme"}`))
	f.Add(false, []byte(`{"from":"nope","body":"stop"}`))
	f.Add(false, []byte(`{"from":"+12125550150","body":"START","extra":1}`))
	e := newSMSEnv(f, twilioToken)
	f.Fuzz(func(t *testing.T, form bool, body []byte) {
		var req *http.Request
		if form {
			req = httptest.NewRequest("POST", "/v1/sms/inbound", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			// Sign what the server will parse; an unparsable body goes unsigned.
			if values, err := url.ParseQuery(string(body)); err == nil {
				req.Header.Set("X-Twilio-Signature", sign(twilioToken, publicURL, values))
			}
		} else {
			req = httptest.NewRequest("POST", "/v1/sms/inbound", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+e.keys[filter.RoleOfficer])
		}
		res := e.send(t, req)
		switch {
		case res.status >= 500:
			t.Fatalf("status %d for %q: %s", res.status, body, res.body)
		case res.status == http.StatusOK:
			var out smsResult
			if err := json.Unmarshal(res.body, &out); err != nil || out.Intent == "" || out.Action == "" {
				t.Fatalf("200 for %q is not an SMS result (%v): %s", body, err, res.body)
			}
		default:
			errorOf(t, res)
		}
	})
}
