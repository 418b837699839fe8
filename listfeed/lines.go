package listfeed

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// maxLine is the longest line a reader takes; longer ones are reported as bad
// (after being read past), so one runaway line cannot take all memory.
const maxLine = 64 << 10

// readBuffer is the read size: large reads keep syscalls off the profile. It
// must be above maxLine.
const readBuffer = 256 << 10

var errLineTooLong = fmt.Errorf("line longer than %d bytes", maxLine)

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// lineScanner splits a file into lines, counting them and their bytes so that
// a checkpoint can name the place after any line. It strips a UTF-8 byte order
// mark at the start of the file and the \n or \r\n at the end of each line.
type lineScanner struct {
	src  io.Reader
	br   *bufio.Reader
	pos  Pos
	long bool // the line being read is too long; skipping to its end
}

func newLineScanner(r io.Reader) *lineScanner {
	return &lineScanner{src: r, br: bufio.NewReaderSize(r, readBuffer)}
}

// next returns the next line, valid until the following call; io.EOF after
// the last. A final line without a newline is a line. An I/O error is
// returned wrapped; errLineTooLong for a line over maxLine.
func (s *lineScanner) next() ([]byte, error) {
	for {
		b, err := s.br.ReadSlice('\n')
		s.pos.Offset += int64(len(b))
		switch {
		case err == nil:
		case errors.Is(err, bufio.ErrBufferFull) && len(b) > 0:
			s.long = true
			continue
		case errors.Is(err, io.EOF):
			if len(b) == 0 && !s.long {
				return nil, io.EOF
			}
		default:
			return nil, fmt.Errorf("read line %d: %w", s.pos.Line+1, err)
		}
		s.pos.Line++
		if s.long {
			s.long = false
			return nil, errLineTooLong
		}
		if len(b) > maxLine {
			return nil, errLineTooLong
		}
		if n := len(b); n > 0 && b[n-1] == '\n' {
			b = b[:n-1]
		}
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
		if s.pos.Line == 1 {
			b = bytes.TrimPrefix(b, utf8BOM)
		}
		return b, nil
	}
}

// skip moves to p, which must not be before the current position.
func (s *lineScanner) skip(p Pos) error {
	if p.Offset < s.pos.Offset || p.Line < s.pos.Line || (p.Offset-s.pos.Offset) < (p.Line-s.pos.Line) {
		return fmt.Errorf("cannot continue at line %d (byte %d) from line %d (byte %d): the checkpoint is not of this file", p.Line, p.Offset, s.pos.Line, s.pos.Offset)
	}
	if sk, ok := s.src.(io.Seeker); ok {
		end, err := sk.Seek(0, io.SeekEnd)
		if err != nil {
			return fmt.Errorf("seek to line %d: %w", p.Line, err)
		}
		if end < p.Offset {
			return fmt.Errorf("cannot continue at byte %d: the file has %d bytes (is it the same file?)", p.Offset, end)
		}
		if _, err := sk.Seek(p.Offset, io.SeekStart); err != nil {
			return fmt.Errorf("seek to line %d: %w", p.Line, err)
		}
		s.br.Reset(s.src)
	} else if n, err := s.br.Discard(int(p.Offset - s.pos.Offset)); err != nil {
		return fmt.Errorf("skip to line %d: file ends after %d bytes: %w", p.Line, s.pos.Offset+int64(n), err)
	}
	s.pos = p
	s.long = false
	return nil
}

// isBlank reports whether b holds only spaces and tabs.
func isBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' {
			return false
		}
	}
	return true
}

// hasLetter reports whether b holds an ASCII letter: a first line with one
// that is not a number is taken as a header.
func hasLetter(b []byte) bool {
	for _, c := range b {
		if c|0x20 >= 'a' && c|0x20 <= 'z' {
			return true
		}
	}
	return false
}

// trimField trims spaces, tabs and one pair of double quotes.
func trimField(b []byte) []byte {
	b = bytes.Trim(b, " \t")
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		b = bytes.Trim(b[1:len(b)-1], " \t")
	}
	return b
}
