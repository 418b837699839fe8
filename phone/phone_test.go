package phone

import (
	"errors"
	"reflect"
	"slices"
	"testing"
)

var newYork = []string{"America/New_York"}

// nyNumber is +1 212 555 0134, the number most cases below write in some form.
var nyNumber = Number{
	E164: "+12125550134", Key: 12125550134, CountryCode: 1, Region: "US",
	Type: LineFixedOrMobile, TimeZones: newYork, Area: "US-NY",
}

func withExtension(n Number, ext string) Number {
	n.Extension = ext
	return n
}

// normalizeTests are valid input in the forms people write; the fuzz tests
// are seeded from them.
var normalizeTests = []struct {
	name, raw, region string
	want              Number
}{
	{"E.164", "+12125550134", "", nyNumber},
	{"E.164 any region", "+12125550134", "CN", nyNumber},
	{"national digits", "2125550134", "US", nyNumber},
	{"national digits from Canada", "2125550134", "CA", nyNumber},
	{"national digits from Jamaica", "2125550134", "JM", nyNumber},
	{"lower-case region", "2125550134", "us", nyNumber},
	{"trunk prefix", "12125550134", "US", nyNumber},
	{"parentheses", "(212) 555-0134", "US", nyNumber},
	{"dashes", "212-555-0134", "US", nyNumber},
	{"dots", "212.555.0134", "US", nyNumber},
	{"spaced international", "+1 212 555 0134", "", nyNumber},
	{"international with dashes", "+1 212-555-0134", "", nyNumber},
	{"international with parentheses", "+1 (212) 555-0134", "GB", nyNumber},
	{"trunk prefix punctuated", "1-212-555-0134", "US", nyNumber},
	{"padded", "  212 555 0134  ", "US", nyNumber},
	{"IDD of China", "00 1 212 555 0134", "CN", nyNumber},
	{"IDD of the US", "011 1 212 555 0134", "US", nyNumber},
	{"full-width digits", "＋１ ２１２ ５５５ ０１３４", "", nyNumber},
	{"tel URI", "tel:+1-212-555-0134", "", nyNumber},
	{"tel URI with extension", "tel:+1-212-555-0134;ext=7", "", withExtension(nyNumber, "7")},
	{"extension ext.", "212-555-0134 ext. 12", "US", withExtension(nyNumber, "12")},
	{"extension x", "212-555-0134 x12", "US", withExtension(nyNumber, "12")},
	{"international extension", "+1 (212) 555-0134 ext 5", "", withExtension(nyNumber, "5")},
	{"Washington DC", "+1 202 555 0134", "", Number{
		E164: "+12025550134", Key: 12025550134, CountryCode: 1, Region: "US",
		Type: LineFixedOrMobile, TimeZones: newYork, Area: "US-DC",
	}},
	{"Miami", "(305) 555-0134", "US", Number{
		E164: "+13055550134", Key: 13055550134, CountryCode: 1, Region: "US",
		Type: LineFixedOrMobile, TimeZones: newYork, Area: "US-FL",
	}},
	{"Oklahoma City", "405-555-0134", "US", Number{
		E164: "+14055550134", Key: 14055550134, CountryCode: 1, Region: "US",
		Type: LineFixedOrMobile, TimeZones: []string{"America/Chicago"}, Area: "US-OK",
	}},
	{"Florida panhandle, central exchange", "+1 850 200 0134", "", Number{
		E164: "+18502000134", Key: 18502000134, CountryCode: 1, Region: "US",
		Type: LineFixedOrMobile, TimeZones: []string{"America/Chicago"}, Area: "US-FL",
	}},
	{"Alaska", "+1 907 555 0134", "", Number{
		E164: "+19075550134", Key: 19075550134, CountryCode: 1, Region: "US",
		Type: LineFixedOrMobile, TimeZones: []string{"America/Adak", "America/Anchorage"}, Area: "US-AK",
	}},
	{"Toronto", "416 555 0134", "CA", Number{
		E164: "+14165550134", Key: 14165550134, CountryCode: 1, Region: "CA",
		Type: LineFixedOrMobile, TimeZones: []string{"America/Toronto"}, Area: "CA-ON",
	}},
	{"Vancouver from the US", "604-555-0134", "US", Number{
		E164: "+16045550134", Key: 16045550134, CountryCode: 1, Region: "CA",
		Type: LineFixedOrMobile, TimeZones: []string{"America/Vancouver"}, Area: "CA-BC",
	}},
	{"Nova Scotia: region but no single area", "+1 902 555 0134", "", Number{
		E164: "+19025550134", Key: 19025550134, CountryCode: 1, Region: "CA",
		Type: LineFixedOrMobile, TimeZones: []string{"America/Halifax"}, Area: "",
	}},
	{"Puerto Rico", "787-555-0134", "PR", Number{
		E164: "+17875550134", Key: 17875550134, CountryCode: 1, Region: "PR",
		Type: LineFixedOrMobile, TimeZones: []string{"America/Puerto_Rico"}, Area: "PR",
	}},
	{"Barbados fixed line, seventh digit decides", "+1 246 521 0134", "", Number{
		E164: "+12465210134", Key: 12465210134, CountryCode: 1, Region: "BB",
		Type: LineFixed, TimeZones: []string{"America/Barbados"}, Area: "BB",
	}},
	{"Barbados mobile, same NPA-NXX", "+1 246 521 1134", "", Number{
		E164: "+12465211134", Key: 12465211134, CountryCode: 1, Region: "BB",
		Type: LineMobile, TimeZones: []string{"America/Barbados"}, Area: "BB",
	}},
	{"China mobile", "138 0013 8000", "CN", Number{
		E164: "+8613800138000", Key: 8613800138000, CountryCode: 86, Region: "CN",
		Type: LineMobile, TimeZones: []string{"Asia/Shanghai"},
	}},
	{"China mobile international", "+86 138 0013 8000", "US", Number{
		E164: "+8613800138000", Key: 8613800138000, CountryCode: 86, Region: "CN",
		Type: LineMobile, TimeZones: []string{"Asia/Shanghai"},
	}},
	{"London", "+44 20 7946 0958", "", Number{
		E164: "+442079460958", Key: 442079460958, CountryCode: 44, Region: "GB",
		Type: LineFixed, TimeZones: []string{"Europe/London"},
	}},
	{"London national", "020 7946 0958", "GB", Number{
		E164: "+442079460958", Key: 442079460958, CountryCode: 44, Region: "GB",
		Type: LineFixed, TimeZones: []string{"Europe/London"},
	}},
	{"Sydney", "+61 2 9374 4000", "", Number{
		E164: "+61293744000", Key: 61293744000, CountryCode: 61, Region: "AU",
		Type: LineFixed, TimeZones: []string{"Australia/Sydney"},
	}},
	{"international freephone has no zone", "+800 1234 5678", "", Number{
		E164: "+80012345678", Key: 80012345678, CountryCode: 800, Region: "001",
		Type: LineTollFree,
	}},
}

