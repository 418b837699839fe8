package scrub

import (
	"bufio"
	"bytes"
	"io"
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"

	"callfilter/filter"
	"callfilter/phone"
)

// Error codes of a scrub that cannot start (all of kind EInvalid).
const (
	CodeUnknownCharset  = "unknown_charset"
	CodeUnknownColumn   = "unknown_column"
	CodeAmbiguousColumn = "ambiguous_column"
	CodeNoPhoneColumn   = "no_phone_column"
	CodeEmptyFile       = "empty_file"
)

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// openInput returns in decoded to UTF-8 with any byte-order mark removed,
// buffered, and whether it had a BOM. charset is "", "utf-8" or "gbk"
// (case-insensitive; "gb2312", "gb18030" and "cp936" read as GB18030, a
// superset of GBK).
func openInput(in io.Reader, charset string) (*bufio.Reader, bool, error) {
	switch strings.ToLower(strings.TrimSpace(charset)) {
	case "", "utf-8", "utf8":
	case "gbk", "cp936":
		in = transform.NewReader(in, simplifiedchinese.GBK.NewDecoder())
	case "gb2312", "gb18030":
		in = transform.NewReader(in, simplifiedchinese.GB18030.NewDecoder())
	default:
		return nil, false, filter.Errorf(filter.EInvalid, CodeUnknownCharset, "unknown charset %q: use utf-8 or gbk", charset)
	}
	br := bufio.NewReaderSize(in, 1<<16)
	bom := false
	if b, _ := br.Peek(3); bytes.Equal(b, utf8BOM) {
		_, _ = br.Discard(3)
		bom = true
	}
	return br, bom, nil
}

// delimiters are the separators DetectDelimiter chooses from, in order of
// preference on a tie.
var delimiters = []byte{',', ';', '\t'}

// DetectDelimiter returns the field separator of the CSV text that sample
// begins: ',', ';' or tab. It counts each candidate outside quotes on the
// first lines (up to 20, blank lines skipped) and chooses the one found on
// the first line whose count is the same on the most lines; ',' when none is
// found.
func DetectDelimiter(sample []byte) rune {
	var counts [][3]int
	var cur [3]int
	quoted, blank := false, true
	for _, c := range sample {
		if len(counts) == 20 {
			break
		}
		switch {
		case c == '"':
			quoted = !quoted
			blank = false
		case quoted:
		case c == '\n':
			if !blank {
				counts = append(counts, cur)
			}
			cur, blank = [3]int{}, true
		case c == '\r':
		default:
			blank = false
			for i, d := range delimiters {
				if c == d {
					cur[i]++
				}
			}
		}
	}
	if !blank && len(counts) < 20 {
		counts = append(counts, cur)
	}
	if len(counts) == 0 {
		return ','
	}
	best, bestScore, bestFirst := 0, -1, 0
	for i := range delimiters {
		first := counts[0][i]
		if first == 0 {
			continue
		}
		score := 0
		for _, l := range counts {
			if l[i] == first {
				score++
			}
		}
		if score > bestScore || score == bestScore && first > bestFirst {
			best, bestScore, bestFirst = i, score, first
		}
	}
	return rune(delimiters[best])
}

// isHeader reports whether the first record of a file is a header: none of
// its cells reads as a phone number and one of them holds a letter.
func isHeader(rec []string, region string) bool {
	letters := false
	for _, cell := range rec {
		if looksLikePhone(cell) {
			if _, err := phone.Normalize(cell, region); err == nil {
				return false
			}
		}
		if strings.IndexFunc(cell, unicode.IsLetter) >= 0 {
			letters = true
		}
	}
	return letters
}

// phoneNames are header names (lower case, without spaces, '_' or '-') that
// name a phone column.
var phoneNames = map[string]bool{
	"phone": true, "phonenumber": true, "phoneno": true, "telephone": true, "tel": true,
	"mobile": true, "mobilephone": true, "mobilenumber": true, "cell": true, "cellphone": true,
	"number": true, "msisdn": true, "e164": false, "contactnumber": true, "homephone": true,
	"电话": true, "手机": true, "手机号": true, "手机号码": true, "电话号码": true, "号码": true, "联系电话": true,
}

func phoneName(h string) bool {
	h = strings.ToLower(strings.TrimSpace(h))
	h = strings.NewReplacer(" ", "", "_", "", "-", "", ".", "").Replace(h)
	return phoneNames[h]
}

