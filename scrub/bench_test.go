package scrub_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"io"
	"testing"
	"time"

	"callfilter/filter"
	"callfilter/scrub"
	"callfilter/service"
)

func benchScrub(b *testing.B, d scrub.Decider, gen scrub.GenOptions) {
	rows := 200_000
	// A cold list is new to the process in every iteration: one file per
	// iteration, each with seeds no other file of the run had (the fast
	// path's cache is the process's, and a benchmark runs more than once).
	files, seed := 1, uint64(1)
	if gen.ColdIntl {
		rows, files = 20_000, b.N
		seed, coldSeeds = coldSeeds, coldSeeds+uint64(b.N)
	}
	ins := make([][]byte, files)
	for i := range ins {
		var in bytes.Buffer
		gen.Rows, gen.Seed = rows, seed+uint64(i)
		if err := scrub.Generate(&in, gen); err != nil {
			b.Fatal(err)
		}
		ins[i] = in.Bytes()
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(ins[0])))
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		in := ins[i%len(ins)]
		if _, err := scrub.Run(context.Background(), bytes.NewReader(in), io.Discard, scrub.Options{Decider: d}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
	if cpu := cpuTime() - cpu0; cpu > 0 {
		// Rows per CPU second: the speed per core, whatever else runs.
		b.ReportMetric(float64(rows*b.N)/cpu.Seconds(), "rows/cpu-s")
	}
}

// coldSeeds is the next seed of a cold list not yet generated in this run.
var coldSeeds uint64 = 1 << 32

// The generated lists: the usual mix (~85% NANP in varied forms, ~5%
// international, unreadable, empty and repeated cells), NANP only (the best
// case), and every number international.
var (
	mostlyNANP = scrub.GenOptions{}
	nanpOnly   = scrub.GenOptions{NANPOnly: true}
	fullParser = scrub.GenOptions{Full: true}
	coldIntl   = scrub.GenOptions{ColdIntl: true}
	coldNANP   = scrub.GenOptions{ColdNANP: true}
)

// BenchmarkScrub decides generated rows (insurance by call: no store reads
// unless a bloom says maybe) against BenchmarkParseOnly, the baseline of
// reading the CSV and normalizing, in the same run.
func BenchmarkScrub(b *testing.B) {
	svc := mustService(b)
	b.Run("nanp", func(b *testing.B) { benchScrub(b, mustScrubber(b, svc, "insurance", "call"), mostlyNANP) })
	b.Run("nanp-only", func(b *testing.B) { benchScrub(b, mustScrubber(b, svc, "insurance", "call"), nanpOnly) })
	b.Run("full-parser", func(b *testing.B) { benchScrub(b, mustScrubber(b, svc, "insurance", "call"), fullParser) })
	b.Run("cold-intl", func(b *testing.B) { benchScrub(b, mustScrubber(b, svc, "insurance", "call"), coldIntl) })
}

func BenchmarkParseOnly(b *testing.B) {
	b.Run("nanp", func(b *testing.B) { benchScrub(b, scrub.ParseOnly{Region: "US"}, mostlyNANP) })
	b.Run("nanp-only", func(b *testing.B) { benchScrub(b, scrub.ParseOnly{Region: "US"}, nanpOnly) })
	b.Run("full-parser", func(b *testing.B) { benchScrub(b, scrub.ParseOnly{Region: "US"}, fullParser) })
	b.Run("cold-intl", func(b *testing.B) { benchScrub(b, scrub.ParseOnly{Region: "US"}, coldIntl) })
}

// BenchmarkScrubVsParseOnly is the ratio measured in step: each
// iteration scrubs the list and parses it (read CSV + normalize, no
// decision), alternately, so that both see the same machine (on a shared
// one, separate benchmarks a few seconds apart differ by more than the
// decision costs). It reports each one's rows per CPU-second and the ratio.
func BenchmarkScrubVsParseOnly(b *testing.B) {
	svc := mustService(b)
	for _, c := range []struct {
		name string
		gen  scrub.GenOptions
	}{{"nanp", mostlyNANP}, {"nanp-only", nanpOnly}, {"full-parser", fullParser}, {"cold-intl", coldIntl}, {"cold-nanp", coldNANP}} {
		b.Run(c.name, func(b *testing.B) {
			deciders := []scrub.Decider{mustScrubber(b, svc, "insurance", "call"), scrub.ParseOnly{Region: "US"}}
			cold := c.gen.ColdIntl || c.gen.ColdNANP
			rows := 200_000
			if cold {
				rows = 20_000
			}
			// Cold lists: a new file for every run of either decider.
			files := 1
			if cold {
				files = 2 * b.N
			}
			ins := make([][]byte, files)
			for i := range ins {
				var in bytes.Buffer
				gen := c.gen
				gen.Rows, gen.Seed = rows, 1
				if cold {
					gen.Seed, coldSeeds = coldSeeds, coldSeeds+1
				}
				if err := scrub.Generate(&in, gen); err != nil {
					b.Fatal(err)
				}
				ins[i] = in.Bytes()
			}
			var cpu [2]time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for j, d := range deciders {
					in := ins[(2*i+j)%len(ins)]
					cpu0 := cpuTime()
					if _, err := scrub.Run(context.Background(), bytes.NewReader(in), io.Discard, scrub.Options{Decider: d}); err != nil {
						b.Fatal(err)
					}
					cpu[j] += cpuTime() - cpu0
				}
			}
			if cpu[0] > 0 && cpu[1] > 0 {
				n := float64(rows * b.N)
				b.ReportMetric(n/cpu[0].Seconds(), "scrub-rows/cpu-s")
				b.ReportMetric(n/cpu[1].Seconds(), "parse-rows/cpu-s")
				b.ReportMetric(100*cpu[1].Seconds()/cpu[0].Seconds(), "ratio-%")
			}
		})
	}
}

// nopDecider allows every row without reading it: BenchmarkPipeline measures
// what the pipeline (read CSV, chunk, hand off, write CSV) costs by itself.
type nopDecider struct{}

func (nopDecider) DecideMany(_ context.Context, raws []string, out []service.ScrubResult) {
	for i := range raws {
		out[i] = service.ScrubResult{Outcome: filter.Allow}
	}
}

func BenchmarkPipeline(b *testing.B) { benchScrub(b, nopDecider{}, mostlyNANP) }

// BenchmarkCSVOnly reads and writes the generated list with encoding/csv
// alone, one goroutine: the floor BenchmarkPipeline is compared with.
func BenchmarkCSVOnly(b *testing.B) {
	var in bytes.Buffer
	const rows = 200_000
	if err := scrub.Generate(&in, scrub.GenOptions{Rows: rows, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(in.Len()))
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		r := csv.NewReader(bytes.NewReader(in.Bytes()))
		r.FieldsPerRecord, r.ReuseRecord = -1, true
		w := csv.NewWriter(io.Discard)
		var out []string
		n := 0
		for {
			rec, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				continue
			}
			n++
			out = append(append(out[:0], rec...), "+12125550134", "allow", "", "fixed_or_mobile", "America/New_York")
			if err := w.Write(out); err != nil {
				b.Fatal(err)
			}
		}
		w.Flush()
		if n < rows {
			b.Fatalf("read %d records, want at least %d", n, rows)
		}
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(rows*b.N)/cpu.Seconds(), "rows/cpu-s")
	}
}
