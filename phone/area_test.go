package phone

import (
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

func TestAreaOf(t *testing.T) {
	tests := []struct {
		npa  int
		want string
	}{
		{212, "US-NY"}, {305, "US-FL"}, {405, "US-OK"}, {416, "CA-ON"}, {604, "CA-BC"},
		{850, "US-FL"}, {202, "US-DC"}, {771, "US-DC"}, {907, "US-AK"}, {808, "US-HI"},
		{514, "CA-QC"}, {709, "CA-NL"}, {787, "PR"}, {939, "PR"}, {876, "JM"}, {809, "DO"},
		{340, "VI"}, {671, "GU"},
		// Non-geographic codes map to nothing.
		{800, ""}, {888, ""}, {877, ""}, {866, ""}, {855, ""}, {844, ""}, {833, ""},
		{900, ""}, {500, ""}, {533, ""}, {700, ""}, {710, ""}, {600, ""},
		// So do codes spanning several provinces or territories.
		{867, ""}, {902, ""}, {782, ""},
		// And what is not an area code.
		{0, ""}, {199, ""}, {999, ""}, {-1, ""}, {1000, ""}, {212555, ""},
	}
	for _, tt := range tests {
		if got := AreaOf(tt.npa); got != tt.want {
			t.Errorf("AreaOf(%d) = %q, want %q", tt.npa, got, tt.want)
		}
	}
}

func TestNANPAreasTable(t *testing.T) {
	us, ca := 0, 0
	for npa, f := range nanpAreas {
		switch {
		case strings.HasPrefix(f.area, "US-"):
			us++
		case strings.HasPrefix(f.area, "CA-"):
			ca++
		}
		if f.area == "" && f.region != "" && npa != 867 && npa != 902 && npa != 782 {
			t.Errorf("NPA %d: region %s but no area", npa, f.region)
		}
	}
	// About 330 US and 40 Canadian area codes were in service in 2024, plus
	// overlays since.
	if us < 330 || ca < 40 {
		t.Errorf("table has %d US and %d Canadian area codes, want at least 330 and 40", us, ca)
	}
}

func TestParseNANPAreasRejectsBadTables(t *testing.T) {
	tests := []struct{ name, csv string }{
		{"duplicate", "npa,region,area,note\n212,US,US-NY,\n212,US,US-NJ,\n"},
		{"bad header", "npa,area,note\n212,US-NY,\n"},
		{"not an NPA", "npa,region,area,note\n21,US,US-NY,\n"},
		{"NPA starting with 1", "npa,region,area,note\n112,US,US-NY,\n"},
		{"area outside region", "npa,region,area,note\n416,US,CA-ON,\n"},
		{"US without subdivision", "npa,region,area,note\n212,US,US,\n"},
		{"subdivision of other NANP", "npa,region,area,note\n787,PR,PR-SJ,\n"},
		{"bad region", "npa,region,area,note\n212,USA,,\n"},
		{"missing field", "npa,region,area,note\n212,US,US-NY\n"},
	}
	for _, tt := range tests {
		if _, err := parseNANPAreas(strings.NewReader(tt.csv)); err == nil {
			t.Errorf("%s: parsed without error", tt.name)
		}
	}
	if _, err := parseNANPAreas(strings.NewReader(nanpAreasCSV)); err != nil {
		t.Errorf("data/nanp_areas.csv: %v", err)
	}
}

// nanpNumbersOf returns, for an NPA, the region and type of its first
// geographic (fixed or mobile) number in the metadata, or of its first valid
// number if it has no geographic one; ok is false if it has no valid number.
func nanpNumbersOf(npa int) (region string, typ phonenumbers.PhoneNumberType, ok bool) {
	num, err := phonenumbers.Parse("+12125550134", "")
	if err != nil {
		panic(err)
	}
	for nxx := 200; nxx <= 999; nxx++ {
		national := uint64(npa*1000+nxx)*10_000 + 5555
		num.NationalNumber = &national
		if !phonenumbers.IsValidNumber(num) {
			continue
		}
		t := phonenumbers.GetNumberType(num)
		if !ok {
			region, typ, ok = phonenumbers.GetRegionCodeForNumber(num), t, true
		}
		if isGeographic(t) {
			return phonenumbers.GetRegionCodeForNumber(num), t, true
		}
	}
	return region, typ, ok
}

func isGeographic(t phonenumbers.PhoneNumberType) bool {
	return t == phonenumbers.FIXED_LINE || t == phonenumbers.MOBILE || t == phonenumbers.FIXED_LINE_OR_MOBILE
}

// The table's region for an NPA is the region phonenumbers gives its numbers,
// and every area code the metadata knows is in the table.
func TestNANPAreasAgreeWithMetadata(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("validates a number per exchange; a data check, not a concurrency one")
	}
	for npa := 200; npa <= 999; npa++ {
		region, typ, ok := nanpNumbersOf(npa)
		f := nanpAreas[npa]
		switch {
		case !ok:
			if f.region != "" {
				t.Logf("NPA %d (%s) is not in phonenumbers' metadata: valid only to ParseKey", npa, f.area)
			}
		case isGeographic(typ) && f.region == "":
			t.Errorf("NPA %d: metadata has %s numbers in %s; the table lacks it", npa, lineTypeOf(typ), region)
		case isGeographic(typ) && f.region != region:
			t.Errorf("NPA %d: table says region %q, metadata %q", npa, f.region, region)
		case !isGeographic(typ) && f.area != "":
			t.Errorf("NPA %d: metadata has only %s numbers; table gives area %q", npa, lineTypeOf(typ), f.area)
		}
	}
}
