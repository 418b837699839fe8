package phone

import "testing"

func benchmarkNormalize(b *testing.B, raw, region string) {
	b.Helper()
	if _, err := Normalize(raw, region); err != nil { // also fills the cache
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Normalize(raw, region); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNormalizeFastE164(b *testing.B) {
	benchmarkNormalize(b, "+12125550134", "")
}

func BenchmarkNormalizeFastNANPDigits(b *testing.B) {
	benchmarkNormalize(b, "2125550134", "US")
}

func BenchmarkNormalizeFastPunctuated(b *testing.B) {
	benchmarkNormalize(b, "(212) 555-0134", "US")
}

// The full parser: an extension and a Chinese number are not for the fast path.
func BenchmarkNormalizeFull(b *testing.B) {
	b.Run("NANP extension", func(b *testing.B) {
		benchmarkNormalize(b, "+1 (212) 555-0134 ext 5", "")
	})
	b.Run("CN mobile", func(b *testing.B) {
		benchmarkNormalize(b, "138 0013 8000", "CN")
	})
}

func BenchmarkParseKey(b *testing.B) {
	for _, bc := range []struct{ name, raw, region string }{
		{"fast", "+12125550134", ""},
		{"full", "+86 138 0013 8000", ""},
		{"new area code", "+1 624 555 0134", ""},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseKey(bc.raw, bc.region); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkNormalizeCacheMiss is the first number of each NPA-NXX: the
// fast path's cost when the cache is cold.
func BenchmarkNormalizeCacheMiss(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		national := uint64(2125550134)
		p := computeNANPPrefix(national)
		if !p.valid {
			b.Fatal("212-555 not valid")
		}
	}
}
