package filter

import (
	"strings"
	"testing"
	"time"

	"callfilter/phone"
)

// weekdaysDoc restricts days and has holidays of every kind: a fixed date, an
// annual date, and holidays added by region overrides. Its insurance purpose
// configures calls only.
const weekdaysDoc = `
version: test-weekdays
lists: {national: National DNC, internal: Company DNC}
defaults:
  lists: [national, internal]
  hours: {start: "08:00", end: "21:00"}
  days: [mon, tue, wed, thu, fri]
  holidays: ["2026-12-25", "12-24"]
  regions:
    US-FL: {holidays: ["2026-03-04"]}
    CN: {holidays: ["10-01"], hours: {start: "09:00", end: "20:00"}}
purposes:
  insurance:
    call: {}
`

// capsDoc has two caps, a short one and a week-long one.
const capsDoc = `
version: test-caps
lists: {national: National DNC}
defaults:
  lists: [national]
  hours: {start: "08:00", end: "21:00"}
  caps:
    - {max: 3, window: 12h}
    - {max: 5, window: 7d}
purposes:
  insurance: {call: {}}
`

// Hours that begin inside the 2026-03-08 spring-forward gap (02:00 EST jumps
// to 03:00 EDT) and windows around the 2026-11-01 fall-back overlap.
const (
	gapDoc = `
version: test-gap
lists: {national: n}
defaults: {lists: [national], hours: {start: "02:30", end: "05:00"}}
purposes: {insurance: {call: {}}}
`
	overlapEndDoc = `
version: test-overlap-end
lists: {national: n}
defaults: {lists: [national], hours: {start: "01:00", end: "01:30"}}
purposes: {insurance: {call: {}}}
`
	overlapStartDoc = `
version: test-overlap-start
lists: {national: n}
defaults: {lists: [national], hours: {start: "01:30", end: "03:00"}}
purposes: {insurance: {call: {}}}
`
	shortHoursDoc = `
version: test-short
lists: {national: n}
defaults: {lists: [national], hours: {start: "08:00", end: "10:00"}}
purposes: {insurance: {call: {}}}
`
)

type decideCase struct {
	name    string
	rules   *RuleSet      // nil: the shipped rules
	purpose string        // "": insurance
	channel Channel       // "": call
	number  *phone.Number // nil: a New York number
	now     time.Time
	facts   Facts
	allow   bool
	reasons string    // reasonsString of the decision's reasons
	next    time.Time // expected NextAllowedAt; zero means none
}

func runDecideCases(t *testing.T, cases []decideCase) {
	t.Helper()
	shipped := MustShipped(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rs := tc.rules
			if rs == nil {
				rs = shipped
			}
			req := Request{Number: nyNumber, Channel: ChannelCall, Purpose: "insurance", Seller: seller}
			if tc.purpose != "" {
				req.Purpose = tc.purpose
			}
			if tc.channel != "" {
				req.Channel = tc.channel
			}
			if tc.number != nil {
				req.Number = *tc.number
			}
			got := Decide(rs, req, tc.facts, tc.now)
			wantOutcome := Deny
			if tc.allow {
				wantOutcome = Allow
			}
			if got.Outcome != wantOutcome {
				t.Errorf("Outcome = %s, want %s (reasons %+v)", got.Outcome, wantOutcome, got.Reasons)
			}
			if s := reasonsString(got.Reasons); s != tc.reasons {
				t.Errorf("reasons = %q, want %q\n%+v", s, tc.reasons, got.Reasons)
			}
			if !got.NextAllowedAt.Equal(tc.next) {
				t.Errorf("NextAllowedAt = %v, want %v", got.NextAllowedAt.UTC(), tc.next.UTC())
			}
			for _, r := range got.Reasons {
				if r.Detail == "" {
					t.Errorf("reason %s has no detail", r.Code)
				}
			}
		})
	}
}

func TestDecideLists(t *testing.T) {
	now := MustTime(t, "America/New_York", "2026-03-04 14:00") // a Wednesday
	runDecideCases(t, []decideCase{
		{name: "clean", now: now, facts: mkFacts(), allow: true},
		{name: "national", now: now, facts: mkFacts(present("national")), reasons: "on_list:national"},
		{name: "state", now: now, facts: mkFacts(present("state")), reasons: "on_list:state"},
		{name: "litigator", now: now, facts: mkFacts(present("litigator")), reasons: "on_list:litigator"},
		{name: "internal", now: now, facts: mkFacts(present("internal")), reasons: "on_list:internal"},
		{name: "every list, in rule order", now: now, facts: mkFacts(present("internal", "litigator", "state", "national")),
			reasons: "on_list:national on_list:state on_list:litigator on_list:internal"},
		{name: "housing too", purpose: "housing", now: now, facts: mkFacts(present("state")), reasons: "on_list:state"},
		{name: "a list nobody asked about is ignored", now: now, facts: mkFacts(present("other")), allow: true},
	})
}

