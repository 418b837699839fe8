package phone

import (
	"fmt"
	"regexp"
	"strconv"
	"sync"

	"github.com/nyaruka/phonenumbers"
)

// The miss path of the international fast path: what phonenumbers v1.8.1
// decides about one number of an enabled calling code, computed from the
// library's own metadata patterns, compiled once per calling code, instead
// of by a run of the full parser (Parse, GetRegionCodeForNumber,
// IsValidNumberForRegion, GetNumberType, GetTimezonesForNumber: 20-30 µs, a
// quarter of it concatenating pattern strings and looking them up in the
// library's regexp cache, a fifth its extension regexp).
//
// The patterns are the library's strings wrapped as the library wraps them
// ("^(?:" p ")$" for number descriptions, "^(?:" p ")" for leading digits
// and the national prefix), compiled by the same Go regexp package, so every
// match agrees with the library's. What is mirrored is only the control
// flow around the matches, in the functions below, each named after the
// library function it follows. It decides valid numbers and, for invalid
// ones the parser reads, the error normalizeFull gives (invalidReason);
// parse errors and shapes it does not follow are left to the full parser.
// TestIntlMissAgreesWithFullParser holds it to the parser on every enabled
// calling code and length, TestNANPMissAgreesWithFullParser on NANP
// numbers: calling code 1 has a plan too (all 25 regions, in the library's
// order), used by computeNANPPrefix through nanpFacts.

// intlPlan is the compiled metadata of one enabled calling code.
type intlPlan struct {
	ok bool // false if the metadata has a shape the mirror does not follow: misses go to the parser
	cc int
	// Of the main region, whose metadata parseHelper uses for every number
	// of the code (the fast path reads the national form only with the main
	// region as default region):
	npp          *regexp.Regexp // national prefix for parsing, as a prefix match; nil if none
	general      *regexp.Regexp // general description, as a full match
	lengths      []int32        // the general description's possible lengths
	localLengths []int32        // and local-only lengths
	// Of all regions: the lengths in some region's general description
	// (nsnLengths in the tests, the lengths the automata tests cover), and
	// whether every region's general description lists its lengths, so that
	// a number of no listed length is invalid in every region.
	validLengths []int32
	allLengthed  bool
	// Every region of the code, in the library's order.
	regions      []intlRegionPlan
	singleRegion bool     // GetRegionCodeForNumber returns the only region unchecked
	factsByZones sync.Map // intlFactsKey → *nanpPrefix
}

// intlDesc is a PhoneNumberDesc: its pattern as a full match and its
// possible lengths (none: any length; [-1]: no number).
type intlDesc struct {
	re      *regexp.Regexp
	lengths []int32
}

// intlRegionPlan is the compiled metadata of one region of a calling code.
type intlRegionPlan struct {
	id      string
	leading *regexp.Regexp // leading digits, as a prefix match; nil if none
	same    bool           // SameMobileAndFixedLinePattern
	general intlDesc
	ordered [len(intlTypeOrder)]intlDesc // the types getNumberTypeHelper tries before fixed line, in its order
	fixed   intlDesc
	mobile  intlDesc
}

// intlTypeOrder is getNumberTypeHelper's order of the types tried before
// fixed line and mobile.
var intlTypeOrder = [...]struct {
	typ  phonenumbers.PhoneNumberType
	desc func(*phonenumbers.PhoneMetadata) *phonenumbers.PhoneNumberDesc
}{
	{phonenumbers.PREMIUM_RATE, (*phonenumbers.PhoneMetadata).GetPremiumRate},
	{phonenumbers.TOLL_FREE, (*phonenumbers.PhoneMetadata).GetTollFree},
	{phonenumbers.SHARED_COST, (*phonenumbers.PhoneMetadata).GetSharedCost},
	{phonenumbers.VOIP, (*phonenumbers.PhoneMetadata).GetVoip},
	{phonenumbers.PERSONAL_NUMBER, (*phonenumbers.PhoneMetadata).GetPersonalNumber},
	{phonenumbers.PAGER, (*phonenumbers.PhoneMetadata).GetPager},
	{phonenumbers.UAN, (*phonenumbers.PhoneMetadata).GetUan},
	{phonenumbers.VOICEMAIL, (*phonenumbers.PhoneMetadata).GetVoicemail},
}

