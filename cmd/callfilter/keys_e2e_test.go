package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestKeysCommand: `callfilter keys create` prints a secret once that the
// server then accepts with the key's role (403 beyond it), `keys list` shows
// names and roles but no secret, `keys revoke` makes the server refuse it
// (401), and each change is in the audit trail with actor cli.
func TestKeysCommand(t *testing.T) {
	dir := t.TempDir()
	keys := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(binary, append([]string{"keys"}, append(args, "--config", "../../config.yaml")...)...)
		cmd.Env = append(os.Environ(), "CALLFILTER_STORE_PATH="+filepath.Join(dir, "callfilter.db"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("keys %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	out := keys("create", "--name", "dialer-7", "--role", "dialer")
	secret := regexp.MustCompile(`cf_[A-Za-z0-9_-]{43}`).FindString(out)
	if secret == "" {
		t.Fatalf("keys create printed no secret:\n%s", out)
	}
	list := keys("list")
	if !regexp.MustCompile(`dialer-7\s+dialer\s+\d{4}-`).MatchString(list) || strings.Contains(list, secret) {
		t.Fatalf("keys list:\n%s\nwant dialer-7 with role dialer and no secret", list)
	}
	// A bad role and a missing name are refused with a message, and change nothing.
	for _, args := range [][]string{{"create", "--name", "x", "--role", "root"}, {"revoke"}} {
		cmd := exec.Command(binary, append([]string{"keys"}, append(args, "--config", "../../config.yaml")...)...)
		cmd.Env = append(os.Environ(), "CALLFILTER_STORE_PATH="+filepath.Join(dir, "callfilter.db"))
		if b, err := cmd.CombinedOutput(); err == nil {
			t.Errorf("keys %v succeeded: %s", args, b)
		}
	}

	status := func(s *server, method, path, key, body string) int { return s.statusAs(key, method, path, body) }
	check := `{"number":"+12125550134","channel":"call","purpose":"insurance","at":"2026-11-18T15:00:00Z"}`
	s := startServer(t, dir)
	if got := status(s, "POST", "/v1/check", secret, check); got != 200 {
		t.Fatalf("check with the new dialer key: %d, want 200", got)
	}
	if got := status(s, "GET", "/v1/keys", secret, ""); got != 403 {
		t.Fatalf("GET /v1/keys with a dialer key: %d, want 403", got)
	}
	// Stop it cleanly: the embedded store allows one process at a time.
	s.terminate(30 * time.Second)

	if out := keys("revoke", "--name", "dialer-7"); !strings.Contains(out, "revoked") {
		t.Fatalf("keys revoke: %s", out)
	}
	s = startServer(t, dir)
	if got := status(s, "POST", "/v1/check", secret, check); got != 401 {
		t.Fatalf("check with the revoked key: %d, want 401", got)
	}
	audit := s.do("GET", "/v1/audit?kind=change", nil, 200)
	var actions []string
	entries, _ := audit["entries"].([]any)
	for _, e := range entries {
		m, _ := e.(map[string]any)
		if m["actor"] == "cli" {
			actions = append(actions, m["action"].(string)+" "+m["target"].(string))
		}
	}
	if strings.Join(actions, ",") != "key.create dialer-7,key.delete dialer-7" {
		t.Errorf("audited key changes by cli: %v, want create then delete of dialer-7", actions)
	}
}
