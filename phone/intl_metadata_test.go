package phone

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

// These tests prove the premise of the international fast path (see
// fast_intl.go): for each calling code in intlFastCodes, everything the
// parser decides about a national significant number t of a given length is
// fixed by t's first intlDepth digits, except after the prefixes in
// intlPrefixesNeedingFullNumber. They read the library's own metadata and
// zone data, so an upgrade that breaks the premise fails here.

func metadataByRegion(t *testing.T) map[string]*phonenumbers.PhoneMetadata {
	t.Helper()
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		t.Fatalf("MetadataCollection: %v", err)
	}
	out := make(map[string]*phonenumbers.PhoneMetadata)
	for _, m := range coll.GetMetadata() {
		out[m.GetId()] = m
	}
	return out
}

// intlValidationPatterns returns, deduplicated, the patterns phonenumbers
// consults to decide region, validity and type of a national significant
// number of length l of calling code cc (GetRegionCodeForNumber,
// IsValidNumberForRegion, GetNumberType): each region's leading digits,
// matched as a prefix, and its number descriptions, skipping those whose
// possible lengths exclude l (never matched, whatever the digits).
func intlValidationPatterns(meta map[string]*phonenumbers.PhoneMetadata, cc, l int) []string {
	seen := map[string]bool{}
	var out []string
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, r := range phonenumbers.GetRegionCodesForCountryCode(cc) {
		m := meta[r]
		if ld := m.GetLeadingDigits(); ld != "" {
			add("(?:" + ld + ")\\d*")
		}
		for _, d := range []*phonenumbers.PhoneNumberDesc{
			m.GetGeneralDesc(), m.GetFixedLine(), m.GetMobile(), m.GetTollFree(),
			m.GetPremiumRate(), m.GetSharedCost(), m.GetPersonalNumber(), m.GetVoip(),
			m.GetPager(), m.GetUan(), m.GetVoicemail(),
		} {
			if d == nil || d.GetNationalNumberPattern() == "" {
				continue
			}
			if pl := d.GetPossibleLength(); len(pl) > 0 && !slices.Contains(pl, int32(l)) {
				continue
			}
			add(d.GetNationalNumberPattern())
		}
	}
	return out
}

// nsnLengths are the lengths a valid number of cc may have: any other length
// fails every region's general description, so all its numbers are invalid.
func nsnLengths(meta map[string]*phonenumbers.PhoneMetadata, cc int) []int {
	var out []int
	for _, r := range phonenumbers.GetRegionCodesForCountryCode(cc) {
		for _, l := range meta[r].GetGeneralDesc().GetPossibleLength() {
			if l > 0 && !slices.Contains(out, int(l)) {
				out = append(out, int(l))
			}
		}
	}
	slices.Sort(out)
	return out
}

// zoneKeys returns the keys of the library's time-zone prefix map, read from
// its data file (the map itself is not exported).
func zoneKeys(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/nyaruka/phonenumbers").Output()
	if err != nil {
		t.Fatalf("locating phonenumbers: %v", err)
	}
	raw, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "data", "prefix_to_timezone.xml.gz"))
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	// The layout of phonenumbers' loadIntArrayMap: a length-prefixed block
	// of values, a count, then per key a uvarint delta, a value count and
	// that many uint16 value indexes.
	r := bytes.NewReader(data)
	var size, count uint32
	if err := binary.Read(r, binary.LittleEndian, &size); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Seek(int64(size), io.SeekCurrent); err != nil {
		t.Fatal(err)
	}
	if err := binary.Read(r, binary.LittleEndian, &count); err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 0, count)
	key := uint64(0)
	for range count {
		diff, err := binary.ReadUvarint(r)
		if err != nil {
			t.Fatal(err)
		}
		key += diff
		n, err := r.ReadByte()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Seek(2*int64(n), io.SeekCurrent); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, strconv.FormatUint(key, 10))
	}
	// Cross-check the reading against the library: every key is one, and
	// the known +44 keys include one per UK geographic area.
	if len(keys) < 1000 || uint32(len(keys)) != count {
		t.Fatalf("only %d zone keys: data layout changed?", len(keys))
	}
	for _, k := range keys[:50] {
		if z, err := phonenumbers.GetTimezonesForPrefix(k); err != nil || isUnknownZone(z) {
			t.Fatalf("zone key %s read from the data gives %v, %v: data layout changed?", k, z, err)
		}
	}
	return keys
}

