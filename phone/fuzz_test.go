package phone

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"
)

// addSeeds seeds a fuzz corpus from the table tests and random NANP input,
// and warms the package so that no single execution pays for loading.
func addSeeds(f *testing.F) {
	Warm()
	for _, tt := range normalizeTests {
		f.Add(tt.raw, tt.region)
	}
	for _, tt := range errorTests {
		f.Add(tt.raw, tt.region)
	}
	r := rand.New(rand.NewPCG(7, 8))
	for range 50 {
		f.Add(randomNANPInput(r))
	}
	f.Add("+1 (212) 555-0134 ext 5", "")
	f.Add("tel:+1-212-555-0134;phone-context=+1", "")
	f.Add("+12465210134", "")
}

// FuzzNormalize: no input panics, every error is ErrMissing or ErrInvalid,
// and a number's E164 reads back as the same number.
func FuzzNormalize(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, raw, region string) {
		for _, read := range []func(string, string) (Number, error){Normalize, ParseKey} {
			n, err := read(raw, region)
			if err != nil {
				if !errors.Is(err, ErrMissing) && !errors.Is(err, ErrInvalid) {
					t.Fatalf("%q/%q: error %v wraps neither ErrMissing nor ErrInvalid", raw, region, err)
				}
				continue
			}
			if n.Key == 0 || len(n.E164) < 2 || n.E164[0] != '+' {
				t.Fatalf("%q/%q: malformed %+v", raw, region, n)
			}
			again, err := read(n.E164, "")
			if err != nil {
				t.Fatalf("%q/%q gave %s, which does not read back: %v", raw, region, n.E164, err)
			}
			if again.E164 != n.E164 || again.Key != n.Key {
				t.Fatalf("%q/%q gave %s (%d), which reads back as %s (%d)", raw, region, n.E164, n.Key, again.E164, again.Key)
			}
		}
	})
}

// FuzzFastPathAgreesWithFullParser: whatever the fast path accepts, the full
// parser reads the same way.
func FuzzFastPathAgreesWithFullParser(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, raw, region string) {
		fast, ok := normalizeFast(raw, region)
		if !ok {
			return
		}
		full, err := normalizeFull(raw, region)
		if err != nil {
			t.Fatalf("fast path took %q/%q as %+v; full parser: %v", raw, region, fast, err)
		}
		if !reflect.DeepEqual(fast, full) {
			t.Fatalf("%q/%q:\nfast %+v\nfull %+v", raw, region, fast, full)
		}
		key, err := parseKeyFull(raw, region)
		if err != nil || !reflect.DeepEqual(fast, key) {
			t.Fatalf("%q/%q: fast %+v, parseKeyFull %+v, %v", raw, region, fast, key, err)
		}
	})
}
