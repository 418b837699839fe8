// Package filter is callfilter's domain: check requests, the facts a decision is
// made from, rule sets, decisions and their reason codes, error kinds, and the
// small interfaces the domain consumes (Store and its parts). Decide is a pure
// function: no I/O, no clock, no globals. It imports only phone.
package filter

import (
	"time"

	"callfilter/phone"
)

// Channel is how the seller wants to reach the number.
type Channel string

// Channels.
const (
	ChannelCall Channel = "call"
	ChannelSMS  Channel = "sms"
)

// ParseChannel returns the channel named s, or an EInvalid error with code
// "unknown_channel".
func ParseChannel(s string) (Channel, error) {
	switch Channel(s) {
	case ChannelCall, ChannelSMS:
		return Channel(s), nil
	}
	return "", Errorf(EInvalid, CodeUnknownChannel, "unknown channel %q: use \"call\" or \"sms\"", s)
}

// Request is one pre-call check, with the number already normalized.
type Request struct {
	Number   phone.Number
	Channel  Channel
	Purpose  string
	Seller   string
	Campaign string
	// PostalCode, optional, is where the called party lives (a US ZIP code):
	// its state's rules apply as well as those of the number's area code, and
	// its time zones as well as the number's; the most restrictive wins.
	PostalCode string
	// Reserve asks that the attempt be recorded, atomically with the cap check,
	// when the answer is allow.
	Reserve bool
}

// Outcome is the answer of a decision.
type Outcome string

// Outcomes.
const (
	Allow Outcome = "allow"
	Deny  Outcome = "deny"
)

// ReasonCode is a stable, documented cause of a decision. Codes are added, never renamed.
type ReasonCode string

// Deny reasons.
const (
	ReasonInvalidNumber      ReasonCode = "invalid_number"
	ReasonMissingNumber      ReasonCode = "missing_number"
	ReasonOnList             ReasonCode = "on_list"
	ReasonNoConsent          ReasonCode = "no_consent"
	ReasonConsentRevoked     ReasonCode = "consent_revoked"
	ReasonConsentExpired     ReasonCode = "consent_expired"
	ReasonConsentReassigned  ReasonCode = "consent_reassigned"
	ReasonOutsideHours       ReasonCode = "outside_hours"
	ReasonDayNotAllowed      ReasonCode = "day_not_allowed"
	ReasonHoliday            ReasonCode = "holiday"
	ReasonEmergencyBlock     ReasonCode = "emergency_block"
	ReasonFrequencyCap       ReasonCode = "frequency_cap"
	ReasonChannelNotAllowed  ReasonCode = "channel_not_allowed"
	ReasonWirelessProhibited ReasonCode = "wireless_prohibited"
	ReasonListStale          ReasonCode = "list_stale"
	ReasonUnavailable        ReasonCode = "unavailable"
	// ReasonOutsideRenewalWindow: the purpose solicits renewals only within
	// its renewal_window_days before the expiry of a policy the number holds
	// with the seller (China P&C: no earlier than 40 days), and now is not.
	ReasonOutsideRenewalWindow ReasonCode = "outside_renewal_window"
	// ReasonUnansweredLimit: the rules allow at most unanswered_per_day
	// unanswered (no answer, busy) or refused calls by the seller for the
	// purpose and channel per local day (Shenzhen car insurance: 3), and
	// today's are used up.
	ReasonUnansweredLimit ReasonCode = "unanswered_limit"
	// ReasonRefusalBlock: the called party refused a call from the seller
	// within the rules' refusal_block_days.
	ReasonRefusalBlock ReasonCode = "refusal_block"
)

// Allow notes: why an allow was possible despite a list.
const (
	ReasonRelationshipExemption ReasonCode = "relationship_exemption"
	ReasonConsent               ReasonCode = "consent"
)

// Reason is one cause of a decision. List names the list for on_list (and for
// exemptions, the list exempted); Detail is a sentence for people.
type Reason struct {
	Code   ReasonCode `json:"code"`
	List   string     `json:"list,omitempty"`
	Detail string     `json:"detail"`
}

