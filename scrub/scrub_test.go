package scrub_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"

	"callfilter/filter"
	"callfilter/phone"
	"callfilter/scrub"
)

// want is the expected tail of an output row: e164, decision, reasons.
type want struct{ e164, decision, reasons string }

func TestFixtures(t *testing.T) {
	svc := mustService(t)
	sc := mustScrubber(t, svc, "insurance", "call")
	tests := []struct {
		file    string
		charset string
		column  string
		header  []string // the output header's input columns
		rows    []want
		lines   []int // malformed lines reported
	}{
		{
			file:   "messy.csv",
			header: []string{"Name", "Phone", "Notes"},
			rows: []want{
				{"+12125550134", "allow", ""},
				{"+12125550135", "allow", ""},
				{"+12125550134", "deny", "duplicate"},
				{"", "deny", "missing_number"},
				{"", "deny", "invalid_number"}, // several numbers
				{"", "deny", "invalid_number"}, // not a phone
				{"", "deny", "malformed_row"},
				{"+13055550100", "allow", ""},
				{"+12125550199", "deny", "on_list"},
			},
			lines: []int{10},
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
			file: "gbk.csv", charset: "gbk",
			header: []string{"姓名", "手机", "城市"},
			rows:   []want{{"+8613800138000", "deny", "outside_hours"}, {"+12125550134", "allow", ""}},
		},
		{
			file:   "noheader.csv",
			header: []string{"column_1"},
			rows:   []want{{"+12125550134", "allow", ""}, {"+12125550199", "deny", "on_list"}, {"", "deny", "invalid_number"}},
		},
		{
			file: "messy.csv", column: "3", // the notes: nothing there is a number
			header: []string{"Name", "Phone", "Notes"},
			rows: []want{
				{"", "deny", "invalid_number"}, {"", "deny", "invalid_number"}, {"", "deny", "invalid_number"},
				{"", "deny", "invalid_number"}, {"", "deny", "invalid_number"}, {"", "deny", "invalid_number"},
				{"", "deny", "malformed_row"}, {"", "deny", "invalid_number"}, {"", "deny", "invalid_number"},
			},
			lines: []int{10},
		},
	}
	for _, tc := range tests {
		t.Run(tc.file+"/"+tc.column, func(t *testing.T) {
			in, err := os.ReadFile("testdata/" + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			recs, sum := mustRun(t, in, scrub.Options{Decider: sc, Charset: tc.charset, Column: tc.column, Workers: 3, ChunkRows: 2})
			wantHeader := append(append([]string{}, tc.header...), scrub.OutputColumns...)
			if got := strings.Join(recs[0], "|"); got != strings.Join(wantHeader, "|") {
				t.Errorf("header: got %s, want %s", got, strings.Join(wantHeader, "|"))
			}
			if got, w := len(recs)-1, len(tc.rows); got != w {
				t.Fatalf("got %d rows, want %d:\n%v", got, w, recs)
			}
			var allow, deny int64
			for i, w := range tc.rows {
				rec := recs[i+1]
				if len(rec) != len(wantHeader) {
					t.Errorf("row %d: got %d columns, want %d: %q", i+1, len(rec), len(wantHeader), rec)
					continue
				}
				n := len(tc.header)
				got := want{rec[n], rec[n+1], rec[n+2]}
				if got != w {
					t.Errorf("row %d %q: got %+v, want %+v", i+1, rec[:n], got, w)
				}
				if w.decision == "allow" {
					allow++
				} else {
					deny++
				}
			}
			if sum.Rows != int64(len(tc.rows)) || sum.Allow != allow || sum.Deny != deny {
				t.Errorf("summary: got rows %d allow %d deny %d, want %d %d %d", sum.Rows, sum.Allow, sum.Deny, len(tc.rows), allow, deny)
			}
			var lines []int
			for _, e := range sum.Errors {
				lines = append(lines, e.Line)
			}
			if !equalInts(lines, tc.lines) {
				t.Errorf("malformed lines: got %v, want %v", lines, tc.lines)
			}
		})
	}
}

func TestMessyKeepsInputColumns(t *testing.T) {
	svc := mustService(t)
	in, err := os.ReadFile("testdata/messy.csv")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := scrub.Run(context.Background(), bytes.NewReader(in), &out, scrub.Options{Decider: mustScrubber(t, svc, "insurance", "call")}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"\xef\xbb\xbfName,Phone,Notes,e164", `"likes calls, mornings"`, "\"two\r\nlines\"", `"Bob ""B"" Ray"`} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("output lacks %q:\n%s", s, out.String())
		}
	}
}

