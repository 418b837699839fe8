package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"callfilter/api"
	"callfilter/dnc"
	"callfilter/filter"
	"callfilter/service"
	"callfilter/store/embedded"
)

// wednesday is 10:00 in New York, 09:00 in Chicago: inside every calling window.
var wednesday = time.Date(2026, 11, 18, 15, 0, 0, 0, time.UTC)

const atWednesday = "2026-11-18T15:00:00Z"

// roles lists every role, least trusted first.
var roles = []filter.Role{filter.RoleDialer, filter.RoleScrubber, filter.RoleOfficer, filter.RoleAdmin}

// env is the real stack (embedded store, dnc lists, the shipped rules, the
// service) behind the API.
type env struct {
	store filter.Store
	svc   *service.Service
	srv   *api.Server
	keys  map[filter.Role]string // role → secret of a key with that role
	logs  *syncBuffer
}

type envConfig struct {
	wrap     func(filter.Store) filter.Store // wraps the store (fault injection)
	noLoad   bool                            // leave the lists unloaded (not ready)
	opts     api.Options
	noLogChk bool // the test logs what the log check refuses (stacks)
	quiet    bool // log at info, not debug (benchmarks)
}

// newEnv builds the stack in a temporary directory. When the test ends it
// checks that the logs hold no phone number (no run of 7 digits) and no key.
func newEnv(tb testing.TB, cfgs ...func(*envConfig)) *env {
	tb.Helper()
	var cfg envConfig
	for _, f := range cfgs {
		f(&cfg)
	}
	ctx := context.Background()
	st, err := embedded.Open(filepath.Join(tb.TempDir(), "db"), embedded.Options{})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	var fs filter.Store = st
	if cfg.wrap != nil {
		fs = cfg.wrap(st)
	}
	rs, err := filter.LoadRules("../rules.yaml")
	if err != nil {
		tb.Fatalf("load rules: %v", err)
	}
	lists := dnc.New(fs, dnc.Options{})
	tb.Cleanup(lists.Close)
	if !cfg.noLoad {
		if err := lists.Load(ctx, rs.ListNames()); err != nil {
			tb.Fatalf("load lists: %v", err)
		}
	}
	svc, err := service.New(fs, lists, rs, service.Options{
		Hasher: filter.NewHasher([]byte("test-secret")),
		Now:    func() time.Time { return wednesday },
	})
	if err != nil {
		tb.Fatalf("service: %v", err)
	}
	e := &env{store: fs, svc: svc, keys: map[filter.Role]string{}, logs: &syncBuffer{}}
	for _, r := range roles {
		secret := "cf_test_" + string(r) + "_0123456789abcdef"
		if err := svc.EnsureKey(ctx, string(r), r, secret); err != nil {
			tb.Fatalf("key %s: %v", r, err)
		}
		e.keys[r] = secret
	}
	if cfg.opts.Logger == nil {
		level := slog.LevelDebug
		if cfg.quiet {
			level = slog.LevelInfo
		}
		cfg.opts.Logger = slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: level, ReplaceAttr: digitless}))
	}
	e.srv = api.New(svc, cfg.opts)
	if !cfg.noLogChk {
		tb.Cleanup(func() { e.checkLogs(tb) })
	}
	return e
}

var (
	sevenDigits     = regexp.MustCompile(`[0-9]{7}`)
	decisionIDShape = regexp.MustCompile(`^[0-9a-f]{32}$`)
)

// digitless drops the time and writes durations as text, so that the log
// check's only runs of digits would be what the server logged itself.
func digitless(groups []string, a slog.Attr) slog.Attr {
	switch {
	case len(groups) == 0 && a.Key == slog.TimeKey:
		return slog.Attr{}
	case a.Value.Kind() == slog.KindDuration:
		return slog.String(a.Key, a.Value.Duration().Round(time.Microsecond).String())
	case a.Key == "decision_id" && decisionIDShape.MatchString(a.Value.String()):
		// 32 hex digits by construction, not a number: checked for its shape
		// only.
		return slog.String(a.Key, "hex-decision-id")
	}
	return a
}

