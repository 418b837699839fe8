package listfeed

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"slices"
	"time"

	"callfilter/filter"
)

// Defaults of Options.
const (
	DefaultChunk       = 100_000
	DefaultMaxBadLines = 1000
)

// StagingSuffix is appended to a list's name for the staging list of its full
// imports.
const StagingSuffix = "~staging"

// Options tune an import. The zero value is a sensible, non-resumable import.
type Options struct {
	// Chunk is the number of keys written per store call, and between
	// checkpoints. Default DefaultChunk.
	Chunk int
	// StatePath is the state file: a checkpoint after every acknowledged
	// chunk, and the record of the last finished import. Empty: no
	// checkpoints, so an interrupted import starts over.
	StatePath string
	// SourceID identifies the input (FileID); a checkpoint of another input
	// is refused rather than continued.
	SourceID string
	// SourceDate is the date of the file's contents; if zero, the Reader's.
	SourceDate time.Time
	// MaxBadLines is the most bad lines an import accepts before it fails
	// (for a full file, before it changes the list). Default
	// DefaultMaxBadLines; negative: no limit.
	MaxBadLines int
	// NoBadLines makes the first bad line fail the import (MaxBadLines is
	// then not read): for files that must be read whole.
	NoBadLines bool
	// AllowEmpty lets a full file without a single number empty the list;
	// otherwise such a file (truncated, or not of the format) is refused.
	AllowEmpty bool
	// AllowOlder lets a file whose source date is before that of the list's
	// last finished import (in StatePath) be imported; otherwise it is
	// refused, since it would undo newer registrations. For a file scoped by
	// area code (a DNC full file), the dates compared are those of its own
	// area codes' last imports: the files of several area codes may go to
	// one list in any order.
	AllowOlder bool
	// Progress, if set, is called after each chunk and at the end.
	Progress func(Progress)
	// BadLine, if set, is called with each line that cannot be read.
	BadLine func(*LineError)
	// Now is the clock for rates and timestamps. Default time.Now.
	Now func() time.Time
}

// Validate reports the first option that cannot be used.
func (o Options) Validate() error {
	switch {
	case o.Chunk < 0:
		return filter.Errorf(filter.EInvalid, "", "import chunk (%d) must not be negative: use 0 for the default of %d", o.Chunk, DefaultChunk)
	case o.NoBadLines && o.MaxBadLines != 0:
		return filter.Errorf(filter.EInvalid, "", "no bad lines and at most %d bad lines: give one of the two", o.MaxBadLines)
	}
	return nil
}

