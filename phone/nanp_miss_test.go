package phone

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

// evictNANPPrefix removes national's NPA-NXX from the cache, so that the next
// number of it is a miss.
func evictNANPPrefix(national uint64) {
	if block := nanpCache[national/10_000_000-200].Load(); block != nil {
		block[national/10_000%1000].Store(nil)
	}
}

// sameAnswer fails unless Normalize and normalizeFull give the same Number,
// or errors of the same text and kind.
func sameAnswer(t *testing.T, raw, region string) (Number, error) {
	t.Helper()
	got, gotErr := Normalize(raw, region)
	want, wantErr := normalizeFull(raw, region)
	switch {
	case (gotErr == nil) != (wantErr == nil):
		t.Fatalf("%q/%q: Normalize %+v, %v; normalizeFull %+v, %v", raw, region, got, gotErr, want, wantErr)
	case gotErr != nil:
		if gotErr.Error() != wantErr.Error() || errors.Is(gotErr, ErrInvalid) != errors.Is(wantErr, ErrInvalid) || errors.Is(gotErr, ErrMissing) != errors.Is(wantErr, ErrMissing) {
			t.Fatalf("%q/%q: Normalize: %v; normalizeFull: %v", raw, region, gotErr, wantErr)
		}
	case !reflect.DeepEqual(got, want):
		t.Fatalf("%q/%q:\n Normalize     %+v\n normalizeFull %+v", raw, region, got, want)
	}
	return got, gotErr
}

// nanpFullNPAs are the area codes whose every exchange is checked: US and
// Canadian ones, every non-US NANP region's, non-geographic ones and
// unassigned ones (N11, 370, 555, 960, 999).
var nanpFullNPAs = []int{
	201, 204, 211, 212, 213, 242, 246, 264, 268, 284, 311, 340, 345, 370, 416,
	441, 473, 500, 555, 600, 649, 658, 664, 670, 671, 684, 721, 758, 767, 784,
	787, 800, 808, 809, 829, 833, 849, 868, 869, 876, 900, 907, 939, 960, 999,
}

// On a NANP miss, Normalize (the mirror of intl_miss.go, nanpFacts) must
// answer as normalizeFull does, valid or not, in every form and NANP default
// region; and a second number of the prefix, answered from the entry the
// first one left (a Number, or for an invalid prefix the cached error), must
// too. Every NXX of nanpFullNPAs is checked, and a random sample of the
// others'.
func TestNANPMissAgreesWithFullParser(t *testing.T) {
	Warm()
	r := rand.New(rand.NewPCG(41, 42))
	regions := append([]string{"", "us"}, phonenumbers.GetRegionCodesForCountryCode(1)...)
	formats := []string{
		"+1%03d%03d%04d", "%03d%03d%04d", "1%03d%03d%04d", "(%03d) %03d-%04d",
		"%03d-%03d-%04d", "%03d.%03d.%04d", "+1 %03d-%03d-%04d", "+1 (%03d) %03d %04d",
	}
	sample := 6
	step := 1
	if testing.Short() || raceEnabled {
		sample, step = 2, 10
	}
	var valid, cachedErr, mirrored int
	check := func(npa, nxx int) {
		line := r.IntN(10000)
		national := uint64(npa*10_000_000 + nxx*10_000 + line)
		evictNANPPrefix(national)
		region := regions[r.IntN(len(regions))]
		if region == "" {
			region = "US" // a national form needs a NANP region
		}
		raw := fmt.Sprintf(formats[r.IntN(len(formats))], npa, nxx, line)
		if _, ok := scanNANP(raw, isNANPRegion(region)); !ok {
			t.Fatalf("%q/%q not scanned", raw, region)
		}
		_, err := sameAnswer(t, raw, region)
		if err == nil {
			valid++
		}
		p := nanpPrefixOf(national)
		if p.valid || p.err != nil {
			mirrored++
		}
		// A second number of the prefix, another line, form and region.
		line2 := (line + 1 + r.IntN(9999)) % 10000
		raw2 := fmt.Sprintf(formats[r.IntN(len(formats))], npa, nxx, line2)
		region2 := regions[1+r.IntN(len(regions)-1)]
		if _, err := sameAnswer(t, raw2, region2); err != nil && nanpPrefixOf(national).err != nil {
			cachedErr++
		}
	}
	for npa := 200; npa <= 999; npa++ {
		if slices.Contains(nanpFullNPAs, npa) {
			for nxx := 200; nxx <= 999; nxx += step {
				check(npa, nxx)
			}
			continue
		}
		for range sample {
			check(npa, r.IntN(1000))
		}
	}
	t.Logf("%d valid, %d answered by the mirror, %d second numbers answered by a cached error", valid, mirrored, cachedErr)
	// The mirror must answer, and errors be cached, or the agreement above
	// would be the parser's with itself.
	if valid == 0 || cachedErr == 0 || mirrored < valid {
		t.Errorf("valid %d, mirrored %d, cached errors %d: the miss path is not taken", valid, mirrored, cachedErr)
	}
}

// The plan of +1 builds, with the 25 NANP regions in the library's order.
func TestNANPPlanBuilds(t *testing.T) {
	p := planFor(1)
	if !p.ok {
		t.Fatal("no plan for +1: NANP misses would go to the parser")
	}
	var ids []string
	for _, r := range p.regions {
		ids = append(ids, r.id)
	}
	if want := phonenumbers.GetRegionCodesForCountryCode(1); !slices.Equal(ids, want) {
		t.Errorf("regions %v, want %v", ids, want)
	}
}

// ParseKey accepts possible-but-invalid numbers: a cached error is for
// Normalize only.
func TestParseKeyIgnoresCachedErrors(t *testing.T) {
	for _, raw := range []string{"+1 370 555 0134", "+44 00 7946 0958"} {
		for range 2 { // the second finds the cached verdict
			if _, err := Normalize(raw, ""); err == nil {
				t.Fatalf("Normalize(%q) valid; the test is wrong", raw)
			}
		}
		got, err := ParseKey(raw, "")
		want, wantErr := parseKeyFull(raw, "")
		if !reflect.DeepEqual(got, want) || (err == nil) != (wantErr == nil) {
			t.Errorf("ParseKey(%q) = %+v, %v; parseKeyFull %+v, %v", raw, got, err, want, wantErr)
		}
	}
}

// The prefixes whose metadata depends on the seventh digit get no cached
// answer, valid or invalid: every number of them goes to the parser.
func TestNANPExceptionsGetNoCachedVerdict(t *testing.T) {
	for _, p := range nanpPrefixesNeedingFullNumber {
		for _, line := range []int{0, 1234, 9999} {
			raw := fmt.Sprintf("+1%d%04d", p, line)
			if _, ok, err := normalizeFastOrInvalid(raw, ""); ok {
				t.Errorf("%s answered by the fast path (error %v); its NPA-NXX is in nanpPrefixesNeedingFullNumber", raw, err)
			}
		}
	}
}