// checkLogs fails the test if the logs hold what they must never hold.
func (e *env) checkLogs(tb testing.TB) {
	tb.Helper()
	logs := e.logs.String()
	if m := sevenDigits.FindString(logs); m != "" {
		tb.Errorf("logs hold a run of digits %q (a phone number?):\n%s", m, logs)
	}
	for _, secret := range e.keys {
		if strings.Contains(logs, secret) {
			tb.Errorf("logs hold an API key:\n%s", logs)
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// response is what a request got.
type response struct {
	status int
	header http.Header
	body   []byte
}

// send runs req through the app.
func (e *env) send(tb testing.TB, req *http.Request) response {
	tb.Helper()
	res, err := e.srv.App().Test(req, 10000)
	if err != nil {
		tb.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatalf("%s %s: read body: %v", req.Method, req.URL.Path, err)
	}
	return response{status: res.StatusCode, header: res.Header, body: body}
}

// do sends method path with body (JSON, when not "") as role ("" for no key).
func (e *env) do(tb testing.TB, role filter.Role, method, path, body string) response {
	tb.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if role != "" {
		req.Header.Set("Authorization", "Bearer "+e.keys[role])
	}
	return e.send(tb, req)
}

// checkResult is a check response as a client reads it.
type checkResult struct {
	Decision string `json:"decision"`
	Reasons  []struct {
		Code   string `json:"code"`
		List   string `json:"list"`
		Detail string `json:"detail"`
	} `json:"reasons"`
	Number *struct {
		E164      string   `json:"e164"`
		Region    string   `json:"region"`
		Type      string   `json:"type"`
		TimeZones []string `json:"timezones"`
		Area      string   `json:"area"`
	} `json:"number"`
	RulesVersion  string `json:"rules_version"`
	DecisionID    string `json:"decision_id"`
	LocalTime     string `json:"local_time"`
	NextAllowedAt string `json:"next_allowed_at"`
}

func (r checkResult) has(code, list string) bool {
	for _, rs := range r.Reasons {
		if rs.Code == code && (list == "" || rs.List == list) {
			return true
		}
	}
	return false
}

func (r checkResult) codes() []string {
	var out []string
	for _, rs := range r.Reasons {
		out = append(out, rs.Code+"/"+rs.List)
	}
	return out
}

// validateCheck reports what is wrong with a check response body, strictly decoded.
func validateCheck(body []byte) (checkResult, error) {
	var r checkResult
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return r, err
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return r, err
	}
	switch {
	case r.Decision != "allow" && r.Decision != "deny":
		return r, fmt.Errorf("decision %q is neither allow nor deny", r.Decision)
	case string(raw["reasons"]) == "null" || raw["reasons"] == nil:
		return r, fmt.Errorf("reasons is %s, want an array", raw["reasons"])
	case r.Decision == "deny" && len(r.Reasons) == 0:
		return r, fmt.Errorf("a deny without reasons")
	case r.DecisionID == "":
		return r, fmt.Errorf("no decision_id")
	case r.RulesVersion == "":
		return r, fmt.Errorf("no rules_version")
	}
	if _, err := time.Parse(time.RFC3339, r.LocalTime); err != nil {
		return r, fmt.Errorf("local_time %q: %v", r.LocalTime, err)
	}
	if r.NextAllowedAt != "" {
		if _, err := time.Parse(time.RFC3339, r.NextAllowedAt); err != nil {
			return r, fmt.Errorf("next_allowed_at %q: %v", r.NextAllowedAt, err)
		}
	}
	for _, rs := range r.Reasons {
		if rs.Code == "" {
			return r, fmt.Errorf("a reason without a code")
		}
	}
	return r, nil
}

// check posts body to /v1/check as a dialer and returns the decision, failing
// unless it is a 200 with a valid decision.
func (e *env) check(tb testing.TB, body string) checkResult {
	tb.Helper()
	res := e.do(tb, filter.RoleDialer, "POST", "/v1/check", body)
	if res.status != http.StatusOK {
		tb.Fatalf("POST /v1/check %s: status %d, want 200: %s", body, res.status, res.body)
	}
	r, err := validateCheck(res.body)
	if err != nil {
		tb.Fatalf("POST /v1/check %s: %v: %s", body, err, res.body)
	}
	return r
}

// apiError is an error response as a client reads it.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// errorOf decodes an error body strictly, failing on any other shape.
func errorOf(tb testing.TB, res response) apiError {
	tb.Helper()
	var e apiError
	dec := json.NewDecoder(bytes.NewReader(res.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		tb.Fatalf("status %d: body %s is not {\"error\":{\"code\",\"message\"}} (%v)", res.status, res.body, err)
	}
	if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		tb.Errorf("error Content-Type %q, want application/json", ct)
	}
	return e
}

// decode decodes a success body into v, failing the test if it cannot.
func decode(tb testing.TB, res response, v any) {
	tb.Helper()
	if err := json.Unmarshal(res.body, v); err != nil {
		tb.Fatalf("status %d: body %s: %v", res.status, res.body, err)
	}
}

// checkBody is a check request for number at an instant.
func checkBody(number, channel, at string, extra ...string) string {
	fields := []string{
		`"number":` + quote(number), `"channel":` + quote(channel), `"purpose":"insurance"`, `"at":` + quote(at),
	}
	fields = append(fields, extra...)
	return "{" + strings.Join(fields, ",") + "}"
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
