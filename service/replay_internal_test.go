package service

import (
	"reflect"
	"testing"
	"time"

	"callfilter/filter"
	"callfilter/phone"
)

// unread are the fields of facts that Decide does not read and an audit
// entry does not keep (the number's Subject is kept once, in the entry).
var unread = map[string]bool{
	"Consent.Last4": true, "Consent.Source": true, "Consent.Evidence": true,
	"Revocation.Last4": true, "Revocation.Source": true,
	"Relationship.Last4": true,
}

// zeroFields reports the zero fields of the struct v, into the first
// element of slices of structs.
func zeroFields(v reflect.Value) []string {
	var out []string
	for i := range v.NumField() {
		f, name := v.Field(i), v.Type().Name()+"."+v.Type().Field(i).Name
		switch {
		case f.IsZero():
			out = append(out, name)
		case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.Struct && f.Type().Elem() != reflect.TypeFor[time.Time]():
			out = append(out, zeroFields(f.Index(0))...)
		}
	}
	return out
}

// clearUnread zeroes the unread fields of the struct v, into its slices.
func clearUnread(v reflect.Value) {
	for i := range v.NumField() {
		f := v.Field(i)
		if unread[v.Type().Name()+"."+v.Type().Field(i).Name] {
			f.SetZero()
		}
		if f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.Struct {
			for j := range f.Len() {
				clearUnread(f.Index(j))
			}
		}
	}
}

// TestReplayKeepsEveryFact: facts with every field set, kept for the audit
// trail (replayInto), encoded and decoded as the trail stores them, and
// rebuilt for a replay (replayed), are the facts Decide was given, but for
// the fields it does not read; and so is the request. A field added to
// Facts or its elements fails this test until it is set here and kept.
func TestReplayKeepsEveryFact(t *testing.T) {
	at := time.Date(2026, 11, 18, 15, 0, 0, 0, time.UTC)
	subj := filter.Subject{1, 2, 3}
	day := func(n int) time.Time { return at.AddDate(0, 0, n) }
	facts := filter.Facts{
		Lists: []filter.ListFact{{List: "national", State: filter.ListPresent, UpdatedAt: day(-3), SourceDate: day(-5), ExpiresAt: day(2)},
			{List: "internal", State: filter.ListAbsent}},
		Consents: []filter.Consent{{Subject: subj, Last4: "0134", Seller: "acme", Purpose: "insurance", Channel: filter.ChannelSMS,
			GrantedAt: day(-100), ExpiresAt: day(100), Source: "web", Evidence: "form 7"}},
		Revocations: []filter.Revocation{{Subject: subj, Last4: "0134", Seller: "acme", Purpose: "insurance", Channel: filter.ChannelSMS,
			At: day(-50), Source: "STOP"}},
		Relationships: []filter.Relationship{{Subject: subj, Last4: "0134", Seller: "acme", Kind: filter.RelationshipPurchase,
			At: day(-300), PolicyExpiresAt: day(20)}},
		Attempts: []time.Time{at.Add(-time.Hour)},
		Outcomes: []filter.CallOutcome{{Subject: subj, Seller: "acme", Purpose: "insurance", Channel: filter.ChannelCall,
			Kind: filter.OutcomeNoAnswer, At: at.Add(-2 * time.Hour)}},
		DisconnectedAt: day(-10),
		Unavailable:    []string{"store: unavailable"},
		LineType:       phone.LineMobile,
	}
	if z := zeroFields(reflect.ValueOf(facts)); len(z) > 0 {
		t.Fatalf("set %v in this test, and keep them in the audit replay if Decide reads them", z)
	}
	req := filter.Request{
		Number:  phone.Number{E164: "+12125550134", Region: "US", Area: "US-NY", Type: phone.LineFixedOrMobile, TimeZones: []string{"America/New_York"}},
		Channel: filter.ChannelCall, Purpose: "insurance", Seller: "acme", Campaign: "spring", PostalCode: "10001",
	}
	var sc auditScratch
	replayInto(&sc.replay, &sc, &req, &facts, at)
	e := filter.AuditEntry{Kind: filter.AuditDecision, ID: "x", Time: at, Subject: subj, Last4: req.Number.Last4(),
		Seller: req.Seller, Purpose: req.Purpose, Channel: req.Channel, Campaign: req.Campaign, Replay: &sc.replay}
	stored, err := filter.AuditRecord(filter.AppendAuditRecord(nil, &e)).Decode()
	if err != nil {
		t.Fatal(err)
	}
	gotReq, gotFacts, gotAt, ok := replayed(&stored)
	if !ok || !gotAt.Equal(at) {
		t.Fatalf("replayed: ok %v, at %s; want true, %s", ok, gotAt, at)
	}
	want := facts
	clearUnread(reflect.ValueOf(&want).Elem())
	if !reflect.DeepEqual(gotFacts, want) {
		t.Errorf("facts replayed as\n%+v\nwant\n%+v", gotFacts, want)
	}
	// Decide reads of the number only that it has one, its region, area,
	// line type and zones.
	wantReq := req
	wantReq.Number = phone.Number{E164: "+0134", Region: "US", Area: "US-NY", Type: phone.LineFixedOrMobile, TimeZones: []string{"America/New_York"}}
	if !reflect.DeepEqual(gotReq, wantReq) {
		t.Errorf("request replayed as\n%+v\nwant\n%+v", gotReq, wantReq)
	}
	// An expired entry is kept as absent, without its expiry.
	facts.Lists[0].ExpiresAt = at
	replayInto(&sc.replay, &sc, &req, &facts, at)
	if l := sc.replay.Lists[0]; l.State != filter.ListAbsent || !l.ExpiresAt.IsZero() {
		t.Errorf("an entry expired at the instant is kept as %+v, want absent without expiry", l)
	}
}
