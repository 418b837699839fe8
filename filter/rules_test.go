package filter

import (
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"callfilter/phone"
)

func TestShippedRules(t *testing.T) {
	rs := MustShipped(t)
	if rs.Version == "" {
		t.Error("Version is empty")
	}
	if got, want := rs.PurposeNames(), []string{"housing", "insurance"}; !slices.Equal(got, want) {
		t.Errorf("PurposeNames() = %v, want %v", got, want)
	}
	var lists []string
	for _, l := range rs.Lists() {
		lists = append(lists, l.Name)
		if l.Description == "" {
			t.Errorf("list %s has no description", l.Name)
		}
	}
	if want := []string{"internal", "national", "state", "litigator"}; !slices.Equal(lists, want) || !slices.Equal(rs.ListNames(), want) {
		t.Errorf("Lists() = %v, ListNames() = %v, want %v", lists, rs.ListNames(), want)
	}
	hours := map[string]string{"": "08:00–21:00", "US-FL": "08:00–20:00", "US-OK": "08:00–20:00", "CN": "09:00–20:00"}
	numbers := map[string]phone.Number{"": nyNumber, "US-FL": flNumber, "US-OK": okNumber, "CN": cnNumber}
	for _, purpose := range []string{"insurance", "housing"} {
		for _, ch := range []Channel{ChannelCall, ChannelSMS} {
			for region, n := range numbers {
				p, err := rs.Resolve(purpose, ch, n)
				if err != nil {
					t.Fatalf("Resolve(%s, %s, %s): %v", purpose, ch, n.E164, err)
				}
				name := string(ch) + " " + purpose + " " + n.E164
				check := func(field string, got, want any) {
					t.Helper()
					if !equalAny(got, want) {
						t.Errorf("%s: %s = %v, want %v", name, field, got, want)
					}
				}
				check("Purpose", p.Purpose, purpose)
				check("Channel", p.Channel, ch)
				check("Region", p.Region, region)
				check("Allowed", p.Allowed, true)
				check("Lists", p.Lists, []string{"national", "state", "litigator", "internal"})
				check("ConsentRequired", p.ConsentRequired, ch == ChannelSMS)
				check("RelationshipExempts", p.RelationshipExempts, []string{"national", "state"})
				check("PurchaseDays", p.PurchaseDays, 540)
				check("InquiryDays", p.InquiryDays, 90)
				check("ConsentExempts", p.ConsentExempts, []string{"national", "state"})
				check("Hours", p.Hours.String(), hours[region])
				check("Days", p.Days.String(), "mon,tue,wed,thu,fri,sat,sun")
				check("Holidays", len(p.Holidays.List()), 0)
				check("Caps", p.Caps, []Cap{{Max: 3, Window: 24 * time.Hour}})
				check("LongestCapWindow", p.LongestCapWindow(), 24*time.Hour)
			}
		}
	}
	src, err := os.ReadFile("../rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := rs.Source(); string(got) != string(src) {
		t.Error("Source() is not the file's content")
	}
}

func equalAny(a, b any) bool {
	switch a := a.(type) {
	case []string:
		return slices.Equal(a, b.([]string))
	case []Cap:
		return slices.Equal(a, b.([]Cap))
	}
	return a == b
}

// baseDoc is a small valid document the bad ones below are edits of.
const baseDoc = `
version: "1"
lists:
  internal: Company DNC
  litigator: Litigators
  national: National DNC
  state: State DNC
defaults:
  lists: [national, state, litigator, internal]
  exemptions:
    relationship: {lists: [national, state], purchase_days: 540, inquiry_days: 90}
    consent: {lists: [national, state]}
  hours: {start: "08:00", end: "21:00"}
  days: [mon, tue, wed, thu, fri, sat, sun]
  caps: [{max: 3, window: 24h}]
  regions:
    US-FL: {hours: {start: "08:00", end: "20:00"}}
purposes:
  insurance:
    call: {}
    sms: {consent_required: true}
  housing:
    call: {}
    sms: {consent_required: true, lists: [national, state, internal]}
`

