package filter

import (
	"strings"
	"testing"
	"time"
)

// Tests of the facts that change with time on their own: list entries that
// expire, numbers that were reassigned, and renewal windows.

// expiring marks list as present until expiresAt.
func expiring(list string, expiresAt time.Time) factsOpt {
	return func(f *Facts) {
		present(list)(f)
		for i := range f.Lists {
			if f.Lists[i].List == list {
				f.Lists[i].ExpiresAt = expiresAt
			}
		}
	}
}

func disconnected(at time.Time) factsOpt {
	return func(f *Facts) { f.DisconnectedAt = at }
}

func withPolicy(sellerName string, at, expires time.Time) factsOpt {
	return func(f *Facts) {
		f.Relationships = append(f.Relationships, Relationship{Seller: sellerName, Kind: RelationshipPurchase, At: at, PolicyExpiresAt: expires})
	}
}

// An entry added with an expiry matches until the instant it expires and not
// from then on; a permanent entry always matches.
func TestDecideExpiringListEntry(t *testing.T) {
	now := MustTime(t, "America/New_York", "2026-03-04 14:00")
	runDecideCases(t, []decideCase{
		{name: "expires later", now: now, facts: mkFacts(expiring("internal", now.Add(time.Second))), reasons: "on_list:internal"},
		{name: "expires at this instant", now: now, facts: mkFacts(expiring("internal", now)), allow: true},
		{name: "expired a day ago", now: now, facts: mkFacts(expiring("internal", now.Add(-day24))), allow: true},
		{name: "expired on one list, listed on another", now: now,
			facts: mkFacts(expiring("internal", now.Add(-day24)), present("national")), reasons: "on_list:national"},
		{name: "permanent", now: now, facts: mkFacts(present("internal")), reasons: "on_list:internal"},
		{name: "an unread list stays unknown whatever the expiry", now: now,
			facts: mkFacts(unread("internal"), func(f *Facts) {
				f.Lists = append(f.Lists, ListFact{List: "internal", State: ListUnknown, ExpiresAt: now.Add(-day24)})
			}), reasons: "unavailable:internal"},
	})
	// The deny says until when.
	d := Decide(MustShipped(t), Request{Number: nyNumber, Channel: ChannelCall, Purpose: "insurance", Seller: seller},
		mkFacts(expiring("internal", time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC))), now)
	if len(d.Reasons) != 1 || !strings.Contains(d.Reasons[0].Detail, "until 2026-09-01T00:00:00Z") {
		t.Fatalf("detail of an expiring entry: got %+v, want it to name the expiry", d.Reasons)
	}
}

func TestListFactStateAt(t *testing.T) {
	at := time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		f    ListFact
		now  time.Time
		want ListState
	}{
		{ListFact{State: ListPresent}, at, ListPresent},
		{ListFact{State: ListPresent, ExpiresAt: at}, at.Add(-time.Nanosecond), ListPresent},
		{ListFact{State: ListPresent, ExpiresAt: at}, at, ListAbsent},
		{ListFact{State: ListAbsent, ExpiresAt: at}, at.Add(-time.Hour), ListAbsent},
		{ListFact{State: ListUnknown, ExpiresAt: at}, at.Add(time.Hour), ListUnknown},
	} {
		if got := tc.f.StateAt(tc.now); got != tc.want {
			t.Errorf("%+v.StateAt(%v) = %v, want %v", tc.f, tc.now, got, tc.want)
		}
	}
}