// buildIntlPlan compiles the metadata of calling code cc, whose regions'
// metadata meta holds.
func buildIntlPlan(cc int, meta map[string]*phonenumbers.PhoneMetadata) *intlPlan {
	p := &intlPlan{cc: cc}
	ids := phonenumbers.GetRegionCodesForCountryCode(cc)
	if len(ids) == 0 {
		return p
	}
	main := meta[ids[0]]
	if main == nil || main.GetGeneralDesc() == nil || main.GetNationalPrefixTransformRule() != "" {
		return p
	}
	var err error
	if npp := main.GetNationalPrefixForParsing(); npp != "" {
		if p.npp, err = regexp.Compile("^(?:" + npp + ")"); err != nil {
			return p
		}
	}
	if p.general, err = regexp.Compile("^(?:" + main.GetGeneralDesc().GetNationalNumberPattern() + ")$"); err != nil {
		return p
	}
	// testNumberLength indexes the general lengths: with none, the library
	// panics (and normalizeFull reports it as invalid).
	p.lengths = main.GetGeneralDesc().GetPossibleLength()
	p.localLengths = main.GetGeneralDesc().GetPossibleLengthLocalOnly()
	if len(p.lengths) == 0 {
		return p
	}
	if main.GetGeneralDesc().GetNationalNumberPattern() == "" {
		return p // IsPossibleNumberWithReason has a case of its own for it
	}
	p.singleRegion = len(ids) == 1
	p.allLengthed = true
	for _, id := range ids {
		m := meta[id]
		if m == nil || m.GetGeneralDesc() == nil {
			return p
		}
		gl := m.GetGeneralDesc().GetPossibleLength()
		p.allLengthed = p.allLengthed && len(gl) > 0
		for _, l := range gl {
			if l > 0 && !containsLength(p.validLengths, int(l)) {
				p.validLengths = append(p.validLengths, l)
			}
		}
		r := intlRegionPlan{id: id, same: m.GetSameMobileAndFixedLinePattern()}
		if ld := m.GetLeadingDigits(); ld != "" {
			if r.leading, err = regexp.Compile("^(?:" + ld + ")"); err != nil {
				return p
			}
		}
		ok := true
		desc := func(d *phonenumbers.PhoneNumberDesc) intlDesc {
			if d == nil { // the library would dereference it
				ok = false
				return intlDesc{}
			}
			re, err := regexp.Compile("^(?:" + d.GetNationalNumberPattern() + ")$")
			if err != nil {
				ok = false
			}
			return intlDesc{re: re, lengths: d.GetPossibleLength()}
		}
		r.general = desc(m.GetGeneralDesc())
		for i, t := range intlTypeOrder {
			r.ordered[i] = desc(t.desc(m))
		}
		r.fixed, r.mobile = desc(m.GetFixedLine()), desc(m.GetMobile())
		if !ok {
			return p
		}
		p.regions = append(p.regions, r)
	}
	p.ok = true
	return p
}

// intlPlans builds each calling code's plan on its first miss: compiling
// the patterns of all 198 codes takes a while, and most services see few.
var intlPlans = sync.OnceValue(func() *[1000]func() *intlPlan {
	var plans [1000]func() *intlPlan
	coll, err := phonenumbers.MetadataCollection()
	meta := make(map[string]*phonenumbers.PhoneMetadata)
	if err == nil {
		for _, m := range coll.GetMetadata() {
			meta[m.GetId()] = m
		}
	}
	for _, cc := range append([]int{1}, intlFastCodes...) { // 1: NANP misses (computeNANPPrefix)
		plans[cc] = sync.OnceValue(func() *intlPlan { return buildIntlPlan(cc, meta) })
	}
	return &plans
})

// planFor returns the plan of calling code cc, or one that is not ok.
func planFor(cc int) *intlPlan {
	if f := intlPlans()[cc]; f != nil {
		return f()
	}
	return &intlPlan{}
}

// matches is isNumberMatchingDesc (isNumberPossibleForDesc and the
// pattern; the library matches the pattern twice, with the same answer).
func (d *intlDesc) matches(nsn []byte) bool {
	if len(d.lengths) > 0 && !containsLength(d.lengths, len(nsn)) {
		return false
	}
	return d.re.Match(nsn)
}

