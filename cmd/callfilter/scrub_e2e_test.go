package main

import (
	"bytes"
	"encoding/csv"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// scrubAt is 10:00 in New York: inside every US calling window, 23:00 in Beijing.
const scrubAt = "2026-11-18T15:00:00Z"

// scrubStore returns the environment of a store in a temporary directory
// where +1 212 555 0199 is on the national list, imported by the binary.
func scrubStore(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	env := append(os.Environ(), "CALLFILTER_STORE_PATH="+filepath.Join(dir, "callfilter.db"))
	in := filepath.Join(dir, "dnc.csv")
	if err := os.WriteFile(in, []byte("phone\n+1 212 555 0199\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "import", "--config", "../../config.yaml", "--list", "national", in)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	return env
}

// runScrub runs `callfilter scrub` with args and returns the output CSV's
// records and what the command printed (the summary).
func runScrub(t *testing.T, env []string, stdin []byte, args ...string) (recs [][]string, report string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out.csv")
	args = append([]string{"scrub", "--config", "../../config.yaml", "--quiet", "--at", scrubAt, "-o", out}, args...)
	cmd := exec.Command(binary, args...)
	cmd.Env = env
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("scrub %v: %v\n%s%s", args, err, stdout.String(), stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return readCSV(t, b), stdout.String()
}

func readCSV(t *testing.T, b []byte) [][]string {
	t.Helper()
	b = bytes.TrimPrefix(b, []byte{0xEF, 0xBB, 0xBF})
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = -1
	if bytes.Count(b, []byte{'\t'}) > bytes.Count(b, []byte{','}) {
		r.Comma = '\t'
	} else if bytes.Count(b, []byte{';'}) > bytes.Count(b, []byte{','}) {
		r.Comma = ';'
	}
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatalf("read the output back: %v\n%s", err, b)
	}
	return recs
}

// TestScrubCommandFixtures scrubs every messy fixture through the built
// binary against a real store and checks each row's e164, decision and
// reasons, and the summary table.
func TestScrubCommandFixtures(t *testing.T) {
	env := scrubStore(t)
	type want struct{ e164, decision, reasons string }
	tests := []struct {
		file   string
		args   []string
		header []string
		rows   []want
		report []string
	}{
		{
			file:   "messy.csv",
			header: []string{"Name", "Phone", "Notes"},
			rows: []want{
				{"+12125550134", "allow", ""},
				{"+12125550135", "allow", ""},
				{"+12125550134", "deny", "duplicate"},
				{"", "deny", "missing_number"},
				{"", "deny", "invalid_number"},
				{"", "deny", "invalid_number"},
				{"", "deny", "malformed_row"},
				{"+13055550100", "allow", ""},
				{"+12125550199", "deny", "on_list"},
			},
			report: []string{`column 2 "Phone"`, "line 10:", "duplicate", "malformed_row"},
		},
		{
			file:   "semicolon.csv",
			header: []string{"name", "phone", "city"},
			rows:   []want{{"+12125550134", "allow", ""}, {"+12125550199", "deny", "on_list"}},
		},
		{
			file:   "tab.tsv",
			header: []string{"name", "mobile", "city"},
			rows:   []want{{"+12125550134", "allow", ""}, {"+12125550199", "deny", "on_list"}},
		},
		{
			file: "gbk.csv", args: []string{"--charset", "gbk"},
			header: []string{"姓名", "手机", "城市"},
			rows:   []want{{"+8613800138000", "deny", "outside_hours"}, {"+12125550134", "allow", ""}},
		},
		{
			file:   "noheader.csv",
			header: []string{"column_1"},
			rows:   []want{{"+12125550134", "allow", ""}, {"+12125550199", "deny", "on_list"}, {"", "deny", "invalid_number"}},
		},
		{
			file: "messy.csv", args: []string{"--column", "Phone"},
			header: []string{"Name", "Phone", "Notes"},
			rows: []want{
				{"+12125550134", "allow", ""}, {"+12125550135", "allow", ""}, {"+12125550134", "deny", "duplicate"},
				{"", "deny", "missing_number"}, {"", "deny", "invalid_number"}, {"", "deny", "invalid_number"},
				{"", "deny", "malformed_row"}, {"+13055550100", "allow", ""}, {"+12125550199", "deny", "on_list"},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.file+strings.Join(tc.args, ""), func(t *testing.T) {
			path := filepath.Join("..", "..", "scrub", "testdata", tc.file)
			args := append([]string{path, "--purpose", "insurance", "--channel", "call", "--seller", "acme"}, tc.args...)
			recs, report := runScrub(t, env, nil, args...)
			wantHeader := append(append([]string{}, tc.header...), "e164", "decision", "reasons", "line_type", "timezone")
			if got := strings.Join(recs[0], "|"); got != strings.Join(wantHeader, "|") {
				t.Errorf("header: got %s, want %s", got, strings.Join(wantHeader, "|"))
			}
			if len(recs)-1 != len(tc.rows) {
				t.Fatalf("got %d rows, want %d:\n%q", len(recs)-1, len(tc.rows), recs)
			}
			var allow, deny int
			n := len(tc.header)
			for i, w := range tc.rows {
				rec := recs[i+1]
				if len(rec) != len(wantHeader) {
					t.Errorf("row %d: %d columns, want %d: %q", i+1, len(rec), len(wantHeader), rec)
					continue
				}
				if got := (want{rec[n], rec[n+1], rec[n+2]}); got != w {
					t.Errorf("row %d %q: got %+v, want %+v", i+1, rec[:n], got, w)
				}
				if w.decision == "allow" {
					allow++
				} else {
					deny++
				}
				if rec[n] != "" && (rec[n+3] == "" || rec[n+4] == "") {
					t.Errorf("row %d: a decided number without line type or zone: %q", i+1, rec)
				}
			}
			for _, line := range []string{
				"rows " + strconv.Itoa(len(tc.rows)), "allow " + strconv.Itoa(allow), "deny " + strconv.Itoa(deny),
			} {
				if !strings.Contains(squeeze(report), line) {
					t.Errorf("summary lacks %q:\n%s", line, report)
				}
			}
			for _, s := range tc.report {
				if !strings.Contains(report, s) {
					t.Errorf("summary lacks %q:\n%s", s, report)
				}
			}
		})
	}
}

// TestScrubCommandPipes scrubs standard input to standard output (the
// summary goes to standard error then) and keeps every generated row, in order.
func TestScrubCommandPipes(t *testing.T) {
	env := scrubStore(t)
	gen := exec.Command(binary, "gen", "--rows", "5000", "--seed", "7")
	in, err := gen.Output()
	if err != nil {
		t.Fatalf("gen: %v", err)
	}
	cmd := exec.Command(binary, "scrub", "--config", "../../config.yaml", "--quiet", "--at", scrubAt,
		"--purpose", "insurance", "-o", "-", "-")
	cmd.Env = env
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("scrub: %v\n%s", err, stderr.String())
	}
	inRecs := readCSV(t, in)
	outRecs := readCSV(t, stdout.Bytes())
	if len(outRecs) != len(inRecs) {
		t.Fatalf("%d records in, %d out", len(inRecs), len(outRecs))
	}
	for i := range inRecs {
		if got, want := strings.Join(outRecs[i][:len(inRecs[i])], ","), strings.Join(inRecs[i], ","); got != want {
			t.Fatalf("record %d: got %q, want %q", i, got, want)
		}
		if i > 0 && outRecs[i][6] != "allow" && outRecs[i][6] != "deny" {
			t.Fatalf("record %d has no decision: %q", i, outRecs[i])
		}
	}
	if !strings.Contains(squeeze(stderr.String()), "rows "+strconv.Itoa(len(inRecs)-1)) {
		t.Errorf("summary on stderr lacks the row count %d:\n%s", len(inRecs)-1, stderr.String())
	}
}

// squeeze collapses runs of spaces, so table lines compare as "rows 9".
func squeeze(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == ' ' }), " ")
}
