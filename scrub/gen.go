package scrub

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
)

// GenOptions shape a generated lead list.
type GenOptions struct {
	// Rows is the number of data rows.
	Rows int
	// Seed makes the list reproducible.
	Seed uint64
	// Full makes every number one the fast path cannot read (international
	// numbers written with spaces and a trunk prefix), the worst case.
	Full bool
	// NANPOnly makes every number a NANP one the fast path reads, ~3% of
	// them repeated: the best case.
	NANPOnly bool
	// ColdIntl makes every number an international mobile of one of eight
	// calling codes with random digits, so that nearly every row has a
	// number prefix the fast path's cache has not seen: the full parser's
	// cold case (a list of a few hundred thousand numbers from abroad).
	ColdIntl bool
	// ColdNANP makes every number a NANP one of a random area code and
	// exchange, in the usual forms: nearly every row a prefix the fast
	// path's cache has not seen, a third of them unassigned (a US list
	// spread over the whole country, before ~250k prefixes are cached).
	ColdNANP bool
}

// coldIntlForms are mobile ranges of eight calling codes; each %d is filled
// with random digits of the width given.
var coldIntlForms = []struct {
	form   string
	widths []int
}{
	{"+44 7%d%02d %06d", []int{1, 2, 6}},
	{"+49 17%d %07d", []int{1, 7}},
	{"+33 6 %02d %02d %02d %02d", []int{2, 2, 2, 2}},
	{"+86 13%d %04d %04d", []int{1, 4, 4}},
	{"+86 18%d %04d %04d", []int{1, 4, 4}},
	{"+39 3%02d %07d", []int{2, 7}},
	{"+34 6%02d %03d %03d", []int{2, 3, 3}},
	{"+91 9%04d %05d", []int{4, 5}},
	{"+61 4%02d %03d %03d", []int{2, 3, 3}},
}

// nanpForms are the ways people write NANP numbers; %s is NPA, NXX, line.
var nanpForms = []string{
	"(%s) %s-%s", "%s-%s-%s", "+1 %s %s %s", "%s.%s.%s", "1%s%s%s", "%s%s%s", "+1%s%s%s",
}

// Generate writes a messy CSV lead list of o.Rows rows to w, as CRMs export
// them: a header, quoted notes with commas and line breaks, and among the
// numbers ~85% NANP in varied forms, ~5% international, ~3% repeated, ~2%
// empty, ~2% unreadable, ~1% with two numbers in one cell, and blank lines.
// With o.Full every number is international (the full parser's path), with
// o.NANPOnly every one is NANP.
func Generate(w io.Writer, o GenOptions) error {
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))
	bw := bufio.NewWriterSize(w, 1<<16)
	if _, err := bw.WriteString("id,name,phone,email,notes\n"); err != nil {
		return err
	}
	var recent [64]string
	for i := 0; i < o.Rows; i++ {
		var num string
		switch p := rng.IntN(100); {
		case o.ColdNANP:
			npa := strconv.Itoa(200 + rng.IntN(800))
			nxx := strconv.Itoa(200 + rng.IntN(800))
			num = fmt.Sprintf(nanpForms[rng.IntN(len(nanpForms))], npa, nxx, fmt.Sprintf("%04d", rng.IntN(10000)))
		case o.ColdIntl:
			f := coldIntlForms[rng.IntN(len(coldIntlForms))]
			args := make([]any, len(f.widths))
			for j, w := range f.widths {
				args[j] = rng.IntN(pow10(w))
			}
			num = fmt.Sprintf(f.form, args...)
		case o.Full:
			num = fmt.Sprintf("+44 20 7946 %04d", rng.IntN(10000))
			if p < 50 {
				num = fmt.Sprintf("+86 138 %04d %04d", rng.IntN(10000), rng.IntN(10000))
			}
		case o.NANPOnly && p >= 97 && i >= len(recent):
			num = recent[rng.IntN(len(recent))]
		case p < 85 || o.NANPOnly:
			npa := []string{"212", "305", "415", "312", "713", "206", "617", "404", "602", "303"}[rng.IntN(10)]
			nxx := strconv.Itoa(200 + rng.IntN(800))
			line := fmt.Sprintf("%04d", rng.IntN(10000))
			num = fmt.Sprintf(nanpForms[rng.IntN(len(nanpForms))], npa, nxx, line)
		case p < 90:
			num = fmt.Sprintf("+86 138 %04d %04d", rng.IntN(10000), rng.IntN(10000))
		case p < 93:
			num = recent[rng.IntN(len(recent))]
		case p < 95:
			num = ""
		case p < 97:
			num = "call me maybe"
		case p < 98:
			num = "212-555-0134 / 212-555-0135"
		default:
			num = "+1 212 555 " + fmt.Sprintf("%04d", rng.IntN(10000))
		}
		if num != "" {
			recent[i%len(recent)] = num
		}
		notes := "ok"
		switch rng.IntN(20) {
		case 0:
			notes = `"called twice, no answer"`
		case 1:
			notes = "\"line one\nline two\""
		}
		if _, err := fmt.Fprintf(bw, "%d,Lead %d,%s,lead%d@example.com,%s\n", i+1, i+1, csvField(num), i+1, notes); err != nil {
			return err
		}
		if i%1000 == 999 {
			_ = bw.WriteByte('\n')
		}
	}
	return bw.Flush()
}

func pow10(n int) int {
	p := 1
	for range n {
		p *= 10
	}
	return p
}

func csvField(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == ',' || s[i] == '"' || s[i] == '\n' {
			return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
		}
	}
	return s
}
