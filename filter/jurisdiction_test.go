package filter_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"callfilter/filter"
	"callfilter/phone"
)

func mustPack(t *testing.T, extra string) *filter.RuleSet {
	t.Helper()
	data, err := os.ReadFile("../rules/us-states.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Replace(string(data), "emergencies: []", extra, 1)
	rs, err := filter.ParseRules([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func num(t *testing.T, raw string) phone.Number {
	t.Helper()
	n, err := phone.Normalize(raw, "US")
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestJurisdiction: the rule text of issue 7 item 5 and the list_stale rule.
func TestJurisdiction(t *testing.T) {
	rs := mustPack(t, `emergencies: [{region: US-FL, from: 2026-09-01, to: 2026-09-30, reason: "Hurricane, EO 26-101"}]`)
	fresh := func(lists ...string) filter.Facts {
		var f filter.Facts
		for _, l := range []string{"national", "state", "litigator", "internal"} {
			f.Lists = append(f.Lists, filter.ListFact{List: l, State: filter.ListAbsent, UpdatedAt: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)})
		}
		return f
	}
	sunday := time.Date(2026, 11, 22, 17, 0, 0, 0, time.UTC) // 11:00 Chicago, 12:00 New York
	wed := time.Date(2026, 11, 18, 15, 0, 0, 0, time.UTC)    // 10:00 New York, 07:00 Los Angeles
	cases := []struct {
		name  string
		req   filter.Request
		facts func() filter.Facts
		at    time.Time
		want  []filter.ReasonCode
	}{
		{"AL Sunday ban", filter.Request{Number: num(t, "2055550100")}, nil, sunday, []filter.ReasonCode{filter.ReasonDayNotAllowed}},
		{"AL state holiday (Thanksgiving)", filter.Request{Number: num(t, "2055550100")}, nil, time.Date(2026, 11, 26, 17, 0, 0, 0, time.UTC), []filter.ReasonCode{filter.ReasonHoliday}},
		{"NY Sunday allowed", filter.Request{Number: num(t, "2125550100")}, nil, sunday, nil},
		{"PA Sunday before 13:30", filter.Request{Number: num(t, "2155550100")}, nil, sunday, []filter.ReasonCode{filter.ReasonOutsideHours}},
		{"TX Sunday before noon", filter.Request{Number: num(t, "2145550100")}, nil, sunday, []filter.ReasonCode{filter.ReasonOutsideHours}},
		{"NY number, CA ZIP: 07:00 in LA", filter.Request{Number: num(t, "2125550100"), PostalCode: "94105"}, nil, wed, []filter.ReasonCode{filter.ReasonOutsideHours}},
		{"NY number, AL ZIP on Sunday", filter.Request{Number: num(t, "2125550100"), PostalCode: "35203-1234"}, nil, sunday, []filter.ReasonCode{filter.ReasonDayNotAllowed}},
		{"AL number, NY ZIP on Sunday: most restrictive", filter.Request{Number: num(t, "2055550100"), PostalCode: "10001"}, nil, sunday, []filter.ReasonCode{filter.ReasonDayNotAllowed}},
		{"military ZIP changes nothing", filter.Request{Number: num(t, "2125550100"), PostalCode: "09001"}, nil, wed, nil},
		{"FL emergency", filter.Request{Number: num(t, "3055550100")}, nil, time.Date(2026, 9, 15, 15, 0, 0, 0, time.UTC), []filter.ReasonCode{filter.ReasonEmergencyBlock}},
		{"FL emergency over", filter.Request{Number: num(t, "3055550100")}, nil, time.Date(2026, 10, 1, 15, 0, 0, 0, time.UTC), nil},
		{"FL ZIP emergency for a NY number", filter.Request{Number: num(t, "2125550100"), PostalCode: "33101"}, nil, time.Date(2026, 9, 15, 15, 0, 0, 0, time.UTC), []filter.ReasonCode{filter.ReasonEmergencyBlock}},
		{"stale national list", filter.Request{Number: num(t, "2125550100")}, func() filter.Facts {
			f := fresh()
			f.Lists[0].UpdatedAt = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
			return f
		}, wed, []filter.ReasonCode{filter.ReasonListStale}},
		{"never-updated national list", filter.Request{Number: num(t, "2125550100")}, func() filter.Facts {
			f := fresh()
			f.Lists[0].UpdatedAt = time.Time{}
			return f
		}, wed, []filter.ReasonCode{filter.ReasonListStale}},
		// The source date, when known, is what the age counts from.
		{"re-imported today from an old file", filter.Request{Number: num(t, "2125550100")}, func() filter.Facts {
			f := fresh()
			f.Lists[0].UpdatedAt = wed.Add(-time.Hour)
			f.Lists[0].SourceDate = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
			return f
		}, wed, []filter.ReasonCode{filter.ReasonListStale}},
		{"old write of a recent file", filter.Request{Number: num(t, "2125550100")}, func() filter.Facts {
			f := fresh()
			f.Lists[0].UpdatedAt = time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
			f.Lists[0].SourceDate = time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC)
			return f
		}, wed, nil},
		{"source date at the limit", filter.Request{Number: num(t, "2125550100")}, func() filter.Facts {
			f := fresh()
			f.Lists[0].SourceDate = wed.Add(-31 * 24 * time.Hour)
			return f
		}, wed, nil},
		{"source date just past the limit", filter.Request{Number: num(t, "2125550100")}, func() filter.Facts {
			f := fresh()
			f.Lists[0].SourceDate = wed.Add(-31*24*time.Hour - time.Second)
			return f
		}, wed, []filter.ReasonCode{filter.ReasonListStale}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.req.Channel, c.req.Purpose, c.req.Seller = filter.ChannelCall, "insurance", "acme"
			f := fresh()
			if c.facts != nil {
				f = c.facts()
			}
			d := filter.Decide(rs, c.req, f, c.at)
			var got []filter.ReasonCode
			for _, r := range d.Reasons {
				got = append(got, r.Code)
			}
			if len(c.want) == 0 && d.Outcome != filter.Allow || len(c.want) > 0 && (d.Outcome != filter.Deny || len(got) != len(c.want) || got[0] != c.want[0]) {
				t.Fatalf("got %s %v (%v), want %v", d.Outcome, got, d.Reasons, c.want)
			}
		})
	}
}

// TestWirelessProhibited: mobile lines are denied where the rules forbid
// them; fixed_or_mobile only when a wireless list (Facts.LineType) says so.
func TestWirelessProhibited(t *testing.T) {
	doc := `version: w
lists: {internal: own}
defaults: {lists: [internal], regions: {US-NY: {wireless_prohibited: true}}}
purposes: {insurance: {call: {}}}
`
	rs, err := filter.ParseRules([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	n := num(t, "2125550100")
	facts := filter.Facts{Lists: []filter.ListFact{{List: "internal", State: filter.ListAbsent}}}
	req := filter.Request{Number: n, Channel: filter.ChannelCall, Purpose: "insurance"}
	at := time.Date(2026, 11, 18, 15, 0, 0, 0, time.UTC)
	if d := filter.Decide(rs, req, facts, at); d.Outcome != filter.Allow {
		t.Fatalf("%s number: %v", n.Type, d.Reasons)
	}
	facts.LineType = phone.LineMobile
	if d := filter.Decide(rs, req, facts, at); !d.Has(filter.ReasonWirelessProhibited) {
		t.Fatalf("wireless list says mobile: %v", d.Reasons)
	}
}

func TestPostalArea(t *testing.T) {
	for code, want := range map[string]string{"10001": "US-NY", "94105": "US-CA", "33101-1234": "US-FL", "00901": "PR", "96910": "GU", "73301": "US-TX", "09001": ""} {
		got, _, err := filter.PostalArea(code)
		if err != nil || got != want {
			t.Errorf("PostalArea(%q) = %q, %v; want %q", code, got, err, want)
		}
	}
	for _, bad := range []string{"1234", "ABCDE", "123456", "12345-12"} {
		if _, _, err := filter.PostalArea(bad); filter.ErrorCode(err) != filter.CodeInvalidPostalCode {
			t.Errorf("PostalArea(%q): %v, want invalid_postal_code", bad, err)
		}
	}
}

// TestListStaleDetail: the detail names what the age was counted from.
func TestListStaleDetail(t *testing.T) {
	rs := mustPack(t, "emergencies: []")
	wed := time.Date(2026, 11, 18, 15, 0, 0, 0, time.UTC)
	req := filter.Request{Number: num(t, "2125550100"), Channel: filter.ChannelCall, Purpose: "insurance", Seller: "acme"}
	for _, c := range []struct {
		name               string
		updated, published time.Time
		want               string
	}{
		{"source date", wed, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), "published on 2026-10-01"},
		{"update time", time.Date(2026, 10, 2, 0, 0, 0, 0, time.UTC), time.Time{}, "last updated on 2026-10-02"},
		{"never", time.Time{}, time.Time{}, "never updated"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var f filter.Facts
			for _, l := range []string{"national", "state", "litigator", "internal"} {
				f.Lists = append(f.Lists, filter.ListFact{List: l, State: filter.ListAbsent, UpdatedAt: wed})
			}
			f.Lists[0].UpdatedAt, f.Lists[0].SourceDate = c.updated, c.published
			d := filter.Decide(rs, req, f, wed)
			if len(d.Reasons) != 1 || d.Reasons[0].Code != filter.ReasonListStale || !strings.Contains(d.Reasons[0].Detail, c.want) {
				t.Fatalf("got %v, want one list_stale saying %q", d.Reasons, c.want)
			}
		})
	}
}