func TestColumnErrors(t *testing.T) {
	svc := mustService(t)
	sc := mustScrubber(t, svc, "insurance", "call")
	tests := []struct {
		name, in, column, code string
	}{
		{"unknown name", "name,phone\nA,2125550134\n", "fax", scrub.CodeUnknownColumn},
		{"index too big", "name,phone\nA,2125550134\n", "3", scrub.CodeUnknownColumn},
		{"ambiguous", "home,work\n2125550134,2125550135\n", "", scrub.CodeAmbiguousColumn},
		{"none", "a,b\nx,y\n", "", scrub.CodeNoPhoneColumn},
		{"empty", "", "", scrub.CodeEmptyFile},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := scrub.Run(context.Background(), strings.NewReader(tc.in), io.Discard, scrub.Options{Decider: sc, Column: tc.column})
			if filter.ErrorCode(err) != tc.code || filter.ErrorKind(err) != filter.EInvalid {
				t.Errorf("got %v (%s), want code %s", err, filter.ErrorCode(err), tc.code)
			}
		})
	}
}

func TestDetectDelimiter(t *testing.T) {
	tests := []struct {
		in   string
		want rune
	}{
		{"a,b,c\n1,2,3\n", ','},
		{"a;b;c\n1;2;3\n", ';'},
		{"a\tb\n1\t2\n", '\t'},
		{"name;city\n\"Smith, J\";\"Paris, FR\"\n", ';'},
		{"2125550134\n", ','},
		{"", ','},
		{"a;b,c;d\n1;2,3;4\n", ';'},
	}
	for _, tc := range tests {
		if got := scrub.DetectDelimiter([]byte(tc.in)); got != tc.want {
			t.Errorf("DetectDelimiter(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestDetectColumn(t *testing.T) {
	tests := []struct {
		name   string
		header []string
		sample [][]string
		spec   string
		want   int
	}{
		{"by name", []string{"Name", "Phone"}, nil, "phone", 1},
		{"by index", []string{"Name", "Phone"}, nil, "2", 1},
		{"by content", nil, [][]string{{"Ann", "212-555-0134"}, {"Bob", "(212) 555 0135"}}, "", 1},
		{"by name on a tie", []string{"home", "mobile"}, [][]string{{"2125550134", "2125550135"}}, "", 1},
		{"by header when content is empty", []string{"name", "手机"}, [][]string{{"a", ""}}, "", 1},
		{"one column", nil, [][]string{{"x"}}, "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := scrub.DetectColumn(tc.header, tc.sample, tc.spec)
			if err != nil || got != tc.want {
				t.Errorf("got %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}

// TestOrderAcrossWorkers scrubs enough rows over enough workers that chunks
// finish out of order, and checks the output is in input order.
func TestOrderAcrossWorkers(t *testing.T) {
	svc := mustService(t)
	var in bytes.Buffer
	in.WriteString("id,phone\n")
	const n = 5000
	for i := 0; i < n; i++ {
		in.WriteString(strings.Repeat("x", i%7) + "," + "+1 212 555 " + pad4(i%10000) + "\n")
	}
	recs, sum := mustRun(t, in.Bytes(), scrub.Options{Decider: mustScrubber(t, svc, "insurance", "call"), Workers: 4, ChunkRows: 7})
	if len(recs) != n+1 || sum.Rows != n {
		t.Fatalf("got %d records, summary %d rows; want %d", len(recs)-1, sum.Rows, n)
	}
	for i := 0; i < n; i++ {
		if want := "+1212555" + pad4(i%10000); recs[i+1][2] != want {
			t.Fatalf("row %d: got %s, want %s", i+1, recs[i+1][2], want)
		}
	}
}

func pad4(i int) string {
	s := "000" + itoa(i)
	return s[len(s)-4:]
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestDuplicatesSpilled scrubs a generated list with a duplicate set small
// enough to spill to disk many times and checks the output is the same as with
// the whole set in memory, that the generated repeats are flagged, and that
// the spill directory is gone afterwards, also when the scrub fails.
func TestDuplicatesSpilled(t *testing.T) {
	var in bytes.Buffer
	if err := scrub.Generate(&in, scrub.GenOptions{Rows: 10_000, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	d := scrub.ParseOnly{Region: "US"}
	var inMem, spilled bytes.Buffer
	sumMem, err := scrub.Run(context.Background(), bytes.NewReader(in.Bytes()), &inMem, scrub.Options{Decider: d, Workers: 3, ChunkRows: 100})
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	sumSpill, err := scrub.Run(context.Background(), bytes.NewReader(in.Bytes()), &spilled, scrub.Options{Decider: d, Workers: 3, ChunkRows: 100, DuplicateMemory: 16 << 10, TempDir: tmp})
	if err != nil {
		t.Fatal(err)
	}
	if dups := sumMem.Reasons[scrub.ReasonDuplicate]; dups < 100 {
		t.Errorf("%d duplicates: the generator repeats ~3%% of 10000 rows", dups)
	}
	// Independently of the set: a row is a duplicate exactly when an earlier
	// row has its e164.
	r := csv.NewReader(bytes.NewReader(spilled.Bytes()))
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	n := len(recs[0]) - len(scrub.OutputColumns)
	seen := map[string]bool{}
	for i, rec := range recs[1:] {
		e164, reasons := rec[n], rec[n+2]
		if want := e164 != "" && seen[e164]; (reasons == scrub.ReasonDuplicate) != want {
			t.Fatalf("row %d %s: reasons %q, want duplicate %v", i+1, e164, reasons, want)
		}
		seen[e164] = true
	}
	if !bytes.Equal(inMem.Bytes(), spilled.Bytes()) {
		t.Errorf("spilled output differs: duplicates %d in memory, %d spilled", sumMem.Reasons[scrub.ReasonDuplicate], sumSpill.Reasons[scrub.ReasonDuplicate])
	}
	assertEmptyDir(t, tmp)

	// The same with nowhere to spill fails: the budget above did spill.
	_, err = scrub.Run(context.Background(), bytes.NewReader(in.Bytes()), io.Discard, scrub.Options{Decider: d, DuplicateMemory: 16 << 10, TempDir: tmp + "/missing"})
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("spilling to a missing dir: got %v, want a not-exist error", err)
	}

	// A writer failing late: the runs exist by then and must still go.
	_, err = scrub.Run(context.Background(), bytes.NewReader(in.Bytes()), &failingWriter{left: inMem.Len() / 2}, scrub.Options{Decider: d, DuplicateMemory: 16 << 10, TempDir: tmp})
	if !errors.Is(err, errWriteFailed) {
		t.Fatalf("got %v, want the writer's error", err)
	}
	assertEmptyDir(t, tmp)
}

var errWriteFailed = errors.New("disk full")

// failingWriter fails once left bytes have been written.
type failingWriter struct{ left int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.left {
		return 0, errWriteFailed
	}
	w.left -= len(p)
	return len(p), nil
}

func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		t.Errorf("left in the temp dir: %s", e.Name())
	}
}

// TestGenerateColdIntl: the cold list is what its benchmark says it is,
// mostly valid numbers of eight calling codes with hardly a repeated number
// prefix (the international fast path's cache key is about the first six
// national digits).
func TestGenerateColdIntl(t *testing.T) {
	var in bytes.Buffer
	if err := scrub.Generate(&in, scrub.GenOptions{Rows: 5000, Seed: 7, ColdIntl: true}); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&in).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	valid, codes, prefixes := 0, map[int]bool{}, map[string]bool{}
	for _, rec := range recs[1:] {
		n, err := phone.Normalize(rec[2], "US")
		if err != nil {
			continue
		}
		valid++
		codes[n.CountryCode] = true
		cc := len(strconv.Itoa(n.CountryCode))
		prefixes[n.E164[:1+cc+6]] = true
	}
	if rows := len(recs) - 1; rows != 5000 || valid < rows*85/100 {
		t.Fatalf("%d rows, %d valid: want 5000, at least 85%% valid", rows, valid)
	}
	if len(codes) != 8 || len(prefixes) < valid*9/10 {
		t.Errorf("%d calling codes, %d distinct prefixes of %d valid numbers: want 8 codes and nearly every prefix new", len(codes), len(prefixes), valid)
	}
}

// TestGenerateColdNANP: the cold NANP list is NANP numbers of random area
// codes and exchanges, with hardly a repeated NPA-NXX and many invalid (an
// unassigned area code or exchange).
func TestGenerateColdNANP(t *testing.T) {
	var in bytes.Buffer
	if err := scrub.Generate(&in, scrub.GenOptions{Rows: 5000, Seed: 7, ColdNANP: true}); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&in).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	valid, prefixes := 0, map[string]bool{}
	for _, rec := range recs[1:] {
		n, err := phone.Normalize(rec[2], "US")
		if err != nil {
			continue
		}
		valid++
		if n.CountryCode != 1 {
			t.Fatalf("%q read as +%d, want a NANP number", rec[2], n.CountryCode)
		}
		prefixes[n.E164[:8]] = true
	}
	if rows := len(recs) - 1; rows != 5000 || valid < rows/3 || valid > rows*95/100 {
		t.Fatalf("%d rows, %d valid: want 5000, some but not all valid", rows, valid)
	}
	if len(prefixes) < valid*9/10 {
		t.Errorf("%d distinct NPA-NXX among %d valid numbers: want nearly every one new", len(prefixes), valid)
	}
}
