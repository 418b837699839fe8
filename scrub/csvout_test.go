package scrub

import (
	"bytes"
	"encoding/csv"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// csvWriterLine is what encoding/csv writes for rec: lineWriter's reference.
func csvWriterLine(t testing.TB, rec []string, comma rune, crlf bool) []byte {
	t.Helper()
	var b bytes.Buffer
	cw := csv.NewWriter(&b)
	cw.Comma, cw.UseCRLF = comma, crlf
	if err := cw.Write(rec); err != nil {
		t.Fatalf("csv.Writer refuses %q with comma %q: %v", rec, comma, err)
	}
	cw.Flush()
	return b.Bytes()
}

// testSeparators are separators csv.Writer accepts: the detected ones, the
// ASCII ones Options.Comma may name, and multi-byte ones.
var testSeparators = []rune{',', ';', '\t', '|', ' ', 'a', '\\', 'é', '€', '\u00a0', '\u2028', '😀'}

// fieldPieces are what random fields are made of: every byte and rune the
// quoting rules look at, in every position.
var fieldPieces = []string{
	"", "a", "Z9", " ", "  ", "\t", "\v", "\f", "\r", "\n", "\r\n", "\"", `""`, ",", ";", "|", `\`, `\.`, ".",
	"é", "€", "\u00a0", "\u0085", "\u2028", "\u3000", "😀", "\xff", "\xc2", "\xe2\x82", "+12125550134",
	"deny", "on_list;outside_hours", "America/New_York;America/Chicago", "a", "b",
}

func randomField(rng *rand.Rand) string {
	var b strings.Builder
	for n := rng.IntN(5); n > 0; n-- {
		b.WriteString(fieldPieces[rng.IntN(len(fieldPieces))])
	}
	return b.String()
}

// TestLineWriterMatchesEncodingCSV writes random records, made of the bytes
// and runes the quoting rules look at, with every kind of separator and both
// line endings, and wants csv.Writer's bytes.
func TestLineWriterMatchesEncodingCSV(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	n := 200_000
	if testing.Short() {
		n = 20_000
	}
	var got []byte
	for i := 0; i < n; i++ {
		comma := testSeparators[rng.IntN(len(testSeparators))]
		crlf := rng.IntN(2) == 0
		rec := make([]string, 1+rng.IntN(6))
		for j := range rec {
			rec[j] = randomField(rng)
		}
		want := csvWriterLine(t, rec, comma, crlf)
		got = newLineWriter(comma, crlf).record(got[:0], rec)
		if !bytes.Equal(got, want) {
			t.Fatalf("record %q, comma %q, crlf %v:\ngot  %q\nwant %q", rec, comma, crlf, got, want)
		}
	}
}

// FuzzLineWriter holds lineWriter to csv.Writer on any fields (split at
// NUL), separator and line ending.
func FuzzLineWriter(f *testing.F) {
	f.Add("a\x00b c\x00\"q\"", ',', false)
	f.Add(" lead\x00\\.\x00x;y", ';', true)
	f.Add("\u00a0x\x00\r\n\x00\t", '\t', true)
	f.Add("€\x00a€b", '€', false)
	f.Add("\x85\x00\xc2\x85", '|', false)
	f.Fuzz(func(t *testing.T, fields string, comma rune, crlf bool) {
		if comma == 0 || comma == '"' || comma == '\r' || comma == '\n' || !utf8.ValidRune(comma) || comma == utf8.RuneError {
			return // csv.Writer refuses it; the header write stops the scrub first
		}
		rec := strings.Split(fields, "\x00")
		want := csvWriterLine(t, rec, comma, crlf)
		got := newLineWriter(comma, crlf).record(nil, rec)
		if !bytes.Equal(got, want) {
			t.Fatalf("record %q, comma %q, crlf %v:\ngot  %q\nwant %q", rec, comma, crlf, got, want)
		}
	})
}
