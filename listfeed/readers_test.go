package listfeed

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// readAll reads r to its end: the records, the numbers of the bad lines, and
// the fatal error if any.
func readAll(tb testing.TB, r Reader) (recs []Record, bad []int64, err error) {
	tb.Helper()
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return recs, bad, nil
		}
		var le *LineError
		if errors.As(err, &le) {
			bad = append(bad, le.Line)
			continue
		}
		if err != nil {
			return recs, bad, err
		}
		recs = append(recs, rec)
	}
}

func mustOpenFixture(tb testing.TB, name string) *os.File {
	tb.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = f.Close() })
	return f
}

func adds(keys ...uint64) []Record {
	out := make([]Record, len(keys))
	for i, k := range keys {
		out[i] = Record{Key: k, Op: OpAdd}
	}
	return out
}

type readerCase struct {
	name    string
	format  string
	file    string
	cfg     Config
	kind    Kind
	want    []Record
	wantBad []int64
	wantErr error // fatal error, checked with errors.Is; nil for none
}

var readerCases = []readerCase{
	{
		name: "dnc full", format: "dnc", file: "dnc_201_20261130.txt", kind: KindFull,
		want:    adds(12015550100, 12015550101, 12015550102, 12015550103, 12015550104, 12015550106, 12015550108),
		wantBad: []int64{6, 8, 10},
	},
	{
		name: "dnc change, flag per line", format: "dnc-change", file: "dnc_change_20261201.txt", kind: KindChanges,
		want: []Record{
			{12015550100, OpRemove}, {12015550200, OpAdd}, {12015550201, OpAdd},
			{12025550300, OpRemove}, {12015550200, OpRemove}, {12015550204, OpAdd},
		},
		wantBad: []int64{5, 6, 10},
	},
	{
		name: "dnc additions file", format: "dnc-change", file: "dnc_additions.txt", kind: KindChanges,
		cfg:  Config{Op: OpAdd},
		want: adds(12015550300, 12015550301),
	},
	{
		name: "dnc deletions file", format: "dnc-change", file: "dnc_deletions.txt", kind: KindChanges,
		cfg:  Config{Op: OpRemove},
		want: []Record{{12015550101, OpRemove}, {12015550102, OpRemove}},
	},
	{
		name: "dnc change without flags or op", format: "dnc-change", file: "dnc_additions.txt", kind: KindChanges,
		wantErr: ErrNoChangeOp,
	},
	{
		name: "tps", format: "tps", file: "tps_20261130.txt", kind: KindFull,
		want:    adds(442073787244, 441635506160, 441915657153, 447860338653, 442073787245, 44138712345, 442079460958),
		wantBad: []int64{8, 9},
	},
	{
		name: "ctps deletions", format: "ctps", file: "tps_20261130.txt", kind: KindChanges, cfg: Config{Op: OpRemove},
		want: []Record{
			{442073787244, OpRemove}, {441635506160, OpRemove}, {441915657153, OpRemove}, {447860338653, OpRemove},
			{442073787245, OpRemove}, {44138712345, OpRemove}, {442079460958, OpRemove},
		},
		wantBad: []int64{8, 9},
	},
	{
		name: "state csv with header", format: "state", file: "state_tx.csv", kind: KindChanges,
		want:    adds(12125550134, 12125550135, 12125550136),
		wantBad: []int64{5, 7},
	},
	{
		name: "state csv by column name, full", format: "state", file: "state_tx.csv", kind: KindFull,
		cfg:     Config{Column: "phone number", Full: true},
		want:    adds(12125550134, 12125550135, 12125550136),
		wantBad: []int64{5, 7},
	},
	{
		name: "state one per line", format: "state", file: "state_plain.txt", kind: KindChanges,
		want:    adds(12125550140, 12125550141, 12125550142),
		wantBad: []int64{5},
	},
	{
		name: "litigator", format: "litigator", file: "litigator.csv", kind: KindFull,
		want:    adds(13055550150, 13055550151),
		wantBad: []int64{4, 5},
	},
	{
		name: "litigator as additions", format: "litigator", file: "litigator.csv", kind: KindChanges,
		cfg:     Config{Additions: true},
		want:    adds(13055550150, 13055550151),
		wantBad: []int64{4, 5},
	},
	{
		name: "generic csv, semicolons, GB", format: "csv", file: "generic_gb.csv", kind: KindChanges,
		cfg:     Config{Region: "GB"},
		want:    adds(442079460958, 441614960000, 447700900123),
		wantBad: []int64{5},
	},
	{
		name: "generic csv by index", format: "csv", file: "litigator.csv", kind: KindChanges,
		cfg:     Config{Index: 3},
		want:    adds(13055550150, 13055550151),
		wantBad: []int64{4, 5},
	},
}

