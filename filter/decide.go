package filter

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"callfilter/phone"
)

// Decide decides req at instant now under rs from facts. It is pure: no I/O,
// no clock, no globals but the cache of loaded time zones. It never panics on
// odd facts and fails closed: whatever cannot be established (no rule set, an
// unknown purpose, a list whose state is unknown, an unknown time zone, a fact
// named in facts.Unavailable) is a deny with reason unavailable.
//
// A deny carries every reason that applies, in this order: number, channel,
// wireless, lists (on_list, list_stale), consent, hours, days, holidays, then
// the same for the postal code's state when it has another policy (reasons
// not already given), emergencies, caps, unavailable facts. Allow notes
// (relationship_exemption, consent) are kept on a deny too: they explain why a
// list did not count. Two exceptions to "every reason": a request without a
// number gets only invalid_number (nothing else can be read for it), and
// no_consent is left out when facts are unavailable, because the absence of
// consent may then be the store's failure, and a dialer acting on no_consent
// would drop a number it may call.
func Decide(rs *RuleSet, req Request, facts Facts, now time.Time) Decision {
	// The evaluation holds copies, not pointers to the arguments: pointers
	// would make the escape analysis move them to the heap on every call.
	e := evaluation{d: Decision{Outcome: Allow, LocalTime: now}, req: req, facts: facts, now: now}
	switch {
	case rs == nil:
		e.deny(ReasonUnavailable, "", "no rule set is loaded")
		return e.d
	case req.Number.E164 == "":
		e.d.RulesVersion = rs.Version
		e.deny(ReasonInvalidNumber, "", "the request has no normalized number")
		return e.d
	}
	e.d.RulesVersion = rs.Version
	p, err := rs.Resolve(req.Purpose, req.Channel, req.Number)
	if err != nil {
		e.deny(ReasonUnavailable, "", "no policy applies: "+ErrorMessage(err))
		return e.d
	}
	var ps [2]*Policy
	ps[0] = p
	np := 1
	e.zones = req.Number.TimeZones
	postalArea := ""
	if req.PostalCode != "" {
		// The called party's own address: its state's policy applies too, and
		// its zones, and the most restrictive answer wins.
		area, zones, err := PostalArea(req.PostalCode)
		switch {
		case err != nil:
			e.deny(ReasonUnavailable, "", "the postal code cannot be read: "+ErrorMessage(err))
		case area != "":
			postalArea = area
			n2 := req.Number
			n2.Area, n2.Region = area, areaCountry(area)
			if q, err := rs.Resolve(req.Purpose, req.Channel, n2); err == nil && q != p {
				ps[1], np = q, 2
			}
			e.zones = unionZones(e.zones, zones)
		}
	}
	e.p = p
	e.evaluate()
	if np == 2 {
		e2 := evaluation{d: Decision{Outcome: Allow, LocalTime: now}, req: req, facts: facts, now: now, p: ps[1], zones: e.zones}
		e2.evaluate()
		e.merge(&e2)
	}
	e.checkEmergencies(rs, postalArea)
	e.checkCaps(ps[:np])
	for _, u := range facts.Unavailable {
		e.deny(ReasonUnavailable, "", u)
	}
	if e.denied && !e.untimed {
		if t := nextAllowed(ps[:np], e.zones, facts.Attempts, now); !t.IsZero() {
			e.d.NextAllowedAt = t.In(now.Location())
		}
	}
	return e.d
}

// evaluate runs the checks of one policy: channel, wireless, lists, consent,
// hours, days and holidays.
func (e *evaluation) evaluate() {
	p := e.p
	if !p.Allowed {
		e.deny(ReasonChannelNotAllowed, "", "purpose "+p.Purpose+" does not allow contact by "+string(p.Channel))
	}
	if p.WirelessProhibited {
		lt := e.facts.LineType
		if lt == "" {
			lt = e.req.Number.Type
		}
		if lt == phone.LineMobile {
			where := p.Region
			if where == "" {
				where = "this region"
			}
			e.deny(ReasonWirelessProhibited, "", "solicitation of wireless numbers is forbidden in "+where)
		}
	}
	e.checkLists()
	e.checkConsent()
	e.checkRenewal()
	e.checkOutcomes()
	e.checkTime()
}

