package service

import (
	"context"
	"time"

	"callfilter/filter"
	"callfilter/phone"
)

// Lookup is what is known of a number, for an officer: how it reads, the
// lists it is on, the consents, revocations and relationships recorded for it
// with a seller, the attempts in the cap windows, and the decision now for
// every purpose and channel of the rules in force.
type Lookup struct {
	Number phone.Number
	Seller string
	At     time.Time
	// Lists holds every list of the rules, read exactly from the store.
	Lists         []filter.ListFact
	Consents      []filter.Consent
	Revocations   []filter.Revocation
	Relationships []filter.Relationship
	// DisconnectedAt is the number's latest disconnect (reassigned), zero if none.
	DisconnectedAt time.Time
	Decisions      []LookupDecision
	RulesVersion   string
}

// LookupDecision is the decision now for one purpose and channel, and the
// attempts counted by its caps.
type LookupDecision struct {
	Purpose  string
	Channel  filter.Channel
	Decision filter.Decision
	Attempts []time.Time
	Caps     []filter.Cap
}

// LookupNumber reads what is known of raw for seller (consents and
// relationships are kept per seller) and decides every purpose × channel
// now, without recording an attempt. A fact that cannot be read fails the
// lookup (EUnavailable) rather than showing a partial picture.
func (s *Service) LookupNumber(ctx context.Context, raw, region, seller string) (Lookup, error) {
	n, err := s.normalizeForRecord(raw, region)
	if err != nil {
		return Lookup{}, err
	}
	rs := s.rules.Load()
	now := s.opts.Now()
	out := Lookup{Number: n, Seller: seller, At: now, RulesVersion: rs.Version}
	subj := s.subject(n)
	bq := filter.FactsQuery{Key: n.Key, Lists: rs.ListNames(), Subject: subj, Seller: seller}
	if w := rs.OutcomeWindow(); w > 0 {
		bq.OutcomesSince = now.Add(-w)
	}
	base, err := s.store.Facts(ctx, bq)
	if err != nil {
		return Lookup{}, err
	}
	out.Lists, out.Consents, out.Revocations, out.Relationships = base.Lists, base.Consents, base.Revocations, base.Relationships
	out.DisconnectedAt = base.DisconnectedAt
	for _, p := range rs.PurposeNames() {
		for _, ch := range []filter.Channel{filter.ChannelCall, filter.ChannelSMS} {
			pol, err := rs.Resolve(p, ch, n)
			if err != nil {
				return Lookup{}, err
			}
			req := filter.Request{Number: n, Channel: ch, Purpose: p, Seller: seller}
			f := base
			f.Attempts = nil
			if w := pol.LongestCapWindow(); w > 0 {
				af, err := s.store.Facts(ctx, filter.FactsQuery{Key: n.Key, Subject: subj, Seller: seller, Purpose: p, Channel: ch, AttemptsSince: now.Add(-w)})
				if err != nil {
					return Lookup{}, err
				}
				f.Attempts = af.Attempts
			}
			d := filter.Decide(rs, req, f, now)
			out.Decisions = append(out.Decisions, LookupDecision{Purpose: p, Channel: ch, Decision: d, Attempts: f.Attempts, Caps: pol.Caps})
		}
	}
	return out, nil
}
