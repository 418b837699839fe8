package filter

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"callfilter/phone"
)

// InternalList is the name of the company's own do-not-call list. No exemption
// ever applies to it (TSR 16 CFR 310.4(b)(1)(iii)(A), TCPA 47 CFR 64.1200(d)):
// validation rejects a rule set that tries, and Decide ignores one regardless.
const InternalList = "internal"

// RuleSet is a validated, immutable, versioned rule set. Safe for concurrent use.
// Every effective policy (purpose × channel × region override) is computed when
// the document is parsed, so Resolve is a few map lookups and allocates nothing.
type RuleSet struct {
	Version string

	source   []byte
	lists    []ListDef
	purposes map[string]*purposeRules
	names    []string // purpose names, sorted

	emergencies      []Emergency
	smsStartReoptsIn bool
	outcomeWindow    time.Duration // the longest Policy.OutcomeWindow
	capWindow        time.Duration // the longest Policy.LongestCapWindow
}

// MaxCapWindow is the longest window a cap may have: attempts older than it
// can matter to no rule set.
const MaxCapWindow = 366 * 24 * time.Hour

// LongestCapWindow returns the longest cap window of any policy of the rule
// set: how long recorded attempts can matter. 0 when no rule has a cap.
func (rs *RuleSet) LongestCapWindow() time.Duration { return rs.capWindow }

// OutcomeWindow returns the longest Policy.OutcomeWindow of the rule set:
// how far back a check reads call outcomes, so that a second policy (a
// postal code's state) finds them too. 0 when no rule uses outcomes.
func (rs *RuleSet) OutcomeWindow() time.Duration { return rs.outcomeWindow }

// ListDef declares a do-not-contact list a rule set may name.
type ListDef struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// MaxAgeDays, when above 0, is how old the list's last update may be: a
	// check against an older list denies with list_stale (US TSR: 31 days;
	// UK TPS: 28 days).
	MaxAgeDays int `json:"max_age_days,omitempty"`
}

// Emergency is a declared state of emergency during which solicitation of the
// numbers of a region is blocked (emergency_block), from the local date From
// through the local date To, inclusive. Empty Purposes or Channels block all.
type Emergency struct {
	Region   string    `json:"region"` // "US-FL", or a country, "US"
	From, To time.Time `json:"-"`      // civil dates, at 00:00 UTC
	Reason   string    `json:"reason"`
	Purposes []string  `json:"purposes,omitempty"`
	Channels []Channel `json:"channels,omitempty"`
}

// covers reports whether e blocks the local date y-m-d for purpose and channel.
func (e *Emergency) covers(y int, m time.Month, d int, purpose string, ch Channel) bool {
	day := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	if day.Before(e.From) || day.After(e.To) {
		return false
	}
	return (len(e.Purposes) == 0 || slices.Contains(e.Purposes, purpose)) &&
		(len(e.Channels) == 0 || slices.Contains(e.Channels, ch))
}

// Emergencies returns the declared states of emergency, in document order.
func (rs *RuleSet) Emergencies() []Emergency { return slices.Clone(rs.emergencies) }

// SMSStartReoptsIn says whether a START (or UNSTOP, YES) reply re-opts the
// sender in automatically, taking the number off the company list. False (the
// default): the reply is recorded for a person to review.
func (rs *RuleSet) SMSStartReoptsIn() bool { return rs.smsStartReoptsIn }

// MaxListAges returns the lists that declare a maximum age, by name; nil when
// none does.
func (rs *RuleSet) MaxListAges() map[string]time.Duration {
	var out map[string]time.Duration
	for _, l := range rs.lists {
		if l.MaxAgeDays > 0 {
			if out == nil {
				out = map[string]time.Duration{}
			}
			out[l.Name] = time.Duration(l.MaxAgeDays) * 24 * time.Hour
		}
	}
	return out
}

// purposeRules holds the precomputed policies of one purpose, by channel.
type purposeRules struct {
	call, sms PolicySet
}

// PolicySet holds the policies of one purpose and channel: base applies when
// no region override matches the number; regions maps an override key ("US",
// "US-FL") to the policy with that override (and, for a subdivision, its
// country's) applied.
type PolicySet struct {
	base    *Policy
	regions map[string]*Policy
}