func TestReaders(t *testing.T) {
	for _, tc := range readerCases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := New(tc.format, mustOpenFixture(t, tc.file), tc.cfg)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if got := r.Kind(); got != tc.kind {
				t.Errorf("Kind() = %v, want %v", got, tc.kind)
			}
			if got := r.Format(); got != tc.format {
				t.Errorf("Format() = %q, want %q", got, tc.format)
			}
			recs, bad, err := readAll(t, r)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("error = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("fatal error: %v", err)
			}
			if !slices.Equal(recs, tc.want) {
				t.Errorf("records:\n got %v\nwant %v", recs, tc.want)
			}
			if !slices.Equal(bad, tc.wantBad) {
				t.Errorf("bad lines = %v, want %v", bad, tc.wantBad)
			}
		})
	}
}

func TestCSVColumnErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		cfg      Config
	}{
		{"no such column", "name,phone\nA,2125550134\n", Config{Column: "tel"}},
		{"no usual name", "name,contact\nA,2125550134\n", Config{}},
		{"no header, column by name", "2125550134,x\n", Config{Column: "phone"}},
		{"no header, no number in the first column", "Ann,2125550134\n", Config{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewCSV(strings.NewReader(tc.in), tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = readAll(t, r)
			var le *LineError
			if err == nil || errors.As(err, &le) {
				t.Fatalf("error = %v, want a fatal error naming the column", err)
			}
			if strings.Contains(err.Error(), "555") {
				t.Errorf("error %q shows a number", err)
			}
		})
	}
	if _, err := NewCSV(strings.NewReader(""), Config{Column: "a", Index: 2}); err == nil {
		t.Error("NewCSV with a column name and an index: no error")
	}
	if _, err := New("xml", strings.NewReader(""), Config{}); err == nil {
		t.Error(`New("xml"): no error`)
	}
}

// TestLineErrorsHideTheNumber: logs may show at most a number's last four
// digits, and bad lines are logged.
func TestLineErrorsHideTheNumber(t *testing.T) {
	in := "201,5550100\n201,5550101,A\n201,0550102\n"
	_, _, _ = readAll(t, NewDNC(strings.NewReader(in), Config{}))
	r := NewDNC(strings.NewReader(in), Config{})
	for {
		_, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil && (strings.Contains(err.Error(), "555") || strings.Contains(err.Error(), "055")) {
			t.Errorf("line error %q shows the number", err)
		}
	}
}

func TestLongLineIsBad(t *testing.T) {
	in := "2015550100\n" + strings.Repeat("9", maxLine+10) + "\n2015550101\n" + strings.Repeat("8", 3*readBuffer)
	recs, bad, err := readAll(t, NewDNC(strings.NewReader(in), Config{}))
	if err != nil {
		t.Fatal(err)
	}
	if want := adds(12015550100, 12015550101); !slices.Equal(recs, want) {
		t.Errorf("records = %v, want %v", recs, want)
	}
	if want := []int64{2, 4}; !slices.Equal(bad, want) {
		t.Errorf("bad lines = %v, want %v", bad, want)
	}
}

