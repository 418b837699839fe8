package scrub_test

import (
	"bytes"
	"context"
	"io"
	"testing"

	"callfilter/scrub"
)

func benchScrub(b *testing.B, d scrub.Decider, full bool) {
	var in bytes.Buffer
	const rows = 200_000
	if err := scrub.Generate(&in, scrub.GenOptions{Rows: rows, Seed: 1, Full: full}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(in.Len()))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := scrub.Run(context.Background(), bytes.NewReader(in.Bytes()), io.Discard, scrub.Options{Decider: d}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkScrub decides generated rows (insurance by call: no store reads
// unless a bloom says maybe) against BenchmarkParseOnly, the baseline of
// reading the CSV and normalizing, in the same run.
func BenchmarkScrub(b *testing.B) {
	svc := mustService(b)
	b.Run("nanp", func(b *testing.B) { benchScrub(b, mustScrubber(b, svc, "insurance", "call"), false) })
	b.Run("full-parser", func(b *testing.B) { benchScrub(b, mustScrubber(b, svc, "insurance", "call"), true) })
}

func BenchmarkParseOnly(b *testing.B) {
	b.Run("nanp", func(b *testing.B) { benchScrub(b, scrub.ParseOnly{Region: "US"}, false) })
	b.Run("full-parser", func(b *testing.B) { benchScrub(b, scrub.ParseOnly{Region: "US"}, true) })
}