func containsLength(lengths []int32, n int) bool {
	for _, l := range lengths {
		if int(l) == n {
			return true
		}
	}
	return false
}

// numberType is getNumberTypeHelper.
func (r *intlRegionPlan) numberType(nsn []byte) phonenumbers.PhoneNumberType {
	if !r.general.matches(nsn) {
		return phonenumbers.UNKNOWN
	}
	for i := range r.ordered {
		if r.ordered[i].matches(nsn) {
			return intlTypeOrder[i].typ
		}
	}
	if r.fixed.matches(nsn) {
		if r.same || r.mobile.matches(nsn) {
			return phonenumbers.FIXED_LINE_OR_MOBILE
		}
		return phonenumbers.FIXED_LINE
	}
	if !r.same && r.mobile.matches(nsn) {
		return phonenumbers.MOBILE
	}
	return phonenumbers.UNKNOWN
}

// regionAndType is GetRegionCodeForNumber (getRegionCodeForNumberFromRegionList
// for shared codes) followed by IsValidNumberForRegion and GetNumberType,
// which both come down to getNumberTypeHelper with the region's metadata;
// r is nil where the library finds no region.
func (p *intlPlan) regionAndType(nsn []byte) (r *intlRegionPlan, typ phonenumbers.PhoneNumberType) {
	if p.singleRegion {
		r = &p.regions[0]
		return r, r.numberType(nsn)
	}
	for i := range p.regions {
		r = &p.regions[i]
		if r.leading != nil {
			if r.leading.Match(nsn) {
				return r, r.numberType(nsn)
			}
		} else if typ = r.numberType(nsn); typ != phonenumbers.UNKNOWN {
			return r, typ
		}
	}
	return nil, phonenumbers.UNKNOWN
}

// testNumberLength is the library's testNumberLength for type UNKNOWN (the
// general description's lengths; plans with none are not ok).
func (p *intlPlan) testNumberLength(n int) phonenumbers.ValidationResult {
	pl := p.lengths
	if pl[0] == -1 {
		return phonenumbers.INVALID_LENGTH
	}
	if containsLength(p.localLengths, n) {
		return phonenumbers.IS_POSSIBLE_LOCAL_ONLY
	}
	switch {
	case int(pl[0]) == n:
		return phonenumbers.IS_POSSIBLE
	case int(pl[0]) > n:
		return phonenumbers.TOO_SHORT
	case int(pl[len(pl)-1]) < n:
		return phonenumbers.TOO_LONG
	case containsLength(pl[1:], n):
		return phonenumbers.IS_POSSIBLE
	}
	return phonenumbers.INVALID_LENGTH
}

// The parser's bounds on the national significant number
// (MIN_LENGTH_FOR_NSN, MAX_LENGTH_FOR_NSN).
const (
	minNSNDigits = 2
)

// nationalStrip is what parseHelper does with s, the digits after the
// calling code or, nationally, all digits (scanIntl and computeIntl have
// made sure the parser reads the calling code as in.c and nothing as an
// international prefix): it returns how many leading digits of s it strips
// as national prefix (maybeStripNationalPrefixAndCarrierCode, kept only if
// testNumberLength allows), or false where it returns an error.
func (p *intlPlan) nationalStrip(s []byte, national bool, ccDigits int) (int, bool) {
	if !national && ccDigits+len(s) <= minNSNDigits {
		return 0, false // ErrTooShortAfterIDD
	}
	if len(s) < minNSNDigits {
		return 0, false // ErrTooShortNSN
	}
	if national && len(s) <= minNSNDigits {
		// Whether two digits are a number at all depends on the
		// punctuation around them (isViablePhoneNumber).
		return 0, false
	}
	t := s
	// maybeStripNationalPrefixAndCarrierCode, without a transform rule.
	if p.npp != nil {
		if loc := p.npp.FindIndex(s); loc != nil {
			// A number that fits the general pattern keeps its prefix if
			// it would not fit without it.
			if !p.general.Match(s) || p.general.Match(s[loc[1]:]) {
				t = s[loc[1]:]
			}
		}
	}
	switch p.testNumberLength(len(t)) {
	case phonenumbers.TOO_SHORT, phonenumbers.IS_POSSIBLE_LOCAL_ONLY, phonenumbers.INVALID_LENGTH:
		t = s
	}
	if len(t) < minNSNDigits || len(t) > maxNSNDigits {
		return 0, false // ErrTooShortNSN, ErrNumTooLong
	}
	return len(s) - len(t), true
}