func TestDecideRelationship(t *testing.T) {
	now := MustTime(t, "America/New_York", "2026-03-04 14:00")
	ago := func(days int) time.Time { return now.Add(-time.Duration(days) * day24) }
	purchase := func(days int) factsOpt { return withRelationship(seller, RelationshipPurchase, ago(days)) }
	inquiry := func(days int) factsOpt { return withRelationship(seller, RelationshipInquiry, ago(days)) }
	runDecideCases(t, []decideCase{
		{name: "purchase 539 days ago", now: now, facts: mkFacts(present("national"), purchase(539)),
			allow: true, reasons: "relationship_exemption:national"},
		{name: "purchase 540 days ago", now: now, facts: mkFacts(present("national"), purchase(540)),
			allow: true, reasons: "relationship_exemption:national"},
		{name: "purchase 540 days and a second ago", now: now.Add(time.Second), facts: mkFacts(present("national"), purchase(540)),
			reasons: "on_list:national"},
		{name: "purchase 541 days ago", now: now, facts: mkFacts(present("national"), purchase(541)), reasons: "on_list:national"},
		{name: "inquiry 89 days ago", now: now, facts: mkFacts(present("state"), inquiry(89)),
			allow: true, reasons: "relationship_exemption:state"},
		{name: "inquiry 90 days ago", now: now, facts: mkFacts(present("state"), inquiry(90)),
			allow: true, reasons: "relationship_exemption:state"},
		{name: "inquiry 91 days ago", now: now, facts: mkFacts(present("state"), inquiry(91)), reasons: "on_list:state"},
		{name: "old inquiry, recent purchase", now: now, facts: mkFacts(present("national"), inquiry(200), purchase(300)),
			allow: true, reasons: "relationship_exemption:national"},
		{name: "both lists exempted", now: now, facts: mkFacts(present("national", "state"), inquiry(10)),
			allow: true, reasons: "relationship_exemption:national relationship_exemption:state"},
		{name: "another seller's customer", now: now,
			facts: mkFacts(present("national"), withRelationship("globex", RelationshipPurchase, ago(10))), reasons: "on_list:national"},
		{name: "a relationship dated in the future", now: now,
			facts: mkFacts(present("national"), withRelationship(seller, RelationshipPurchase, now.Add(time.Hour))), reasons: "on_list:national"},
		{name: "an unknown kind of relationship", now: now,
			facts: mkFacts(present("national"), withRelationship(seller, "referral", ago(1))), reasons: "on_list:national"},
		{name: "never exempts litigator", now: now, facts: mkFacts(present("litigator"), purchase(1)), reasons: "on_list:litigator"},
		{name: "never exempts internal", now: now, facts: mkFacts(present("internal"), purchase(1), inquiry(1)), reasons: "on_list:internal"},
		{name: "company list beats relationship", now: now, facts: mkFacts(present("national", "internal"), purchase(1)),
			reasons: "relationship_exemption:national on_list:internal"},
		{name: "housing uses the same windows", purpose: "housing", now: now, facts: mkFacts(present("national"), purchase(540)),
			allow: true, reasons: "relationship_exemption:national"},
	})
}