// intlExceptions computes intlPrefixesNeedingFullNumber for cc.
func intlExceptions(t *testing.T, meta map[string]*phonenumbers.PhoneMetadata, keys []string, cc int) []intlException {
	t.Helper()
	main := meta[phonenumbers.GetRegionCodeForCountryCode(cc)]
	general := main.GetGeneralDesc().GetNationalNumberPattern()
	np := main.GetNationalPrefix()
	ccStr := strconv.Itoa(cc)
	set := map[intlException]bool{}
	for _, l := range nsnLengths(meta, cc) {
		if l <= intlDepth {
			continue // the key holds every digit
		}
		// Region, validity and type; and the general pattern on t, which
		// decides whether the parser strips the national prefix.
		for _, p := range append(intlValidationPatterns(meta, cc, l), general) {
			for _, prefix := range newDigitNFA(t, p, l).prefixesDecidedLater(intlDepth) {
				set[intlException{cc, l, prefix}] = true
			}
		}
		// The general pattern on s = np + t, consulted with it.
		if np != "" {
			npv, _ := strconv.Atoi(np)
			scale := 1
			for range intlDepth {
				scale *= 10
			}
			for _, prefix := range newDigitNFA(t, general, len(np)+l).prefixesDecidedLater(len(np) + intlDepth) {
				if prefix/scale == npv {
					set[intlException{cc, l, prefix % scale}] = true
				}
			}
		}
		// Zones: a key longer than cc + intlDepth digits refines its
		// prefix.
		for _, k := range keys {
			if q, ok := strings.CutPrefix(k, ccStr); ok && len(q) > intlDepth {
				prefix, _ := strconv.Atoi(q[:intlDepth])
				set[intlException{cc, l, prefix}] = true
			}
		}
	}
	out := make([]intlException, 0, len(set))
	for e := range set {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b intlException) int {
		return cmpInts(a.cc, b.cc, a.length, b.length, a.prefix, b.prefix)
	})
	return out
}

func cmpInts(pairs ...int) int {
	for i := 0; i+1 < len(pairs); i += 2 {
		if c := pairs[i] - pairs[i+1]; c != 0 {
			return c
		}
	}
	return 0
}

func TestIntlMetadataDependsOnSixDigits(t *testing.T) {
	if raceEnabled {
		t.Skip("automata over every pattern of every enabled calling code; a data check, not a concurrency one")
	}
	meta := metadataByRegion(t)
	keys := zoneKeys(t)
	tables := buildIntlTables()
	var all []intlException
	for _, cc := range intlFastCodes {
		main := meta[phonenumbers.GetRegionCodeForCountryCode(cc)]
		if main == nil || tables.country[cc] == nil {
			t.Errorf("+%d: not enabled by buildIntlTables (transform rule or odd national prefix?)", cc)
			continue
		}
		if tr := main.GetNationalPrefixTransformRule(); tr != "" {
			t.Errorf("+%d: national prefix transform rule %q: t is not a suffix of s", cc, tr)
		}
		// The national-prefix pattern must match no more than intlDepth
		// digits, so that the key decides where it matches.
		if npp := main.GetNationalPrefixForParsing(); npp != "" {
			for l := intlDepth + 1; l <= maxNSNDigits; l++ {
				n := newDigitNFA(t, npp, l)
				if n.matchingCompletions(0, n.start()) > 0 {
					t.Errorf("+%d: national prefix pattern %q matches %d digits", cc, npp, l)
				}
			}
		}
		all = append(all, intlExceptions(t, meta, keys, cc)...)
	}
	for _, e := range all {
		if !slices.Contains(intlPrefixesNeedingFullNumber, e) {
			var b strings.Builder
			for _, e := range all {
				fmt.Fprintf(&b, "\t{%d, %d, %d},\n", e.cc, e.length, e.prefix)
			}
			t.Fatalf("%+v is decided by later digits but is not in intlPrefixesNeedingFullNumber; want\n%s", e, b.String())
		}
	}
	for _, e := range intlPrefixesNeedingFullNumber {
		if !slices.Contains(all, e) {
			t.Errorf("%+v in intlPrefixesNeedingFullNumber is decided by %d digits: remove it", e, intlDepth)
		}
	}
	t.Logf("%d calling codes, %d prefixes left to the parser", len(intlFastCodes), len(all))
}

