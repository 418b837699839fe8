package filter

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// fullAuditEntry returns a decision entry with every field of the entry, its
// replay and their elements set (TestAuditRecordRoundTrip checks that it
// stays so as fields are added), with times in UTC as Decode returns them.
func fullAuditEntry() AuditEntry {
	t := func(s int64, ns int64) time.Time { return time.Unix(s, ns).UTC() }
	return AuditEntry{
		Seq: 7, Prev: [32]byte{1, 2, 3}, Hash: [32]byte{}, // Hash: set by Seal
		Kind: AuditDecision, ID: "0123456789abcdef0123456789abcdef", Time: t(1795000000, 123456789), Actor: "dialer-1",
		Subject: Subject{9, 8, 7}, Last4: "0134", Seller: "acme", Purpose: "insurance", Channel: ChannelCall, Campaign: "spring",
		Decision: Deny, Reasons: []AuditReason{{Code: ReasonOnList, List: "national"}, {Code: ReasonRefusalBlock}},
		RulesVersion: "2026-01-15.1", Action: "a", Target: "t", Detail: "d",
		Replay: &AuditReplay{
			At: t(1795000000, 5), Region: "US", Area: "US-NY", LineType: "fixed_or_mobile", TimeZones: []string{"America/New_York"},
			FactLineType: "mobile", PostalCode: "10001",
			Lists: []AuditList{
				{List: "national", State: ListPresent, UpdatedAt: t(1794000000, 0), SourceDate: t(1793000000, 0), ExpiresAt: t(1796000000, 1)},
				{List: "internal", State: ListAbsent},
			},
			Consents:       []AuditConsent{{Seller: "acme", Purpose: "insurance", Channel: ChannelSMS, GrantedAt: t(1, 2), ExpiresAt: t(3, 4)}},
			Revocations:    []AuditRevoke{{Seller: "acme", Purpose: "insurance", Channel: ChannelSMS, At: t(5, 6)}},
			Relationships:  []AuditRel{{Seller: "acme", Kind: RelationshipPurchase, At: t(-7, 8), PolicyExpiresAt: t(1797000000, 9)}},
			Attempts:       []time.Time{t(1794999000, 0)},
			Outcomes:       []AuditOutcome{{Seller: "acme", Purpose: "insurance", Channel: ChannelCall, Kind: OutcomeRefused, At: t(1794990000, 10)}},
			DisconnectedAt: t(1790000000, 11),
			Unavailable:    []string{"store: unavailable"},
		},
	}
}

// zeroFields names the fields of v (a struct, followed through pointers and
// into the first element of slices of structs) that are zero.
func zeroFields(v reflect.Value, path string) []string {
	var out []string
	for i := range v.NumField() {
		f, name := v.Field(i), path+v.Type().Field(i).Name
		if name == "Hash" {
			continue
		}
		if f.IsZero() {
			out = append(out, name)
			continue
		}
		switch {
		case f.Kind() == reflect.Pointer && f.Elem().Kind() == reflect.Struct:
			out = append(out, zeroFields(f.Elem(), name+".")...)
		case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.Struct && f.Type().Elem() != reflect.TypeFor[time.Time]():
			out = append(out, zeroFields(f.Index(0), name+"[0].")...)
		}
	}
	return out
}