func TestNormalize(t *testing.T) {
	for _, tt := range normalizeTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Normalize(tt.raw, tt.region)
			if err != nil {
				t.Fatalf("Normalize(%q, %q): %v", tt.raw, tt.region, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Normalize(%q, %q)\n got %+v\nwant %+v", tt.raw, tt.region, got, tt.want)
			}
		})
	}
}

// errorTests are input Normalize refuses; ParseKey refuses them too unless
// keyOK (a possible but invalid number).
var errorTests = []struct {
	raw, region string
	wantIs      error
	wantMsg     string
	keyOK       bool
}{
	{"", "US", ErrMissing, "missing number", false},
	{"   ", "US", ErrMissing, "missing number", false},
	{"\t\u00a0", "", ErrMissing, "missing number", false},
	{"abc", "US", ErrInvalid, "invalid number: not a phone number", false},
	{"123", "US", ErrInvalid, "invalid number: too short", false},
	{"2125550134", "", ErrInvalid, "invalid number: no country code (start with + or give a default region)", false},
	{"2125550134", "ZZ", ErrInvalid, "invalid number: no country code (start with + or give a default region)", false},
	{"+999 123 4567", "", ErrInvalid, "invalid number: unknown country calling code", false},
	{"555-0134", "US", ErrInvalid, "invalid number: local number without its area code", false},
	{"+1 212 555 01345", "", ErrInvalid, "invalid number: too long", false},
	// The US exit code is 011; 00 from the US reads as +1 00… (PITFALLS).
	{"0012125550100", "US", ErrInvalid, "invalid number: too long", false},
	{"+1 001 555 0100", "US", ErrInvalid, "invalid number: not a valid number for country code +1", false},
	{"+1 212 155 0134", "", ErrInvalid, "invalid number: not a valid number for country code +1", false},
	{"+44 20 7946 095", "", ErrInvalid, "invalid number: not a valid number for country code +44", true},
	{"+86 200 0000 0000", "", ErrInvalid, "invalid number: not a valid number for region CN", true},
	{"+49 30 1", "", ErrInvalid, "invalid number: local number without its area code", false},
	{"tel:;phone-context=", "", ErrInvalid, "invalid number: not a phone number", false},
	// Found by FuzzNormalize: possible for ParseKey, but its E164
	// (+440000000000) reads back as another number, so it cannot be a key.
	{"00000000000", "GB", ErrInvalid, "invalid number: not a valid number for country code +44", false},
}