// FCC reassigned numbers: a consent granted before the number's last
// disconnect was given by an earlier holder and no longer counts, where
// consent is required (SMS) and where it would exempt a list.
func TestDecideReassigned(t *testing.T) {
	now := MustTime(t, "America/New_York", "2026-03-04 14:00")
	jan := now.AddDate(0, -2, 0)
	feb := now.AddDate(0, -1, 0)
	sms := func(granted time.Time) factsOpt {
		return withConsent(consentOf("insurance", ChannelSMS, granted, time.Time{}))
	}
	call := withConsent(consentOf("insurance", ChannelCall, jan, time.Time{}))
	runDecideCases(t, []decideCase{
		{name: "consent before the disconnect", channel: ChannelSMS, now: now, facts: mkFacts(sms(jan), disconnected(feb)),
			reasons: "consent_reassigned"},
		{name: "consent after the disconnect", channel: ChannelSMS, now: now, facts: mkFacts(sms(feb.Add(time.Hour)), disconnected(feb)),
			allow: true, reasons: "consent"},
		{name: "consent at the instant of the disconnect counts", channel: ChannelSMS, now: now, facts: mkFacts(sms(feb), disconnected(feb)),
			allow: true, reasons: "consent"},
		{name: "a new consent beats the old one", channel: ChannelSMS, now: now,
			facts: mkFacts(sms(jan), disconnected(feb), withConsent(consentOf("insurance", ChannelSMS, feb.Add(day24), time.Time{}))),
			allow: true, reasons: "consent"},
		{name: "a disconnect dated in the future does not count yet", channel: ChannelSMS, now: now,
			facts: mkFacts(sms(jan), disconnected(now.Add(time.Hour))), allow: true, reasons: "consent"},
		{name: "reassigned beats revoked", channel: ChannelSMS, now: now,
			facts: mkFacts(sms(jan), withRevocation("", "", "", jan.Add(day24)), disconnected(feb)), reasons: "consent_reassigned"},
		{name: "no consent at all is still no_consent", channel: ChannelSMS, now: now, facts: mkFacts(disconnected(feb)),
			reasons: "no_consent"},
		{name: "consent would exempt national", now: now, facts: mkFacts(present("national"), call, disconnected(feb)),
			reasons: "consent_reassigned:national on_list:national"},
		{name: "consent exempts national when given after", now: now,
			facts: mkFacts(present("national"), call, disconnected(jan.Add(-day24))), allow: true, reasons: "consent:national"},
		{name: "calls need no consent: a disconnect alone changes nothing", now: now, facts: mkFacts(call, disconnected(feb)), allow: true},
		{name: "sms: list and consent both", channel: ChannelSMS, now: now, facts: mkFacts(present("national"), sms(jan), disconnected(feb)),
			reasons: "consent_reassigned:national on_list:national consent_reassigned"},
	})
}

// A relationship (purchase, inquiry) recorded before the number's last
// disconnect was an earlier holder's: it no longer exempts lists (a false
// allow otherwise), and the deny says why. One recorded after it does.
func TestDecideReassignedRelationship(t *testing.T) {
	now := MustTime(t, "America/New_York", "2026-03-04 14:00")
	jan := now.AddDate(0, -2, 0)
	feb := now.AddDate(0, -1, 0)
	purchase := func(at time.Time) factsOpt { return withRelationship(seller, RelationshipPurchase, at) }
	inquiry := func(at time.Time) factsOpt { return withRelationship(seller, RelationshipInquiry, at) }
	runDecideCases(t, []decideCase{
		{name: "purchase before the disconnect", now: now, facts: mkFacts(present("national"), purchase(jan), disconnected(feb)),
			reasons: "on_list:national"},
		{name: "inquiry before the disconnect", now: now, facts: mkFacts(present("state"), inquiry(feb.Add(-time.Hour)), disconnected(feb)),
			reasons: "on_list:state"},
		{name: "purchase after the disconnect", now: now, facts: mkFacts(present("national"), purchase(feb.Add(time.Hour)), disconnected(feb)),
			allow: true, reasons: "relationship_exemption:national"},
		{name: "purchase at the instant of the disconnect counts", now: now, facts: mkFacts(present("national"), purchase(feb), disconnected(feb)),
			allow: true, reasons: "relationship_exemption:national"},
		{name: "an old purchase and a new inquiry: the new one exempts", now: now,
			facts: mkFacts(present("national"), purchase(jan), inquiry(feb.Add(day24)), disconnected(feb)),
			allow: true, reasons: "relationship_exemption:national"},
		{name: "a disconnect dated in the future does not count yet", now: now,
			facts: mkFacts(present("national"), purchase(jan), disconnected(now.Add(time.Hour))), allow: true, reasons: "relationship_exemption:national"},
		{name: "no disconnect: the exemption holds", now: now, facts: mkFacts(present("national"), purchase(jan)),
			allow: true, reasons: "relationship_exemption:national"},
		{name: "both lists", now: now, facts: mkFacts(present("national", "state"), inquiry(jan), disconnected(feb)),
			reasons: "on_list:national on_list:state"},
	})
	d := Decide(MustShipped(t), Request{Number: nyNumber, Channel: ChannelCall, Purpose: "insurance", Seller: seller},
		mkFacts(present("national"), purchase(jan), disconnected(feb)), now)
	want := "the purchase on " + day(jan) + " would exempt it, but the number was disconnected on " + day(feb) + " (reassigned)"
	if len(d.Reasons) != 1 || !strings.Contains(d.Reasons[0].Detail, want) {
		t.Fatalf("detail: got %+v, want it to contain %q", d.Reasons, want)
	}
}