// badDocs are documents with one problem each, and the problem expected.
var badDocs = []struct {
	name string
	old  string // replaced in baseDoc by new; "" replaces the whole document
	new  string
	want string
}{
	{"hour out of range", `call: {}`, `call: {hours: {start: "25:00", end: "21:00"}}`,
		`purposes.insurance.call.hours.start: "25:00" is not a time of day HH:MM`},
	{"misspelt list", `lists: [national, state, internal]`, `lists: [national, state, natinal]`,
		`purposes.housing.sms.lists[2]: unknown list "natinal" (known: internal, litigator, national, state)`},
	{"unknown field", `call: {}`, `call: {hour: {start: "08:00", end: "21:00"}}`,
		`purposes.insurance.call.hour: unknown field "hour" (known: lists, consent_required, exemptions, hours, day_hours, days, holidays, caps, wireless_prohibited, renewal_window_days, unanswered_per_day, refusal_block_days, regions)`},
	{"unknown channel", `call: {}`, `fax: {}`, `purposes.insurance.fax: unknown field "fax" (known: description, call, sms)`},
	{"unknown top-level field", `version: "1"`, "version: \"1\"\nversoin: 2", `versoin: unknown field "versoin"`},
	{"end before start", `end: "21:00"}`, `end: "07:00"}`, `defaults.hours.end: 07:00 must be after start 08:00`},
	{"end equals start", `end: "21:00"}`, `end: "08:00"}`, `defaults.hours.end: 08:00 must be after start 08:00`},
	{"24:00 as a start", `start: "08:00", end: "21:00"`, `start: "24:00", end: "24:00"`, `defaults.hours.start: "24:00" is not a time of day`},
	{"minutes out of range", `end: "21:00"}`, `end: "20:60"}`, `defaults.hours.end: "20:60" is not a time of day`},
	{"hour without leading zero", `start: "08:00"`, `start: "8:00"`, `defaults.hours.start: "8:00" is not a time of day`},
	{"hours without end", `hours: {start: "08:00", end: "21:00"}`, `hours: {start: "08:00"}`, `defaults.hours.end: required`},
	{"hours left empty", `hours: {start: "08:00", end: "21:00"}`, `hours:`, `defaults.hours: must give start and end`},
	{"hours as text", `hours: {start: "08:00", end: "21:00"}`, `hours: "08:00-21:00"`, `defaults.hours: must be a mapping`},
	{"cap max 0", `max: 3`, `max: 0`, `defaults.caps[0].max: 0 is out of range: use 1 to 1000000`},
	{"cap max not a number", `max: 3`, `max: three`, `defaults.caps[0].max: must be a whole number`},
	{"cap max a fraction", `max: 3`, `max: 2.5`, `defaults.caps[0].max: must be a whole number`},
	{"cap window 0", `window: 24h`, `window: 0s`, `defaults.caps[0].window: "0s" is not a window greater than 0`},
	{"cap window negative", `window: 24h`, `window: -24h`, `defaults.caps[0].window: "-24h" is not a window`},
	{"cap window too long", `window: 24h`, `window: 400d`, `defaults.caps[0].window: "400d" is not a window`},
	{"cap window in hours too long", `window: 24h`, `window: 8785h`, `defaults.caps[0].window: "8785h" is not a window`},
	{"cap window nonsense", `window: 24h`, `window: soon`, `defaults.caps[0].window: "soon" is not a window`},
	{"cap without window", `{max: 3, window: 24h}`, `{max: 3}`, `defaults.caps[0].window: required`},
	{"cap with extra field", `{max: 3, window: 24h}`, `{max: 3, window: 24h, per: number}`, `defaults.caps[0].per: unknown field "per"`},
	{"misspelt day", `days: [mon, tue, wed, thu,`, `days: [mon, tue, wed, thurs,`, `defaults.days[3]: unknown day "thurs" (use mon, tue, wed, thu, fri, sat, sun)`},
	{"a day twice", `days: [mon, tue, wed, thu,`, `days: [mon, tue, wed, wed,`, `defaults.days[3]: day "wed" is listed twice`},
	{"no days", `days: [mon, tue, wed, thu, fri, sat, sun]`, `days: []`, `defaults.days: allow at least one day`},
	{"days left empty", `days: [mon, tue, wed, thu, fri, sat, sun]`, `days:`, `defaults.days: must list the allowed days`},
	{"bad date", `caps: [{max: 3, window: 24h}]`, "caps: [{max: 3, window: 24h}]\n  holidays: [\"2026-02-30\"]",
		`defaults.holidays[0]: "2026-02-30" is not a date "YYYY-MM-DD" nor an annual date "MM-DD"`},
	{"bad annual date", `caps: [{max: 3, window: 24h}]`, "caps: [{max: 3, window: 24h}]\n  holidays: [\"12-25\", \"13-01\"]",
		`defaults.holidays[1]: "13-01" is not a date`},
	{"holidays not a list", `caps: [{max: 3, window: 24h}]`, "caps: [{max: 3, window: 24h}]\n  holidays: \"12-25\"",
		`defaults.holidays: must be a list`},
	{"lower-case region", `US-FL:`, `us-fl:`, `defaults.regions.us-fl: region "us-fl" is not an ISO 3166 code`},
	{"region name", `US-FL:`, `Florida:`, `defaults.regions.Florida: region "Florida" is not an ISO 3166 code`},
	{"region with underscore", `US-FL:`, `US_FL:`, `defaults.regions.US_FL: region "US_FL" is not an ISO 3166 code`},
	{"nested regions", `US-FL: {hours:`, `US-FL: {regions: {US-FL: {}}, hours:`, `defaults.regions.US-FL.regions: unknown field "regions"`},
	{"region field error", `US-FL: {hours: {start: "08:00", end: "20:00"}}`, `US-FL: {caps: [{max: 0, window: 1h}]}`,
		`defaults.regions.US-FL.caps[0].max: 0 is out of range`},
	{"relationship exempts internal", `relationship: {lists: [national, state]`, `relationship: {lists: [national, internal]`,
		`defaults.exemptions.relationship.lists[1]: the company's own do-not-call list "internal" is never exempted`},
	{"consent exempts internal", `consent: {lists: [national, state]}`, `consent: {lists: [internal]}`,
		`defaults.exemptions.consent.lists[0]: the company's own do-not-call list "internal" is never exempted`},
	{"a purpose's exemption of internal", `sms: {consent_required: true}`, `sms: {exemptions: {consent: {lists: [internal]}}}`,
		`purposes.insurance.sms.exemptions.consent.lists[0]: the company's own do-not-call list "internal" is never exempted`},
	{"relationship without days", `purchase_days: 540, inquiry_days: 90`, `purchase_days: 0`,
		`defaults.exemptions.relationship: names lists but neither purchase_days nor inquiry_days is above 0`},
	{"negative days", `purchase_days: 540`, `purchase_days: -1`, `defaults.exemptions.relationship.purchase_days: -1 is out of range: use 0 to 3660`},
	{"days as text", `inquiry_days: 90`, `inquiry_days: 3 months`, `defaults.exemptions.relationship.inquiry_days: must be a whole number`},
	{"exemption of an unknown list", `consent: {lists: [national, state]}`, `consent: {lists: [dnc]}`,
		`defaults.exemptions.consent.lists[0]: unknown list "dnc"`},
	{"unknown exemption", `consent: {lists: [national, state]}`, `contract: {lists: [state]}`,
		`defaults.exemptions.contract: unknown field "contract" (known: relationship, consent)`},
	{"consent_required as text", `consent_required: true}`, `consent_required: "yes"}`, `purposes.insurance.sms.consent_required: must be true or false`},
	{"a list twice", `lists: [national, state, litigator, internal]`, `lists: [national, state, national, internal]`,
		`defaults.lists[2]: list "national" is named twice`},
	{"lists not a list", `lists: [national, state, litigator, internal]`, `lists: national`, `defaults.lists: must be a list`},
	{"a list item that is a mapping", `lists: [national, state, litigator, internal]`, `lists: [{name: national}]`, `defaults.lists[0]: must be a list name`},
	{"a purpose without channels", "  housing:\n    call: {}\n    sms: {consent_required: true, lists: [national, state, internal]}", "  housing: {description: homes}",
		`purposes.housing: configures no channel`},
	{"a purpose's bad name", "  housing:\n", "  Housing Loans:\n", `purposes.Housing Loans: purpose name "Housing Loans" must be lower case`},
	{"no purposes", "", "version: \"1\"\nlists: {national: n}\npurposes: {}", `purposes: configure at least one purpose`},
	{"purposes missing", "", "version: \"1\"\nlists: {national: n}", `purposes: required`},
	{"version missing", `version: "1"`, ``, `version: required`},
	{"version empty", `version: "1"`, `version: ""`, `version: must not be empty`},
	{"version a mapping", `version: "1"`, `version: {major: 1}`, `version: must be a name for this edition`},
	{"lists missing", "", "version: \"1\"\npurposes: {insurance: {call: {}}}", `lists: required`},
	{"a list's bad name", `  state: State DNC`, "  state: State DNC\n  Bad Name: x", `lists.Bad Name: list name "Bad Name" must be lower case`},
	{"duplicate key", `sms: {consent_required: true}`, `sms: {consent_required: true, consent_required: false}`,
		`purposes.insurance.sms.consent_required: duplicate key`},
	{"not YAML", "", "version: [1\n", `not a valid YAML or JSON document`},
	{"empty", "", "", `the document is empty`},
	{"a list, not a mapping", "", "- version: 1\n", `must be a mapping`},
	{"JSON with an error", "", `{"version": "1", "lists": {"national": "n"}, "purposes": {"insurance": {"call": {"caps": [{"max": 0, "window": "1h"}]}}}}`,
		`purposes.insurance.call.caps[0].max: 0 is out of range`},
	{"merge of a non-mapping", "", "version: \"1\"\nlists: {national: n}\npurposes: {insurance: {call: {<<: [1]}}}", `purposes.insurance.call: << must merge a mapping`},
	{"self-merging anchor", "", "version: \"1\"\nlists: {national: n}\npurposes: {insurance: {call: &c {<<: *c}}}", `merges (<<) nest more than 8 deep`},
}

