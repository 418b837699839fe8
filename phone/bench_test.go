package phone

import (
	"math/rand/v2"
	"strconv"
	"testing"
)

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

// The full parser: an extension, and a Japanese number (Japan's national
// prefix has a transform rule), are not for the fast paths.
func BenchmarkNormalizeFull(b *testing.B) {
	b.Run("NANP extension", func(b *testing.B) {
		benchmarkNormalize(b, "+1 (212) 555-0134 ext 5", "")
	})
	b.Run("JP fixed", func(b *testing.B) {
		benchmarkNormalize(b, "03-3224-9999", "JP")
	})
}

func BenchmarkParseKey(b *testing.B) {
	for _, bc := range []struct{ name, raw, region string }{
		{"fast", "+12125550134", ""},
		{"fast intl", "+86 138 0013 8000", ""},
		{"full", "+81 3 3224 9999", ""},
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
// fast path's cost when the cache is cold (computeNANPPrefix: the mirror of
// intl_miss.go with the plan of +1).
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

// intlBenchInputs are the international forms benchmarked, fast path against
// full parser.
var intlBenchInputs = []struct{ name, raw, region string }{
	{"GB E164", "+44 20 7946 0958", ""},
	{"GB national", "020 7946 0958", "GB"},
	{"GB IDD", "0044 20 7946 0958", "DE"},
	{"CN E164", "+86 138 0013 8000", ""},
	{"CN national", "138 0013 8000", "CN"},
}

// BenchmarkNormalizeIntl compares, on the same inputs, the full parser
// (normalizeFull, what Normalize cost before the international fast path)
// with Normalize on a warm cache.
func BenchmarkNormalizeIntl(b *testing.B) {
	for _, in := range intlBenchInputs {
		b.Run(in.name+"/full", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := normalizeFull(in.raw, in.region); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(in.name+"/fast", func(b *testing.B) {
			benchmarkNormalize(b, in.raw, in.region)
		})
	}
}

// resetIntlCache empties the international cache, for cold-cache
// benchmarks.
func resetIntlCache() {
	for i := range intlCache {
		intlCache[i].Store(nil)
	}
}

// intlScrubBatch is a batch of distinct valid international numbers, in the
// forms of intlBenchInputs, drawn at random from the example-number ranges.
func intlScrubBatch(b *testing.B, n int) [][2]string {
	b.Helper()
	r := rand.New(rand.NewPCG(21, 22))
	var out [][2]string
	seen := map[string]bool{}
	for len(out) < n {
		raw, region := randomIntlInput(r)
		if seen[raw+"/"+region] {
			continue
		}
		if _, err := normalizeFull(raw, region); err == nil {
			seen[raw+"/"+region] = true
			out = append(out, [2]string{raw, region})
		}
	}
	return out
}

// BenchmarkScrubIntl normalizes a batch of 20,000 distinct valid non-NANP
// numbers of the enabled calling codes: per number, with the full parser, with
// the fast path on a cache emptied before each batch (cold), and on a cache
// filled by an earlier batch (warm).
func BenchmarkScrubIntl(b *testing.B) {
	batch := intlScrubBatch(b, 20000)
	run := func(b *testing.B, normalize func(string, string) (Number, error), reset bool) {
		for _, in := range batch { // warm: the batch's keys are in the cache
			_, _ = normalize(in[0], in[1])
		}
		b.ReportAllocs()
		for b.Loop() {
			if reset {
				b.StopTimer()
				resetIntlCache()
				b.StartTimer()
			}
			for _, in := range batch {
				if _, err := normalize(in[0], in[1]); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/number")
	}
	b.Run("full", func(b *testing.B) { run(b, normalizeFull, false) })
	b.Run("fast cold", func(b *testing.B) { run(b, Normalize, true) })
	b.Run("fast warm", func(b *testing.B) { run(b, Normalize, false) })
}

// BenchmarkNormalizeIntlCacheMiss is the first number of a key: the fast
// path's cost when the cache is cold (computeIntl: the miss path of
// intl_miss.go and the checks for caching its answer).
func BenchmarkNormalizeIntlCacheMiss(b *testing.B) {
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i%3000 == 0 {
			b.StopTimer()
			resetIntlCache()
			b.StartTimer()
		}
		// London numbers +44 20 [378]XXX 0000, each in its own key.
		k := i % 3000
		raw := "+4420" + string("378"[k/1000]) + strconv.Itoa(1000 + k%1000)[1:] + "0000"
		i++
		if _, err := Normalize(raw, ""); err != nil {
			b.Fatal(raw, err)
		}
	}
}

// intlColdInputs are n valid numbers with random digits after a mobile
// prefix of GB, DE, FR and CN, written internationally and nationally, no
// two of them in the same cache key.
func intlColdInputs(b *testing.B, n int) [][2]string {
	b.Helper()
	forms := []struct{ prefix, region string }{
		{"+44 7", ""}, {"07", "GB"}, {"+49 15", ""}, {"015", "DE"},
		{"+33 6", ""}, {"06", "FR"}, {"+86 13", ""}, {"13", "CN"},
	}
	digits := map[string]int{"+44 7": 9, "07": 9, "+49 15": 9, "015": 9, "+33 6": 8, "06": 8, "+86 13": 9, "13": 9}
	r := rand.New(rand.NewPCG(23, 24))
	tables := intlTablesOnce()
	seen := map[uint64]bool{}
	var out [][2]string
	for tries := 0; len(out) < n; tries++ {
		if tries > 100*n {
			b.Fatalf("only %d cold inputs", len(out))
		}
		f := forms[r.IntN(len(forms))]
		raw := []byte(f.prefix)
		for range digits[f.prefix] {
			raw = append(raw, byte('0'+r.IntN(10)))
		}
		in, ok := scanIntl(string(raw), f.region, tables)
		if !ok {
			b.Fatalf("%s/%s not for the fast path", raw, f.region)
		}
		key := in.key(in.ef())
		if seen[key] {
			continue
		}
		if _, err := normalizeFull(string(raw), f.region); err != nil {
			continue
		}
		seen[key] = true
		out = append(out, [2]string{string(raw), f.region})
	}
	return out
}

// BenchmarkNormalizeIntlCold is Normalize when every number is a cache miss
// (a bulk scrub of numbers with random prefixes), against the full parser
// on the same numbers.
func BenchmarkNormalizeIntlCold(b *testing.B) {
	benchCold(b, intlColdInputs(b, 20000), resetIntlCache)
}

// benchCold runs Normalize (sub-benchmark fast) and the full parser (full)
// over inputs, each a cache miss: reset empties the cache before the first
// input and, with the timer stopped, whenever the inputs start over.
func benchCold(b *testing.B, inputs [][2]string, reset func()) {
	Warm()
	run := func(b *testing.B, normalize func(string, string) (Number, error)) {
		reset()
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if i == len(inputs) {
				b.StopTimer()
				reset()
				i = 0
				b.StartTimer()
			}
			if _, err := normalize(inputs[i][0], inputs[i][1]); err != nil {
				b.Fatal(inputs[i], err)
			}
			i++
		}
	}
	b.Run("fast", func(b *testing.B) { run(b, Normalize) })
	b.Run("full", func(b *testing.B) { run(b, normalizeFull) })
}

// resetNANPCache empties the NANP cache, for cold-cache benchmarks.
func resetNANPCache() {
	for i := range nanpCache {
		nanpCache[i].Store(nil)
	}
}

// nanpColdInputs are n valid NANP numbers in random fast-path forms, no two
// of the same NPA-NXX, drawn at random over all area codes.
func nanpColdInputs(b *testing.B, n int) [][2]string {
	b.Helper()
	r := rand.New(rand.NewPCG(25, 26))
	seen := map[uint64]bool{}
	var out [][2]string
	for tries := 0; len(out) < n; tries++ {
		if tries > 100*n {
			b.Fatalf("only %d cold inputs", len(out))
		}
		raw, region := randomNANPInput(r)
		national, ok := scanNANP(raw, isNANPRegion(region))
		if !ok || seen[national/10_000] {
			continue
		}
		if _, err := normalizeFull(raw, region); err != nil {
			continue
		}
		seen[national/10_000] = true
		out = append(out, [2]string{raw, region})
	}
	return out
}

// BenchmarkNormalizeNANPCold is Normalize when every NANP number is a cache
// miss (a lead list spread over all area codes, before ~250k NPA-NXX are
// cached), against the full parser on the same numbers.
func BenchmarkNormalizeNANPCold(b *testing.B) {
	benchCold(b, nanpColdInputs(b, 20000), resetNANPCache)
}

// invalidInputs returns, for keys whose invalid verdict the cache holds, a
// first number of each (which fills the entry) and others of the same key:
// NANP numbers of unassigned area codes and exchanges, and international
// numbers after a wrong prefix (+44 0…, +49 0…, +33 0…, +86 0…, +91 1…).
func invalidInputs(b *testing.B, keys, perKey int) (first, others [][2]string) {
	b.Helper()
	r := rand.New(rand.NewPCG(27, 28))
	digits := func(n int) string {
		d := make([]byte, n)
		for i := range d {
			d[i] = byte('0' + r.IntN(10))
		}
		return string(d)
	}
	intl := []struct{ prefix, region string }{
		{"+44 0", ""}, {"+49 0", ""}, {"+33 0", ""}, {"+86 0", ""}, {"+91 1", ""}, {"+44 1", ""},
	}
	seen := map[string]bool{}
	for tries := 0; len(first) < keys; tries++ {
		if tries > 100*keys {
			b.Fatalf("only %d invalid keys", len(first))
		}
		// An NANP number (half of them) or an international one, and a
		// way to write another number of its key: the same first digits.
		var head, tail string
		var region string
		if r.IntN(2) == 0 {
			head, tail = "+1 "+digits(3)+" "+digits(3)+" ", digits(4)
		} else {
			f := intl[r.IntN(len(intl))]
			head, tail, region = f.prefix+digits(6), digits(3+r.IntN(2)), f.region
		}
		if seen[head] {
			continue
		}
		raw := head + tail
		if _, ok, err := normalizeFastOrInvalid(raw, region); !ok || err == nil {
			continue // valid, or not for the fast path
		}
		seen[head] = true
		first = append(first, [2]string{raw, region})
		for range perKey {
			other := head + digits(len(tail))
			if _, err := normalizeFull(other, region); err == nil {
				b.Fatalf("%q valid, %q not", other, raw)
			}
			others = append(others, [2]string{other, region})
		}
	}
	resetIntlCache()
	resetNANPCache()
	return first, others
}

// BenchmarkNormalizeInvalid is Normalize on invalid numbers of keys whose
// verdict is cached (fast: the second and later numbers of each key, after
// the first has filled its entry), against the full parser on the same
// numbers, which every such row cost before.
func BenchmarkNormalizeInvalid(b *testing.B) {
	first, others := invalidInputs(b, 2000, 5)
	Warm()
	run := func(b *testing.B, normalize func(string, string) (Number, error)) {
		for _, in := range first {
			_, _ = Normalize(in[0], in[1])
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			in := others[i%len(others)]
			if _, err := normalize(in[0], in[1]); err == nil {
				b.Fatal(in, "valid")
			}
			i++
		}
	}
	b.Run("fast", func(b *testing.B) { run(b, Normalize) })
	b.Run("full", func(b *testing.B) { run(b, normalizeFull) })
}
