package phone

import (
	_ "embed"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// nanpAreasCSV lists NANP area codes (NPAs), one row each:
//
//	npa,region,area,note
//
// region is the ISO 3166-1 code of the country the NPA serves (US, CA, PR,
// JM…), as phonenumbers reports it for the NPA's numbers; area is the ISO
// 3166-2 subdivision for US and Canadian NPAs ("US-NY", "CA-ON") and the ISO
// 3166-1 code for the other NANP countries and territories ("PR", "JM").
// Non-geographic NPAs (toll-free, 5XX, 600, 700, 900…) have neither, and an NPA
// spanning several subdivisions (867, 902, 782) has a region but no area: a
// wrong state is worse than none for state calling rules.
//
//go:embed data/nanp_areas.csv
var nanpAreasCSV string

// npaFacts is what the area table says of one NPA.
type npaFacts struct {
	region string // ISO 3166-1, "" for non-geographic NPAs
	area   string // ISO 3166-2 (US, CA) or ISO 3166-1 (other NANP), "" if unknown
}

// nanpAreas is indexed by NPA; rows not in the table are zero.
var nanpAreas = mustParseNANPAreas(nanpAreasCSV)

func mustParseNANPAreas(text string) *[1000]npaFacts {
	t, err := parseNANPAreas(strings.NewReader(text))
	if err != nil {
		panic("phone: data/nanp_areas.csv: " + err.Error())
	}
	return t
}

// parseNANPAreas reads the area table, rejecting malformed rows and duplicate
// NPAs so that a bad edit of the data file fails the build's tests, not a call.
func parseNANPAreas(r io.Reader) (*[1000]npaFacts, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 4
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("reading header: %w", err)
	}
	if strings.Join(header, ",") != "npa,region,area,note" {
		return nil, fmt.Errorf("header is %q, want npa,region,area,note", strings.Join(header, ","))
	}
	var t [1000]npaFacts
	seen := make(map[int]bool)
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return &t, nil
		}
		if err != nil {
			return nil, err
		}
		line, _ := cr.FieldPos(0)
		npa, err := strconv.Atoi(rec[0])
		if err != nil || len(rec[0]) != 3 || npa < 200 {
			return nil, fmt.Errorf("line %d: npa %q is not a NANP area code (200-999)", line, rec[0])
		}
		if seen[npa] {
			return nil, fmt.Errorf("line %d: npa %d listed twice", line, npa)
		}
		seen[npa] = true
		region, area := rec[1], rec[2]
		if region != "" && !isRegionCode(region) {
			return nil, fmt.Errorf("line %d: region %q is not an ISO 3166-1 alpha-2 code", line, region)
		}
		if area != "" {
			country, sub, hasSub := strings.Cut(area, "-")
			switch {
			case country != region:
				return nil, fmt.Errorf("line %d: area %q is not in region %q", line, area, region)
			case (region == "US" || region == "CA") && (!hasSub || len(sub) != 2):
				return nil, fmt.Errorf("line %d: area %q of a US or Canadian NPA must be an ISO 3166-2 subdivision", line, area)
			case region != "US" && region != "CA" && hasSub:
				return nil, fmt.Errorf("line %d: area %q: NANP countries other than US and CA take their ISO 3166-1 code", line, area)
			}
		}
		t[npa] = npaFacts{region: region, area: area}
	}
}

func isRegionCode(s string) bool {
	return len(s) == 2 && 'A' <= s[0] && s[0] <= 'Z' && 'A' <= s[1] && s[1] <= 'Z'
}

// AreaOf returns the subdivision served by a NANP area code: ISO 3166-2 for
// the US and Canada ("US-FL", "CA-ON", "US-DC"), the ISO 3166-1 code for the
// other NANP countries and territories ("PR", "JM"), and "" for non-geographic
// codes (800, 900, 5XX…), codes spanning several subdivisions (867, 902, 782)
// and codes the table does not know.
func AreaOf(npa int) string {
	if npa < 0 || npa >= len(nanpAreas) {
		return ""
	}
	return nanpAreas[npa].area
}
