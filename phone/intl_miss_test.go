package phone

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

// evictIntlKey removes key from the international cache, so that the next
// number of the key is a miss. It looks at every slot of the key's probe
// sequence: a removal leaves a hole in which another goroutine may store a
// second copy of a key further along.
func evictIntlKey(key uint64) {
	i := intlSlot(key)
	for range intlProbes {
		if e := intlCache[i].Load(); e != nil && e.key == key {
			intlCache[i].Store(nil)
		}
		i = (i + 1) & (intlCacheSlots - 1)
	}
}

// randomNSN returns l digits: an example number of cc (of length l if it
// has one) cut after a random number of digits and completed at random, so
// mostly of a valid prefix, or random digits.
func randomNSN(r *rand.Rand, samples []string, l int) []byte {
	d := make([]byte, l)
	for i := range d {
		d[i] = byte('0' + r.IntN(10))
	}
	if len(samples) > 0 && r.IntN(4) != 0 {
		s := samples[r.IntN(len(samples))]
		for range 4 {
			if len(s) == l {
				break
			}
			s = samples[r.IntN(len(samples))]
		}
		copy(d[:r.IntN(l+1)], s)
	}
	return d
}

// randomMember returns a digit string of the NFAs' length that all of them
// match, drawn uniformly, or false if there is none.
func randomMember(r *rand.Rand, nfas ...*digitNFA) ([]byte, bool) {
	length := nfas[0].length
	// count[depth, ids] is the number of completions all NFAs accept.
	memo := map[string]int{}
	var count func(depth int, ids []int) int
	count = func(depth int, ids []int) int {
		if depth == length {
			for i, n := range nfas {
				if !n.accepts(ids[i]) {
					return 0
				}
			}
			return 1
		}
		for i, n := range nfas {
			if n.matchingCompletions(depth, ids[i]) == 0 {
				return 0
			}
		}
		if len(nfas) == 1 {
			return nfas[0].matchingCompletions(depth, ids[0])
		}
		k := fmt.Sprint(depth, ids)
		if c, ok := memo[k]; ok {
			return c
		}
		c := 0
		for d := range byte(10) {
			c += count(depth+1, stepAll(nfas, ids, d, depth))
		}
		memo[k] = c
		return c
	}
	ids := make([]int, len(nfas))
	for i, n := range nfas {
		ids[i] = n.start()
	}
	if count(0, ids) == 0 {
		return nil, false
	}
	out := make([]byte, 0, length)
	for depth := range length {
		pick := r.IntN(count(depth, ids))
		for d := range byte(10) {
			next := stepAll(nfas, ids, d, depth)
			if c := count(depth+1, next); pick < c {
				out, ids = append(out, '0'+d), next
				break
			} else {
				pick -= c
			}
		}
	}
	return out, true
}

func stepAll(nfas []*digitNFA, ids []int, d byte, depth int) []int {
	next := make([]int, len(nfas))
	for i, n := range nfas {
		next[i] = n.step(ids[i], d, depth)
	}
	return next
}

// intlTypeMembers returns, for numbers of length l of calling code cc, a
// few random members of each region's number descriptions and of each
// pair of them that overlaps (where getNumberTypeHelper's order decides
// the type: fixed line and mobile, today; no other pair of types overlaps
// in v1.8.1's metadata for the enabled codes).
func intlTypeMembers(t *testing.T, r *rand.Rand, meta map[string]*phonenumbers.PhoneMetadata, cc, l int) [][]byte {
	var out [][]byte
	for _, id := range phonenumbers.GetRegionCodesForCountryCode(cc) {
		m := meta[id]
		descs := []*phonenumbers.PhoneNumberDesc{m.GetGeneralDesc(), m.GetFixedLine(), m.GetMobile()}
		for _, ty := range intlTypeOrder {
			descs = append(descs, ty.desc(m))
		}
		nfas := make([]*digitNFA, len(descs))
		for i, d := range descs {
			nfas[i] = newDigitNFA(t, d.GetNationalNumberPattern(), l)
		}
		for i := range nfas {
			for j := i; j < len(nfas); j++ {
				if i == 0 && j > 0 {
					continue // every type is within the general pattern
				}
				for range 4 {
					m, ok := randomMember(r, nfas[i], nfas[j])
					if !ok {
						break
					}
					out = append(out, m)
				}
			}
		}
	}
	return out
}