func badDoc(t testing.TB, i int) string {
	b := badDocs[i]
	if b.old == "" {
		return b.new
	}
	if !strings.Contains(baseDoc, b.old) {
		t.Fatalf("%s: %q is not in baseDoc", b.name, b.old)
	}
	return strings.Replace(baseDoc, b.old, b.new, 1)
}

func TestParseRulesProblems(t *testing.T) {
	MustRules(t, baseDoc)
	for i, tc := range badDocs {
		t.Run(tc.name, func(t *testing.T) {
			doc := badDoc(t, i)
			rs, err := ParseRules([]byte(doc))
			if err == nil {
				t.Fatalf("ParseRules = %+v, nil; want an error with %q", rs, tc.want)
			}
			if got := ErrorKind(err); got != EInvalid {
				t.Errorf("ErrorKind = %s, want %s", got, EInvalid)
			}
			if got := ErrorCode(err); got != CodeInvalidRules {
				t.Errorf("ErrorCode = %s, want %s", got, CodeInvalidRules)
			}
			var re *RulesError
			if !errors.As(err, &re) {
				t.Fatalf("errors.As(%v, *RulesError) = false", err)
			}
			found := false
			for _, p := range re.Problems {
				found = found || strings.Contains(p.String(), tc.want)
			}
			if !found {
				t.Errorf("problems = %q\nwant one containing %q", re.Error(), tc.want)
			}
			if len(re.Problems) != 1 {
				t.Errorf("got %d problems, want 1: %q", len(re.Problems), re.Error())
			}
		})
	}
}