// intlFacts returns what normalizeFull says of s (digits as for
// nationalStrip, after calling code ccStr) if the mirror follows it: how
// many digits of s the parser strips and either the facts of a valid number
// or, for an invalid one, an entry with the error (invalidReason); ok is
// false for anything else (parse errors, a valid number describe refuses),
// which the parser must answer. The national significant number of the
// parsed number is s[strip:] itself (GetNationalSignificantNumber puts back
// the leading zeros that setItalianLeadingZerosForPhoneNumber counts), and
// its E.164 "+" cc s[strip:].
func (p *intlPlan) intlFacts(ccStr string, s []byte, national bool) (strip int, facts *nanpPrefix, ok bool) {
	if !p.ok {
		return 0, nil, false
	}
	strip, ok = p.nationalStrip(s, national, len(ccStr))
	if !ok {
		return 0, nil, false
	}
	nsn := s[strip:]
	r, typ := p.regionAndType(nsn)
	if r == nil || typ == phonenumbers.UNKNOWN {
		// normalizeFull: validate, then invalidReason.
		return strip, p.invalidReason(nsn, r), true
	}
	if len(ccStr)+len(nsn) > maxE164Digits {
		return 0, nil, false // describe refuses it
	}
	var b [1 + 3 + maxNSNDigits]byte
	b[0] = '+'
	l := 1 + copy(b[1:], ccStr)
	l += copy(b[l:], nsn)
	return strip, p.factsOf(r.id, lineTypeOf(typ), string(b[:l])), true
}

// invalidReason is normalize.go's invalidReason for an invalid number of the
// plan's code with national significant number nsn, r being the region
// GetRegionCodeForNumber finds (regionAndType; nil for none).
// IsPossibleNumberWithReason tests nsn's length against the main region's
// general description, which is the plan's (its no-pattern case is not
// planned).
func (p *intlPlan) invalidReason(nsn []byte, r *intlRegionPlan) *nanpPrefix {
	switch p.testNumberLength(len(nsn)) {
	case phonenumbers.TOO_SHORT:
		return invalidEntry("too short")
	case phonenumbers.TOO_LONG:
		return invalidEntry("too long")
	case phonenumbers.INVALID_LENGTH:
		return invalidEntry("wrong length for country code +" + strconv.Itoa(p.cc))
	case phonenumbers.IS_POSSIBLE_LOCAL_ONLY:
		return invalidEntry("local number without its area code")
	}
	if r != nil {
		return invalidEntry("not a valid number for region " + r.id)
	}
	return invalidEntry("not a valid number for country code +" + strconv.Itoa(p.cc))
}

// invalidEntries interns the cache entries of invalid verdicts by their
// text (a few hundred at most: one per region, calling code and length
// reason), so that cached errors take no memory per key.
var invalidEntries sync.Map // string → *nanpPrefix

// invalidEntry returns the shared entry whose error is ErrInvalid with
// reason, as invalidReason words it.
func invalidEntry(reason string) *nanpPrefix {
	if e, ok := invalidEntries.Load(reason); ok {
		return e.(*nanpPrefix)
	}
	e, _ := invalidEntries.LoadOrStore(reason, &nanpPrefix{err: fmt.Errorf("%w: %s", ErrInvalid, reason)})
	return e.(*nanpPrefix)
}

