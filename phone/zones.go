package phone

import (
	"slices"
	"strconv"
	"sync"

	"github.com/nyaruka/phonenumbers"
)

// timeZonesOf returns the IANA zones of a valid number, sorted, in a slice the
// caller owns.
//
// phonenumbers maps prefixes to zones and falls back to the zones of the whole
// calling code when it knows no finer prefix. For +1 that fallback is every
// zone of the 25 NANP countries, from Guam to Newfoundland, which leaves no
// calling window at all; so for NANP numbers the calling-code fallback is
// narrowed to the zones of the number's own region. Numbers with no zone at all
// (Etc/Unknown) get every zone of their region. Only numbers of non-geographic
// calling codes (+800, +882…) have none, and get nil.
func timeZonesOf(num *phonenumbers.PhoneNumber, region string) []string {
	zones, err := phonenumbers.GetTimezonesForNumber(num)
	return zonesOf(zones, err, int(num.GetCountryCode()), region)
}

// zonesOf is timeZonesOf given the library's answer for the number
// (GetTimezonesForNumber, which is GetTimezonesForPrefix of its E.164).
func zonesOf(zones []string, err error, cc int, region string) []string {
	if err != nil || isUnknownZone(zones) || (cc == 1 && slices.Equal(zones, nanpWideZones())) {
		if regional := regionZones(cc, region); len(regional) > 0 {
			zones = regional
		}
	}
	if isUnknownZone(zones) {
		return nil
	}
	// The library returns its own slice: copy before sorting (PITFALLS).
	out := slices.Clone(zones)
	slices.Sort(out)
	return slices.Compact(out)
}

func isUnknownZone(zones []string) bool {
	return len(zones) == 0 || (len(zones) == 1 && zones[0] == phonenumbers.UNKNOWN_TIMEZONE)
}

// regionZones returns every zone of region, for a number whose own zone is not
// known. NANP regions get the zones of their area codes; other regions get the
// zones of their whole calling code (a superset where a code is shared, as +44
// is by GB, GG, IM and JE, which errs to the restrictive side). The result is
// shared: do not modify it.
func regionZones(cc int, region string) []string {
	if cc == 1 {
		return nanpRegionZones()[region]
	}
	zones, err := phonenumbers.GetTimezonesForPrefix(strconv.Itoa(cc))
	if err != nil || isUnknownZone(zones) {
		return nil
	}
	return zones
}

// nanpWideZones is the library's answer for +1 as a whole.
var nanpWideZones = sync.OnceValue(func() []string {
	zones, _ := phonenumbers.GetTimezonesForPrefix("1")
	return zones
})

// nanpRegionZones collects, per NANP region, the zones of every NPA-NXX of the
// region's area codes (the library's +1 zone data has no key longer than
// NPA-NXX; TestNANPZonesDependOnSixDigits checks). Deriving it from the
// library keeps it in step with the library's zone data. It takes a few tens
// of milliseconds, once; Warm does it at start-up.
var nanpRegionZones = sync.OnceValue(func() map[string][]string {
	wide := nanpWideZones()
	sets := make(map[string]map[string]bool)
	for npa, facts := range nanpAreas {
		if facts.region == "" {
			continue
		}
		set := sets[facts.region]
		if set == nil {
			set = make(map[string]bool)
			sets[facts.region] = set
		}
		for nxx := 200; nxx <= 999; nxx++ {
			zones, err := phonenumbers.GetTimezonesForPrefix(strconv.Itoa(1_000_000 + npa*1000 + nxx))
			if err != nil || isUnknownZone(zones) || slices.Equal(zones, wide) {
				continue
			}
			for _, z := range zones {
				set[z] = true
			}
		}
	}
	byRegion := make(map[string][]string, len(sets))
	for region, set := range sets {
		zones := make([]string, 0, len(set))
		for z := range set {
			zones = append(zones, z)
		}
		slices.Sort(zones)
		byRegion[region] = zones
	}
	return byRegion
})
