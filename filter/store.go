package filter

import (
	"context"
	"time"
)

// Store keeps the facts decisions are made from, durably: anything a method
// acknowledges (returns nil for) survives a crash of the process. All methods
// are safe for concurrent use. Errors are *Error values: EUnavailable when the
// store cannot be reached or read, EInvalid for bad arguments, ENotFound and
// EConflict where stated. Consent, relationship and attempt records are keyed by
// Subject, never by the plain number; only lists hold numbers (as keys).
type Store interface {
	ListStore
	FactStore
	KeyStore
	Close() error
}

// ListStore keeps do-not-contact lists: sets of phone.Number.Key values by name.
type ListStore interface {
	// AddToList adds keys to the named list, creating the list if needed, and
	// returns how many were not there before. Adding a present key is a no-op.
	AddToList(ctx context.Context, list string, keys []uint64) (added int, err error)
	// RemoveFromList removes keys from the named list and returns how many were
	// there. Removing from a list that does not exist removes nothing.
	RemoveFromList(ctx context.Context, list string, keys []uint64) (removed int, err error)
	// ScanList calls fn with every key of the named list in ascending order,
	// stopping at fn's first error, which it returns. A list that does not
	// exist has no keys.
	ScanList(ctx context.Context, list string, fn func(key uint64) error) error
	// Lists describes every list, sorted by name.
	Lists(ctx context.Context) ([]ListInfo, error)
}

// ListInfo describes a list.
type ListInfo struct {
	Name      string
	Count     int64
	UpdatedAt time.Time
}

// FactStore keeps consents, revocations, relationships and attempts.
type FactStore interface {
	// Facts reads, in one round trip, every fact q asks for: the exact
	// membership of q.Key in each of q.Lists (ListPresent or ListAbsent), the
	// consents of q.Subject with q.Seller (every purpose and channel), every
	// revocation of q.Subject, the relationships of q.Subject with q.Seller, and
	// the attempts recorded for (Subject, Seller, Purpose, Channel) at or after
	// q.AttemptsSince (none when it is zero).
	Facts(ctx context.Context, q FactsQuery) (Facts, error)
	// Reserve records an attempt at q.At for (Subject, Seller, Purpose, Channel)
	// if, counting it, no cap in q.Caps is exceeded, and reports whether it did.
	// The check and the record are one atomic step: concurrent reservations
	// never together exceed a cap.
	Reserve(ctx context.Context, q ReserveQuery) (granted bool, err error)
	// PutConsent records a grant; it replaces an earlier grant for the same
	// (Subject, Seller, Purpose, Channel).
	PutConsent(ctx context.Context, c Consent) error
	// Revoke records a revocation and returns how many recorded consents it
	// matches. A revocation is kept even when it matches none.
	Revoke(ctx context.Context, r Revocation) (matched int, err error)
	// PutRelationship records a relationship event; for one (Subject, Seller,
	// Kind) the latest At is kept.
	PutRelationship(ctx context.Context, r Relationship) error
}

// FactsQuery says which facts Facts should read.
type FactsQuery struct {
	// Key is the number's list key; Lists are the lists to check it against exactly.
	Key   uint64
	Lists []string
	// Subject identifies the number for consents, relationships and attempts.
	Subject Subject
	Seller  string
	Purpose string
	Channel Channel
	// AttemptsSince bounds the attempts read; zero reads none.
	AttemptsSince time.Time
}

// ReserveQuery is a request to record one attempt under caps.
type ReserveQuery struct {
	Subject Subject
	Seller  string
	Purpose string
	Channel Channel
	At      time.Time
	Caps    []Cap
}

// Role is what an API key may do.
type Role string

// Roles, from least to most trusted.
const (
	RoleDialer   Role = "dialer"   // checks
	RoleScrubber Role = "scrubber" // checks and bulk scrubs
	RoleOfficer  Role = "officer"  // checks, lists, consents, relationships, rules, audit
	RoleAdmin    Role = "admin"    // everything, keys included
)

// ParseRole returns the role named s or an EInvalid error.
func ParseRole(s string) (Role, error) {
	switch Role(s) {
	case RoleDialer, RoleScrubber, RoleOfficer, RoleAdmin:
		return Role(s), nil
	}
	return "", Errorf(EInvalid, "invalid_role", "unknown role %q: use dialer, scrubber, officer or admin", s)
}

// APIKey is a stored API key. Only the SHA-256 of the secret is kept.
type APIKey struct {
	Name      string
	Role      Role
	Hash      [32]byte
	CreatedAt time.Time
}

// KeyStore keeps API keys.
type KeyStore interface {
	// PutKey stores k; EConflict if a key with that name exists.
	PutKey(ctx context.Context, k APIKey) error
	// KeyByHash returns the key whose secret hashes to h; ENotFound if none.
	KeyByHash(ctx context.Context, h [32]byte) (APIKey, error)
	// Keys returns every key, sorted by name.
	Keys(ctx context.Context) ([]APIKey, error)
	// DeleteKey removes the named key; ENotFound if none.
	DeleteKey(ctx context.Context, name string) error
}
