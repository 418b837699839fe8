package phone

import (
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/nyaruka/phonenumbers"
)

// The international fast path reads numbers of the calling codes in
// intlFastCodes written as "+44 20 7946 0958", "0044 20 7946 0958" (after the
// default region's international prefix, when that is plain digits or a
// pattern whose first alternative is: CN's 00|1(?:[12]\d|79)\d\d00) or, with
// the calling code's main region as default region, nationally ("020 7946
// 0958" in GB, "138 0013 8000" in CN); digits may be separated by spaces, '-',
// '.', '(' or ')'. Like the NANP path it answers from a cache: valid numbers,
// and invalid ones whose error the key decides (below); the parser answers
// the rest.
//
// Why one cache entry may answer for many numbers. Write s for the digits
// after the calling code (or the national digits), np for the national prefix
// ("0") and ef = len(np) if s starts with np, else 0. For such input the
// parser (phonenumbers v1.8.1 parseHelper, GetRegionCodeForNumber,
// IsValidNumberForRegion, GetNumberType, GetTimezonesForNumber) decides by
// length checks and these regular-expression matches only:
//
//   - the national prefix: which prefixes of s match the
//     national-prefix-for-parsing pattern; if one does, whether s and s
//     minus it match the general pattern;
//   - on the national significant number t that remains (s or s[ef:]): the
//     leading-digits, general and per-type patterns of every region of the
//     calling code (region, validity, type), and the time-zone map, a
//     longest-prefix look-up.
//
// The cache key is the form (national or not), the calling code, len(s), ef
// and the first ef+6 digits of s. A miss works out what the parser says of
// the number at hand (below) and keeps the answer for the key only if
//
//   - the national-prefix pattern matches no prefix of s other than s[:ef]:
//     it matches at most 6 digits (buildIntlTables checks), so this holds
//     for every number of the key, and the parser strips ef digits or none;
//   - for the national form, the international prefix pattern matches no
//     prefix of s; national keys hold as many digits as it can match;
//   - the parser's national significant number is t = s[ef:] or s (it
//     strips ef digits or none: "strip"), so its E.164 is "+" cc t;
//   - neither s[ef:] nor t starts with a prefix in
//     intlPrefixesNeedingFullNumber (for their lengths).
//
// TestIntlMetadataDependsOnSixDigits proves the rest by running every pattern
// above as an automaton over all digit strings of each length (as the NANP
// tests do) and reading the zone map: for every enabled calling code, the
// general pattern on s[ef:] and on s, the validation patterns on t and the
// zones of t are fixed by the lengths and t's (or s[ef:]'s) first 6 digits,
// except after the listed prefixes. So every number of a kept key is
// stripped alike and gets the same region, type and zones, and E.164
// "+" cc t.
//
// A miss does not run the full parser (~20-30 µs: Parse with its extension
// regexp, the library building each pattern string and looking it up in its
// regexp cache, every type pattern matched twice). intl_miss.go compiles,
// once per calling code, the very pattern strings the library builds from
// its metadata ("^(?:" pattern ")$", "^(?:" leading digits ")", "^(?:"
// national prefix ")") with the same regexp package, so each match is the
// library's, and mirrors only the control flow around them: parseHelper's
// national-prefix stripping and length test, GetRegionCodeForNumber,
// getNumberTypeHelper's order of types, isNumberMatchingDesc's length check;
// the zones are the library's GetTimezonesForPrefix of the E.164, through
// the same code as describe's. It answers numbers it finds valid, with
// region, type and zones, and invalid numbers the parser reads (no parse
// error) with invalidReason's error, which depends on the length of t and,
// if that is possible, on the region GetRegionCodeForNumber finds, itself
// decided like the verdict. An invalid verdict is kept for the key only
// where invalidDecidedByKey (intl_miss.go) shows the strip and the verdict
// to be the key's; Normalize then returns the cached error without the
// parser (~0.1 µs instead of 20-50, BenchmarkNormalizeInvalid), ParseKey
// ignores it. Anything else (parse errors: too short, too long; a metadata
// shape it does not follow) gets notFast facts, so the parser answers and
// gives its error. A miss costs ~2 µs, about a tenth of the parser
// (BenchmarkNormalizeIntlCold); TestIntlMissAgreesWithFullParser holds the
// mirror to normalizeFull on every enabled code and length, errors
// included, and checks a second number of each key against the entry the
// first left.
//
// The cache is a fixed table of intlCacheSlots entries (about 10 MiB full);
// a key whose probe sequence is full is worked out again on each miss, by
// the miss path above, and not stored.

