package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unsafe"

	"callfilter/dnc"
	"callfilter/filter"
	"callfilter/phone"
)

// ScrubInput chooses what a bulk scrub decides: every number of the list is
// decided for one purpose, channel and seller at one instant.
type ScrubInput struct {
	Purpose string
	Channel string
	Seller  string
	// Region reads numbers written without a country code; "" = the service default.
	Region string
	// At is the instant decided at; zero means now (fixed when the scrub starts).
	At time.Time
}

// ScrubResult is the decision on one row of a scrub. Number is the zero
// Number when the cell could not be read as a number (Reasons then hold
// invalid_number or missing_number).
type ScrubResult struct {
	Number  phone.Number
	Outcome filter.Outcome
	// Reasons are shared between results: treat them as read-only.
	Reasons []filter.Reason
	// Stored says the store was read for the row (a bloom "maybe", or a policy
	// needing consent or relationships); false when the bloom filters and the
	// rules alone decided it.
	Stored bool
}

// Scrubber decides the rows of one scrub under one rule set and instant. A
// scrub records no attempt and does not reserve: frequency caps are dial-time
// checks, so a scrub never applies them (a scrubbed allow still needs a
// check at dial time). It is safe for concurrent use.
type Scrubber struct {
	s      *Service
	rs     *filter.RuleSet
	pols   *filter.PolicySet // rs's policies for the purpose and channel
	ch     filter.Channel
	in     ScrubInput
	region string
	now    time.Time
}

// Scrubber validates in (purpose and channel: an EInvalid error names what is
// wrong) and returns the Scrubber that decides its rows. The rule set in force
// now is used for the whole scrub, so every row is decided under one version.
func (s *Service) Scrubber(in ScrubInput) (*Scrubber, error) {
	rs := s.rules.Load()
	ch, err := s.request(rs, &CheckInput{Channel: in.Channel, Purpose: in.Purpose})
	if err != nil {
		return nil, err
	}
	pols, err := rs.PolicySet(in.Purpose, ch)
	if err != nil {
		return nil, err
	}
	return &Scrubber{s: s, rs: rs, pols: pols, ch: ch, in: in, region: s.region(in.Region), now: s.instant(in.At)}, nil
}

// At is the instant every row is decided at.
func (sc *Scrubber) At() time.Time { return sc.now }

// RulesVersion is the version of the rule set the scrub decides under.
func (sc *Scrubber) RulesVersion() string { return sc.rs.Version }

// Region is the region numbers without a country code are read in.
func (sc *Scrubber) Region() string { return sc.region }

// decisionKey identifies the inputs of Decide that vary between rows decided
// without the store: the policy (by region), the line type and the zones
// (shared slices, compared by identity).
type decisionKey struct {
	pol   *filter.Policy
	typ   phone.LineType
	zone0 *string
	zones int
}

type cachedDecision struct {
	key     decisionKey
	outcome filter.Outcome
	reasons []filter.Reason
}

// decisionCache remembers the decisions of one chunk's rows by decisionKey:
// direct-mapped, a slot chosen by the key's pointers, an older entry
// overwritten. A chunk sees a few dozen keys; a map's hashing of the key
// cost more than the look-up saved.
type decisionCache [64]cachedDecision

func (c *decisionCache) slot(k decisionKey) *cachedDecision {
	h := uint64(uintptr(unsafe.Pointer(k.pol)))>>4 ^ uint64(uintptr(unsafe.Pointer(k.zone0)))>>3 ^ uint64(k.zones)<<5 ^ uint64(len(k.typ))
	return &c[(h*0x9e3779b97f4a7c15)>>58]
}

