package filter

import (
	"testing"
	"time"
)

func BenchmarkDecideAllow(b *testing.B) {
	rs := MustShipped(b)
	now := MustTime(b, "America/New_York", "2026-03-04 14:00")
	req := Request{Number: nyNumber, Channel: ChannelCall, Purpose: "insurance", Seller: seller}
	facts := mkFacts(withAttempts(now.Add(-time.Hour)))
	b.ReportAllocs()
	for b.Loop() {
		if d := Decide(rs, req, facts, now); d.Outcome != Allow {
			b.Fatal(d.Reasons)
		}
	}
}

func BenchmarkDecideAllowSMSConsent(b *testing.B) {
	rs := MustShipped(b)
	now := MustTime(b, "America/New_York", "2026-03-04 14:00")
	req := Request{Number: nyNumber, Channel: ChannelSMS, Purpose: "insurance", Seller: seller}
	facts := mkFacts(withConsent(consentOf("insurance", ChannelSMS, now.AddDate(0, -1, 0), time.Time{})),
		withRevocation("globex", "", "", now.AddDate(0, 0, -1)))
	b.ReportAllocs()
	for b.Loop() {
		if d := Decide(rs, req, facts, now); d.Outcome != Allow {
			b.Fatal(d.Reasons)
		}
	}
}

func BenchmarkDecideDenyOnList(b *testing.B) {
	rs := MustShipped(b)
	now := MustTime(b, "America/New_York", "2026-03-04 14:00")
	req := Request{Number: nyNumber, Channel: ChannelCall, Purpose: "insurance", Seller: seller}
	facts := mkFacts(present("national"))
	b.ReportAllocs()
	for b.Loop() {
		if d := Decide(rs, req, facts, now); d.Outcome != Deny {
			b.Fatal(d.Reasons)
		}
	}
}

// The slowest common deny: outside hours in two zones, with the search for
// the next allowed instant.
func BenchmarkDecideDenyOutsideHours(b *testing.B) {
	rs := MustShipped(b)
	now := MustTime(b, "America/New_York", "2026-03-04 21:30")
	req := Request{Number: nyChicagoNumber, Channel: ChannelCall, Purpose: "insurance", Seller: seller}
	facts := mkFacts()
	b.ReportAllocs()
	for b.Loop() {
		if d := Decide(rs, req, facts, now); d.NextAllowedAt.IsZero() {
			b.Fatal(d.Reasons)
		}
	}
}

func BenchmarkResolve(b *testing.B) {
	rs := MustShipped(b)
	b.ReportAllocs()
	for b.Loop() {
		if p, err := rs.Resolve("insurance", ChannelCall, flNumber); err != nil || p.Region != "US-FL" {
			b.Fatal(p, err)
		}
	}
}

func BenchmarkParseRules(b *testing.B) {
	src := MustShipped(b).Source()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseRules(src); err != nil {
			b.Fatal(err)
		}
	}
}
