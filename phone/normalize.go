package phone

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// Normalize reads a phone number as a person wrote it and returns it in E.164
// with the facts the numbering plan gives about it. The number must be valid
// for the numbering plan (phonenumbers' metadata).
//
// raw may be in any usual form: "(212) 555-0134", "+1 212 555 0134",
// "00 1 212 555 0134" (with the default region's international prefix),
// full-width digits, an extension ("ext. 12", "x12") or a tel: URI.
// defaultRegion (ISO 3166-1, "US") is the region the number is read from when
// it has no country code; "" means none, so only numbers starting with + are
// read.
//
// It returns an error wrapping ErrMissing for empty or blank input and one
// wrapping ErrInvalid, saying what is wrong, for anything else it cannot use.
// The TimeZones of the result may be shared with other results: do not modify
// them. Normalize is safe for concurrent use and recovers from panics of the
// parser, so it may be given untrusted input.
func Normalize(raw, defaultRegion string) (Number, error) {
	if n, ok, err := normalizeFastOrInvalid(raw, defaultRegion); ok {
		return n, err
	}
	return normalizeFull(raw, defaultRegion)
}

// ParseKey reads a number for a do-not-contact list: it accepts any number the
// numbering plan deems possible (the right length for its country code), not
// only valid ones, so that a number in an area code newer than the library's
// metadata is still listed. NANP numbers must still have the NXX-NXX-XXXX shape
// (no area code or exchange starting with 0 or 1).
//
// E164, Key and CountryCode are always set, and Area for NANP numbers whose
// area code the table knows (AreaOf). An invalid number is refused if its
// E164 does not read back as itself, so every key is canonical. When
// the number is valid too, the result is what Normalize returns; otherwise
// Region is "", Type is LineUnknown and TimeZones is nil. Errors, input forms
// and concurrency are as for Normalize.
func ParseKey(raw, defaultRegion string) (Number, error) {
	if n, ok := normalizeFast(raw, defaultRegion); ok {
		return n, nil
	}
	return parseKeyFull(raw, defaultRegion)
}

// Warm loads what the first call would otherwise load: the parser's compiled
// patterns for NANP numbers, the time-zone data (~3.8 MiB, read on first use),
// the zones of each NANP region and the tables of the fast paths, with the
// compiled patterns of their calling codes, +1's included (~30 ms). Call it
// at start-up.
func Warm() {
	_, _ = normalizeFull("+1 212 555 0134", "")
	_, _ = normalizeFull("+44 20 7946 0958", "")
	nanpRegionZones()
	intlTablesOnce()
	planFor(1) // NANP misses
	for _, cc := range intlFastCodes {
		planFor(cc)
	}
}

// normalizeFull is Normalize without the fast path: every number goes through
// phonenumbers. Tests hold the fast path to its results.
func normalizeFull(raw, defaultRegion string) (n Number, err error) {
	defer recoverInvalid(&n, &err)
	num, err := parse(raw, defaultRegion)
	if err != nil {
		return Number{}, err
	}
	region, valid := validate(num)
	if !valid {
		return Number{}, invalidReason(num)
	}
	return describe(num, region, true)
}

// parseKeyFull is ParseKey without the fast path.
func parseKeyFull(raw, defaultRegion string) (n Number, err error) {
	defer recoverInvalid(&n, &err)
	num, err := parse(raw, defaultRegion)
	if err != nil {
		return Number{}, err
	}
	region, valid := validate(num)
	if valid {
		return describe(num, region, true)
	}
	if !isPossibleKey(num) {
		return Number{}, invalidReason(num)
	}
	n, err = describe(num, region, false)
	if err != nil {
		return Number{}, err
	}
	// A key must be canonical: the same number written as its E164 must give
	// the same key, or a listed number would not match a check. Invalid numbers
	// with leading zeros can fail that ("00000000000" read in GB gives
	// +440000000000, which reads back as +44000000000).
	if again, err := parse(n.E164, ""); err != nil || phonenumbers.Format(again, phonenumbers.E164) != n.E164 {
		return Number{}, fmt.Errorf("%w: not a valid number for country code +%d", ErrInvalid, n.CountryCode)
	}
	return n, nil
}

// validate is phonenumbers.IsValidNumber, which is IsValidNumberForRegion of
// GetRegionCodeForNumber, keeping the region: finding it runs the patterns of
// every region sharing the calling code (25 for +1), so it is worth not
// doing twice.
func validate(num *phonenumbers.PhoneNumber) (region string, valid bool) {
	region = phonenumbers.GetRegionCodeForNumber(num)
	return region, phonenumbers.IsValidNumberForRegion(num, region)
}

// isPossibleKey reports whether an invalid number may still be listed: its
// length is possible for a full number of its calling code (a local number
// without its area code is not) and, for NANP, it has the NANP shape
// NXX-NXX-XXXX (phonenumbers checks only the length for NANP, which would
// admit +1 001…).
func isPossibleKey(num *phonenumbers.PhoneNumber) bool {
	if phonenumbers.IsPossibleNumberWithReason(num) != phonenumbers.IS_POSSIBLE {
		return false
	}
	if num.GetCountryCode() != 1 {
		return true
	}
	national := num.GetNationalNumber()
	return national >= 2_000_000_000 && national <= 9_999_999_999 && national/1_000_000%10 >= 2
}