// DecideMany decides raws[i] into out[i] (len(out) must be at least
// len(raws)). Numbers that every applicable list's bloom filter rules out,
// under a policy that needs no consent, are decided without the store, and
// rows that share policy, line type and zones share one Decide; every other
// number reads its facts from the store (no attempts: caps are dial-time),
// and a store failure denies it with unavailable, as Check does.
func (sc *Scrubber) DecideMany(ctx context.Context, raws []string, out []ScrubResult) {
	cache := new(decisionCache)
	scr := new(scrubScratch) // one per call, not per row: the arrays escape
	var waiting []storeRow
	for i, raw := range raws {
		n, err := phone.Normalize(raw, sc.region)
		if err != nil {
			out[i] = sc.invalid(err)
			continue
		}
		if r, ok := sc.decideWithoutStore(n, cache, scr); ok {
			out[i] = r
			continue
		}
		// The store's rows of the chunk are read together, below: the
		// scratch is reused row after row, so the row keeps copies.
		waiting = append(waiting, storeRow{i: i, n: n, known: slices.Clone(scr.known), q: sc.factsQuery(n, slices.Clone(scr.unsure))})
	}
	if len(waiting) == 0 {
		return
	}
	qs := make([]filter.FactsQuery, len(waiting))
	for k := range waiting {
		qs[k] = waiting[k].q
	}
	fs, err := sc.s.store.FactsMany(ctx, qs)
	for k, w := range waiting {
		var f filter.Facts
		if err == nil {
			f = fs[k]
		}
		out[w.i] = sc.decideWithFacts(w.n, w.known, f, err)
	}
}

// storeRow is a row of DecideMany that needs the store: its index, number,
// the lists the filters decided and the query of the rest.
type storeRow struct {
	i     int
	n     phone.Number
	known []filter.ListFact
	q     filter.FactsQuery
}

// DecideNumber decides one number normalized by the caller.
func (sc *Scrubber) DecideNumber(ctx context.Context, n phone.Number) ScrubResult {
	return sc.decide(ctx, n, nil, new(scrubScratch))
}

// scrubScratch holds the list slices of one row's decision, reused row after
// row (nothing of them is kept in a result).
type scrubScratch struct {
	lists [8]filter.ListFact
	maybe [8]string
	// known and unsure are the last row's slices of lists and maybe.
	known  []filter.ListFact
	unsure []string
}

// Invalid is the result of a cell that could not be normalized (err from
// phone.Normalize).
func (sc *Scrubber) Invalid(err error) ScrubResult { return sc.invalid(err) }

var (
	missingReasons = []filter.Reason{{Code: filter.ReasonMissingNumber, Detail: "no number was given"}}
)

func (sc *Scrubber) invalid(err error) ScrubResult {
	if errors.Is(err, phone.ErrMissing) {
		return ScrubResult{Outcome: filter.Deny, Reasons: missingReasons}
	}
	return ScrubResult{Outcome: filter.Deny, Reasons: []filter.Reason{{Code: filter.ReasonInvalidNumber, Detail: err.Error()}}}
}

func (sc *Scrubber) decide(ctx context.Context, n phone.Number, cache *decisionCache, scr *scrubScratch) ScrubResult {
	if r, ok := sc.decideWithoutStore(n, cache, scr); ok {
		return r
	}
	f, err := sc.s.store.Facts(ctx, sc.factsQuery(n, scr.unsure))
	return sc.decideWithFacts(n, scr.known, f, err)
}