// Policy is the effective rules for one purpose, channel and called party, with
// region overrides applied. Policies returned by Resolve are shared by every
// caller: treat them, and their slices, as read-only.
type Policy struct {
	Purpose string
	Channel Channel
	// Region is the most specific region override applied ("US-FL", "CN"), ""
	// when none.
	Region string
	// Allowed is false when the purpose does not configure the channel at all:
	// Decide then denies with channel_not_allowed.
	Allowed bool
	// Lists are the do-not-contact lists that apply, in rule order.
	Lists []string
	// Caps are the frequency caps on reserved attempts.
	Caps []Cap
	// ConsentRequired says that an effective express consent for the purpose and
	// channel is needed before any contact.
	ConsentRequired bool
	// RelationshipExempts are the lists a prior relationship with the seller
	// exempts: a purchase within PurchaseDays, or an inquiry within InquiryDays
	// (0 means that kind of relationship exempts nothing).
	RelationshipExempts []string
	PurchaseDays        int
	InquiryDays         int
	// ConsentExempts are the lists an effective express consent for the purpose
	// and channel exempts.
	ConsentExempts []string
	// Hours, Days and Holidays restrict when, in the called party's local time,
	// contact is allowed. DayHours are the hours of each weekday (by
	// time.Weekday): Hours unless the rules give that day its own (Texas and
	// Pennsylvania Sundays, Rhode Island Saturdays).
	Hours    Hours
	DayHours [7]Hours
	Days     Weekdays
	Holidays Holidays
	// WirelessProhibited forbids solicitation of wireless numbers: a number
	// whose line type is mobile is denied with wireless_prohibited.
	WirelessProhibited bool
	// RenewalWindowDays, when above 0, makes every contact for the purpose a
	// renewal solicitation, allowed only within that many days before the
	// expiry of a policy the number holds with the seller (a relationship
	// with PolicyExpiresAt; China P&C: no earlier than 40 days); else
	// outside_renewal_window.
	RenewalWindowDays int
	// UnansweredPerDay, when above 0, is how many unanswered (no answer,
	// busy) or refused calls by the seller for the purpose and channel a
	// number may get per local day (its first time zone's); then
	// unanswered_limit until the next day (Shenzhen car insurance: 3).
	UnansweredPerDay int
	// RefusalBlockDays, when above 0, is how long a refusal (outcome
	// refused) blocks every contact by that seller: refusal_block.
	RefusalBlockDays int
	// ListMaxAges[i] is how old Lists[i]'s last update may be; 0 for no limit.
	ListMaxAges []time.Duration

	// listFlags[i] says which exemptions may apply to Lists[i]; never any for
	// InternalList.
	listFlags      []uint8
	listAged       bool // some list has a maximum age
	timeRestricted bool
	longestWindow  time.Duration
}

// Exemption flags of a list in a policy.
const (
	exemptByRelationship uint8 = 1 << iota
	exemptByConsent
)

// OutcomeWindow returns how far back Decide needs call outcomes for p: 0
// when p has no outcome rule.
func (p *Policy) OutcomeWindow() time.Duration {
	var w time.Duration
	if p.UnansweredPerDay > 0 {
		w = 48 * time.Hour // a local day, wherever the called party is
	}
	return max(w, time.Duration(p.RefusalBlockDays)*24*time.Hour)
}

// LongestCapWindow returns the longest window among p.Caps, 0 when there are
// none: how far back a store must read attempts for Decide.
func (p *Policy) LongestCapWindow() time.Duration { return p.longestWindow }

// Clock is a time of day in minutes after midnight, 0 to 1440 (24:00, only as
// the end of a window).
type Clock int16

func (c Clock) String() string { return fmt.Sprintf("%02d:%02d", c/60, c%60) }

// Hours is a daily window [Start, End) of local time.
type Hours struct {
	Start, End Clock
}

// hoursOn returns the calling hours of weekday d.
func (p *Policy) hoursOn(d time.Weekday) Hours { return p.DayHours[d] }

// HasListAges reports whether some list of the policy declares a maximum age:
// the facts must then carry the lists' UpdatedAt.
func (p *Policy) HasListAges() bool { return p.listAged }

// contains reports whether the local wall-clock time of t is inside h.
func (h Hours) contains(t time.Time) bool {
	m := Clock(t.Hour()*60 + t.Minute())
	return h.Start <= m && m < h.End
}

func (h Hours) String() string { return h.Start.String() + "–" + h.End.String() }

// allDay is the window that restricts nothing.
var allDay = Hours{Start: 0, End: 24 * 60}

// Weekdays is a set of days of the week, bit i for time.Weekday(i).
type Weekdays uint8

// allWeekdays has every day.
const allWeekdays Weekdays = 1<<7 - 1

// Has reports whether d is in w.
func (w Weekdays) Has(d time.Weekday) bool { return w&(1<<uint(d)) != 0 }

func (w Weekdays) String() string {
	var b strings.Builder
	for d := time.Monday; ; d = (d + 1) % 7 {
		if w.Has(d) {
			if b.Len() > 0 {
				b.WriteString(",")
			}
			b.WriteString(dayNames[d])
		}
		if d == time.Sunday {
			break
		}
	}
	return b.String()
}

