package scrub_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"callfilter/filter"
	"callfilter/scrub"
)

// FuzzScrubCSV feeds arbitrary bytes to the pipeline (parse-only decider, so
// it runs fast) and checks that it never panics and accounts for every row:
// the output reads back as CSV, one header and one row per input record, each
// with a decision.
func FuzzScrubCSV(f *testing.F) {
	files, _ := filepath.Glob("testdata/*")
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b, "")
		}
	}
	f.Add([]byte("a,b\n\"x\ny\",2125550134\n"), "2")
	f.Add([]byte("phone\n\"\n"), "phone")
	f.Add([]byte("\xef\xbb\xbf;\t,\r\n\r\n"), "")
	f.Fuzz(func(t *testing.T, in []byte, column string) {
		var out bytes.Buffer
		sum, err := scrub.Run(context.Background(), bytes.NewReader(in), &out, scrub.Options{Decider: scrub.ParseOnly{Region: "US"}, Column: column, Workers: 2, ChunkRows: 3})
		if err != nil {
			if filter.ErrorKind(err) != filter.EInvalid {
				t.Fatalf("error of kind %s: %v", filter.ErrorKind(err), err)
			}
			if out.Len() != 0 {
				t.Fatalf("an invalid scrub wrote %d bytes", out.Len())
			}
			return
		}
		r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(out.Bytes(), []byte{0xEF, 0xBB, 0xBF})))
		r.Comma = []rune(sum.Delimiter)[0]
		r.FieldsPerRecord = -1
		recs, err := r.ReadAll()
		if err != nil {
			t.Fatalf("output does not read back: %v\n%q", err, out.String())
		}
		if int64(len(recs)-1) != sum.Rows {
			t.Fatalf("output has %d rows, summary %d", len(recs)-1, sum.Rows)
		}
		if sum.Allow+sum.Deny != sum.Rows {
			t.Fatalf("allow %d + deny %d != rows %d", sum.Allow, sum.Deny, sum.Rows)
		}
		for _, rec := range recs[1:] {
			if len(rec) < len(scrub.OutputColumns) {
				t.Fatalf("short row %q", rec)
			}
		}
	})
}

// FuzzDetectColumn checks that detection never panics and returns an index
// inside the file or an EInvalid error.
func FuzzDetectColumn(f *testing.F) {
	f.Add("name,phone", "Ann,2125550134\nBob,x", "")
	f.Add("", "2125550134,2125550135", "")
	f.Add("a,b", "1,2", "phone")
	f.Add("a,b", "1,2", "0")
	f.Add("a,b", "1,2", "-3")
	f.Fuzz(func(t *testing.T, header, rows, spec string) {
		var h []string
		if header != "" {
			h = strings.Split(header, ",")
		}
		var sample [][]string
		width := len(h)
		for _, l := range strings.Split(rows, "\n") {
			r := strings.Split(l, ",")
			sample = append(sample, r)
			width = max(width, len(r))
		}
		i, err := scrub.DetectColumn(h, sample, spec)
		if err != nil {
			if filter.ErrorKind(err) != filter.EInvalid {
				t.Fatalf("error of kind %s: %v", filter.ErrorKind(err), err)
			}
			return
		}
		if i < 0 || spec == "" && i >= width {
			t.Fatalf("index %d outside %d columns", i, width)
		}
	})
}
