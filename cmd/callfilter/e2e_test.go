package main

import (
	"bufio"
	"bytes"
	"callfilter/store/redis/redistest"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binary is the callfilter built once for the end-to-end tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "callfilter-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "callfilter")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build callfilter:", err)
		os.Exit(1)
	}
	code := redistest.Main(m) // also stops any redis-server a test started
	os.RemoveAll(dir)
	os.Exit(code)
}

const e2eKey = "cf_e2e-admin-key-0123456789abcdef"

// server is one run of the real binary.
type server struct {
	t    *testing.T
	cmd  *exec.Cmd
	addr string
	logs *syncBuffer
}

// syncBuffer collects the server's log while tests read it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startServer runs `callfilter serve` on the repository's config.yaml with the
// store in dir, on a free loopback port, and waits until it is ready.
func startServer(t *testing.T, dir string) *server {
	t.Helper()
	cmd := exec.Command(binary, "serve", "--config", "../../config.yaml")
	cmd.Env = append(os.Environ(),
		"CALLFILTER_LISTEN=127.0.0.1:0",
		"CALLFILTER_STORE_PATH="+filepath.Join(dir, "callfilter.db"),
		"CALLFILTER_ADMIN_KEY="+e2eKey,
	)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, cmd: cmd, logs: &syncBuffer{}}
	t.Cleanup(func() { s.kill() })
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Bytes()
			s.logs.Write(append(line, '\n'))
			var rec struct{ Msg, Addr string }
			if json.Unmarshal(line, &rec) == nil && rec.Msg == "serving" {
				addrc <- rec.Addr
			}
		}
	}()
	select {
	case s.addr = <-addrc:
	case <-time.After(30 * time.Second):
		t.Fatalf("callfilter did not start; logs:\n%s", s.logs)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + s.addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("callfilter not ready after 30s; logs:\n%s", s.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *server) kill() {
	if s.cmd.ProcessState == nil {
		_ = s.cmd.Process.Signal(syscall.SIGKILL)
		_ = s.cmd.Wait()
	}
}

// do sends a JSON request with the admin key and decodes the JSON answer.
// statusAs sends a JSON body with key's bearer and returns the status.
func (s *server) statusAs(key, method, path, body string) int {
	s.t.Helper()
	req, _ := http.NewRequest(method, "http://"+s.addr+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (s *server) do(method, path string, body any, wantStatus int) map[string]any {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, "http://"+s.addr+path, rd)
	req.Header.Set("Authorization", "Bearer "+e2eKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != wantStatus {
		s.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, resp.StatusCode, wantStatus, raw)
	}
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			s.t.Fatalf("%s %s: %v in %s", method, path, err, raw)
		}
	}
	return out
}

// check asks about number at a fixed weekday mid-morning in New York.
func (s *server) check(number string) (decision string, codes []string) {
	s.t.Helper()
	out := s.do("POST", "/v1/check", map[string]any{
		"number": number, "channel": "call", "purpose": "insurance", "seller": "acme",
		"at": "2026-11-18T15:00:00Z",
	}, http.StatusOK)
	for _, r := range out["reasons"].([]any) {
		codes = append(codes, r.(map[string]any)["code"].(string))
	}
	return out["decision"].(string), codes
}

// TestEndToEndListSurvivesKill is the acceptance path: allow, list,
// deny, kill -9, restart, still deny.
func TestEndToEndListSurvivesKill(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)

	if got, codes := s.check("(212) 555-0134"); got != "allow" {
		t.Fatalf("clean number: got %s %v, want allow", got, codes)
	}
	out := s.do("POST", "/v1/lists/national/numbers", map[string]any{"numbers": []string{"212-555-0134", "not a number"}}, http.StatusOK)
	if out["added"].(float64) != 1 || len(out["rejected"].([]any)) != 1 {
		t.Fatalf("list add: got %v, want 1 added and 1 rejected", out)
	}
	if got, codes := s.check("+1 212 555 0134"); got != "deny" || !strings.Contains(strings.Join(codes, ","), "on_list") {
		t.Fatalf("listed number: got %s %v, want deny on_list", got, codes)
	}

	s.kill()
	if s.cmd.ProcessState.Success() {
		t.Fatal("the process was expected to die of SIGKILL")
	}
	s2 := startServer(t, dir)
	if got, codes := s2.check("2125550134"); got != "deny" || !strings.Contains(strings.Join(codes, ","), "on_list") {
		t.Fatalf("after kill -9 and restart: got %s %v, want deny on_list", got, codes)
	}
	if got, _ := s2.check("2125550199"); got != "allow" {
		t.Fatalf("another number after restart: got %s, want allow", got)
	}
	if strings.Contains(s.logs.String()+s2.logs.String(), "5550134") {
		t.Errorf("logs hold a plain phone number:\n%s", s.logs)
	}
}