// checkIntlFacts holds the miss path's mirror of the parser (intlFacts),
// before computeIntl's checks for the cache, to normalizeFull on one
// scanned number: it must call valid exactly the numbers the parser does,
// with the parser's facts. The national form is checked where the parser
// cannot read an international prefix (computeIntl refuses the rest).
func checkIntlFacts(t *testing.T, raw, region string, in *intlInput, want Number, wantErr error) (valid bool) {
	t.Helper()
	s := in.s[:in.n]
	if re := in.c.idd; re != nil && in.national {
		for l := 0; l <= len(s) && l <= in.c.iddMax; l++ {
			if re.Match(s[:l]) {
				return false
			}
		}
	}
	strip, facts, ok := planFor(in.c.cc).intlFacts(in.c.ccStr, s, in.national)
	switch {
	case !ok:
		// The mirror leaves only errors (and, for valid numbers, E.164s
		// describe refuses) to the parser.
		if wantErr == nil && len(in.c.ccStr)+in.n-strip <= maxE164Digits {
			t.Fatalf("%q/%q: mirror declines; normalizeFull %+v", raw, region, want)
		}
		return false
	case facts.err != nil:
		if wantErr == nil || facts.err.Error() != wantErr.Error() || !errors.Is(facts.err, ErrInvalid) || !errors.Is(wantErr, ErrInvalid) {
			t.Fatalf("%q/%q: mirror says invalid, %v; normalizeFull %+v, %v", raw, region, facts.err, want, wantErr)
		}
		return false
	case wantErr != nil:
		t.Fatalf("%q/%q: mirror valid (strip %d, %+v); normalizeFull %v", raw, region, strip, facts, wantErr)
	}
	got := in.number(strip, facts)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q/%q:\n mirror        %+v\n normalizeFull %+v", raw, region, got, want)
	}
	return true
}

// On a miss, Normalize must answer as normalizeFull does, for every enabled
// calling code and every length of its national significant numbers (and
// one digit more or less), in the international form, with the national
// prefix after the calling code, and nationally with and without the
// national prefix. Each number's key is evicted first, so every answer
// comes from the miss path, not from an earlier number's entry.
func TestIntlMissAgreesWithFullParser(t *testing.T) {
	meta := metadataByRegion(t)
	tables := intlTablesOnce()
	Warm()
	perLength := 300
	if testing.Short() || raceEnabled {
		perLength = 20
	}
	var cheapTotal, mirroredTotal, validTotal, cachedErrTotal atomic.Int64
	t.Run("codes", func(t *testing.T) {
		for _, cc := range intlFastCodes {
			t.Run(strconv.Itoa(cc), func(t *testing.T) {
				t.Parallel()
				r := rand.New(rand.NewPCG(uint64(cc), 31))
				main := phonenumbers.GetRegionCodeForCountryCode(cc)
				np := phonenumbers.GetNddPrefixForRegion(main, true)
				ccs := strconv.Itoa(cc)
				samples := intlSamples()[cc]
				cheap, valid, mirrored, cachedErr := 0, 0, 0, 0
				for _, l := range nsnLengths(meta, cc) {
					// Members of each description of this length and of
					// the overlaps of two, so that every type comes up.
					members := intlTypeMembers(t, r, meta, cc, l)
					for i := range perLength {
						n := l
						if i%10 == 9 { // the wrong length
							n += 2*r.IntN(2) - 1
						}
						var d string
						if i%2 == 0 && len(members) > 0 && n == l {
							m := slices.Clone(members[r.IntN(len(members))])
							for j := len(m) - r.IntN(3); j < len(m); j++ { // a neighbour
								m[j] = byte('0' + r.IntN(10))
							}
							d = string(m)
						} else {
							d = string(randomNSN(r, samples, n))
						}
						var raw, region string
						switch r.IntN(5) {
						case 0:
							raw = "+" + ccs + " " + np + d
						case 1:
							raw, region = np+d, main
						case 2:
							raw, region = d, main
						case 3:
							raw, region = "00"+ccs+d, "DE"
						default:
							raw = "+" + ccs + d
						}
						in, scanned := scanIntl(raw, region, tables)
						var key uint64
						if scanned {
							key = in.key(in.ef())
							evictIntlKey(key)
						}
						got, gotErr := Normalize(raw, region)
						want, wantErr := normalizeFull(raw, region)
						if scanned && checkIntlFacts(t, raw, region, &in, want, wantErr) {
							mirrored++
						}
						switch {
						case (gotErr == nil) != (wantErr == nil):
							t.Fatalf("%q/%q: Normalize %+v, %v; normalizeFull %+v, %v", raw, region, got, gotErr, want, wantErr)
						case gotErr != nil:
							if gotErr.Error() != wantErr.Error() || errors.Is(gotErr, ErrInvalid) != errors.Is(wantErr, ErrInvalid) {
								t.Fatalf("%q/%q: Normalize: %v; normalizeFull: %v", raw, region, gotErr, wantErr)
							}
						case !reflect.DeepEqual(got, want):
							t.Fatalf("%q/%q:\n Normalize    %+v\n normalizeFull %+v", raw, region, got, want)
						default:
							valid++
							if scanned {
								if e := intlLookup(key); e != nil && e.facts.valid {
									cheap++
								}
							}
						}
						// Another number of the key (its last digit
						// changed), answered from the entry the first
						// left: for an invalid key, its cached error.
						if scanned && in.keyDigits(in.ef()) < in.n {
							last := raw[len(raw)-1]
							raw2 := raw[:len(raw)-1] + string('0'+(last-'0'+1+byte(r.IntN(9)))%10)
							if in2, ok := scanIntl(raw2, region, tables); !ok || in2.key(in2.ef()) != key {
								t.Fatalf("%q/%q: %q is not of the same key", raw, region, raw2)
							}
							e := intlLookup(key)
							if _, err := sameAnswer(t, raw2, region); err != nil && e != nil && e.facts.err != nil {
								cachedErr++
							}
						}
					}
				}
				cheapTotal.Add(int64(cheap))
				cachedErrTotal.Add(int64(cachedErr))
				mirroredTotal.Add(int64(mirrored))
				validTotal.Add(int64(valid))
				// The miss path must answer for every code, or the
				// agreement above would be the full parser's with itself.
				if cheap == 0 {
					t.Errorf("+%d: none of %d valid numbers answered by the miss path", cc, valid)
				}
			})
		}
	})
	t.Logf("%d valid numbers, %d of them called valid by the mirror, %d answered by the miss path; %d invalid second numbers of a key answered by its cached error", validTotal.Load(), mirroredTotal.Load(), cheapTotal.Load(), cachedErrTotal.Load())
	if cachedErrTotal.Load() == 0 {
		t.Error("no cached error answered: the check of invalid keys is vacuous")
	}
}