// recoverInvalid turns a panic of phonenumbers into ErrInvalid. Old versions
// of the parser panicked on malformed tel: URIs (phonenumbers #148, #268); a
// bad row of untrusted input must not take the service down.
func recoverInvalid(n *Number, err *error) {
	if r := recover(); r != nil {
		*n, *err = Number{}, fmt.Errorf("%w: cannot be read as a phone number", ErrInvalid)
	}
}

// parse runs phonenumbers.Parse, turning its errors into ours.
func parse(raw, defaultRegion string) (*phonenumbers.PhoneNumber, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, ErrMissing
	}
	region := strings.ToUpper(defaultRegion)
	num, err := phonenumbers.Parse(raw, region)
	switch {
	case err == nil:
		return num, nil
	case errors.Is(err, phonenumbers.ErrInvalidCountryCode):
		if !phonenumbers.GetSupportedRegions()[region] && !strings.ContainsAny(raw, "+＋") {
			return nil, fmt.Errorf("%w: no country code (start with + or give a default region)", ErrInvalid)
		}
		return nil, fmt.Errorf("%w: unknown country calling code", ErrInvalid)
	case errors.Is(err, phonenumbers.ErrTooShortNSN), errors.Is(err, phonenumbers.ErrTooShortAfterIDD):
		return nil, fmt.Errorf("%w: too short", ErrInvalid)
	case errors.Is(err, phonenumbers.ErrNumTooLong):
		return nil, fmt.Errorf("%w: too long", ErrInvalid)
	default: // phonenumbers.ErrNotANumber and anything new
		return nil, fmt.Errorf("%w: not a phone number", ErrInvalid)
	}
}

// invalidReason says why a parsed number is not valid.
func invalidReason(num *phonenumbers.PhoneNumber) error {
	switch phonenumbers.IsPossibleNumberWithReason(num) {
	case phonenumbers.TOO_SHORT:
		return fmt.Errorf("%w: too short", ErrInvalid)
	case phonenumbers.TOO_LONG:
		return fmt.Errorf("%w: too long", ErrInvalid)
	case phonenumbers.INVALID_LENGTH:
		return fmt.Errorf("%w: wrong length for country code +%d", ErrInvalid, num.GetCountryCode())
	case phonenumbers.INVALID_COUNTRY_CODE:
		return fmt.Errorf("%w: unknown country calling code", ErrInvalid)
	case phonenumbers.IS_POSSIBLE_LOCAL_ONLY:
		return fmt.Errorf("%w: local number without its area code", ErrInvalid)
	}
	if region := phonenumbers.GetRegionCodeForNumber(num); region != "" {
		return fmt.Errorf("%w: not a valid number for region %s", ErrInvalid, region)
	}
	return fmt.Errorf("%w: not a valid number for country code +%d", ErrInvalid, num.GetCountryCode())
}

// maxE164Digits is E.164's limit, which keeps Key within a uint64.
const maxE164Digits = 15

// describe builds the Number of a parsed number; the metadata facts (Region,
// Type, TimeZones) only if it is valid, region being its region.
func describe(num *phonenumbers.PhoneNumber, region string, valid bool) (Number, error) {
	e164 := phonenumbers.Format(num, phonenumbers.E164)
	if len(e164) > 1+maxE164Digits {
		return Number{}, fmt.Errorf("%w: too long", ErrInvalid)
	}
	if len(e164) < 2 || e164[0] != '+' {
		return Number{}, fmt.Errorf("%w: cannot be read as a phone number", ErrInvalid)
	}
	key, err := strconv.ParseUint(e164[1:], 10, 64)
	if err != nil {
		return Number{}, fmt.Errorf("%w: cannot be read as a phone number", ErrInvalid)
	}
	n := Number{
		E164:        e164,
		Key:         key,
		CountryCode: int(num.GetCountryCode()),
		Type:        LineUnknown,
		Extension:   num.GetExtension(),
	}
	if n.CountryCode == 1 {
		if national := num.GetNationalNumber(); national >= 1_000_000_000 && national <= 9_999_999_999 {
			n.Area = AreaOf(int(national / 10_000_000))
		}
	}
	if valid {
		n.Region = region
		n.Type = lineTypeOf(phonenumbers.GetNumberType(num))
		n.TimeZones = timeZonesOf(num, n.Region)
	}
	return n, nil
}

func lineTypeOf(t phonenumbers.PhoneNumberType) LineType {
	switch t {
	case phonenumbers.FIXED_LINE:
		return LineFixed
	case phonenumbers.MOBILE:
		return LineMobile
	case phonenumbers.FIXED_LINE_OR_MOBILE:
		return LineFixedOrMobile
	case phonenumbers.TOLL_FREE:
		return LineTollFree
	case phonenumbers.PREMIUM_RATE:
		return LinePremium
	case phonenumbers.SHARED_COST:
		return LineSharedCost
	case phonenumbers.VOIP:
		return LineVoIP
	case phonenumbers.PERSONAL_NUMBER:
		return LinePersonal
	case phonenumbers.PAGER:
		return LinePager
	case phonenumbers.UAN:
		return LineUAN
	case phonenumbers.VOICEMAIL:
		return LineVoicemail
	default:
		return LineUnknown
	}
}
