package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestEndToEndFilterImage: a list of a million numbers is scanned on the
// first start and its filter written to an image file beside the store; the
// next start loads the image instead of scanning, and still denies a listed
// number; an import since the image makes the start scan again.
func TestEndToEndFilterImage(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "dnc.txt")
	if out, err := exec.Command(binary, "gen", "--format", "dnc", "--rows", "1000000", "--seed", "5", "-o", file).CombinedOutput(); err != nil {
		t.Fatalf("gen: %v\n%s", err, out)
	}
	mustImport(t, dir, []string{"1000000"}, "--format", "dnc", "--list", "national", "--quiet", file)
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	area, local, _ := strings.Cut(strings.TrimSpace(strings.SplitN(string(raw), "\n", 2)[0]), ",")
	listed := "+1" + area + local

	wantDeny := func(s *server) {
		t.Helper()
		if d, codes := s.check(listed); d != "deny" || !slices.Contains(codes, "on_list") {
			t.Fatalf("check %s: %s %v, want deny on_list", listed, d, codes)
		}
	}
	waitLog := func(s *server, msg string) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); len(s.logLines(msg)) == 0; time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q line; logs:\n%s", msg, s.logs)
			}
		}
	}

	s := startServer(t, dir)
	s.waitReady()
	waitLog(s, "filter image written")
	if got := s.logLines("filter image loaded"); len(got) != 0 {
		t.Fatalf("the first start loaded an image: %v", got)
	}
	wantDeny(s)
	s.terminate(30 * time.Second)
	images, _ := filepath.Glob(filepath.Join(dir, "filters", "*.img"))
	if len(images) != 1 || filepath.Base(images[0]) != "national.img" {
		t.Fatalf("images after the first start: %v, want national.img", images)
	}

	s = startServer(t, dir)
	s.waitReady()
	waitLog(s, "lists loaded, ready") // the log is read from the process's stderr: it may lag
	loaded := s.logLines("filter image loaded")
	if len(loaded) != 1 || loaded[0]["list"] != "national" {
		t.Fatalf("the restart did not load national's image: %v\n%s", loaded, s.logs)
	}
	wantDeny(s)
	s.terminate(30 * time.Second)

	// A change while the service is stopped: the image is stale, not used.
	mustImport(t, dir, nil, "--format", "csv", "--list", "national", "--quiet",
		writeFile(t, filepath.Join(dir, "more.csv"), "phone\n+12125550199\n"))
	s = startServer(t, dir)
	s.waitReady()
	waitLog(s, "lists loaded, ready")
	if got := s.logLines("filter image loaded"); len(got) != 0 {
		t.Fatalf("a stale image was loaded: %v", got)
	}
	if got := s.logLines("filter image not used"); len(got) != 1 {
		t.Errorf("no warning that the image is stale: %v", got)
	}
	wantDeny(s)
	if d, _ := s.check("+12125550199"); d != "deny" {
		t.Errorf("the number imported since the image: %s, want deny", d)
	}
}