func TestDecideConsentExemption(t *testing.T) {
	now := MustTime(t, "America/New_York", "2026-03-04 14:00")
	jan := now.AddDate(0, -2, 0)
	callConsent := withConsent(consentOf("insurance", ChannelCall, jan, time.Time{}))
	runDecideCases(t, []decideCase{
		{name: "call consent exempts national", now: now, facts: mkFacts(present("national"), callConsent),
			allow: true, reasons: "consent:national"},
		{name: "and state", now: now, facts: mkFacts(present("national", "state"), callConsent),
			allow: true, reasons: "consent:national consent:state"},
		{name: "sms consent does not exempt a call", now: now,
			facts: mkFacts(present("national"), withConsent(consentOf("insurance", ChannelSMS, jan, time.Time{}))), reasons: "on_list:national"},
		{name: "housing consent does not exempt insurance", now: now,
			facts: mkFacts(present("national"), withConsent(consentOf("housing", ChannelCall, jan, time.Time{}))), reasons: "on_list:national"},
		{name: "another seller's consent", now: now,
			facts:   mkFacts(present("national"), withConsent(Consent{Seller: "globex", Purpose: "insurance", Channel: ChannelCall, GrantedAt: jan})),
			reasons: "on_list:national"},
		{name: "revoked consent", now: now,
			facts: mkFacts(present("national"), callConsent, withRevocation("", "", "", now.Add(-time.Hour))), reasons: "on_list:national"},
		{name: "never exempts internal", now: now, facts: mkFacts(present("internal"), callConsent), reasons: "on_list:internal"},
		{name: "never exempts litigator", now: now, facts: mkFacts(present("litigator"), callConsent), reasons: "on_list:litigator"},
		{name: "relationship is cited first", now: now,
			facts: mkFacts(present("national"), callConsent, withRelationship(seller, RelationshipInquiry, now.Add(-day24))),
			allow: true, reasons: "relationship_exemption:national"},
		{name: "calls need no consent", now: now, facts: mkFacts(), allow: true},
	})
}

func TestDecideSMSConsent(t *testing.T) {
	now := MustTime(t, "America/New_York", "2026-03-04 14:00")
	dec := now.AddDate(0, -3, 0)
	jan := now.AddDate(0, -2, 0)
	feb := now.AddDate(0, -1, 0)
	sms := func(granted, expires time.Time) factsOpt {
		return withConsent(consentOf("insurance", ChannelSMS, granted, expires))
	}
	runDecideCases(t, []decideCase{
		{name: "none", channel: ChannelSMS, now: now, facts: mkFacts(), reasons: "no_consent"},
		{name: "granted", channel: ChannelSMS, now: now, facts: mkFacts(sms(jan, time.Time{})), allow: true, reasons: "consent"},
		{name: "granted just now", channel: ChannelSMS, now: now, facts: mkFacts(sms(now, time.Time{})), allow: true, reasons: "consent"},
		{name: "granted for calls only", channel: ChannelSMS, now: now,
			facts: mkFacts(withConsent(consentOf("insurance", ChannelCall, jan, time.Time{}))), reasons: "no_consent"},
		{name: "granted for housing only", channel: ChannelSMS, now: now,
			facts: mkFacts(withConsent(consentOf("housing", ChannelSMS, jan, time.Time{}))), reasons: "no_consent"},
		{name: "housing needs its own", purpose: "housing", channel: ChannelSMS, now: now,
			facts: mkFacts(withConsent(consentOf("housing", ChannelSMS, jan, time.Time{}))), allow: true, reasons: "consent"},
		{name: "revoked by the seller's STOP", channel: ChannelSMS, now: now,
			facts: mkFacts(sms(jan, time.Time{}), withRevocation(seller, "insurance", ChannelSMS, feb)), reasons: "consent_revoked"},
		{name: "revoked number-wide", channel: ChannelSMS, now: now,
			facts: mkFacts(sms(jan, time.Time{}), withRevocation("", "", "", feb)), reasons: "consent_revoked"},
		{name: "revoked for every purpose of the seller", channel: ChannelSMS, now: now,
			facts: mkFacts(sms(jan, time.Time{}), withRevocation(seller, "", "", feb)), reasons: "consent_revoked"},
		{name: "revoked the instant it was granted", channel: ChannelSMS, now: now,
			facts: mkFacts(sms(jan, time.Time{}), withRevocation("", "", "", jan)), reasons: "consent_revoked"},
		{name: "revoked at this instant", channel: ChannelSMS, now: now,
			facts: mkFacts(sms(jan, time.Time{}), withRevocation("", "", "", now)), reasons: "consent_revoked"},
		{name: "another seller's revocation", channel: ChannelSMS, now: now,
			facts: mkFacts(sms(jan, time.Time{}), withRevocation("globex", "", "", feb)), allow: true, reasons: "consent"},
		{name: "revocation of calls only", channel: ChannelSMS, now: now,
			facts: mkFacts(sms(jan, time.Time{}), withRevocation(seller, "insurance", ChannelCall, feb)), allow: true, reasons: "consent"},
		{name: "revocation of another purpose", channel: ChannelSMS, now: now,
			facts: mkFacts(sms(jan, time.Time{}), withRevocation("", "housing", "", feb)), allow: true, reasons: "consent"},
		{name: "revocation dated in the future", channel: ChannelSMS, now: now,
			facts: mkFacts(sms(jan, time.Time{}), withRevocation("", "", "", now.Add(time.Minute))), allow: true, reasons: "consent"},
		{name: "granted after a revocation", channel: ChannelSMS, now: now,
			facts: mkFacts(sms(feb, time.Time{}), withRevocation("", "", "", jan)), allow: true, reasons: "consent"},
		{name: "revoked then granted again", channel: ChannelSMS, now: now,
			facts: mkFacts(sms(jan, time.Time{}), withRevocation("", "", "", jan.Add(day24)), sms(feb, time.Time{})), allow: true, reasons: "consent"},
		{name: "expired", channel: ChannelSMS, now: now, facts: mkFacts(sms(jan, feb)), reasons: "consent_expired"},
		{name: "expires at this instant", channel: ChannelSMS, now: now, facts: mkFacts(sms(jan, now)), reasons: "consent_expired"},
		{name: "expires later", channel: ChannelSMS, now: now, facts: mkFacts(sms(jan, now.Add(time.Second))), allow: true, reasons: "consent"},
		{name: "revoked beats expired", channel: ChannelSMS, now: now,
			facts:   mkFacts(sms(dec, time.Time{}), withRevocation(seller, "insurance", ChannelSMS, jan.Add(-day24)), sms(jan, feb)),
			reasons: "consent_revoked"},
		{name: "granted in the future", channel: ChannelSMS, now: now, facts: mkFacts(sms(now.Add(time.Hour), time.Time{})), reasons: "no_consent"},
		{name: "consent also exempts lists", channel: ChannelSMS, now: now, facts: mkFacts(present("national"), sms(jan, time.Time{})),
			allow: true, reasons: "consent:national consent"},
		{name: "but not internal", channel: ChannelSMS, now: now, facts: mkFacts(present("internal"), sms(jan, time.Time{})),
			reasons: "on_list:internal consent"},
		{name: "a list and no consent", channel: ChannelSMS, now: now, facts: mkFacts(present("national")),
			reasons: "on_list:national no_consent"},
		{name: "a relationship is no consent", channel: ChannelSMS, now: now,
			facts:   mkFacts(present("national"), withRelationship(seller, RelationshipPurchase, jan)),
			reasons: "relationship_exemption:national no_consent"},
		{name: "no_consent is not claimed when facts are missing", channel: ChannelSMS, now: now,
			facts: mkFacts(withUnavailable("consents: store timeout")), reasons: "unavailable"},
	})
}

