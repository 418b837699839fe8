package service

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"callfilter/filter"
	"callfilter/phone"
)

// request validates the parts of in that make a check well formed (channel and
// purpose); an error here is a malformed request, not a decision.
func (s *Service) request(rs *filter.RuleSet, in *CheckInput) (filter.Channel, error) {
	ch, err := filter.ParseChannel(in.Channel)
	if err != nil {
		return "", err
	}
	if in.Purpose == "" {
		return "", filter.Errorf(filter.EInvalid, filter.CodeUnknownPurpose, "purpose is required")
	}
	if _, err := rs.Resolve(in.Purpose, ch, phone.Number{}); err != nil {
		return "", err
	}
	if in.PostalCode != "" {
		if _, _, err := filter.PostalArea(in.PostalCode); err != nil {
			return "", err
		}
	}
	return ch, nil
}

// Check decides one check. It returns an error only for a malformed request
// (unknown channel or purpose); every other failure, a store that cannot be
// read included, is a deny decision with its reason (fail closed).
func (s *Service) Check(ctx context.Context, in CheckInput) (CheckResult, error) {
	rs := s.rules.Load()
	ch, err := s.request(rs, &in)
	if err != nil {
		return CheckResult{}, err
	}
	return s.check(ctx, rs, ch, in), nil
}

// CheckBatch decides each input in order. The batch is validated first: a
// malformed item rejects the whole batch with an error naming its index, so a
// client never acts on a half-answered batch.
func (s *Service) CheckBatch(ctx context.Context, ins []CheckInput) ([]CheckResult, error) {
	if len(ins) == 0 {
		return nil, filter.Errorf(filter.EInvalid, "empty_batch", "items must hold at least one check")
	}
	if len(ins) > s.opts.MaxBatch {
		return nil, filter.Errorf(filter.EInvalid, "batch_too_large", "a batch holds at most %d items, got %d", s.opts.MaxBatch, len(ins))
	}
	rs := s.rules.Load()
	chans := make([]filter.Channel, len(ins))
	for i := range ins {
		ch, err := s.request(rs, &ins[i])
		if err != nil {
			var fe *filter.Error
			if errors.As(err, &fe) {
				return nil, &filter.Error{Kind: fe.Kind, Code: fe.Code, Message: fmt.Sprintf("items[%d]: %s", i, fe.Message)}
			}
			return nil, err
		}
		chans[i] = ch
	}
	out := make([]CheckResult, len(ins))
	for i := range ins {
		out[i] = s.check(ctx, rs, chans[i], ins[i])
	}
	return out, nil
}

func (s *Service) check(ctx context.Context, rs *filter.RuleSet, ch filter.Channel, in CheckInput) CheckResult {
	now := s.instant(in.At)
	n, err := phone.Normalize(in.Number, s.region(in.Region))
	if err != nil {
		return s.audited(ctx, CheckResult{Decision: s.invalidNumber(rs, err, now)}, &in, nil, nil, nil)
	}
	req := filter.Request{Number: n, Channel: ch, Purpose: in.Purpose, Seller: in.Seller, Campaign: in.Campaign, PostalCode: in.PostalCode, Reserve: in.Reserve}
	pol, err := rs.Resolve(in.Purpose, ch, n)
	if err != nil {
		// Validated above; a failure here is a rule-set bug: decide anyway, and
		// Decide fails closed on the same error.
		pol = &filter.Policy{}
	}
	// The number's subject, computed once (an HMAC-SHA256): the facts, the
	// reservation and the audit entry all key by it.
	subj := s.subject(n)
	sc := scratchPool.Get().(*checkScratch)
	facts := s.facts(ctx, sc, rs, pol, n, &subj, req, now)
	d := filter.Decide(rs, req, facts, now)
	rp := s.replay(&req, &facts, now) // before release: facts.Lists is the scratch's
	sc.release()
	if d.Outcome == filter.Allow && in.Reserve {
		d = s.reserve(ctx, pol, req, &subj, now, d)
	}
	d.ID = s.ids.next(now)
	return s.audited(ctx, CheckResult{Decision: d, Number: &n}, &in, &req, &subj, rp)
}

