package main

import (
	"errors"
	"flag"
	"io"
	"os"

	"callfilter/scrub"
)

// genCmd writes a generated messy lead list, for benchmarks and trials.
func genCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rows := fs.Int("rows", 1000, "data rows to generate")
	seed := fs.Uint64("seed", 1, "random seed (the same seed gives the same file)")
	full := fs.Bool("full", false, "make every number need the full parser (international numbers)")
	outPath := fs.String("o", "-", "output file, - for standard output")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *rows < 0 || fs.NArg() > 0 {
		return errors.New("usage: callfilter gen --rows N [--seed S] [--full] [-o FILE]")
	}
	if *outPath == "-" {
		return scrub.Generate(stdout, scrub.GenOptions{Rows: *rows, Seed: *seed, Full: *full})
	}
	f, err := os.Create(*outPath)
	if err != nil {
		return err
	}
	if err := scrub.Generate(f, scrub.GenOptions{Rows: *rows, Seed: *seed, Full: *full}); err != nil {
		f.Close()
		return err
	}
	return f.Close() // a full disk shows here
}
