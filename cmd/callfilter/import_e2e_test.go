package main

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"callfilter/listfeed"
)

// importCommand is `callfilter import` with args on the store in dir, its
// output collected; runImport runs one to its end.
func importCommand(dir string, args ...string) (cmd *exec.Cmd, stdout, stderr *bytes.Buffer) {
	cmd = exec.Command(binary, append([]string{"import", "--config", "../../config.yaml"}, args...)...)
	cmd.Env = append(os.Environ(), "CALLFILTER_STORE_PATH="+filepath.Join(dir, "callfilter.db"))
	stdout, stderr = &bytes.Buffer{}, &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	return cmd, stdout, stderr
}

// runImport runs `callfilter import` on the store in dir to its end.
func runImport(t *testing.T, dir string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd, out, errOut := importCommand(dir, args...)
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// mustImport runs `callfilter import` and fails the test unless it succeeds
// and its summary holds every one of want.
func mustImport(t *testing.T, dir string, want []string, args ...string) (stdout, stderr string) {
	t.Helper()
	stdout, stderr, err := runImport(t, dir, args...)
	if err != nil {
		t.Fatalf("import %v: %v\nstdout:\n%s\nstderr:\n%s", args, err, stdout, stderr)
	}
	for _, w := range want {
		if !strings.Contains(stdout, w) {
			t.Errorf("import %v: summary lacks %q:\n%s", args, w, stdout)
		}
	}
	return stdout, stderr
}

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// listCount returns the count of list as GET /v1/lists gives it (0 if absent).
func (s *server) listCount(list string) int64 {
	s.t.Helper()
	for _, l := range s.do("GET", "/v1/lists", nil, http.StatusOK)["lists"].([]any) {
		if m := l.(map[string]any); m["name"] == list {
			return int64(m["count"].(float64))
		}
	}
	return 0
}

// TestImportFormats imports a DNC full file (with a bad line) and then a DNC
// change file into national and a TPS file into tps, and checks what the
// server then decides.
func TestImportFormats(t *testing.T) {
	dir := t.TempDir()

	var full strings.Builder
	for i := range 100 {
		if i == 50 {
			full.WriteString("201,555\n") // line 51: no 7-digit number
		}
		fmt.Fprintf(&full, "201,%07d\n", 5550100+i)
	}
	dncFile := writeFile(t, filepath.Join(dir, "dnc_201_20261130.txt"), full.String())
	// Not --quiet: the bar must not hide the bad line.
	_, stderr := mustImport(t, dir, []string{
		"import dnc into list national: done;", "source date 2026-11-30;",
		"101 lines, 100 numbers, 100 added, 0 removed, 1 bad lines", "area codes replaced: 201",
	}, "--format", "dnc", "--list", "national", dncFile)
	if !strings.Contains(stderr, "line 51: ") {
		t.Errorf("the bad line is not reported with its number on stderr:\n%s", stderr)
	}
	if strings.Contains(stderr, "line 50:") || strings.Contains(stderr, "line 52:") {
		t.Errorf("a good line is reported as bad:\n%s", stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "import-national.json")); err != nil {
		t.Errorf("no state file beside the store: %v", err)
	}

	change := writeFile(t, filepath.Join(dir, "dnc_change_20261201.txt"), "201,5550100,D\n201,5550300,A\n")
	mustImport(t, dir, []string{"import dnc-change into list national: done;", "source date 2026-12-01;", "2 numbers, 1 added, 1 removed, 0 bad lines"},
		"--format", "dnc-change", "--list", "national", "--quiet", change)

	// A file dated before the list's last import would undo newer changes.
	older := writeFile(t, filepath.Join(dir, "dnc_change_20261129.txt"), "201,5550101,D\n")
	if stdout, stderr, err := runImport(t, dir, "--format", "dnc-change", "--list", "national", "--quiet", older); err == nil || !strings.Contains(stderr, "before that of the list's last import") {
		t.Errorf("an older change file: %v, want a refusal naming the dates\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}

	tps := writeFile(t, filepath.Join(dir, "tps_2026-11-30.txt"), "0207 3787244\r\n01635 506160\r\n02073787245 \r\n")
	mustImport(t, dir, []string{"import tps into list tps: done;", "source date 2026-11-30;", "3 numbers, 3 added"},
		"--format", "tps", "--list", "tps", "--quiet", tps)

	if stdout, stderr, err := runImport(t, dir, "--format", "tps", "--list", "tps", "--region", "US", tps); err == nil || !strings.Contains(stderr, "--region is for") {
		t.Errorf("--region with tps: %v, want a refusal\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}

	// Standard input: imported, with no state file since it cannot resume.
	cmd, out, errOut := importCommand(dir, "--list", "internal", "--quiet", "-")
	cmd.Stdin = strings.NewReader("phone\n(212) 555-0177\n")
	if err := cmd.Run(); err != nil || !strings.Contains(out.String(), "import csv into list internal: done;") || !strings.Contains(out.String(), "1 numbers, 1 added") {
		t.Errorf("import from standard input: %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "import-internal.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an import from standard input left a state file (%v)", err)
	}

	s := startServer(t, dir)
	if got, codes := s.check("2125550177"); got != "deny" || !strings.Contains(strings.Join(codes, ","), "on_list") {
		t.Errorf("the number from standard input: got %s %v, want deny on_list", got, codes)
	}
	if got, codes := s.check("2015550101"); got != "deny" || !strings.Contains(strings.Join(codes, ","), "on_list") {
		t.Errorf("a number of the full file: got %s %v, want deny on_list", got, codes)
	}
	if got, codes := s.check("2015550300"); got != "deny" || !strings.Contains(strings.Join(codes, ","), "on_list") {
		t.Errorf("a number the change file added: got %s %v, want deny on_list", got, codes)
	}
	if got, codes := s.check("2015550100"); got != "allow" {
		t.Errorf("the number the change file deleted: got %s %v, want allow", got, codes)
	}
	if got := s.listCount("national"); got != 100 {
		t.Errorf("national holds %d numbers, want 100", got)
	}
	if got := s.listCount("tps"); got != 3 {
		t.Errorf("tps holds %d numbers, want 3", got)
	}
	if got := s.listCount("national" + listfeed.StagingSuffix); got != 0 {
		t.Errorf("the staging list holds %d numbers after the import, want 0", got)
	}
	// The lists show the date of the newest file imported, not of the import.
	sources := map[string]any{}
	for _, l := range s.do("GET", "/v1/lists", nil, 200)["lists"].([]any) {
		m := l.(map[string]any)
		sources[m["name"].(string)] = m["source_date"]
	}
	if sources["national"] != "2026-12-01T00:00:00Z" || sources["tps"] != "2026-11-30T00:00:00Z" {
		t.Errorf("source dates %v, want national 2026-12-01 and tps 2026-11-30", sources)
	}
}

// TestImportResumes interrupts a DNC full import with SIGINT, then kills the
// re-run with SIGKILL, and checks that a third run finishes the import from
// the checkpoint with every number listed once.
func TestImportResumes(t *testing.T) {
	dir := t.TempDir()
	const n = 50_000
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, "201,%07d\n", 2000000+i)
	}
	file := writeFile(t, filepath.Join(dir, "dnc_201_20261130.txt"), b.String())
	state := filepath.Join(dir, "import-national.json")
	// Small chunks: many checkpoints, so that a signal lands mid-import.
	args := []string{"--format", "dnc", "--list", "national", "--chunk", "100", "--quiet", file}

	// interrupt starts an import, sends it sig once it has checkpointed past
	// prev, and returns the checkpoint and how the command ended.
	interrupt := func(sig os.Signal, prev listfeed.Checkpoint) (cp listfeed.Checkpoint, stdout, stderr string, err error) {
		t.Helper()
		cmd, out, errOut := importCommand(dir, args...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill() })
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		deadline := time.Now().Add(20 * time.Second)
		for {
			select {
			case err := <-done:
				t.Fatalf("the import ended before it was signalled (%v):\n%s%s", err, out, errOut)
			default:
			}
			if cp, ok, _ := listfeed.ReadCheckpoint(state); ok && cp.Phase != listfeed.PhaseDone && progressed(cp, prev) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no progress past line %d (%s) after 20s:\n%s", prev.Pos.Line, prev.Phase, errOut)
			}
			time.Sleep(2 * time.Millisecond)
		}
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		select {
		case err = <-done:
		case <-time.After(20 * time.Second):
			t.Fatalf("the import did not stop within 20s of %v", sig)
		}
		cp, ok, rerr := listfeed.ReadCheckpoint(state)
		if !ok || rerr != nil {
			t.Fatalf("no checkpoint after %v: %v", sig, rerr)
		}
		if cp.Phase == listfeed.PhaseDone || !progressed(cp, prev) {
			t.Fatalf("after %v the checkpoint is at %s line %d: want an unfinished import past %s line %d", sig, cp.Phase, cp.Pos.Line, prev.Phase, prev.Pos.Line)
		}
		return cp, out.String(), errOut.String(), err
	}

	cp, stdout, stderr, err := interrupt(os.Interrupt, listfeed.Checkpoint{})
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("after SIGINT: %v, want exit status 1\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	for _, want := range []string{"import interrupted", "run the same command again to resume", state} {
		if !strings.Contains(stderr, want) {
			t.Errorf("after SIGINT, stderr lacks %q:\n%s", want, stderr)
		}
	}
	if !strings.Contains(stdout, "stopped;") {
		t.Errorf("after SIGINT, the summary does not say stopped:\n%s", stdout)
	}

	_, _, _, err = interrupt(os.Kill, cp)
	if !errors.As(err, &exit) || exit.Success() {
		t.Fatalf("after SIGKILL: %v, want a killed process", err)
	}

	mustImport(t, dir, []string{"done, resumed;", fmt.Sprintf("%d lines, %d numbers", n, n), "0 bad lines"}, args...)
	if cp, _, _ := listfeed.ReadCheckpoint(state); cp.Phase != listfeed.PhaseDone {
		t.Errorf("after the resumed import the state file is in phase %s, want done", cp.Phase)
	}
	s := startServer(t, dir)
	if got := s.listCount("national"); got != n {
		t.Errorf("national holds %d numbers, want %d", got, n)
	}
	for _, number := range []string{"2012000000", fmt.Sprintf("201%07d", 2000000+n-1)} {
		if got, codes := s.check(number); got != "deny" {
			t.Errorf("%s after the resumed import: got %s %v, want deny", number, got, codes)
		}
	}
}

// progressed reports whether checkpoint cp is further on than prev.
func progressed(cp, prev listfeed.Checkpoint) bool {
	rank := func(p listfeed.Phase) int {
		return map[listfeed.Phase]int{listfeed.PhaseLoad: 1, listfeed.PhaseAdd: 2, listfeed.PhaseRemove: 3, listfeed.PhaseCleanup: 4, listfeed.PhaseDone: 5}[p]
	}
	if rank(cp.Phase) != rank(prev.Phase) {
		return rank(cp.Phase) > rank(prev.Phase)
	}
	return cp.Pos.Line > prev.Pos.Line || cp.Added+cp.Removed > prev.Added+prev.Removed
}
