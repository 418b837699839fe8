package listfeed

import (
	"fmt"

	"callfilter/phone"
)

// nanpBase is the key of +1 000 000 0000: a NANP number's key is nanpBase
// plus its 10-digit national number.
const nanpBase = 10_000_000_000

// nanpKey is the exact fast path for formats that guarantee plain 10-digit
// NANP numbers (the DNC Registry's files): it takes exactly ten ASCII digits
// of the NXX-NXX-XXXX shape (area code and exchange starting with 2-9), which
// phone.ParseKey accepts for region US with the key computed here
// (TestNANPKeyAgreesWithParseKey, FuzzNANPKey). Anything else goes to
// phone.ParseKey, which decides the errors.
func nanpKey(d []byte) (uint64, bool) {
	if len(d) != 10 || d[0] < '2' || d[3] < '2' {
		return 0, false
	}
	var v uint64
	for _, c := range d {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return nanpBase + v, true
}

// gbBase is the key of +44 00 0000 0000; a UK number with a 10-digit
// national significant number has the key gbBase plus that number.
const gbBase = 440_000_000_000

// gbKey is the fast path for UK national numbers as the TPS file writes them
// (spaces already removed): a trunk 0 and a 10-digit national significant
// number not starting with 0. phone.ParseKey takes every such number for
// region GB (10 digits is a possible length) with this key
// (TestGBKeyAgreesWithParseKey, FuzzGBKey). Shorter numbers (some areas have
// 9-digit ones) and anything else go to phone.ParseKey.
func gbKey(d []byte) (uint64, bool) {
	if len(d) != 11 || d[0] != '0' || d[1] == '0' {
		return 0, false
	}
	var v uint64
	for _, c := range d[1:] {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return gbBase + v, true
}

// parseKey is the lenient path: phone.ParseKey with its error made a line's.
func parseKey(raw []byte, region string) (uint64, error) {
	n, err := phone.ParseKey(string(raw), region)
	if err != nil {
		return 0, err
	}
	return n.Key, nil
}

// areaCodeOf returns the NANP area code of key, or false for a key that is not
// a 10-digit +1 number.
func areaCodeOf(key uint64) (int, bool) {
	if key < nanpBase+2_000_000_000 || key >= 2*nanpBase {
		return 0, false
	}
	return int((key - nanpBase) / 10_000_000), true
}

// errNoNumber is a line without a number where one was due.
var errNoNumber = fmt.Errorf("%w: no number on the line", phone.ErrMissing)
