package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"callfilter/filter"
	"callfilter/phone"
	"callfilter/service"
)

// fastAccepted are bodies of the common shape: the fast decoder must take
// each, and decode it as decodeJSON does.
var fastAccepted = []string{
	`{}`,
	` {} `,
	`{"number":"+12125550134","channel":"call","purpose":"insurance","at":"2026-11-18T15:00:00Z"}`,
	`{"number":"+12125550134","channel":"sms","purpose":"insurance","seller":"acme","reserve":true}`,
	"\t{ \"number\" :\r\n\"2125550134\" , \"reserve\" : false ,\"region\":\"US\",\"campaign\":\"\",\"postal_code\":\"10001\"}\n",
	"{\"number\":\"+86 10 6552 9988\",\"channel\":\"call\",\"purpose\":\"debt\",\"region\":\"CN\",\"seller\":\"ÉCOLE 学校 \uFFFD \u2028\"}",
	`{"number":"tel:+1-212-555-0134;ext=12","channel":"fax","purpose":"x","at":"yesterday"}`,
	`{"channel":"","number":"","purpose":"","seller":"<a&b>","campaign":"'"}`,
}

// fastRejected are bodies the fast decoder must leave to decodeJSON: some
// are valid (and decodeJSON decodes them), some are errors (and decodeJSON
// names them).
var fastRejected = []string{
	``,
	` `,
	`null`,
	`[]`,
	`{`,
	`{"number":"+12125550134",}`,
	`{"number" "x"}`,
	`{"number":"+12125550134"} {}`,
	`{"number":"+12125550134"}x`,
	`{"NUMBER":"+12125550134"}`,
	`{"Number":"+12125550134"}`,
	`{"number":"+12125550134","number":"+13125550111"}`,
	`{"reserve":true,"reserve":false}`,
	`{"reserv":true}`,
	`{"+12125550134":true}`,
	`{"number":2125550134}`,
	`{"number":null}`,
	`{"reserve":null}`,
	`{"reserve":"yes"}`,
	`{"reserve":1}`,
	`{"reserve":truex}`,
	`{"reserve":tru}`,
	`{"number":"\u0031212"}`,
	`{"campaign":"a\"b"}`,
	`{"n\u0075mber":"1"}`,
	"{\"campaign\":\"a\x01b\"}",
	"{\"campaign\":\"a\tb\"}",
	"{\"campaign\":\"\xff\"}",
	"{\"campaign\":\"\xed\xa0\x80\"}", // a surrogate half: invalid UTF-8
	"\ufeff{}",
	`{"number":"1"`,
	`{"number":"1`,
	`{"number":`,
	`{"number"`,
	`{"number":["1"]}`,
}

func strictDecode(data []byte) (checkRequest, error) {
	var r checkRequest
	err := decodeJSON(data, &r)
	return r, err
}

func TestDecodeCheckFast(t *testing.T) {
	for _, body := range fastAccepted {
		var got checkRequest
		if !decodeCheckFast([]byte(body), &got) {
			t.Errorf("fast decoder refused %q", body)
			continue
		}
		want, err := strictDecode([]byte(body))
		if err != nil {
			t.Errorf("fast decoder took %q, which decodeJSON refuses: %v", body, err)
		} else if got != want {
			t.Errorf("%q: fast %+v, want %+v", body, got, want)
		}
	}
	for _, body := range fastRejected {
		var got checkRequest
		if decodeCheckFast([]byte(body), &got) {
			t.Errorf("fast decoder took %q: %+v", body, got)
		}
	}
}

// The decoded strings must not share memory with the body, which Fiber
// reuses for the next request.
func TestDecodeCheckFastCopies(t *testing.T) {
	body := []byte(`{"number":"+12125550134","region":"US","channel":"call","purpose":"insurance","seller":"acme","campaign":"c1","at":"2026-11-18T15:00:00Z","postal_code":"10001"}`)
	var got checkRequest
	if !decodeCheckFast(body, &got) {
		t.Fatal("fast decoder refused the body")
	}
	want := got
	for i := range body {
		body[i] = 'X'
	}
	if got != want {
		t.Errorf("after the body was overwritten: %+v, want %+v", got, want)
	}
	if got.Number != "+12125550134" || got.PostalCode != "10001" || got.At != "2026-11-18T15:00:00Z" {
		t.Errorf("decoded %+v", got)
	}
}

func batchOf(items ...string) string { return `{"items":[` + strings.Join(items, ",") + `]}` }

// strictBatch decodes a batch body as the strict path does.
func strictBatch(data []byte) ([]checkRequest, error) {
	var req batchRequest
	if err := decodeJSON(data, &req); err != nil {
		return nil, err
	}
	out := make([]checkRequest, len(req.Items))
	for i, raw := range req.Items {
		if err := decodeJSON(raw, &out[i]); err != nil {
			return nil, inItem(i, err)
		}
	}
	return out, nil
}