// Decision is the answer to a Request. For a deny, Reasons holds every cause
// that applies; for an allow, it holds notes (consent, relationship_exemption).
type Decision struct {
	// ID identifies the decision in the audit trail; set by the caller of Decide.
	ID           string
	Outcome      Outcome
	Reasons      []Reason
	RulesVersion string
	// LocalTime is the evaluation instant in the called party's (first) time zone.
	LocalTime time.Time
	// NextAllowedAt is the earliest instant at which the time rules (hours, days,
	// holidays) and the frequency caps would all pass, when only they deny; zero
	// otherwise.
	NextAllowedAt time.Time
}

// Has reports whether the decision carries reason code c.
func (d Decision) Has(c ReasonCode) bool {
	for _, r := range d.Reasons {
		if r.Code == c {
			return true
		}
	}
	return false
}

// ListState is what is known of a number's membership of one list.
type ListState uint8

// List states. The zero value is unknown, so a list nobody read fails closed.
const (
	ListUnknown ListState = iota
	ListAbsent
	ListPresent
)

// ListFact is the membership of the number in one list.
type ListFact struct {
	List  string
	State ListState
	// UpdatedAt is when the list was last updated; it is read (and needed)
	// only for lists whose rules declare a maximum age (Policy.HasListAges):
	// zero there means never, and the list is stale.
	UpdatedAt time.Time
	// SourceDate, when not zero, is when the registry published the list's
	// data (ListInfo.SourceDate); the maximum age is then counted from it
	// rather than from UpdatedAt, since re-writing old data does not make
	// it current.
	SourceDate time.Time
	// ExpiresAt, for a present entry added with an expiry, is when it stops
	// matching; zero for an entry that never expires. The entry stays in the
	// store (and in the bloom filters, as a "maybe") until removed: Decide
	// reads it as absent from ExpiresAt on.
	ExpiresAt time.Time
}

// StateAt returns the state of the entry at instant now: present entries
// whose expiry has come are absent.
func (l ListFact) StateAt(now time.Time) ListState {
	if l.State == ListPresent && !l.ExpiresAt.IsZero() && !now.Before(l.ExpiresAt) {
		return ListAbsent
	}
	return l.State
}

// Facts are everything known about the number that a decision may need. A fact
// that could not be read is absent and named in Unavailable: Decide then denies
// with reason unavailable (fail closed).
type Facts struct {
	// Lists holds the state of each list that applies; a list missing here is unknown.
	Lists []ListFact
	// Consents are the grants for the number and seller (all purposes and channels).
	Consents []Consent
	// Revocations are the revocations recorded for the number.
	Revocations []Revocation
	// Relationships are the number's relationships with the seller.
	Relationships []Relationship
	// Attempts are the reserved attempts for number, seller, purpose and channel
	// within the longest cap window.
	Attempts []time.Time
	// Outcomes are the recorded call outcomes of the number with the seller
	// (every purpose and channel) at or after FactsQuery.OutcomesSince.
	Outcomes []CallOutcome
	// DisconnectedAt is the latest date the number was disconnected (a
	// reassigned-numbers feed), zero if none is known: consents granted
	// before it were given by an earlier holder of the number and no longer
	// count (consent_reassigned).
	DisconnectedAt time.Time
	// Unavailable names each fact that could not be read, and why.
	Unavailable []string
	// LineType, when set, overrides the numbering plan's line type
	// (phone.Number.Type) for wireless_prohibited: the hook for an imported
	// wireless list or a carrier lookup, which can tell a mobile from a
	// landline where the plan says only fixed_or_mobile (NANP).
	LineType phone.LineType
}

// listFact returns the fact of the named list, nil if there is none.
func (f *Facts) listFact(list string) *ListFact {
	for i := range f.Lists {
		if f.Lists[i].List == list {
			return &f.Lists[i]
		}
	}
	return nil
}

// ListState returns the state of the named list in f.
func (f *Facts) ListState(list string) ListState {
	for _, l := range f.Lists {
		if l.List == list {
			return l.State
		}
	}
	return ListUnknown
}

// Subject identifies a number in records that must not hold it in plain text:
// HMAC-SHA256 of the E.164 form under the deployment's secret.
type Subject [32]byte

