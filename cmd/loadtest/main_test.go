package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunAgainstTrivialServer drives the command end to end against its own
// trivial server, writing a report and comparing a second run with it.
func TestRunAgainstTrivialServer(t *testing.T) {
	out := filepath.Join(t.TempDir(), "r.json")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"--trivial-server", "127.0.0.1:0", "--requests", "200", "--workers", "4", "--json", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "requests   200 (200 numbers), errors 0") {
		t.Errorf("summary:\n%s", stdout.String())
	}
	stdout.Reset()
	args := []string{"--trivial-server", "127.0.0.1:0", "--mode", "open", "--rate", "500", "--duration", "200ms", "--batch", "10", "--compare", out}
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, want := range []string{"open loop, 500 req/s", "batch of 10", "compared with", "p99.9", "configured differently"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, stdout.String())
		}
	}
}

func TestRunRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--target", "http://10.1.2.3:8080", "--requests", "1"},
		{"--requests", "1", "--mode", "sideways"},
		{"--target", "http://127.0.0.1:1"},  // neither duration nor requests
		{"--requests", "1", "--rate", "10"}, // rate in closed mode
		{"--purposes", "insurance"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code == 0 {
			t.Errorf("%v: accepted", args)
		}
	}
}
