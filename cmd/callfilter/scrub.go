package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"

	"callfilter/audit"
	"callfilter/dnc"
	"callfilter/filter"
	"callfilter/phone"
	"callfilter/scrub"
	"callfilter/service"
)

const scrubUsage = "usage: callfilter scrub IN.csv|- -o OUT.csv|- --purpose P --channel call|sms [--seller S] [--region US] [--column C] [--at RFC3339] [--charset gbk]"

// scrubCmd scrubs a CSV file locally against the configured store, with a
// progress bar on stderr and a summary table at the end.
func scrubCmd(args []string, stdout, stderr io.Writer) (err error) {
	fs, cfgPath := flags("scrub", stderr)
	outPath := fs.String("o", "", "output file, - for standard output (required)")
	purpose := fs.String("purpose", "", "purpose of the contact (e.g. insurance, housing)")
	channel := fs.String("channel", "call", "call or sms")
	seller := fs.String("seller", "", "the seller")
	region := fs.String("region", "", "region for numbers without a country code (default: the config's default_region)")
	column := fs.String("column", "", "phone column: header name or 1-based index (default: detected)")
	atFlag := fs.String("at", "", "decide at this instant (RFC 3339; default now)")
	charset := fs.String("charset", "", "input encoding: utf-8 (default) or gbk")
	quiet := fs.Bool("quiet", false, "no progress bar")
	tempDir := fs.String("temp-dir", "", "where the duplicate set spills past its memory budget (default: the system's temporary directory)")
	dupMiB := fs.Int("dup-memory-mib", 0, "memory budget of the duplicate set in MiB (default: the config's scrub.duplicate_memory_mib, else 64); past it, it spills to --temp-dir")
	// Flags may come before or after the input file.
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) != 1 || *outPath == "" || *purpose == "" {
		return errors.New(scrubUsage)
	}
	var at time.Time
	if *atFlag != "" {
		if at, err = time.Parse(time.RFC3339, *atFlag); err != nil {
			return fmt.Errorf("--at %q: use RFC 3339, e.g. 2026-11-18T15:00:00Z", *atFlag)
		}
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	if *region == "" {
		*region = cfg.DefaultRegion
	}

	in := io.Reader(os.Stdin)
	size := int64(-1)
	if pos[0] != "-" {
		f, err := os.Open(pos[0])
		if err != nil {
			return err
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil {
			size = st.Size()
		}
		in = f
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	svc, closeSvc, err := openLocalService(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeSvc()
	sc, err := svc.Scrubber(service.ScrubInput{Purpose: *purpose, Channel: *channel, Seller: *seller, Region: *region, At: at})
	if err != nil {
		return err
	}

	out := io.Writer(stdout)
	var outFile *os.File
	if *outPath != "-" {
		if outFile, err = os.Create(*outPath); err != nil {
			return err
		}
		defer func() {
			if cerr := outFile.Close(); cerr != nil && err == nil {
				err = cerr
			}
		}()
		out = outFile
	}
	counter := &countingReader{r: in}
	var bar *progressbar.ProgressBar
	if !*quiet {
		bar = newProgressBar(stderr, size, "scrubbing")
	}
	start := time.Now()
	sum, err := scrub.Run(ctx, counter, out, scrub.Options{
		Decider: sc,
		Region:  *region,
		Column:  *column,
		Charset: *charset,
		TempDir: *tempDir,
		// DuplicateMemory 0 is the package default.
		DuplicateMemory: int64(cmp.Or(*dupMiB, cfg.Scrub.DuplicateMemoryMiB)) << 20,
		Progress: func(s *scrub.Summary) {
			if bar != nil {
				bar.Describe(fmt.Sprintf("%d rows", s.Rows))
				_ = bar.Set64(counter.n.Load())
			}
		},
	})
	if bar != nil {
		_ = bar.Finish()
	}
	if sum == nil {
		return err
	}
	if err == nil {
		// The actor of a local scrub is the command line, not an API key.
		if rerr := sc.Record(service.WithActor(ctx, "cli"), sum.Totals()); rerr != nil {
			err = fmt.Errorf("the scrub is written but its summary could not be audited: %w", rerr)
		}
	}
	report := stdout
	if *outPath == "-" {
		report = stderr
	}
	took := time.Since(start)
	fmt.Fprintf(report, "scrubbed %s for %s by %s at %s (rules %s) in %v, %.0f rows/s; column %d %q\n",
		pos[0], *purpose, *channel, sc.At().UTC().Format(time.RFC3339), sc.RulesVersion(), took.Round(time.Millisecond),
		float64(sum.Rows)/took.Seconds(), sum.Column, sum.ColumnName)
	fmt.Fprint(report, sum.String())
	fmt.Fprintln(report, "note: frequency caps are not applied by a scrub; they are checked at dial time")
	return err
}

// openLocalService builds the service over the configured store, with its
// lists loaded, for a command that runs without the server.
func openLocalService(ctx context.Context, cfg Config) (*service.Service, func(), error) {
	return openLocal(ctx, cfg, true, "POST /v1/scrub")
}

// openLocal builds the service over the configured store for a command run
// without the server: with the rules in force and the audit trail, and the
// lists' filters loaded when loadLists (a command that decides nothing, such
// as keys, skips the load). instead names what to use while a server holds
// the embedded store.
func openLocal(ctx context.Context, cfg Config, loadLists bool, instead string) (*service.Service, func(), error) {
	rs, err := loadRules(cfg)
	if err != nil {
		return nil, nil, err
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("%w (a running callfilter holds the embedded store: stop it, or use %s)", err, instead)
	}
	secret, err := hmacSecret(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	lists := dnc.New(st, dnc.Options{FalsePositiveRate: cfg.Bloom.FalsePositiveRate})
	closeAll := func() {
		lists.Close()
		st.Close()
	}
	if loadLists {
		phone.Warm()
		if err := lists.Load(ctx, rs.ListNames()); err != nil {
			closeAll()
			return nil, nil, err
		}
	}
	svc, err := service.New(st, lists, rs, service.Options{
		DefaultRegion: cfg.DefaultRegion,
		Hasher:        filter.NewHasher(secret),
		ExactLists:    cfg.Store.Kind != "embedded",
	})
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	// As in serve: the rules in force are the store's current revision (an
	// officer's edit, not the file), and the scrub's summary is audited.
	off := service.OfficerOptions{LoadLists: lists.Load}
	off.RulesStore, _ = st.(filter.RulesStore)
	if as, ok := st.(filter.AuditStore); ok {
		w, err := audit.NewWriter(as, audit.Options{Retention: time.Duration(cfg.Audit.Retention)})
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		off.Auditor, off.AuditStore = w, as
		closeStore := closeAll
		closeAll = func() {
			w.Close(10 * time.Second)
			closeStore()
		}
	}
	svc.SetOfficer(off)
	if _, err := svc.InitRules(ctx); err != nil {
		closeAll()
		return nil, nil, fmt.Errorf("rules in the store: %w", err)
	}
	return svc, closeAll, nil
}

// countingReader counts the bytes read through it, for the progress bar.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// newProgressBar is the progress bar of the long commands (scrub, import) on
// stderr: bytes of the input read out of size (-1: unknown), with a rate and
// an estimate, cleared when done.
func newProgressBar(stderr io.Writer, size int64, desc string) *progressbar.ProgressBar {
	return progressbar.NewOptions64(size,
		progressbar.OptionSetWriter(stderr),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowBytes(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionClearOnFinish(),
	)
}