// invalidDecidedByKey reports whether the invalid verdict and the error the
// mirror gives s, stripped of strip digits, hold for every number of its
// key, whose first keyDigits digits of s it holds (computeIntl's other
// checks holding: the national prefix pattern matches s[:ef] or nothing,
// strip is 0 or ef, and neither s[ef:] nor s[strip:] is an exception). The
// error is invalidReason's: it depends on len(t), t = s[strip:], and, when
// that length is possible, on GetRegionCodeForNumber, which the automata
// tests prove decided by t's first intlDepth digits for the lengths in
// validLengths (as they do the verdict). So what needs proving is that the
// strip and the verdict are the key's:
//
//   - the strip: parseHelper strips s[:ef] where the national prefix pattern
//     matches it, unless s fits the general pattern and s[ef:] does not, and
//     keeps it anyway if len(s)-ef is not a full number's length. So it is
//     decided by the key if the key holds all of s, ef is 0, the pattern
//     does not match s[:ef], len(s)-ef is not possible but for being too
//     long (kept either way), or len(s)-ef is in validLengths (the automata
//     tests prove the general pattern on s and s[ef:] decided by ef+6
//     digits there);
//   - the verdict: decided if the key holds all of t, len(t) is in
//     validLengths (automata), or no region's general description allows
//     len(t) (every number of that length is invalid).
func (p *intlPlan) invalidDecidedByKey(c *intlCountry, s []byte, ef, strip, keyDigits int) bool {
	n := len(s)
	if keyDigits >= n {
		return true // the key is the number
	}
	if ef > 0 && c.npp != nil && c.npp.Match(s[:ef]) && !containsLength(p.validLengths, n-ef) {
		switch p.testNumberLength(n - ef) {
		case phonenumbers.TOO_SHORT, phonenumbers.IS_POSSIBLE_LOCAL_ONLY, phonenumbers.INVALID_LENGTH:
		default:
			return false
		}
	}
	l := n - strip
	return l <= intlDepth || containsLength(p.validLengths, l) || p.allLengthed
}

// nanpFacts is computeNANPPrefix by the mirror, p being the plan of +1:
// what normalizeFull says of national, a 10-digit NANP number with an NPA
// of 2-9 (scanNANP), in every form scanNANP reads. The parser reads each
// form as +1 and national: no NANP region's national prefix pattern
// ("1", or "([2-9]\d{6})$|1" and the like, with a transform rule for 7-digit
// local numbers) matches a prefix of it, and 10 is a possible length of the
// main region, US. So nationalStrip must strip nothing; then the region,
// validity and type are regionAndType's over the 25 regions, the zones
// factsOf's (zonesOf with cc 1 narrows the +1-wide fallback to the region),
// the area AreaOf's, and an invalid number's error invalidReason's. All of
// them are decided by NPA-NXX (see fast.go), so the answer is the prefix's.
func (p *intlPlan) nanpFacts(national uint64) *nanpPrefix {
	var s [10]byte
	for i, v := len(s)-1, national; i >= 0; i-- {
		s[i] = byte('0' + v%10)
		v /= 10
	}
	strip, ok := p.nationalStrip(s[:], false, 1)
	if !ok || strip != 0 {
		return notFast // not the shape argued above: the parser answers
	}
	r, typ := p.regionAndType(s[:])
	if r == nil || typ == phonenumbers.UNKNOWN {
		return p.invalidReason(s[:], r)
	}
	f := p.factsOf(r.id, lineTypeOf(typ), "+1"+string(s[:]))
	return internNANPPrefix(nanpPrefix{valid: true, region: f.region, typ: f.typ, zones: f.zones, area: AreaOf(int(national / 10_000_000))})
}

// intlFactsKey identifies the facts of a valid number: region, type and the
// library's zone slice. GetTimezonesForPrefix returns the slices of its
// prefix map, which it never changes, so the slice's address stands for its
// contents; "unknown" answers are fresh slices, keyed as unknown.
type intlFactsKey struct {
	region  string
	typ     LineType
	zones   *string
	n       int
	unknown bool
}

// factsOf returns the shared facts of a valid number of the plan's code in
// region with type typ and E.164 e164, with the zones describe gives it
// (timeZonesOf), computed once per distinct zone answer of the library.
func (p *intlPlan) factsOf(region string, typ LineType, e164 string) *nanpPrefix {
	lib, err := phonenumbers.GetTimezonesForPrefix(e164)
	if err != nil {
		return internNANPPrefix(nanpPrefix{valid: true, region: region, typ: typ, zones: zonesOf(lib, err, p.cc, region)})
	}
	k := intlFactsKey{region: region, typ: typ, unknown: isUnknownZone(lib)}
	if !k.unknown {
		k.zones, k.n = &lib[0], len(lib)
	}
	if f, ok := p.factsByZones.Load(k); ok {
		return f.(*nanpPrefix)
	}
	f := internNANPPrefix(nanpPrefix{valid: true, region: region, typ: typ, zones: zonesOf(lib, err, p.cc, region)})
	p.factsByZones.Store(k, f)
	return f
}
