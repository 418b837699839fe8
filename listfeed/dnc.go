package listfeed

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"
)

// The US National Do Not Call Registry's downloads, as the FTC's telemarketer
// pages describe them (telemarketing.donotcall.gov FAQ; no byte-level
// specification is public): one file per area code (or per state, or one for
// the whole registry) of the subscription, as a "flat text file" or as XML.
// Only the flat files are read here:
//
//   - Full list: one registered number per line, the area code and the
//     7-digit number separated by a comma, "201,5550123". Ten digits,
//     "2015550123", are taken too, as older descriptions give that form.
//   - Change list: the numbers added to and deleted from the registry since
//     the last download, "several data items per record, separated by
//     commas". We assume the number comes first (as in the full list) and
//     that one field is an add/delete flag ("A"/"D", also "add", "added",
//     "delete", "deleted", "del", "remove", "r"; any case, anywhere after
//     the number); other fields (a date, say) are ignored. Some providers
//     split a change list into an additions file and a deletions file
//     without flags: NewDNCChange detects which shape a file has from its
//     first number line and needs Config.Op for the unflagged one.
//
// Where a real file may differ: the field order of change records (a flag
// before the number is read as well; a flag we do not know is a bad line), a
// header line (a first line with letters that is not a record is skipped,
// not reported) and quoting (one pair of double quotes around a field is
// removed). Anything that is not plain ten digits goes through
// phone.ParseKey, so "1 201 555 0123" is read as well. The XML download is not
// supported: ask for flat files. The files carry no date: Config.SourceDate or
// a date in the file name (DateFromName) gives it.
//
// A full file replaces, on import, the listed numbers of the area codes it
// holds, not the whole list, so the files of several area codes can go to one
// list one after the other (ScopeByAreaCode).

// Config configures a Reader. The zero value suits every format's defaults.
type Config struct {
	// Region is the region of numbers without a country code: "US" for the
	// US formats, "GB" for TPS and CTPS; the generic CSV needs it.
	Region string
	// Column is the header name of the column holding the number (CSV
	// formats); Index its position, counting from 1. Neither: a column with
	// a usual name (phone, phone_number, telephone, number…) if there is a
	// header, else the first.
	Column string
	Index  int
	// Op is what a change file without a flag per line holds: OpAdd for an
	// additions file, OpRemove for a deletions file (dnc-change, tps, ctps).
	Op Op
	// Full makes a state, litigator or generic CSV file a whole list,
	// replacing the list's contents on import; by default such files are
	// added to the list (state and csv) — litigator files are full by default
	// unless Additions is set.
	Full      bool
	Additions bool
	// SourceDate is the date of the file's contents; if zero, a date in Name
	// (DateFromName) is used.
	SourceDate time.Time
	// Name is the file's name, for its date.
	Name string
}

func (c Config) sourceDate() time.Time {
	if !c.SourceDate.IsZero() {
		return c.SourceDate
	}
	d, _ := DateFromName(c.Name)
	return d
}

// dncReader reads the DNC Registry's full and change files.
type dncReader struct {
	sc      *lineScanner
	change  bool
	op      Op   // for lines without a flag (Config.Op)
	flagged bool // a line had a flag, so every line should
	started bool // a non-blank line has been read: no header after it
	date    time.Time
}

// NewDNC returns a Reader of a DNC Registry full file (format "dnc").
func NewDNC(r io.Reader, cfg Config) Reader {
	return &dncReader{sc: newLineScanner(r), date: cfg.sourceDate()}
}

// NewDNCChange returns a Reader of a DNC Registry change file (format
// "dnc-change"), with a flag per line or, given cfg.Op, without.
func NewDNCChange(r io.Reader, cfg Config) Reader {
	return &dncReader{sc: newLineScanner(r), change: true, op: cfg.Op, date: cfg.sourceDate()}
}

func (d *dncReader) Format() string {
	if d.change {
		return "dnc-change"
	}
	return "dnc"
}

func (d *dncReader) Kind() Kind {
	if d.change {
		return KindChanges
	}
	return KindFull
}

func (d *dncReader) ScopeByAreaCode() bool { return !d.change }
func (d *dncReader) SourceDate() time.Time { return d.date }
func (d *dncReader) Pos() Pos              { return d.sc.pos }

func (d *dncReader) Skip(p Pos) error {
	if p.Line > 0 {
		d.started = true
		// Without Config.Op, an earlier reader got past the first number
		// only if it had a flag.
		d.flagged = d.change && d.op == 0
	}
	return d.sc.skip(p)
}

