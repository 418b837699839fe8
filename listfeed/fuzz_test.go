package listfeed

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// The readers' fuzz tests, seeded from the fixtures of the table tests: no
// input makes a reader panic, return a fatal error for a line (other than
// the layout errors a format has), go back in the file, or return a key that
// is not a number's key; and reading in two goes with Skip gives what one go
// gives.

func addFixtureSeeds(f *testing.F, format string) {
	for _, tc := range readerCases {
		if tc.format != format {
			continue
		}
		b, err := os.ReadFile(filepath.Join("testdata", tc.file))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(tc.cfg.Op), uint8(len(tc.want)/2))
	}
}

func fuzzReader(f *testing.F, format string, cfg func(op uint8) Config) {
	addFixtureSeeds(f, format)
	f.Fuzz(func(t *testing.T, data []byte, op uint8, cut uint8) {
		c := cfg(op)
		r, err := New(format, bytes.NewReader(data), c)
		if err != nil {
			t.Skip()
		}
		var all []Record
		var last Pos
		for {
			rec, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			p := r.Pos()
			if p.Line < last.Line || p.Offset < last.Offset || p.Offset > int64(len(data)) {
				t.Fatalf("position went from %v to %v (file of %d bytes)", last, p, len(data))
			}
			last = p
			var le *LineError
			if errors.As(err, &le) {
				if le.Line != p.Line {
					t.Fatalf("line error of line %d at line %d", le.Line, p.Line)
				}
				continue
			}
			if err != nil {
				return // a layout error (unknown column, no change flag): fatal by design
			}
			if rec.Key == 0 || rec.Key > 999_999_999_999_999 || (rec.Op != OpAdd && rec.Op != OpRemove) {
				t.Fatalf("record %+v is not a number's", rec)
			}
			all = append(all, rec)
		}
		// Resume after record cut: the rest must be the same.
		n := int(cut) % (len(all) + 1)
		r1, _ := New(format, bytes.NewReader(data), c)
		for got := 0; got < n; {
			if _, err := r1.Next(); err == nil {
				got++
			}
		}
		r2, _ := New(format, bytes.NewReader(data), c)
		if err := r2.Skip(r1.Pos()); err != nil {
			t.Fatalf("Skip(%v): %v", r1.Pos(), err)
		}
		rest, _, err := readAll(t, r2)
		if err != nil {
			t.Fatalf("after Skip: %v", err)
		}
		if len(rest) != len(all)-n {
			t.Fatalf("after Skip to record %d: %d records, want %d", n, len(rest), len(all)-n)
		}
		for i := range rest {
			if rest[i] != all[n+i] {
				t.Fatalf("after Skip, record %d = %v, want %v", i, rest[i], all[n+i])
			}
		}
	})
}

func opOf(op uint8) Op { return Op(op % 3) }

func FuzzDNC(f *testing.F) {
	fuzzReader(f, "dnc", func(uint8) Config { return Config{} })
}

func FuzzDNCChange(f *testing.F) {
	fuzzReader(f, "dnc-change", func(op uint8) Config { return Config{Op: opOf(op)} })
}

func FuzzTPS(f *testing.F) {
	fuzzReader(f, "tps", func(op uint8) Config { return Config{Op: opOf(op)} })
}

func FuzzState(f *testing.F) {
	fuzzReader(f, "state", func(uint8) Config { return Config{} })
}

func FuzzLitigator(f *testing.F) {
	fuzzReader(f, "litigator", func(uint8) Config { return Config{} })
}

func FuzzCSV(f *testing.F) {
	fuzzReader(f, "csv", func(op uint8) Config { return Config{Region: []string{"US", "GB", ""}[op%3], Index: int(op % 4)} })
}