// Every problem is reported, not only the first, each with its line.
func TestParseRulesAllProblems(t *testing.T) {
	doc := strings.NewReplacer(
		`start: "08:00", end: "21:00"`, `start: "25:00", end: "21:00"`,
		`days: [mon, tue, wed, thu, fri, sat, sun]`, `days: [mon, funday]`,
		`lists: [national, state, internal]`, `lists: [natinal]`,
		`relationship: {lists: [national, state]`, `relationship: {lists: [internal]`,
	).Replace(baseDoc)
	_, err := ParseRules([]byte(doc))
	var re *RulesError
	if !errors.As(err, &re) {
		t.Fatalf("ParseRules: %v, want a *RulesError", err)
	}
	want := []Problem{
		{Path: "defaults.exemptions.relationship.lists[0]", Line: 11},
		{Path: "defaults.hours.start", Line: 13},
		{Path: "defaults.days[1]", Line: 14},
		{Path: "purposes.housing.sms.lists[0]", Line: 24},
	}
	if len(re.Problems) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%s", len(re.Problems), len(want), re.Error())
	}
	for i, p := range re.Problems {
		if p.Path != want[i].Path || p.Line != want[i].Line || p.Message == "" {
			t.Errorf("problem %d = %s on line %d, want path %s on line %d", i, p, p.Line, want[i].Path, want[i].Line)
		}
	}
	if msg := ErrorMessage(err); msg != "invalid rule set: 4 problems" {
		t.Errorf("ErrorMessage = %q, want %q", msg, "invalid rule set: 4 problems")
	}
}