func TestDecodeBatchFast(t *testing.T) {
	accepted := []string{
		`{"items":[]}`,
		" {\n\"items\" : [ ] } ",
		batchOf(fastAccepted...),
		"{\"items\":[\n" + strings.Join(fastAccepted, " ,\n") + "\n]}\n",
	}
	for _, body := range accepted {
		got, ok := decodeBatchFast([]byte(body), nil)
		if !ok {
			t.Errorf("fast decoder refused %q", body)
			continue
		}
		want, err := strictBatch([]byte(body))
		if err != nil {
			t.Errorf("fast decoder took %q, which the strict path refuses: %v", body, err)
		} else if len(got) != len(want) || (len(got) > 0 && !reflect.DeepEqual(got, want)) {
			t.Errorf("%q: fast %+v, want %+v", body, got, want)
		}
	}
	rejected := []string{
		`{}`, `{"items":null}`, `{"items":{}}`, `{"Items":[]}`, `{"items":[],"items":[]}`,
		`{"items":[]} x`, `{"items":[],"x":1}`, `{"items":[{}],}`, `{"items":[{},]}`,
		`{"items":[{}}`, `{"items":[{}`, `{"items":[1]}`, `{"items":["x"]}`, `{"items":[null]}`,
		`{"items":[[]]}`, `[{}]`, ``,
	}
	for _, body := range fastRejected {
		rejected = append(rejected, batchOf(`{}`, body))
	}
	many := make([]string, maxFastBatch+1)
	for i := range many {
		many[i] = `{}`
	}
	rejected = append(rejected, batchOf(many...))
	if _, ok := decodeBatchFast([]byte(batchOf(many[1:]...)), nil); !ok {
		t.Errorf("fast decoder refused %d items", maxFastBatch)
	}
	for _, body := range rejected {
		if got, ok := decodeBatchFast([]byte(body), nil); ok {
			t.Errorf("fast decoder took %q: %+v", body, got)
		}
	}
}

// oddStrings exercise JSON string escaping.
var oddStrings = []string{
	"", "plain", `quo"te`, `back\slash`, "new\nline", "tab\tcr\r", "\b\f\x00\x01\x1f\x7f",
	"<script>&amp;</script>", "Ünïcödé 学校 😀", "\u2028line\u2029para", "bad \xff utf8 \xed\xa0\x80 \xe2\x82",
	"\uFFFD", "ends with \\",
}

// testResults returns check results covering every reason code and field
// combination, with odd strings in every string field.
func testResults() []service.CheckResult {
	codes := []filter.ReasonCode{
		filter.ReasonInvalidNumber, filter.ReasonMissingNumber, filter.ReasonOnList, filter.ReasonNoConsent,
		filter.ReasonConsentRevoked, filter.ReasonConsentExpired, filter.ReasonConsentReassigned,
		filter.ReasonOutsideHours, filter.ReasonDayNotAllowed, filter.ReasonHoliday, filter.ReasonEmergencyBlock,
		filter.ReasonFrequencyCap, filter.ReasonChannelNotAllowed, filter.ReasonWirelessProhibited,
		filter.ReasonListStale, filter.ReasonUnavailable, filter.ReasonOutsideRenewalWindow,
		filter.ReasonUnansweredLimit, filter.ReasonRefusalBlock, filter.ReasonRelationshipExemption, filter.ReasonConsent,
	}
	ny, _ := time.LoadLocation("America/New_York")
	kolkata := time.FixedZone("", 5*3600+30*60)
	local := time.Date(2026, 11, 18, 10, 30, 0, 0, ny)
	var out []service.CheckResult
	for i := 0; i < 3*len(oddStrings)+len(codes); i++ {
		odd := func(k int) string { return oddStrings[(i+k)%len(oddStrings)] }
		d := filter.Decision{
			ID: "d_" + odd(0), Outcome: filter.Deny, RulesVersion: odd(1),
			LocalTime: local.Add(time.Duration(i) * time.Hour),
		}
		if i%2 == 0 {
			d.Outcome = filter.Allow
		}
		switch i % 4 {
		case 1:
			d.Reasons = []filter.Reason{}
		case 2, 3:
			for k := 0; k <= i%3; k++ {
				rs := filter.Reason{Code: codes[(i+k)%len(codes)], Detail: odd(k + 2)}
				if k%2 == 0 {
					rs.List = odd(k + 3)
				}
				d.Reasons = append(d.Reasons, rs)
			}
		}
		if i < len(codes) {
			d.Reasons = append(d.Reasons, filter.Reason{Code: codes[i], List: "federal", Detail: "a \"detail\"\n<&>"})
		}
		switch i % 3 {
		case 1:
			d.NextAllowedAt = d.LocalTime.Add(90 * time.Minute).UTC()
		case 2:
			d.LocalTime = d.LocalTime.In(kolkata)
			d.NextAllowedAt = d.LocalTime.Add(time.Hour)
		}
		if i%5 == 4 {
			d.LocalTime = time.Time{}
		}
		r := service.CheckResult{Decision: d}
		if i%3 != 0 {
			n := &phone.Number{E164: "+1212555" + odd(4), Region: odd(5), Type: phone.LineType(odd(6)), Area: odd(7)}
			if i%4 != 0 {
				n.TimeZones = []string{"America/New_York", odd(8)}
			}
			r.Number = n
		}
		out = append(out, r)
	}
	return out
}