func TestDecideHours(t *testing.T) {
	ny := func(s string) time.Time { return MustTime(t, "America/New_York", s) }
	sh := func(s string) time.Time { return MustTime(t, "Asia/Shanghai", s) }
	ct := func(s string) time.Time { return MustTime(t, "America/Chicago", s) }
	wr := MustRules(t, weekdaysDoc)
	runDecideCases(t, []decideCase{
		{name: "NY 07:59", now: ny("2026-03-04 07:59"), facts: mkFacts(), reasons: "outside_hours", next: ny("2026-03-04 08:00")},
		{name: "NY 08:00", now: ny("2026-03-04 08:00"), facts: mkFacts(), allow: true},
		{name: "NY 20:59", now: ny("2026-03-04 20:59"), facts: mkFacts(), allow: true},
		{name: "NY 21:00", now: ny("2026-03-04 21:00"), facts: mkFacts(), reasons: "outside_hours", next: ny("2026-03-05 08:00")},
		{name: "NY 20:00", now: ny("2026-03-04 20:00"), facts: mkFacts(), allow: true},
		{name: "FL 20:00", number: &flNumber, now: ny("2026-03-04 20:00"), facts: mkFacts(), reasons: "outside_hours", next: ny("2026-03-05 08:00")},
		{name: "FL 19:59", number: &flNumber, now: ny("2026-03-04 19:59"), facts: mkFacts(), allow: true},
		{name: "FL sms 20:00", number: &flNumber, channel: ChannelSMS, now: ny("2026-03-04 20:00"),
			facts:   mkFacts(withConsent(consentOf("insurance", ChannelSMS, ny("2026-01-01 00:00"), time.Time{}))),
			reasons: "consent outside_hours", next: ny("2026-03-05 08:00")},
		{name: "OK 20:00 Central", number: &okNumber, now: ct("2026-03-04 20:00"), facts: mkFacts(), reasons: "outside_hours", next: ct("2026-03-05 08:00")},
		{name: "OK 07:30 Central is 08:30 Eastern", number: &okNumber, now: ct("2026-03-04 07:30"), facts: mkFacts(),
			reasons: "outside_hours", next: ct("2026-03-04 08:00")},
		{name: "CN insurance 08:30", number: &cnNumber, now: sh("2026-03-04 08:30"), facts: mkFacts(), reasons: "outside_hours", next: sh("2026-03-04 09:00")},
		{name: "CN housing 08:30", purpose: "housing", number: &cnNumber, now: sh("2026-03-04 08:30"), facts: mkFacts(),
			reasons: "outside_hours", next: sh("2026-03-04 09:00")},
		{name: "CN 09:00", number: &cnNumber, now: sh("2026-03-04 09:00"), facts: mkFacts(), allow: true},
		{name: "CN 20:00", number: &cnNumber, now: sh("2026-03-04 20:00"), facts: mkFacts(), reasons: "outside_hours", next: sh("2026-03-05 09:00")},
		{name: "two zones, 08:30 Eastern is 07:30 Central", number: &nyChicagoNumber, now: ny("2026-03-04 08:30"), facts: mkFacts(),
			reasons: "outside_hours", next: ny("2026-03-04 09:00")},
		{name: "two zones, 09:00 Eastern", number: &nyChicagoNumber, now: ny("2026-03-04 09:00"), facts: mkFacts(), allow: true},
		{name: "two zones, 20:30 Eastern", number: &nyChicagoNumber, now: ny("2026-03-04 20:30"), facts: mkFacts(), allow: true},
		{name: "two zones, 21:30 Eastern is 20:30 Central", number: &nyChicagoNumber, now: ny("2026-03-04 21:30"), facts: mkFacts(),
			reasons: "outside_hours", next: ny("2026-03-05 09:00")},
		{name: "zones whose windows never meet", rules: MustRules(t, shortHoursDoc),
			number: &phone.Number{E164: "+10000000000", Region: "US", TimeZones: []string{"America/New_York", "Asia/Tokyo"}},
			now:    ny("2026-03-04 09:00"), facts: mkFacts(), reasons: "outside_hours"},
		{name: "a weekday", rules: wr, now: ny("2026-03-06 10:00"), facts: mkFacts(), allow: true},
		{name: "Saturday", rules: wr, now: ny("2026-03-07 10:00"), facts: mkFacts(),
			reasons: "day_not_allowed", next: ny("2026-03-09 08:00")}, // a Monday, after the switch to EDT
		{name: "Sunday night", rules: wr, now: ny("2026-03-08 22:00"), facts: mkFacts(),
			reasons: "outside_hours day_not_allowed", next: ny("2026-03-09 08:00")},
		{name: "a dated holiday", rules: wr, now: ny("2026-12-25 10:00"), facts: mkFacts(),
			reasons: "holiday", next: ny("2026-12-28 08:00")},
		{name: "an annual holiday", rules: wr, now: ny("2027-12-24 10:00"), facts: mkFacts(),
			reasons: "holiday", next: ny("2027-12-27 08:00")},
		{name: "a holiday before hours", rules: wr, now: ny("2026-12-24 07:00"), facts: mkFacts(),
			reasons: "outside_hours holiday", next: ny("2026-12-28 08:00")},
		{name: "the year of a dated holiday matters", rules: wr, now: ny("2025-12-25 10:00"), facts: mkFacts(), allow: true},
		{name: "a Florida holiday in Florida", rules: wr, number: &flNumber, now: ny("2026-03-04 14:00"), facts: mkFacts(),
			reasons: "holiday", next: ny("2026-03-05 08:00")},
		{name: "a Florida holiday in New York", rules: wr, now: ny("2026-03-04 14:00"), facts: mkFacts(), allow: true},
		{name: "a Florida number keeps the base holidays", rules: wr, number: &flNumber, now: ny("2026-12-25 10:00"), facts: mkFacts(),
			reasons: "holiday", next: ny("2026-12-28 08:00")},
		{name: "a Chinese holiday", rules: wr, number: &cnNumber, now: sh("2026-10-01 10:00"), facts: mkFacts(),
			reasons: "holiday", next: sh("2026-10-02 09:00")},
		{name: "a holiday by the local date, not UTC's", rules: wr, number: &cnNumber, now: utc("2026-09-30 17:00"), facts: mkFacts(),
			reasons: "outside_hours holiday", next: sh("2026-10-02 09:00")},
	})
}