// decideWithoutStore decides n if the filters and the rules alone can, and
// otherwise leaves in scr the lists the filters decided (known) and those
// the store must (unsure).
func (sc *Scrubber) decideWithoutStore(n phone.Number, cache *decisionCache, scr *scrubScratch) (ScrubResult, bool) {
	s := sc.s
	pol := sc.pols.For(n)
	known, unsure := scr.lists[:0], scr.maybe[:0]
	// With every list ruled out by its filter (the usual row), the masks
	// alone say so: the facts are built only when a decision needs them.
	allAbsent := false
	all := uint64(1)<<len(pol.Lists) - 1 // every list's bit (all ones for 64)
	switch {
	case s.opts.ExactLists:
		unsure = append(unsure, pol.Lists...)
	case len(pol.Lists) <= dnc.MaxMaskLists:
		absent, unknown := s.lists.ScreenMask(n.Key, pol.Lists)
		if allAbsent = absent == all; !allAbsent {
			known, unsure = dnc.AppendScreened(pol.Lists, absent, unknown, known, unsure)
		}
	default:
		known, unsure = s.lists.Screen(n.Key, pol.Lists, known, unsure)
	}
	if len(unsure) != 0 || pol.ConsentRequired || pol.RenewalWindowDays != 0 {
		if allAbsent {
			known, _ = dnc.AppendScreened(pol.Lists, all, 0, known, nil)
		}
		scr.known, scr.unsure = known, unsure
		return ScrubResult{}, false
	}
	// Nothing needs the store: every list is known (absent, or unknown and
	// so a deny), no consent is needed, no renewal window needs the
	// number's policies, and exemptions only matter for a list the number
	// is on. Attempts and call outcomes are not read: caps and the rules
	// on unanswered calls are dial-time. Rows whose lists all rule them
	// out share decisions by policy, line type and zones.
	fast := allAbsent && cache != nil
	var slot *cachedDecision
	var key decisionKey
	if fast {
		key = decisionKey{pol: pol, typ: n.Type, zones: len(n.TimeZones)}
		if len(n.TimeZones) > 0 {
			key.zone0 = &n.TimeZones[0]
		}
		if slot = cache.slot(key); slot.key == key && slot.key.pol != nil {
			return ScrubResult{Number: n, Outcome: slot.outcome, Reasons: slot.reasons}, true
		}
	}
	if allAbsent {
		known, _ = dnc.AppendScreened(pol.Lists, all, 0, known, nil)
	}
	scr.known, scr.unsure = known, unsure
	d := filter.Decide(sc.rs, sc.request(n), filter.Facts{Lists: known}, sc.now)
	if fast {
		*slot = cachedDecision{key: key, outcome: d.Outcome, reasons: d.Reasons}
	}
	return ScrubResult{Number: n, Outcome: d.Outcome, Reasons: d.Reasons}, true
}

func (sc *Scrubber) request(n phone.Number) filter.Request {
	return filter.Request{Number: n, Channel: sc.ch, Purpose: sc.in.Purpose, Seller: sc.in.Seller}
}

// factsQuery is the store query of n for the lists unsure (no attempts:
// caps are dial-time).
func (sc *Scrubber) factsQuery(n phone.Number, unsure []string) filter.FactsQuery {
	return filter.FactsQuery{Key: n.Key, Lists: unsure, Subject: sc.s.subject(n), Seller: sc.in.Seller, Purpose: sc.in.Purpose, Channel: sc.ch}
}

// decideWithFacts decides n from the lists the filters decided and the
// store's facts f, or its error err.
func (sc *Scrubber) decideWithFacts(n phone.Number, known []filter.ListFact, f filter.Facts, err error) ScrubResult {
	if err != nil {
		// Fail closed exactly like Check: the maybe-lists stay unknown and the
		// store is named.
		f = filter.Facts{Lists: known, Unavailable: []string{"store: " + string(filter.ErrorKind(err))}}
	} else {
		f.Lists = append(known, f.Lists...)
	}
	d := filter.Decide(sc.rs, sc.request(n), f, sc.now)
	return ScrubResult{Number: n, Outcome: d.Outcome, Reasons: d.Reasons, Stored: true}
}

// ScrubTotals are the counts of a finished scrub, for its audit record.
type ScrubTotals struct {
	Rows, Allow, Deny, Malformed int64
	Reasons                      map[string]int64
}

// Record appends the scrub's summary to the audit trail (action "scrub",
// seller, purpose and channel set) and waits until it is durable. Rows are
// not audited one by one: a scrubbed allow is advice for a list, and every
// call made from it is checked (and audited) at dial time. An error means the
// summary is not recorded.
func (sc *Scrubber) Record(ctx context.Context, t ScrubTotals) error {
	codes := make([]string, 0, len(t.Reasons))
	for c := range t.Reasons {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	var b strings.Builder
	fmt.Fprintf(&b, "rows %d: allow %d, deny %d, malformed %d", t.Rows, t.Allow, t.Deny, t.Malformed)
	for i, c := range codes {
		if i == 0 {
			b.WriteString("; reasons")
		}
		fmt.Fprintf(&b, " %s %d", c, t.Reasons[c])
	}
	fmt.Fprintf(&b, "; rules %s; decided at %s", sc.rs.Version, sc.now.UTC().Format(time.RFC3339))
	return sc.s.changed(ctx, nil, change{Action: "scrub", Target: sc.in.Purpose + "/" + string(sc.ch),
		Detail: b.String(), Seller: sc.in.Seller, Purpose: sc.in.Purpose, Channel: sc.ch})
}
