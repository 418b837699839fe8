package listfeed

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"callfilter/filter"
	"callfilter/phone"
)

// CSV formats: US state lists ("state"), litigator lists ("litigator") and
// generic CSV ("csv"). States publish their lists in no common layout; what
// they have in common, and what we assume, is one record per line, either
// one number per line or comma-separated (tab- or semicolon-separated when
// the first line has one of those and no comma) with the number in one
// column, found by Config.Column (a header name), Config.Index (from 1) or,
// failing both, by a header column with a usual name (phone, phone_number,
// telephone, number…; see phoneColumns), else the first column. Litigator
// lists are CSV with a header and extra columns (name, case, date). A first
// line whose number column is not a number and that has letters is the
// header. Numbers go through phone.ParseKey with Config.Region (default US),
// so any usual way of writing them is read. A quoted field holding a newline
// is not supported: its lines are reported as bad (phone lists do not have
// them).
//
// By default a state or generic file is added to the list (several states'
// lists, or several sources, share one list) and a litigator file, a
// vendor's whole list, replaces it; Config.Full and Config.Additions say
// otherwise. None of them carries a date: Config.SourceDate or the file name.

// phoneColumns are the header names taken as the number's column, in order
// of preference, compared without case, spaces, '_' and '-'.
var phoneColumns = []string{"phone", "phonenumber", "telephone", "telephonenumber", "tel", "number", "mobile", "cell", "wireless", "msisdn", "e164", "tn", "dnc", "phone1"}

type csvReader struct {
	sc      *lineScanner
	format  string
	region  string
	kind    Kind
	column  string // Config.Column
	index   int    // the number's field, from 0; -1 until known
	comma   byte
	started bool
	date    time.Time
}

// NewState returns a Reader of a US state list (format "state").
func NewState(r io.Reader, cfg Config) (Reader, error) {
	return newCSV(r, "state", KindChanges, cfg)
}

// NewLitigator returns a Reader of a litigator list (format "litigator").
func NewLitigator(r io.Reader, cfg Config) (Reader, error) {
	return newCSV(r, "litigator", KindFull, cfg)
}

// NewCSV returns a Reader of a generic CSV file or list of numbers (format
// "csv"); cfg.Region is the region of numbers without a country code.
func NewCSV(r io.Reader, cfg Config) (Reader, error) {
	return newCSV(r, "csv", KindChanges, cfg)
}

func newCSV(r io.Reader, format string, kind Kind, cfg Config) (Reader, error) {
	if cfg.Full && cfg.Additions {
		return nil, filter.Errorf(filter.EInvalid, "", "a %s file cannot be both a full list and additions: choose one", format)
	}
	if cfg.Index < 0 {
		return nil, filter.Errorf(filter.EInvalid, "", "column index %d: columns count from 1", cfg.Index)
	}
	if cfg.Column != "" && cfg.Index != 0 {
		return nil, filter.Errorf(filter.EInvalid, "", "give the number's column by name (%q) or by index (%d), not both", cfg.Column, cfg.Index)
	}
	switch {
	case cfg.Full:
		kind = KindFull
	case cfg.Additions:
		kind = KindChanges
	}
	region := cfg.Region
	if region == "" {
		region = "US"
	}
	return &csvReader{
		sc: newLineScanner(r), format: format, region: region, kind: kind,
		column: cfg.Column, index: cfg.Index - 1, date: cfg.sourceDate(),
	}, nil
}

func (c *csvReader) Format() string        { return c.format }
func (c *csvReader) Kind() Kind            { return c.kind }
func (c *csvReader) ScopeByAreaCode() bool { return false }
func (c *csvReader) SourceDate() time.Time { return c.date }
func (c *csvReader) Pos() Pos              { return c.sc.pos }

// Skip reads the header, if any, then moves to p.
func (c *csvReader) Skip(p Pos) error {
	if p.Line == 0 {
		return nil
	}
	for !c.started {
		line, err := c.sc.next()
		if err != nil {
			return fmt.Errorf("read the header: %w", err)
		}
		if isBlank(line) {
			continue
		}
		if _, err := c.first(line); err != nil && !errors.Is(err, errNotHeader) {
			return err
		}
	}
	if c.sc.pos.Line > p.Line {
		return nil // the checkpoint is at the header (no number read yet)
	}
	return c.sc.skip(p)
}

// errNotHeader says the first line is a record, to be read as one.
var errNotHeader = errors.New("not a header")