// TestSkip reads a file in two goes, the second a new Reader skipping to
// where the first stopped, by seeking and by discarding.
func TestSkip(t *testing.T) {
	for _, tc := range readerCases {
		if tc.wantErr != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("testdata", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		for _, seek := range []bool{true, false} {
			for cut := range len(tc.want) + 1 {
				r, _ := New(tc.format, bytes.NewReader(data), tc.cfg)
				var got []Record
				for len(got) < cut {
					rec, err := r.Next()
					if err == nil {
						got = append(got, rec)
					} else if errors.Is(err, io.EOF) {
						t.Fatalf("%s: EOF before record %d", tc.name, cut)
					}
				}
				var src io.Reader = bytes.NewReader(data)
				if !seek {
					src = struct{ io.Reader }{src} // hide Seek
				}
				r2, _ := New(tc.format, src, tc.cfg)
				if err := r2.Skip(r.Pos()); err != nil {
					t.Fatalf("%s: Skip(%v): %v", tc.name, r.Pos(), err)
				}
				rest, _, err := readAll(t, r2)
				if err != nil {
					t.Fatalf("%s: after Skip: %v", tc.name, err)
				}
				if got = append(got, rest...); !slices.Equal(got, tc.want) {
					t.Errorf("%s, seek %v, cut after %d: got %v, want %v", tc.name, seek, cut, got, tc.want)
				}
			}
		}
	}
}

func TestSkipRefusesAnotherFile(t *testing.T) {
	r := NewDNC(strings.NewReader("2015550100\n"), Config{})
	if err := r.Skip(Pos{Line: 5, Offset: 1000}); err == nil {
		t.Error("Skip past the end of a seekable file: no error")
	}
	r = NewDNC(struct{ io.Reader }{strings.NewReader("2015550100\n")}, Config{})
	if err := r.Skip(Pos{Line: 5, Offset: 1000}); err == nil {
		t.Error("Skip past the end of a stream: no error")
	}
}

func TestSourceDate(t *testing.T) {
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	for _, tc := range []struct {
		name string
		want time.Time
		ok   bool
	}{
		{"dnc_201_20261130.txt", day(2026, 11, 30), true},
		{"/x/2025/tps-2026-11-30.csv", day(2026, 11, 30), true},
		{"ctps_2026_02_01_full.txt", day(2026, 2, 1), true},
		{"list-20261399.txt", time.Time{}, false},
		{"dnc_1220261130.txt", time.Time{}, false}, // part of a longer number
		{"201.txt", time.Time{}, false},
	} {
		got, ok := DateFromName(tc.name)
		if !got.Equal(tc.want) || ok != tc.ok {
			t.Errorf("DateFromName(%q) = %v, %v; want %v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
	r := NewDNC(strings.NewReader(""), Config{Name: "dnc_201_20261130.txt"})
	if got := r.SourceDate(); !got.Equal(day(2026, 11, 30)) {
		t.Errorf("SourceDate from the name = %v", got)
	}
	r = NewTPS(strings.NewReader(""), Config{Name: "tps_20261130.txt", SourceDate: day(2026, 12, 1)})
	if got := r.SourceDate(); !got.Equal(day(2026, 12, 1)) {
		t.Errorf("SourceDate from the config = %v, want it to win over the name", got)
	}
}

func TestParseOp(t *testing.T) {
	for in, want := range map[string]Op{"add": OpAdd, "A": OpAdd, "remove": OpRemove, "Delete": OpRemove, "d": OpRemove} {
		if got, err := ParseOp(in); got != want || err != nil {
			t.Errorf("ParseOp(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseOp("replace"); err == nil {
		t.Error(`ParseOp("replace"): no error`)
	}
}

func TestNewRefusesUnusedConfig(t *testing.T) {
	for _, tc := range []struct {
		format string
		cfg    Config
	}{
		{"dnc", Config{Op: OpAdd}},
		{"csv", Config{Op: OpRemove}},
		{"dnc", Config{Full: true}},
		{"tps", Config{Column: "phone"}},
		{"dnc-change", Config{Index: 2}},
	} {
		if _, err := New(tc.format, strings.NewReader(""), tc.cfg); err == nil {
			t.Errorf("New(%s, %+v): no error", tc.format, tc.cfg)
		}
	}
}
