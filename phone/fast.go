package phone

import (
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/nyaruka/phonenumbers"
)

// The fast path reads the forms most input arrives in, NANP numbers as
// "+12125550134", "2125550134", "12125550134", "(212) 555-0134",
// "212-555-0134", "212.555.0134" or "+1 212-555-0134", without phonenumbers'
// parser (tens of µs and ~100 allocations with validation). Anything else,
// and any number the cache has no answer for, goes to the full parser, so
// rare cases are decided in one place. FuzzFastPathAgreesWithFullParser,
// TestFastPathAgreesOnRandomNANP and TestNANPMissAgreesWithFullParser hold it
// to the full parser's results.
//
// The facts that need metadata (validity, region, type, zones, area) come from
// a cache keyed by the first six national digits, NPA-NXX, filled on a miss
// by the mirror of intl_miss.go with the plan of calling code 1 (nanpFacts:
// ~2 µs, a tenth of the parser, which a list spread over all area codes hits
// on most rows until ~250k NPA-NXX are cached; BenchmarkNormalizeNANPCold).
// For an invalid prefix (an unassigned area code or exchange) the entry holds
// the error normalizeFull gives, "not a valid number for region JM" or "for
// country code +1": it is invalidReason's, which for a 10-digit number depends
// only on the region GetRegionCodeForNumber finds, so Normalize returns it
// without the parser (ParseKey, which accepts such numbers, does not use it).
// All of that is sound because, for 10-digit +1 numbers, each of these facts
// is decided by those six digits:
//
//   - Validity, type and region are regular-expression matches against the
//     metadata of the 25 NANP regions (each region's leading digits, then its
//     general, fixed-line, mobile, toll-free… patterns). Nearly all patterns
//     fix at most six digits and leave the rest free: the US fixed-line
//     pattern is (?:2(?:0[1-35-9]|…)|…)[2-9]\d{6}, Jamaica's mobile one
//     876(?:2(?:0[1-9]|…)|…)\d{4}. The exceptions pin a seventh digit:
//     Barbados 246521[0369]\d{3} (fixed) and 24652(?:1[147]|20)\d{3} (mobile),
//     Jamaica 8766060\d{3} (fixed). Those prefixes bypass the cache
//     (nanpPrefixesNeedingFullNumber) and go to the full parser.
//     TestNANPMetadataDependsOnSixDigits proves, by running every pattern's
//     automaton over all digit strings, that no other prefix depends on digit
//     7 or later; it fails, naming the prefixes, if new metadata adds any.
//   - Zones come from the library's prefix map, whose +1 keys are at most
//     1+NPA+NXX long (TestNANPZonesDependOnSixDigits checks).
//   - Area comes from the NPA.
//
// The cache costs 8 KiB per area code seen, plus one shared entry per distinct
// set of facts (a few thousand at most) or error text (one per region).

// fastMaxLen bounds the input the fast path scans; longer input (lots of
// padding, say) is left to the parser, which has its own limit of 250.
const fastMaxLen = 40

// normalizeFast returns the Number of raw if raw is a NANP number in one of the
// fast forms and the cache knows its prefix to be valid, or the same for the
// international forms of fast_intl.go; ok is false otherwise. ParseKey uses
// it: it accepts possible-but-invalid numbers, so cached errors are not for
// it.
func normalizeFast(raw, defaultRegion string) (n Number, ok bool) {
	n, ok, err := normalizeFastOrInvalid(raw, defaultRegion)
	return n, ok && err == nil
}

// normalizeFastOrInvalid is normalizeFast that also answers, for Normalize,
// with the error normalizeFull would return where the cache holds one for
// the key (ok true, err set).
func normalizeFastOrInvalid(raw, defaultRegion string) (n Number, ok bool, err error) {
	national, ok := scanNANP(raw, isNANPRegion(defaultRegion))
	if !ok {
		return normalizeIntlFast(raw, defaultRegion)
	}
	p := nanpPrefixOf(national)
	if !p.valid {
		return Number{}, p.err != nil, p.err
	}
	return p.number(national), true, nil
}

// scanNANP reads raw as digits separated by spaces, '-', '.', '(' or ')',
// optionally after a leading '+', and returns the 10-digit national number if
// that is "+1" and 10 digits, or (when the default region is a NANP region) 10
// digits or "1" and 10 digits. The area code must start with 2-9: anything
// else is for the parser to reject.
func scanNANP(raw string, nanpDefault bool) (national uint64, ok bool) {
	if len(raw) > fastMaxLen {
		return 0, false
	}
	i := 0
	for i < len(raw) && raw[i] == ' ' {
		i++
	}
	plus := i < len(raw) && raw[i] == '+'
	if plus {
		i++
	}
	var v uint64
	var digits int
	var first byte
	for ; i < len(raw); i++ {
		c := raw[i]
		switch {
		case '0' <= c && c <= '9':
			if digits == 0 {
				first = c
			}
			digits++
			if digits > 11 {
				return 0, false
			}
			v = v*10 + uint64(c-'0')
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
		default:
			return 0, false
		}
	}
	switch {
	case digits == 11 && first == '1' && (plus || nanpDefault):
		v -= 10_000_000_000
	case digits == 10 && !plus && nanpDefault:
	default:
		return 0, false
	}
	if v < 2_000_000_000 {
		return 0, false
	}
	return v, true
}

