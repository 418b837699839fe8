package phone

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"testing"
)

func TestScanNANP(t *testing.T) {
	tests := []struct {
		raw         string
		nanpDefault bool
		want        uint64 // 0: not for the fast path
	}{
		{"+12125550134", false, 2125550134},
		{"+1 212-555-0134", false, 2125550134},
		{"+1 (212) 555-0134", false, 2125550134},
		{" +1.212.555.0134 ", false, 2125550134},
		{"2125550134", true, 2125550134},
		{"12125550134", true, 2125550134},
		{"(212) 555-0134", true, 2125550134},
		{"212-555-0134", true, 2125550134},
		{"212.555.0134", true, 2125550134},
		{"1 (212) 555-0134", true, 2125550134},
		{"2125550134", false, 0},                                       // no default region to read it in
		{"12125550134", false, 0},                                      // idem
		{"+2125550134", true, 0},                                       // +21…: not NANP
		{"+22125550134", true, 0},                                      // +221…
		{"+121255501345", true, 0},                                     // 12 digits
		{"212555013", true, 0},                                         // 9 digits
		{"1125550134", true, 0},                                        // area code starting with 1
		{"+10125550134", false, 0},                                     // area code starting with 0
		{"0012125550134", true, 0},                                     // IDD: for the parser
		{"212-555-0134 x12", true, 0},                                  // extension: for the parser
		{"212/555/0134", true, 0},                                      // unusual punctuation: for the parser
		{"２１２５５５０１３４", true, 0},                                        // full-width: for the parser
		{"1+2125550134", true, 0},                                      // + not first
		{"++12125550134", true, 0},                                     // two +
		{"\t2125550134", true, 0},                                      // other white space: for the parser
		{"tel:+12125550134", false, 0},                                 // URI: for the parser
		{"", true, 0},                                                  //
		{"+1 212 555 0134" + strings.Repeat(" ", fastMaxLen), true, 0}, // longer than fastMaxLen
	}
	for _, tt := range tests {
		got, ok := scanNANP(tt.raw, tt.nanpDefault)
		if !ok {
			got = 0
		}
		if got != tt.want {
			t.Errorf("scanNANP(%q, %v) = %d, %v; want %d", tt.raw, tt.nanpDefault, got, ok, tt.want)
		}
	}
}

func TestIsNANPRegion(t *testing.T) {
	for _, r := range []string{"US", "CA", "PR", "JM", "us", "Ca"} {
		if !isNANPRegion(r) {
			t.Errorf("isNANPRegion(%q) = false", r)
		}
	}
	for _, r := range []string{"", "GB", "CN", "U", "USA", "ZZ", "U\x00", "[S"} {
		if isNANPRegion(r) {
			t.Errorf("isNANPRegion(%q) = true", r)
		}
	}
}

// The common forms of a valid NANP number must take the fast path.
func TestFastPathTakesCommonForms(t *testing.T) {
	for _, raw := range []string{
		"+12125550134", "2125550134", "12125550134", "(212) 555-0134",
		"212-555-0134", "212.555.0134", "+1 212-555-0134", "+1 (212) 555-0134",
	} {
		n, ok := normalizeFast(raw, "US")
		if !ok {
			t.Errorf("normalizeFast(%q, US) not taken", raw)
			continue
		}
		if !reflect.DeepEqual(n, nyNumber) {
			t.Errorf("normalizeFast(%q, US)\n got %+v\nwant %+v", raw, n, nyNumber)
		}
	}
}

// Prefixes whose numbers differ after the sixth digit must not be answered
// from the cache.
func TestFastPathLeavesSevenDigitPrefixesToParser(t *testing.T) {
	for _, raw := range []string{"+12465210134", "+12465211134", "+12465220134", "+18766060134"} {
		if _, ok := normalizeFast(raw, ""); ok {
			t.Errorf("normalizeFast(%q) taken; its NPA-NXX is in nanpPrefixesNeedingFullNumber", raw)
		}
	}
}

// randomNANPInput returns a random 10-digit NANP number (any area code, any
// exchange) written in a random fast-path form, with a region to read it in.
func randomNANPInput(r *rand.Rand) (raw, region string) {
	npa := 200 + r.IntN(800)
	nxx := r.IntN(1000)
	line := r.IntN(10000)
	regions := []string{"US", "CA", "PR", "JM", "BS", "DO", "us", "GB", ""}
	region = regions[r.IntN(len(regions))]
	formats := []string{
		"+1%03d%03d%04d", "%03d%03d%04d", "1%03d%03d%04d", "(%03d) %03d-%04d",
		"%03d-%03d-%04d", "%03d.%03d.%04d", "+1 %03d-%03d-%04d", "+1 (%03d) %03d %04d",
	}
	return fmt.Sprintf(formats[r.IntN(len(formats))], npa, nxx, line), region
}

