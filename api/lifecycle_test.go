package api_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"callfilter/filter"
)

// Facts that change with time on their own, through the real stack:
// expiring list entries, reassigned numbers, renewal windows.

func checkAt(t *testing.T, e *env, number, channel, at string, extra ...string) checkResult {
	t.Helper()
	res := e.do(t, filter.RoleDialer, "POST", "/v1/check", checkBody(number, channel, at, extra...))
	if res.status != 200 {
		t.Fatalf("check: %d %s", res.status, res.body)
	}
	r, err := validateCheck(res.body)
	if err != nil {
		t.Fatalf("check: %v: %s", err, res.body)
	}
	return r
}

func TestListEntryExpiry(t *testing.T) {
	e := newEnv(t)
	// 180 days after wednesday (2026-11-18) is 2027-05-17; a Tuesday a day later is inside the hours.
	res := e.do(t, filter.RoleOfficer, "POST", "/v1/lists/internal/numbers", `{"numbers":["212-555-0150","nonsense"],"expires_in_days":180}`)
	if res.status != 200 {
		t.Fatalf("add with expires_in_days: %d %s", res.status, res.body)
	}
	var edit struct {
		Added    int
		Accepted int
		Rejected []struct{ Index int }
	}
	decode(t, res, &edit)
	if edit.Added != 1 || edit.Accepted != 1 || len(edit.Rejected) != 1 || edit.Rejected[0].Index != 1 {
		t.Fatalf("add: %s", res.body)
	}
	if r := checkAt(t, e, "2125550150", "call", atWednesday); !r.has("on_list", "internal") {
		t.Fatalf("before the expiry: %v, want on_list internal", r.codes())
	}
	if r := checkAt(t, e, "2125550150", "call", "2027-05-18T15:00:00Z"); r.Decision != "allow" {
		t.Fatalf("after the expiry: %s %v, want allow", r.Decision, r.codes())
	}

	// An absolute expiry, then a permanent re-add.
	res = e.do(t, filter.RoleOfficer, "POST", "/v1/lists/internal/numbers", `{"numbers":["2125550151"],"expires_at":"2026-12-01T00:00:00Z"}`)
	if res.status != 200 {
		t.Fatalf("add with expires_at: %d %s", res.status, res.body)
	}
	lookup := e.do(t, filter.RoleOfficer, "GET", "/v1/numbers/2125550151?seller=acme", "")
	var l struct {
		Lists []struct {
			List, State string
			ExpiresAt   string `json:"expires_at"`
			On          bool
		}
	}
	decode(t, lookup, &l)
	found := false
	for _, x := range l.Lists {
		if x.List == "internal" {
			found = true
			if !x.On || x.ExpiresAt != "2026-12-01T00:00:00Z" {
				t.Errorf("lookup of an expiring entry: %+v, want on until 2026-12-01", x)
			}
		}
	}
	if !found {
		t.Fatalf("lookup: no internal list: %s", lookup.body)
	}
	if r := checkAt(t, e, "2125550151", "call", "2026-12-02T15:00:00Z"); r.Decision != "allow" {
		t.Fatalf("after expires_at: %v, want allow", r.codes())
	}
	e.do(t, filter.RoleOfficer, "POST", "/v1/lists/internal/numbers", `{"numbers":["2125550151"]}`)
	if r := checkAt(t, e, "2125550151", "call", "2026-12-02T15:00:00Z"); !r.has("on_list", "internal") {
		t.Fatalf("re-added without expiry: %v, want on_list internal for good", r.codes())
	}

	for _, tc := range []struct{ body, code string }{
		{`{"numbers":["2125550152"],"expires_at":"2026-11-01T00:00:00Z"}`, "expiry_in_past"},
		{`{"numbers":["2125550152"],"expires_at":"2026-11-18T15:00:00Z"}`, "expiry_in_past"},
		{`{"numbers":["2125550152"],"expires_at":"2026-12-01T00:00:00Z","expires_in_days":3}`, "invalid_expiry"},
		{`{"numbers":["2125550152"],"expires_in_days":0}`, "invalid_expiry"},
		{`{"numbers":["2125550152"],"expires_at":"soon"}`, "invalid_time"},
	} {
		res := e.do(t, filter.RoleOfficer, "POST", "/v1/lists/internal/numbers", tc.body)
		if res.status != 400 || errorOf(t, res).Error.Code != tc.code {
			t.Errorf("%s: got %d %s, want 400 %s", tc.body, res.status, res.body, tc.code)
		}
	}
	if r := checkAt(t, e, "2125550152", "call", atWednesday); r.Decision != "allow" {
		t.Fatalf("a rejected add listed the number: %v", r.codes())
	}
	res = e.do(t, filter.RoleOfficer, "DELETE", "/v1/lists/internal/numbers", `{"numbers":["2125550150"],"expires_in_days":3}`)
	if res.status != 400 || errorOf(t, res).Error.Code != "invalid_expiry" {
		t.Errorf("DELETE with an expiry: got %d %s, want 400 invalid_expiry", res.status, res.body)
	}
}