// checkOutcomes applies the rules on how earlier calls ended: a refusal of
// the seller within RefusalBlockDays, and UnansweredPerDay unanswered or
// refused calls for the purpose and channel on the local date of now in the
// called party's first zone (UTC without one). Outcomes dated after now do
// not count.
func (e *evaluation) checkOutcomes() {
	p := e.p
	if p.RefusalBlockDays <= 0 && p.UnansweredPerDay <= 0 {
		return
	}
	loc := time.UTC
	if len(e.zones) > 0 {
		if l, err := location(e.zones[0]); err == nil {
			loc = l // an unknown zone is reported by checkTime
		}
	}
	ty, tm, td := wall(e.now, loc).Date()
	block := time.Duration(p.RefusalBlockDays) * 24 * time.Hour
	var refused time.Time
	today := 0
	for i := range e.facts.Outcomes {
		o := &e.facts.Outcomes[i]
		if o.Seller != e.req.Seller || o.At.After(e.now) {
			continue
		}
		if p.RefusalBlockDays > 0 && o.Kind == OutcomeRefused && e.now.Sub(o.At) < block && o.At.After(refused) {
			refused = o.At
		}
		if p.UnansweredPerDay > 0 && o.Kind.Unanswered() && o.Purpose == e.req.Purpose && o.Channel == e.req.Channel {
			if y, m, d := wall(o.At, loc).Date(); y == ty && m == tm && d == td {
				today++
			}
		}
	}
	if !refused.IsZero() {
		e.deny(ReasonRefusalBlock, "", "the number refused "+e.req.Seller+" on "+day(refused)+": no contact by this seller until "+
			refused.Add(block).UTC().Format(time.RFC3339)+" ("+strconv.Itoa(p.RefusalBlockDays)+" days)")
	}
	if p.UnansweredPerDay > 0 && today >= p.UnansweredPerDay {
		e.deny(ReasonUnansweredLimit, "", strconv.Itoa(today)+" unanswered or refused calls for "+e.req.Purpose+" today (at most "+
			strconv.Itoa(p.UnansweredPerDay)+" per day): no more today")
	}
}

// checkRenewal denies a purpose with a renewal window unless now is within
// RenewalWindowDays before the expiry of a policy the number holds with the
// seller (a relationship with PolicyExpiresAt, recorded at or before now and
// not before the number's disconnect: an earlier holder's policy is not this
// one's): from expiry − N days, inclusive, to the expiry, exclusive.
func (e *evaluation) checkRenewal() {
	n := e.p.RenewalWindowDays
	if n <= 0 {
		return
	}
	window := time.Duration(n) * 24 * time.Hour
	var next time.Time // the nearest expiry whose window has not opened yet
	gone := false      // a policy was set aside as an earlier holder's
	for i := range e.facts.Relationships {
		r := &e.facts.Relationships[i]
		exp := r.PolicyExpiresAt
		if r.Seller != e.req.Seller || r.At.After(e.now) || exp.IsZero() || !e.now.Before(exp) {
			continue
		}
		if e.reassignedAfter(r.At) {
			gone = true
			continue
		}
		if !e.now.Before(exp.Add(-window)) {
			return // inside the window of this policy
		}
		if next.IsZero() || exp.Before(next) {
			next = exp
		}
	}
	days := strconv.Itoa(n)
	if next.IsZero() {
		if len(e.facts.Unavailable) > 0 {
			return // as for no_consent: the policy may be what could not be read
		}
		detail := "renewal solicitations for " + e.req.Purpose + " are allowed only within " + days +
			" days before the expiry of a policy held with " + e.req.Seller + ", and none is on record"
		if gone {
			detail += " since the number was disconnected on " + day(e.facts.DisconnectedAt) + " (reassigned)"
		}
		e.deny(ReasonOutsideRenewalWindow, "", detail)
		return
	}
	e.deny(ReasonOutsideRenewalWindow, "", "the policy expires on "+day(next)+": renewal solicitations for "+e.req.Purpose+
		" are allowed from "+day(next.Add(-window))+" ("+days+" days before)")
}

