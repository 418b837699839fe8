// Package scrub runs bulk list scrubbing: it reads a CSV lead list as
// spreadsheets and CRMs export it (UTF-8 with or without a byte-order mark,
// or GBK; CRLF; quoted fields with separators and line breaks; ',', ';' or
// tab separators, detected), finds the phone column (by header name, index,
// or detection), decides every row in parallel across cores while keeping
// their order, and writes the same CSV back with the columns e164, decision,
// reasons, line_type and timezone appended, streaming both ways in constant
// memory: the set of numbers seen, which flags duplicates, has a fixed budget
// (Options.DuplicateMemory) and spills to temporary files past it.
//
// Every row is accounted for: a cell with no number, several numbers or an
// unreadable one is a deny with missing_number or invalid_number; a repeated
// number is a deny with duplicate (its first row carries the decision); a
// malformed CSV line is written as a deny with malformed_row and reported
// with its line number in the Summary, and the rest go on.
package scrub

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"callfilter/filter"
	"callfilter/phone"
	"callfilter/service"
)

// Reason codes a scrub adds to the decision engine's.
const (
	// ReasonDuplicate flags a row whose number an earlier row holds.
	ReasonDuplicate = "duplicate"
	// ReasonMalformedRow flags a line the CSV reader could not read.
	ReasonMalformedRow = "malformed_row"
)

// OutputColumns are the columns appended to every input row.
var OutputColumns = []string{"e164", "decision", "reasons", "line_type", "timezone"}

// Decider decides the numbers of a chunk of rows: raws[i] into out[i]. It must
// be safe for concurrent use; *service.Scrubber is the real one.
type Decider interface {
	DecideMany(ctx context.Context, raws []string, out []service.ScrubResult)
}

// ParseOnly is a Decider that only normalizes (no lists, no rules): the
// baseline scrub speed is measured against.
type ParseOnly struct{ Region string }

// DecideMany implements Decider.
func (p ParseOnly) DecideMany(_ context.Context, raws []string, out []service.ScrubResult) {
	for i, raw := range raws {
		n, err := phone.Normalize(raw, p.Region)
		if err != nil {
			out[i] = service.ScrubResult{Outcome: filter.Deny, Reasons: []filter.Reason{{Code: filter.ReasonInvalidNumber}}}
			continue
		}
		out[i] = service.ScrubResult{Number: n, Outcome: filter.Allow}
	}
}

// Options configure a scrub.
type Options struct {
	// Decider decides the numbers (required).
	Decider Decider
	// Region reads numbers without a country code when detecting the header
	// and the column ("US" when empty); the Decider has its own.
	Region string
	// Column is the phone column: a header name or a 1-based index; "" detects it.
	Column string
	// Charset is the input's encoding: "" or "utf-8", or "gbk". The output is UTF-8.
	Charset string
	// Comma is the field separator; 0 detects ',', ';' or tab.
	Comma rune
	// Workers decide chunks in parallel (default GOMAXPROCS).
	Workers int
	// ChunkRows is the rows per unit of work (default 1024).
	ChunkRows int
	// MaxErrors bounds the line errors kept in the Summary (default 100); all
	// are counted.
	MaxErrors int
	// Progress, if set, is called from the writing goroutine about every
	// 100 ms and at the end with the summary so far, which is valid only
	// during the call.
	Progress func(*Summary)
	// FlushEvery, if above zero, flushes the output (and out itself, when it
	// has a Flush method) after that many rows, so a streamed response shows
	// rows as they are decided.
	FlushEvery int
	// DuplicateMemory bounds the memory of the set of numbers seen, which
	// flags duplicates (default DefaultDuplicateMemory, 64 MiB: about 3M
	// numbers in memory); past it the set spills sorted runs of number keys to
	// a temporary directory under TempDir (8 bytes of disk a distinct
	// number), removed when the scrub ends.
	DuplicateMemory int64
	// TempDir is where the duplicate set spills (default os.TempDir()).
	TempDir string
}

// Summary counts what a scrub did.
type Summary struct {
	// Rows is the data rows written, malformed ones included.
	Rows int64 `json:"rows"`
	// Allow and Deny count the decisions.
	Allow int64 `json:"allow"`
	Deny  int64 `json:"deny"`
	// Reasons counts the rows carrying each reason code (duplicate and
	// malformed_row included).
	Reasons map[string]int64 `json:"reasons"`
	// StoreReads counts the rows whose facts were read from the store.
	StoreReads int64 `json:"store_reads"`
	// Errors are the first malformed lines, with their line numbers;
	// Malformed counts them all.
	Errors    []LineError `json:"errors,omitempty"`
	Malformed int64       `json:"malformed"`
	// Column is the phone column used (1-based) and its header name.
	Column     int    `json:"column"`
	ColumnName string `json:"column_name,omitempty"`
	Header     bool   `json:"header"`
	Delimiter  string `json:"delimiter"`
}