func TestReassignedNumbers(t *testing.T) {
	e := newEnv(t)
	consent := func(number, channel, granted string) {
		t.Helper()
		res := e.do(t, filter.RoleOfficer, "POST", "/v1/consents", `{"number":"`+number+`","seller":"acme","purpose":"insurance","channel":"`+channel+`","source":"web-form","granted_at":"`+granted+`"}`)
		if res.status != 201 {
			t.Fatalf("consent: %d %s", res.status, res.body)
		}
	}
	consent("2125550160", "sms", "2026-01-10T09:00:00Z")
	consent("2125550161", "call", "2026-01-10T09:00:00Z")
	e.do(t, filter.RoleOfficer, "POST", "/v1/lists/national/numbers", `{"numbers":["2125550161"]}`)
	if r := checkAt(t, e, "2125550160", "sms", atWednesday, `"seller":"acme"`); r.Decision != "allow" {
		t.Fatalf("before the feed: %v, want allow", r.codes())
	}
	if r := checkAt(t, e, "2125550161", "call", atWednesday, `"seller":"acme"`); r.Decision != "allow" || !r.has("consent", "national") {
		t.Fatalf("before the feed: %v, want allow with consent exempting national", r.codes())
	}

	body := `{"numbers":[
		{"number":"212-555-0160","disconnected_at":"2026-06-01T00:00:00Z"},
		{"number":"bogus","disconnected_at":"2026-06-01T00:00:00Z"},
		{"number":"2125550161","disconnected_at":"June"},
		{"number":"2125550161"},
		{"number":"2125550161","disconnected_at":"2026-07-01T00:00:00Z"},
		{"number":"2125550162","disconnected_at":"2027-01-01T00:00:00Z"}]}`
	if res := e.do(t, filter.RoleDialer, "POST", "/v1/reassigned", body); res.status != 403 {
		t.Fatalf("a dialer posting a feed: got %d, want 403", res.status)
	}
	res := e.do(t, filter.RoleOfficer, "POST", "/v1/reassigned", body)
	if res.status != 200 {
		t.Fatalf("reassigned: %d %s", res.status, res.body)
	}
	var out struct {
		Accepted int
		Rejected []struct {
			Index int
			Code  string
		}
	}
	decode(t, res, &out)
	var got []string
	for _, r := range out.Rejected {
		got = append(got, fmt.Sprint(r.Index, ":", r.Code))
	}
	if want := "1:invalid_number 2:invalid_time 3:missing_disconnected_at 5:disconnect_in_future"; out.Accepted != 2 || strings.Join(got, " ") != want {
		t.Fatalf("reassigned: accepted %d, rejected %q; want 2 and %q", out.Accepted, strings.Join(got, " "), want)
	}
	if r := checkAt(t, e, "2125550160", "sms", atWednesday, `"seller":"acme"`); r.Decision != "deny" || !r.has("consent_reassigned", "") {
		t.Fatalf("consent before the disconnect: %v, want deny consent_reassigned", r.codes())
	}
	if r := checkAt(t, e, "2125550161", "call", atWednesday, `"seller":"acme"`); !r.has("consent_reassigned", "national") || !r.has("on_list", "national") {
		t.Fatalf("consent exemption before the disconnect: %v, want consent_reassigned and on_list national", r.codes())
	}
	// A new consent, given by the number's new holder, counts.
	consent("2125550160", "sms", "2026-11-01T09:00:00Z")
	if r := checkAt(t, e, "2125550160", "sms", atWednesday, `"seller":"acme"`); r.Decision != "allow" {
		t.Fatalf("consent after the disconnect: %v, want allow", r.codes())
	}
	lookup := e.do(t, filter.RoleOfficer, "GET", "/v1/numbers/2125550161?seller=acme", "")
	var l struct {
		DisconnectedAt string `json:"disconnected_at"`
	}
	decode(t, lookup, &l)
	if l.DisconnectedAt != "2026-07-01T00:00:00Z" {
		t.Errorf("lookup disconnected_at: got %q, want 2026-07-01T00:00:00Z", l.DisconnectedAt)
	}
	if res := e.do(t, filter.RoleOfficer, "POST", "/v1/reassigned", `{"numbers":[]}`); res.status != 400 || errorOf(t, res).Error.Code != "empty_numbers" {
		t.Errorf("an empty feed: %d %s, want 400 empty_numbers", res.status, res.body)
	}
}