// renewalDoc states China's P&C rule: renewal solicitations no earlier than
// 40 days before the policy expires.
const renewalDoc = `
version: test-renewal
lists: {internal: Company DNC}
defaults:
  lists: [internal]
purposes:
  insurance: {call: {}}
  insurance_renewal:
    call: {renewal_window_days: 40}
    sms: {renewal_window_days: 40, regions: {US: {renewal_window_days: 0}}}
`

func TestDecideRenewalWindow(t *testing.T) {
	rs := MustRules(t, renewalDoc)
	now := MustTime(t, "America/New_York", "2026-03-04 14:00")
	bought := now.AddDate(-1, 0, 0)
	in := func(d time.Duration) time.Time { return now.Add(d) }
	runDecideCases(t, []decideCase{
		{name: "39 days before expiry", rules: rs, purpose: "insurance_renewal", now: now,
			facts: mkFacts(withPolicy(seller, bought, in(39*day24))), allow: true},
		{name: "exactly 40 days before", rules: rs, purpose: "insurance_renewal", now: now,
			facts: mkFacts(withPolicy(seller, bought, in(40*day24))), allow: true},
		{name: "40 days and a second before", rules: rs, purpose: "insurance_renewal", now: now,
			facts: mkFacts(withPolicy(seller, bought, in(40*day24+time.Second))), reasons: "outside_renewal_window"},
		{name: "90 days before", rules: rs, purpose: "insurance_renewal", now: now,
			facts: mkFacts(withPolicy(seller, bought, in(90*day24))), reasons: "outside_renewal_window"},
		{name: "expired", rules: rs, purpose: "insurance_renewal", now: now,
			facts: mkFacts(withPolicy(seller, bought, now)), reasons: "outside_renewal_window"},
		{name: "no policy on record", rules: rs, purpose: "insurance_renewal", now: now,
			facts: mkFacts(withRelationship(seller, RelationshipPurchase, bought)), reasons: "outside_renewal_window"},
		{name: "another seller's policy", rules: rs, purpose: "insurance_renewal", now: now,
			facts: mkFacts(withPolicy("globex", bought, in(10*day24))), reasons: "outside_renewal_window"},
		{name: "one of two policies in its window", rules: rs, purpose: "insurance_renewal", now: now,
			facts: mkFacts(withPolicy(seller, bought, in(200*day24)), withPolicy(seller, bought, in(5*day24))), allow: true},
		{name: "the company list still wins", rules: rs, purpose: "insurance_renewal", now: now,
			facts: mkFacts(present("internal"), withPolicy(seller, bought, in(5*day24))), reasons: "on_list:internal"},
		{name: "purposes without the window are not touched", rules: rs, now: now, facts: mkFacts(), allow: true},
		{name: "a region override turns it off", rules: rs, purpose: "insurance_renewal", channel: ChannelSMS, now: now,
			facts: mkFacts(), allow: true},
		{name: "missing facts: not claimed", rules: rs, purpose: "insurance_renewal", now: now,
			facts: mkFacts(withUnavailable("store: unavailable")), reasons: "unavailable"},
		{name: "an earlier holder's policy (before the disconnect)", rules: rs, purpose: "insurance_renewal", now: now,
			facts: mkFacts(withPolicy(seller, bought, in(5*day24)), disconnected(bought.Add(day24))), reasons: "outside_renewal_window"},
		{name: "a policy bought after the disconnect", rules: rs, purpose: "insurance_renewal", now: now,
			facts: mkFacts(withPolicy(seller, bought, in(5*day24)), disconnected(bought.Add(-day24))), allow: true},
	})
	d := Decide(rs, Request{Number: nyNumber, Channel: ChannelCall, Purpose: "insurance_renewal", Seller: seller},
		mkFacts(withPolicy(seller, bought, time.Date(2026, 6, 30, 0, 0, 0, 0, time.UTC))), now)
	if len(d.Reasons) != 1 || !strings.Contains(d.Reasons[0].Detail, "from 2026-05-21") {
		t.Fatalf("detail: got %+v, want it to say when the window opens", d.Reasons)
	}
}

