package api_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"callfilter/api"
	"callfilter/filter"
)

// scrape returns the /metrics page, fetched without a key.
func (e *env) scrape(t *testing.T) string {
	t.Helper()
	res := e.do(t, "", "GET", "/metrics", "")
	if res.status != http.StatusOK {
		t.Fatalf("GET /metrics: status %d: %s", res.status, res.body)
	}
	if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("GET /metrics: Content-Type %q, want text/plain", ct)
	}
	return string(res.body)
}

// wantSeries fails unless page has the series (name with labels, as the
// exposition format writes it) with the value.
func wantSeries(t *testing.T, page, series, value string) {
	t.Helper()
	for _, line := range strings.Split(page, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			if rest != value {
				t.Errorf("%s = %s, want %s", series, rest, value)
			}
			return
		}
	}
	t.Errorf("no series %s in /metrics:\n%s", series, grepMetrics(page, "callfilter_"))
}

func grepMetrics(page, prefix string) string {
	var out []string
	for _, line := range strings.Split(page, "\n") {
		if strings.HasPrefix(line, prefix) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

func TestMetricsRequestsAndDecisions(t *testing.T) {
	e := newEnv(t)
	e.do(t, filter.RoleOfficer, "POST", "/v1/lists/national/numbers", `{"numbers":["212-555-0134"]}`)
	if r := e.check(t, checkBody("2125550134", "call", atWednesday)); !r.has("on_list", "national") {
		t.Fatalf("check: %v, want on_list national", r.codes())
	}
	e.check(t, checkBody("2125550199", "call", atWednesday))
	e.do(t, filter.RoleDialer, "POST", "/v1/check/batch",
		`{"items":[`+checkBody("2125550134", "sms", atWednesday)+`,`+checkBody("2125550199", "call", atWednesday)+`]}`)
	e.do(t, filter.RoleDialer, "POST", "/v1/check", `{"number":"2125550134","channel":"call","purpose":"cars"}`)
	e.do(t, filter.RoleDialer, "GET", "/v1/lists", "")
	// A path that matches no route, holding a number: counted under route "".
	e.do(t, filter.RoleDialer, "GET", "/v1/unknown/2125550134", "")

	page := e.scrape(t)
	for _, c := range []struct{ series, value string }{
		{`callfilter_http_requests_total{method="POST",route="/v1/check",status="200"}`, "2"},
		{`callfilter_http_requests_total{method="POST",route="/v1/check",status="400"}`, "1"},
		{`callfilter_http_requests_total{method="POST",route="/v1/check/batch",status="200"}`, "1"},
		{`callfilter_http_requests_total{method="POST",route="/v1/lists/:list/numbers",status="200"}`, "1"},
		{`callfilter_http_requests_total{method="GET",route="/v1/lists",status="403"}`, "1"},
		{`callfilter_http_requests_total{method="GET",route="",status="404"}`, "1"},
		{`callfilter_http_request_duration_seconds_count{method="POST",route="/v1/check",status="200"}`, "2"},
		{`callfilter_decisions_total{channel="call",decision="deny",purpose="insurance"}`, "1"},
		{`callfilter_decisions_total{channel="call",decision="allow",purpose="insurance"}`, "2"},
		{`callfilter_decisions_total{channel="sms",decision="deny",purpose="insurance"}`, "1"},
		{`callfilter_decision_reasons_total{channel="call",list="national",purpose="insurance",reason="on_list"}`, "1"},
		{`callfilter_decision_reasons_total{channel="sms",list="",purpose="insurance",reason="no_consent"}`, "1"},
	} {
		wantSeries(t, page, c.series, c.value)
	}
	if strings.Contains(page, "2125550134") || strings.Contains(page, "555") {
		t.Errorf("/metrics holds a phone number:\n%s", grepMetrics(page, "callfilter_"))
	}
}

func TestRequestIDAndLogLine(t *testing.T) {
	e := newEnv(t)
	res := e.do(t, filter.RoleDialer, "POST", "/v1/check", checkBody("2125550134", "call", atWednesday))
	id := res.header.Get(api.HeaderRequestID)
	if !regexp.MustCompile(`^[A-Za-z]{8}-[A-Za-z]+$`).MatchString(id) {
		t.Fatalf("%s = %q, want letters-letters", api.HeaderRequestID, id)
	}
	if next := e.do(t, "", "GET", "/healthz", "").header.Get(api.HeaderRequestID); next == id || next == "" {
		t.Errorf("second request id %q after %q, want a new one", next, id)
	}
	var r checkResult
	decode(t, res, &r)
	var line map[string]any
	for _, l := range strings.Split(e.logs.String(), "\n") {
		if strings.Contains(l, id) {
			if err := json.Unmarshal([]byte(l), &line); err != nil {
				t.Fatalf("log line %s: %v", l, err)
			}
			break
		}
	}
	if line == nil {
		t.Fatalf("no log line holds request id %s:\n%s", id, e.logs)
	}
	// The test logger replaces a well-formed decision id (hex digits, which
	// the log check would read as a number) with a marker.
	for k, want := range map[string]any{
		"msg": "request", "route": "/v1/check", "status": float64(200), "key": "dialer",
		"request_id": id, "decision_id": "hex-decision-id", "method": "POST",
	} {
		if line[k] != want {
			t.Errorf("log %s = %v, want %v (line %v)", k, line[k], want, line)
		}
	}
	if _, ok := line["took"]; !ok {
		t.Errorf("log line without took: %v", line)
	}
	if len(r.DecisionID) != 32 {
		t.Errorf("decision_id %q", r.DecisionID)
	}
}

func TestRateLimitPerKey(t *testing.T) {
	e := newEnv(t, func(c *envConfig) { c.opts.RateLimit = api.RateLimit{PerSecond: 0.5, Burst: 2} })
	body := checkBody("2125550134", "call", atWednesday)
	for i := range 2 {
		if res := e.do(t, filter.RoleDialer, "POST", "/v1/check", body); res.status != http.StatusOK {
			t.Fatalf("request %d: status %d, want 200 (within the burst)", i+1, res.status)
		}
	}
	res := e.do(t, filter.RoleDialer, "POST", "/v1/check", body)
	if res.status != http.StatusTooManyRequests {
		t.Fatalf("third request: status %d, want 429", res.status)
	}
	if got := errorOf(t, res).Error.Code; got != "rate_limited" {
		t.Errorf("code %q, want rate_limited", got)
	}
	// At 0.5/s the next token is about 2 s away.
	if ra := res.header.Get("Retry-After"); ra != "2" {
		t.Errorf("Retry-After %q, want 2", ra)
	}
	// Another key has its own bucket; unauthenticated routes have none.
	if res := e.do(t, filter.RoleOfficer, "POST", "/v1/check", body); res.status != http.StatusOK {
		t.Errorf("another key: status %d, want 200", res.status)
	}
	for range 3 {
		if res := e.do(t, "", "GET", "/healthz", ""); res.status != http.StatusOK {
			t.Errorf("/healthz: status %d, want 200", res.status)
		}
	}
	wantSeries(t, e.scrape(t), "callfilter_http_rate_limited_total", "1")
}

func TestRateLimitOptionsValidate(t *testing.T) {
	for _, rl := range []api.RateLimit{{PerSecond: -1}, {PerSecond: 1, Burst: -1}} {
		o := api.Options{RateLimit: rl}
		if err := o.Validate(); err == nil {
			t.Errorf("%+v: no error", rl)
		}
	}
	o := api.Options{RateLimit: api.RateLimit{PerSecond: 2.5}}
	if err := o.Validate(); err != nil || o.RateLimit.Burst != 3 {
		t.Errorf("burst %d (%v), want the default 3", o.RateLimit.Burst, err)
	}
}
