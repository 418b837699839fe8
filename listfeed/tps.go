package listfeed

import (
	"errors"
	"io"
	"time"
)

// The UK Telephone Preference Service (TPS) and Corporate TPS (CTPS) files,
// as the TPS technical description of the subscriber download gives them:
// telephone numbers only, one per line ending in CR LF, in UK national format
// with the leading 0, either as a dialling code of up to 5 characters
// left-justified and the rest of the number right-justified in 7 ("0207
// 3787244", "01635 506160") or without the space, padded with spaces to 12
// characters ("02073787244 "). Both, and any other spacing, are read by
// removing spaces; anything else (a +44 number, say) goes through
// phone.ParseKey with region GB. The full file replaces the list; the daily
// change files come as an additions file and a deletions file, which need
// Config.Op. The file carries no date: Config.SourceDate or the file name.

// tpsReader reads TPS and CTPS files.
type tpsReader struct {
	sc      *lineScanner
	format  string
	op      Op
	started bool
	date    time.Time
}

// NewTPS returns a Reader of a TPS file (format "tps"): the full file, or
// with cfg.Op an additions or deletions file.
func NewTPS(r io.Reader, cfg Config) Reader { return newTPS(r, "tps", cfg) }

// NewCTPS returns a Reader of a CTPS file (format "ctps"), laid out as TPS's.
func NewCTPS(r io.Reader, cfg Config) Reader { return newTPS(r, "ctps", cfg) }

func newTPS(r io.Reader, format string, cfg Config) Reader {
	return &tpsReader{sc: newLineScanner(r), format: format, op: cfg.Op, date: cfg.sourceDate()}
}

func (t *tpsReader) Format() string { return t.format }
func (t *tpsReader) Kind() Kind {
	if t.op != 0 {
		return KindChanges
	}
	return KindFull
}
func (t *tpsReader) ScopeByAreaCode() bool { return false }
func (t *tpsReader) SourceDate() time.Time { return t.date }
func (t *tpsReader) Pos() Pos              { return t.sc.pos }
func (t *tpsReader) Skip(p Pos) error {
	if p.Line > 0 {
		t.started = true
	}
	return t.sc.skip(p)
}

func (t *tpsReader) Next() (Record, error) {
	op := t.op
	if op == 0 {
		op = OpAdd
	}
	for {
		line, err := t.sc.next()
		if err != nil {
			if errors.Is(err, errLineTooLong) {
				t.started = true
				return Record{}, &LineError{Line: t.sc.pos.Line, Err: err}
			}
			return Record{}, err
		}
		var b [24]byte
		n := 0
		for _, c := range line {
			if c == ' ' || c == '\t' {
				continue
			}
			if n == len(b) {
				n++
				break
			}
			b[n] = c
			n++
		}
		if n == 0 {
			continue
		}
		if k, ok := gbKey(b[:min(n, len(b))]); ok {
			t.started = true
			return Record{Key: k, Op: op}, nil
		}
		k, err := parseKey(trimField(line), "GB")
		if err != nil {
			if !t.started && hasLetter(line) {
				t.started = true
				continue // a header
			}
			t.started = true
			return Record{}, &LineError{Line: t.sc.pos.Line, Err: err}
		}
		t.started = true
		return Record{Key: k, Op: op}, nil
	}
}