// merge adds o's reasons that e lacks (same code and list) and its outcome.
func (e *evaluation) merge(o *evaluation) {
	for _, r := range o.d.Reasons {
		if !slices.ContainsFunc(e.d.Reasons, func(x Reason) bool { return x.Code == r.Code && x.List == r.List }) {
			e.add(r)
		}
	}
	if o.denied {
		e.d.Outcome, e.denied = Deny, true
	}
	e.untimed = e.untimed || o.untimed
}

// checkEmergencies denies when a declared state of emergency covers the
// number's area, its postal area or their countries on the local date of any
// of its zones.
func (e *evaluation) checkEmergencies(rs *RuleSet, postalArea string) {
	n := e.req.Number
	for i := range rs.emergencies {
		em := &rs.emergencies[i]
		if em.Region == "" || (em.Region != n.Area && em.Region != n.Region &&
			(postalArea == "" || em.Region != postalArea && em.Region != areaCountry(postalArea))) {
			continue
		}
		hit := false
		if len(e.zones) == 0 {
			y, m, d := e.now.UTC().Date()
			hit = em.covers(y, m, d, e.req.Purpose, e.req.Channel)
		}
		for _, z := range e.zones {
			loc, err := location(z)
			if err != nil {
				continue // checkTime reports it
			}
			if y, m, d := wall(e.now, loc).Date(); em.covers(y, m, d, e.req.Purpose, e.req.Channel) {
				hit = true
				break
			}
		}
		if hit {
			e.deny(ReasonEmergencyBlock, "", "state of emergency in "+em.Region+" from "+em.From.Format("2006-01-02")+
				" to "+em.To.Format("2006-01-02")+": "+em.Reason)
		}
	}
}

// unionZones returns the sorted union of a and b (a new slice: a may be shared).
func unionZones(a, b []string) []string {
	out := make([]string, 0, len(a)+len(b))
	out = append(out, a...)
	for _, z := range b {
		if !slices.Contains(out, z) {
			out = append(out, z)
		}
	}
	slices.Sort(out)
	return out
}

// evaluation is the state of one Decide call; it lives on Decide's stack.
type evaluation struct {
	d     Decision
	p     *Policy
	req   Request
	facts Facts
	now   time.Time
	zones []string // the called party's zones: the number's, and its postal code's

	denied  bool
	untimed bool // a deny reason that waiting cannot cure

	consentDone bool
	cons        consentResult
	relDone     bool
	rel         *Relationship
	relGone     *Relationship // would exempt, but predates the disconnect
}

func (e *evaluation) add(r Reason) {
	if e.d.Reasons == nil {
		e.d.Reasons = make([]Reason, 0, 4)
	}
	e.d.Reasons = append(e.d.Reasons, r)
}

func (e *evaluation) deny(code ReasonCode, list, detail string) {
	e.add(Reason{Code: code, List: list, Detail: detail})
	e.d.Outcome = Deny
	e.denied = true
	switch code {
	case ReasonOutsideHours, ReasonDayNotAllowed, ReasonHoliday, ReasonFrequencyCap:
	default:
		e.untimed = true
	}
}

func (e *evaluation) note(code ReasonCode, list, detail string) {
	e.add(Reason{Code: code, List: list, Detail: detail})
}

