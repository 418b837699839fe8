package filter

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	// Embedded so that calling hours are checked the same on a machine without
	// /usr/share/zoneinfo (a scratch container) as on a developer's laptop.
	_ "time/tzdata"
)

// Loaded time zones. time.LoadLocation reads and parses a zone file on every
// call, far too slow for the check path, so locations are kept in a map that is
// replaced, never modified (copy on write): reads take no lock and allocate
// nothing; writes happen once per zone name for the life of the process.
var (
	zones   atomic.Pointer[map[string]*time.Location]
	zonesMu sync.Mutex // serializes writers
)

// maxZones bounds the cache; IANA has about 600 names, so only nonsense fills it.
const maxZones = 2048

// location returns the IANA zone called name. "" and "Local" are refused: they
// would silently mean UTC or the server's zone, not the called party's.
func location(name string) (*time.Location, error) {
	if m := zones.Load(); m != nil {
		if loc, ok := (*m)[name]; ok {
			return loc, nil
		}
	}
	// A copy, so that the caller's string (often a request's) need not live on
	// the heap just because a cache miss may keep it.
	return loadLocation(strings.Clone(name))
}

// loadLocation loads the zone called name and adds it to the cache.
func loadLocation(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return nil, Errorf(EUnavailable, "", "unknown time zone %q", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		// Not cached: names come from the phone package, so a bad one is a bug
		// to surface, not a hot path to optimize.
		return nil, Wrap(EUnavailable, err, "unknown time zone %q", name)
	}
	zonesMu.Lock()
	defer zonesMu.Unlock()
	old := zones.Load()
	n := 0
	if old != nil {
		n = len(*old)
	}
	if n < maxZones {
		m := make(map[string]*time.Location, n+1)
		if old != nil {
			for k, v := range *old {
				m[k] = v
			}
		}
		m[name] = loc
		zones.Store(&m)
	}
	return loc, nil
}
