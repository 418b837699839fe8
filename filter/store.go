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
	ExpiringListStore // a ListStore whose entries may expire
	FactStore
	ReassignedStore
	OutcomeStore
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
	// SetListSource records the source date of the named list's data: when
	// the registry published the file it was imported from (ListInfo.SourceDate).
	// It may move back (an officer corrects it) and does not change UpdatedAt
	// or the keys. EInvalid for a zero date or a bad name, ENotFound if the
	// list does not exist.
	SetListSource(ctx context.Context, list string, sourceDate time.Time) error
	// ReplaceList makes the named list exactly the keys of list from (with
	// their expiries, its count and its source date; UpdatedAt is now) and
	// deletes from, in one atomic step: a reader sees the old contents or
	// the new, never a mix, and a failed call changes nothing. The list is
	// created if it does not exist. from must be a variant of the list (see
	// ListVariant: listfeed stages a full import in list~staging), so that a
	// store can keep the two together (Redis: one Cluster slot). EInvalid
	// for bad names or a from that is not a variant of the list; ENotFound
	// if from does not exist (nothing changes).
	ReplaceList(ctx context.Context, list, from string) (ListInfo, error)
	// DeleteList removes the named list: its keys, their expiries and its
	// info (Lists no longer shows it). EInvalid for a bad name; ENotFound if
	// it does not exist.
	DeleteList(ctx context.Context, list string) error
}

// VariantSep separates a list's name from the suffix of a variant of it: the
// list "national~staging" is a variant of "national". Stores keep a list and
// its variants together, so that ReplaceList can swap them atomically.
const VariantSep = '~'

// ListVariant returns the list that the named list is a variant of (the name
// before its first VariantSep) and true, or "" and false when name is no
// variant (no VariantSep, or one at its start).
func ListVariant(name string) (base string, ok bool) {
	for i := 0; i < len(name); i++ {
		if name[i] == VariantSep {
			return name[:i], i > 0
		}
	}
	return "", false
}

// ValidateReplace checks the names of a ReplaceList: both valid list names,
// from a variant of list.
func ValidateReplace(list, from string) error {
	if err := ValidateListName(list); err != nil {
		return err
	}
	if err := ValidateListName(from); err != nil {
		return err
	}
	if base, ok := ListVariant(from); !ok || base != list {
		return Errorf(EInvalid, "", "list %q cannot replace list %q: only a variant of a list (%s%c<suffix>) can", from, list, list, VariantSep)
	}
	return nil
}

// ExpiringListStore is a ListStore whose entries may expire: a list entry
// added with an expiry stops matching at it, without a rebuild (China's
// insurance refusers are blocked for six months to two years; 180-day
// entries). The entry stays in the list (ScanList yields it, Count counts
// it, and bloom filters built from it say "maybe") until it is removed;
// Facts reports its ExpiresAt, and Decide reads it as absent from then on.
type ExpiringListStore interface {
	ListStore
	// AddToListUntil adds keys to the named list as AddToList does, each to
	// expire at expiresAt, and returns how many were not there before. An
	// entry's expiry only ever moves later, so that no write shortens a
	// block: a key present without expiry stays permanent, a key present
	// with an expiry keeps the later of the two. AddToList of a key makes it
	// permanent; RemoveFromList removes the key and its expiry. EInvalid as
	// AddToList, and for a zero expiresAt.
	AddToListUntil(ctx context.Context, list string, keys []uint64, expiresAt time.Time) (added int, err error)
	// SweepList removes the entries of the named list whose expiry is at or
	// before before (they match nothing from their expiry on) and returns
	// how many it removed. Each entry's expiry is read again in the atomic
	// step that removes it, so an entry whose expiry moved later, or that
	// became permanent, meanwhile stays. A sweep is a removal as
	// RemoveFromList's: the count falls, UpdatedAt is set when something
	// was removed, a change feed (Redis) records it. It works in steps (a
	// transaction or script per page of entries): a failed call may have
	// removed some, and sweeping again is safe. A list that does not exist
	// or has no expiring entry removes nothing and is not created. EInvalid
	// for an empty list name or a zero before.
	SweepList(ctx context.Context, list string, before time.Time) (removed int, err error)
}