func TestNormalizeErrors(t *testing.T) {
	for _, tt := range errorTests {
		_, err := Normalize(tt.raw, tt.region)
		if !errors.Is(err, tt.wantIs) {
			t.Errorf("Normalize(%q, %q): got error %v, want one wrapping %v", tt.raw, tt.region, err, tt.wantIs)
			continue
		}
		if err.Error() != tt.wantMsg {
			t.Errorf("Normalize(%q, %q): got message %q, want %q", tt.raw, tt.region, err.Error(), tt.wantMsg)
		}
	}
}

func TestNormalizeNewAreaCodeIsInvalid(t *testing.T) {
	// 624 (Buffalo overlay) is newer than the metadata: Normalize is strict.
	_, err := Normalize("+1 624 555 0134", "")
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("got %v, want ErrInvalid", err)
	}
}

func TestParseKey(t *testing.T) {
	tests := []struct {
		name, raw, region string
		want              Number
	}{
		{"valid is as Normalize", "(212) 555-0134", "US", nyNumber},
		{"valid with extension", "212-555-0134 x9", "US", withExtension(nyNumber, "9")},
		{"area code newer than the metadata", "+1 624 555 0134", "", Number{
			E164: "+16245550134", Key: 16245550134, CountryCode: 1, Type: LineUnknown, Area: "US-NY",
		}},
		{"unknown NANP area code", "(299) 555-0134", "US", Number{
			E164: "+12995550134", Key: 12995550134, CountryCode: 1, Type: LineUnknown,
		}},
		{"invalid but possible elsewhere", "+86 200 0000 0000", "", Number{
			E164: "+8620000000000", Key: 8620000000000, CountryCode: 86, Type: LineUnknown,
		}},
		{"China mobile", "13800138000", "CN", Number{
			E164: "+8613800138000", Key: 8613800138000, CountryCode: 86, Region: "CN",
			Type: LineMobile, TimeZones: []string{"Asia/Shanghai"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseKey(tt.raw, tt.region)
			if err != nil {
				t.Fatalf("ParseKey(%q, %q): %v", tt.raw, tt.region, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseKey(%q, %q)\n got %+v\nwant %+v", tt.raw, tt.region, got, tt.want)
			}
		})
	}
}

func TestParseKeyErrors(t *testing.T) {
	for _, tt := range errorTests {
		_, err := ParseKey(tt.raw, tt.region)
		if tt.keyOK {
			if err != nil {
				t.Errorf("ParseKey(%q, %q): %v, want a possible number", tt.raw, tt.region, err)
			}
			continue
		}
		if !errors.Is(err, tt.wantIs) {
			t.Errorf("ParseKey(%q, %q): got error %v, want one wrapping %v", tt.raw, tt.region, err, tt.wantIs)
		}
	}
}

func TestParseKeyAgreesWithNormalizeOnValidInput(t *testing.T) {
	for _, tt := range normalizeTests {
		got, err := ParseKey(tt.raw, tt.region)
		if err != nil {
			t.Errorf("ParseKey(%q, %q): %v", tt.raw, tt.region, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseKey(%q, %q)\n got %+v\nwant %+v", tt.raw, tt.region, got, tt.want)
		}
	}
}

// A number whose zone the library knows only for +1 as a whole (toll-free,
// 5XX) gets every zone of its region, not of all 25 NANP countries.
func TestTimeZonesOfUnknownZoneAreTheRegions(t *testing.T) {
	us := nanpRegionZones()["US"]
	for _, want := range []string{"America/New_York", "America/Chicago", "America/Denver", "America/Phoenix", "America/Los_Angeles", "America/Anchorage", "Pacific/Honolulu"} {
		if !slices.Contains(us, want) {
			t.Errorf("US zones %v lack %s", us, want)
		}
	}
	for _, notUS := range []string{"America/Toronto", "America/Puerto_Rico", "Pacific/Guam", "America/Jamaica"} {
		if slices.Contains(us, notUS) {
			t.Errorf("US zones %v include %s", us, notUS)
		}
	}
	for _, raw := range []string{"+1 800 555 0134", "+1 500 555 0134", "+1 888 555 0134"} {
		for _, normalize := range []func(string, string) (Number, error){Normalize, normalizeFull} {
			n, err := normalize(raw, "")
			if err != nil {
				t.Fatalf("%q: %v", raw, err)
			}
			if n.Region != "US" || !slices.Equal(n.TimeZones, us) {
				t.Errorf("%q: got region %s zones %v, want US %v", raw, n.Region, n.TimeZones, us)
			}
		}
	}
	ca := nanpRegionZones()["CA"]
	if !slices.Contains(ca, "America/Toronto") || !slices.Contains(ca, "America/St_Johns") || slices.Contains(ca, "America/New_York") {
		t.Errorf("CA zones %v: want Toronto and St_Johns, not New_York", ca)
	}
}

// TimeZones from the full path belong to the caller: changing them must not
// change later answers (the library hands out its own slice).
func TestTimeZonesOfFullPathAreCopies(t *testing.T) {
	first, err := normalizeFull("+1 907 555 0134", "")
	if err != nil {
		t.Fatal(err)
	}
	first.TimeZones[0] = "Mars/Olympus_Mons"
	again, err := normalizeFull("+1 907 555 0134", "")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"America/Adak", "America/Anchorage"}; !slices.Equal(again.TimeZones, want) {
		t.Errorf("got %v, want %v", again.TimeZones, want)
	}
}

func TestLast4(t *testing.T) {
	if got := nyNumber.Last4(); got != "0134" {
		t.Errorf("got %q, want 0134", got)
	}
}

func TestWarm(t *testing.T) {
	Warm() // must not panic, and leaves the zones of NANP regions ready
	if len(nanpRegionZones()["US"]) == 0 {
		t.Error("no US zones after Warm")
	}
}

func TestRecoverInvalid(t *testing.T) {
	panicky := func() (n Number, err error) {
		defer recoverInvalid(&n, &err)
		n.E164 = "+1"
		panic("index out of range")
	}
	n, err := panicky()
	if !errors.Is(err, ErrInvalid) || !reflect.DeepEqual(n, Number{}) {
		t.Errorf("got %+v, %v; want the zero Number and ErrInvalid", n, err)
	}
}