// LineError is one malformed input line.
type LineError struct {
	Line    int    `json:"line"`
	Message string `json:"message"`
}

func (s *Summary) count(r *service.ScrubResult) {
	s.Rows++
	if r.Outcome == filter.Allow {
		s.Allow++
	} else {
		s.Deny++
	}
	if r.Stored {
		s.StoreReads++
	}
	for i, reason := range r.Reasons {
		if i > 0 && reasonSeen(r.Reasons[:i], reason.Code) {
			continue
		}
		s.Reasons[string(reason.Code)]++
	}
}

func reasonSeen(rs []filter.Reason, c filter.ReasonCode) bool {
	for _, r := range rs {
		if r.Code == c {
			return true
		}
	}
	return false
}

// clone returns a deep copy of s.
func (s *Summary) clone() *Summary {
	c := *s
	c.Reasons = make(map[string]int64, len(s.Reasons))
	for k, v := range s.Reasons {
		c.Reasons[k] = v
	}
	c.Errors = append([]LineError(nil), s.Errors...)
	return &c
}

// Clone returns a deep copy of s, to keep past a Progress call.
func (s *Summary) Clone() *Summary { return s.clone() }

// row is one input record: its fields, or the error that made it unreadable.
type row struct {
	fields []string
	line   int
	err    error
}

// chunk is a unit of work: rows read in order, decided by one worker into
// res, written in order once done is closed, then reused.
type chunk struct {
	rows   []row
	fields []string // the rows' fields
	raws   []string // the rows' phone cells, as given to the Decider
	res    []service.ScrubResult
	done   chan struct{}
}

var (
	severalReasons   = []filter.Reason{{Code: filter.ReasonInvalidNumber, Detail: "the cell holds several numbers"}}
	duplicateReasons = []filter.Reason{{Code: ReasonDuplicate, Detail: "an earlier row holds the same number"}}
	malformedReasons = []filter.Reason{{Code: ReasonMalformedRow, Detail: "the line could not be read as CSV"}}
	missingReasons   = []filter.Reason{{Code: filter.ReasonMissingNumber, Detail: "the row has no phone column"}}
)

// Run scrubs the CSV read from in into out and returns what it did. An error
// before the first row is written (bad options, no phone column) is an
// EInvalid *filter.Error and nothing is written; a read or write error later
// stops the scrub and is returned with the summary so far. ctx cancels it.
func Run(ctx context.Context, in io.Reader, out io.Writer, opts Options) (*Summary, error) {
	sc, err := Start(in, opts)
	if err != nil {
		return nil, err
	}
	return sc.Write(ctx, out)
}

// Scrub is a scrub started by Start: its input's format, header and phone
// column are known, and Write runs it.
type Scrub struct {
	opts    Options
	cr      *csv.Reader
	bom     bool
	crlf    bool
	comma   rune
	header  []string
	first   []row
	readErr error
	col     int
	width   int
	sum     *Summary
}

// Summary returns the summary before any row is written: the format and the
// column chosen.
func (sc *Scrub) Summary() *Summary { return sc.sum.clone() }

