package api_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"callfilter/api"
	"callfilter/audit"
	"callfilter/filter"
	"callfilter/scrub"
)

func TestScrubStreams(t *testing.T) {
	e := newEnv(t)
	in, err := os.ReadFile("../scrub/testdata/messy.csv")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, role, query, ctype string
		status                   int
		code                     string
	}{
		{"scrubber", "scrubber", "purpose=insurance&channel=call&at=" + atWednesday, "text/csv", 200, ""},
		{"dialer may not", "dialer", "purpose=insurance&channel=call", "text/csv", 403, "forbidden"},
		{"unknown purpose", "admin", "purpose=nope&channel=call", "text/csv", 400, "unknown_purpose"},
		{"json refused", "admin", "purpose=insurance&channel=call", "application/json", 415, "unsupported_media_type"},
		{"unknown column", "admin", "purpose=insurance&channel=call&column=fax", "text/csv", 400, "unknown_column"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/v1/scrub?"+tc.query, bytes.NewReader(in))
			req.Header.Set("Authorization", "Bearer "+e.keys[filter.Role(tc.role)])
			req.Header.Set("Content-Type", tc.ctype)
			resp, err := e.srv.App().Test(req, 10000)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if tc.code != "" {
				if !strings.Contains(string(body), `"code":"`+tc.code+`"`) {
					t.Errorf("body %s lacks code %s", body, tc.code)
				}
				return
			}
			lines := strings.Split(strings.TrimSpace(string(body)), "\r\n")
			if len(lines) != 11 { // header + 9 rows, one of them on two lines
				t.Errorf("got %d lines:\n%s", len(lines), body)
			}
			for _, want := range []string{",+12125550134,allow,", ",deny,duplicate,", ",deny,malformed_row,", ",deny,missing_number,"} {
				if !strings.Contains(string(body), want) {
					t.Errorf("output lacks %q:\n%s", want, body)
				}
			}
			// The summary is the trailer, declared up front, read after the body.
			if _, declared := resp.Trailer[api.HeaderScrubSummary]; !declared {
				t.Errorf("no Trailer: %s declared; trailer %v", api.HeaderScrubSummary, resp.Trailer)
			}
			var sum struct {
				Rows, Allow, Deny, Malformed int64
				Reasons                      map[string]int64
			}
			if err := json.Unmarshal([]byte(resp.Trailer.Get(api.HeaderScrubSummary)), &sum); err != nil {
				t.Fatalf("trailer %q: %v", resp.Trailer.Get(api.HeaderScrubSummary), err)
			}
			if sum.Rows != 9 || sum.Allow+sum.Deny != 9 || sum.Malformed != 1 || sum.Reasons["duplicate"] != 1 {
				t.Errorf("trailer summary %+v", sum)
			}
		})
	}
}

func TestScrubJobs(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, func(c *envConfig) { c.opts = api.Options{ScrubDir: dir} })
	in, _ := os.ReadFile("../scrub/testdata/semicolon.csv")
	req := httptest.NewRequest("POST", "/v1/scrub/jobs?purpose=insurance&channel=call&at="+atWednesday, bytes.NewReader(in))
	req.Header.Set("Authorization", "Bearer "+e.keys[filter.Role("admin")])
	req.Header.Set("Content-Type", "text/csv")
	resp, err := e.srv.App().Test(req, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var job struct {
		ID    string `json:"id"`
		State string `json:"state"`
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 202 || json.Unmarshal(body, &job) != nil {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	deadline := time.Now().Add(10 * time.Second)
	for job.State != "done" && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		req := httptest.NewRequest("GET", "/v1/scrub/jobs/"+job.ID, nil)
		req.Header.Set("Authorization", "Bearer "+e.keys[filter.Role("scrubber")])
		resp, err := e.srv.App().Test(req, 10000)
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		_ = json.Unmarshal(body, &job)
	}
	if job.State != "done" {
		t.Fatalf("job not done: %s", body)
	}
	req = httptest.NewRequest("GET", "/v1/scrub/jobs/"+job.ID+"/result", nil)
	req.Header.Set("Authorization", "Bearer "+e.keys[filter.Role("scrubber")])
	resp, err = e.srv.App().Test(req, 10000)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(out), "Bob;2125550199;NYC;+12125550199;allow;;fixed_or_mobile") {
		t.Errorf("result:\n%s", out)
	}
	_ = e.srv.App().Shutdown()
}

