package api_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
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
	// The list shows an admin every key's jobs, another key its own.
	list := func(role filter.Role) []string {
		t.Helper()
		res := e.do(t, role, "GET", "/v1/scrub/jobs", "")
		var page struct{ Jobs []struct{ ID, State string } }
		if res.status != 200 || json.Unmarshal(res.body, &page) != nil {
			t.Fatalf("GET /v1/scrub/jobs as %s: %d %s", role, res.status, res.body)
		}
		var ids []string
		for _, j := range page.Jobs {
			ids = append(ids, j.ID+" "+j.State)
		}
		return ids
	}
	mine := postJob(t, e, in) // the scrubber's own
	for deadline := time.Now().Add(10 * time.Second); jobState(t, e, mine) != "done" && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if got, want := list(filter.RoleAdmin), []string{mine + " done", job.ID + " done"}; !slices.Equal(got, want) {
		t.Errorf("the admin's list: %v, want every job, newest first: %v", got, want)
	}
	if got, want := list(filter.RoleScrubber), []string{mine + " done"}; !slices.Equal(got, want) {
		t.Errorf("the scrubber's list: %v, want its own job only: %v", got, want)
	}
	// A job queued twice (the start's scan and create can both queue it)
	// runs once: a second run leaves the done job as it was.
	api.RunScrubJob(e.srv, job.ID)
	if res := e.do(t, filter.RoleScrubber, "GET", "/v1/scrub/jobs/"+job.ID+"/result", ""); res.status != 200 || string(res.body) != string(out) {
		t.Errorf("after a second run of the done job: %d %s", res.status, res.body)
	}
	// The upload went when the job ended (the result holds every column).
	if _, err := os.Stat(filepath.Join(dir, job.ID, "input.csv")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the done job's upload is still on disk (%v)", err)
	}
	// DELETE takes the job and its result away.
	if res := e.do(t, filter.RoleScrubber, "DELETE", "/v1/scrub/jobs/"+job.ID, ""); res.status != 204 {
		t.Fatalf("DELETE: %d %s", res.status, res.body)
	}
	for _, path := range []string{"/v1/scrub/jobs/" + job.ID, "/v1/scrub/jobs/" + job.ID + "/result"} {
		if res := e.do(t, filter.RoleScrubber, "GET", path, ""); res.status != 404 {
			t.Errorf("GET %s after DELETE: %d %s", path, res.status, res.body)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, job.ID)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the deleted job's directory is still there (%v)", err)
	}
	if res := e.do(t, filter.RoleScrubber, "DELETE", "/v1/scrub/jobs/"+job.ID, ""); res.status != 404 {
		t.Errorf("a second DELETE: %d, want 404", res.status)
	}
	_ = e.srv.App().Shutdown()
}

// postJob uploads in as a scrub job and returns its id.
func postJob(t *testing.T, e *env, in []byte) string {
	t.Helper()
	req := httptest.NewRequest("POST", "/v1/scrub/jobs?purpose=insurance&channel=call&at="+atWednesday, bytes.NewReader(in))
	req.Header.Set("Authorization", "Bearer "+e.keys[filter.RoleScrubber])
	req.Header.Set("Content-Type", "text/csv")
	res := e.send(t, req)
	var job struct{ ID string }
	if res.status != 202 || json.Unmarshal(res.body, &job) != nil || job.ID == "" {
		t.Fatalf("POST /v1/scrub/jobs: %d %s", res.status, res.body)
	}
	return job.ID
}

// jobState polls the job's state ("" once it is gone).
func jobState(t *testing.T, e *env, id string) string {
	t.Helper()
	res := e.do(t, filter.RoleScrubber, "GET", "/v1/scrub/jobs/"+id, "")
	if res.status == 404 {
		return ""
	}
	var job struct{ State string }
	if res.status != 200 || json.Unmarshal(res.body, &job) != nil {
		t.Fatalf("GET job: %d %s", res.status, res.body)
	}
	return job.State
}