func TestDecideDST(t *testing.T) {
	// America/New_York: 2026-03-08 02:00 EST becomes 03:00 EDT (07:00 UTC);
	// 2026-11-01 02:00 EDT becomes 01:00 EST (06:00 UTC).
	runDecideCases(t, []decideCase{
		{name: "spring: the evening before", now: utc("2026-03-08 02:30"), facts: mkFacts(),
			reasons: "outside_hours", next: utc("2026-03-08 12:00")}, // 08:00 EDT, not 13:00 UTC
		{name: "spring: 01:30 EST", now: utc("2026-03-08 06:30"), facts: mkFacts(), reasons: "outside_hours", next: utc("2026-03-08 12:00")},
		{name: "spring: 03:30 EDT", now: utc("2026-03-08 07:30"), facts: mkFacts(), reasons: "outside_hours", next: utc("2026-03-08 12:00")},
		{name: "spring: 07:59 EDT", now: utc("2026-03-08 11:59"), facts: mkFacts(), reasons: "outside_hours", next: utc("2026-03-08 12:00")},
		{name: "spring: 08:00 EDT", now: utc("2026-03-08 12:00"), facts: mkFacts(), allow: true},
		{name: "spring: 20:59 EDT", now: utc("2026-03-09 00:59"), facts: mkFacts(), allow: true},
		{name: "spring: 21:00 EDT", now: utc("2026-03-09 01:00"), facts: mkFacts(), reasons: "outside_hours", next: utc("2026-03-09 12:00")},
		{name: "fall: the evening before", now: utc("2026-11-01 01:00"), facts: mkFacts(),
			reasons: "outside_hours", next: utc("2026-11-01 13:00")}, // 08:00 EST, not 12:00 UTC
		{name: "fall: 01:30 EDT", now: utc("2026-11-01 05:30"), facts: mkFacts(), reasons: "outside_hours", next: utc("2026-11-01 13:00")},
		{name: "fall: 01:30 EST", now: utc("2026-11-01 06:30"), facts: mkFacts(), reasons: "outside_hours", next: utc("2026-11-01 13:00")},
		{name: "fall: 07:59 EST", now: utc("2026-11-01 12:59"), facts: mkFacts(), reasons: "outside_hours", next: utc("2026-11-01 13:00")},
		{name: "fall: 08:00 EST", now: utc("2026-11-01 13:00"), facts: mkFacts(), allow: true},
		{name: "fall: 21:00 EST", now: utc("2026-11-02 02:00"), facts: mkFacts(), reasons: "outside_hours", next: utc("2026-11-02 13:00")},
		{name: "hours starting in the gap open at the jump", rules: MustRules(t, gapDoc), now: utc("2026-03-08 06:00"), facts: mkFacts(),
			reasons: "outside_hours", next: utc("2026-03-08 07:00")}, // 03:00 EDT
		{name: "hours starting in the gap, the next day", rules: MustRules(t, gapDoc), now: utc("2026-03-08 09:00"), facts: mkFacts(),
			reasons: "outside_hours", next: utc("2026-03-09 06:30")}, // 02:30 EDT
		{name: "hours starting in the overlap open at its first occurrence", rules: MustRules(t, overlapStartDoc),
			now: utc("2026-11-01 04:00"), facts: mkFacts(), reasons: "outside_hours", next: utc("2026-11-01 05:30")}, // 01:30 EDT
		{name: "inside the overlap, the second time round", rules: MustRules(t, overlapStartDoc),
			now: utc("2026-11-01 06:45"), facts: mkFacts(), allow: true}, // 01:45 EST
		{name: "falling back into the window reopens it", rules: MustRules(t, overlapEndDoc),
			now: utc("2026-11-01 05:45"), facts: mkFacts(), reasons: "outside_hours", next: utc("2026-11-01 06:00")}, // 01:45 EDT → 01:00 EST
	})
}

