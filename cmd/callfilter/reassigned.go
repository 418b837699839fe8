package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
	"unicode"

	"callfilter/dnc"
	"callfilter/filter"
	"callfilter/service"
)

// reassignedChunk is how many rows go to the service per import call (its
// MaxListEdit default).
const reassignedChunk = 100_000

// importReassignedCmd loads a reassigned-numbers feed: CSV rows of number,
// disconnect date (RFC 3339 or YYYY-MM-DD). Only the keyed hash of each
// number is stored. Bad rows are reported with their line and the rest go on.
func importReassignedCmd(args []string, stdout, stderr io.Writer) error {
	fs, cfgPath := flags("import-reassigned", stderr)
	region := fs.String("region", "", "region for numbers without a country code (default: the config's default_region)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: callfilter import-reassigned [--region US] FILE.csv (rows: number,disconnected date; - for standard input)")
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	if *region == "" {
		*region = cfg.DefaultRegion
	}
	in := io.Reader(os.Stdin)
	if name := fs.Arg(0); name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	st, err := openStore(ctx, cfg)
	if err != nil {
		return fmt.Errorf("%w (a running callfilter holds the store: stop it, or send the rows to POST /v1/reassigned)", err)
	}
	defer st.Close()
	secret, err := hmacSecret(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return err
	}
	rs, err := filter.LoadRules(cfg.path(cfg.Rules))
	if err != nil {
		return err
	}
	lists := dnc.New(st, dnc.Options{}) // not loaded: the import touches no list
	defer lists.Close()
	svc, err := service.New(st, lists, rs, service.Options{DefaultRegion: cfg.DefaultRegion, Hasher: filter.NewHasher(secret)})
	if err != nil {
		return err
	}
	var rows, accepted, rejected int
	err = readReassigned(in, stderr, &rejected, func(batch []service.ReassignedInput, lines []int) error {
		rows += len(batch)
		res, err := svc.ImportReassigned(ctx, batch, *region)
		if err != nil {
			return err
		}
		accepted += res.Accepted
		for _, r := range res.Rejected {
			rejected++
			fmt.Fprintf(stderr, "line %d: %s: %s\n", lines[r.Index], r.Code, r.Message)
		}
		return nil
	})
	fmt.Fprintf(stdout, "reassigned: %d rows read, %d disconnects recorded, %d rejected\n", rows, accepted, rejected)
	return err
}

// readReassigned reads number,date rows, calling flush with at most
// reassignedChunk rows and the line of each. A first row whose date cannot
// be read but whose first cell has letters is a header. Rows that are not
// CSV or whose date cannot be read are reported and counted in rejected.
func readReassigned(in io.Reader, stderr io.Writer, rejected *int, flush func([]service.ReassignedInput, []int) error) error {
	r := csv.NewReader(bufio.NewReaderSize(in, 1<<16))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	batch := make([]service.ReassignedInput, 0, 1024)
	var lines []int
	first := true
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := r.FieldPos(0)
		if err != nil {
			*rejected++
			fmt.Fprintf(stderr, "line %d: %v\n", line, err)
			continue
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // a blank line
		}
		var at time.Time
		var dateErr error
		if len(rec) < 2 {
			dateErr = errors.New("want two columns: number,disconnected date")
		} else {
			at, dateErr = parseDate(strings.TrimSpace(rec[1]))
		}
		if dateErr != nil {
			if first && strings.ContainsFunc(rec[0], unicode.IsLetter) {
				first = false
				continue // a header
			}
			*rejected++
			fmt.Fprintf(stderr, "line %d: %v\n", line, dateErr)
			first = false
			continue
		}
		first = false
		batch = append(batch, service.ReassignedInput{Number: strings.TrimSpace(rec[0]), DisconnectedAt: at})
		lines = append(lines, line)
		if len(batch) == reassignedChunk {
			if err := flush(batch, lines); err != nil {
				return err
			}
			batch, lines = batch[:0], lines[:0]
		}
	}
	if len(batch) > 0 {
		return flush(batch, lines)
	}
	return nil
}

// parseDate reads an RFC 3339 instant or a date (midnight UTC).
func parseDate(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("disconnected date %q is neither RFC 3339 (2026-11-18T15:00:00Z) nor a date (2026-11-18)", s)
}
