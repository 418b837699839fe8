package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"

	"callfilter/filter"
	"callfilter/listfeed"
)

const importUsage = `usage: callfilter import [--config config.yaml] --list NAME [--format F] [options] FILE|-

An interrupted or failed import of a file resumes where it stopped when run again with the
same file and state file; standard input (-) has no state file and is not resumable.

  --format dnc|dnc-change|tps|ctps|state|litigator|csv   the file's layout (default csv:
        one number per line, or a CSV column, added to the list)
  --region CC        region of numbers without a country code (state, litigator, csv;
        csv defaults to the config's default_region, the others to US)
  --column NAME | --index N   the number's CSV column, by header name or from 1
  --op add|remove    what a dnc-change, tps or ctps file without a flag per line holds
  --full | --additions   a state, litigator or csv file replaces the list / adds to it
  --source-date YYYY-MM-DD   the date of the file's contents (default: a date in its name)
  --state FILE       checkpoint and record of the list's last import (default:
        import-NAME.json beside the embedded store; in the current directory with Redis)
  --max-bad N        most bad lines before the import fails (default 1000; 0 none; -1 no limit)
  --allow-empty      let a full file without numbers empty the list
  --allow-older      import a file dated before the list's last import
  --chunk N          numbers per store write and checkpoint (default 100000)
  --quiet            no progress bar`

// importCmd loads a list file into the store through listfeed, with a progress
// bar on stderr and a summary on stdout.
func importCmd(args []string, stdout, stderr io.Writer) error {
	fs, cfgPath := flags("import", stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, importUsage) }
	format := fs.String("format", "csv", "the file's layout: "+strings.Join(listfeed.Formats, ", "))
	list := fs.String("list", "", "the list to import into (e.g. national, tps, internal)")
	region := fs.String("region", "", "region for numbers without a country code")
	column := fs.String("column", "", "header name of the number's CSV column")
	index := fs.Int("index", 0, "position of the number's CSV column, from 1")
	opFlag := fs.String("op", "", "add or remove: what a change file without a flag per line holds")
	full := fs.Bool("full", false, "the state, litigator or csv file replaces the list")
	additions := fs.Bool("additions", false, "the state, litigator or csv file adds to the list")
	sourceDate := fs.String("source-date", "", "date of the file's contents, YYYY-MM-DD")
	statePath := fs.String("state", "", "state file (checkpoint and last import)")
	maxBad := fs.Int("max-bad", listfeed.DefaultMaxBadLines, "most bad lines accepted; 0 none, -1 no limit")
	allowEmpty := fs.Bool("allow-empty", false, "let a full file without numbers empty the list")
	allowOlder := fs.Bool("allow-older", false, "import a file dated before the list's last import")
	chunk := fs.Int("chunk", listfeed.DefaultChunk, "numbers per store write and checkpoint")
	quiet := fs.Bool("quiet", false, "no progress bar")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if *list == "" || len(pos) != 1 {
		return errors.New(importUsage)
	}
	path := pos[0]
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	fc := listfeed.Config{Region: *region, Column: *column, Index: *index, Full: *full, Additions: *additions}
	if path != "-" {
		fc.Name = path
	}
	if *opFlag != "" {
		if fc.Op, err = listfeed.ParseOp(*opFlag); err != nil {
			return fmt.Errorf("--op: %w", err)
		}
	}
	opts := listfeed.Options{MaxBadLines: *maxBad, AllowEmpty: *allowEmpty, AllowOlder: *allowOlder, Chunk: *chunk}
	if *maxBad == 0 {
		opts.MaxBadLines, opts.NoBadLines = 0, true // listfeed's 0 is its default
	}
	if *sourceDate != "" {
		if opts.SourceDate, err = time.Parse(time.DateOnly, *sourceDate); err != nil {
			return fmt.Errorf("--source-date %q: write it YYYY-MM-DD, e.g. 2026-11-30", *sourceDate)
		}
	}
	switch {
	case !slices.Contains(listfeed.Formats, *format):
		return fmt.Errorf("--format %q: use one of %s", *format, strings.Join(listfeed.Formats, ", "))
	case set["region"] && !isCSVFormat(*format):
		// listfeed ignores it there: the file's country is fixed.
		return fmt.Errorf("--region is for state, litigator and csv files: %s files hold %s numbers", *format, fixedRegion(*format))
	case *chunk < 1:
		return fmt.Errorf("--chunk %d: give at least 1", *chunk)
	case path == "-" && set["state"]:
		return errors.New("--state: standard input cannot be resumed; import from a file to keep a state file")
	}

	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	if *format == "csv" && fc.Region == "" {
		fc.Region = cfg.DefaultRegion // as the import did before it had formats
	}

	var in io.Reader // what listfeed reads: the *os.File itself, so that a resume seeks
	var where func() int64
	size := int64(-1)
	if path == "-" {
		counter := &countingReader{r: os.Stdin}
		in, where = counter, counter.n.Load
	} else {
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("open the list file: %w", err)
		}
		defer f.Close()
		if fi, err := f.Stat(); err == nil {
			size = fi.Size()
		}
		if opts.SourceID, err = listfeed.FileID(path); err != nil {
			return err
		}
		in = f
		where = func() int64 {
			// The reader buffers ahead; the file's offset is close enough for a bar.
			off, _ := f.Seek(0, io.SeekCurrent)
			return off
		}
		opts.StatePath = *statePath
		if opts.StatePath == "" {
			opts.StatePath = defaultStatePath(cfg, *list)
		}
	}
	rd, err := listfeed.New(*format, in, fc)
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// After the first signal the chunk under way is finished; a second one
	// kills at once.
	context.AfterFunc(ctx, stop)
	st, err := openStore(ctx, cfg)
	if err != nil {
		return fmt.Errorf("%w (a running callfilter holds the embedded store: stop it, or add numbers with POST /v1/lists/%s/numbers)", err, *list)
	}
	defer st.Close()

	var bar *progressbar.ProgressBar
	if !*quiet {
		bar = newProgressBar(stderr, size, "importing")
	}
	var last listfeed.Progress
	opts.Progress = func(p listfeed.Progress) {
		last = p
		if bar != nil {
			_ = bar.Set64(where())
			bar.Describe(fmt.Sprintf("%s %s: %d numbers, %d added, %d removed", rd.Format(), p.Phase, p.Numbers, p.Added, p.Removed))
		}
	}
	opts.BadLine = func(le *listfeed.LineError) {
		if bar != nil {
			_ = bar.Clear() // the bar redraws on the next chunk
		}
		fmt.Fprintln(stderr, le)
	}
	res, err := listfeed.Import(ctx, uninterrupted{st}, *list, rd, opts)
	if bar != nil {
		_ = bar.Finish()
	}
	if err != nil {
		if last.Phase != "" { // it got somewhere: say how far
			fmt.Fprintln(stdout, importSummary(res, "stopped", last.Rate))
		}
		return importFailure(err, res, last.Phase, opts.StatePath)
	}
	fmt.Fprintln(stdout, importSummary(res, "done", last.Rate))
	return nil
}