// intlFastCodes are the calling codes the international fast path serves:
// those whose national prefix handling is mechanical (no transform rule, a
// national-prefix pattern matching at most 6 digits) and whose metadata is
// decided by 6 digits but for a few prefixes. TestIntlMetadataDependsOnSixDigits
// checks each.
var intlFastCodes = []int{
	7, 20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49,
	51, 52, 53, 56, 57, 58, 60, 61, 62, 63, 64, 65, 66, 82, 84, 86, 90, 91, 92,
	93, 94, 95, 98, 211, 212, 213, 216, 218, 220, 221, 222, 223, 224, 225, 226,
	227, 228, 229, 230, 231, 232, 233, 234, 235, 236, 237, 238, 239, 240, 242,
	243, 244, 245, 246, 247, 248, 249, 250, 251, 252, 253, 254, 255, 256, 257,
	258, 260, 262, 263, 264, 265, 266, 267, 268, 269, 290, 291, 297, 298, 299,
	350, 351, 352, 353, 354, 355, 356, 357, 358, 359, 370, 371, 372, 373, 374,
	375, 376, 377, 380, 381, 382, 383, 385, 386, 387, 389, 420, 421, 423, 500,
	501, 502, 503, 504, 505, 506, 507, 508, 509, 590, 591, 592, 593, 594, 595,
	596, 597, 598, 599, 670, 673, 674, 675, 676, 677, 678, 679, 680, 681, 682,
	683, 685, 686, 687, 688, 689, 690, 691, 692, 850, 852, 853, 855, 856, 880,
	886, 960, 961, 962, 963, 964, 965, 966, 967, 968, 970, 971, 972, 973, 974,
	975, 976, 977, 992, 993, 994, 995, 996, 998,
}

// intlDepth is how many digits of the national significant number the cache
// key holds.
const intlDepth = 6

// intlCountry is what the fast path needs of an enabled calling code.
type intlCountry struct {
	cc    int
	ccStr string
	np    string         // national prefix, "" if none
	npp   *regexp.Regexp // national prefix for parsing, as a full match; nil if none
	// national is set when numbers may be written nationally with the main
	// region as default region. If that region's international prefix is not
	// plain digits, idd is it as a full match and iddMax the most digits it
	// matches; a miss then checks that it matches no prefix of the number,
	// and national keys hold at least iddMax digits so that this is decided
	// by the key.
	national bool
	idd      *regexp.Regexp
	iddMax   int
}

// intlRegion is what the fast path needs of a default region.
type intlRegion struct {
	// idd is the international prefix if it is plain digits ("00", "011"),
	// or the first alternative of the prefix pattern if that is plain digits
	// (CN: "00" of 00|1(?:[12]\d|79)\d\d00), which the parser, matching
	// leftmost-first, then takes whenever the number starts with it; else "".
	idd     string
	country *intlCountry // set if the region is the national-form region of an enabled code
}

type intlTables struct {
	known   [1000]bool // calling codes the library knows
	country [1000]*intlCountry
	region  [26 * 26]intlRegion
	// exceptions holds intlPrefixesNeedingFullNumber by intlExceptionKey.
	exceptions map[uint64]bool
}

var intlTablesOnce = sync.OnceValue(buildIntlTables)

func buildIntlTables() *intlTables {
	t := &intlTables{exceptions: make(map[uint64]bool)}
	for cc := 1; cc < 1000; cc++ {
		t.known[cc] = len(phonenumbers.GetRegionCodesForCountryCode(cc)) > 0
	}
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		return t // no fast path: everything goes to the parser
	}
	meta := make(map[string]*phonenumbers.PhoneMetadata)
	for _, m := range coll.GetMetadata() {
		meta[m.GetId()] = m
		if i, ok := regionIndex(m.GetId()); ok {
			t.region[i].idd = plainIDD(m.GetInternationalPrefix())
		}
	}
	for _, cc := range intlFastCodes {
		main := meta[phonenumbers.GetRegionCodeForCountryCode(cc)]
		if main == nil {
			continue
		}
		np := main.GetNationalPrefix()
		if main.GetNationalPrefixTransformRule() != "" || np != "" && !isDigits(np) || len(np)+intlDepth > maxKeyDigits {
			continue
		}
		c := &intlCountry{cc: cc, ccStr: strconv.Itoa(cc), np: np}
		if p := main.GetNationalPrefixForParsing(); p != "" {
			re, max, ok := fullMatchBounded(p)
			if !ok || max > intlDepth {
				continue
			}
			c.npp = re
		}
		t.country[cc] = c
		i, ok := regionIndex(main.GetId())
		if !ok {
			continue
		}
		if idd := main.GetInternationalPrefix(); !isDigits(idd) {
			re, max, ok := fullMatchBounded(idd)
			if !ok || max > maxKeyDigits {
				continue
			}
			c.idd, c.iddMax = re, max
		}
		c.national = true
		t.region[i].country = c
	}
	for _, e := range intlPrefixesNeedingFullNumber {
		t.exceptions[intlExceptionKey(e.cc, e.length, e.prefix)] = true
	}
	return t
}