func TestLoadRulesMissing(t *testing.T) {
	_, err := LoadRules("testdata/does-not-exist.yaml")
	if got := ErrorKind(err); got != ENotFound {
		t.Errorf("ErrorKind = %s, want %s (%v)", got, ENotFound, err)
	}
}

func TestResolve(t *testing.T) {
	rs := MustRules(t, `
version: "r"
lists: {national: n, state: s, internal: i}
defaults:
  lists: [national, state, internal]
  hours: {start: "08:00", end: "21:00"}
  holidays: ["12-25"]
  caps: [{max: 3, window: 24h}]
  regions:
    US: {hours: {start: "09:00", end: "20:00"}, holidays: ["07-04"]}
    US-FL: {caps: [{max: 2, window: 24h}, {max: 5, window: 7d}], holidays: ["2026-03-04"]}
    CA-ON: {days: [mon, tue, wed, thu, fri]}
purposes:
  insurance:
    call:
      holidays: ["2026-07-03"]
      regions:
        US-FL: {lists: [internal]}
  housing:
    call: {consent_required: true, lists: [internal], exemptions: {relationship: {lists: [state], inquiry_days: 30}}}
`)
	tests := []struct {
		name     string
		purpose  string
		number   phone.Number
		region   string
		hours    string
		days     string
		holidays string
		caps     string
		lists    string
		consent  bool
	}{
		{name: "no override", purpose: "insurance", number: phone.Number{E164: "+44", Region: "GB"},
			hours: "08:00–21:00", days: "mon,tue,wed,thu,fri,sat,sun", holidays: "12-25 2026-07-03", caps: "3/24h0m0s",
			lists: "national state internal"},
		{name: "country", purpose: "insurance", number: nyNumber, region: "US",
			hours: "09:00–20:00", days: "mon,tue,wed,thu,fri,sat,sun", holidays: "07-04 12-25 2026-07-03", caps: "3/24h0m0s",
			lists: "national state internal"},
		{name: "subdivision on top of its country", purpose: "insurance", number: flNumber, region: "US-FL",
			hours: "09:00–20:00", days: "mon,tue,wed,thu,fri,sat,sun", holidays: "07-04 12-25 2026-03-04 2026-07-03",
			caps: "2/24h0m0s 5/168h0m0s", lists: "internal"},
		{name: "subdivision of a country without an override", purpose: "insurance",
			number: phone.Number{E164: "+1416", Region: "CA", Area: "CA-ON"}, region: "CA-ON",
			hours: "08:00–21:00", days: "mon,tue,wed,thu,fri", holidays: "12-25 2026-07-03", caps: "3/24h0m0s",
			lists: "national state internal"},
		{name: "a purpose's own settings", purpose: "housing", number: flNumber, region: "US-FL",
			hours: "09:00–20:00", days: "mon,tue,wed,thu,fri,sat,sun", holidays: "07-04 12-25 2026-03-04",
			caps: "2/24h0m0s 5/168h0m0s", lists: "internal", consent: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := rs.Resolve(tc.purpose, ChannelCall, tc.number)
			if err != nil {
				t.Fatal(err)
			}
			var caps []string
			for _, c := range p.Caps {
				caps = append(caps, strconv.Itoa(c.Max)+"/"+c.Window.String())
			}
			for _, c := range []struct{ field, got, want string }{
				{"Region", p.Region, tc.region},
				{"Hours", p.Hours.String(), tc.hours},
				{"Days", p.Days.String(), tc.days},
				{"Holidays", strings.Join(p.Holidays.List(), " "), tc.holidays},
				{"Caps", strings.Join(caps, " "), tc.caps},
				{"Lists", strings.Join(p.Lists, " "), tc.lists},
			} {
				if c.got != c.want {
					t.Errorf("%s = %q, want %q", c.field, c.got, c.want)
				}
			}
			if p.ConsentRequired != tc.consent {
				t.Errorf("ConsentRequired = %v, want %v", p.ConsentRequired, tc.consent)
			}
		})
	}

	housing, _ := rs.Resolve("housing", ChannelCall, nyNumber)
	if !slices.Equal(housing.RelationshipExempts, []string{"state"}) || housing.PurchaseDays != 0 || housing.InquiryDays != 30 {
		t.Errorf("housing relationship = %v %d %d, want [state] 0 30", housing.RelationshipExempts, housing.PurchaseDays, housing.InquiryDays)
	}
	if fl, _ := rs.Resolve("insurance", ChannelCall, flNumber); fl.LongestCapWindow() != 7*24*time.Hour {
		t.Errorf("LongestCapWindow = %v, want 168h", fl.LongestCapWindow())
	}

	sms, err := rs.Resolve("insurance", ChannelSMS, nyNumber)
	if err != nil || sms.Allowed || sms.Purpose != "insurance" || sms.Channel != ChannelSMS {
		t.Errorf("Resolve(unconfigured sms) = %+v, %v; want a policy with Allowed false", sms, err)
	}
	if _, err := rs.Resolve("loans", ChannelCall, nyNumber); ErrorKind(err) != EInvalid || ErrorCode(err) != CodeUnknownPurpose {
		t.Errorf("Resolve(unknown purpose) error = %v, want kind invalid, code %s", err, CodeUnknownPurpose)
	} else if !strings.Contains(ErrorMessage(err), "housing, insurance") {
		t.Errorf("unknown purpose message %q does not list the purposes", ErrorMessage(err))
	}
	if _, err := rs.Resolve("insurance", "fax", nyNumber); ErrorKind(err) != EInvalid || ErrorCode(err) != CodeUnknownChannel {
		t.Errorf("Resolve(unknown channel) error = %v, want kind invalid, code %s", err, CodeUnknownChannel)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = rs.Resolve("insurance", ChannelCall, flNumber) }); n != 0 {
		t.Errorf("Resolve allocates %v times, want 0", n)
	}
}

