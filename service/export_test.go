package service

import "callfilter/filter"

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
