package api_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"callfilter/audit"
	"callfilter/dnc"
	"callfilter/filter"
	"callfilter/service"
	"callfilter/store/embedded"
)

// flushed waits until w has written n entries.
func flushed(t testing.TB, w *audit.Writer, n uint64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for w.Stats().Appended < n {
		if time.Now().After(deadline) {
			t.Fatalf("the audit writer wrote %d entries, want %d", w.Stats().Appended, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// withAudit wires an audit writer over the env's store into its service.
func withAudit(t testing.TB, e *env, opts audit.Options) *audit.Writer {
	t.Helper()
	w, err := audit.NewWriter(e.store.(filter.AuditStore), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close(5 * time.Second) })
	e.svc.SetOfficer(service.OfficerOptions{Auditor: w})
	return w
}

type auditPage struct {
	Entries    []json.RawMessage `json:"entries"`
	NextCursor string            `json:"next_cursor"`
}

func TestAuditTrail(t *testing.T) {
	e := newEnv(t)
	w := withAudit(t, e, audit.Options{})
	d1 := e.check(t, checkBody("2125550134", "call", atWednesday, `"seller":"acme"`))
	e.check(t, checkBody("2125550177", "call", atWednesday, `"seller":"acme"`))
	if res := e.do(t, filter.RoleOfficer, "POST", "/v1/lists/national/numbers", `{"numbers":["212-555-0134"]}`); res.status != 200 {
		t.Fatalf("list add: %d %s", res.status, res.body)
	}
	res := e.do(t, filter.RoleDialer, "POST", "/v1/check/batch", `{"items":[`+checkBody("2125550134", "call", atWednesday, `"seller":"acme"`)+`,`+checkBody("x", "call", atWednesday)+`]}`)
	if res.status != 200 {
		t.Fatalf("batch: %d %s", res.status, res.body)
	}
	flushed(t, w, 5)
	// The officer types the number as people write it.
	res = e.do(t, filter.RoleOfficer, "GET", "/v1/audit?number="+strings.ReplaceAll("(212) 555-0134", " ", "%20")+"&limit=1", "")
	if res.status != 200 {
		t.Fatalf("GET /v1/audit: %d %s", res.status, res.body)
	}
	var all []filter.AuditEntry
	var page auditPage
	decode(t, res, &page)
	for {
		for _, raw := range page.Entries {
			var en filter.AuditEntry
			if err := json.Unmarshal(raw, &en); err != nil {
				t.Fatal(err)
			}
			all = append(all, en)
		}
		if page.NextCursor == "" {
			break
		}
		res = e.do(t, filter.RoleOfficer, "GET", "/v1/audit?number=2125550134&limit=1&cursor="+page.NextCursor, "")
		page = auditPage{}
		decode(t, res, &page)
	}
	if len(all) != 2 {
		t.Fatalf("%d entries for the number, want 2 (check, batch item): %+v", len(all), all)
	}
	first, batch := all[0], all[1]
	if first.ID != d1.DecisionID || first.Decision != filter.Allow || first.Actor != "dialer" || first.Last4 != "0134" || first.Seller != "acme" || first.RulesVersion == "" || first.Replay == nil {
		t.Errorf("check entry = %+v", first)
	}
	if batch.Decision != filter.Deny || len(batch.Reasons) == 0 || batch.Reasons[0].Code != filter.ReasonOnList {
		t.Errorf("batch entry = %+v", batch)
	}
	res = e.do(t, filter.RoleOfficer, "GET", "/v1/audit?kind=change", "")
	page = auditPage{}
	decode(t, res, &page)
	if len(page.Entries) != 1 || !strings.Contains(string(page.Entries[0]), `"action":"list.add"`) || !strings.Contains(string(page.Entries[0]), `"actor":"officer"`) {
		t.Errorf("changes: %s", res.body)
	}
	for _, body := range []string{`"2125550134"`, `+12125550134`} {
		if strings.Contains(string(res.body), body) {
			t.Errorf("an audit entry holds the number: %s", res.body)
		}
	}
	res = e.do(t, filter.RoleOfficer, "GET", "/v1/audit/verify", "")
	var rep audit.Report
	decode(t, res, &rep)
	if !rep.OK || rep.Checked != 5 {
		t.Errorf("verify: %s", res.body)
	}
	res = e.do(t, filter.RoleOfficer, "GET", "/v1/audit/export?format=csv&decision=deny", "")
	if res.status != 200 || strings.Count(string(res.body), "\n") != 3 || !strings.HasPrefix(string(res.body), "seq,time,kind") {
		t.Errorf("csv export: %d\n%s", res.status, res.body)
	}
	res = e.do(t, filter.RoleOfficer, "GET", "/v1/audit/export", "")
	if res.status != 200 || strings.Count(string(res.body), "\n") != 5 {
		t.Errorf("jsonl export: %d\n%s", res.status, res.body)
	}
	if res := e.do(t, filter.RoleDialer, "GET", "/v1/audit", ""); res.status != http.StatusForbidden {
		t.Errorf("dialer GET /v1/audit: %d, want 403", res.status)
	}
}

// TestAuditFullFailsClosed: when the audit trail cannot take a decision, the
// check denies with unavailable.
func TestAuditFullFailsClosed(t *testing.T) {
	e := newEnv(t)
	dead := embedded.MustOpenTemp(t)
	_ = dead.Close() // every append fails: the queue fills
	w, err := audit.NewWriter(dead, audit.Options{QueueSize: 2, EnqueueWait: time.Millisecond, Retention: -1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close(10 * time.Millisecond) })
	e.svc.SetOfficer(service.OfficerOptions{Auditor: w, AuditStore: dead})
	denied := 0
	for range 5 {
		r := e.check(t, checkBody("2125550134", "call", atWednesday))
		if r.has("unavailable", "") {
			denied++
		} else if r.Decision != "allow" {
			t.Errorf("decision %s %v", r.Decision, r.codes())
		}
	}
	if denied < 3 {
		t.Errorf("%d of 5 checks denied with unavailable, want at least 3 (queue of 2)", denied)
	}
	if w.Stats().Refused == 0 {
		t.Error("no entry was refused")
	}
}

func putRulesReq(e *env, doc, match string) *http.Request {
	b, _ := json.Marshal(map[string]string{"document": doc})
	req := httptest.NewRequest("PUT", "/v1/rules", strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+e.keys[filter.RoleOfficer])
	if match != "" {
		req.Header.Set("If-Match", match)
	}
	return req
}

func TestRulesEditing(t *testing.T) {
	e := newEnv(t)
	withAudit(t, e, audit.Options{})
	src, err := os.ReadFile("../rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	res := e.do(t, filter.RoleOfficer, "GET", "/v1/rules", "")
	var cur struct {
		Version, Document string
		Revision          int
	}
	decode(t, res, &cur)
	if res.status != 200 || res.header.Get("ETag") != `"`+cur.Version+`"` || cur.Revision != 1 || cur.Document != string(src) {
		t.Fatalf("GET /v1/rules: %d ETag %q %+v", res.status, res.header.Get("ETag"), cur.Revision)
	}
	oldV := cur.Version
	edit := func(v string) string {
		return strings.Replace(string(src), "version: \""+oldV+"\"", "version: \""+v+"\"", 1)
	}
	if !strings.Contains(edit("x"), `version: "x"`) {
		t.Fatalf("cannot find the version line in rules.yaml")
	}
	// No If-Match: 428. A bad document: 400 with every problem, nothing changes.
	if res := e.send(t, putRulesReq(e, edit("v2"), "")); res.status != http.StatusPreconditionRequired {
		t.Errorf("PUT without If-Match: %d %s", res.status, res.body)
	}
	bad := strings.Replace(edit("v2"), "purposes:", "bogus: 1\npurposes:", 1)
	res = e.send(t, putRulesReq(e, bad, `"`+oldV+`"`))
	var pe struct {
		Error struct {
			Code     string
			Problems []filter.Problem
		}
	}
	decode(t, res, &pe)
	if res.status != 400 || pe.Error.Code != "invalid_rules" || len(pe.Error.Problems) == 0 || pe.Error.Problems[0].Path == "" {
		t.Errorf("PUT of a bad document: %d %s", res.status, res.body)
	}
	// Two editors from the same ETag: one wins, the other gets 412.
	var wg sync.WaitGroup
	statuses := make([]int, 2)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = e.send(t, putRulesReq(e, edit([]string{"ed-a", "ed-b"}[i]), `"`+oldV+`"`)).status
		}()
	}
	wg.Wait()
	if !(statuses[0] == 200 && statuses[1] == 412 || statuses[0] == 412 && statuses[1] == 200) {
		t.Fatalf("two editors: statuses %v, want one 200 and one 412", statuses)
	}
	winner := map[bool]string{true: "ed-a", false: "ed-b"}[statuses[0] == 200]
	if got := e.check(t, checkBody("2125550134", "call", atWednesday)).RulesVersion; got != winner {
		t.Errorf("checks decide under %q, want %q", got, winner)
	}
	res = e.do(t, filter.RoleOfficer, "GET", "/v1/rules/history", "")
	var hist struct {
		Revisions []struct {
			Version, Author, Summary string
			Revision                 int
		}
	}
	decode(t, res, &hist)
	if len(hist.Revisions) != 2 || hist.Revisions[0].Version != winner || hist.Revisions[0].Author != "officer" || hist.Revisions[1].Author != "system" {
		t.Errorf("history: %s", res.body)
	}
	res = e.do(t, filter.RoleOfficer, "GET", "/v1/rules/versions/"+winner, "")
	if res.status != 200 || !strings.Contains(string(res.body), `- version: \"`+oldV) {
		t.Errorf("version %s: %d %s", winner, res.status, res.body)
	}
	res = e.do(t, filter.RoleOfficer, "POST", "/v1/rules/rollback/"+oldV, "")
	if res.status != 200 {
		t.Fatalf("rollback: %d %s", res.status, res.body)
	}
	if got := e.check(t, checkBody("2125550134", "call", atWednesday)).RulesVersion; got != oldV {
		t.Errorf("after rollback checks decide under %q, want %q", got, oldV)
	}
	if res := e.send(t, putRulesReq(e, edit(winner), `"`+oldV+`"`)); res.status != http.StatusConflict {
		t.Errorf("PUT reusing version %s: %d, want 409", winner, res.status)
	}
	res = e.do(t, filter.RoleOfficer, "POST", "/v1/rules/validate", `{"document":"version: x\n"}`)
	if res.status != 200 || !strings.Contains(string(res.body), `"valid":false`) {
		t.Errorf("validate: %d %s", res.status, res.body)
	}
}

// TestRulesPropagate: an edit made through one instance is in force on
// another sharing the store at its next poll.
func TestRulesPropagate(t *testing.T) {
	a := newEnv(t)
	withAudit(t, a, audit.Options{})
	// A second service over the same store (as a second instance would be).
	lists := dnc.New(a.store, dnc.Options{})
	t.Cleanup(lists.Close)
	b, err := service.New(a.store, lists, a.svc.Rules(), service.Options{Hasher: filter.NewHasher([]byte("test-secret"))})
	if err != nil {
		t.Fatal(err)
	}
	b.SetOfficer(service.OfficerOptions{LoadLists: func(context.Context, []string) error { return nil }})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := b.InitRules(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); b.WatchRules(ctx, 20*time.Millisecond, slog.Default()) }()
	src, _ := os.ReadFile("../rules.yaml")
	old := a.svc.Rules().Version
	doc := strings.Replace(string(src), "version: \""+old+"\"", "version: \"propagated\"", 1)
	if res := a.send(t, putRulesReq(a, doc, `"`+old+`"`)); res.status != 200 {
		t.Fatalf("PUT: %d %s", res.status, res.body)
	}
	deadline := time.Now().Add(2 * time.Second)
	for b.Rules().Version != "propagated" {
		if time.Now().After(deadline) {
			t.Fatalf("the other instance still has %q", b.Rules().Version)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
}

func TestNumberLookup(t *testing.T) {
	e := newEnv(t)
	e.do(t, filter.RoleOfficer, "POST", "/v1/lists/national/numbers", `{"numbers":["212-555-0134"]}`)
	e.do(t, filter.RoleOfficer, "POST", "/v1/consents", `{"number":"2125550134","seller":"acme","purpose":"insurance","channel":"sms","source":"web-form","evidence":"form 42","granted_at":"2026-11-01T09:00:00Z"}`)
	e.do(t, filter.RoleDialer, "POST", "/v1/check", checkBody("2125550134", "call", atWednesday, `"seller":"acme"`, `"reserve":true`))
	res := e.do(t, filter.RoleOfficer, "GET", "/v1/numbers/(212)%20555-0134?seller=acme", "")
	if res.status != 200 {
		t.Fatalf("lookup: %d %s", res.status, res.body)
	}
	var l struct {
		Number struct{ E164 string }
		Lists  []struct {
			List string
			On   bool
		}
		Consents  []struct{ Evidence string }
		Decisions []struct {
			Purpose, Channel, Decision string
			Reasons                    []struct{ Code, Detail string }
		}
	}
	decode(t, res, &l)
	on := map[string]bool{}
	for _, x := range l.Lists {
		on[x.List] = x.On
	}
	if l.Number.E164 != "+12125550134" || !on["national"] || len(l.Consents) != 1 || l.Consents[0].Evidence != "form 42" || len(l.Decisions) != 4 {
		t.Errorf("lookup: %s", res.body)
	}
	for _, d := range l.Decisions {
		if d.Purpose == "insurance" && d.Channel == "sms" && d.Decision != "allow" {
			t.Errorf("insurance sms: %+v, want allow (consent exempts national)", d)
		}
		if d.Decision == "deny" && (len(d.Reasons) == 0 || d.Reasons[0].Detail == "") {
			t.Errorf("a deny without a plain-language reason: %+v", d)
		}
	}
}

func TestRulesPreview(t *testing.T) {
	e := newEnv(t)
	w := withAudit(t, e, audit.Options{})
	var ids []string
	for _, n := range []string{"2125550134", "2125550135", "3055550100"} {
		ids = append(ids, e.check(t, checkBody(n, "call", atWednesday, `"seller":"acme"`)).DecisionID)
	}
	flushed(t, w, 3)
	src, _ := os.ReadFile("../rules.yaml")
	old := e.svc.Rules().Version
	draft := strings.Replace(string(src), "version: \""+old+"\"", "version: \"draft\"", 1)
	// The draft forbids calls before 11:00: a 10:00 call in New York flips.
	draft = strings.Replace(draft, `hours: {start: "08:00", end: "21:00"}`, `hours: {start: "11:00", end: "21:00"}`, 1)
	b, _ := json.Marshal(map[string]any{"document": draft, "window": "8760h"})
	res := e.do(t, filter.RoleOfficer, "POST", "/v1/rules/preview", string(b))
	var p struct {
		Replayed          int            `json:"replayed"`
		AllowToDeny       int            `json:"allow_to_deny"`
		ByReason          map[string]any `json:"by_reason"`
		SampleAllowToDeny []string       `json:"sample_allow_to_deny"`
	}
	decode(t, res, &p)
	if res.status != 200 || p.Replayed != 3 || p.AllowToDeny == 0 || p.ByReason["outside_hours"] == nil || len(p.SampleAllowToDeny) == 0 {
		t.Errorf("preview: %d %s (ids %v)", res.status, res.body, ids)
	}
}