// Anchors and merge keys are YAML's own way to share settings; they work too.
func TestParseRulesAnchors(t *testing.T) {
	rs := MustRules(t, `
version: "a"
lists: {national: n, internal: i}
purposes:
  insurance:
    call: &call
      lists: [national, internal]
      hours: {start: "09:00", end: "18:00"}
    sms:
      <<: *call
      consent_required: true
      hours: {start: "10:00", end: "17:00"}
  housing:
    call: *call
`)
	for _, tc := range []struct {
		purpose string
		ch      Channel
		hours   string
		consent bool
	}{
		{"insurance", ChannelCall, "09:00–18:00", false},
		{"insurance", ChannelSMS, "10:00–17:00", true},
		{"housing", ChannelCall, "09:00–18:00", false},
	} {
		p, err := rs.Resolve(tc.purpose, tc.ch, nyNumber)
		if err != nil {
			t.Fatal(err)
		}
		if p.Hours.String() != tc.hours || p.ConsentRequired != tc.consent || strings.Join(p.Lists, ",") != "national,internal" {
			t.Errorf("%s %s: hours %s consent %v lists %v; want %s %v [national internal]",
				tc.purpose, tc.ch, p.Hours, p.ConsentRequired, p.Lists, tc.hours, tc.consent)
		}
	}
}