// checkFastAgrees fails if the fast path takes raw and answers differently from
// the full parser, for Normalize and for ParseKey; it reports whether the fast
// path was taken.
func checkFastAgrees(t *testing.T, raw, region string) bool {
	t.Helper()
	fast, ok, fastErr := normalizeFastOrInvalid(raw, region)
	if !ok {
		return false
	}
	full, err := normalizeFull(raw, region)
	if fastErr != nil {
		// A cached invalid verdict: Normalize's error must be the parser's.
		if err == nil || fastErr.Error() != err.Error() || !errors.Is(fastErr, ErrInvalid) || !errors.Is(err, ErrInvalid) {
			t.Errorf("fast path says %q/%q is invalid, %v; full parser: %+v, %v", raw, region, fastErr, full, err)
		}
		if _, ok := normalizeFast(raw, region); ok {
			t.Errorf("%q/%q: ParseKey's fast path takes a cached error", raw, region)
		}
		return true
	}
	if err != nil {
		t.Errorf("fast path took %q/%q as %+v; full parser: %v", raw, region, fast, err)
		return true
	}
	if !reflect.DeepEqual(fast, full) {
		t.Errorf("%q/%q:\nfast %+v\nfull %+v", raw, region, fast, full)
	}
	key, err := parseKeyFull(raw, region)
	if err != nil || !reflect.DeepEqual(fast, key) {
		t.Errorf("%q/%q: fast %+v, parseKeyFull %+v, %v", raw, region, fast, key, err)
	}
	return true
}

func TestFastPathAgreesOnRandomNANP(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	n := 5000
	if testing.Short() || raceEnabled {
		n = 500
	}
	taken := 0
	for range n {
		raw, region := randomNANPInput(r)
		if checkFastAgrees(t, raw, region) {
			taken++
		}
	}
	// Most random area codes do not exist, so well under all are taken; a
	// fast path that is never taken would pass the check above vacuously.
	if taken < n/4 {
		t.Errorf("fast path taken for %d of %d random NANP inputs, want at least a quarter", taken, n)
	}
}

// randomPunctuation writes digits with the separators the fast path allows
// scattered anywhere, including where no one would put them.
func randomPunctuation(r *rand.Rand, digits string) string {
	const seps = " -.()"
	var b strings.Builder
	for i := range len(digits) + 1 {
		for range r.IntN(3) {
			if r.IntN(3) == 0 {
				b.WriteByte(seps[r.IntN(len(seps))])
			}
		}
		if i < len(digits) {
			b.WriteByte(digits[i])
		}
	}
	return b.String()
}

func TestFastPathAgreesOnRandomPunctuation(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	n := 3000
	if testing.Short() || raceEnabled {
		n = 300
	}
	regions := []string{"US", "CA", "PR", "JM", "BS", "DO", "us", "GB", ""}
	taken := 0
	for range n {
		digits := fmt.Sprintf("%03d%03d%04d", 200+r.IntN(800), 200+r.IntN(800), r.IntN(10000))
		switch r.IntN(3) {
		case 0:
			digits = "1" + digits
		case 1:
			digits = "+1" + digits
		}
		raw := randomPunctuation(r, digits)
		if strings.HasPrefix(digits, "+") && r.IntN(2) == 0 {
			// the + stays first, after optional spaces
			raw = strings.Repeat(" ", r.IntN(2)) + "+" + randomPunctuation(r, digits[1:])
		}
		if checkFastAgrees(t, raw, regions[r.IntN(len(regions))]) {
			taken++
		}
	}
	t.Logf("fast path taken for %d of %d", taken, n)
	if taken < n/10 {
		t.Errorf("fast path taken for %d of %d inputs, want at least a tenth", taken, n)
	}
}

// Many goroutines filling and reading the cache at once (run with -race).
func TestNANPCacheConcurrent(t *testing.T) {
	const goroutines, perGoroutine = 8, 300
	inputs := make([]string, 64)
	want := make([]Number, len(inputs))
	r := rand.New(rand.NewPCG(3, 4))
	for i := range inputs {
		for {
			raw, _ := randomNANPInput(r)
			n, err := normalizeFull(raw, "US")
			if err == nil {
				inputs[i], want[i] = raw, n
				break
			}
		}
	}
	var wg sync.WaitGroup
	errs := make(chan string, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 5))
			for range perGoroutine {
				i := r.IntN(len(inputs))
				got, err := Normalize(inputs[i], "US")
				if err != nil || !reflect.DeepEqual(got, want[i]) {
					errs <- fmt.Sprintf("Normalize(%q): %+v, %v; want %+v", inputs[i], got, err, want[i])
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestFastPathAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	for _, raw := range []string{"+12125550134", "(212) 555-0134"} {
		if _, err := Normalize(raw, "US"); err != nil { // fill the cache
			t.Fatal(err)
		}
		allocs := testing.AllocsPerRun(100, func() {
			_, _ = Normalize(raw, "US")
		})
		if allocs > 1 {
			t.Errorf("Normalize(%q) on a cache hit: %.0f allocations, want at most 1 (the E164 string)", raw, allocs)
		}
	}
}
