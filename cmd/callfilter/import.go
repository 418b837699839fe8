package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"unicode"

	"callfilter/phone"
)

// importChunk is how many numbers go to the store per write: big enough to
// amortise the fsync, small enough to bound memory.
const importChunk = 100_000

func importCmd(args []string, stdout, stderr io.Writer) error {
	fs, cfgPath := flags("import", stderr)
	list := fs.String("list", "", "the list to add the numbers to (e.g. national, internal)")
	region := fs.String("region", "", "region for numbers without a country code (default: the config's default_region)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *list == "" || fs.NArg() != 1 {
		return errors.New("usage: callfilter import --list NAME [--region US] FILE (or - for standard input)")
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
	st, err := openStore(context.Background(), cfg)
	if err != nil {
		return fmt.Errorf("%w (a running callfilter holds the store: stop it, or add numbers with POST /v1/lists/%s/numbers)", err, *list)
	}
	defer st.Close()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	var sum importSummary
	err = readNumbers(in, *region, &sum, stderr, func(keys []uint64) error {
		added, err := st.AddToList(ctx, *list, keys)
		sum.added += added
		return err
	})
	fmt.Fprintf(stdout, "list %s: %d rows read, %d numbers accepted, %d added, %d already listed, %d rejected\n",
		*list, sum.rows, sum.accepted, sum.added, sum.accepted-sum.added, sum.rejected)
	return err
}

type importSummary struct {
	rows, accepted, added, rejected int
}

// readNumbers reads one number per line, or the first column of a CSV file,
// reporting each unreadable row with its line number and going on; a first
// line that is not a number but has letters is taken as a header.
func readNumbers(in io.Reader, region string, sum *importSummary, stderr io.Writer, flush func([]uint64) error) error {
	r := csv.NewReader(bufio.NewReaderSize(in, 1<<16))
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	r.LazyQuotes = true
	keys := make([]uint64, 0, importChunk)
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := r.FieldPos(0)
		if err != nil {
			sum.rejected++
			fmt.Fprintf(stderr, "line %d: %v\n", line, err)
			continue
		}
		sum.rows++
		raw := strings.TrimSpace(rec[0])
		if raw == "" && len(rec) == 1 {
			sum.rows-- // a blank line is not a row
			continue
		}
		n, err := phone.ParseKey(raw, region)
		if err != nil {
			if sum.rows == 1 && strings.IndexFunc(raw, unicode.IsLetter) >= 0 {
				sum.rows--
				continue
			}
			sum.rejected++
			fmt.Fprintf(stderr, "line %d: %v\n", line, err)
			continue
		}
		sum.accepted++
		keys = append(keys, n.Key)
		if len(keys) == cap(keys) {
			if err := flush(keys); err != nil {
				return err
			}
			keys = keys[:0]
		}
	}
	if len(keys) > 0 {
		return flush(keys)
	}
	return nil
}