// TestRenewalWindow: a purpose with renewal_window_days solicits only within
// that many days before the expiry of a policy recorded with the relationship.
func TestRenewalWindow(t *testing.T) {
	e := newEnv(t)
	src, err := os.ReadFile("../rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Replace(string(src), "\npurposes:\n", "\npurposes:\n  renewal:\n    call: {renewal_window_days: 40}\n", 1)
	rs, err := filter.ParseRules([]byte(doc))
	if err != nil {
		t.Fatalf("rules with a renewal purpose: %v", err)
	}
	e.svc.SetRules(rs)
	renewal := func(number string) checkResult {
		t.Helper()
		res := e.do(t, filter.RoleDialer, "POST", "/v1/check",
			`{"number":"`+number+`","channel":"call","purpose":"renewal","seller":"acme","at":"`+atWednesday+`"}`)
		r, err := validateCheck(res.body)
		if res.status != 200 || err != nil {
			t.Fatalf("check: %d %v %s", res.status, err, res.body)
		}
		return r
	}
	rel := func(number, policy string) response {
		t.Helper()
		return e.do(t, filter.RoleOfficer, "POST", "/v1/relationships",
			`{"number":"`+number+`","seller":"acme","kind":"purchase","at":"2025-12-01T00:00:00Z","policy_expires_at":"`+policy+`"}`)
	}
	// Wednesday is 2026-11-18: a policy expiring 2026-12-20 is 32 days away, one expiring 2027-01-31 is 74.
	if res := rel("2125550180", "2026-12-20T00:00:00Z"); res.status != 201 {
		t.Fatalf("relationship: %d %s", res.status, res.body)
	}
	rel("2125550181", "2027-01-31T00:00:00Z")
	if r := renewal("2125550180"); r.Decision != "allow" {
		t.Errorf("32 days before expiry: %v, want allow", r.codes())
	}
	if r := renewal("2125550181"); r.Decision != "deny" || !r.has("outside_renewal_window", "") {
		t.Errorf("74 days before expiry: %v, want outside_renewal_window", r.codes())
	}
	if r := renewal("2125550182"); !r.has("outside_renewal_window", "") {
		t.Errorf("no policy on record: %v, want outside_renewal_window", r.codes())
	}
	if r := checkAt(t, e, "2125550181", "call", atWednesday, `"seller":"acme"`); r.Decision != "allow" {
		t.Errorf("another purpose is not touched: %v", r.codes())
	}
	if res := rel("2125550183", "2025-01-01T00:00:00Z"); res.status != 400 || errorOf(t, res).Error.Code != "invalid_policy_expires_at" {
		t.Errorf("a policy expiring before the purchase: %d %s, want 400 invalid_policy_expires_at", res.status, res.body)
	}
	if res := rel("2125550183", "next year"); res.status != 400 || errorOf(t, res).Error.Code != "invalid_time" {
		t.Errorf("a bad policy_expires_at: %d %s, want 400 invalid_time", res.status, res.body)
	}
	lookup := e.do(t, filter.RoleOfficer, "GET", "/v1/numbers/2125550180?seller=acme", "")
	var l struct {
		Relationships []struct {
			PolicyExpiresAt string `json:"policy_expires_at"`
		}
	}
	decode(t, lookup, &l)
	if len(l.Relationships) != 1 || l.Relationships[0].PolicyExpiresAt != "2026-12-20T00:00:00Z" {
		t.Errorf("lookup: %s", lookup.body)
	}
}

// TestCallOutcomes: unanswered calls and refusals reported by dialers feed
// the rules on them; a refusal is also an opt-out.
func TestCallOutcomes(t *testing.T) {
	e := newEnv(t)
	src, err := os.ReadFile("../rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Replace(string(src), "\npurposes:\n", "\npurposes:\n  car_insurance:\n    call: {unanswered_per_day: 3, refusal_block_days: 30}\n", 1)
	rs, err := filter.ParseRules([]byte(doc))
	if err != nil {
		t.Fatalf("rules with outcome rules: %v", err)
	}
	e.svc.SetRules(rs)
	outcome := func(role filter.Role, number, kind, at string) response {
		t.Helper()
		return e.do(t, role, "POST", "/v1/outcomes",
			`{"number":"`+number+`","seller":"acme","purpose":"car_insurance","channel":"call","outcome":"`+kind+`","at":"`+at+`"}`)
	}
	car := func(number string) checkResult {
		t.Helper()
		res := e.do(t, filter.RoleDialer, "POST", "/v1/check",
			`{"number":"`+number+`","channel":"call","purpose":"car_insurance","seller":"acme","at":"`+atWednesday+`"}`)
		r, err := validateCheck(res.body)
		if res.status != 200 || err != nil {
			t.Fatalf("check: %d %v %s", res.status, err, res.body)
		}
		return r
	}
	// Wednesday 10:00 in New York; three unanswered calls earlier that morning.
	for i, at := range []string{"2026-11-18T12:10:00Z", "2026-11-18T13:00:00Z"} {
		if res := outcome(filter.RoleDialer, "2125550190", []string{"no_answer", "busy"}[i], at); res.status != 201 {
			t.Fatalf("outcome: %d %s", res.status, res.body)
		}
	}
	if r := car("2125550190"); r.Decision != "allow" {
		t.Fatalf("two unanswered calls: %v, want allow", r.codes())
	}
	outcome(filter.RoleDialer, "2125550190", "no_answer", "2026-11-18T14:00:00Z")
	if r := car("2125550190"); r.Decision != "deny" || !r.has("unanswered_limit", "") {
		t.Fatalf("three unanswered calls: %v, want unanswered_limit", r.codes())
	}
	if r := checkAt(t, e, "2125550190", "call", atWednesday, `"seller":"acme"`); r.Decision != "allow" {
		t.Fatalf("another purpose: %v, want allow", r.codes())
	}

	res := outcome(filter.RoleDialer, "2125550191", "refused", "2026-11-18T14:30:00Z")
	var out struct {
		Status  string
		Listed  bool
		Revoked int
	}
	decode(t, res, &out)
	if res.status != 201 || !out.Listed {
		t.Fatalf("refused: %d %s, want 201 and listed", res.status, res.body)
	}
	if r := car("2125550191"); !r.has("refusal_block", "") || !r.has("on_list", "internal") {
		t.Fatalf("after a refusal: %v, want refusal_block and on_list internal", r.codes())
	}
	if r := checkAt(t, e, "2125550191", "call", atWednesday, `"seller":"acme"`); !r.has("on_list", "internal") {
		t.Fatalf("a refusal is an opt-out: %v, want on_list internal", r.codes())
	}

	for _, tc := range []struct {
		kind, at, code string
	}{
		{"hung_up", atWednesday, "invalid_outcome"},
		{"busy", "2026-11-19T15:00:00Z", "outcome_in_future"},
		{"busy", "yesterday", "invalid_time"},
	} {
		res := outcome(filter.RoleDialer, "2125550192", tc.kind, tc.at)
		if res.status != 400 || errorOf(t, res).Error.Code != tc.code {
			t.Errorf("outcome %s at %s: %d %s, want 400 %s", tc.kind, tc.at, res.status, res.body, tc.code)
		}
	}
	if res := outcome("", "2125550192", "busy", atWednesday); res.status != 401 {
		t.Errorf("no key: %d, want 401", res.status)
	}
}