// checkLists checks each applicable list; a present list is exempted by a prior
// relationship or by express consent only where the policy says so, and
// InternalList never is (its flags are always zero).
func (e *evaluation) checkLists() {
	for i, list := range e.p.Lists {
		f := e.facts.listFact(list)
		state := ListUnknown
		if f != nil {
			state = f.StateAt(e.now) // an expired entry no longer matches
		}
		stale := false
		var asOf time.Time // what the list's age counts from
		if age := e.p.ListMaxAges[i]; age > 0 && state != ListUnknown {
			asOf = f.asOf()
			stale = asOf.IsZero() || e.now.Sub(asOf) > age
		}
		switch {
		case state == ListAbsent && !stale:
			continue
		case state == ListAbsent:
			// A stale list cannot vouch for an absence, unless an exemption
			// would set the list aside anyway.
			if !e.exempts(e.p.listFlags[i]) {
				e.deny(ReasonListStale, list, e.staleDetail(list, asOf, f.SourceDate.IsZero(), e.p.ListMaxAges[i]))
			}
			continue
		case state == ListPresent:
		default:
			e.deny(ReasonUnavailable, list, "membership of the "+list+" list could not be read")
			continue
		}
		if stale && !e.exempts(e.p.listFlags[i]) {
			e.deny(ReasonListStale, list, e.staleDetail(list, asOf, f.SourceDate.IsZero(), e.p.ListMaxAges[i]))
		}
		flags := e.p.listFlags[i]
		if flags&exemptByRelationship != 0 {
			if r := e.bestRelationship(); r != nil {
				days := e.p.PurchaseDays
				if r.Kind == RelationshipInquiry {
					days = e.p.InquiryDays
				}
				var db [16]byte
				var nb [8]byte
				e.note(ReasonRelationshipExemption, list, string(r.Kind)+" on "+string(appendDay(db[:0], r.At))+
					", within "+string(strconv.AppendInt(nb[:0], int64(days), 10))+" days, exempts the "+list+" list")
				continue
			}
		}
		if flags&exemptByConsent != 0 {
			c := e.bestConsent()
			if c.status == consentEffective {
				var db [16]byte
				e.note(ReasonConsent, list, "express consent for "+e.req.Purpose+" by "+string(e.req.Channel)+
					" granted on "+string(appendDay(db[:0], c.consent.GrantedAt))+" exempts the "+list+" list")
				continue
			}
			if c.status == consentReassigned {
				e.deny(ReasonConsentReassigned, list, "consent granted on "+day(c.consent.GrantedAt)+
					" would exempt the "+list+" list, but the number was disconnected on "+day(c.at)+" (reassigned): it no longer counts")
			}
		}
		detail := "the number is on the " + list + " list"
		if !f.ExpiresAt.IsZero() {
			detail += " until " + f.ExpiresAt.UTC().Format(time.RFC3339)
		}
		if r := e.relGone; r != nil && flags&exemptByRelationship != 0 {
			detail += "; the " + string(r.Kind) + " on " + day(r.At) + " would exempt it, but the number was disconnected on " +
				day(e.facts.DisconnectedAt) + " (reassigned): that relationship was an earlier holder's and no longer counts"
		}
		e.deny(ReasonOnList, list, detail)
	}
}

// exempts reports whether an exemption with flags applies to the request.
func (e *evaluation) exempts(flags uint8) bool {
	return flags&exemptByRelationship != 0 && e.bestRelationship() != nil ||
		flags&exemptByConsent != 0 && e.bestConsent().status == consentEffective
}

// asOf is the instant a list's age counts from: its source date when known,
// else its last update.
func (l *ListFact) asOf() time.Time {
	if !l.SourceDate.IsZero() {
		return l.SourceDate
	}
	return l.UpdatedAt
}

func (e *evaluation) staleDetail(list string, asOf time.Time, fromUpdate bool, age time.Duration) string {
	when := "never updated"
	switch {
	case !fromUpdate:
		when = "published on " + day(asOf)
	case !asOf.IsZero():
		when = "last updated on " + day(asOf)
	}
	return "the " + list + " list was " + when + ": the rules allow at most " + formatWindow(age) + " (stale lists deny)"
}

// bestRelationship returns the most recent relationship with the seller that is
// recent enough to exempt, nil if none. A relationship dated after now does
// not count: it has not happened yet. Nor does one dated before the number's
// disconnect (reassigned: it was an earlier holder's); the most recent of
// those that would otherwise exempt is kept in e.relGone, for the details.
func (e *evaluation) bestRelationship() *Relationship {
	if e.relDone {
		return e.rel
	}
	e.relDone = true
	for i := range e.facts.Relationships {
		r := &e.facts.Relationships[i]
		if r.Seller != e.req.Seller || r.At.After(e.now) {
			continue
		}
		var days int
		switch r.Kind {
		case RelationshipPurchase:
			days = e.p.PurchaseDays
		case RelationshipInquiry:
			days = e.p.InquiryDays
		}
		// Inclusive: a purchase exactly 540 days ago is "within the last 540 days".
		if days <= 0 || e.now.Sub(r.At) > time.Duration(days)*24*time.Hour {
			continue
		}
		if e.reassignedAfter(r.At) {
			if e.relGone == nil || r.At.After(e.relGone.At) {
				e.relGone = r
			}
			continue
		}
		if e.rel == nil || r.At.After(e.rel.At) {
			e.rel = r
		}
	}
	return e.rel
}

