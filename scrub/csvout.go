package scrub

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// lineWriter formats output rows exactly as encoding/csv's Writer does (the
// property test and FuzzLineWriter hold it to that, byte for byte), but
// appends a row's fields straight into one byte slice, and looks for the
// bytes that force quotes 8 at a time: csv.Writer, one Write call per row
// through a []string and a WriteString per field, was a sixth of a scrub.
//
// The rules it follows are encoding/csv's: a field is quoted when it holds
// the separator, a quote, CR or LF, when it begins with a Unicode space, or
// when it is `\.`; inside quotes a quote is doubled, and with CRLF line
// endings an LF becomes CRLF and a CR is dropped. The separator must be one
// csv.Writer accepts (the header, written with csv.Writer, checks it).
type lineWriter struct {
	comma rune
	sep   []byte // comma, UTF-8 encoded
	crlf  bool
	// With an ASCII separator, the bytes that make a field quoted: for
	// short fields, one by one, and for others 8 at a time (commas is the
	// separator in every byte of a word).
	quotes [256]bool
	commas uint64
}

func newLineWriter(comma rune, crlf bool) *lineWriter {
	w := &lineWriter{comma: comma, sep: utf8.AppendRune(nil, comma), crlf: crlf}
	if comma < utf8.RuneSelf {
		for _, c := range []byte{'"', '\r', '\n', byte(comma)} {
			w.quotes[c] = true
		}
		w.commas = uint64(comma) * ones
	}
	return w
}

const (
	ones = 0x0101010101010101
	high = 0x8080808080808080
)

// zeroByte reports whether a byte of x is 0.
func zeroByte(x uint64) bool { return (x-ones)&^x&high != 0 }

// special reports whether one of the 8 bytes of x is a quote, CR, LF or the
// separator (an ASCII one, in every byte of commas).
func special(x, commas uint64) bool {
	return zeroByte(x^('"'*ones)) || zeroByte(x^('\r'*ones)) || zeroByte(x^('\n'*ones)) || zeroByte(x^commas)
}

// word is the first 8 bytes of s, little-endian (one load).
func word(s string) uint64 {
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// needsQuotes is csv.Writer's fieldNeedsQuotes.
func (w *lineWriter) needsQuotes(field string) bool {
	if field == "" {
		return false
	}
	if field == `\.` {
		return true
	}
	if w.comma < utf8.RuneSelf {
		if len(field) < 8 {
			for i := 0; i < len(field); i++ {
				if w.quotes[field[i]] {
					return true
				}
			}
		} else {
			// Eight bytes at a time, the last word overlapping the one before.
			rest := field
			for len(rest) > 8 {
				if special(word(rest), w.commas) {
					return true
				}
				rest = rest[8:]
			}
			if special(word(field[len(field)-8:]), w.commas) {
				return true
			}
		}
	} else if strings.ContainsRune(field, w.comma) || strings.ContainsAny(field, "\"\r\n") {
		return true
	}
	if c := field[0]; c < utf8.RuneSelf {
		// unicode.IsSpace on ASCII, without decoding.
		return c == ' ' || c >= '\t' && c <= '\r'
	}
	r, _ := utf8.DecodeRuneInString(field)
	return unicode.IsSpace(r)
}

// field appends one field, quoted if it needs to be.
func (w *lineWriter) field(dst []byte, field string) []byte {
	if !w.needsQuotes(field) {
		return append(dst, field...)
	}
	dst = append(dst, '"')
	for len(field) > 0 {
		i := strings.IndexAny(field, "\"\r\n")
		if i < 0 {
			i = len(field)
		}
		dst = append(dst, field[:i]...)
		field = field[i:]
		if len(field) > 0 {
			switch field[0] {
			case '"':
				dst = append(dst, '"', '"')
			case '\r':
				if !w.crlf {
					dst = append(dst, '\r')
				}
			case '\n':
				if w.crlf {
					dst = append(dst, '\r', '\n')
				} else {
					dst = append(dst, '\n')
				}
			}
			field = field[1:]
		}
	}
	return append(dst, '"')
}

// next appends the separator before the n-th field of a line (none before the first).
func (w *lineWriter) next(dst []byte, n int) []byte {
	if n == 0 {
		return dst
	}
	if len(w.sep) == 1 {
		return append(dst, w.sep[0])
	}
	return append(dst, w.sep...)
}

// end appends the line ending.
func (w *lineWriter) end(dst []byte) []byte {
	if w.crlf {
		return append(dst, '\r', '\n')
	}
	return append(dst, '\n')
}

// record appends rec as one line: csv.Writer.Write's output.
func (w *lineWriter) record(dst []byte, rec []string) []byte {
	for i, f := range rec {
		dst = w.field(w.next(dst, i), f)
	}
	return w.end(dst)
}