// Start reads the beginning of in (the header and up to 200 rows) to learn
// its format and phone column. Its errors are EInvalid *filter.Error values
// (no phone column, an unknown charset…) or in's read errors; nothing has
// been written then, so an HTTP handler can still answer 400.
func Start(in io.Reader, opts Options) (*Scrub, error) {
	if opts.Decider == nil {
		return nil, errors.New("scrub: a Decider is required")
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.ChunkRows <= 0 {
		opts.ChunkRows = 1024
	}
	if opts.MaxErrors <= 0 {
		opts.MaxErrors = 100
	}
	if opts.DuplicateMemory <= 0 {
		opts.DuplicateMemory = DefaultDuplicateMemory
	}
	if opts.Region == "" {
		opts.Region = "US"
	}
	br, bom, err := openInput(in, opts.Charset)
	if err != nil {
		return nil, err
	}
	sample, _ := br.Peek(br.Size())
	crlf := bytes.Contains(sample, []byte("\r\n"))
	comma := opts.Comma
	if comma == 0 {
		comma = DetectDelimiter(sample)
	}
	sum := &Summary{Reasons: map[string]int64{}, Delimiter: string(comma)}
	cr := csv.NewReader(br)
	cr.Comma = comma
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true

	// Read the first rows synchronously: the header and the column are
	// decided from them.
	var first []row
	var readErr error
	for len(first) < 200 {
		r, err := readRow(cr)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			readErr = err
			break
		}
		r.fields = slices.Clone(r.fields) // the reader reuses its slice
		first = append(first, r)
	}
	var header []string
	var sampled [][]string
	for _, r := range first {
		if r.err == nil {
			sampled = append(sampled, r.fields)
		}
	}
	if len(first) > 0 && first[0].err == nil && isHeader(first[0].fields, opts.Region) {
		header = first[0].fields
		sum.Header = true
		first = first[1:]
		sampled = sampled[1:]
	}
	if header == nil && len(sampled) == 0 && readErr == nil && len(first) == 0 {
		return nil, filter.Errorf(filter.EInvalid, CodeEmptyFile, "the file holds no rows")
	}
	col, err := DetectColumn(header, sampled, opts.Column)
	if err != nil {
		return nil, err
	}
	width := len(header)
	if header == nil {
		for _, r := range sampled {
			width = max(width, len(r))
		}
	}
	width = max(width, col+1)
	sum.Column = col + 1
	if col < len(header) {
		sum.ColumnName = header[col]
	}

	return &Scrub{opts: opts, cr: cr, bom: bom, crlf: crlf, comma: comma, header: header, first: first,
		readErr: readErr, col: col, width: width, sum: sum}, nil
}

// Write decides every row and writes the output to out; see Run.
func (sc *Scrub) Write(ctx context.Context, out io.Writer) (*Summary, error) {
	opts, cr, comma, header, first, readErr, col, width, sum := sc.opts, sc.cr, sc.comma, sc.header, sc.first, sc.readErr, sc.col, sc.width, sc.sum
	bw := bufio.NewWriterSize(out, 1<<16)
	if sc.bom {
		_, _ = bw.Write(utf8BOM)
	}
	outHeader := make([]string, 0, width+len(OutputColumns))
	outHeader = append(outHeader, header...)
	for i := len(header); i < width; i++ {
		outHeader = append(outHeader, "column_"+strconv.Itoa(i+1))
	}
	outHeader = append(outHeader, OutputColumns...)
	// The header goes through encoding/csv, which refuses a separator it
	// cannot write; the rows through lineWriter, which writes what it would.
	var hb bytes.Buffer
	cw := csv.NewWriter(&hb)
	cw.Comma = comma
	cw.UseCRLF = sc.crlf
	if err := cw.Write(outHeader); err != nil {
		return sum, err
	}
	cw.Flush()
	_, _ = bw.Write(hb.Bytes()) // an error stays in bw: the next Write or Flush returns it
	lw := newLineWriter(comma, sc.crlf)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan *chunk, opts.Workers*2)
	order := make(chan *chunk, opts.Workers*4)
	// Written chunks come back to the reader: a chunk's results are ~170
	// bytes a row, and allocating (and zeroing) them for every chunk was most
	// of the pipeline's allocation.
	free := make(chan *chunk, opts.Workers*6+2)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the reader: rows into chunks, in order
		defer wg.Done()
		defer close(work)
		defer close(order)
		send := func(c *chunk) bool {
			select {
			case order <- c:
			case <-ctx.Done():
				return false
			}
			select {
			case work <- c:
				return true
			case <-ctx.Done():
				return false
			}
		}
		next := func() *chunk {
			select {
			case c := <-free:
				c.rows, c.fields, c.done = c.rows[:0], c.fields[:0], make(chan struct{})
				return c
			default:
				return &chunk{rows: make([]row, 0, opts.ChunkRows), fields: make([]string, 0, opts.ChunkRows*(width+1)), done: make(chan struct{})}
			}
		}
		c := next()
		c.rows = append(c.rows, first...)
		for readErr == nil {
			if len(c.rows) >= opts.ChunkRows {
				if !send(c) {
					return
				}
				c = next()
			}
			r, err := readRow(cr)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				readErr = err
				break
			}
			// The reader reuses its record slice: the fields go into the
			// chunk's (their strings are fresh for every record).
			n := len(c.fields)
			c.fields = append(c.fields, r.fields...)
			r.fields = c.fields[n:len(c.fields):len(c.fields)]
			c.rows = append(c.rows, r)
		}
		if len(c.rows) > 0 {
			send(c)
		}
	}()
	for w := 0; w < opts.Workers; w++ {
		wg.Add(1)
		go func() { // a worker: decides whole chunks
			defer wg.Done()
			for c := range work {
				raws := c.raws[:0]
				for _, r := range c.rows {
					cell := ""
					if r.err == nil && col < len(r.fields) {
						cell = r.fields[col]
						if severalNumbers(cell) {
							cell = ""
						}
					}
					raws = append(raws, cell)
				}
				c.raws = raws
				if cap(c.res) < len(c.rows) {
					c.res = make([]service.ScrubResult, len(c.rows))
				}
				c.res = c.res[:len(c.rows)]
				clear(c.res) // a Decider need not set every field
				opts.Decider.DecideMany(ctx, raws, c.res)
				for i, r := range c.rows {
					switch {
					case r.err != nil:
						c.res[i] = service.ScrubResult{Outcome: filter.Deny, Reasons: malformedReasons}
					case col >= len(r.fields):
						c.res[i] = service.ScrubResult{Outcome: filter.Deny, Reasons: missingReasons}
					case raws[i] == "" && r.fields[col] != "" && severalNumbers(r.fields[col]):
						c.res[i] = service.ScrubResult{Outcome: filter.Deny, Reasons: severalReasons}
					}
				}
				close(c.done)
			}
		}()
	}

	wErr := writeRows(ctx, lw, bw, out, order, free, width, sum, &opts)
	if wErr != nil {
		cancel()
	}
	wg.Wait()
	if err := bw.Flush(); err != nil && wErr == nil {
		wErr = err
	}
	if opts.Progress != nil {
		opts.Progress(sum)
	}
	switch {
	case wErr != nil:
		return sum, wErr
	case readErr != nil:
		return sum, readErr
	case ctx.Err() != nil:
		return sum, ctx.Err()
	}
	return sum, nil
}

