package api_test

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"callfilter/api"
	"callfilter/dnc"
	"callfilter/filter"
	"callfilter/service"
	"callfilter/store/embedded"
)

const (
	twilioToken = "twilio-test-auth-token"
	publicURL   = "https://cf.example.com/v1/sms/inbound"
	acmeNumber  = "+12125550100"
)

type smsEnv struct {
	*env
	reviewLog string
}

// newSMSEnv is newEnv's real stack with SMS options: a Twilio token (when
// token is not ""), a seller map and a review log.
func newSMSEnv(t testing.TB, token string) *smsEnv {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := embedded.Open(filepath.Join(dir, "db"), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	rs, err := filter.LoadRules("../rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	lists := dnc.New(st, dnc.Options{})
	t.Cleanup(lists.Close)
	if err := lists.Load(ctx, rs.ListNames()); err != nil {
		t.Fatal(err)
	}
	review := filepath.Join(dir, "sms-review.jsonl")
	// A clock that runs from a Wednesday morning in New York, so that checks
	// without "at" are inside calling hours whenever the test runs.
	start := time.Now()
	svc, err := service.New(st, lists, rs, service.Options{
		Hasher: filter.NewHasher([]byte("test-secret")),
		Now:    func() time.Time { return time.Date(2026, 11, 18, 15, 0, 0, 0, time.UTC).Add(time.Since(start)) },
		SMS: service.SMSOptions{
			TwilioAuthToken: token, PublicURL: publicURL,
			Sellers: map[string]string{acmeNumber: "acme"}, ReviewLog: review,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{store: st, svc: svc, keys: map[filter.Role]string{}, logs: &syncBuffer{}}
	for _, r := range roles {
		secret := "cf_test_" + string(r) + "_0123456789abcdef"
		if err := svc.EnsureKey(ctx, string(r), r, secret); err != nil {
			t.Fatal(err)
		}
		e.keys[r] = secret
	}
	e.srv = api.New(svc, api.Options{})
	return &smsEnv{env: e, reviewLog: review}
}

// sign computes X-Twilio-Signature as Twilio documents it, independently of
// the server's code: URL, then every parameter name+value sorted by name.
func sign(token, u string, form url.Values) string {
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	s := u
	for _, k := range keys {
		s += k + form.Get(k)
	}
	m := hmac.New(sha1.New, []byte(token))
	m.Write([]byte(s))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func (e *smsEnv) twilio(t *testing.T, form url.Values, signature string, role filter.Role) response {
	t.Helper()
	req := httptest.NewRequest("POST", "/v1/sms/inbound", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if signature != "" {
		req.Header.Set("X-Twilio-Signature", signature)
	}
	if role != "" {
		req.Header.Set("Authorization", "Bearer "+e.keys[role])
	}
	return e.send(t, req)
}

type smsResult struct {
	Intent  string `json:"intent"`
	Action  string `json:"action"`
	Seller  string `json:"seller"`
	Listed  bool   `json:"listed"`
	Revoked int    `json:"revoked"`
}

func decodeSMS(t *testing.T, r response) smsResult {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var out smsResult
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatalf("%v: %s", err, r.body)
	}
	return out
}

func inboundForm(from, body string) url.Values {
	return url.Values{
		"From": {from}, "To": {acmeNumber}, "Body": {body}, "MessageSid": {"SM0123456789abcdef"},
		"AccountSid": {"AC0123"}, "NumMedia": {"0"},
	}
}

// TestSMSTwilioStop: a signed Twilio "Stop. Thank you" opts the sender out for
// the seller of the To number (company list + consent revoked), idempotently;
// the next SMS check denies.
func TestSMSTwilioStop(t *testing.T) {
	e := newSMSEnv(t, twilioToken)
	const from = "+12125550166"
	consent := `{"number":"` + from + `","seller":"acme","purpose":"insurance","channel":"sms","source":"web-form","granted_at":"2026-11-01T09:00:00Z"}`
	if r := e.do(t, filter.RoleOfficer, "POST", "/v1/consents", consent); r.status != 201 {
		t.Fatalf("consent: %d %s", r.status, r.body)
	}
	check := `{"number":"` + from + `","channel":"sms","purpose":"insurance","seller":"acme"}`
	if c := mustCheck(t, e.do(t, filter.RoleDialer, "POST", "/v1/check", check)); c.Decision != "allow" {
		t.Fatalf("before: %s %v", c.Decision, c.codes())
	}
	form := inboundForm(from, "Stop. Thank you")
	got := decodeSMS(t, e.twilio(t, form, sign(twilioToken, publicURL, form), ""))
	if got.Intent != "stop" || got.Action != "opted_out" || got.Seller != "acme" || !got.Listed || got.Revoked != 1 {
		t.Fatalf("got %+v, want stop, opted_out, acme, listed, 1 revoked", got)
	}
	// Twilio retries: the same message again changes nothing more.
	again := decodeSMS(t, e.twilio(t, form, sign(twilioToken, publicURL, form), ""))
	if again.Action != "opted_out" || again.Listed {
		t.Fatalf("again: %+v, want opted_out and not listed anew", again)
	}
	c := mustCheck(t, e.do(t, filter.RoleDialer, "POST", "/v1/check", check))
	if c.Decision != "deny" || !c.has("on_list", "internal") || !c.has("consent_revoked", "") {
		t.Fatalf("after: %s %v, want deny on_list/internal and consent_revoked", c.Decision, c.codes())
	}
}

func mustCheck(t *testing.T, r response) checkResult {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("check: %d %s", r.status, r.body)
	}
	c, err := validateCheck(r.body)
	if err != nil {
		t.Fatalf("check: %v: %s", err, r.body)
	}
	return c
}

// TestSMSTwilioSignature: with a token, a missing or wrong signature is 403
// and changes nothing; a bearer key does not replace the signature.
func TestSMSTwilioSignature(t *testing.T) {
	e := newSMSEnv(t, twilioToken)
	form := inboundForm("+12125550177", "STOP")
	for name, sig := range map[string]string{
		"missing":      "",
		"wrong token":  sign("other-token", publicURL, form),
		"wrong url":    sign(twilioToken, "https://evil.example.com/v1/sms/inbound", form),
		"tampered":     sign(twilioToken, publicURL, inboundForm("+12125550199", "STOP")),
		"not base64 !": "!!!",
	} {
		r := e.twilio(t, form, sig, filter.RoleAdmin)
		if r.status != 403 || !strings.Contains(string(r.body), "invalid_signature") {
			t.Errorf("%s: %d %s, want 403 invalid_signature", name, r.status, r.body)
		}
	}
	c := mustCheck(t, e.do(t, filter.RoleDialer, "POST", "/v1/check", `{"number":"+12125550177","channel":"call","purpose":"insurance","at":"2026-11-18T15:00:00Z"}`))
	if c.has("on_list", "internal") {
		t.Fatal("a rejected webhook opted the number out")
	}
}

// TestSMSTwilioWithoutToken: with no token configured the form needs an
// officer or admin key.
func TestSMSTwilioWithoutToken(t *testing.T) {
	e := newSMSEnv(t, "")
	form := inboundForm("+12125550188", "unsubscribe")
	if r := e.twilio(t, form, sign(twilioToken, publicURL, form), ""); r.status != 401 {
		t.Fatalf("no key: %d %s, want 401", r.status, r.body)
	}
	if r := e.twilio(t, form, "", filter.RoleDialer); r.status != 403 {
		t.Fatalf("dialer: %d %s, want 403", r.status, r.body)
	}
	if got := decodeSMS(t, e.twilio(t, form, "", filter.RoleOfficer)); got.Action != "opted_out" {
		t.Fatalf("officer: %+v", got)
	}
}

// TestSMSJSON: the JSON form, by role; ambiguous and START go to the review
// log (with the subject and last four digits, never the number); 退订 stops.
func TestSMSJSON(t *testing.T) {
	e := newSMSEnv(t, twilioToken)
	for _, r := range roles {
		res := e.do(t, r, "POST", "/v1/sms/inbound", `{"from":"+12125550150","to":"`+acmeNumber+`","body":"hello"}`)
		want := 403
		if r == filter.RoleOfficer || r == filter.RoleAdmin {
			want = 200
		}
		if res.status != want {
			t.Errorf("%s: %d %s, want %d", r, res.status, res.body, want)
		}
	}
	cases := []struct{ body, intent, action string }{
		{"stop by the office tomorrow? call 212 555 0150", "ambiguous", "recorded_for_review"},
		{"START", "start", "recorded_for_review"}, // the shipped rules do not re-opt in
		{"hello", "none", "none"},
		{"退订", "stop", "opted_out"},
	}
	for _, c := range cases {
		b, _ := json.Marshal(map[string]string{"from": "+8613800138000", "body": c.body, "seller": "acme"})
		got := decodeSMS(t, e.do(t, filter.RoleOfficer, "POST", "/v1/sms/inbound", string(b)))
		if got.Intent != c.intent || got.Action != c.action {
			t.Errorf("%q: %+v, want %s %s", c.body, got, c.intent, c.action)
		}
	}
	for _, bad := range []string{`{"body":"stop"}`, `{"from":"nope","body":"stop"}`, `{"from":"+12125550150","body":"stop","extra":1}`} {
		if r := e.do(t, filter.RoleOfficer, "POST", "/v1/sms/inbound", bad); r.status != 400 {
			t.Errorf("%s: %d %s, want 400", bad, r.status, r.body)
		}
	}
	f, err := os.Open(e.reviewLog)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var n int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
		line := sc.Text()
		if sevenDigits.MatchString(strings.ReplaceAll(line, " ", "")) && !strings.Contains(line, `"subject"`) {
			t.Errorf("review log holds a number: %s", line)
		}
		var entry map[string]string
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Fatal(err)
		}
		if entry["last4"] != "8000" || len(entry["subject"]) != 64 || strings.Contains(line, "13800138000") || strings.Contains(entry["body"], "555 0150") {
			t.Errorf("review entry %s: want last4 8000, a hex subject, no number", line)
		}
	}
	if n != 2 {
		t.Fatalf("review log has %d entries, want 2 (ambiguous, start)", n)
	}
}
