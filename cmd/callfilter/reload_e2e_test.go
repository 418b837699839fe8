package main

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// freeAddr returns a loopback address no one listens on at the moment.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// status sends a check as the admin key and returns the status and the
// Retry-After header.
func (s *server) status() (int, string) {
	s.t.Helper()
	req, _ := http.NewRequest("POST", "http://"+s.addr+"/v1/check", strings.NewReader(`{"number":"2125550134","channel":"call","purpose":"insurance","at":"2026-11-18T15:00:00Z"}`))
	req.Header.Set("Authorization", "Bearer "+e2eKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("POST /v1/check: %v", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

// logLines returns the server's JSON log lines whose msg starts with prefix.
func (s *server) logLines(prefix string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(s.logs.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil {
			if msg, _ := rec["msg"].(string); strings.HasPrefix(msg, prefix) {
				out = append(out, rec)
			}
		}
	}
	return out
}

// hup sends SIGHUP and waits for the reload to end: its summary line, or,
// for a refused file, its first refusal.
func (s *server) hup() {
	s.t.Helper()
	done := func() int { return len(s.logLines("reload: applied")) + len(s.logLines("reload refused")) }
	before := done()
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		s.t.Fatal(err)
	}
	waitFor(s.t, func() bool { return done() > before }, "the reload to be logged")
}

// TestConfigChangedKeys: every changed setting is named by its dotted YAML
// key, nested, listed and mapped ones included, and nothing else is.
func TestConfigChangedKeys(t *testing.T) {
	a, b := defaultConfig(), defaultConfig()
	if got := a.changedKeys(&b); len(got) != 0 {
		t.Fatalf("two default configs differ in %v", got)
	}
	b.Listen = "127.0.0.1:9"
	b.Store.Addrs = []string{"10.0.0.5:6379"}
	b.HTTP.RateBurst = 7
	b.SMS.Sellers = map[string]string{"+12125550100": "acme"}
	b.Audit.Retention = Duration(time.Hour)
	b.AdminKey = "cf_other" // from the environment only: not a setting of the file
	got := fmt.Sprint(a.changedKeys(&b))
	if want := "[listen store.addrs http.rate_burst sms.sellers audit.retention]"; got != want {
		t.Errorf("changed keys %s, want %s", got, want)
	}
}

// TestEndToEndSIGHUPReloadsConfig: SIGHUP re-reads the config file. A new
// log_level and rate limit apply at once; a new listen address is logged as
// needing a restart and the old address goes on serving; an invalid file is
// refused whole and the running configuration stays.
func TestEndToEndSIGHUPReloadsConfig(t *testing.T) {
	dir := t.TempDir()
	addr, otherAddr := freeAddr(t), freeAddr(t)
	cfgFile := filepath.Join(dir, "config.yaml")
	write := func(body string) {
		t.Helper()
		base := fmt.Sprintf("rules: %s\nstore: {kind: embedded, path: %s}\n", mustAbs(t, "../../rules.yaml"), filepath.Join(dir, "callfilter.db"))
		if err := os.WriteFile(cfgFile, []byte(base+body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("listen: " + addr + "\nlog_level: info\n")
	// The environment must not override what the file says.
	s := launch(t, []string{"serve", "--config", cfgFile}, false,
		"CALLFILTER_LISTEN=", "CALLFILTER_LOG_LEVEL=", "CALLFILTER_STORE_PATH=", "CALLFILTER_RULES=",
		"CALLFILTER_ADMIN_KEY="+e2eKey)
	s.waitReady()
	if s.addr != addr {
		t.Fatalf("serving on %s, want the file's %s", s.addr, addr)
	}
	for i := range 5 {
		if got, _ := s.status(); got != http.StatusOK {
			t.Fatalf("before the reload, check %d: status %d, want 200 (no rate limit)", i+1, got)
		}
	}
	if n := len(s.logLines("request")); n != 0 {
		t.Fatalf("%d debug request lines at log_level info", n)
	}

	write("listen: " + otherAddr + "\nlog_level: debug\nhttp: {rate_limit: 0.01, rate_burst: 3}\n")
	s.hup()
	sum := s.logLines("reload: applied")
	if len(sum) != 1 {
		t.Fatalf("%d reload summaries, want 1; logs:\n%s", len(sum), s.logs)
	}
	if got, want := fmt.Sprint(sum[0]["applied"], sum[0]["needs_restart"]), "[log_level http.rate_limit http.rate_burst] [listen]"; got != want {
		t.Errorf("reload summary %q: applied, needs restart %s; want %s", sum[0]["msg"], got, want)
	}
	warned := false
	for _, rec := range s.logLines("reload: listen") {
		warned = rec["level"] == "WARN" && rec["key"] == "listen" && strings.Contains(rec["msg"].(string), "restart")
	}
	if !warned {
		t.Errorf("no warning that listen needs a restart; logs:\n%s", s.logs)
	}
	// The burst of 3, then 429 with Retry-After, on the old address.
	for i := range 3 {
		if got, _ := s.status(); got != http.StatusOK {
			t.Fatalf("after the reload, check %d: status %d, want 200 (within the burst)", i+1, got)
		}
	}
	if got, ra := s.status(); got != http.StatusTooManyRequests || ra == "" {
		t.Fatalf("past the burst: status %d, Retry-After %q; want 429 with Retry-After", got, ra)
	}
	waitFor(t, func() bool { return len(s.logLines("request")) > 0 }, "debug request lines after log_level debug")
	if c, err := net.DialTimeout("tcp", otherAddr, time.Second); err == nil {
		c.Close()
		t.Errorf("something serves the new listen address %s without a restart", otherAddr)
	}

	write("listen: " + addr + "\nlog_level: loud\nhttp: {rate_limit: 0}\nbloom: {false_positive_rate: 0.5}\n")
	s.hup()
	refused := s.logLines("reload refused")
	var errs []string
	for _, rec := range refused {
		errs = append(errs, rec["err"].(string))
	}
	if len(refused) != 2 || !strings.Contains(strings.Join(errs, "\n"), "log_level:") || !strings.Contains(strings.Join(errs, "\n"), "bloom.false_positive_rate") {
		t.Errorf("refusals %q, want one line each for log_level and bloom.false_positive_rate", errs)
	}
	if n := len(s.logLines("reload: applied")); n != 1 {
		t.Errorf("an invalid file was applied (%d summaries)", n)
	}
	// Still serving, still rate-limited (the rate limit of 0 was not applied).
	get(t, "http://"+addr+"/healthz", http.StatusOK)
	if got, _ := s.status(); got != http.StatusTooManyRequests {
		t.Errorf("after a refused reload: status %d, want the running rate limit kept (429)", got)
	}
}

// TestEndToEndSIGTERMDrains: a batch check whose body is still arriving when
// SIGTERM comes is answered in full; no new connection is accepted; the
// process exits 0; and after a restart the batch's decisions are in the audit
// trail, whose chain verifies.
func TestEndToEndSIGTERMDrains(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)

	// Larger than fasthttp's 8 KiB first read of a streamed body, so that the
	// handler runs, and counts as in flight, while the rest is unsent.
	const items = 300
	var b strings.Builder
	b.WriteString(`{"items":[`)
	for i := range items {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"number":"212555%04d","channel":"call","purpose":"insurance","seller":"acme","at":"2026-11-18T15:00:00Z"}`, i)
	}
	b.WriteString(`]}`)
	body := b.String()
	if len(body) < 3*8192 {
		t.Fatalf("body of %d bytes: too small to be streamed", len(body))
	}

	conn, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	half := len(body) / 2
	fmt.Fprintf(conn, "POST /v1/check/batch HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", s.addr, e2eKey, len(body), body[:half])
	inFlight := regexp.MustCompile(`(?m)^callfilter_http_requests_in_flight (\d+)`)
	waitFor(t, func() bool {
		m := inFlight.FindStringSubmatch(string(get(t, "http://"+s.addr+"/metrics", http.StatusOK)))
		n, _ := strconv.Atoi(m[1])
		return n >= 2 // the batch and this scrape
	}, "the batch to be in flight")

	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return len(s.logLines("shutting down")) > 0 }, "the shutdown to begin")
	if c, err := net.DialTimeout("tcp", s.addr, time.Second); err == nil {
		c.Close()
		t.Errorf("a new connection was accepted after SIGTERM")
	}
	if _, err := io.WriteString(conn, body[half:]); err != nil {
		t.Fatalf("send the rest of the batch after SIGTERM: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("the in-flight batch got no answer: %v; logs:\n%s", err, s.logs)
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("read the in-flight batch's answer: %v", err)
	}
	var out struct {
		Results []struct {
			Decision   string `json:"decision"`
			DecisionID string `json:"decision_id"`
		} `json:"results"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &out) != nil || len(out.Results) != items {
		t.Fatalf("in-flight batch: status %d, %d results (want 200 and %d): %.300s", resp.StatusCode, len(out.Results), items, raw)
	}
	ids := map[string]bool{}
	for _, r := range out.Results {
		if r.Decision != "allow" || r.DecisionID == "" {
			t.Fatalf("in-flight batch: result %+v, want allow with a decision id", r)
		}
		ids[r.DecisionID] = true
	}

	s.waitExit(30 * time.Second)
	for _, step := range []string{"in-flight requests drained", "audit queue flushed", "store closed"} {
		if len(s.logLines(step)) != 1 {
			t.Errorf("the shutdown did not log %q; logs:\n%s", step, s.logs)
		}
	}

	verify := exec.Command(binary, "audit", "verify", "--config", "../../config.yaml")
	verify.Env = append(os.Environ(), "CALLFILTER_STORE_PATH="+filepath.Join(dir, "callfilter.db"))
	if vout, err := verify.CombinedOutput(); err != nil || !strings.Contains(string(vout), `"ok": true`) {
		t.Fatalf("callfilter audit verify after the drain: %v\n%s", err, vout)
	}

	s2 := startServer(t, dir)
	found := 0
	for cursor := ""; ; {
		page := s2.do("GET", "/v1/audit?kind=decision&limit=1000&cursor="+cursor, nil, http.StatusOK)
		for _, e := range page["entries"].([]any) {
			if ids[e.(map[string]any)["id"].(string)] {
				found++
			}
		}
		cursor, _ = page["next_cursor"].(string)
		if cursor == "" {
			break
		}
	}
	if found != items {
		t.Errorf("after the restart the audit trail holds %d of the in-flight batch's %d decisions", found, items)
	}
}

// TestEndToEndSIGTERMResumesScrubJob: a scrub job running when SIGTERM comes
// is stopped, the process still exits 0, and the next start runs the job
// again from the start to a whole result (restarts: 1).
func TestEndToEndSIGTERMResumesScrubJob(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.csv")
	// International numbers with prefixes not seen before need the most
	// parsing: slow enough a job that it is still running when the signal
	// comes.
	const rows = 500000
	if out, err := exec.Command(binary, "gen", "--rows", strconv.Itoa(rows), "--cold-intl", "-o", in).CombinedOutput(); err != nil {
		t.Fatalf("gen: %v\n%s", err, out)
	}
	s := startServer(t, dir)
	f, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	req, _ := http.NewRequest("POST", "http://"+s.addr+"/v1/scrub/jobs?purpose=insurance&channel=call&at=2026-11-18T15:00:00Z", f)
	req.Header.Set("Authorization", "Bearer "+e2eKey)
	req.Header.Set("Content-Type", "text/csv")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var job struct {
		ID       string `json:"id"`
		State    string `json:"state"`
		Restarts int    `json:"restarts"`
		RowsDone int64  `json:"rows_done"`
		Summary  *struct {
			Rows int64 `json:"rows"`
		} `json:"summary"`
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || json.Unmarshal(raw, &job) != nil || job.ID == "" {
		t.Fatalf("POST /v1/scrub/jobs: status %d: %s", resp.StatusCode, raw)
	}
	poll := func(s *server) {
		t.Helper()
		out := s.do("GET", "/v1/scrub/jobs/"+job.ID, nil, http.StatusOK)
		b, _ := json.Marshal(out)
		if err := json.Unmarshal(b, &job); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool { poll(s); return job.State != "queued" && (job.State != "running" || job.RowsDone > 0) }, "the job to be running")
	if job.State != "running" {
		t.Fatalf("the job is %s before SIGTERM (rows_done %d): the test needs it still running", job.State, job.RowsDone)
	}
	s.terminate(30 * time.Second)

	s2 := startServer(t, dir)
	deadline := time.Now().Add(2 * time.Minute)
	for poll(s2); job.State != "done" && job.State != "failed" && time.Now().Before(deadline); poll(s2) {
		time.Sleep(100 * time.Millisecond)
	}
	if job.State != "done" || job.Restarts != 1 || job.Summary == nil || job.Summary.Rows != rows {
		t.Fatalf("after the restart: job %+v, want done with restarts 1 and %d rows", job, rows)
	}
	resp, err = http.DefaultClient.Do(func() *http.Request {
		r, _ := http.NewRequest("GET", "http://"+s2.addr+"/v1/scrub/jobs/"+job.ID+"/result", nil)
		r.Header.Set("Authorization", "Bearer "+e2eKey)
		return r
	}())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	cr := csv.NewReader(resp.Body)
	cr.FieldsPerRecord = -1
	records, err := cr.ReadAll()
	if resp.StatusCode != http.StatusOK || err != nil || len(records) != rows+1 {
		t.Fatalf("result: status %d, %d records (%v), want 200 with a header and %d rows", resp.StatusCode, len(records), err, rows)
	}
}
