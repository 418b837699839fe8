package api_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"callfilter/api"
	"callfilter/filter"
)

// Numbers used below. 212 is New York (Eastern), 305 Miami (US-FL, Eastern),
// 312 Chicago (Central).
const (
	nyClean   = "+1 212 555 0134"
	nyListed  = "+12125550142"
	nySMS     = "(212) 555-0156"
	nyOptOut  = "+1 212-555-0177"
	nyRel     = "+1 212 555 0188"
	nyCap     = "+1 212 555 0199"
	flNumber  = "+1 305 555 0123"
	chiNumber = "+1 312 555 0111"
)

func TestCheckAllowsCleanNumber(t *testing.T) {
	e := newEnv(t)
	r := e.check(t, checkBody(nyClean, "call", atWednesday, `"seller":"acme"`, `"campaign":"fall"`))
	if r.Decision != "allow" {
		t.Fatalf("decision %s %v, want allow", r.Decision, r.codes())
	}
	if r.Number == nil {
		t.Fatal("number omitted for a valid number")
	}
	if got, want := r.Number.E164, "+12125550134"; got != want {
		t.Errorf("e164 %q, want %q", got, want)
	}
	if r.Number.Region != "US" || len(r.Number.TimeZones) == 0 || r.Number.Area != "US-NY" {
		t.Errorf("number %+v, want region US, time zones and area US-NY", *r.Number)
	}
	if got, want := r.LocalTime, "2026-11-18T10:00:00-05:00"; got != want {
		t.Errorf("local_time %q, want %q (the called party's offset)", got, want)
	}
	if r.RulesVersion != e.svc.Rules().Version {
		t.Errorf("rules_version %q, want %q", r.RulesVersion, e.svc.Rules().Version)
	}
	if r.NextAllowedAt != "" {
		t.Errorf("next_allowed_at %q on an allow, want it omitted", r.NextAllowedAt)
	}
	// Two checks, two decision ids.
	if r2 := e.check(t, checkBody(nyClean, "call", atWednesday)); r2.DecisionID == r.DecisionID {
		t.Errorf("two decisions share the id %s", r.DecisionID)
	}
}

func TestCheckDeniesListedNumber(t *testing.T) {
	e := newEnv(t)
	if r := e.check(t, checkBody(nyListed, "call", atWednesday)); r.Decision != "allow" {
		t.Fatalf("before listing: %s %v, want allow", r.Decision, r.codes())
	}
	res := e.do(t, filter.RoleOfficer, "POST", "/v1/lists/national/numbers", `{"numbers":["(212) 555-0142"]}`)
	if res.status != http.StatusOK {
		t.Fatalf("add to national: %d %s", res.status, res.body)
	}
	r := e.check(t, checkBody(nyListed, "call", atWednesday))
	if r.Decision != "deny" || !r.has("on_list", "national") {
		t.Fatalf("after listing: %s %v, want deny on_list national", r.Decision, r.codes())
	}
}

func TestCheckUnreadableNumbersAreDecisions(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name, number, code string
	}{
		{"invalid", "+1 212 555", "invalid_number"},
		{"letters", "not a number", "invalid_number"},
		{"missing", "", "missing_number"},
		{"blank", "   ", "missing_number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.check(t, checkBody(tc.number, "call", atWednesday))
			if r.Decision != "deny" || !r.has(tc.code, "") {
				t.Fatalf("%s %v, want deny %s", r.Decision, r.codes(), tc.code)
			}
			if r.Number != nil {
				t.Errorf("number %+v, want it omitted for an unreadable number", *r.Number)
			}
		})
	}
	// A body without the field at all is missing_number too.
	r := e.check(t, `{"channel":"call","purpose":"insurance"}`)
	if !r.has("missing_number", "") {
		t.Errorf("no number field: %v, want missing_number", r.codes())
	}
}

