package phone

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

// addSeeds seeds a fuzz corpus from the table tests and random NANP and
// international input, and warms the package so that no single execution
// pays for loading.
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
	// International forms, for the international fast path.
	for range 100 {
		f.Add(randomIntlInput(r))
	}
	for _, c := range [][2]string{
		{"+44 20 7946 0958", ""}, {"020 7946 0958", "GB"}, {"0044 20 7946 0958", "CN"},
		{"011 44 20 7946 0958", "US"}, {"+44 (0)20 7946 0958", ""}, {"+86 138 0013 8000", ""},
		{"138 0013 8000", "CN"}, {"010 6234 5678", "CN"}, {"00 86 10 6234 5678", "CN"},
		{"+7 800 555 3535", ""}, {"8 800 555 3535", "RU"}, {"+39 06 6988 0000", ""},
		{"+30 50050001234", ""}, {"+44 1624 234567", ""},
	} {
		f.Add(c[0], c[1])
	}
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

// FuzzFastPathAgreesWithFullParser: whatever the fast path (NANP or
// international) accepts, the full parser reads the same way. Besides the
// input itself it tries the input's ASCII digits after a '+' and as they
// are, so that most inputs the fuzzer finds reach the fast path's cache.
func FuzzFastPathAgreesWithFullParser(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, raw, region string) {
		var digits strings.Builder
		for i := range len(raw) {
			if c := raw[i]; '0' <= c && c <= '9' {
				digits.WriteByte(c)
			}
		}
		for _, in := range [][2]string{{raw, region}, {"+" + digits.String(), ""}, {digits.String(), region}} {
			checkFastAgrees(t, in[0], in[1])
		}
	})
}