// reassignedAfter reports whether the number was disconnected after t (and
// at or before now), so that whoever held it at t may not hold it now: what
// that holder consented to or bought no longer counts. A disconnect at t
// itself does not: the record is taken to be the new holder's.
func (e *evaluation) reassignedAfter(t time.Time) bool {
	dc := e.facts.DisconnectedAt
	return !dc.IsZero() && t.Before(dc) && !dc.After(e.now)
}

// consentStatus orders the states a consent can be in: the best one found
// across the number's consents for the purpose and channel wins.
type consentStatus uint8

const (
	consentNone consentStatus = iota
	consentExpired
	consentRevoked
	consentReassigned
	consentEffective
)

type consentResult struct {
	status  consentStatus
	consent *Consent
	at      time.Time // when it was revoked or expired
}

// bestConsent evaluates, once, the consents for the request's seller,
// purpose and channel. A consent is effective at now iff it was granted at or
// before now, has not expired, no matching revocation was made between its
// grant and now (a revocation before a later grant does not touch that grant),
// and the number was not disconnected after it was granted (the consent was
// then an earlier holder's: reassigned).
func (e *evaluation) bestConsent() consentResult {
	if e.consentDone {
		return e.cons
	}
	e.consentDone = true
	for i := range e.facts.Consents {
		c := &e.facts.Consents[i]
		if c.Seller != e.req.Seller || c.Purpose != e.req.Purpose || c.Channel != e.req.Channel || c.GrantedAt.After(e.now) {
			continue
		}
		r := consentResult{status: consentEffective, consent: c}
		if e.reassignedAfter(c.GrantedAt) {
			r.status, r.at = consentReassigned, e.facts.DisconnectedAt
		} else if at, ok := e.revoked(c); ok {
			r.status, r.at = consentRevoked, at
		} else if !c.ExpiresAt.IsZero() && !e.now.Before(c.ExpiresAt) {
			r.status, r.at = consentExpired, c.ExpiresAt
		}
		if r.status > e.cons.status || (r.status == e.cons.status && c.GrantedAt.After(e.cons.consent.GrantedAt)) {
			e.cons = r
		}
	}
	return e.cons
}

// revoked returns the earliest revocation of c made between its grant and now.
func (e *evaluation) revoked(c *Consent) (time.Time, bool) {
	var at time.Time
	found := false
	for i := range e.facts.Revocations {
		r := &e.facts.Revocations[i]
		if r.At.Before(c.GrantedAt) || r.At.After(e.now) || !r.Matches(*c) {
			continue
		}
		if !found || r.At.Before(at) {
			at, found = r.At, true
		}
	}
	return at, found
}

func (e *evaluation) checkConsent() {
	if !e.p.ConsentRequired {
		return
	}
	c := e.bestConsent()
	if c.status == consentEffective {
		var db [16]byte
		e.note(ReasonConsent, "", "express consent for "+e.req.Purpose+" by "+string(e.req.Channel)+
			" granted on "+string(appendDay(db[:0], c.consent.GrantedAt)))
		return
	}
	what := e.req.Purpose + " by " + string(e.req.Channel)
	switch c.status {
	case consentRevoked:
		e.deny(ReasonConsentRevoked, "", "consent for "+what+" granted on "+day(c.consent.GrantedAt)+" was revoked on "+day(c.at))
	case consentExpired:
		e.deny(ReasonConsentExpired, "", "consent for "+what+" expired on "+day(c.at))
	case consentReassigned:
		e.deny(ReasonConsentReassigned, "", "consent for "+what+" granted on "+day(c.consent.GrantedAt)+
			" predates the number's disconnection on "+day(c.at)+": the number has been reassigned")
	default:
		if len(e.facts.Unavailable) > 0 {
			return // see Decide: absence is not evidence when facts are missing
		}
		e.deny(ReasonNoConsent, "", "no express consent from this number for "+what)
	}
}