// badRequests are malformed check requests: each is a 4xx, never a decision.
var badRequests = []struct {
	name, contentType, body string
	status                  int
	code, inMessage         string
}{
	{"syntax", "application/json", `{"number": "+12125550134",`, 400, "invalid_json", "byte"},
	{"syntax mid-body", "application/json", `{"number" "x"}`, 400, "invalid_json", "byte 11"},
	{"empty body", "application/json", ``, 400, "invalid_json", "empty"},
	{"array", "application/json", `[]`, 400, "invalid_json", "object"},
	{"null", "application/json", `null`, 400, "invalid_json", "object"},
	{"trailing data", "application/json", `{"channel":"call","purpose":"insurance"} {}`, 400, "invalid_json", "after"},
	{"unknown field", "application/json", `{"number":"+12125550134","channel":"call","purpose":"insurance","reserv":true}`, 400, "unknown_field", `"reserv"`},
	{"number as a field name", "application/json", `{"+12125550134":true,"channel":"call","purpose":"insurance"}`, 400, "unknown_field", `"+xxxxxxx0134"`},
	{"wrong type", "application/json", `{"number":2125550134,"channel":"call","purpose":"insurance"}`, 400, "invalid_json", `"number"`},
	{"wrong type bool", "application/json", `{"number":"+12125550134","channel":"call","purpose":"insurance","reserve":"yes"}`, 400, "invalid_json", `"reserve"`},
	{"unknown purpose", "application/json", `{"number":"+12125550134","channel":"call","purpose":"cars"}`, 400, "unknown_purpose", "cars"},
	{"missing purpose", "application/json", `{"number":"+12125550134","channel":"call"}`, 400, "unknown_purpose", "purpose"},
	{"unknown channel", "application/json", `{"number":"+12125550134","channel":"fax","purpose":"insurance"}`, 400, "unknown_channel", "fax"},
	{"bad time", "application/json", `{"number":"+12125550134","channel":"call","purpose":"insurance","at":"yesterday"}`, 400, "invalid_time", `"at"`},
	{"time without zone", "application/json", `{"number":"+12125550134","channel":"call","purpose":"insurance","at":"2026-11-18T15:00:00"}`, 400, "invalid_time", `"at"`},
	{"time out of range", "application/json", `{"number":"+12125550134","channel":"call","purpose":"insurance","at":"9999-12-31T23:59:59+14:00"}`, 400, "invalid_time", "8999"},
	{"time before 1970", "application/json", `{"number":"+12125550134","channel":"call","purpose":"insurance","at":"1969-12-31T23:59:59Z"}`, 400, "invalid_time", "1970"},
	{"form body", "application/x-www-form-urlencoded", `number=2125550134`, 415, "unsupported_media_type", "application/json"},
	{"no content type", "", `{"number":"+12125550134","channel":"call","purpose":"insurance"}`, 415, "unsupported_media_type", "application/json"},
	{"text", "text/plain", `{"number":"+12125550134","channel":"call","purpose":"insurance"}`, 415, "unsupported_media_type", "application/json"},
}

func TestCheckBadRequests(t *testing.T) {
	e := newEnv(t)
	for _, tc := range badRequests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/v1/check", strings.NewReader(tc.body))
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			req.Header.Set("Authorization", "Bearer "+e.keys[filter.RoleDialer])
			res := e.send(t, req)
			if res.status != tc.status {
				t.Fatalf("status %d, want %d: %s", res.status, tc.status, res.body)
			}
			got := errorOf(t, res)
			if got.Error.Code != tc.code {
				t.Errorf("code %q, want %q (%s)", got.Error.Code, tc.code, got.Error.Message)
			}
			if !strings.Contains(got.Error.Message, tc.inMessage) {
				t.Errorf("message %q does not mention %q", got.Error.Message, tc.inMessage)
			}
			// A message never quotes a phone number from the request.
			if strings.Contains(got.Error.Message, "2125550134") {
				t.Errorf("message %q quotes the number", got.Error.Message)
			}
		})
	}
}

func TestContentTypeParameters(t *testing.T) {
	e := newEnv(t)
	for _, ct := range []string{"application/json; charset=utf-8", "Application/JSON", "application/json ;charset=UTF-8"} {
		req := httptest.NewRequest("POST", "/v1/check", strings.NewReader(checkBody(nyClean, "call", atWednesday)))
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Authorization", "Bearer "+e.keys[filter.RoleDialer])
		if res := e.send(t, req); res.status != http.StatusOK {
			t.Errorf("Content-Type %q: status %d, want 200: %s", ct, res.status, res.body)
		}
	}
}

func TestAuth(t *testing.T) {
	e := newEnv(t)
	body := checkBody(nyClean, "call", atWednesday)
	for _, tc := range []struct {
		name, header string
	}{
		{"no header", ""},
		{"empty bearer", "Bearer "},
		{"wrong scheme", "Basic " + e.keys[filter.RoleAdmin]},
		{"unknown key", "Bearer cf_not_a_key_0123456789abcdef"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/v1/check", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			res := e.send(t, req)
			if res.status != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401: %s", res.status, res.body)
			}
			if got := errorOf(t, res).Error.Code; got != "unauthorized" {
				t.Errorf("code %q, want unauthorized", got)
			}
			if got := res.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
				t.Errorf("WWW-Authenticate %q, want Bearer", got)
			}
		})
	}
	t.Run("lower-case scheme", func(t *testing.T) {
		req := httptest.NewRequest("POST", "/v1/check", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "bearer "+e.keys[filter.RoleDialer])
		if res := e.send(t, req); res.status != http.StatusOK {
			t.Fatalf("status %d, want 200: %s", res.status, res.body)
		}
	})
	t.Run("dialer on lists", func(t *testing.T) {
		res := e.do(t, filter.RoleDialer, "GET", "/v1/lists", "")
		if res.status != http.StatusForbidden {
			t.Fatalf("status %d, want 403: %s", res.status, res.body)
		}
		if got := errorOf(t, res).Error.Code; got != "forbidden" {
			t.Errorf("code %q, want forbidden", got)
		}
	})
	t.Run("auth before decoding", func(t *testing.T) {
		// A bad body from an unknown caller is a 401: nothing is read first.
		req := httptest.NewRequest("POST", "/v1/lists/national/numbers", strings.NewReader(`{`))
		req.Header.Set("Content-Type", "application/json")
		if res := e.send(t, req); res.status != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401", res.status)
		}
	})
}

