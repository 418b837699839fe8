package filter

import (
	"strings"
	"sync"
	"testing"
	"time"

	"callfilter/phone"
)

// Numbers are built as literals: these tests are about rules, not parsing.
var (
	nyNumber = phone.Number{E164: "+12125550134", Key: 12125550134, CountryCode: 1, Region: "US",
		Type: phone.LineFixedOrMobile, TimeZones: []string{"America/New_York"}, Area: "US-NY"}
	flNumber = phone.Number{E164: "+13055550134", Key: 13055550134, CountryCode: 1, Region: "US",
		Type: phone.LineFixedOrMobile, TimeZones: []string{"America/New_York"}, Area: "US-FL"}
	okNumber = phone.Number{E164: "+14055550134", Key: 14055550134, CountryCode: 1, Region: "US",
		Type: phone.LineFixedOrMobile, TimeZones: []string{"America/Chicago"}, Area: "US-OK"}
	cnNumber = phone.Number{E164: "+8613800138000", Key: 8613800138000, CountryCode: 86, Region: "CN",
		Type: phone.LineMobile, TimeZones: []string{"Asia/Shanghai"}}
	// A number whose area code the plan places in two zones.
	nyChicagoNumber = phone.Number{E164: "+18005550134", Key: 18005550134, CountryCode: 1, Region: "US",
		Type: phone.LineFixedOrMobile, TimeZones: []string{"America/New_York", "America/Chicago"}}
)

const seller = "acme"

var shippedOnce = sync.OnceValues(func() (*RuleSet, error) { return LoadRules("../rules.yaml") })

// MustShipped returns the rule set in ../rules.yaml.
func MustShipped(tb testing.TB) *RuleSet {
	tb.Helper()
	rs, err := shippedOnce()
	if err != nil {
		tb.Fatalf("LoadRules(../rules.yaml): %v", err)
	}
	return rs
}

// MustRules parses doc or fails the test.
func MustRules(tb testing.TB, doc string) *RuleSet {
	tb.Helper()
	rs, err := ParseRules([]byte(doc))
	if err != nil {
		tb.Fatalf("ParseRules: %v\n%s", err, doc)
	}
	return rs
}

// MustTime parses "2006-01-02 15:04" in zone.
func MustTime(tb testing.TB, zone, s string) time.Time {
	tb.Helper()
	loc, err := time.LoadLocation(zone)
	if err != nil {
		tb.Fatal(err)
	}
	t, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// utc parses "2006-01-02 15:04" as UTC, for instants near DST changes where
// local wall-clock times are ambiguous or missing.
func utc(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

var shippedLists = []string{"national", "state", "litigator", "internal"}

type factsOpt func(*Facts)

// mkFacts returns facts in which every shipped list was read and is absent,
// then applies opts.
func mkFacts(opts ...factsOpt) Facts {
	var f Facts
	for _, l := range shippedLists {
		f.Lists = append(f.Lists, ListFact{List: l, State: ListAbsent})
	}
	for _, o := range opts {
		o(&f)
	}
	return f
}

func setList(list string, s ListState) factsOpt {
	return func(f *Facts) {
		for i := range f.Lists {
			if f.Lists[i].List == list {
				f.Lists[i].State = s
				return
			}
		}
		f.Lists = append(f.Lists, ListFact{List: list, State: s})
	}
}

func present(lists ...string) factsOpt {
	return func(f *Facts) {
		for _, l := range lists {
			setList(l, ListPresent)(f)
		}
	}
}

// unread removes list from the facts, as a store that could not read it would.
func unread(list string) factsOpt {
	return func(f *Facts) {
		out := f.Lists[:0]
		for _, l := range f.Lists {
			if l.List != list {
				out = append(out, l)
			}
		}
		f.Lists = out
	}
}

func withConsent(c Consent) factsOpt {
	return func(f *Facts) { f.Consents = append(f.Consents, c) }
}

func consentOf(purpose string, ch Channel, granted, expires time.Time) Consent {
	return Consent{Seller: seller, Purpose: purpose, Channel: ch, GrantedAt: granted, ExpiresAt: expires, Source: "web form"}
}

func withRevocation(sellerName, purpose string, ch Channel, at time.Time) factsOpt {
	return func(f *Facts) {
		f.Revocations = append(f.Revocations, Revocation{Seller: sellerName, Purpose: purpose, Channel: ch, At: at, Source: "STOP"})
	}
}

func withRelationship(sellerName string, k RelationshipKind, at time.Time) factsOpt {
	return func(f *Facts) {
		f.Relationships = append(f.Relationships, Relationship{Seller: sellerName, Kind: k, At: at})
	}
}

func withAttempts(at ...time.Time) factsOpt {
	return func(f *Facts) { f.Attempts = append(f.Attempts, at...) }
}

func withUnavailable(detail string) factsOpt {
	return func(f *Facts) { f.Unavailable = append(f.Unavailable, detail) }
}

// reasonsString renders reasons compactly for comparison: "code[:list] ...".
func reasonsString(rs []Reason) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r.Code)
		if r.List != "" {
			s[i] += ":" + r.List
		}
	}
	return strings.Join(s, " ")
}

const day24 = 24 * time.Hour
