package service

import (
	"context"
	"time"

	"callfilter/filter"
)

// OutcomeInput is how one contact attempt ended, as a dialer reports it.
type OutcomeInput struct {
	Number  string
	Region  string
	Seller  string
	Purpose string
	Channel string
	Outcome string
	At      time.Time // zero = now
}

// OutcomeResult says what recording an outcome did.
type OutcomeResult struct {
	// Listed is true when a refusal or an opt-out put the number on the
	// company list (it was not there before).
	Listed bool
	// Revoked is how many consents that refusal or opt-out revoked.
	Revoked int
}

// RecordOutcome records how a contact attempt ended, for the rules on
// unanswered calls and refusals (unanswered_per_day, refusal_block_days).
// A refused or opted_out outcome is also an opt-out (OptOut: the number goes
// on the company list and the seller's consents on that channel are
// revoked), recorded before the outcome so that a failure of the second
// write never leaves a refusal unhonoured. EInvalid for an unknown outcome,
// channel or purpose, a missing seller, or an instant after now;
// EUnavailable when the store cannot be written.
func (s *Service) RecordOutcome(ctx context.Context, in OutcomeInput) (OutcomeResult, error) {
	n, err := s.normalizeForRecord(in.Number, in.Region)
	if err != nil {
		return OutcomeResult{}, err
	}
	kind, err := filter.ParseOutcomeKind(in.Outcome)
	if err != nil {
		return OutcomeResult{}, err
	}
	ch, err := filter.ParseChannel(in.Channel)
	if err != nil {
		return OutcomeResult{}, err
	}
	for _, f := range [][2]string{{"seller", in.Seller}, {"purpose", in.Purpose}} {
		if err := required(f[0], f[1]); err != nil {
			return OutcomeResult{}, err
		}
	}
	if err := s.knownPurpose(in.Purpose); err != nil {
		return OutcomeResult{}, err
	}
	at := s.instant(in.At)
	if at.After(s.opts.Now().Add(time.Minute)) { // a minute of clock skew between dialer and service
		return OutcomeResult{}, filter.Errorf(filter.EInvalid, "outcome_in_future", "at %s is in the future: report outcomes after the call", at.UTC().Format(time.RFC3339))
	}
	var res OutcomeResult
	if kind == filter.OutcomeRefused || kind == filter.OutcomeOptedOut {
		o, err := s.OptOut(ctx, OptOutInput{Number: in.Number, Region: in.Region, Seller: in.Seller, Channel: in.Channel,
			Source: "call outcome " + string(kind), At: at})
		if err != nil {
			return OutcomeResult{}, err
		}
		res = OutcomeResult(o)
	}
	err = s.store.RecordOutcome(ctx, filter.CallOutcome{Subject: s.subject(n), Seller: in.Seller, Purpose: in.Purpose, Channel: ch, Kind: kind, At: at})
	return res, s.changed(ctx, err, change{Action: "outcome.record", Number: &n, Seller: in.Seller, Purpose: in.Purpose, Channel: ch, Target: string(kind)})
}