// route is one route of the API with a body that is well formed for it.
type route struct {
	method, path, body string
	allowed            []filter.Role
}

var (
	everyone = []filter.Role{filter.RoleDialer, filter.RoleScrubber, filter.RoleOfficer, filter.RoleAdmin}
	officers = []filter.Role{filter.RoleOfficer, filter.RoleAdmin}
	admins   = []filter.Role{filter.RoleAdmin}
)

var routes = []route{
	{"POST", "/v1/check", checkBody(nyClean, "call", atWednesday), everyone},
	{"POST", "/v1/check/batch", `{"items":[` + checkBody(nyClean, "call", atWednesday) + `]}`, everyone},
	{"GET", "/v1/lists", "", officers},
	{"POST", "/v1/lists/litigator/numbers", `{"numbers":["+13125550100"]}`, officers},
	{"DELETE", "/v1/lists/litigator/numbers", `{"numbers":["+13125550100"]}`, officers},
	{"POST", "/v1/consents", `{"number":"+13125550101","seller":"acme","purpose":"insurance","channel":"sms","source":"web"}`, officers},
	{"POST", "/v1/consents/revoke", `{"number":"+13125550101","source":"web"}`, officers},
	{"POST", "/v1/relationships", `{"number":"+13125550102","seller":"acme","kind":"inquiry","at":"2026-11-01T00:00:00Z"}`, officers},
	{"POST", "/v1/optouts", `{"number":"+13125550103","source":"call"}`, officers},
	{"POST", "/v1/keys", `{"name":"matrix","role":"dialer"}`, admins},
	{"GET", "/v1/keys", "", admins},
	{"DELETE", "/v1/keys/no-such-key", "", admins},
}

// TestRoleMatrix sends every route as every role and as nobody: each role gets
// through exactly where the permission table says, and nobody is 401.
func TestRoleMatrix(t *testing.T) {
	e := newEnv(t)
	for _, rt := range routes {
		for _, role := range append([]filter.Role{""}, roles...) {
			name := string(role)
			if name == "" {
				name = "none"
			}
			t.Run(rt.method+" "+rt.path+" as "+name, func(t *testing.T) {
				res := e.do(t, role, rt.method, rt.path, rt.body)
				allowed := false
				for _, r := range rt.allowed {
					allowed = allowed || r == role
				}
				switch {
				case role == "":
					if res.status != http.StatusUnauthorized {
						t.Fatalf("status %d, want 401: %s", res.status, res.body)
					}
				case !allowed:
					if res.status != http.StatusForbidden {
						t.Fatalf("status %d, want 403: %s", res.status, res.body)
					}
				case res.status >= 300 && !(rt.method == "DELETE" && res.status == http.StatusNotFound):
					t.Fatalf("status %d, want success: %s", res.status, res.body)
				}
			})
		}
	}
	// And the unauthenticated routes.
	for _, path := range []string{"/healthz", "/readyz"} {
		if res := e.do(t, "", "GET", path, ""); res.status != http.StatusOK {
			t.Errorf("GET %s: status %d, want 200", path, res.status)
		}
	}
}

func TestRoutingErrors(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", "/v1/nope", 404, "not_found"},
		{"GET", "/v1/unknown/+12125550134", 404, "not_found"},
		{"GET", "/v1/check", 405, "method_not_allowed"},
		{"PUT", "/v1/keys", 405, "method_not_allowed"},
	} {
		res := e.do(t, filter.RoleAdmin, tc.method, tc.path, "")
		if res.status != tc.status {
			t.Errorf("%s %s: status %d, want %d", tc.method, tc.path, res.status, tc.status)
			continue
		}
		got := errorOf(t, res)
		if got.Error.Code != tc.code {
			t.Errorf("%s %s: code %q, want %q", tc.method, tc.path, got.Error.Code, tc.code)
		}
		if strings.Contains(got.Error.Message, "2125550134") {
			t.Errorf("%s %s: message %q echoes the path", tc.method, tc.path, got.Error.Message)
		}
	}
}

