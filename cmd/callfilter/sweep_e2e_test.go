package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestEndToEndSweepsExpiredEntries: with store.sweep_interval set, the
// service removes a list entry once its expiry has passed (the permanent
// one stays), records the removal in the audit trail and counts it in
// /metrics.
func TestEndToEndSweepsExpiredEntries(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "config.yaml")
	cfg := fmt.Sprintf("listen: %s\nrules: %s\nstore: {kind: embedded, path: %s, sweep_interval: 1s}\n",
		freeAddr(t), mustAbs(t, "../../rules.yaml"), filepath.Join(dir, "callfilter.db"))
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s := launch(t, []string{"serve", "--config", cfgFile}, false,
		"CALLFILTER_LISTEN=", "CALLFILTER_STORE_PATH=", "CALLFILTER_RULES=", "CALLFILTER_ADMIN_KEY="+e2eKey)
	s.waitReady()
	expires := time.Now().Add(2 * time.Second).UTC().Format(time.RFC3339)
	s.do("POST", "/v1/lists/internal/numbers", map[string]any{"numbers": []string{"+12125550134"}, "expires_at": expires}, http.StatusOK)
	s.do("POST", "/v1/lists/internal/numbers", map[string]any{"numbers": []string{"+12125550135"}}, http.StatusOK)
	if n := s.listCount("internal"); n != 2 {
		t.Fatalf("internal holds %d entries, want 2", n)
	}
	waitFor(t, func() bool { return s.listCount("internal") == 1 }, "the sweep to remove the expired entry")
	if d, codes := s.check("+12125550135"); d != "deny" || !strings.Contains(strings.Join(codes, " "), "on_list") {
		t.Errorf("the permanent entry after the sweep: %s %v, want deny on_list", d, codes)
	}
	audit := s.do("GET", "/v1/audit?kind=change", nil, http.StatusOK)
	found := false
	for _, e := range audit["entries"].([]any) {
		m := e.(map[string]any)
		if m["action"] == "list.sweep" && m["target"] == "internal" && m["actor"] == "sweep" {
			found = true
		}
	}
	if !found {
		t.Errorf("no list.sweep audit entry for internal: %v", audit["entries"])
	}
	if page := string(get(t, "http://"+s.addr+"/metrics", http.StatusOK)); !strings.Contains(page, `callfilter_list_entries_swept_total{list="internal"} 1`) {
		t.Error("/metrics lacks callfilter_list_entries_swept_total{list=\"internal\"} 1")
	}
}
