package filter

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"callfilter/phone"
)

// FuzzParseRules checks that no document makes ParseRules panic, that its
// answer is deterministic, that an accepted rule set keeps every invariant
// Decide relies on, and that Decide fails closed under it.
func FuzzParseRules(f *testing.F) {
	if src, err := os.ReadFile("../rules.yaml"); err == nil {
		f.Add(src)
	}
	for _, doc := range []string{baseDoc, weekdaysDoc, capsDoc, gapDoc, overlapStartDoc, overlapEndDoc, shortHoursDoc} {
		f.Add([]byte(doc))
	}
	for i := range badDocs {
		f.Add([]byte(badDoc(f, i)))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := ParseRules(data)
		rs2, err2 := ParseRules(data)
		if err != nil {
			if err2 == nil || err.Error() != err2.Error() {
				t.Fatalf("unstable: %v, then %v", err, err2)
			}
			if ErrorKind(err) != EInvalid || ErrorCode(err) != CodeInvalidRules {
				t.Fatalf("error kind %s code %s, want invalid / invalid_rules: %v", ErrorKind(err), ErrorCode(err), err)
			}
			var re *RulesError
			if !asRulesError(err, &re) || len(re.Problems) == 0 {
				t.Fatalf("error without problems: %v", err)
			}
			for _, p := range re.Problems {
				if p.Message == "" {
					t.Fatalf("problem without a message at %q", p.Path)
				}
			}
			return
		}
		if err2 != nil || !reflect.DeepEqual(rs, rs2) {
			t.Fatalf("unstable: accepted once, then %v", err2)
		}
		again, err := ParseRules(rs.Source())
		if err != nil || !reflect.DeepEqual(rs, again) {
			t.Fatalf("Source() does not parse to the same rule set: %v", err)
		}
		checkInvariants(t, rs)
	})
}

func asRulesError(err error, re **RulesError) bool {
	e, ok := err.(*Error)
	if !ok {
		return false
	}
	*re, ok = e.Err.(*RulesError)
	return ok
}

func checkInvariants(t *testing.T, rs *RuleSet) {
	t.Helper()
	if strings.TrimSpace(rs.Version) == "" {
		t.Fatal("accepted without a version")
	}
	known := map[string]bool{}
	for _, l := range rs.Lists() {
		known[l.Name] = true
	}
	now := time.Date(2026, 3, 4, 19, 0, 0, 0, time.UTC)
	for _, name := range rs.PurposeNames() {
		pr := rs.purposes[name]
		for _, cr := range []PolicySet{pr.call, pr.sms} {
			policies := []*Policy{cr.base}
			for key, p := range cr.regions {
				if !regionRE.MatchString(key) || p.Region != key {
					t.Fatalf("region key %q holds a policy for %q", key, p.Region)
				}
				policies = append(policies, p)
			}
			for _, p := range policies {
				checkPolicy(t, p, known)
				n := phone.Number{E164: "+12125550134", Region: "US", TimeZones: []string{"America/New_York"}}
				if country, _, sub := strings.Cut(p.Region, "-"); sub {
					n.Region, n.Area = country, p.Region
				} else if p.Region != "" {
					n.Region = p.Region
				}
				if got, err := rs.Resolve(name, p.Channel, n); err != nil || got != p {
					t.Fatalf("Resolve(%s, %s, %s) = %p, %v; want %p", name, p.Channel, p.Region, got, err, p)
				}
				req := Request{Number: n, Channel: p.Channel, Purpose: name, Seller: seller}
				if d := Decide(rs, req, Facts{}, now); len(p.Lists) > 0 && d.Outcome != Deny {
					t.Fatalf("%s %s %s: allowed with no list read: %+v", name, p.Channel, p.Region, d)
				}
				var all Facts
				for _, l := range p.Lists {
					all.Lists = append(all.Lists, ListFact{List: l, State: ListPresent})
				}
				if d := Decide(rs, req, all, now); len(p.Lists) > 0 && d.Outcome != Deny {
					t.Fatalf("%s %s %s: allowed on every list: %+v", name, p.Channel, p.Region, d)
				}
			}
		}
	}
}

func checkPolicy(t *testing.T, p *Policy, known map[string]bool) {
	t.Helper()
	if !p.Allowed {
		if len(p.Lists) > 0 || len(p.Caps) > 0 || p.ConsentRequired {
			t.Fatalf("a disallowed channel has rules: %+v", p)
		}
		return
	}
	if p.Hours.Start < 0 || p.Hours.End > 24*60 || p.Hours.Start >= p.Hours.End {
		t.Fatalf("hours %v", p.Hours)
	}
	if p.Days == 0 || p.Days > allWeekdays {
		t.Fatalf("days %b", p.Days)
	}
	for _, c := range p.Caps {
		if c.Max < 1 || c.Window <= 0 || c.Window > maxCapWindow {
			t.Fatalf("cap %+v", c)
		}
	}
	if len(p.listFlags) != len(p.Lists) {
		t.Fatalf("%d list flags for %d lists", len(p.listFlags), len(p.Lists))
	}
	for i, l := range p.Lists {
		if !known[l] {
			t.Fatalf("undeclared list %q", l)
		}
		if l == InternalList && p.listFlags[i] != 0 {
			t.Fatalf("internal may be exempted: flags %b", p.listFlags[i])
		}
	}
	for _, l := range append(append([]string(nil), p.RelationshipExempts...), p.ConsentExempts...) {
		if l == InternalList || !known[l] {
			t.Fatalf("exemption of %q", l)
		}
	}
}
