package filter

import (
	_ "embed"
	"fmt"
	"strconv"
	"strings"
)

// zip3CSV maps US ZIP Code prefixes to states; see the file's header.
//
//go:embed data/zip3.csv
var zip3CSV string

// zip3 is indexed by the first three digits of a ZIP Code: the ISO 3166-2
// area ("US-FL", or "PR", "VI", "GU" for the territories), "" if none.
var zip3 = mustParseZIP3(zip3CSV)

func mustParseZIP3(text string) *[1000]string {
	t, err := parseZIP3(text)
	if err != nil {
		panic(err)
	}
	return t
}

func parseZIP3(text string) (*[1000]string, error) {
	var t [1000]string
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ",")
		if len(f) != 3 {
			return nil, fmt.Errorf("zip3.csv:%d: want from,to,area", i+1)
		}
		from, err1 := strconv.Atoi(f[0])
		to, err2 := strconv.Atoi(f[1])
		if err1 != nil || err2 != nil || from < 0 || to > 999 || to < from || !regionRE.MatchString(f[2]) {
			return nil, fmt.Errorf("zip3.csv:%d: bad row %q", i+1, line)
		}
		if _, ok := stateZones[f[2]]; !ok {
			return nil, fmt.Errorf("zip3.csv:%d: area %s has no time zones", i+1, f[2])
		}
		for z := from; z <= to; z++ {
			if t[z] != "" {
				return nil, fmt.Errorf("zip3.csv:%d: prefix %03d is assigned twice", i+1, z)
			}
			t[z] = f[2]
		}
	}
	return &t, nil
}

// CodeInvalidPostalCode is the error code of a postal code that is not a US ZIP Code.
const CodeInvalidPostalCode = "invalid_postal_code"

// PostalArea returns the area (ISO 3166-2 "US-CA", or "PR", "VI", "GU") of a
// US ZIP Code, "12345" or "12345-6789", and the IANA time zones the area may
// be in. An assigned-to-none prefix (military mail, unassigned) gives "" and
// no error: it says nothing of the state. A postal code of another shape is
// an EInvalid error with code invalid_postal_code.
func PostalArea(code string) (area string, zones []string, err error) {
	c := strings.TrimSpace(code)
	if len(c) == 10 && c[5] == '-' {
		c = c[:5] + c[6:]
	}
	if len(c) != 5 && len(c) != 9 {
		return "", nil, Errorf(EInvalid, CodeInvalidPostalCode, "postal_code must be a US ZIP Code, like \"33101\" or \"33101-1234\"")
	}
	for i := 0; i < len(c); i++ {
		if c[i] < '0' || c[i] > '9' {
			return "", nil, Errorf(EInvalid, CodeInvalidPostalCode, "postal_code must be a US ZIP Code, like \"33101\" or \"33101-1234\"")
		}
	}
	p := int(c[0]-'0')*100 + int(c[1]-'0')*10 + int(c[2]-'0')
	area = zip3[p]
	return area, stateZones[area], nil
}

// stateZones are the IANA time zones of each state and territory a ZIP Code
// prefix maps to (every zone any part of it observes, so that calling hours
// take the most restrictive window). Source: the IANA tz database's zone.tab.
var stateZones = map[string][]string{
	"US-AL": {"America/Chicago"},
	"US-AK": {"America/Adak", "America/Anchorage", "America/Juneau", "America/Metlakatla", "America/Nome", "America/Sitka", "America/Yakutat"},
	"US-AZ": {"America/Denver", "America/Phoenix"},
	"US-AR": {"America/Chicago"},
	"US-CA": {"America/Los_Angeles"},
	"US-CO": {"America/Denver"},
	"US-CT": {"America/New_York"},
	"US-DE": {"America/New_York"},
	"US-DC": {"America/New_York"},
	"US-FL": {"America/Chicago", "America/New_York"},
	"US-GA": {"America/New_York"},
	"US-HI": {"Pacific/Honolulu"},
	"US-ID": {"America/Boise", "America/Los_Angeles"},
	"US-IL": {"America/Chicago"},
	"US-IN": {"America/Chicago", "America/Indiana/Indianapolis"},
	"US-IA": {"America/Chicago"},
	"US-KS": {"America/Chicago", "America/Denver"},
	"US-KY": {"America/Chicago", "America/Kentucky/Louisville"},
	"US-LA": {"America/Chicago"},
	"US-ME": {"America/New_York"},
	"US-MD": {"America/New_York"},
	"US-MA": {"America/New_York"},
	"US-MI": {"America/Detroit", "America/Menominee"},
	"US-MN": {"America/Chicago"},
	"US-MS": {"America/Chicago"},
	"US-MO": {"America/Chicago"},
	"US-MT": {"America/Denver"},
	"US-NE": {"America/Chicago", "America/Denver"},
	"US-NV": {"America/Boise", "America/Los_Angeles"},
	"US-NH": {"America/New_York"},
	"US-NJ": {"America/New_York"},
	"US-NM": {"America/Denver"},
	"US-NY": {"America/New_York"},
	"US-NC": {"America/New_York"},
	"US-ND": {"America/Chicago", "America/Denver"},
	"US-OH": {"America/New_York"},
	"US-OK": {"America/Chicago"},
	"US-OR": {"America/Boise", "America/Los_Angeles"},
	"US-PA": {"America/New_York"},
	"US-RI": {"America/New_York"},
	"US-SC": {"America/New_York"},
	"US-SD": {"America/Chicago", "America/Denver"},
	"US-TN": {"America/Chicago", "America/New_York"},
	"US-TX": {"America/Chicago", "America/Denver"},
	"US-UT": {"America/Denver"},
	"US-VT": {"America/New_York"},
	"US-VA": {"America/New_York"},
	"US-WA": {"America/Los_Angeles"},
	"US-WV": {"America/New_York"},
	"US-WI": {"America/Chicago"},
	"US-WY": {"America/Denver"},
	"PR":    {"America/Puerto_Rico"},
	"VI":    {"America/St_Thomas"},
	"GU":    {"Pacific/Guam"},
}

// areaCountry returns the country of an area: "US" for "US-FL", the area
// itself for a country ("PR").
func areaCountry(area string) string {
	c, _, _ := strings.Cut(area, "-")
	return c
}
