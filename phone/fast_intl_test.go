package phone

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

var (
	londonNumber = Number{
		E164: "+442079460958", Key: 442079460958, CountryCode: 44, Region: "GB",
		Type: LineFixed, TimeZones: []string{"Europe/London"},
	}
	chinaMobile = Number{
		E164: "+8613800138000", Key: 8613800138000, CountryCode: 86, Region: "CN",
		Type: LineMobile, TimeZones: []string{"Asia/Shanghai"},
	}
	beijingNumber = Number{
		E164: "+861062345678", Key: 861062345678, CountryCode: 86, Region: "CN",
		Type: LineFixed, TimeZones: []string{"Asia/Shanghai"},
	}
)

// The common international and national forms must take the fast path and
// give the full parser's answer.
func TestIntlFastPathTakesCommonForms(t *testing.T) {
	tests := []struct {
		raw, region string
		want        Number
	}{
		{"+442079460958", "", londonNumber},
		{"+44 20 7946 0958", "", londonNumber},
		{"+44 (0)20 7946 0958", "US", londonNumber},
		{"+44 020 7946 0958", "", londonNumber},
		{"0044 20 7946 0958", "GB", londonNumber},
		{"00 44 20 7946 0958", "DE", londonNumber},
		{"011 44 20 7946 0958", "US", londonNumber},
		{"020 7946 0958", "GB", londonNumber},
		{"(020) 7946-0958", "gb", londonNumber},
		{"20 7946 0958", "GB", londonNumber},
		{"+8613800138000", "", chinaMobile},
		{"+86 138 0013 8000", "US", chinaMobile},
		{"0086 138 0013 8000", "GB", chinaMobile},
		{"138 0013 8000", "CN", chinaMobile},
		{"13800138000", "CN", chinaMobile},
		{"010 6234 5678", "CN", beijingNumber},
		{"+86 10 6234 5678", "", beijingNumber},
	}
	for _, tt := range tests {
		for _, read := range []func(string, string) (Number, error){normalizeFull, parseKeyFull} {
			if full, err := read(tt.raw, tt.region); err != nil || !reflect.DeepEqual(full, tt.want) {
				t.Fatalf("full parser on %q/%q: %+v, %v; the table is wrong", tt.raw, tt.region, full, err)
			}
		}
		for range 2 { // a miss, then a hit
			n, ok := normalizeFast(tt.raw, tt.region)
			if !ok {
				t.Errorf("normalizeFast(%q, %q) not taken", tt.raw, tt.region)
				break
			}
			if !reflect.DeepEqual(n, tt.want) {
				t.Errorf("normalizeFast(%q, %q)\n got %+v\nwant %+v", tt.raw, tt.region, n, tt.want)
			}
		}
	}
}

func TestScanIntl(t *testing.T) {
	tables := intlTablesOnce()
	tests := []struct {
		raw, region string
		want        string // "cc/s" or "cc/s/national"; "" if not for the fast path
	}{
		{"+44 20 7946 0958", "", "44/2079460958"},
		{" +44-20-7946-0958", "", "44/2079460958"},
		{"+44 020 7946 0958", "", "44/02079460958"},
		{"0044 20 7946 0958", "GB", "44/2079460958"},
		{"0044 20 7946 0958", "", ""},                      // no region: no international prefix
		{"0044 20 7946 0958", "US", ""},                    // US exit code is 011
		{"011 44 20 7946 0958", "US", "44/2079460958"},     //
		{"000 44 20 7946 0958", "GB", ""},                  // 0 after the prefix: for the parser
		{"020 7946 0958", "GB", "44/02079460958/national"}, //
		{"020 7946 0958", "DE", "49/02079460958/national"}, // read as German: the parser decides
		{"020 7946 0958", "GG", ""},                        // not the main region of +44
		{"020 7946 0958", "", ""},                          //
		{"44 20 7946 0958", "GB", ""},                      // starts with the calling code: for the parser
		{"138 0013 8000", "CN", "86/13800138000/national"}, //
		{"+1 212 555 0134", "", ""},                        // NANP: not this path
		{"+999 1234 5678", "", ""},                         // unknown code
		{"+048641230000", "", ""},                          // found by the fuzzer: no code starts with 0
		{"00048641230000", "GB", ""},                       //
		{"+81 3 1234 5678", "", ""},                        // Japan: transform rule, not enabled
		{"+44 20 7946 0958 x1", "", ""},                    // extension
		{"+44/20/7946/0958", "", ""},                       // unusual punctuation
		{"＋44 20 7946 0958", "", ""},                       // full-width
		{"+44 20 7946 0958 1234 5678 90", "", ""},          // more than 17 digits after the code
		{"+44 20 7946 0958" + strings.Repeat(" ", fastMaxLen), "", ""},
	}
	for _, tt := range tests {
		in, ok := scanIntl(tt.raw, tt.region, tables)
		got := ""
		if ok {
			got = fmt.Sprintf("%d/%s", in.c.cc, in.s[:in.n])
			if in.national {
				got += "/national"
			}
		}
		if got != tt.want {
			t.Errorf("scanIntl(%q, %q) = %q, want %q", tt.raw, tt.region, got, tt.want)
		}
	}
}