// TestScrubJobRetention: a finished job is deleted, files and all, once
// its retention has passed.
func TestScrubJobRetention(t *testing.T) {
	dir := t.TempDir()
	// The poll below must see the job "done" before the retention deletes
	// it: a window of 200 ms could pass unseen while the test goroutine was
	// descheduled on a loaded machine (-race, 2 cores), so give it a second.
	e := newEnv(t, func(c *envConfig) { c.opts = api.Options{ScrubDir: dir, ScrubJobRetention: time.Second} })
	t.Cleanup(func() { _ = e.srv.App().Shutdown() })
	in, _ := os.ReadFile("../scrub/testdata/semicolon.csv")
	id := postJob(t, e, in)
	seen := map[string]bool{}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		st := jobState(t, e, id)
		if st == "failed" && !seen[st] {
			t.Errorf("the job failed: %s", e.do(t, filter.RoleScrubber, "GET", "/v1/scrub/jobs/"+id, "").body)
		}
		seen[st] = true
		if st == "" {
			break
		}
	}
	if !seen["done"] || !seen[""] {
		t.Fatalf("the job went through %v; want done, then gone", seen)
	}
	// The directory is renamed away before its files go: once the job
	// reads as gone, its directory is too, and the files follow.
	if _, err := os.Stat(filepath.Join(dir, id)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the job reads as gone but its directory is there (%v)", err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		ents, err := os.ReadDir(dir)
		if err == nil && len(ents) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the expired job's files are still there 10s after it was gone: %v (%v)", ents, err)
		}
	}
}

// TestScrubJobDeleteRunning: DELETE of a running job stops it and removes
// it; the runner goes on with the next job.
func TestScrubJobDeleteRunning(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, func(c *envConfig) { c.opts = api.Options{ScrubDir: dir} })
	t.Cleanup(func() { _ = e.srv.App().Shutdown() })
	var big bytes.Buffer
	// Random international prefixes: slow enough to be caught running.
	if err := scrub.Generate(&big, scrub.GenOptions{Rows: 300_000, Seed: 9, ColdIntl: true}); err != nil {
		t.Fatal(err)
	}
	id := postJob(t, e, big.Bytes())
	for deadline := time.Now().Add(10 * time.Second); jobState(t, e, id) == "queued" && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if st := jobState(t, e, id); st != "running" {
		t.Skipf("the job is %q, not running: this machine scrubbed it before the delete", st)
	}
	if res := e.do(t, filter.RoleScrubber, "DELETE", "/v1/scrub/jobs/"+id, ""); res.status != 204 {
		t.Fatalf("DELETE of the running job: %d %s", res.status, res.body)
	}
	if st := jobState(t, e, id); st != "" {
		t.Fatalf("after DELETE the job is %q, want gone", st)
	}
	if _, err := os.Stat(filepath.Join(dir, id)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the deleted job's directory is still there (%v)", err)
	}
	in, _ := os.ReadFile("../scrub/testdata/semicolon.csv")
	next := postJob(t, e, in)
	for deadline := time.Now().Add(10 * time.Second); jobState(t, e, next) != "done" && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if st := jobState(t, e, next); st != "done" {
		t.Fatalf("the job after the deleted one is %q, want done", st)
	}
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

// TestScrubLeftoversRemovedAtStart: what a crash left in the scrub directory
// (a job directory without a record, a duplicate set's spill directory) is
// deleted at start once older than an hour; younger ones, which may belong
// to a scrub under way, and files that are not the scrubs' stay.
func TestScrubLeftoversRemovedAtStart(t *testing.T) {
	dir := t.TempDir()
	old := time.Now().Add(-2 * time.Hour)
	mk := func(name string, age time.Time) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(p, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p, "input.csv"), []byte("phone\n2125550134\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, age, age); err != nil {
			t.Fatal(err)
		}
		return p
	}
	gone := []string{mk("0123456789abcdef0123456789abcdef", old), mk(scrub.SpillDirPrefix+"42", old),
		mk("deleting-00112233445566778899aabbccddeeff", old)}
	kept := []string{mk("fedcba9876543210fedcba9876543210", time.Now()), mk("someone-elses", old)}
	e := newEnv(t, func(c *envConfig) { c.opts = api.Options{ScrubDir: dir} })
	t.Cleanup(func() { _ = e.srv.App().Shutdown() })
	for _, p := range gone {
		deadline := time.Now().Add(10 * time.Second)
		for _, err := os.Stat(p); err == nil && time.Now().Before(deadline); _, err = os.Stat(p) {
			time.Sleep(10 * time.Millisecond)
		}
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("leftover %s still there (%v)", filepath.Base(p), err)
		}
	}
	// A job runs only after the start's scan: once one is done, the scan
	// has seen every entry.
	in, _ := os.ReadFile("../scrub/testdata/semicolon.csv")
	id := postJob(t, e, in)
	for deadline := time.Now().Add(10 * time.Second); jobState(t, e, id) != "done" && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	for _, p := range kept {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was deleted: %v", filepath.Base(p), err)
		}
	}
}