// A rule set is YAML, and JSON is YAML: the API may send either.
func TestParseRulesJSON(t *testing.T) {
	rs := MustRules(t, `{"version": "j", "lists": {"national": "n", "internal": "i"},
		"defaults": {"lists": ["national", "internal"], "hours": {"start": "08:00", "end": "21:00"},
		             "holidays": ["2026-12-25", "01-01"], "caps": [{"max": 3, "window": "24h"}]},
		"purposes": {"insurance": {"call": {}, "sms": {"consent_required": true}}}}`)
	p, err := rs.Resolve("insurance", ChannelSMS, nyNumber)
	if err != nil {
		t.Fatal(err)
	}
	if !p.ConsentRequired || p.Hours.String() != "08:00–21:00" || len(p.Caps) != 1 || strings.Join(p.Holidays.List(), " ") != "01-01 2026-12-25" {
		t.Errorf("policy = %+v, want the JSON document's settings", p)
	}
}

// What ParseRules was given may be reused by the caller (Fiber reuses its
// buffers): the rule set must not keep it.
func TestParseRulesCopiesInput(t *testing.T) {
	data := []byte(baseDoc)
	rs, err := ParseRules(data)
	if err != nil {
		t.Fatal(err)
	}
	for i := range data {
		data[i] = 'x'
	}
	if string(rs.Source()) != baseDoc {
		t.Error("Source() changed with the caller's buffer")
	}
}

func TestWindowsAndClocks(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"24h", 24 * time.Hour, true}, {"7d", 7 * 24 * time.Hour, true}, {"90m", 90 * time.Minute, true},
		{"1h30m", 90 * time.Minute, true}, {"366d", 366 * 24 * time.Hour, true}, {"367d", 0, false},
		{"0d", 0, false}, {"d", 0, false}, {"-1d", 0, false}, {"0", 0, false}, {"1y", 0, false},
	} {
		got, ok := parseWindow(tc.in)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("parseWindow(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{{24 * time.Hour, "24h"}, {7 * 24 * time.Hour, "7d"}, {90 * time.Minute, "90m"}, {90 * time.Second, "1m30s"}} {
		if got := formatWindow(tc.d); got != tc.want {
			t.Errorf("formatWindow(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
	for _, tc := range []struct {
		in   string
		end  bool
		want Clock
		ok   bool
	}{
		{"00:00", false, 0, true}, {"08:30", false, 510, true}, {"23:59", false, 1439, true}, {"24:00", true, 1440, true},
		{"24:00", false, 0, false}, {"24:01", true, 0, false}, {"8:30", false, 0, false}, {"08:3a", false, 0, false}, {"0830", false, 0, false},
	} {
		got, ok := parseClock(tc.in, tc.end)
		if ok != tc.ok || got != tc.want {
			t.Errorf("parseClock(%q, %v) = %v, %v; want %v, %v", tc.in, tc.end, got, ok, tc.want, tc.ok)
		}
	}
}

// TestRuleSetLongestCapWindow: the longest cap window of any policy, region
// overrides included; 0 with no caps at all.
func TestRuleSetLongestCapWindow(t *testing.T) {
	for _, tc := range []struct {
		name, old, new string
		want           time.Duration
	}{
		{"defaults", "", "", 24 * time.Hour},
		{"a purpose's longer cap", `call: {}`, `call: {caps: [{max: 1, window: 7d}]}`, 7 * 24 * time.Hour},
		{"a region's longer cap", `US-FL: {hours: {start: "08:00", end: "20:00"}}`, `US-FL: {caps: [{max: 9, window: 30d}, {max: 2, window: 1h}]}`, 30 * 24 * time.Hour},
		{"no caps", `caps: [{max: 3, window: 24h}]`, ``, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := baseDoc
			if tc.old != "" {
				doc = strings.Replace(doc, tc.old, tc.new, 1)
			}
			rs, err := ParseRules([]byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			if got := rs.LongestCapWindow(); got != tc.want {
				t.Errorf("LongestCapWindow = %v, want %v", got, tc.want)
			}
		})
	}
}