func TestCheckBatch(t *testing.T) {
	e := newEnv(t)
	if res := e.do(t, filter.RoleOfficer, "POST", "/v1/lists/national/numbers", `{"numbers":["`+nyListed+`"]}`); res.status != 200 {
		t.Fatalf("list: %d %s", res.status, res.body)
	}
	items := []string{
		checkBody(nyClean, "call", atWednesday),
		checkBody(nyListed, "call", atWednesday),
		checkBody("12", "call", atWednesday),
		checkBody(chiNumber, "call", atWednesday),
	}
	res := e.do(t, filter.RoleDialer, "POST", "/v1/check/batch", `{"items":[`+strings.Join(items, ",")+`]}`)
	if res.status != http.StatusOK {
		t.Fatalf("status %d: %s", res.status, res.body)
	}
	var out struct {
		Results []map[string]any `json:"results"`
	}
	decode(t, res, &out)
	if len(out.Results) != len(items) {
		t.Fatalf("%d results, want %d", len(out.Results), len(items))
	}
	want := []struct{ decision, e164 string }{
		{"allow", "+12125550134"}, {"deny", "+12125550142"}, {"deny", ""}, {"allow", "+13125550111"},
	}
	for i, w := range want {
		got := out.Results[i]
		e164 := ""
		if n, ok := got["number"].(map[string]any); ok {
			e164, _ = n["e164"].(string)
		}
		if got["decision"] != w.decision || e164 != w.e164 {
			t.Errorf("results[%d] = %v %q, want %s %q", i, got["decision"], e164, w.decision, w.e164)
		}
	}

	t.Run("each item its own instant", func(t *testing.T) {
		ats := []string{"2026-11-18T15:00:00Z", "2026-11-18T15:00:00Z", "2026-11-18T16:30:00Z", "", "2026-11-18T15:00:00Z"}
		var body []string
		for _, at := range ats {
			item := `{"number":"+12125550134","channel":"call","purpose":"insurance","seller":"acme"`
			if at != "" {
				item += `,"at":"` + at + `"`
			}
			body = append(body, item+"}")
		}
		res := e.do(t, filter.RoleDialer, "POST", "/v1/check/batch", `{"items":[`+strings.Join(body, ",")+`]}`)
		var out struct {
			Results []struct {
				LocalTime string `json:"local_time"`
			} `json:"results"`
		}
		decode(t, res, &out)
		if len(out.Results) != len(ats) {
			t.Fatalf("%d results: %s", len(out.Results), res.body)
		}
		var single struct {
			LocalTime string `json:"local_time"`
		}
		decode(t, e.do(t, filter.RoleDialer, "POST", "/v1/check", `{"number":"+12125550134","channel":"call","purpose":"insurance","seller":"acme"}`), &single)
		for i, at := range ats {
			want := single.LocalTime // no at: the service's now
			if at != "" {
				tm, _ := time.Parse(time.RFC3339, at)
				want = tm.In(mustLoc(t, "America/New_York")).Format(time.RFC3339)
			}
			if got := out.Results[i].LocalTime; got != want {
				t.Errorf("results[%d].local_time = %s, want %s (at %q)", i, got, want, at)
			}
		}
	})
	t.Run("malformed item", func(t *testing.T) {
		bad := []string{items[0], items[1], `{"number":"+12125550134","channel":"call","purpose":"insurance","campaing":"x"}`}
		res := e.do(t, filter.RoleDialer, "POST", "/v1/check/batch", `{"items":[`+strings.Join(bad, ",")+`]}`)
		if res.status != http.StatusBadRequest {
			t.Fatalf("status %d, want 400: %s", res.status, res.body)
		}
		got := errorOf(t, res)
		if got.Error.Code != "unknown_field" || !strings.Contains(got.Error.Message, "items[2]") {
			t.Errorf("error %+v, want unknown_field naming items[2]", got.Error)
		}
	})
	for _, tc := range []struct {
		name, item, code string
	}{
		{"bad channel", `{"number":"+12125550134","channel":"fax","purpose":"insurance"}`, "unknown_channel"},
		{"bad time", `{"number":"+12125550134","channel":"call","purpose":"insurance","at":"noon"}`, "invalid_time"},
		{"wrong type", `{"number":["+12125550134"],"channel":"call","purpose":"insurance"}`, "invalid_json"},
		{"not an object", `"+12125550134"`, "invalid_json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := e.do(t, filter.RoleDialer, "POST", "/v1/check/batch", `{"items":[`+items[0]+`,`+tc.item+`]}`)
			if res.status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", res.status, res.body)
			}
			got := errorOf(t, res)
			if got.Error.Code != tc.code || !strings.Contains(got.Error.Message, "items[1]") {
				t.Errorf("error %+v, want %s naming items[1]", got.Error, tc.code)
			}
		})
	}
	t.Run("limit", func(t *testing.T) {
		one := checkBody(nyClean, "call", atWednesday)
		res := e.do(t, filter.RoleDialer, "POST", "/v1/check/batch", `{"items":[`+strings.Repeat(one+",", 1000)+one+`]}`)
		if res.status != http.StatusBadRequest {
			t.Fatalf("1001 items: status %d, want 400", res.status)
		}
		if got := errorOf(t, res); !strings.Contains(got.Error.Message, "1000") {
			t.Errorf("1001 items: %+v, want the limit named", got.Error)
		}
		res = e.do(t, filter.RoleDialer, "POST", "/v1/check/batch", `{"items":[`+strings.Repeat(one+",", 999)+one+`]}`)
		if res.status != http.StatusOK {
			t.Fatalf("1000 items: status %d, want 200", res.status)
		}
	})
	t.Run("empty", func(t *testing.T) {
		res := e.do(t, filter.RoleDialer, "POST", "/v1/check/batch", `{"items":[]}`)
		if res.status != http.StatusBadRequest {
			t.Fatalf("status %d, want 400", res.status)
		}
		errorOf(t, res)
	})
}

