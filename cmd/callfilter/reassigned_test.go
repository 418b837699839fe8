package main

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestImportReassignedCommand: the feed's bad rows are reported by line, the
// rest recorded, and a consent granted before the disconnect then no longer
// counts in the running service.
func TestImportReassignedCommand(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "reassigned.csv")
	csv := "number,disconnected\n212-555-0171,2026-06-01\n+1 212 555 0172,2026-06-01T12:00:00Z\nbogus,2026-06-01\n2125550173,someday\n\n2125550174,2999-01-01\n"
	if err := os.WriteFile(in, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "import-reassigned", "--config", "../../config.yaml", in)
	cmd.Env = append(os.Environ(), "CALLFILTER_STORE_PATH="+filepath.Join(dir, "callfilter.db"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("import-reassigned: %v\n%s", err, out)
	}
	for _, want := range []string{"line 4: invalid_number", "line 5:", "line 7: disconnect_in_future", "4 rows read", "2 disconnects recorded", "3 rejected"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "2125550171") || strings.Contains(string(out), "555 0172") {
		t.Errorf("the output repeats a number it recorded:\n%s", out)
	}
	s := startServer(t, dir)
	for _, n := range []string{"2125550171", "2125550175"} {
		s.do("POST", "/v1/consents", map[string]any{
			"number": n, "seller": "acme", "purpose": "insurance", "channel": "sms",
			"source": "web-form", "granted_at": "2026-01-10T09:00:00Z",
		}, http.StatusCreated)
	}
	sms := func(n string) (string, []string) {
		res := s.do("POST", "/v1/check", map[string]any{
			"number": n, "channel": "sms", "purpose": "insurance", "seller": "acme", "at": "2026-11-18T15:00:00Z",
		}, http.StatusOK)
		var codes []string
		for _, r := range res["reasons"].([]any) {
			codes = append(codes, r.(map[string]any)["code"].(string))
		}
		return res["decision"].(string), codes
	}
	if d, codes := sms("2125550171"); d != "deny" || !slices.Contains(codes, "consent_reassigned") {
		t.Errorf("reassigned number: %s %v, want deny consent_reassigned", d, codes)
	}
	if d, codes := sms("2125550175"); d != "allow" {
		t.Errorf("a number not in the feed: %s %v, want allow", d, codes)
	}
}