// ReassignedStore keeps what a reassigned-numbers feed says: the latest date
// each number was disconnected, by Subject (never the plain number). Facts
// reads it into Facts.DisconnectedAt in its one round trip.
type ReassignedStore interface {
	// PutDisconnects records each disconnect; for one Subject the latest At
	// is kept, so an older row of a later feed changes nothing. EInvalid
	// (nothing is written) if any row has a zero Subject or At.
	PutDisconnects(ctx context.Context, ds []Disconnect) error
}

// OutcomeStore keeps how contact attempts ended, by Subject. Facts reads the
// outcomes of q.Subject with q.Seller at or after q.OutcomesSince into
// Facts.Outcomes in its one round trip.
type OutcomeStore interface {
	// RecordOutcome records o; two outcomes at one instant are both kept.
	// Outcomes older than MaxOutcomeAge may be pruned. EInvalid (nothing
	// is written) for a zero Subject or At, an empty Seller, Purpose,
	// Channel or Kind.
	RecordOutcome(ctx context.Context, o CallOutcome) error
}

// MaxOutcomeAge is how long stores must keep outcomes: the longest
// refusal_block_days a rule set may give, and a day.
const MaxOutcomeAge = (maxDays + 1) * 24 * time.Hour

// ListInfo describes a list.
type ListInfo struct {
	Name  string
	Count int64
	// UpdatedAt is when the list's keys were last written.
	UpdatedAt time.Time
	// SourceDate is when the registry published the data the list holds
	// (SetListSource), in UTC to the millisecond; zero if unknown. A list
	// re-imported today from a month-old file is a month old.
	SourceDate time.Time
}

// ValidateListSource checks a source date for SetListSource: EInvalid when it
// is zero or before 1970 (no registry file is; stores keep Unix ms).
func ValidateListSource(sourceDate time.Time) error {
	if sourceDate.IsZero() || sourceDate.UnixMilli() <= 0 {
		return Errorf(EInvalid, "", "the list's source date is missing or before 1970: give the date the registry published the file")
	}
	return nil
}

// FactStore keeps consents, revocations, relationships and attempts.
type FactStore interface {
	// Facts reads, in one round trip, every fact q asks for: the exact
	// membership of q.Key in each of q.Lists (ListPresent or ListAbsent), the
	// consents of q.Subject with q.Seller (every purpose and channel), every
	// revocation of q.Subject, the relationships of q.Subject with q.Seller,
	// the attempts recorded for (Subject, Seller, Purpose, Channel) at or after
	// q.AttemptsSince (none when it is zero), the latest disconnect date of
	// q.Subject (see ReassignedStore), and the outcomes of q.Subject with
	// q.Seller at or after q.OutcomesSince (none when it is zero; see
	// OutcomeStore). A present list entry that expires carries its ExpiresAt
	// (see ExpiringListStore).
	Facts(ctx context.Context, q FactsQuery) (Facts, error)
	// FactsMany reads the facts of many queries at once: out[i] is what
	// Facts(qs[i]) returns, in one round trip for them all (a scrub's chunk
	// of rows that need the store). An error fails the whole batch: no
	// element of out may be used. EInvalid (nothing read) if a query is
	// invalid, as Facts says.
	FactsMany(ctx context.Context, qs []FactsQuery) ([]Facts, error)
	// Reserve records an attempt at q.At for (Subject, Seller, Purpose, Channel)
	// if, counting it, no cap in q.Caps is exceeded, and reports whether it did.
	// The check and the record are one atomic step: concurrent reservations
	// never together exceed a cap.
	Reserve(ctx context.Context, q ReserveQuery) (granted bool, err error)
	// PruneAttempts deletes the attempts recorded at or before before, which
	// no cap can count once the caller's longest window ends after before,
	// and returns how many it deleted. A store whose attempts expire by
	// themselves (Redis: each attempt key lives for the longest window of
	// its last reservation) may delete none; without it a number reserved
	// once keeps its attempts for ever. It works in steps, so a failed call
	// may have deleted some. EInvalid for a zero before.
	PruneAttempts(ctx context.Context, before time.Time) (pruned int, err error)
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
	// OutcomesSince bounds the call outcomes read (OutcomeStore); zero
	// reads none.
	OutcomesSince time.Time
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