// checkScratch holds the slices one check fills and Decide reads: pooled, as
// they would otherwise escape to the heap on every check (they pass through
// the store interface). Nothing of them outlives the check: Decide copies
// what it keeps.
type checkScratch struct {
	lists [8]filter.ListFact
	maybe [8]string
}

var scratchPool = sync.Pool{New: func() any { return new(checkScratch) }}

func (sc *checkScratch) release() {
	sc.lists = [8]filter.ListFact{}
	sc.maybe = [8]string{}
	scratchPool.Put(sc)
}

// facts gathers what Decide needs: bloom "no"s need no I/O, everything else is
// one store round trip. subj is n's subject.
func (s *Service) facts(ctx context.Context, sc *checkScratch, rs *filter.RuleSet, pol *filter.Policy, n phone.Number, subj *filter.Subject, req filter.Request, now time.Time) filter.Facts {
	known, unsure := sc.lists[:0], sc.maybe[:0]
	if s.opts.ExactLists || (s.opts.Synced != nil && !s.opts.Synced()) {
		unsure = append(unsure, pol.Lists...)
	} else {
		known, unsure = s.lists.Screen(n.Key, pol.Lists, known, unsure)
	}
	q := filter.FactsQuery{
		Key:     n.Key,
		Lists:   unsure,
		Subject: *subj,
		Seller:  req.Seller,
		Purpose: req.Purpose,
		Channel: req.Channel,
	}
	if w := pol.LongestCapWindow(); w > 0 {
		q.AttemptsSince = now.Add(-w)
	}
	if w := rs.OutcomeWindow(); w > 0 {
		q.OutcomesSince = now.Add(-w)
	}
	f, err := s.store.Facts(ctx, q)
	if err != nil {
		// The maybe-lists stay unknown and the store is named: Decide denies
		// with unavailable.
		return filter.Facts{Lists: known, Unavailable: []string{"store: " + string(filter.ErrorKind(err))}}
	}
	f.Lists = append(known, f.Lists...)
	if pol.HasListAges() {
		s.ages.fill(ctx, s.store, &f)
	}
	return f
}

// reserve records the attempt under the caps; a cap reached since the facts
// were read, or a store failure, turns the allow into a deny. subj is the
// number's subject.
func (s *Service) reserve(ctx context.Context, pol *filter.Policy, req filter.Request, subj *filter.Subject, now time.Time, d filter.Decision) filter.Decision {
	granted, err := s.store.Reserve(ctx, filter.ReserveQuery{
		Subject: *subj,
		Seller:  req.Seller,
		Purpose: req.Purpose,
		Channel: req.Channel,
		At:      now,
		Caps:    pol.Caps,
	})
	switch {
	case err != nil:
		d.Outcome = filter.Deny
		d.Reasons = []filter.Reason{{Code: filter.ReasonUnavailable, Detail: "the attempt could not be recorded: " + string(filter.ErrorKind(err))}}
	case !granted:
		d.Outcome = filter.Deny
		d.Reasons = []filter.Reason{{Code: filter.ReasonFrequencyCap, Detail: "the frequency cap was reached by a concurrent reservation"}}
	}
	return d
}

func (s *Service) invalidNumber(rs *filter.RuleSet, err error, now time.Time) filter.Decision {
	r := filter.Reason{Code: filter.ReasonInvalidNumber, Detail: err.Error()}
	if errors.Is(err, phone.ErrMissing) {
		r = filter.Reason{Code: filter.ReasonMissingNumber, Detail: "no number was given"}
	}
	return filter.Decision{
		ID:           s.ids.next(now),
		Outcome:      filter.Deny,
		Reasons:      []filter.Reason{r},
		RulesVersion: rs.Version,
		LocalTime:    now.UTC(),
	}
}