// checkTime checks the calling hours, days and holidays in every zone the number
// may be in: contact is allowed only when it is allowed in all of them.
func (e *evaluation) checkTime() {
	zones := e.zones
	if len(zones) == 0 {
		if e.p.timeRestricted {
			e.deny(ReasonUnavailable, "", "the number has no time zone: calling hours cannot be checked")
		}
		return
	}
	first := true
	var hours, days, holiday bool // each reason is given once, for the first zone that fails it
	for _, z := range zones {
		loc, err := location(z)
		if err != nil {
			e.deny(ReasonUnavailable, "", "unknown time zone "+strconv.Quote(z)+": calling hours cannot be checked")
			continue
		}
		if first {
			e.d.LocalTime, first = e.now.In(loc), false
		}
		local := wall(e.now, loc)
		if !e.p.timeRestricted {
			continue
		}
		if h := e.p.hoursOn(local.Weekday()); !hours && !h.contains(local) {
			hours = true
			e.deny(ReasonOutsideHours, "", "local time "+local.Format("15:04")+" in "+z+" is outside the calling hours "+h.String())
		}
		if !days && !e.p.Days.Has(local.Weekday()) {
			days = true
			e.deny(ReasonDayNotAllowed, "", local.Weekday().String()+" in "+z+" is not an allowed day ("+e.p.Days.String()+")")
		}
		if y, m, dd := local.Date(); !holiday && e.p.Holidays.Contains(y, m, dd) {
			holiday = true
			e.deny(ReasonHoliday, "", local.Format("2006-01-02")+" in "+z+" is a holiday")
		}
	}
}

func (e *evaluation) checkCaps(ps []*Policy) {
	for i, p := range ps {
		for _, c := range p.Caps {
			if i > 0 && slices.Contains(ps[0].Caps, c) {
				continue // the same cap, already counted
			}
			e.checkCap(c)
		}
	}
}

func (e *evaluation) checkCap(c Cap) {
	n := 0
	from := e.now.Add(-c.Window)
	for _, a := range e.facts.Attempts {
		if a.After(from) && !a.After(e.now) {
			n++
		}
	}
	if n >= c.Max {
		e.deny(ReasonFrequencyCap, "", fmt.Sprintf("%d of %d attempts in %s", n, c.Max, formatWindow(c.Window)))
	}
}

// day formats an instant as the date people read in details.
func day(t time.Time) string { return t.UTC().Format("2006-01-02") }

// appendDay is day for the allow path: appended to a buffer on the caller's
// stack, and converted within a concatenation, it costs no allocation of its own.
func appendDay(b []byte, t time.Time) []byte { return t.UTC().AppendFormat(b, "2006-01-02") }