// nanpRegions marks the regions of calling code 1, indexed by their two
// letters in either case; filled from the library's metadata.
var nanpRegions = func() (t [26 * 26]bool) {
	for _, r := range phonenumbers.GetRegionCodesForCountryCode(1) {
		if i, ok := regionIndex(r); ok {
			t[i] = true
		}
	}
	return t
}()

// isNANPRegion reports whether region ("US", "ca"…) is a NANP region; the full
// path upper-cases the region, so the fast path ignores case too.
func isNANPRegion(region string) bool {
	i, ok := regionIndex(region)
	return ok && nanpRegions[i]
}

func regionIndex(region string) (int, bool) {
	if len(region) != 2 {
		return 0, false
	}
	a, b := region[0]|0x20, region[1]|0x20 // ASCII lower case
	if a < 'a' || a > 'z' || b < 'a' || b > 'z' {
		return 0, false
	}
	return int(a-'a')*26 + int(b-'a'), true
}

// nanpPrefix is what the metadata says of the numbers of one NPA-NXX.
// Entries are shared between prefixes and callers: never modify one.
type nanpPrefix struct {
	valid bool // valid for every number of the prefix, and the facts below hold for all
	// err, if set (valid false), is the error normalizeFull returns for every
	// number of the prefix: an invalid verdict the key decides.
	err    error
	region string
	typ    LineType
	zones  []string // shared read-only with every Number built from the entry
	area   string
}

// number builds the Number of national from the prefix's facts; the E164
// string is its one allocation.
func (p *nanpPrefix) number(national uint64) Number {
	var b [12]byte
	b[0], b[1] = '+', '1'
	for i, v := len(b)-1, national; i >= 2; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return Number{
		E164:        string(b[:]),
		Key:         10_000_000_000 + national,
		CountryCode: 1,
		Region:      p.region,
		Type:        p.typ,
		TimeZones:   p.zones,
		Area:        p.area,
	}
}

// nanpPrefixesNeedingFullNumber are the NPA-NXX whose numbers' validity or type
// depends on the seventh digit (see the comment at the top of this file).
var nanpPrefixesNeedingFullNumber = []uint64{246521, 246522, 876606}

// notFast is the cache entry of prefixes the fast path leaves to the parser:
// those in nanpPrefixesNeedingFullNumber, and any the miss path does not
// decide.
var notFast = &nanpPrefix{}

// nanpCache holds a lazily allocated block of 1000 NXX entries per NPA
// (200-999). Readers take two atomic loads and no lock. Two goroutines missing
// the same prefix both compute it and store equal entries, which is harmless.
var nanpCache [800]atomic.Pointer[[1000]atomic.Pointer[nanpPrefix]]

func nanpPrefixOf(national uint64) *nanpPrefix {
	npa, nxx := national/10_000_000, national/10_000%1000
	slot := &nanpCache[npa-200]
	block := slot.Load()
	if block == nil {
		block = new([1000]atomic.Pointer[nanpPrefix])
		if !slot.CompareAndSwap(nil, block) {
			block = slot.Load()
		}
	}
	if p := block[nxx].Load(); p != nil {
		return p
	}
	p := computeNANPPrefix(national)
	block[nxx].Store(p)
	return p
}

// computeNANPPrefix works out what the parser says of national, one number
// of its prefix, which by the argument above answers for the whole prefix:
// by the mirror of intl_miss.go (nanpFacts) or, if the +1 plan could not be
// built, by the full parser, valid numbers only.
func computeNANPPrefix(national uint64) *nanpPrefix {
	if slices.Contains(nanpPrefixesNeedingFullNumber, national/10_000) {
		return notFast
	}
	if p := planFor(1); p.ok {
		return p.nanpFacts(national)
	}
	n, err := normalizeFull("+1"+strconv.FormatUint(national, 10), "")
	if err != nil {
		return notFast
	}
	return internNANPPrefix(nanpPrefix{valid: true, region: n.Region, typ: n.Type, zones: n.TimeZones, area: n.Area})
}

var interned struct {
	sync.Mutex
	byFacts map[string]*nanpPrefix
}

// internNANPPrefix returns the one shared entry equal to p, so that a full
// cache holds a few thousand distinct entries, not 800,000.
func internNANPPrefix(p nanpPrefix) *nanpPrefix {
	key := p.region + "|" + string(p.typ) + "|" + p.area
	for _, z := range p.zones {
		key += "|" + z
	}
	interned.Lock()
	defer interned.Unlock()
	if e, ok := interned.byFacts[key]; ok {
		return e
	}
	if interned.byFacts == nil {
		interned.byFacts = make(map[string]*nanpPrefix)
	}
	e := &p
	interned.byFacts[key] = e
	return e
}