// Prefixes whose numbers differ after the sixth digit must not be answered
// from the cache.
func TestIntlFastPathLeavesPrefixesToParser(t *testing.T) {
	for _, e := range intlPrefixesNeedingFullNumber {
		raw := fmt.Sprintf("+%d%06d%0*d", e.cc, e.prefix, e.length-intlDepth, 0)
		if _, ok := normalizeFast(raw, ""); ok {
			t.Errorf("normalizeFast(%q) taken; its prefix is in intlPrefixesNeedingFullNumber", raw)
		}
	}
}

// intlSamples are national significant numbers of every enabled calling
// code: the library's example numbers of each region and type.
var intlSamples = sync.OnceValue(func() map[int][]string {
	types := []phonenumbers.PhoneNumberType{
		phonenumbers.FIXED_LINE, phonenumbers.MOBILE, phonenumbers.TOLL_FREE,
		phonenumbers.PREMIUM_RATE, phonenumbers.SHARED_COST, phonenumbers.VOIP,
		phonenumbers.PERSONAL_NUMBER, phonenumbers.PAGER, phonenumbers.UAN,
		phonenumbers.VOICEMAIL,
	}
	out := make(map[int][]string)
	for _, cc := range intlFastCodes {
		for _, r := range phonenumbers.GetRegionCodesForCountryCode(cc) {
			for _, typ := range types {
				if num := phonenumbers.GetExampleNumberForType(r, typ); num != nil {
					out[cc] = append(out[cc], phonenumbers.GetNationalSignificantNumber(num))
				}
			}
		}
	}
	return out
})

// randomIntlInput returns a number of an enabled calling code, mostly an
// example number with random trailing digits (so mostly valid), written in a
// random form with a region to read it in.
func randomIntlInput(r *rand.Rand) (raw, region string) {
	cc := intlFastCodes[r.IntN(len(intlFastCodes))]
	samples := intlSamples()[cc]
	var nsn []byte
	if len(samples) == 0 || r.IntN(10) == 0 {
		nsn = make([]byte, 4+r.IntN(10))
		for i := range nsn {
			nsn[i] = byte('0' + r.IntN(10))
		}
	} else {
		nsn = []byte(samples[r.IntN(len(samples))])
		for i := len(nsn) - r.IntN(len(nsn)); i < len(nsn); i++ {
			nsn[i] = byte('0' + r.IntN(10))
		}
	}
	if r.IntN(8) == 0 { // the wrong length
		if r.IntN(2) == 0 && len(nsn) > 2 {
			nsn = nsn[:len(nsn)-1]
		} else {
			nsn = append(nsn, byte('0'+r.IntN(10)))
		}
	}
	main := phonenumbers.GetRegionCodeForCountryCode(cc)
	np := phonenumbers.GetNddPrefixForRegion(main, true)
	ccs := strconv.Itoa(cc)
	digits := string(nsn)
	switch r.IntN(6) {
	case 0:
		raw, region = "+"+ccs+digits, []string{"", "US", "GB", "CN", main}[r.IntN(5)]
	case 1:
		raw, region = "+"+ccs+np+digits, ""
	case 2:
		raw, region = "00"+ccs+digits, []string{"GB", "CN", "DE", "FR", main}[r.IntN(5)]
	case 3:
		raw, region = "011"+ccs+digits, "US"
	case 4:
		raw, region = np+digits, main
	default:
		raw, region = digits, []string{main, strings.ToLower(main), "GB", "CN"}[r.IntN(4)]
	}
	if r.IntN(2) == 0 {
		if strings.HasPrefix(raw, "+") {
			raw = "+" + randomPunctuation(r, raw[1:])
		} else {
			raw = randomPunctuation(r, raw)
		}
	}
	return raw, region
}