// formatWindow writes a cap window as rule sets do: "24h", "7d", "90m".
func formatWindow(d time.Duration) string {
	switch {
	case d >= 48*time.Hour && d%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return d.String()
}

// searchHorizon bounds the search for the next allowed instant, counted from
// when the caps have room: beyond it NextAllowedAt is left zero.
const searchHorizon = 31 * 24 * time.Hour

// nextAllowed returns the earliest instant at or after now at which every cap
// has room and every zone is inside the calling hours on an allowed,
// non-holiday day; zero if there is none within the horizon.
func nextAllowed(ps []*Policy, zones []string, attempts []time.Time, now time.Time) time.Time {
	t := now
	restricted := false
	for _, p := range ps {
		for _, c := range p.Caps {
			if r := capRoom(c, attempts, now); r.After(t) {
				t = r
			}
		}
		restricted = restricted || p.timeRestricted
	}
	if !restricted {
		return t
	}
	limit := t.Add(searchHorizon)
	// Move t to the next opening of each zone in turn until all are open at
	// once. Each move is to the earliest instant a zone opens, so no instant
	// open in every zone is skipped; each iteration moves forward or stops.
	for range 1000 {
		moved := false
		for _, p := range ps {
			if !p.timeRestricted {
				continue
			}
			for _, z := range zones {
				loc, err := location(z)
				if err != nil {
					return time.Time{}
				}
				u, ok := p.nextInside(loc, t, limit)
				if !ok {
					return time.Time{}
				}
				if u.After(t) {
					t, moved = u, true
				}
			}
		}
		if !moved {
			return t
		}
	}
	return time.Time{}
}

// capRoom returns when cap c has room again for one more attempt: now if it
// has, else when the attempt that must leave the window does (its time plus
// the window; the window is the half-open (t-window, t]).
func capRoom(c Cap, attempts []time.Time, now time.Time) time.Time {
	var buf [32]time.Time
	in := buf[:0]
	from := now.Add(-c.Window)
	for _, a := range attempts {
		if a.After(from) && !a.After(now) {
			in = append(in, a)
		}
	}
	if len(in) < c.Max {
		return now
	}
	slices.SortFunc(in, time.Time.Compare)
	return in[len(in)-c.Max].Add(c.Window)
}

// wall returns the wall clock of t in loc as a UTC time: its date and clock
// fields are those of t.In(loc), found with one zone lookup rather than one
// per field (Hour, Minute, Weekday and Date each look the zone up again).
func wall(t time.Time, loc *time.Location) time.Time {
	_, off := t.In(loc).Zone()
	return t.UTC().Add(time.Duration(off) * time.Second)
}

// insideAt and dayOK take a wall clock from wall.
func (p *Policy) insideAt(local time.Time) bool {
	return p.hoursOn(local.Weekday()).contains(local) && p.dayOK(local)
}

func (p *Policy) dayOK(local time.Time) bool {
	y, m, d := local.Date()
	return p.Days.Has(local.Weekday()) && !p.Holidays.Contains(y, m, d)
}

// nextInside returns the earliest instant at or after t, and not after limit,
// at which loc's local time is inside p's hours on an allowed day. Being inside
// can begin only where the local clock reaches the start of the hours (one of
// the instants that show that wall-clock time on an allowed date: none on a
// spring-forward gap, two on a fall-back overlap) or where it jumps, at a
// daylight-saving transition; the earliest such candidate that is inside wins.
func (p *Policy) nextInside(loc *time.Location, t, limit time.Time) (time.Time, bool) {
	if p.insideAt(wall(t, loc)) {
		return t, true
	}
	var best time.Time
	for u := t; ; {
		_, end := u.In(loc).ZoneBounds()
		if end.IsZero() || !end.After(u) || end.After(limit) {
			break
		}
		if p.insideAt(wall(end, loc)) {
			best = end
			break
		}
		u = end
	}
	y, m, d := t.In(loc).Date()
	lastDay := int(limit.Sub(t)/(24*time.Hour)) + 2
	for i := 0; i <= lastDay; i++ {
		date := time.Date(y, m, d+i, 0, 0, 0, 0, time.UTC) // normalizes the civil date
		yy, mm, dd := date.Date()
		if !p.Days.Has(date.Weekday()) || p.Holidays.Contains(yy, mm, dd) {
			continue
		}
		occ, n := wallClock(yy, mm, dd, p.hoursOn(date.Weekday()).Start, loc)
		for _, c := range occ[:n] {
			if c.Before(t) {
				continue
			}
			if c.After(limit) || (!best.IsZero() && !c.Before(best)) {
				return best, !best.IsZero()
			}
			if p.insideAt(wall(c, loc)) {
				return c, true
			}
		}
	}
	return best, !best.IsZero()
}

// wallClock returns the instants, in order, at which loc's clocks show
// y-m-d at clock c: none in a spring-forward gap, two in a fall-back overlap,
// else one. time.Date picks one arbitrarily in those cases, so this solves
// u + offset(u) = wall for each offset in effect around that day instead.
func wallClock(y int, m time.Month, d int, c Clock, loc *time.Location) ([2]time.Time, int) {
	wall := time.Date(y, m, d, int(c)/60, int(c)%60, 0, 0, time.UTC).Unix()
	_, before := time.Unix(wall-86400, 0).In(loc).Zone()
	_, after := time.Unix(wall+86400, 0).In(loc).Zone()
	var out [2]time.Time
	n := 0
	for i, off := range [2]int{before, after} {
		if i == 1 && after == before {
			break
		}
		u := time.Unix(wall-int64(off), 0)
		if _, got := u.In(loc).Zone(); got == off {
			out[n] = u
			n++
		}
	}
	if n == 2 && out[1].Before(out[0]) {
		out[0], out[1] = out[1], out[0]
	}
	return out, n
}
