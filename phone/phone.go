// Package phone normalizes phone numbers as people write them into one canonical
// form (E.164) with the facts the decision engine needs: region, line type, the
// called party's time zones and, for NANP numbers, the state or province of the
// area code. It imports nothing of ours.
package phone

import "errors"

// LineType is the kind of line a number belongs to, from the numbering plan.
type LineType string

// Line types. FixedOrMobile is what the NANP plan says of most US numbers: the
// numbering plan cannot tell a mobile from a landline there.
const (
	LineUnknown       LineType = "unknown"
	LineFixed         LineType = "fixed_line"
	LineMobile        LineType = "mobile"
	LineFixedOrMobile LineType = "fixed_or_mobile"
	LineTollFree      LineType = "toll_free"
	LinePremium       LineType = "premium_rate"
	LineSharedCost    LineType = "shared_cost"
	LineVoIP          LineType = "voip"
	LinePersonal      LineType = "personal_number"
	LinePager         LineType = "pager"
	LineUAN           LineType = "uan"
	LineVoicemail     LineType = "voicemail"
)

// Number is a normalized phone number. The zero value is not a number.
type Number struct {
	// E164 is the canonical form, "+12125550134".
	E164 string
	// Key is the E.164 digits as an integer (12125550134): the identity used by
	// do-not-contact lists and bloom filters. E.164 has at most 15 digits, so it fits.
	Key uint64
	// CountryCode is the calling code, 1 for NANP, 86 for China.
	CountryCode int
	// Region is the ISO 3166-1 alpha-2 region of the number ("US", "CA", "CN"),
	// "001" for non-geographic calling codes (+800, +882…), "" when unknown.
	Region string
	// Type is the line type from the numbering plan.
	Type LineType
	// TimeZones are the IANA zones the number may be in, sorted: when the plan
	// does not know, every zone of the region is given, so that calling-hour
	// rules take the most restrictive window. It is never empty for a valid
	// number of a geographic region; it is nil for numbers of non-geographic
	// calling codes (+800…), which have no zone: treat that as unknown. The
	// slice may be shared with other Numbers: never modify it.
	TimeZones []string
	// Area is the subdivision of a NANP area code, as ISO 3166-2 for the US and
	// Canada ("US-FL", "CA-ON", "US-DC") and ISO 3166-1 for the other NANP
	// countries ("PR", "JM"); "" when unknown, non-geographic, spanning several
	// subdivisions (867, 902) or not NANP. See AreaOf.
	Area string
	// Extension is the extension dialled after the number, if any; it is not part
	// of the number's identity.
	Extension string
}

// Last4 returns the last four digits of the number, the most of it that logs and
// audit records may show.
func (n Number) Last4() string {
	if len(n.E164) < 4 {
		return n.E164
	}
	return n.E164[len(n.E164)-4:]
}

// ErrMissing is returned when the input holds no number at all (empty or blank).
var ErrMissing = errors.New("missing number")

// ErrInvalid is returned when the input cannot be read as a valid phone number.
// Check with errors.Is; the error's message says what is wrong with the input.
var ErrInvalid = errors.New("invalid number")