// looksLikePhone reports whether cell could be one phone number as written:
// 7 to 15 digits, and otherwise only characters people write numbers with.
func looksLikePhone(cell string) bool {
	digits := 0
	for _, r := range cell {
		switch {
		case r >= '0' && r <= '9' || r >= '０' && r <= '９':
			digits++
		case strings.ContainsRune(" +-.()/\t", r):
		default:
			return false
		}
	}
	return digits >= 7 && digits <= 15
}

// DetectColumn returns the 0-based index of the phone column. spec is the
// column asked for: a header name (case-insensitive) or a 1-based index; ""
// detects it: the one column most of whose sampled values look like phone
// numbers, a column named like one (phone, mobile, 电话…) breaking a tie, or
// the only column of a one-column file. header is nil when the file has none.
// An error is an EInvalid *filter.Error saying how to choose.
func DetectColumn(header []string, sample [][]string, spec string) (int, error) {
	width := len(header)
	for _, r := range sample {
		width = max(width, len(r))
	}
	if spec = strings.TrimSpace(spec); spec != "" {
		if i, err := strconv.Atoi(spec); err == nil {
			if i < 1 || width > 0 && i > width {
				return 0, filter.Errorf(filter.EInvalid, CodeUnknownColumn, "column %d does not exist: the file has %d columns", i, width)
			}
			return i - 1, nil
		}
		for i, h := range header {
			if strings.EqualFold(strings.TrimSpace(h), spec) {
				return i, nil
			}
		}
		if header == nil {
			return 0, filter.Errorf(filter.EInvalid, CodeUnknownColumn, "column %q: the file has no header row; give the column's 1-based index", spec)
		}
		return 0, filter.Errorf(filter.EInvalid, CodeUnknownColumn, "no column is named %q: the columns are %s", spec, quoteList(header))
	}
	if width == 0 {
		return 0, filter.Errorf(filter.EInvalid, CodeEmptyFile, "the file holds no rows")
	}
	if width == 1 {
		return 0, nil
	}
	var phoneLike, named []int
	for i := 0; i < width; i++ {
		filled, like := 0, 0
		for _, r := range sample {
			if i < len(r) && strings.TrimSpace(r[i]) != "" {
				filled++
				if looksLikePhone(r[i]) {
					like++
				}
			}
		}
		if filled > 0 && like*10 >= filled*6 {
			phoneLike = append(phoneLike, i)
		}
		if i < len(header) && phoneName(header[i]) {
			named = append(named, i)
		}
	}
	switch {
	case len(phoneLike) == 1:
		return phoneLike[0], nil
	case len(phoneLike) > 1:
		var both []int
		for _, i := range phoneLike {
			for _, j := range named {
				if i == j {
					both = append(both, i)
				}
			}
		}
		if len(both) == 1 {
			return both[0], nil
		}
		return 0, filter.Errorf(filter.EInvalid, CodeAmbiguousColumn, "several columns hold phone numbers (%s): choose one with column=", columnList(header, phoneLike))
	case len(named) == 1:
		return named[0], nil
	}
	return 0, filter.Errorf(filter.EInvalid, CodeNoPhoneColumn, "no column looks like phone numbers: choose one with column= (a header name or a 1-based index)")
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}

func columnList(header []string, idx []int) string {
	q := make([]string, len(idx))
	for k, i := range idx {
		if i < len(header) {
			q[k] = strconv.Itoa(i+1) + " " + strconv.Quote(header[i])
		} else {
			q[k] = strconv.Itoa(i + 1)
		}
	}
	return strings.Join(q, ", ")
}

// numberSeparators are the bytes severalNumbers splits a cell at.
var numberSeparators = [256]bool{'/': true, ',': true, ';': true, '|': true, '&': true, '\n': true}

// severalNumbers reports whether cell holds more than one number: parts split
// at '/', ',', ';', '|', '&' or a line break, two of them with 7 or more digits.
func severalNumbers(cell string) bool {
	// Most cells hold no separator: one table look-up a byte rules them out
	// (strings.ContainsAny builds its set on every call).
	i := 0
	for i < len(cell) && !numberSeparators[cell[i]] {
		i++
	}
	if i == len(cell) {
		return false
	}
	parts := 0
	digits := 0
	for _, r := range cell {
		switch {
		case r >= '0' && r <= '9' || r >= '０' && r <= '９':
			digits++
		case strings.ContainsRune("/,;|&\n", r):
			if digits >= 7 {
				parts++
			}
			digits = 0
		}
	}
	if digits >= 7 {
		parts++
	}
	return parts >= 2
}
