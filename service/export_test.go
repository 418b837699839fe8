package service

import (
	"time"

	"callfilter/filter"
)

// SetFirstSweepAfter sets how soon after its start Sweep first runs, until
// the test ends.
func SetFirstSweepAfter(t interface{ Cleanup(func()) }, d time.Duration) {
	old := firstSweepAfter
	firstSweepAfter = d
	t.Cleanup(func() { firstSweepAfter = old })
}

// ReplayAudited decides the audited check e again under rs from what its
// entry kept, as PreviewRules does; false for an entry that cannot be
// replayed.
func ReplayAudited(rs *filter.RuleSet, e *filter.AuditEntry) (filter.Decision, bool) {
	req, facts, at, ok := replayed(e)
	if !ok {
		return filter.Decision{}, false
	}
	return filter.Decide(rs, req, facts, at), true
}