// TestAuditRecordRoundTrip: an entry with every field set is encoded,
// sealed, decoded to the same entry, and encoded again to the same bytes;
// its JSON form reads back the same too.
func TestAuditRecordRoundTrip(t *testing.T) {
	want := fullAuditEntry()
	if z := zeroFields(reflect.ValueOf(want), ""); len(z) > 0 {
		t.Fatalf("fullAuditEntry leaves fields zero, so their encoding is not tested: %v", z)
	}
	r := AuditRecord(AppendAuditRecord(nil, &want))
	want.Hash = r.Seal(want.Seq, want.Prev)
	if !r.Valid() || r.ComputeHash() != r.Hash() {
		t.Fatal("sealed record is not valid or does not carry its hash")
	}
	got, err := r.Decode()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded\n%+v\n%+v\nwant\n%+v\n%+v", got, *got.Replay, want, *want.Replay)
	}
	if again := AppendAuditRecord(nil, &got); string(again) != string(r) {
		t.Fatalf("decoded and encoded again:\n%x\nwant\n%x", again, []byte(r))
	}
	j, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"disconnected_at"`, `"outcomes"`, `"policy_expires_at"`, `"source_date"`, `"updated_at"`, `"fact_line_type"`, `"postal_code"`} {
		if !strings.Contains(string(j), k) {
			t.Errorf("JSON lacks %s: %s", k, j)
		}
	}
	var back AuditEntry
	if err := json.Unmarshal(j, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, want) {
		t.Fatalf("JSON read back as\n%+v\nwant\n%+v", back, want)
	}
}

// TestAuditRecordOneEncoding: the encodings a writer never produces are
// refused (a zero time flagged as present, unknown list bits or states, an
// earlier format version), so a record that decodes is the one encoding of
// its entry.
func TestAuditRecordOneEncoding(t *testing.T) {
	e := fullAuditEntry()
	e.Replay.Lists = []AuditList{{List: "n", State: ListAbsent}}
	e.Replay.Relationships = []AuditRel{{Seller: "s", Kind: RelationshipInquiry, At: time.Unix(1, 0).UTC()}}
	e.Replay.Consents, e.Replay.Revocations, e.Replay.Attempts, e.Replay.Outcomes, e.Replay.Unavailable = nil, nil, nil, nil, nil
	e.Replay.DisconnectedAt = time.Time{}
	good := AppendAuditRecord(nil, &e)
	if _, err := AuditRecord(good).Decode(); err != nil {
		t.Fatal(err)
	}
	// The replay's tail: the list "n" and its state byte, then the
	// relationship's optional PolicyExpiresAt (0), no attempts, no outcomes,
	// DisconnectedAt (0), no unavailable.
	i := strings.Index(string(good), "\x01n") + 2 // the list's state byte
	tail := len(good) - 4                         // PolicyExpiresAt, attempts, outcomes, DisconnectedAt, unavailable: 0 0 0 0 0
	if good[i] != byte(ListAbsent) || string(good[tail-1:]) != "\x00\x00\x00\x00\x00" {
		t.Fatalf("the test's offsets do not match the format: %x", good)
	}
	zero := appendTime(nil, time.Time{})
	splice := func(at int, drop int, with ...byte) AuditRecord {
		return AuditRecord(append(append(append([]byte(nil), good[:at]...), with...), good[at+drop:]...))
	}
	for name, r := range map[string]AuditRecord{
		"unknown list bit":                     splice(i, 1, 0x80|byte(ListAbsent)),
		"unknown list state":                   splice(i, 1, 3),
		"zero UpdatedAt flagged present":       splice(i, 1, append([]byte{listHasUpdated | byte(ListAbsent)}, zero...)...),
		"zero DisconnectedAt flagged present":  splice(len(good)-2, 1, append([]byte{1}, zero...)...),
		"zero PolicyExpiresAt flagged present": splice(tail-1, 1, append([]byte{1}, zero...)...),
		"optional time marker 2":               splice(len(good)-2, 1, 2),
		"version 2":                            splice(recVersion, 1, 2),
	} {
		if _, err := r.Decode(); ErrorKind(err) != EInvalid {
			t.Errorf("%s: Decode = %v, want EInvalid", name, err)
		}
	}
}

// TestAuditListAt: a list is kept as Decide reads it at the instant: an
// expired entry is absent (and keeps no expiry), a live one keeps it.
func TestAuditListAt(t *testing.T) {
	now := time.Date(2026, 11, 18, 15, 0, 0, 0, time.UTC)
	upd := now.Add(-time.Hour)
	for _, c := range []struct {
		in   ListFact
		want AuditList
	}{
		{ListFact{List: "x", State: ListPresent, ExpiresAt: now}, AuditList{List: "x", State: ListAbsent}},
		{ListFact{List: "x", State: ListPresent, ExpiresAt: now.Add(time.Second), UpdatedAt: upd}, AuditList{List: "x", State: ListPresent, ExpiresAt: now.Add(time.Second), UpdatedAt: upd}},
		{ListFact{List: "x", State: ListPresent}, AuditList{List: "x", State: ListPresent}},
		{ListFact{List: "x", State: ListAbsent, UpdatedAt: upd, SourceDate: upd.Add(-time.Hour)}, AuditList{List: "x", State: ListAbsent, UpdatedAt: upd, SourceDate: upd.Add(-time.Hour)}},
		{ListFact{List: "x", State: ListUnknown}, AuditList{List: "x", State: ListUnknown}},
	} {
		got := AuditListAt(c.in, now)
		if got != c.want {
			t.Errorf("AuditListAt(%+v) = %+v, want %+v", c.in, got, c.want)
		}
		if st := got.Fact().StateAt(now); st != c.in.StateAt(now) {
			t.Errorf("%+v replays as state %d at now, was %d", c.in, st, c.in.StateAt(now))
		}
	}
}