// readRow reads the next record. A malformed line is a row holding its
// error (the reader goes on after it); only I/O errors and io.EOF are errors.
func readRow(cr *csv.Reader) (row, error) {
	rec, err := cr.Read()
	if err == nil {
		line, _ := cr.FieldPos(0)
		return row{fields: rec, line: line}, nil
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		// A quote opened and never closed runs to the end of the input: one
		// malformed row.
		return row{line: pe.StartLine, err: pe.Err}, nil
	}
	return row{}, err
}

// writeRows writes the chunks in order as their workers finish them.
func writeRows(ctx context.Context, lw *lineWriter, bw *bufio.Writer, out io.Writer, order <-chan *chunk, free chan<- *chunk, width int, sum *Summary, opts *Options) error {
	seen := newDupSet(opts.DuplicateMemory, opts.TempDir)
	// A run file left behind (RemoveAll failing) does not make the output
	// wrong, so it does not fail a finished scrub.
	defer func() { _ = seen.close() }()
	joined := map[*filter.Reason]string{}
	zones := map[*string]string{}
	var line []byte
	lastProgress := time.Now()
	sinceFlush := 0
	flusher, _ := out.(interface{ Flush() error })
	for c := range order {
		select {
		case <-c.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		var peeked uint64
		for i := range c.res {
			peeked += seen.peek(c.res[i].Number.Key)
		}
		seen.touched += peeked
		for i := range c.rows {
			r := &c.rows[i]
			res := &c.res[i]
			if res.Number.Key != 0 {
				dup, err := seen.add(res.Number.Key)
				if err != nil {
					return err
				}
				if dup {
					res.Outcome, res.Reasons = filter.Deny, duplicateReasons
				}
			}
			if r.err != nil {
				sum.Malformed++
				if len(sum.Errors) < opts.MaxErrors {
					sum.Errors = append(sum.Errors, LineError{Line: r.line, Message: r.err.Error()})
				}
			}
			sum.count(res)
			// The input fields, empty ones up to width, then the output
			// columns: the record csv.Writer was given before lineWriter.
			line = line[:0]
			n := 0
			for _, f := range r.fields {
				line = lw.field(lw.next(line, n), f)
				n++
			}
			for ; n < width; n++ {
				line = lw.next(line, n)
			}
			line = lw.field(lw.next(line, n), res.Number.E164)
			line = lw.field(lw.next(line, n+1), string(res.Outcome))
			line = lw.field(lw.next(line, n+2), joinReasons(joined, res.Reasons))
			line = lw.field(lw.next(line, n+3), lineType(res))
			line = lw.field(lw.next(line, n+4), joinZones(zones, res.Number.TimeZones))
			line = lw.end(line)
			if _, err := bw.Write(line); err != nil {
				return err
			}
		}
		sinceFlush += len(c.rows)
		select {
		case free <- c:
		default:
		}
		if opts.FlushEvery > 0 && sinceFlush >= opts.FlushEvery {
			sinceFlush = 0
			if err := bw.Flush(); err != nil {
				return err
			}
			if flusher != nil {
				if err := flusher.Flush(); err != nil {
					return err
				}
			}
		}
		if opts.Progress != nil && time.Since(lastProgress) > 100*time.Millisecond {
			lastProgress = time.Now()
			opts.Progress(sum)
		}
	}
	return nil
}

func lineType(r *service.ScrubResult) string {
	if r.Number.E164 == "" {
		return ""
	}
	return string(r.Number.Type)
}

// joinReasons returns the codes of rs joined by ';', cached by the slice's
// first element: results share their reasons slices.
func joinReasons(cache map[*filter.Reason]string, rs []filter.Reason) string {
	if len(rs) == 0 {
		return ""
	}
	if s, ok := cache[&rs[0]]; ok {
		return s
	}
	var b strings.Builder
	for i, r := range rs {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(string(r.Code))
	}
	s := b.String()
	if len(cache) < 4096 {
		cache[&rs[0]] = s
	}
	return s
}

// joinZones returns the zones joined by ';', cached by the shared slice.
func joinZones(cache map[*string]string, zs []string) string {
	switch len(zs) {
	case 0:
		return ""
	case 1:
		return zs[0]
	}
	if s, ok := cache[&zs[0]]; ok {
		return s
	}
	s := strings.Join(zs, ";")
	if len(cache) < 4096 {
		cache[&zs[0]] = s
	}
	return s
}

// String formats s as the table the CLI prints.
func (s *Summary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-22s %10d\n", "rows", s.Rows)
	fmt.Fprintf(&b, "%-22s %10d\n", "allow", s.Allow)
	fmt.Fprintf(&b, "%-22s %10d\n", "deny", s.Deny)
	codes := make([]string, 0, len(s.Reasons))
	for c := range s.Reasons {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	for _, c := range codes {
		fmt.Fprintf(&b, "  %-20s %10d\n", c, s.Reasons[c])
	}
	fmt.Fprintf(&b, "%-22s %10d\n", "store reads", s.StoreReads)
	for _, e := range s.Errors {
		fmt.Fprintf(&b, "line %d: %s\n", e.Line, e.Message)
	}
	if int64(len(s.Errors)) < s.Malformed {
		fmt.Fprintf(&b, "… and %d more malformed lines\n", s.Malformed-int64(len(s.Errors)))
	}
	return b.String()
}

// keySet is the set of number keys a scrub has seen: open addressing with
// linear probing over a power-of-two table kept at most 3/4 full. Keys are
// never 0 (the zero Number's). At 8 bytes a slot it is about half a Go map's
// size and twice as fast for this one job.
type keySet struct {
	slots []uint64
	n     int
}

func newKeySet(size int) *keySet { return &keySet{slots: make([]uint64, size)} }

// has reports whether k is in the set.
func (s *keySet) has(k uint64) bool {
	mask := uint64(len(s.slots) - 1)
	for i := mix64(k) & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case k:
			return true
		case 0:
			return false
		}
	}
}

// add adds k and reports whether it was already there.
func (s *keySet) add(k uint64) (seen bool) {
	if (s.n+1)*4 > len(s.slots)*3 {
		s.grow()
	}
	mask := uint64(len(s.slots) - 1)
	for i := mix64(k) & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case k:
			return true
		case 0:
			s.slots[i] = k
			s.n++
			return false
		}
	}
}

func (s *keySet) grow() {
	old := s.slots
	s.slots = make([]uint64, max(len(old)*2, 1024))
	s.n = 0
	for _, k := range old {
		if k != 0 {
			s.add(k)
		}
	}
}

// mix64 is the finalizer of MurmurHash3: keys of one area code differ only
// in their low digits, which it spreads over every bit.
func mix64(k uint64) uint64 {
	k ^= k >> 33
	k *= 0xff51afd7ed558ccd
	k ^= k >> 33
	k *= 0xc4ceb9fe1a85ec53
	k ^= k >> 33
	return k
}

// Totals are the summary's counts for the scrub's audit record
// (service.Scrubber.Record).
func (s *Summary) Totals() service.ScrubTotals {
	return service.ScrubTotals{Rows: s.Rows, Allow: s.Allow, Deny: s.Deny, Malformed: s.Malformed, Reasons: s.Reasons}
}