func TestDecideCaps(t *testing.T) {
	ny := func(s string) time.Time { return MustTime(t, "America/New_York", s) }
	now := ny("2026-03-04 14:00")
	cr := MustRules(t, capsDoc)
	runDecideCases(t, []decideCase{
		{name: "2 attempts", now: now, facts: mkFacts(withAttempts(ny("2026-03-04 10:00"), ny("2026-03-04 12:00"))), allow: true},
		{name: "3 attempts", now: now, facts: mkFacts(withAttempts(ny("2026-03-03 15:00"), ny("2026-03-04 10:00"), ny("2026-03-04 12:00"))),
			reasons: "frequency_cap", next: ny("2026-03-04 15:00")},
		{name: "the oldest exactly a window ago does not count", now: now,
			facts: mkFacts(withAttempts(ny("2026-03-03 14:00"), ny("2026-03-04 10:00"), ny("2026-03-04 12:00"))), allow: true},
		{name: "an attempt at this instant counts", now: now,
			facts: mkFacts(withAttempts(ny("2026-03-04 10:00"), ny("2026-03-04 12:00"), now)), reasons: "frequency_cap", next: ny("2026-03-05 10:00")},
		{name: "an attempt after now does not count", now: now,
			facts: mkFacts(withAttempts(ny("2026-03-04 10:00"), ny("2026-03-04 12:00"), now.Add(time.Minute))), allow: true},
		{name: "4 attempts wait for the second oldest", now: now,
			facts:   mkFacts(withAttempts(ny("2026-03-04 12:00"), ny("2026-03-03 16:00"), ny("2026-03-04 10:00"), ny("2026-03-03 15:00"))),
			reasons: "frequency_cap", next: ny("2026-03-04 16:00")},
		{name: "sms counts the same", channel: ChannelSMS, now: now,
			facts: mkFacts(withConsent(consentOf("insurance", ChannelSMS, ny("2026-01-01 00:00"), time.Time{})),
				withAttempts(ny("2026-03-03 15:00"), ny("2026-03-04 10:00"), ny("2026-03-04 12:00"))),
			reasons: "consent frequency_cap", next: ny("2026-03-04 15:00")},
		{name: "room comes after hours", rules: cr, now: ny("2026-03-04 13:00"),
			facts:   mkFacts(withAttempts(ny("2026-03-04 10:00"), ny("2026-03-04 11:00"), ny("2026-03-04 12:00"))),
			reasons: "frequency_cap", next: ny("2026-03-05 08:00")}, // 22:00 is too late
		{name: "a week-long cap across the DST change", rules: cr, now: ny("2026-03-04 14:00"),
			facts: mkFacts(withAttempts(ny("2026-03-02 10:00"), ny("2026-03-02 11:00"), ny("2026-03-03 09:00"),
				ny("2026-03-03 10:00"), ny("2026-03-04 09:00"))),
			reasons: "frequency_cap", next: ny("2026-03-09 11:00")}, // 168 h after 10:00 EST is 11:00 EDT
		{name: "both caps full", rules: cr, now: ny("2026-03-04 14:00"),
			facts: mkFacts(withAttempts(ny("2026-03-02 10:00"), ny("2026-03-03 09:00"),
				ny("2026-03-04 09:00"), ny("2026-03-04 10:00"), ny("2026-03-04 11:00"))),
			reasons: "frequency_cap frequency_cap", next: ny("2026-03-09 11:00")},
		{name: "hours and cap together", now: ny("2026-03-04 07:00"),
			facts:   mkFacts(withAttempts(ny("2026-03-03 09:00"), ny("2026-03-03 10:00"), ny("2026-03-03 11:00"))),
			reasons: "outside_hours frequency_cap", next: ny("2026-03-04 09:00")},
		{name: "a list as well: waiting will not help", now: ny("2026-03-04 07:00"),
			facts:   mkFacts(present("national"), withAttempts(ny("2026-03-03 09:00"), ny("2026-03-03 10:00"), ny("2026-03-03 11:00"))),
			reasons: "on_list:national outside_hours frequency_cap"},
	})
}

