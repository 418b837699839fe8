package listfeed

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"callfilter/phone"
)

// checkNANPKey holds the fast path to phone.ParseKey: what it takes,
// ParseKey takes with the same key; ten digits of the NXX-NXX-XXXX shape that
// ParseKey takes, it takes too. (ParseKey also takes some numbers of other
// shapes, valid in the metadata like +1 809 0xx xxxx, or 011 and a foreign
// number: those go to the slow path, which calls ParseKey.)
func checkNANPKey(t *testing.T, s string) {
	t.Helper()
	k, ok := nanpKey([]byte(s))
	n, err := phone.ParseKey(s, "US")
	if ok && (err != nil || n.Key != k) {
		t.Errorf("nanpKey(%q) = %d, but ParseKey gives %d, %v", s, k, n.Key, err)
	}
	if !ok && err == nil && len(s) == 10 && isAllDigits([]byte(s)) && s[0] >= '2' && s[3] >= '2' {
		t.Errorf("nanpKey(%q) refuses what ParseKey reads as %d", s, n.Key)
	}
}

func checkGBKey(t *testing.T, s string) {
	t.Helper()
	k, ok := gbKey([]byte(s))
	n, err := phone.ParseKey(s, "GB")
	if ok && (err != nil || n.Key != k) {
		t.Errorf("gbKey(%q) = %d, but ParseKey gives %d, %v", s, k, n.Key, err)
	}
	if !ok && err == nil && len(s) == 11 && s[0] == '0' && s[1] != '0' && isAllDigits([]byte(s)) {
		t.Errorf("gbKey(%q) refuses what ParseKey reads as %d", s, n.Key)
	}
}

func TestNANPKeyAgreesWithParseKey(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for range 4000 {
		checkNANPKey(t, fmt.Sprintf("%010d", rng.Uint64N(10_000_000_000)))
	}
	for _, s := range nanpSeeds {
		checkNANPKey(t, s)
	}
}

func TestGBKeyAgreesWithParseKey(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	for range 4000 {
		checkGBKey(t, fmt.Sprintf("0%010d", rng.Uint64N(10_000_000_000)))
	}
	for _, s := range gbSeeds {
		checkGBKey(t, s)
	}
}

var nanpSeeds = []string{"2015550100", "9999999999", "2000000000", "1015550100", "2010550100", "2015550100 ", "201555010x", "", "12015550100", "9115550100"}

var gbSeeds = []string{"02073787244", "07860338653", "00207378724", "0207378724", "12073787244", "0800 123456", "0999999999", "09999999999"}

func FuzzNANPKey(f *testing.F) {
	for _, s := range nanpSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkNANPKey(t, s) })
}

func FuzzGBKey(f *testing.F) {
	for _, s := range gbSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkGBKey(t, s) })
}