// marshalNoHTML is json.Marshal without HTML escaping, which the fast encoder
// skips.
func marshalNoHTML(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func TestAppendCheckResult(t *testing.T) {
	results := testResults()
	for i := range results {
		got := appendCheckResult(nil, &results[i])
		want := marshalNoHTML(t, newCheckResponse(results[i]))
		if !bytes.Equal(got, want) {
			t.Errorf("result %d:\n got %s\nwant %s", i, got, want)
		}
		// And the same value as json.Marshal's (which escapes <>&).
		std, err := json.Marshal(newCheckResponse(results[i]))
		if err != nil {
			t.Fatal(err)
		}
		var a, b any
		if err := json.Unmarshal(got, &a); err != nil {
			t.Fatalf("result %d: %v: %s", i, err, got)
		}
		if err := json.Unmarshal(std, &b); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("result %d: fast decodes to %v, json.Marshal to %v", i, a, b)
		}
		if !bytes.Contains(got, []byte(`"reasons":[`)) {
			t.Errorf("result %d: reasons is not an array: %s", i, got)
		}
	}
	out := batchResponse{Results: make([]checkResponse, len(results))}
	for i, r := range results {
		out.Results[i] = newCheckResponse(r)
	}
	if got, want := appendBatchResults(nil, results), marshalNoHTML(t, out); !bytes.Equal(got, want) {
		t.Errorf("batch:\n got %s\nwant %s", got, want)
	}
}

// FuzzCheckDecodeFast: whatever the fast decoder accepts, the strict decoder
// accepts and decodes to the same request.
func FuzzCheckDecodeFast(f *testing.F) {
	for _, s := range append(append([]string{}, fastAccepted...), fastRejected...) {
		f.Add([]byte(s))
	}
	f.Add([]byte(`{"number":"+12125550134","channel":"call","purpose":"housing","region":"zz","campaign":"\u0000"}`))
	f.Add([]byte(`{"number":"+12125550134","channel":"call","purpose":"insurance","at":"9999-12-31T23:59:59+14:00"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var got checkRequest
		if !decodeCheckFast(body, &got) {
			return
		}
		want, err := strictDecode(body)
		if err != nil {
			t.Fatalf("fast decoder took %q, which decodeJSON refuses: %v", body, err)
		}
		if got != want {
			t.Fatalf("%q: fast %+v, want %+v", body, got, want)
		}
	})
}

// FuzzBatchDecodeFast: whatever the fast batch decoder accepts, the strict
// path accepts and decodes to the same items.
func FuzzBatchDecodeFast(f *testing.F) {
	f.Add([]byte(`{"items":[]}`))
	f.Add([]byte(batchOf(fastAccepted...)))
	for _, s := range fastRejected {
		f.Add([]byte(batchOf(`{"number":"+12125550134","channel":"call","purpose":"insurance"}`, s)))
	}
	f.Add([]byte(`{"items":[{}],"items":[]}`))
	f.Add([]byte(`{"ITEMS":[{}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		got, ok := decodeBatchFast(body, nil)
		if !ok {
			return
		}
		want, err := strictBatch(body)
		if err != nil {
			t.Fatalf("fast decoder took %q, which the strict path refuses: %v", body, err)
		}
		if len(got) != len(want) || (len(got) > 0 && !reflect.DeepEqual(got, want)) {
			t.Fatalf("%q: fast %+v, want %+v", body, got, want)
		}
	})
}

// FuzzAppendJSONString: the fast string encoder writes what encoding/json
// writes with HTML escaping off.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range oddStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := appendJSONString(nil, s)
		want := marshalNoHTML(t, s)
		if !bytes.Equal(got, want) {
			t.Fatalf("%q: got %s, want %s", s, got, want)
		}
	})
}

func ExampleappendCheckResult() {
	r := service.CheckResult{Decision: filter.Decision{ID: "d1", Outcome: filter.Allow, RulesVersion: "v1",
		LocalTime: time.Date(2026, 11, 18, 10, 0, 0, 0, time.UTC)}}
	fmt.Println(string(appendCheckResult(nil, &r)))
	// Output: {"decision":"allow","reasons":[],"rules_version":"v1","decision_id":"d1","local_time":"2026-11-18T10:00:00Z"}
}
