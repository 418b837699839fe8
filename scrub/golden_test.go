package scrub_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"callfilter/scrub"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// TestGoldenOutput scrubs every fixture, with its own separator and with ';'
// forced (every input line is then one field, and reasons joined by ';' need
// quotes), and wants the bytes in testdata/golden, written by the scrub that
// still formatted rows with encoding/csv (go test -run=Golden -update
// rewrites them).
func TestGoldenOutput(t *testing.T) {
	svc := mustService(t)
	sc := mustScrubber(t, svc, "insurance", "call")
	files, err := filepath.Glob("testdata/*.*sv")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, name := range files {
		for _, sep := range []struct {
			name  string
			comma rune
		}{{"own", 0}, {"semicolon", ';'}} {
			base := filepath.Base(name)
			t.Run(base+"/"+sep.name, func(t *testing.T) {
				in, err := os.ReadFile(name)
				if err != nil {
					t.Fatal(err)
				}
				charset := ""
				if base == "gbk.csv" {
					charset = "gbk"
				}
				var out bytes.Buffer
				if _, err := scrub.Run(context.Background(), bytes.NewReader(in), &out, scrub.Options{Decider: sc, Charset: charset, Comma: sep.comma, Workers: 3, ChunkRows: 2}); err != nil {
					t.Fatal(err)
				}
				golden := filepath.Join("testdata", "golden", base+"."+sep.name+".out")
				if *update {
					if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(out.Bytes(), want) {
					t.Errorf("output differs from %s:\ngot\n%q\nwant\n%q", golden, out.Bytes(), want)
				}
			})
		}
	}
}