func TestDecideFailClosed(t *testing.T) {
	now := MustTime(t, "America/New_York", "2026-03-04 14:00")
	num := func(zones ...string) *phone.Number {
		n := nyNumber
		n.TimeZones = zones
		return &n
	}
	runDecideCases(t, []decideCase{
		{name: "a list not read", now: now, facts: mkFacts(unread("national")), reasons: "unavailable:national"},
		{name: "a list in an unknown state", now: now, facts: mkFacts(setList("state", ListState(7))), reasons: "unavailable:state"},
		{name: "no facts at all", now: now, facts: Facts{},
			reasons: "unavailable:national unavailable:state unavailable:litigator unavailable:internal"},
		{name: "an unknown list and a present one", now: now, facts: mkFacts(unread("internal"), present("national")),
			reasons: "on_list:national unavailable:internal"},
		{name: "exemption does not cure an unread list", now: now,
			facts: mkFacts(unread("national"), withRelationship(seller, RelationshipPurchase, now.Add(-day24))), reasons: "unavailable:national"},
		{name: "facts unavailable", now: now, facts: mkFacts(withUnavailable("attempts: store timeout")), reasons: "unavailable"},
		{name: "facts unavailable outside hours", now: now.Add(8 * time.Hour), facts: mkFacts(withUnavailable("store down")),
			reasons: "outside_hours unavailable"},
		{name: "an unknown time zone", number: num("Mars/Olympus_Mons"), now: now, facts: mkFacts(), reasons: "unavailable"},
		{name: "an unknown zone among known ones", number: num("America/New_York", "Mars/Olympus_Mons"), now: now.Add(8 * time.Hour),
			facts: mkFacts(), reasons: "outside_hours unavailable"},
		{name: "an empty zone name", number: num(""), now: now, facts: mkFacts(), reasons: "unavailable"},
		{name: "the server's zone is not the called party's", number: num("Local"), now: now, facts: mkFacts(), reasons: "unavailable"},
		{name: "no zone at all", number: num(), now: now, facts: mkFacts(), reasons: "unavailable"},
		{name: "an unknown purpose", purpose: "loans", now: now, facts: mkFacts(), reasons: "unavailable"},
		{name: "an unknown channel", channel: "fax", now: now, facts: mkFacts(), reasons: "unavailable"},
		{name: "no number", number: &phone.Number{}, now: now, facts: mkFacts(), reasons: "invalid_number"},
		{name: "a channel the purpose does not configure", rules: MustRules(t, weekdaysDoc), channel: ChannelSMS, now: now,
			facts: mkFacts(), reasons: "channel_not_allowed"},
	})
}