// The miss path must never call an invalid number valid, whatever its key
// (it may cache the parser's error for it).
func TestIntlMissLeavesInvalidToParser(t *testing.T) {
	tables := intlTablesOnce()
	for _, c := range []struct{ raw, region string }{
		{"+44 20 7946 095", ""},     // too short
		{"+44 20 7946 09581", ""},   // too long
		{"+44 00 7946 0958", ""},    // no such area code
		{"020 7946 095", "GB"},      // too short
		{"+86 138 0013 800", ""},    // too short
		{"+49 15 1", ""},            //
		{"+33 6 12 34 56", ""},      //
		{"+33 0 12 34 56 78", "FR"}, // nothing valid after the national prefix
	} {
		in, ok := scanIntl(c.raw, c.region, tables)
		if !ok {
			t.Fatalf("%q/%q not scanned", c.raw, c.region)
		}
		if _, err := normalizeFull(c.raw, c.region); err == nil {
			t.Fatalf("%q/%q valid; the table is wrong", c.raw, c.region)
		}
		if e := computeIntl(&in, in.ef(), tables); e.facts.valid {
			t.Errorf("%q/%q: miss path answers %+v", c.raw, c.region, e.facts)
		}
	}
}

// Every enabled calling code's metadata has a shape the miss path follows.
func TestIntlPlansBuild(t *testing.T) {
	for _, cc := range intlFastCodes {
		p := planFor(cc)
		if !p.ok {
			t.Errorf("+%d: no plan: its misses would go to the parser", cc)
			continue
		}
		if got, want := len(p.regions), len(phonenumbers.GetRegionCodesForCountryCode(cc)); got != want {
			t.Errorf("+%d: %d regions planned, want %d", cc, got, want)
		}
	}
}

// When the cache table is full, misses still take the miss path: Normalize
// answers without storing and stays cheap.
func TestIntlMissWithFullCache(t *testing.T) {
	if raceEnabled {
		t.Skip("fills 2^18 slots")
	}
	full := &intlEntry{key: 1 << 63, facts: notFast} // a key no number has
	for i := range intlCache {
		intlCache[i].Store(full)
	}
	defer resetIntlCache()
	for _, c := range []struct{ raw, region string }{
		{"+44 20 7946 0958", ""}, {"020 7946 0958", "GB"}, {"+86 138 0013 8000", ""},
	} {
		want, err := normalizeFull(c.raw, c.region)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := normalizeFast(c.raw, c.region)
		if !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("%q/%q with a full cache: %+v, %v; want %+v", c.raw, c.region, got, ok, want)
		}
		allocs := testing.AllocsPerRun(100, func() { _, _ = normalizeFast(c.raw, c.region) })
		if allocs > 8 {
			t.Errorf("%q/%q with a full cache: %.0f allocations, want a handful (the full parser makes ~100)", c.raw, c.region, allocs)
		}
	}
}