// parseInterspersed parses fs from args with flags before or after the
// positional arguments, which it returns.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// fixedRegion is the country of the numbers of a format that is not CSV.
func fixedRegion(format string) string {
	if strings.HasPrefix(format, "dnc") {
		return "US"
	}
	return "GB"
}

func isCSVFormat(format string) bool {
	return format == "state" || format == "litigator" || format == "csv"
}

// defaultStatePath is import-<list>.json beside the embedded store, which is
// where its data lives; with Redis there is no local data directory, so it is
// the current directory.
func defaultStatePath(cfg Config, list string) string {
	name := "import-" + strings.Map(func(r rune) rune {
		if r < 0x80 && (r == '-' || r == '_' || r == '.' || '0' <= r && r <= '9' || 'a' <= r|0x20 && r|0x20 <= 'z') {
			return r
		}
		return '_' // a list name may hold anything; a file name may not
	}, list) + ".json"
	if cfg.Store.Kind == "redis" {
		return name
	}
	return filepath.Join(filepath.Dir(cfg.path(cfg.Store.Path)), name)
}

// importSummary is the line printed at the end of an import.
func importSummary(res listfeed.Result, status string, rate float64) string {
	if res.Resumed {
		status += ", resumed"
	}
	date := "unknown"
	if !res.SourceDate.IsZero() {
		date = res.SourceDate.Format(time.DateOnly)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "import %s into list %s: %s; source date %s; %d lines, %d numbers, %d added, %d removed, %d bad lines; %.0f numbers/s, %v",
		res.Format, res.List, status, date, res.Lines, res.Numbers, res.Added, res.Removed, res.Bad, rate, res.Elapsed.Round(time.Millisecond))
	if len(res.AreaCodes) > 0 {
		codes := make([]string, len(res.AreaCodes))
		for i, a := range res.AreaCodes {
			codes[i] = strconv.Itoa(a)
		}
		fmt.Fprintf(&b, "; area codes replaced: %s", strings.Join(codes, ", "))
	}
	return b.String()
}

// importFailure says what a failed import left and what to do next.
func importFailure(err error, res listfeed.Result, phase listfeed.Phase, statePath string) error {
	again := "a re-run starts over (standard input has no checkpoint), which is safe: adding and removing are idempotent"
	if statePath != "" {
		again = "the checkpoint in " + statePath + " keeps the progress: run the same command again to resume"
	}
	switch {
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("import interrupted in the %s phase after line %d; %s", phase, res.Lines, again)
	case filter.ErrorKind(err) == filter.EInvalid || filter.ErrorKind(err) == filter.EConflict:
		return err // the file or the command line needs fixing, and the error says how
	}
	return fmt.Errorf("%w; %s", err, again)
}

// uninterrupted lets the store write under way finish when the import's
// context is cancelled: Import checks the context after each chunk, so a
// signal stops it at a chunk boundary with the checkpoint naming every chunk
// written. Scans still stop at once. The stores bound each call themselves.
type uninterrupted struct{ listfeed.Store }

func (s uninterrupted) AddToList(ctx context.Context, list string, keys []uint64) (int, error) {
	return s.Store.AddToList(context.WithoutCancel(ctx), list, keys)
}

func (s uninterrupted) RemoveFromList(ctx context.Context, list string, keys []uint64) (int, error) {
	return s.Store.RemoveFromList(context.WithoutCancel(ctx), list, keys)
}

func (s uninterrupted) SetListSource(ctx context.Context, list string, sourceDate time.Time) error {
	return s.Store.SetListSource(context.WithoutCancel(ctx), list, sourceDate)
}

// ReplaceList is the import's one step that changes the live list: a signal
// must not cut its reply short (the re-run would have to work out whether it
// happened).
func (s uninterrupted) ReplaceList(ctx context.Context, list, from string) (filter.ListInfo, error) {
	return s.Store.ReplaceList(context.WithoutCancel(ctx), list, from)
}