// TestEndToEndSIGTERM: a SIGTERM drains and exits 0.
func TestEndToEndSIGTERM(t *testing.T) {
	s := startServer(t, t.TempDir())
	s.terminate(20 * time.Second)
}

// terminate sends SIGTERM and waits for a clean exit (status 0) within.
func (s *server) terminate(within time.Duration) {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.t.Fatal(err)
	}
	s.waitExit(within)
}

// waitExit waits for the process to exit with status 0 within.
func (s *server) waitExit(within time.Duration) {
	s.t.Helper()
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			s.t.Fatalf("exit after SIGTERM: %v; logs:\n%s", err, s.logs)
		}
	case <-time.After(within):
		s.t.Fatalf("callfilter did not exit within %v of SIGTERM; logs:\n%s", within, s.logs)
	}
}

func TestCheckConfigAndVersion(t *testing.T) {
	out, err := exec.Command(binary, "check-config", "--config", "../../config.yaml").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "is valid") {
		t.Fatalf("check-config on the shipped config: %v\n%s", err, out)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("listen: \"\"\nstore: {kind: floppy}\nlog_level: loud\n"), 0o600)
	out, err = exec.Command(binary, "check-config", "--config", bad).CombinedOutput()
	if err == nil {
		t.Fatalf("check-config accepted a bad config:\n%s", out)
	}
	for _, want := range []string{"listen:", "store.kind:", "log_level:"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("check-config output lacks %q:\n%s", want, out)
		}
	}
	out, err = exec.Command(binary, "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "callfilter ") {
		t.Fatalf("version: %v %s", err, out)
	}
}

func TestImportCommand(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "dnc.csv")
	os.WriteFile(in, []byte("phone,name\n212-555-0101,a\n\n+1 (212) 555-0102,b\nbogus,c\n2125550101,dup\n"), 0o600)
	cmd := exec.Command(binary, "import", "--config", "../../config.yaml", "--list", "national", in)
	cmd.Env = append(os.Environ(), "CALLFILTER_STORE_PATH="+filepath.Join(dir, "callfilter.db"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	// The header and the blank line are lines but not numbers; the duplicate is not added twice.
	for _, want := range []string{"line 5:", "import csv into list national: done;", "6 lines, 3 numbers, 2 added, 0 removed, 1 bad lines"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("import output lacks %q:\n%s", want, out)
		}
	}
	s := startServer(t, dir)
	if got, _ := s.check("2125550102"); got != "deny" {
		t.Errorf("imported number: got %s, want deny", got)
	}
}

// TestEndToEndSIGHUPReloadsRules: an edited rule file takes effect on SIGHUP;
// a broken one is refused and the rules in force stay.
func TestEndToEndSIGHUPReloadsRules(t *testing.T) {
	dir := t.TempDir()
	orig, err := os.ReadFile("../../rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rules := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rules, orig, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CALLFILTER_RULES", rules)
	s := startServer(t, dir)
	version := func() string {
		out := s.do("POST", "/v1/check", map[string]any{"number": "2125550134", "channel": "call", "purpose": "insurance"}, http.StatusOK)
		return out["rules_version"].(string)
	}
	before := version()
	edited := strings.Replace(string(orig), "version: \""+before+"\"", "version: \"e2e-reloaded\"", 1)
	if edited == string(orig) {
		t.Fatalf("could not find version %q in rules.yaml", before)
	}
	os.WriteFile(rules, []byte(edited), 0o600)
	s.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, func() bool { return version() == "e2e-reloaded" }, "rules_version e2e-reloaded after SIGHUP")

	os.WriteFile(rules, []byte("version: broken\npurposes: {insurance: {call: {hours: {start: \"25:00\"}}}}\n"), 0o600)
	s.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, func() bool { return strings.Contains(s.logs.String(), "rules not reloaded") }, "a log line refusing the broken rules")
	if got := version(); got != "e2e-reloaded" {
		t.Fatalf("after a broken edit: rules_version %q, want the previous e2e-reloaded", got)
	}
}

func waitFor(t *testing.T, ok func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