type listEdit struct {
	List     string `json:"list"`
	Accepted int    `json:"accepted"`
	Added    *int   `json:"added"`
	Removed  *int   `json:"removed"`
	Rejected []struct {
		Index   int    `json:"index"`
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"rejected"`
}

func TestListEdits(t *testing.T) {
	e := newEnv(t)
	res := e.do(t, filter.RoleOfficer, "POST", "/v1/lists/state/numbers",
		`{"numbers":["+12125550160","not a number","(312) 555-0161","","+12125550160"]}`)
	if res.status != http.StatusOK {
		t.Fatalf("add: %d %s", res.status, res.body)
	}
	var add listEdit
	decode(t, res, &add)
	if add.List != "state" || add.Accepted != 3 || add.Added == nil || *add.Added != 2 || add.Removed != nil {
		t.Errorf("add = %s, want list state, accepted 3, added 2", res.body)
	}
	if len(add.Rejected) != 2 || add.Rejected[0].Index != 1 || add.Rejected[0].Code != "invalid_number" ||
		add.Rejected[1].Index != 3 || add.Rejected[1].Code != "missing_number" {
		t.Errorf("rejected = %+v, want index 1 invalid_number and 3 missing_number", add.Rejected)
	}
	for _, n := range []string{"+12125550160", "+13125550161"} {
		if r := e.check(t, checkBody(n, "call", atWednesday)); !r.has("on_list", "state") {
			t.Errorf("%s after add: %v, want on_list state", n, r.codes())
		}
	}

	res = e.do(t, filter.RoleOfficer, "GET", "/v1/lists", "")
	var lists struct {
		Lists []struct {
			Name      string  `json:"name"`
			Count     int64   `json:"count"`
			UpdatedAt *string `json:"updated_at"`
			Loaded    bool    `json:"loaded"`
			InRules   bool    `json:"in_rules"`
		} `json:"lists"`
	}
	decode(t, res, &lists)
	found := false
	for _, l := range lists.Lists {
		if l.Name == "state" {
			found = true
			if l.Count != 2 || !l.Loaded || !l.InRules || l.UpdatedAt == nil {
				t.Errorf("state list %+v, want count 2, loaded, in rules, updated", l)
			}
		}
	}
	if !found {
		t.Errorf("GET /v1/lists %s has no state list", res.body)
	}

	res = e.do(t, filter.RoleOfficer, "DELETE", "/v1/lists/state/numbers", `{"numbers":["+13125550161"]}`)
	var rm listEdit
	decode(t, res, &rm)
	if res.status != http.StatusOK || rm.Removed == nil || *rm.Removed != 1 || rm.Added != nil || rm.Rejected == nil {
		t.Fatalf("remove: %d %s, want removed 1 and rejected []", res.status, res.body)
	}
	if r := e.check(t, checkBody("+13125550161", "call", atWednesday)); r.Decision != "allow" {
		t.Errorf("after remove: %s %v, want allow", r.Decision, r.codes())
	}

	for _, tc := range []struct {
		name, path, body, code string
	}{
		{"bad list name", "/v1/lists/Not..A..List/numbers", `{"numbers":["+12125550160"]}`, "invalid_list"},
		{"no numbers", "/v1/lists/state/numbers", `{"numbers":[]}`, "empty_numbers"},
		{"unknown field", "/v1/lists/state/numbers", `{"number":["+12125550160"]}`, "unknown_field"},
		{"numbers not strings", "/v1/lists/state/numbers", `{"numbers":[2125550160]}`, "invalid_json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := e.do(t, filter.RoleOfficer, "POST", tc.path, tc.body)
			if res.status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", res.status, res.body)
			}
			if got := errorOf(t, res).Error.Code; got != tc.code {
				t.Errorf("code %q, want %q", got, tc.code)
			}
		})
	}
}

func TestConsentFlow(t *testing.T) {
	e := newEnv(t)
	sms := checkBody(nySMS, "sms", atWednesday, `"seller":"acme"`)
	if r := e.check(t, sms); r.Decision != "deny" || !r.has("no_consent", "") {
		t.Fatalf("before consent: %s %v, want deny no_consent", r.Decision, r.codes())
	}
	res := e.do(t, filter.RoleOfficer, "POST", "/v1/consents",
		`{"number":"`+nySMS+`","seller":"acme","purpose":"insurance","channel":"sms","source":"web-form","evidence":"form 7","granted_at":"2026-11-01T12:00:00Z"}`)
	if res.status != http.StatusCreated {
		t.Fatalf("consent: %d %s", res.status, res.body)
	}
	var st struct{ Status string }
	if decode(t, res, &st); st.Status != "recorded" {
		t.Errorf("consent status %q, want recorded", st.Status)
	}
	if r := e.check(t, sms); r.Decision != "allow" {
		t.Fatalf("after consent: %s %v, want allow", r.Decision, r.codes())
	}
	// Another seller has no consent.
	if r := e.check(t, checkBody(nySMS, "sms", atWednesday, `"seller":"other"`)); r.Decision != "deny" {
		t.Errorf("other seller: %s, want deny", r.Decision)
	}

	res = e.do(t, filter.RoleOfficer, "POST", "/v1/consents/revoke", `{"number":"`+nySMS+`","seller":"acme","source":"sms-stop","at":"2026-11-10T00:00:00Z"}`)
	if res.status != http.StatusOK {
		t.Fatalf("revoke: %d %s", res.status, res.body)
	}
	var rv struct{ Revoked int }
	if decode(t, res, &rv); rv.Revoked != 1 {
		t.Errorf("revoked %d, want 1", rv.Revoked)
	}
	if r := e.check(t, sms); r.Decision != "deny" || !r.has("consent_revoked", "") {
		t.Fatalf("after revoke: %s %v, want deny consent_revoked", r.Decision, r.codes())
	}

	for _, tc := range []struct {
		name, body, code string
	}{
		{"bad granted_at", `{"number":"` + nySMS + `","seller":"acme","purpose":"insurance","channel":"sms","source":"web","granted_at":"1 Nov"}`, "invalid_time"},
		{"bad expires_at", `{"number":"` + nySMS + `","seller":"acme","purpose":"insurance","channel":"sms","source":"web","expires_at":"soon"}`, "invalid_time"},
		{"expires before granted", `{"number":"` + nySMS + `","seller":"acme","purpose":"insurance","channel":"sms","source":"web","granted_at":"2026-11-01T00:00:00Z","expires_at":"2026-10-01T00:00:00Z"}`, "invalid_expires_at"},
		{"no source", `{"number":"` + nySMS + `","seller":"acme","purpose":"insurance","channel":"sms"}`, "missing_source"},
		{"unknown purpose", `{"number":"` + nySMS + `","seller":"acme","purpose":"cars","channel":"sms","source":"web"}`, "unknown_purpose"},
		{"bad number", `{"number":"555","seller":"acme","purpose":"insurance","channel":"sms","source":"web"}`, "invalid_number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := e.do(t, filter.RoleOfficer, "POST", "/v1/consents", tc.body)
			if res.status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", res.status, res.body)
			}
			if got := errorOf(t, res).Error.Code; got != tc.code {
				t.Errorf("code %q, want %q", got, tc.code)
			}
		})
	}
}

func TestOptOut(t *testing.T) {
	e := newEnv(t)
	res := e.do(t, filter.RoleOfficer, "POST", "/v1/optouts", `{"number":"`+nyOptOut+`","source":"call","at":"2026-11-17T00:00:00Z"}`)
	if res.status != http.StatusOK {
		t.Fatalf("opt-out: %d %s", res.status, res.body)
	}
	var out struct {
		Listed  bool `json:"listed"`
		Revoked int  `json:"revoked"`
	}
	if decode(t, res, &out); !out.Listed || out.Revoked != 0 {
		t.Errorf("opt-out = %s, want listed true, revoked 0", res.body)
	}
	for _, ch := range []string{"call", "sms"} {
		r := e.check(t, checkBody(nyOptOut, ch, atWednesday, `"seller":"acme"`))
		if r.Decision != "deny" || !r.has("on_list", "internal") {
			t.Errorf("%s after opt-out: %s %v, want deny on_list internal", ch, r.Decision, r.codes())
		}
	}
	// Again: already listed.
	res = e.do(t, filter.RoleOfficer, "POST", "/v1/optouts", `{"number":"`+nyOptOut+`","source":"call"}`)
	if decode(t, res, &out); res.status != http.StatusOK || out.Listed {
		t.Errorf("second opt-out = %d %s, want listed false", res.status, res.body)
	}
}

func TestRelationshipExemptsNational(t *testing.T) {
	e := newEnv(t)
	if res := e.do(t, filter.RoleOfficer, "POST", "/v1/lists/national/numbers", `{"numbers":["`+nyRel+`"]}`); res.status != 200 {
		t.Fatalf("list: %d %s", res.status, res.body)
	}
	call := checkBody(nyRel, "call", atWednesday, `"seller":"acme"`)
	if r := e.check(t, call); !r.has("on_list", "national") {
		t.Fatalf("before relationship: %v, want on_list national", r.codes())
	}
	res := e.do(t, filter.RoleOfficer, "POST", "/v1/relationships", `{"number":"`+nyRel+`","seller":"acme","kind":"purchase","at":"2026-06-01T00:00:00Z"}`)
	if res.status != http.StatusCreated {
		t.Fatalf("relationship: %d %s", res.status, res.body)
	}
	r := e.check(t, call)
	if r.Decision != "allow" || !r.has("relationship_exemption", "national") {
		t.Fatalf("after purchase: %s %v, want allow with relationship_exemption national", r.Decision, r.codes())
	}
	if r := e.check(t, checkBody(nyRel, "call", atWednesday, `"seller":"other"`)); r.Decision != "deny" {
		t.Errorf("other seller: %s, want deny", r.Decision)
	}
	for _, tc := range []struct {
		name, body, code string
	}{
		{"no at", `{"number":"` + nyRel + `","seller":"acme","kind":"purchase"}`, "missing_at"},
		{"bad kind", `{"number":"` + nyRel + `","seller":"acme","kind":"friendship","at":"2026-06-01T00:00:00Z"}`, "invalid_kind"},
		{"no seller", `{"number":"` + nyRel + `","kind":"purchase","at":"2026-06-01T00:00:00Z"}`, "missing_seller"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := e.do(t, filter.RoleOfficer, "POST", "/v1/relationships", tc.body)
			if res.status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", res.status, res.body)
			}
			if got := errorOf(t, res).Error.Code; got != tc.code {
				t.Errorf("code %q, want %q", got, tc.code)
			}
		})
	}
}

func TestReserveFrequencyCap(t *testing.T) {
	e := newEnv(t)
	body := checkBody(nyCap, "call", atWednesday, `"seller":"acme"`, `"reserve":true`)
	for i := range 3 {
		if r := e.check(t, body); r.Decision != "allow" {
			t.Fatalf("attempt %d: %s %v, want allow", i+1, r.Decision, r.codes())
		}
	}
	r := e.check(t, body)
	if r.Decision != "deny" || !r.has("frequency_cap", "") {
		t.Fatalf("attempt 4: %s %v, want deny frequency_cap", r.Decision, r.codes())
	}
	if r.NextAllowedAt == "" {
		t.Errorf("attempt 4: no next_allowed_at")
	}
	// Without reserve, the cap is read, not consumed; another seller has its own.
	if r := e.check(t, checkBody(nyCap, "call", atWednesday, `"seller":"other"`, `"reserve":true`)); r.Decision != "allow" {
		t.Errorf("other seller: %s %v, want allow", r.Decision, r.codes())
	}
}

func TestOutsideHours(t *testing.T) {
	e := newEnv(t)
	// Tuesday 20:30 in New York and Miami: inside the federal window, outside
	// Florida's 08:00–20:00.
	const evening = "2026-11-18T01:30:00Z"
	if r := e.check(t, checkBody(nyClean, "call", evening)); r.Decision != "allow" {
		t.Errorf("New York 20:30: %s %v, want allow", r.Decision, r.codes())
	}
	r := e.check(t, checkBody(flNumber, "call", evening))
	if r.Decision != "deny" || !r.has("outside_hours", "") {
		t.Fatalf("Miami 20:30: %s %v, want deny outside_hours", r.Decision, r.codes())
	}
	if r.Number == nil || r.Number.Area != "US-FL" {
		t.Errorf("number %+v, want area US-FL", r.Number)
	}
	next, err := time.Parse(time.RFC3339, r.NextAllowedAt)
	if err != nil {
		t.Fatalf("next_allowed_at %q: %v", r.NextAllowedAt, err)
	}
	if want := time.Date(2026, 11, 18, 13, 0, 0, 0, time.UTC); !next.Equal(want) {
		t.Errorf("next_allowed_at %s, want %s (08:00 in Miami)", next, want)
	}
	if got, want := r.LocalTime, "2026-11-17T20:30:00-05:00"; got != want {
		t.Errorf("local_time %q, want %q", got, want)
	}
}

// TestBodyTooLarge runs over TCP: fasthttp refuses the body while reading the
// request, before Fiber's app.Test could see a response.
func TestBodyTooLarge(t *testing.T) {
	e := newEnv(t, func(c *envConfig) { c.opts.BodyLimit = 1 << 10 })
	addr := serve(t, e)
	post := func(body string) response {
		req, _ := http.NewRequest("POST", "http://"+addr+"/v1/check/batch", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+e.keys[filter.RoleDialer])
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return response{status: res.StatusCode, header: res.Header, body: b}
	}
	one := checkBody(nyClean, "call", atWednesday)
	res := post(`{"items":[` + strings.Repeat(one+",", 20) + one + `]}`)
	if res.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413: %s", res.status, res.body)
	}
	if got := errorOf(t, res).Error.Code; got != "body_too_large" {
		t.Errorf("code %q, want body_too_large", got)
	}
	if res := post(`{"items":[` + one + `]}`); res.status != http.StatusOK {
		t.Errorf("small body: status %d, want 200: %s", res.status, res.body)
	}
}

func TestHealthAndReady(t *testing.T) {
	e := newEnv(t, func(c *envConfig) { c.noLoad = true })
	res := e.do(t, "", "GET", "/healthz", "")
	if res.status != http.StatusOK || !strings.Contains(string(res.body), `"status":"ok"`) {
		t.Errorf("healthz: %d %s", res.status, res.body)
	}
	res = e.do(t, "", "GET", "/readyz", "")
	if res.status != http.StatusServiceUnavailable || !strings.Contains(string(res.body), `"status":"not_ready"`) {
		t.Errorf("readyz before the lists load: %d %s, want 503 not_ready", res.status, res.body)
	}
	// Not ready means fail closed, not allow.
	if r := e.check(t, checkBody(nyClean, "call", atWednesday)); r.Decision != "deny" || !r.has("unavailable", "") {
		t.Errorf("check before the lists load: %s %v, want deny unavailable", r.Decision, r.codes())
	}

	ready := newEnv(t)
	if res := ready.do(t, "", "GET", "/readyz", ""); res.status != http.StatusOK || !strings.Contains(string(res.body), `"status":"ok"`) {
		t.Errorf("readyz: %d %s, want 200 ok", res.status, res.body)
	}
}

func TestKeys(t *testing.T) {
	e := newEnv(t)
	res := e.do(t, filter.RoleAdmin, "POST", "/v1/keys", `{"name":"dialer-2","role":"dialer"}`)
	if res.status != http.StatusCreated {
		t.Fatalf("create: %d %s", res.status, res.body)
	}
	if got := res.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", got)
	}
	var k struct {
		Name, Role, Key string
		CreatedAt       string `json:"created_at"`
	}
	decode(t, res, &k)
	if k.Name != "dialer-2" || k.Role != "dialer" || k.Key == "" || k.CreatedAt == "" {
		t.Fatalf("created %s", res.body)
	}
	use := func() int {
		req := httptest.NewRequest("POST", "/v1/check", strings.NewReader(checkBody(nyClean, "call", atWednesday)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+k.Key)
		return e.send(t, req).status
	}
	if got := use(); got != http.StatusOK {
		t.Fatalf("new key: status %d, want 200", got)
	}

	res = e.do(t, filter.RoleAdmin, "GET", "/v1/keys", "")
	if strings.Contains(string(res.body), k.Key) || strings.Contains(string(res.body), `"key"`) {
		t.Errorf("GET /v1/keys shows a secret: %s", res.body)
	}
	var list struct {
		Keys []struct{ Name, Role string } `json:"keys"`
	}
	decode(t, res, &list)
	if len(list.Keys) != len(roles)+1 {
		t.Errorf("GET /v1/keys: %s, want %d keys", res.body, len(roles)+1)
	}

	for _, tc := range []struct {
		body, code string
		status     int
	}{
		{`{"name":"dialer-2","role":"dialer"}`, "conflict", http.StatusConflict},
		{`{"name":"x","role":"root"}`, "invalid_role", http.StatusBadRequest},
		{`{"name":"a b","role":"dialer"}`, "invalid_name", http.StatusBadRequest},
	} {
		res := e.do(t, filter.RoleAdmin, "POST", "/v1/keys", tc.body)
		if res.status != tc.status {
			t.Errorf("POST /v1/keys %s: status %d, want %d: %s", tc.body, res.status, tc.status, res.body)
			continue
		}
		if got := errorOf(t, res).Error.Code; got != tc.code {
			t.Errorf("POST /v1/keys %s: code %q, want %q", tc.body, got, tc.code)
		}
	}

	if res := e.do(t, filter.RoleAdmin, "DELETE", "/v1/keys/dialer-2", ""); res.status != http.StatusNoContent || len(res.body) != 0 {
		t.Fatalf("delete: %d %s, want 204 and no body", res.status, res.body)
	}
	if got := use(); got != http.StatusUnauthorized {
		t.Errorf("deleted key: status %d, want 401", got)
	}
	res = e.do(t, filter.RoleAdmin, "DELETE", "/v1/keys/dialer-2", "")
	if res.status != http.StatusNotFound || errorOf(t, res).Error.Code != "not_found" {
		t.Errorf("delete again: %d %s, want 404 not_found", res.status, res.body)
	}
}

func TestPanicIsInternalError(t *testing.T) {
	e := newEnv(t, func(c *envConfig) { c.noLogChk = true })
	e.srv.App().Get("/panic", func(*fiber.Ctx) error { panic("boom: secret detail") })
	res := e.do(t, "", "GET", "/panic", "")
	if res.status != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500", res.status)
	}
	got := errorOf(t, res)
	if got.Error.Code != "internal" || got.Error.Message != "internal error" {
		t.Errorf("error %+v, want internal / internal error", got.Error)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "boom: secret detail") || !strings.Contains(logs, "goroutine") {
		t.Errorf("the panic and its stack are not logged:\n%s", logs)
	}
	// The server still serves.
	if res := e.do(t, "", "GET", "/healthz", ""); res.status != http.StatusOK {
		t.Errorf("after a panic: healthz %d", res.status)
	}
}

func TestUnclassifiedErrorsAreNotShown(t *testing.T) {
	e := newEnv(t)
	e.srv.App().Get("/oops", func(*fiber.Ctx) error { return fmt.Errorf("dial tcp 10.0.0.7:6379: connection refused") })
	res := e.do(t, "", "GET", "/oops", "")
	got := errorOf(t, res)
	if res.status != http.StatusInternalServerError || got.Error.Message != "internal error" {
		t.Errorf("%d %+v, want 500 internal error", res.status, got.Error)
	}
	if !strings.Contains(e.logs.String(), "connection refused") {
		t.Errorf("the cause is not logged:\n%s", e.logs.String())
	}
}

func TestOptionsValidate(t *testing.T) {
	var o api.Options
	if err := o.Validate(); err != nil {
		t.Fatalf("zero options: %v", err)
	}
	if o.BodyLimit != 4<<20 || o.RequestTimeout != 2*time.Second || o.ReadTimeout != 10*time.Second ||
		o.WriteTimeout != 10*time.Second || o.IdleTimeout != 60*time.Second || o.Logger == nil {
		t.Errorf("defaults %+v", o)
	}
	bad := api.Options{BodyLimit: -1, IdleTimeout: -time.Second}
	err := bad.Validate()
	if err == nil || !strings.Contains(err.Error(), "body limit") || !strings.Contains(err.Error(), "idle timeout") {
		t.Errorf("negative options: %v, want both named", err)
	}
}

func mustLoc(tb testing.TB, name string) *time.Location {
	tb.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		tb.Fatal(err)
	}
	return loc
}