func TestIntlFastPathAgreesOnRandomInput(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	n := 10000
	if testing.Short() || raceEnabled {
		n = 1000
	}
	taken := 0
	for range n {
		raw, region := randomIntlInput(r)
		if checkFastAgrees(t, raw, region) {
			taken++
		}
		if t.Failed() {
			return
		}
	}
	t.Logf("fast path taken for %d of %d", taken, n)
	// A fast path that is never taken would pass vacuously.
	if taken < n/4 {
		t.Errorf("fast path taken for %d of %d random international inputs, want at least a quarter", taken, n)
	}
}

// Numbers sharing a cache key with one already answered must get their own
// E164 and Key and the full parser's facts: for every enabled calling code,
// the example numbers' first 6 digits with random completions, written
// internationally and nationally (the first number of a key fills it, the
// rest are hits).
func TestIntlFastPathAgreesWithinAKey(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	perKey := 6
	if testing.Short() || raceEnabled {
		perKey = 2
	}
	hits := 0
	for _, cc := range intlFastCodes {
		main := phonenumbers.GetRegionCodeForCountryCode(cc)
		np := phonenumbers.GetNddPrefixForRegion(main, true)
		for _, nsn := range intlSamples()[cc] {
			if len(nsn) <= intlDepth {
				continue
			}
			for range perKey {
				b := []byte(nsn)
				for i := intlDepth; i < len(b); i++ {
					b[i] = byte('0' + r.IntN(10))
				}
				for _, in := range [][2]string{{"+" + strconv.Itoa(cc) + " " + string(b), ""}, {np + string(b), main}} {
					if checkFastAgrees(t, in[0], in[1]) {
						hits++
					}
				}
			}
		}
	}
	t.Logf("fast path taken for %d numbers", hits)
	if hits < 1000 && !testing.Short() && !raceEnabled {
		t.Errorf("fast path taken %d times, want at least 1000", hits)
	}
	for _, raw := range []string{"+44 20 7946 0958", "+86 138 0013 8000", "+86 10 6234 5678", "+49 30 1234 5678", "+33 1 42 68 53 00"} {
		if !checkFastAgrees(t, raw, "") {
			t.Errorf("%q not taken", raw)
		}
	}
}