func TestParseRenewalWindow(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{`renewal_window_days: -1`, "out of range"},
		{`renewal_window_days: forty`, "whole number"},
		{`renewal_window_days: 99999`, "out of range"},
	} {
		doc := "version: t\nlists: {internal: x}\npurposes:\n  renewal:\n    call: {" + tc.doc + "}\n"
		_, err := ParseRules([]byte(doc))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error with %q", tc.doc, err, tc.want)
		}
	}
	rs := MustRules(t, renewalDoc)
	p, err := rs.Resolve("insurance_renewal", ChannelCall, nyNumber)
	if err != nil || p.RenewalWindowDays != 40 {
		t.Fatalf("Resolve: got %+v, %v, want RenewalWindowDays 40", p, err)
	}
}

// outcomesDoc states the Shenzhen car-insurance rule (at most 3 unanswered
// or refused calls a day) and a 30-day block after a refusal.
const outcomesDoc = `
version: test-outcomes
lists: {internal: Company DNC}
defaults: {lists: [internal]}
purposes:
  insurance:
    call:
      unanswered_per_day: 3
      refusal_block_days: 30
    sms: {}
  housing: {call: {}}
`

func withOutcome(sellerName, purpose string, ch Channel, k OutcomeKind, at time.Time) factsOpt {
	return func(f *Facts) {
		f.Outcomes = append(f.Outcomes, CallOutcome{Seller: sellerName, Purpose: purpose, Channel: ch, Kind: k, At: at})
	}
}