// Consent is a grant of consent by the owner of a number to be contacted by a
// seller for a purpose on a channel.
type Consent struct {
	Subject   Subject
	Last4     string
	Seller    string
	Purpose   string
	Channel   Channel
	GrantedAt time.Time
	// ExpiresAt is when the consent lapses; zero for never.
	ExpiresAt time.Time
	Source    string
	Evidence  string
}

// Revocation withdraws consent. Empty Seller, Purpose or Channel match all: a
// revocation by number alone revokes everything for it. It revokes every consent
// it matches that was granted at or before At.
type Revocation struct {
	Subject Subject
	Last4   string
	Seller  string
	Purpose string
	Channel Channel
	At      time.Time
	Source  string
}

// Matches reports whether r revokes consent c (ignoring time).
func (r Revocation) Matches(c Consent) bool {
	return r.Subject == c.Subject &&
		(r.Seller == "" || r.Seller == c.Seller) &&
		(r.Purpose == "" || r.Purpose == c.Purpose) &&
		(r.Channel == "" || r.Channel == c.Channel)
}

// RelationshipKind is the kind of prior relationship a number has with a seller.
type RelationshipKind string

// Relationship kinds (US TSR: an established business relationship follows a
// purchase or an inquiry).
const (
	RelationshipPurchase RelationshipKind = "purchase"
	RelationshipInquiry  RelationshipKind = "inquiry"
)

// ParseRelationshipKind returns the kind named s or an EInvalid error.
func ParseRelationshipKind(s string) (RelationshipKind, error) {
	switch RelationshipKind(s) {
	case RelationshipPurchase, RelationshipInquiry:
		return RelationshipKind(s), nil
	}
	return "", Errorf(EInvalid, "invalid_kind", "unknown relationship kind %q: use \"purchase\" or \"inquiry\"", s)
}

// Relationship is the latest event of a kind between a number and a seller.
type Relationship struct {
	Subject Subject
	Last4   string
	Seller  string
	Kind    RelationshipKind
	At      time.Time
	// PolicyExpiresAt, optional, is when the insurance policy the
	// relationship is about expires: a purpose with renewal_window_days
	// solicits only within that many days before it.
	PolicyExpiresAt time.Time
}

// OutcomeKind is how a contact attempt ended.
type OutcomeKind string

// Outcome kinds.
const (
	OutcomeAnswered OutcomeKind = "answered"
	OutcomeNoAnswer OutcomeKind = "no_answer"
	OutcomeBusy     OutcomeKind = "busy"
	OutcomeRefused  OutcomeKind = "refused"
	OutcomeOptedOut OutcomeKind = "opted_out"
)

// ParseOutcomeKind returns the outcome named s or an EInvalid error with
// code invalid_outcome.
func ParseOutcomeKind(s string) (OutcomeKind, error) {
	switch k := OutcomeKind(s); k {
	case OutcomeAnswered, OutcomeNoAnswer, OutcomeBusy, OutcomeRefused, OutcomeOptedOut:
		return k, nil
	}
	return "", Errorf(EInvalid, "invalid_outcome", "unknown outcome %q: use answered, no_answer, busy, refused or opted_out", s)
}

// Unanswered reports whether k counts against unanswered_per_day: the call
// did not reach a willing person.
func (k OutcomeKind) Unanswered() bool {
	return k == OutcomeNoAnswer || k == OutcomeBusy || k == OutcomeRefused
}

// CallOutcome is how one contact attempt by a seller ended.
type CallOutcome struct {
	Subject Subject
	Seller  string
	Purpose string
	Channel Channel
	Kind    OutcomeKind
	At      time.Time
}

// Disconnect is one row of a reassigned-numbers feed: the number (by its
// Subject, never in plain text) was disconnected at At, so whoever holds it
// now may not be whoever consented before.
type Disconnect struct {
	Subject Subject
	At      time.Time
}

// Cap limits reserved attempts: at most Max within any rolling Window.
type Cap struct {
	Max    int           `yaml:"max" json:"max"`
	Window time.Duration `yaml:"window" json:"window"`
}