// dayNames are the short day names rule sets use, by time.Weekday.
var dayNames = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// Holidays is a set of local dates on which contact is not allowed: fixed dates
// and dates that recur every year.
type Holidays struct {
	dates  []int32    // yyyymmdd, sorted, unique
	annual [12]uint32 // by month-1, bit d for day d
}

// Contains reports whether the date y-m-d is a holiday.
func (h *Holidays) Contains(y int, m time.Month, d int) bool {
	if m < time.January || m > time.December || d < 1 || d > 31 {
		return false
	}
	if h.annual[m-1]&(1<<uint(d)) != 0 {
		return true
	}
	_, ok := slices.BinarySearch(h.dates, int32(y*10000+int(m)*100+d))
	return ok
}

// List returns the holidays as rule sets write them: "MM-DD" for annual ones,
// then "YYYY-MM-DD" for fixed dates.
func (h *Holidays) List() []string {
	var out []string
	for m := range 12 {
		for d := 1; d <= 31; d++ {
			if h.annual[m]&(1<<uint(d)) != 0 {
				out = append(out, fmt.Sprintf("%02d-%02d", m+1, d))
			}
		}
	}
	for _, v := range h.dates {
		out = append(out, fmt.Sprintf("%04d-%02d-%02d", v/10000, v/100%100, v%100))
	}
	return out
}

func (h *Holidays) empty() bool {
	return len(h.dates) == 0 && h.annual == [12]uint32{}
}

// ParseRules parses and validates a YAML (or JSON) rule set. On any problem it
// returns an *Error of kind EInvalid and code invalid_rules whose cause is a
// *RulesError listing every problem found, each with the path of its node.
func ParseRules(data []byte) (*RuleSet, error) {
	return parseRules(data)
}

// LoadRules reads and parses the rule set in the file at path.
func LoadRules(path string) (*RuleSet, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, Wrap(ENotFound, err, "rules file %s does not exist", path)
		}
		return nil, Wrap(EUnavailable, err, "cannot read rules file %s", path)
	}
	rs, err := ParseRules(data)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.Message = path + ": " + e.Message
		}
		return nil, err
	}
	return rs, nil
}

// Resolve returns the effective policy for purpose, channel and number, or an
// EInvalid error with code unknown_purpose or unknown_channel. A known channel
// the purpose does not configure is not an error: the policy returned has
// Allowed false, and Decide denies it with channel_not_allowed. The number's
// Area (ISO 3166-2, "US-FL") selects a subdivision override first, then its
// Region ("US", "CN") a country override. Resolve does not allocate.
func (rs *RuleSet) Resolve(purpose string, ch Channel, n phone.Number) (*Policy, error) {
	ps, err := rs.PolicySet(purpose, ch)
	if err != nil {
		return nil, err
	}
	return ps.For(n), nil
}

// PolicySet returns the policies of one purpose and channel, for callers
// that resolve many numbers under them (a scrub): Resolve without looking
// the purpose up each time. Errors are Resolve's.
func (rs *RuleSet) PolicySet(purpose string, ch Channel) (*PolicySet, error) {
	pr := rs.purposes[purpose]
	if pr == nil {
		return nil, Errorf(EInvalid, CodeUnknownPurpose, "unknown purpose %q: use one of %s", purpose, strings.Join(rs.names, ", "))
	}
	switch ch {
	case ChannelCall:
		return &pr.call, nil
	case ChannelSMS:
		return &pr.sms, nil
	}
	return nil, Errorf(EInvalid, CodeUnknownChannel, "unknown channel %q: use \"call\" or \"sms\"", ch)
}

// For is the policy of the set that applies to n: its area's, else its
// region's, else the base policy.
func (ps *PolicySet) For(n phone.Number) *Policy {
	if len(ps.regions) > 0 {
		if n.Area != "" {
			if p := ps.regions[n.Area]; p != nil {
				return p
			}
		}
		if n.Region != "" {
			if p := ps.regions[n.Region]; p != nil {
				return p
			}
		}
	}
	return ps.base
}

// PurposeNames returns the purposes the rule set configures, sorted.
func (rs *RuleSet) PurposeNames() []string { return slices.Clone(rs.names) }

// Lists returns the lists the rule set declares, in document order.
func (rs *RuleSet) Lists() []ListDef { return slices.Clone(rs.lists) }

// ListNames returns the names of the lists the rule set declares, in document
// order: the lists a deployment must load.
func (rs *RuleSet) ListNames() []string {
	names := make([]string, len(rs.lists))
	for i, l := range rs.lists {
		names[i] = l.Name
	}
	return names
}

// Source returns the document the rule set was parsed from.
func (rs *RuleSet) Source() []byte { return slices.Clone(rs.source) }