func TestDecideOutcomes(t *testing.T) {
	rs := MustRules(t, outcomesDoc)
	sh := func(s string) time.Time { return MustTime(t, "Asia/Shanghai", s) }
	now := sh("2026-03-04 15:00")
	call := func(k OutcomeKind, at time.Time) factsOpt {
		return withOutcome(seller, "insurance", ChannelCall, k, at)
	}
	runDecideCases(t, []decideCase{
		{name: "two unanswered today", rules: rs, number: &cnNumber, now: now,
			facts: mkFacts(call(OutcomeNoAnswer, sh("2026-03-04 09:10")), call(OutcomeBusy, sh("2026-03-04 10:00"))), allow: true},
		{name: "three unanswered today", rules: rs, number: &cnNumber, now: now,
			facts:   mkFacts(call(OutcomeNoAnswer, sh("2026-03-04 09:10")), call(OutcomeBusy, sh("2026-03-04 10:00")), call(OutcomeNoAnswer, sh("2026-03-04 11:00"))),
			reasons: "unanswered_limit"},
		{name: "answered calls do not count", rules: rs, number: &cnNumber, now: now,
			facts: mkFacts(call(OutcomeNoAnswer, sh("2026-03-04 09:10")), call(OutcomeAnswered, sh("2026-03-04 10:00")), call(OutcomeNoAnswer, sh("2026-03-04 11:00"))),
			allow: true},
		{name: "yesterday's do not count (local day, not 24h)", rules: rs, number: &cnNumber, now: sh("2026-03-05 09:00"),
			facts: mkFacts(call(OutcomeNoAnswer, sh("2026-03-04 20:00")), call(OutcomeBusy, sh("2026-03-04 21:00")), call(OutcomeNoAnswer, sh("2026-03-04 23:59"))),
			allow: true},
		{name: "another purpose's do not count", rules: rs, number: &cnNumber, now: now,
			facts: mkFacts(withOutcome(seller, "housing", ChannelCall, OutcomeNoAnswer, sh("2026-03-04 09:00")),
				withOutcome(seller, "housing", ChannelCall, OutcomeNoAnswer, sh("2026-03-04 09:30")),
				withOutcome(seller, "housing", ChannelCall, OutcomeNoAnswer, sh("2026-03-04 10:00"))),
			allow: true},
		{name: "another seller's do not count", rules: rs, number: &cnNumber, now: now,
			facts: mkFacts(withOutcome("globex", "insurance", ChannelCall, OutcomeRefused, sh("2026-03-04 09:00"))), allow: true},
		{name: "a refusal blocks the seller", rules: rs, number: &cnNumber, now: now,
			facts: mkFacts(call(OutcomeRefused, sh("2026-02-10 10:00"))), reasons: "refusal_block"},
		{name: "a refusal in another purpose blocks too", rules: rs, number: &cnNumber, now: now,
			facts: mkFacts(withOutcome(seller, "housing", ChannelCall, OutcomeRefused, sh("2026-02-10 10:00"))), reasons: "refusal_block"},
		{name: "a refusal 30 days ago no longer blocks", rules: rs, number: &cnNumber, now: now,
			facts: mkFacts(call(OutcomeRefused, now.Add(-30*day24))), allow: true},
		{name: "three refusals today: both reasons", rules: rs, number: &cnNumber, now: now,
			facts:   mkFacts(call(OutcomeRefused, sh("2026-03-04 09:00")), call(OutcomeRefused, sh("2026-03-04 10:00")), call(OutcomeRefused, sh("2026-03-04 11:00"))),
			reasons: "refusal_block unanswered_limit"},
		{name: "outcomes dated in the future do not count", rules: rs, number: &cnNumber, now: now,
			facts: mkFacts(call(OutcomeRefused, now.Add(time.Minute))), allow: true},
		{name: "a purpose without the rules", rules: rs, number: &cnNumber, purpose: "housing", now: now,
			facts: mkFacts(call(OutcomeRefused, sh("2026-03-04 09:00"))), allow: true},
	})
	p, _ := rs.Resolve("insurance", ChannelCall, cnNumber)
	if got := p.OutcomeWindow(); got != 30*day24 {
		t.Errorf("OutcomeWindow = %v, want 30 days", got)
	}
	if got := rs.OutcomeWindow(); got != 30*day24 {
		t.Errorf("RuleSet.OutcomeWindow = %v, want 30 days", got)
	}
	if got := MustShipped(t).OutcomeWindow(); got != 0 {
		t.Errorf("shipped rules' OutcomeWindow = %v, want 0 (no outcome rules)", got)
	}
	if p, _ := rs.Resolve("housing", ChannelCall, cnNumber); p.OutcomeWindow() != 0 {
		t.Errorf("OutcomeWindow of a purpose without outcome rules = %v, want 0", p.OutcomeWindow())
	}
}

func TestParseOutcomeKind(t *testing.T) {
	for _, s := range []string{"answered", "no_answer", "busy", "refused", "opted_out"} {
		if k, err := ParseOutcomeKind(s); err != nil || string(k) != s {
			t.Errorf("ParseOutcomeKind(%q) = %q, %v", s, k, err)
		}
	}
	if _, err := ParseOutcomeKind("hung_up"); ErrorCode(err) != "invalid_outcome" {
		t.Errorf("ParseOutcomeKind(hung_up): %v, want invalid_outcome", err)
	}
}