// TestScrubAudited: a streamed scrub and a scrub job each leave one audit
// record (action scrub) with the key that asked, the purpose and channel, and
// the counts the trailer gives.
func TestScrubAudited(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, func(c *envConfig) { c.opts = api.Options{ScrubDir: dir} })
	w := withAudit(t, e, audit.Options{})
	in, err := os.ReadFile("../scrub/testdata/messy.csv")
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("POST", "/v1/scrub?purpose=insurance&channel=call&seller=acme&at="+atWednesday, bytes.NewReader(in))
	req.Header.Set("Authorization", "Bearer "+e.keys[filter.RoleScrubber])
	req.Header.Set("Content-Type", "text/csv")
	resp, err := e.srv.App().Test(req, 10000)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(resp.Body); err != nil || resp.StatusCode != 200 {
		t.Fatalf("scrub: %d %v", resp.StatusCode, err)
	}
	var trailer struct {
		Rows, Allow, Deny int64
	}
	if err := json.Unmarshal([]byte(resp.Trailer.Get(api.HeaderScrubSummary)), &trailer); err != nil || trailer.Rows == 0 {
		t.Fatalf("trailer %q: %v", resp.Trailer.Get(api.HeaderScrubSummary), err)
	}
	flushed(t, w, 1)
	res := e.do(t, filter.RoleOfficer, "GET", "/v1/audit?kind=change", "")
	var page auditPage
	decode(t, res, &page)
	var scrubs []filter.AuditEntry
	for _, raw := range page.Entries {
		var en filter.AuditEntry
		if err := json.Unmarshal(raw, &en); err != nil {
			t.Fatal(err)
		}
		if en.Action == "scrub" {
			scrubs = append(scrubs, en)
		}
	}
	if len(scrubs) != 1 {
		t.Fatalf("%d scrub records, want 1: %s", len(scrubs), res.body)
	}
	got := scrubs[0]
	want := fmt.Sprintf("rows %d: allow %d, deny %d,", trailer.Rows, trailer.Allow, trailer.Deny)
	if got.Actor != string(filter.RoleScrubber) || got.Seller != "acme" || got.Purpose != "insurance" || got.Channel != filter.ChannelCall ||
		!strings.HasPrefix(got.Detail, want) || !strings.Contains(got.Detail, "rules ") {
		t.Errorf("scrub record %+v, want actor scrubber, seller acme, insurance/call, detail starting %q", got, want)
	}
	_ = e.srv.App().Shutdown()
}

// TestScrubDirMadeAtStart: the scrub directory is made when the server is,
// not by the first job: POST /v1/scrub spills its duplicate set there, and a
// 10M-row stream on a fresh data directory failed at ~3.5M distinct numbers
// ("duplicate set: stat data/scrub-jobs: no such file or directory"). Here
// a 16 KiB budget makes a 20,000-row stream spill on a fresh directory: every
// row must come back.
func TestScrubDirMadeAtStart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "fresh", "scrub-jobs")
	e := newEnv(t, func(c *envConfig) { c.opts = api.Options{ScrubDir: dir, ScrubDuplicateMemory: 16 << 10} })
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Fatalf("scrub dir after the server started: %v", err)
	}
	var in bytes.Buffer
	const rows = 20000
	if err := scrub.Generate(&in, scrub.GenOptions{Rows: rows, Seed: 3, NANPOnly: true}); err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("POST", "/v1/scrub?purpose=insurance&channel=call&at="+atWednesday, &in)
	req.Header.Set("Authorization", "Bearer "+e.keys[filter.RoleAdmin])
	req.Header.Set("Content-Type", "text/csv")
	resp, err := e.srv.App().Test(req, 30000)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	recs, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if resp.StatusCode != 200 || err != nil || len(recs) != rows+1 {
		t.Fatalf("status %d, %d records (%v), want 200 and %d: ...%s", resp.StatusCode, len(recs), err, rows+1, body[max(0, len(body)-300):])
	}
}