// plainIDD returns idd if it is plain digits, or the first alternative of
// the pattern idd if that is plain digits; else "".
func plainIDD(idd string) string {
	if isDigits(idd) {
		return idd
	}
	tree, err := syntax.Parse(idd, syntax.Perl)
	if err != nil || tree.Op != syntax.OpAlternate || tree.Sub[0].Op != syntax.OpLiteral || tree.Sub[0].Flags&syntax.FoldCase != 0 {
		return ""
	}
	if first := string(tree.Sub[0].Rune); isDigits(first) {
		return first
	}
	return ""
}

// fullMatchBounded compiles pattern as a full match and returns the most
// characters a match can have; ok is false if that is unbounded or the
// pattern does not compile.
func fullMatchBounded(pattern string) (re *regexp.Regexp, max int, ok bool) {
	re, err := regexp.Compile("^(?:" + pattern + ")$")
	if err != nil {
		return nil, 0, false
	}
	tree, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil, 0, false
	}
	max, ok = maxMatchLen(tree.Simplify())
	return re, max, ok
}

// maxMatchLen returns the length of the longest string re matches, or false
// if there is none.
func maxMatchLen(re *syntax.Regexp) (int, bool) {
	switch re.Op {
	case syntax.OpNoMatch, syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine,
		syntax.OpBeginText, syntax.OpEndText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return 0, true
	case syntax.OpLiteral:
		return len(re.Rune), true
	case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return 1, true
	case syntax.OpCapture, syntax.OpQuest:
		return maxMatchLen(re.Sub[0])
	case syntax.OpConcat, syntax.OpAlternate:
		total := 0
		for _, sub := range re.Sub {
			n, ok := maxMatchLen(sub)
			if !ok {
				return 0, false
			}
			if re.Op == syntax.OpConcat {
				total += n
			} else {
				total = max(total, n)
			}
		}
		return total, true
	case syntax.OpRepeat:
		n, ok := maxMatchLen(re.Sub[0])
		if !ok || re.Max < 0 && n > 0 {
			return 0, false
		}
		return n * max(re.Max, 0), true
	case syntax.OpStar, syntax.OpPlus:
		if n, ok := maxMatchLen(re.Sub[0]); ok && n == 0 {
			return 0, true
		}
	}
	return 0, false
}

// isException reports whether nsn, a national significant number of cc, is
// in intlPrefixesNeedingFullNumber.
func (t *intlTables) isException(cc int, nsn []byte) bool {
	if len(nsn) <= intlDepth {
		return false // the key holds every digit
	}
	var p int
	for _, c := range nsn[:intlDepth] {
		p = p*10 + int(c-'0')
	}
	return t.exceptions[intlExceptionKey(cc, len(nsn), p)]
}

func isDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func intlExceptionKey(cc, length, prefix int) uint64 {
	return uint64(cc)<<40 | uint64(length)<<32 | uint64(prefix)
}

// intlInput is a number read by scanIntl.
type intlInput struct {
	c        *intlCountry
	s        [maxNSNDigits]byte // digits after the calling code, or the national digits
	n        int                // len of s
	national bool               // written nationally
}

// maxNSNDigits is the parser's limit on a national significant number.
const maxNSNDigits = 17