func (o *Options) setDefaults() {
	o.Chunk = cmp.Or(o.Chunk, DefaultChunk)
	o.MaxBadLines = cmp.Or(o.MaxBadLines, DefaultMaxBadLines)
	if o.NoBadLines {
		o.MaxBadLines = 0
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Progress is a report on an import under way. Counts include those of the
// run that a resumed import continues.
type Progress struct {
	Phase   Phase
	Lines   int64 // lines read
	Numbers int64 // numbers read
	Bad     int64 // lines that could not be read
	Added   int64 // numbers added to the list
	Removed int64 // numbers removed from it
	// Rate is numbers read per second by this run.
	Rate    float64
	Elapsed time.Duration
}

// Result is what an import did.
type Result struct {
	List    string
	Format  string
	Kind    Kind
	Lines   int64
	Numbers int64
	Bad     int64
	// Added and Removed are the changes to the list (for a full file, net of
	// what it held already). After a resumed import they may be short by the
	// changes of a chunk acknowledged by the store but not yet checkpointed
	// when the earlier run stopped.
	Added   int64
	Removed int64
	// AreaCodes are the area codes a DNC full file replaced.
	AreaCodes  []int
	SourceDate time.Time
	Resumed    bool
	Elapsed    time.Duration
}

// Import reads r to its end and writes it to the named list of dst.
//
// A change file (KindChanges) is applied to the list as it goes, chunk by
// chunk; within a chunk the last line for a number wins, and chunks are
// applied in order, so a number added and then deleted ends up deleted.
//
// A full file (KindFull) replaces the list's contents (for a file scoped by
// area code, its contents in those area codes): it is read into the staging
// list <list>~staging (a variant of the list, filter.ListVariant); then the
// list and the staging list, both scanned in ascending order, are merged: the
// list's numbers outside the file's area codes are copied into the staging
// list, and the changes counted; then one store call, ReplaceList, makes the
// list the staging list, with the file's source date, and deletes the
// staging list. The list is written by that call only, which is atomic: a
// failure at any point before it (a bad or truncated file, too many bad
// lines, an empty file, a store error, ctx cancelled, a crash) leaves the
// list exactly as it was, and checks never see a mix of old and new. A number
// added to the list while the import runs is in the staging list only if the
// merge copied it, so the replace may drop it: one import per list at a time,
// and opt-outs belong in a list no file replaces. Running the import again
// completes it (with the state file it goes on from the phase it was in;
// without, the staging list is deleted and it starts over).
//
// A file's source date (Options.SourceDate, else the Reader's) is recorded
// as the list's (filter.ListStore.SetListSource), for the full and the change
// files, before the import is recorded as finished. A full file scoped by
// area code dates its area codes only: the state file keeps the date of each
// area code's last import, and the list's source date is the oldest of them,
// so that list_stale counts from the stalest part of the list.
//
// With Options.StatePath, a checkpoint (phase, line, byte offset, counts) is
// written after each chunk the store acknowledged, and a run with the same
// list, format and SourceID continues after the last checkpoint: the chunk
// being written when the earlier run stopped is written again, which is safe
// because adding and removing are idempotent. Once done, the state file
// records the import (counts, source date) and a later run starts afresh.
//
// Bad lines are counted, passed to Options.BadLine and skipped, up to
// Options.MaxBadLines. Errors from dst are returned wrapped; EInvalid for bad
// options, EConflict for a state file of another import or an older file.
func Import(ctx context.Context, dst Store, list string, r Reader, opts Options) (Result, error) {
	if err := cmp.Or(opts.Validate(), filter.ValidateListName(list), filter.ValidateReplace(list, list+StagingSuffix)); err != nil {
		return Result{}, err
	}
	opts.setDefaults()
	im := &importer{
		dst: dst, list: list, staging: list + StagingSuffix, r: r, opts: opts,
		start: opts.Now(),
		res:   Result{List: list, Format: r.Format(), Kind: r.Kind(), SourceDate: cmp.Or(opts.SourceDate, r.SourceDate())},
	}
	if err := im.run(ctx); err != nil {
		if im.full() && opts.StatePath == "" {
			// Nothing resumes from the staging list: free it (best effort;
			// the next import deletes it anyway).
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			_ = dst.DeleteList(dctx, im.staging)
			cancel()
		}
		im.res.Elapsed = opts.Now().Sub(im.start)
		return im.res, fmt.Errorf("import %s into list %s: %w", r.Format(), list, err)
	}
	im.res.Elapsed = opts.Now().Sub(im.start)
	return im.res, nil
}

type importer struct {
	dst           Store
	list, staging string
	r             Reader
	opts          Options
	start         time.Time
	runNumbers    int64 // numbers read by this run, for the rate
	res           Result
	phase         Phase
	areas         [1000]bool // area codes seen, for a full file scoped by them
	lastDate      time.Time  // source date of the list's last finished import
	// areaDates are the source dates of the last imports of each area code
	// (scoped full files), from the state file; nil without one.
	areaDates map[int]time.Time
	// record is what the state file keeps once the import is done.
	record struct {
		sourceDate time.Time
		areaDates  map[int]time.Time
	}
	v1Cleanup bool // resuming a version 1 checkpoint's cleanup phase
	// prior is the state file's record of the list's last finished import,
	// written back when this one is refused (refuse).
	prior *Checkpoint
}

func (im *importer) full() bool { return im.res.Kind == KindFull }

// scoped reports whether the import replaces the list in the file's area
// codes only.
func (im *importer) scoped() bool { return im.full() && im.r.ScopeByAreaCode() }

// checkAreaDates refuses a scoped full file dated before the last import of
// one of its area codes (unless AllowOlder): run once the file is read,
// before the list is touched.
func (im *importer) checkAreaDates() error {
	d := im.res.SourceDate
	if d.IsZero() || im.opts.AllowOlder {
		return nil
	}
	for _, a := range im.areaCodes() {
		if last, ok := im.areaDates[a]; ok && d.Before(last) {
			return filter.Errorf(filter.EConflict, "", "the file's source date %s is before that of area code %03d's last import (%s): importing it would undo newer changes (--allow-older imports it anyway); the list is unchanged", d.Format(time.DateOnly), a, last.Format(time.DateOnly))
		}
	}
	return nil
}

// listSourceDate is the source date the import gives the list: the file's;
// for a scoped file, the oldest of the file's and those of the other area
// codes on record. Zero for an undated file (the list keeps its own).
func (im *importer) listSourceDate() time.Time {
	d := im.res.SourceDate
	if d.IsZero() || !im.scoped() {
		return d
	}
	for a, last := range im.areaDates {
		if !im.areas[a] && last.Before(d) {
			d = last
		}
	}
	return d
}

// prepareRecord works out what the state file keeps of the finished import:
// the list's source date (an undated file leaves the last one on record) and
// the dates by area code. A scoped file dates its area codes; a whole-list
// file replaces them all, so their dates go; a change file brings the whole
// list up to its date.
func (im *importer) prepareRecord() {
	d := im.res.SourceDate
	im.record.sourceDate = cmp.Or(im.listSourceDate(), im.lastDate)
	switch {
	case d.IsZero():
		im.record.areaDates = im.areaDates
	case im.scoped():
		dates := maps.Clone(im.areaDates)
		if dates == nil {
			dates = map[int]time.Time{}
		}
		for _, a := range im.areaCodes() {
			dates[a] = d
		}
		im.record.areaDates = dates
	case im.full():
		im.record.areaDates = nil
	default:
		dates := maps.Clone(im.areaDates)
		for a, last := range dates {
			if last.Before(d) {
				dates[a] = d
			}
		}
		im.record.areaDates = dates
	}
}

func (im *importer) run(ctx context.Context) error {
	if k := im.res.Kind; k != KindFull && k != KindChanges {
		return fmt.Errorf("reader of kind %v: want full or changes", k)
	}
	im.phase = PhaseLoad
	if err := im.restore(); err != nil {
		return err
	}
	if im.phase == PhaseLoad {
		if !im.res.Resumed && im.full() {
			// A staging list left by an earlier import that was given up.
			if err := im.dst.DeleteList(ctx, im.staging); err != nil && filter.ErrorKind(err) != filter.ENotFound {
				return fmt.Errorf("delete the staging list %s left by an earlier import: %w", im.staging, err)
			}
		}
		if im.full() {
			// Created now, so that an empty file (AllowEmpty) replaces too.
			if _, err := im.dst.AddToList(ctx, im.staging, nil); err != nil {
				return fmt.Errorf("create the staging list %s: %w; the list is unchanged", im.staging, err)
			}
		}
		if err := im.checkpoint(); err != nil {
			return err
		}
		if err := im.load(ctx); err != nil {
			return err
		}
		if im.scoped() {
			if err := im.checkAreaDates(); err != nil {
				return im.refuse(ctx, err)
			}
		}
		if im.full() && im.res.Numbers == 0 && !im.opts.AllowEmpty {
			return im.refuse(ctx, filter.Errorf(filter.EInvalid, "", "the %s file has no numbers (%d lines, %d bad): it would empty the list; the list is unchanged (--allow-empty imports it anyway)", im.res.Format, im.res.Lines, im.res.Bad))
		}
		if !im.full() {
			if err := im.setSource(ctx); err != nil {
				return fmt.Errorf("%w (the changes are applied; a re-run applies them again, which is safe)", err)
			}
			return im.finish()
		}
		if err := im.enter(PhaseAdd); err != nil {
			return err
		}
	}
	if im.v1Cleanup {
		// An earlier build merged the list in place and was emptying the
		// staging list: finish that.
		if err := im.dst.DeleteList(ctx, im.staging); err != nil && filter.ErrorKind(err) != filter.ENotFound {
			return fmt.Errorf("delete the staging list %s (the list itself is imported; a re-run finishes): %w", im.staging, err)
		}
		if err := im.setSource(ctx); err != nil {
			return fmt.Errorf("%w (the list itself is imported; a re-run finishes)", err)
		}
		return im.finish()
	}
	if im.phase == PhaseAdd || im.phase == PhaseRemove {
		if err := im.keep(ctx); err != nil {
			return fmt.Errorf("copy the list's numbers outside the file's area codes to the staging list %s: %w; the list is unchanged (a re-run continues)", im.staging, err)
		}
		if err := im.enter(PhaseCleanup); err != nil {
			return err
		}
	}
	if err := im.replace(ctx); err != nil {
		return fmt.Errorf("replace the list with the staging list %s: %w (a re-run completes the import)", im.staging, err)
	}
	return im.finish()
}

// refuse undoes what a full import that is refused once its file is read
// (dated before the list's last import, or empty) has written, and returns
// err: the staging list is deleted and the state file holds the list's last
// finished import again (or is removed when there was none), so that the
// next import of the list is not taken for a continuation of this one.
func (im *importer) refuse(ctx context.Context, err error) error {
	if derr := im.dst.DeleteList(ctx, im.staging); derr != nil && filter.ErrorKind(derr) != filter.ENotFound {
		return fmt.Errorf("%w (and deleting the staging list %s failed: %v)", err, im.staging, derr)
	}
	if im.opts.StatePath == "" {
		return err
	}
	var serr error
	switch {
	case im.prior != nil:
		serr = writeCheckpoint(im.opts.StatePath, *im.prior)
	case !im.lastDate.IsZero() || len(im.areaDates) > 0:
		// A resumed import: its checkpoint kept the last finished one's dates.
		im.phase, im.record.sourceDate, im.record.areaDates = PhaseDone, im.lastDate, im.areaDates
		serr = im.checkpoint()
	default:
		if serr = os.Remove(im.opts.StatePath); errors.Is(serr, fs.ErrNotExist) {
			serr = nil
		}
	}
	if serr != nil {
		return fmt.Errorf("%w (and restoring the state file %s failed: %v; remove it before the next import)", err, im.opts.StatePath, serr)
	}
	return err
}

// setSource records the file's source date as the list's (what list_stale
// counts the list's age from), when the file has one. It runs before the
// import is recorded as finished, so a failure here is completed by a re-run.
// A change file counts too: applied to the list, it brings the list up to its
// date. A list no write created (a change file of removals only) is created.
func (im *importer) setSource(ctx context.Context) error {
	d := im.res.SourceDate
	if d.IsZero() {
		return nil
	}
	err := im.dst.SetListSource(ctx, im.list, d)
	if filter.ErrorKind(err) == filter.ENotFound {
		if _, err = im.dst.AddToList(ctx, im.list, nil); err == nil {
			err = im.dst.SetListSource(ctx, im.list, d)
		}
	}
	if err != nil {
		return fmt.Errorf("record the source date %s of list %s: %w", d.Format(time.DateOnly), im.list, err)
	}
	return nil
}

// restore reads the state file and, if it holds an unfinished import of the
// same input, continues it.
func (im *importer) restore() error {
	if im.opts.StatePath == "" {
		return nil
	}
	cp, ok, err := ReadCheckpoint(im.opts.StatePath)
	if err != nil || !ok {
		return err
	}
	if cp.Phase == PhaseDone {
		if cp.List != im.list {
			return nil
		}
		im.lastDate, im.areaDates, im.prior = cp.SourceDate, cp.AreaDates, &cp
		if im.scoped() && len(cp.AreaDates) > 0 {
			return nil // checked by area code once the file is read (checkAreaDates)
		}
		if d := im.res.SourceDate; !im.opts.AllowOlder && !d.IsZero() && d.Before(cp.SourceDate) {
			return filter.Errorf(filter.EConflict, "", "the file's source date %s is before that of the list's last import (%s): importing it would undo newer changes (--allow-older imports it anyway)", d.Format(time.DateOnly), cp.SourceDate.Format(time.DateOnly))
		}
		return nil
	}
	if cp.List != im.list || cp.Format != im.res.Format || cp.SourceID != im.opts.SourceID || cp.Kind != im.res.Kind.String() {
		return filter.Errorf(filter.EConflict, "", "state file %s holds an unfinished %s import into list %s (source %q, at line %d): finish it by running that import again, or remove the file to start over", im.opts.StatePath, cp.Format, cp.List, cp.SourceID, cp.Pos.Line)
	}
	switch cp.Phase {
	case PhaseLoad:
		if err := im.r.Skip(cp.Pos); err != nil {
			return fmt.Errorf("continue at line %d: %w", cp.Pos.Line, err)
		}
	case PhaseAdd, PhaseRemove, PhaseCleanup:
		if !im.full() {
			return fmt.Errorf("state file %s: phase %s of a change import", im.opts.StatePath, cp.Phase)
		}
	default:
		return fmt.Errorf("state file %s: unknown phase %q (remove the file to start over)", im.opts.StatePath, cp.Phase)
	}
	for _, a := range cp.AreaCodes {
		if a >= 200 && a < 1000 {
			im.areas[a] = true
		}
	}
	im.phase = cp.Phase
	im.v1Cleanup = cp.Version == 1 && cp.Phase == PhaseCleanup
	im.res.Resumed = true
	im.res.Lines, im.res.Numbers, im.res.Bad = cp.Lines, cp.Numbers, cp.Bad
	im.res.Added, im.res.Removed = cp.Added, cp.Removed
	im.res.SourceDate = cmp.Or(im.res.SourceDate, cp.SourceDate)
	im.lastDate, im.areaDates = cp.LastSourceDate, cp.AreaDates
	return nil
}

func (im *importer) areaCodes() []int {
	var out []int
	for a, ok := range im.areas {
		if ok {
			out = append(out, a)
		}
	}
	return out
}

func (im *importer) checkpoint() error {
	if im.opts.StatePath == "" {
		return nil
	}
	cp := Checkpoint{
		Version: checkpointVersion, List: im.list, Format: im.res.Format, SourceID: im.opts.SourceID,
		Kind: im.res.Kind.String(), Phase: im.phase, Pos: im.r.Pos(),
		Lines: im.res.Lines, Numbers: im.res.Numbers, Bad: im.res.Bad,
		Added: im.res.Added, Removed: im.res.Removed,
		AreaCodes: im.areaCodes(), SourceDate: im.res.SourceDate, LastSourceDate: im.lastDate,
		AreaDates: im.areaDates, Updated: im.opts.Now().UTC(),
	}
	if im.phase == PhaseDone {
		// The record of the list's last import, which the next one reads.
		cp.SourceDate, cp.LastSourceDate, cp.AreaDates = im.record.sourceDate, time.Time{}, im.record.areaDates
	}
	return writeCheckpoint(im.opts.StatePath, cp)
}

func (im *importer) enter(p Phase) error {
	im.phase = p
	im.progress()
	return im.checkpoint()
}

func (im *importer) finish() error {
	if im.r.ScopeByAreaCode() && im.full() {
		im.res.AreaCodes = im.areaCodes()
	}
	im.phase = PhaseDone
	im.prepareRecord()
	im.progress()
	return im.checkpoint()
}

func (im *importer) progress() {
	if im.opts.Progress == nil {
		return
	}
	el := im.opts.Now().Sub(im.start)
	p := Progress{
		Phase: im.phase, Lines: im.res.Lines, Numbers: im.res.Numbers, Bad: im.res.Bad,
		Added: im.res.Added, Removed: im.res.Removed, Elapsed: el,
	}
	if el > 0 {
		p.Rate = float64(im.runNumbers) / el.Seconds()
	}
	im.opts.Progress(p)
}

// load reads the file, writing it in chunks to the list (change file) or the
// staging list (full file).
func (im *importer) load(ctx context.Context) error {
	keys := make([]uint64, 0, im.opts.Chunk)
	var recs []Record
	if !im.full() {
		recs = make([]Record, 0, im.opts.Chunk)
	}
	scoped := im.r.ScopeByAreaCode()
	for {
		rec, err := im.r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var le *LineError
		if errors.As(err, &le) {
			im.res.Bad++
			if im.opts.BadLine != nil {
				im.opts.BadLine(le)
			}
			if im.opts.MaxBadLines >= 0 && im.res.Bad > int64(im.opts.MaxBadLines) {
				return filter.Errorf(filter.EInvalid, "", "more than %d bad lines (the last: %v): is the file of the %s format? %s", im.opts.MaxBadLines, le, im.res.Format, im.unchanged())
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("%w; %s", err, im.unchanged())
		}
		im.res.Numbers++
		im.runNumbers++
		if im.full() {
			if scoped {
				a, ok := areaCodeOf(rec.Key)
				if !ok {
					return fmt.Errorf("line %d: a number outside the NANP in a file scoped by area code; %s", im.r.Pos().Line, im.unchanged())
				}
				im.areas[a] = true
			}
			keys = append(keys, rec.Key)
			if len(keys) == cap(keys) {
				if err := im.flushFull(ctx, keys); err != nil {
					return err
				}
				keys = keys[:0]
			}
			continue
		}
		recs = append(recs, rec)
		if len(recs) == cap(recs) {
			if err := im.flushChanges(ctx, recs, keys); err != nil {
				return err
			}
			recs = recs[:0]
		}
	}
	if im.full() {
		return im.flushFull(ctx, keys)
	}
	return im.flushChanges(ctx, recs, keys)
}

// unchanged says what state a failed load left the list in.
func (im *importer) unchanged() string {
	if im.full() {
		return "the list is unchanged"
	}
	return fmt.Sprintf("the changes up to line %d are applied (a re-run with the same state file continues there)", im.res.Lines)
}

func (im *importer) flushFull(ctx context.Context, keys []uint64) error {
	if len(keys) > 0 {
		if _, err := im.dst.AddToList(ctx, im.staging, keys); err != nil {
			return fmt.Errorf("write to the staging list %s at line %d: %w; the list is unchanged", im.staging, im.r.Pos().Line, err)
		}
	}
	return im.acknowledged(ctx)
}

// flushChanges applies a chunk of change records: the last record of each
// number wins; additions go first (the safe order should the removals fail).
func (im *importer) flushChanges(ctx context.Context, recs []Record, buf []uint64) error {
	if len(recs) > 0 {
		slices.SortStableFunc(recs, func(a, b Record) int { return cmp.Compare(a.Key, b.Key) })
		adds := buf[:0]
		var removes []uint64
		for i, rec := range recs {
			if i+1 < len(recs) && recs[i+1].Key == rec.Key {
				continue
			}
			if rec.Op == OpRemove {
				removes = append(removes, rec.Key)
			} else {
				adds = append(adds, rec.Key)
			}
		}
		if len(adds) > 0 {
			n, err := im.dst.AddToList(ctx, im.list, adds)
			im.res.Added += int64(n)
			if err != nil {
				return fmt.Errorf("add to the list before line %d: %w", im.r.Pos().Line, err)
			}
		}
		if len(removes) > 0 {
			n, err := im.dst.RemoveFromList(ctx, im.list, removes)
			im.res.Removed += int64(n)
			if err != nil {
				return fmt.Errorf("remove from the list before line %d: %w", im.r.Pos().Line, err)
			}
		}
	}
	return im.acknowledged(ctx)
}

// acknowledged records a written chunk: checkpoint, then progress.
func (im *importer) acknowledged(ctx context.Context) error {
	im.res.Lines = im.r.Pos().Line
	if err := im.checkpoint(); err != nil {
		return err
	}
	im.progress()
	return ctx.Err()
}