// Many goroutines filling and reading the international cache at once (run
// with -race).
func TestIntlCacheConcurrent(t *testing.T) {
	const goroutines, perGoroutine = 8, 300
	r := rand.New(rand.NewPCG(15, 16))
	type input struct{ raw, region string }
	var inputs []input
	var want []Number
	for len(inputs) < 64 {
		raw, region := randomIntlInput(r)
		if n, err := normalizeFull(raw, region); err == nil {
			inputs, want = append(inputs, input{raw, region}), append(want, n)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan string, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 17))
			for range perGoroutine {
				i := r.IntN(len(inputs))
				got, err := Normalize(inputs[i].raw, inputs[i].region)
				if err != nil || !reflect.DeepEqual(got, want[i]) {
					errs <- fmt.Sprintf("Normalize(%q, %q): %+v, %v; want %+v", inputs[i].raw, inputs[i].region, got, err, want[i])
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

// A key whose probe sequence is full is answered but not cached, and the
// keys already stored stay.
func TestIntlCacheFullProbeSequence(t *testing.T) {
	// From an empty cache, so that the test runs again (-count) on its own
	// entries, not its last run's.
	resetIntlCache()
	t.Cleanup(resetIntlCache)
	// Keys with calling code 0, which no number has, landing on one slot.
	var keys []uint64
	slot := intlSlot(1 << 62)
	for k := uint64(1 << 62); len(keys) < intlProbes+1; k++ {
		if intlSlot(k) == slot {
			keys = append(keys, k)
		}
	}
	entries := make([]*intlEntry, len(keys))
	for i, k := range keys {
		entries[i] = &intlEntry{key: k, facts: &nanpPrefix{region: strconv.Itoa(i)}}
		intlStore(entries[i])
	}
	for i, k := range keys {
		got := intlLookup(k)
		switch {
		case i < intlProbes && got != entries[i]:
			t.Errorf("key %d: got %v, want %v", i, got, entries[i])
		case i == intlProbes && got != nil:
			t.Errorf("key %d stored beyond %d probes", i, intlProbes)
		}
	}
	intlStore(&intlEntry{key: keys[0], facts: &nanpPrefix{region: "other"}})
	if got := intlLookup(keys[0]); got != entries[0] {
		t.Errorf("a second store replaced the entry: %v", got)
	}
}

func TestIntlFastPathAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	for _, c := range []struct{ raw, region string }{
		{"+44 20 7946 0958", ""}, {"020 7946 0958", "GB"}, {"+8613800138000", ""}, {"138 0013 8000", "CN"},
	} {
		if _, ok := normalizeFast(c.raw, c.region); !ok { // fill the cache
			t.Fatalf("%q/%q not taken", c.raw, c.region)
		}
		allocs := testing.AllocsPerRun(100, func() {
			_, _ = Normalize(c.raw, c.region)
		})
		if allocs > 1 {
			t.Errorf("Normalize(%q, %q) on a cache hit: %.0f allocations, want at most 1 (the E164 string)", c.raw, c.region, allocs)
		}
	}
}

// Keys of neighbouring prefixes must not crowd into neighbouring slots, or
// linear probing fills up long before the table does.
func TestIntlSlotSpreadsNeighbours(t *testing.T) {
	in := intlInput{c: &intlCountry{cc: 44}, n: 10}
	used := map[uint64]bool{}
	const keys = 20000
	for p := range keys {
		copy(in.s[:], fmt.Sprintf("%06d0000", p+200000))
		used[intlSlot(in.key(0))] = true
	}
	// Random slots would give about keys*(1-keys/2/slots) distinct ones.
	if len(used) < keys*9/10 {
		t.Errorf("%d neighbouring keys use only %d slots", keys, len(used))
	}
}

// Where the national-prefix pattern matches more than the national prefix
// (GB's 180020, CN's carrier codes 1[12]xx and 179xx, KR's 08x), the parser
// may strip it or not depending on later digits: such keys are left to it.
func TestIntlFastPathLeavesLongNationalPrefixesToParser(t *testing.T) {
	for _, c := range []struct{ raw, region string }{
		{"+44 180020 1234", ""}, {"+44 1800 201 2345", ""}, {"+86 11234 138 0013 8000", ""},
		{"+86 17951 138 0013 8000", ""}, {"1795113800138000", "CN"}, {"+82 081 234 5678", ""},
	} {
		if _, ok := normalizeFast(c.raw, c.region); ok {
			t.Errorf("normalizeFast(%q, %q) taken", c.raw, c.region)
		}
	}
}

// computeIntl's checks refuse a key whenever the national or international
// prefix pattern could make the parser read its numbers differently, even
// where, as here with patterns no region has, the parser reads the sample
// well: the refusal must not depend on the sample.
func TestComputeIntlRefusesAmbiguousPrefixes(t *testing.T) {
	tables := intlTablesOnce()
	gb := *tables.country[44]
	for _, tt := range []struct {
		name     string
		npp, idd string
		raw      string
		region   string
	}{
		{"national prefix pattern matching the area code", `0|207`, "", "+44 20 7946 0958", ""},
		{"international prefix pattern matching the trunk and area code", "", `00|020`, "020 7946 0958", "GB"},
	} {
		c := gb
		if tt.npp != "" {
			c.npp = regexp.MustCompile("^(?:" + tt.npp + ")$")
		}
		if tt.idd != "" {
			c.idd, c.iddMax = regexp.MustCompile("^(?:"+tt.idd+")$"), 3
		}
		in, ok := scanIntl(tt.raw, tt.region, tables)
		if !ok {
			t.Fatalf("%s: %q not scanned", tt.name, tt.raw)
		}
		real := computeIntl(&in, in.ef(), tables)
		if !real.facts.valid {
			t.Fatalf("%s: %q refused with the real patterns", tt.name, tt.raw)
		}
		in.c = &c
		if e := computeIntl(&in, in.ef(), tables); e.facts.valid {
			t.Errorf("%s: %q accepted", tt.name, tt.raw)
		}
	}
}