// scanIntl reads raw as digits separated by spaces, '-', '.', '(' or ')',
// optionally after a leading '+', and returns it if it is in one of the forms
// of the international fast path (see the top of this file).
func scanIntl(raw, defaultRegion string, t *intlTables) (in intlInput, ok bool) {
	if len(raw) > fastMaxLen {
		return in, false
	}
	i := 0
	for i < len(raw) && raw[i] == ' ' {
		i++
	}
	plus := i < len(raw) && raw[i] == '+'
	if plus {
		i++
	}
	var d [fastMaxLen]byte
	nd := 0
	for ; i < len(raw); i++ {
		c := raw[i]
		switch {
		case '0' <= c && c <= '9':
			d[nd] = c
			nd++
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
		default:
			return in, false
		}
	}
	digits := d[:nd]
	if !plus {
		ri, ok := regionIndex(defaultRegion)
		if !ok {
			return in, false
		}
		r := &t.region[ri]
		switch {
		case r.idd != "" && hasPrefix(digits, r.idd):
			// The parser strips the international prefix only if no 0
			// follows it; with a 0 the number is for the parser.
			digits = digits[len(r.idd):]
			if len(digits) == 0 || digits[0] == '0' {
				return in, false
			}
		case r.country != nil:
			// Read nationally, unless the digits start with the calling
			// code, which the parser may strip (a case left to it).
			if hasPrefix(digits, r.country.ccStr) || len(digits) > maxNSNDigits {
				return in, false
			}
			in.c, in.national, in.n = r.country, true, copy(in.s[:], digits)
			return in, true
		default:
			return in, false
		}
	}
	// The parser takes the first 1 to 3 digits that are a known calling
	// code (codes are prefix-free, so at most one is), and none if the first
	// is 0.
	if len(digits) == 0 || digits[0] == '0' {
		return in, false
	}
	for l := 1; l <= 3 && l <= len(digits); l++ {
		cc := 0
		for _, c := range digits[:l] {
			cc = cc*10 + int(c-'0')
		}
		if !t.known[cc] {
			continue
		}
		rest := digits[l:]
		if t.country[cc] == nil || len(rest) > maxNSNDigits {
			return in, false
		}
		in.c, in.n = t.country[cc], copy(in.s[:], rest)
		return in, true
	}
	return in, false
}

func hasPrefix(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && string(b[:len(prefix)]) == prefix
}

// ef is how many digits of s are the national prefix, if s starts with it.
func (in *intlInput) ef() int {
	if np := in.c.np; np != "" && hasPrefix(in.s[:in.n], np) {
		return len(np)
	}
	return 0
}

// maxKeyDigits bounds the digits of s a key holds, so that they fit in 30
// bits.
const maxKeyDigits = 9

// keyDigits is how many digits of s the cache key of in holds.
func (in *intlInput) keyDigits(ef int) int {
	d := ef + intlDepth
	if in.national {
		d = max(d, in.c.iddMax)
	}
	return min(d, in.n)
}

// key packs what the cache entry of in depends on: the form, the calling
// code, len(s), ef and the first keyDigits of s.
func (in *intlInput) key(ef int) uint64 {
	var p uint64
	for _, c := range in.s[:in.keyDigits(ef)] {
		p = p*10 + uint64(c-'0')
	}
	k := uint64(in.c.cc)<<40 | uint64(in.n)<<32 | uint64(ef)<<30 | p
	if in.national {
		k |= 1 << 62
	}
	return k
}

// intlCacheSlots bounds the cache: 2 MiB of slots, and about 10 MiB with
// their entries when full.
const (
	intlSlotBits   = 18
	intlCacheSlots = 1 << intlSlotBits
)

// intlProbes is how many slots a key may take before it is not cached.
const intlProbes = 8

type intlEntry struct {
	key   uint64
	facts *nanpPrefix // the facts (or error) of the key's numbers; area is always ""
	strip int         // digits of s the parser strips: 0 or ef
}

// intlCache is an open-addressing table written once per slot (CAS from nil),
// so readers take one atomic load per probe and no lock.
var intlCache [intlCacheSlots]atomic.Pointer[intlEntry]

// normalizeIntlFast is normalizeFastOrInvalid for the international forms.
func normalizeIntlFast(raw, defaultRegion string) (Number, bool, error) {
	t := intlTablesOnce()
	in, ok := scanIntl(raw, defaultRegion, t)
	if !ok {
		return Number{}, false, nil
	}
	ef := in.ef()
	key := in.key(ef)
	e := intlLookup(key)
	if e == nil {
		e = computeIntl(&in, ef, t)
		e.key = key
		intlStore(e)
	}
	if !e.facts.valid {
		return Number{}, e.facts.err != nil, e.facts.err
	}
	return in.number(e.strip, e.facts), true, nil
}