func (d *dncReader) Next() (Record, error) {
	for {
		line, err := d.sc.next()
		if err != nil {
			if errors.Is(err, errLineTooLong) {
				d.started = true
				return Record{}, &LineError{Line: d.sc.pos.Line, Err: err}
			}
			return Record{}, err
		}
		if !d.change && len(line) == 11 && line[3] == ',' {
			var b [10]byte
			copy(b[:3], line[:3])
			copy(b[3:], line[4:])
			if k, ok := nanpKey(b[:]); ok {
				d.started = true
				return Record{Key: k, Op: OpAdd}, nil
			}
		}
		if isBlank(line) {
			continue
		}
		rec, err := d.parse(line)
		if err != nil {
			if !d.started && hasLetter(line) {
				d.started = true
				continue // a header
			}
			d.started = true
			if errors.Is(err, ErrNoChangeOp) {
				return Record{}, fmt.Errorf("line %d: %w (a flag per line, or an additions or deletions file)", d.sc.pos.Line, err)
			}
			return Record{}, &LineError{Line: d.sc.pos.Line, Err: err}
		}
		d.started = true
		return rec, nil
	}
}

// parse reads one record of the slow path.
func (d *dncReader) parse(line []byte) (Record, error) {
	var digits [16]byte
	var nd int
	var op Op
	area, done := false, false // read the area code of AAA,NNNNNNN; read the number
	for f := range bytes.SplitSeq(line, []byte{','}) {
		f = trimField(f)
		switch {
		case len(f) == 0:
		case area:
			if len(f) != 7 || !isAllDigits(f) {
				return Record{}, errAAAN
			}
			nd += copy(digits[nd:], f)
			area, done = false, true
		case !done && isPhoneish(f):
			if len(f) > len(digits) {
				return Record{}, errors.New("too long for a NANP number")
			}
			nd = copy(digits[:], f)
			if len(f) == 3 && isAllDigits(f) {
				area = true
			} else {
				done = true
			}
		default:
			o, ok := flagOp(f)
			switch {
			case !ok && hasLetter(f) && len(f) <= 8 && !bytes.ContainsAny(f, "/-:."):
				return Record{}, errors.New("unknown change flag (want A or D)")
			case !ok:
				// another data item, a date say
			case !d.change:
				return Record{}, errors.New("a full file's line has an add/delete flag: is this a change file (dnc-change)?")
			case op != 0 && op != o:
				return Record{}, errors.New("both an add and a delete flag")
			default:
				op = o
			}
		}
	}
	switch {
	case area:
		return Record{}, errAAAN
	case !done:
		return Record{}, errNoNumber
	}
	if d.change {
		switch {
		case op != 0:
			d.flagged = true
		case d.op != 0:
			op = d.op
		case d.flagged:
			return Record{}, errors.New("no add/delete flag")
		default:
			return Record{}, ErrNoChangeOp
		}
	} else {
		op = OpAdd
	}
	raw := digits[:nd]
	if k, ok := nanpKey(raw); ok {
		return Record{Key: k, Op: op}, nil
	}
	k, err := parseKey(raw, "US")
	if err != nil {
		return Record{}, err
	}
	if _, ok := areaCodeOf(k); !ok {
		return Record{}, errors.New("not a NANP number")
	}
	return Record{Key: k, Op: op}, nil
}

var errAAAN = errors.New("want the area code and the 7-digit number (AAA,NNNNNNN) or ten digits")

// isPhoneish reports whether f is made of digits and the punctuation people
// write numbers with, with at least three digits.
func isPhoneish(f []byte) bool {
	digits := 0
	for _, c := range f {
		switch {
		case '0' <= c && c <= '9':
			digits++
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' || c == '+':
		default:
			return false
		}
	}
	return digits >= 3
}

func isAllDigits(f []byte) bool {
	for _, c := range f {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(f) > 0
}

// flagOp reads a change flag.
func flagOp(f []byte) (Op, bool) {
	var b [8]byte
	if len(f) > len(b) {
		return 0, false
	}
	for i, c := range f {
		b[i] = c | 0x20 // ASCII lower case; non-letters do not match below
	}
	switch string(b[:len(f)]) {
	case "a", "add", "added", "addition", "i", "insert":
		return OpAdd, true
	case "d", "del", "delete", "deleted", "deletion", "r", "remove", "removed":
		return OpRemove, true
	}
	return 0, false
}
