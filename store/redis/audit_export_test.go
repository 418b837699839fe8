package redis

// AuditBlockShift lets the tests of package redis_test shrink the blocks of
// the audit time summary.
var AuditBlockShift = &auditBlockShift