func TestMaxMatchLen(t *testing.T) {
	tests := []struct {
		pattern string
		want    int // -1: unbounded
	}{
		{"0", 1}, {"00", 2}, {"0|180020", 6}, {`(1(?:[12]\d|79)\d\d)|0`, 5},
		{`0(8(?:[1-46-8]|5\d\d))?`, 5}, {`\d{2,4}`, 4}, {`0\d*`, -1}, {`1+`, -1},
		{`(?:)*`, 0}, {"", 0}, {`^0$`, 1}, {`[0-9]{3}x?`, 4},
	}
	for _, tt := range tests {
		_, got, ok := fullMatchBounded(tt.pattern)
		if !ok {
			got = -1
		}
		if got != tt.want {
			t.Errorf("fullMatchBounded(%q) = %d, want %d", tt.pattern, got, tt.want)
		}
	}
}

// maxMatchLen must bound every digit string the library's national and
// international prefix patterns match, or keys would be too short.
func TestMaxMatchLenBoundsMetadataPrefixes(t *testing.T) {
	checked := 0
	for _, m := range metadataByRegion(t) {
		for _, p := range []string{m.GetNationalPrefixForParsing(), m.GetInternationalPrefix()} {
			if p == "" {
				continue
			}
			_, max, ok := fullMatchBounded(p)
			if !ok {
				continue
			}
			checked++
			for l := max + 1; l <= max+8; l++ {
				n := newDigitNFA(t, p, l)
				if n.matchingCompletions(0, n.start()) > 0 {
					t.Errorf("%s: %q matches %d digits, but maxMatchLen says at most %d", m.GetId(), p, l, max)
				}
			}
		}
	}
	if checked < 200 {
		t.Errorf("checked only %d patterns", checked)
	}
}

func TestPlainIDD(t *testing.T) {
	tests := []struct{ idd, want string }{
		{"00", "00"}, {"011", "011"}, {`00|1(?:[12]\d|79)\d\d00`, "00"},
		{`00|99(?:[01469]|5(?:[14]1|3[23]|5[59]|77|88|9[09]))`, "00"},
		{`0(?:0|161)`, ""}, {`00|0161`, ""}, {`00[89]`, ""}, {`(?:00)|1`, "00"}, {`0\d|1`, ""}, {"", ""},
	}
	for _, tt := range tests {
		if got := plainIDD(tt.idd); got != tt.want {
			t.Errorf("plainIDD(%q) = %q, want %q", tt.idd, got, tt.want)
		}
	}
}

// Where plainIDD gives a prefix, the library's own match of the pattern on a
// number starting with it (parsePrefixAsIdd: the leftmost match, which must
// start at 0) is that prefix.
func TestPlainIDDIsWhatTheParserStrips(t *testing.T) {
	checked := 0
	for id, m := range metadataByRegion(t) {
		idd := m.GetInternationalPrefix()
		plain := plainIDD(idd)
		if plain == "" {
			continue
		}
		re := regexp.MustCompile(idd)
		for _, rest := range []string{"1", "44207946095", "8613800138000", "9999999999", "11", "79"} {
			if got := re.FindStringIndex(plain + rest); len(got) != 2 || got[0] != 0 || got[1] != len(plain) {
				t.Errorf("%s: %q on %q matches at %v, want [0 %d]", id, idd, plain+rest, got, len(plain))
			}
		}
		checked++
	}
	if checked < 200 {
		t.Errorf("checked only %d regions", checked)
	}
}