// first reads the first non-blank line: it picks the separator and the
// number's column and says whether the line is a header (nil) or a record
// (errNotHeader); other errors are fatal.
func (c *csvReader) first(line []byte) (bool, error) {
	c.started = true
	c.comma = ','
	if !bytes.ContainsRune(line, ',') {
		if bytes.ContainsRune(line, '\t') {
			c.comma = '\t'
		} else if bytes.ContainsRune(line, ';') {
			c.comma = ';'
		}
	}
	fields, err := c.split(line)
	if err != nil {
		fields = nil
	}
	if c.column != "" {
		for i, f := range fields {
			if strings.EqualFold(strings.TrimSpace(f), c.column) {
				c.index = i
				return true, nil
			}
		}
		return false, filter.Errorf(filter.EInvalid, "", "%s file: no column named %q in the header (%d columns: %s)", c.format, c.column, len(fields), describeHeader(fields))
	}
	if c.index < 0 {
		for _, want := range phoneColumns {
			for i, f := range fields {
				if normalizeHeader(f) == want {
					c.index = i
					return true, nil
				}
			}
		}
	}
	header := hasLetter(line)
	if c.index < 0 {
		c.index = 0
		if header && len(fields) > 1 {
			if _, err := c.parse(line); err != nil {
				return false, filter.Errorf(filter.EInvalid, "", "%s file: cannot tell which column holds the number (header: %s): give the column's name or index", c.format, describeHeader(fields))
			}
		}
	}
	if header {
		if _, err := c.parse(line); err != nil {
			return true, nil
		}
	}
	return false, errNotHeader
}

// describeHeader lists a header's names for an error message, hiding any
// field that may be a number: the first line may be a record, and logs must
// not show numbers.
func describeHeader(fields []string) string {
	out := make([]string, len(fields))
	for i, f := range fields {
		digits := 0
		for j := range len(f) {
			if isDigit(f[j]) {
				digits++
			}
		}
		switch {
		case digits >= 4:
			out[i] = "(a number?)"
		case len(f) > 40:
			out[i] = strconv.Quote(f[:40] + "…")
		default:
			out[i] = strconv.Quote(f)
		}
	}
	return strings.Join(out, ", ")
}

func normalizeHeader(f string) string {
	f = strings.ToLower(strings.Trim(f, " \t\""))
	return strings.NewReplacer(" ", "", "_", "", "-", "", ".", "").Replace(f)
}

// split returns a line's fields; only a line with a quote pays for the CSV
// parser.
func (c *csvReader) split(line []byte) ([]string, error) {
	if bytes.IndexByte(line, '"') < 0 {
		var out []string
		for f := range bytes.SplitSeq(line, []byte{c.comma}) {
			out = append(out, string(f))
		}
		return out, nil
	}
	r := csv.NewReader(bytes.NewReader(line))
	r.Comma = rune(c.comma)
	r.FieldsPerRecord = -1
	rec, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("bad CSV: %w", err)
	}
	return rec, nil
}

// field returns the number's field of line.
func (c *csvReader) field(line []byte) ([]byte, error) {
	if bytes.IndexByte(line, '"') < 0 {
		i := 0
		for f := range bytes.SplitSeq(line, []byte{c.comma}) {
			if i == c.index {
				return f, nil
			}
			i++
		}
		return nil, fmt.Errorf("%w: the line has %d columns, the number is in column %d", phone.ErrMissing, i, c.index+1)
	}
	fields, err := c.split(line)
	if err != nil {
		return nil, err
	}
	if c.index >= len(fields) {
		return nil, fmt.Errorf("%w: the line has %d columns, the number is in column %d", phone.ErrMissing, len(fields), c.index+1)
	}
	return []byte(fields[c.index]), nil
}

func (c *csvReader) parse(line []byte) (uint64, error) {
	f, err := c.field(line)
	if err != nil {
		return 0, err
	}
	f = trimField(f)
	if len(f) == 0 {
		return 0, errNoNumber
	}
	return parseKey(f, c.region)
}

func (c *csvReader) Next() (Record, error) {
	for {
		line, err := c.sc.next()
		if err != nil {
			if errors.Is(err, errLineTooLong) {
				c.started = true
				return Record{}, &LineError{Line: c.sc.pos.Line, Err: err}
			}
			return Record{}, err
		}
		if isBlank(line) || (c.started && isEmptyRow(line, c.comma)) {
			continue
		}
		if !c.started {
			header, err := c.first(line)
			if header {
				continue
			}
			if !errors.Is(err, errNotHeader) {
				return Record{}, err
			}
		}
		k, err := c.parse(line)
		if err != nil {
			return Record{}, &LineError{Line: c.sc.pos.Line, Err: err}
		}
		return Record{Key: k, Op: OpAdd}, nil
	}
}

// isEmptyRow reports whether line is a row of empty fields (",,"), which
// spreadsheets write for blank rows.
func isEmptyRow(line []byte, comma byte) bool {
	for _, c := range line {
		if c != comma && c != ' ' && c != '\t' && c != '"' {
			return false
		}
	}
	return true
}