// intlSlot is Fibonacci hashing: the top bits of key times 2^64/φ, which
// spread keys differing in their last digits over the whole table.
func intlSlot(key uint64) uint64 {
	return key * 0x9e3779b97f4a7c15 >> (64 - intlSlotBits)
}

func intlLookup(key uint64) *intlEntry {
	i := intlSlot(key)
	for range intlProbes {
		e := intlCache[i].Load()
		if e == nil {
			return nil
		}
		if e.key == key {
			return e
		}
		i = (i + 1) & (intlCacheSlots - 1)
	}
	return nil
}

func intlStore(e *intlEntry) {
	i := intlSlot(e.key)
	for range intlProbes {
		if intlCache[i].CompareAndSwap(nil, e) {
			return
		}
		if intlCache[i].Load().key == e.key {
			return // stored meanwhile by another goroutine, with equal facts
		}
		i = (i + 1) & (intlCacheSlots - 1)
	}
}

// computeIntl works out what the parser says of in, one number of its key
// (intlFacts, in intl_miss.go), and returns the entry of the key's numbers
// (without its key): their facts, or the error of an invalid verdict the key
// decides; notFast facts if the mirror does not answer or the conditions at
// the top of this file do not hold.
func computeIntl(in *intlInput, ef int, t *intlTables) *intlEntry {
	no := &intlEntry{facts: notFast}
	s := slices.Clone(in.s[:in.n]) // regexp keeps its argument: keep in off the heap
	if re := in.c.npp; re != nil {
		for l := 0; l <= len(s) && l <= intlDepth; l++ {
			if l != ef && re.Match(s[:l]) {
				return no
			}
		}
	}
	if re := in.c.idd; re != nil && in.national {
		for l := 0; l <= len(s) && l <= in.c.iddMax; l++ {
			if re.Match(s[:l]) {
				return no // the parser may read it as international
			}
		}
	}
	// What the parser makes of this number (see intl_miss.go): valid, or
	// invalid with the error it gives; anything else is left to it.
	plan := planFor(in.c.cc)
	strip, facts, ok := plan.intlFacts(in.c.ccStr, s, in.national)
	if !ok {
		return no
	}
	if facts.err != nil && !plan.invalidDecidedByKey(in.c, s, ef, strip, in.keyDigits(ef)) {
		return no
	}
	// The parser strips the national prefix, or keeps it (RU: +7 800…, whose
	// 8 is not a trunk prefix); which, the key decides.
	if strip != ef && strip != 0 {
		return no
	}
	// After the exceptions of s[ef:], the key decides whether the parser
	// strips; after those of t, the facts of t.
	if t.isException(in.c.cc, s[ef:]) || t.isException(in.c.cc, s[strip:]) {
		return no
	}
	return &intlEntry{facts: facts, strip: strip}
}

// number builds the Number of in from its key's facts; the E164 string is its
// one allocation.
func (in *intlInput) number(strip int, p *nanpPrefix) Number {
	var b [1 + 3 + maxNSNDigits]byte
	b[0] = '+'
	l := 1 + copy(b[1:], in.c.ccStr)
	l += copy(b[l:], in.s[strip:in.n])
	e164 := string(b[:l])
	var key uint64
	for _, c := range b[1:l] {
		key = key*10 + uint64(c-'0')
	}
	return Number{
		E164:        e164,
		Key:         key,
		CountryCode: in.c.cc,
		Region:      p.region,
		Type:        p.typ,
		TimeZones:   p.zones,
	}
}

// intlException is a prefix of a calling code's national significant numbers
// of one length after which the metadata still depends on later digits.
type intlException struct {
	cc, length, prefix int
}

// intlPrefixesNeedingFullNumber: see the top of this file. Generated and
// checked by TestIntlMetadataDependsOnSixDigits.
var intlPrefixesNeedingFullNumber = []intlException{
	{30, 10, 500500},
	{34, 9, 969060},
	{34, 9, 969061},
	{44, 7, 800111},
	{44, 10, 162423},
	{44, 10, 344040},
	{44, 10, 344090},
	{44, 10, 844040},
	{44, 10, 844090},
	{57, 10, 333301},
	{57, 10, 601055},
	{86, 7, 807812},
	{95, 10, 800800},
	{995, 9, 522252},
}