func TestDecideNoRules(t *testing.T) {
	got := Decide(nil, Request{Number: nyNumber, Channel: ChannelCall, Purpose: "insurance"}, mkFacts(), time.Now())
	if got.Outcome != Deny || reasonsString(got.Reasons) != "unavailable" {
		t.Errorf("Decide(nil rules) = %s %q, want deny \"unavailable\"", got.Outcome, reasonsString(got.Reasons))
	}
}

func TestDecideFields(t *testing.T) {
	rs := MustShipped(t)
	now := time.Date(2026, 3, 4, 19, 0, 0, 0, time.UTC)
	req := Request{Number: nyChicagoNumber, Channel: ChannelCall, Purpose: "insurance", Seller: seller}
	d := Decide(rs, req, mkFacts(present("national")), now)
	if d.RulesVersion != rs.Version || d.RulesVersion == "" {
		t.Errorf("RulesVersion = %q, want %q", d.RulesVersion, rs.Version)
	}
	if got, want := d.LocalTime.Location().String(), "America/New_York"; got != want {
		t.Errorf("LocalTime zone = %s, want %s (the first zone)", got, want)
	}
	if got, want := d.LocalTime.Format("15:04"), "14:00"; got != want || !d.LocalTime.Equal(now) {
		t.Errorf("LocalTime = %s, want %s, the same instant as now", got, want)
	}
	if d.ID != "" {
		t.Errorf("ID = %q, want it left to the caller", d.ID)
	}
	r := d.Reasons[0]
	if r.Code != ReasonOnList || r.List != "national" || !strings.Contains(r.Detail, "national") {
		t.Errorf("reason = %+v, want on_list naming national", r)
	}

	late := Decide(rs, req, mkFacts(withAttempts(now.Add(-3*time.Hour), now.Add(-2*time.Hour), now.Add(-time.Hour))), now)
	if got := late.Reasons[0].Detail; got != "3 of 3 attempts in 24h" {
		t.Errorf("frequency_cap detail = %q, want %q", got, "3 of 3 attempts in 24h")
	}
	if !late.NextAllowedAt.Equal(now.Add(21*time.Hour)) || late.NextAllowedAt.Location() != now.Location() {
		t.Errorf("NextAllowedAt = %v, want %v in now's location", late.NextAllowedAt, now.Add(21*time.Hour))
	}
}

// Decide is on the hot path of every check: an allow with no notes must not
// allocate, and a deny should allocate little.
func TestDecideAllocs(t *testing.T) {
	rs := MustShipped(t)
	now := MustTime(t, "America/New_York", "2026-03-04 14:00")
	req := Request{Number: nyNumber, Channel: ChannelCall, Purpose: "insurance", Seller: seller}
	facts := mkFacts(withAttempts(now.Add(-time.Hour)))
	Decide(rs, req, facts, now) // load the zone
	if n := testing.AllocsPerRun(100, func() { Decide(rs, req, facts, now) }); n != 0 {
		t.Errorf("Decide(allow) allocates %v times, want 0", n)
	}
	deny := mkFacts(present("national"))
	if n := testing.AllocsPerRun(100, func() { Decide(rs, req, deny, now) }); n > 3 {
		t.Errorf("Decide(deny on a list) allocates %v times, want at most 3", n)
	}
}
