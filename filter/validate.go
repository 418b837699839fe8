package filter

import (
	"cmp"
	"time"
)

// The checks every store makes before it writes or reads a record, so that
// bad input changes nothing and both stores refuse the same things: key
// fields non-empty where required and at most MaxField bytes; Last4 at most
// four characters, so that a record can never hold a whole number (privacy);
// instants set; list keys the digits of an E.164 number. Errors are EInvalid.

// MaxField is the longest string a record's key field may hold: a list name,
// seller, purpose, channel, relationship kind or key name.
const MaxField = 255

// MaxListKey is the largest list key: E.164 numbers have at most 15 digits.
const MaxListKey = 999_999_999_999_999

func invalidRecord(format string, args ...any) error {
	return Errorf(EInvalid, "", format, args...)
}

// ValidateField checks a string that is part of a record's key.
func ValidateField(what, s string, required bool) error {
	if required && s == "" {
		return invalidRecord("%s is required", what)
	}
	if len(s) > MaxField {
		return invalidRecord("%s is %d bytes long; at most %d are allowed", what, len(s), MaxField)
	}
	return nil
}

// ValidateListName checks the name of a list.
func ValidateListName(name string) error { return ValidateField("list name", name, true) }

// ValidateListKeys checks that every key is a number's key.
func ValidateListKeys(keys []uint64) error {
	for i, k := range keys {
		if k == 0 || k > MaxListKey {
			return invalidRecord("list key #%d is not a number's key (the digits of an E.164 number, 1 to 15 of them)", i)
		}
	}
	return nil
}

func validateSubject(s Subject) error {
	if s == (Subject{}) {
		return invalidRecord("subject is required (the keyed hash of the number)")
	}
	return nil
}

func validateLast4(s string) error {
	if len(s) > 4 {
		return invalidRecord("last4 holds %d characters; records may hold at most the last four digits of a number", len(s))
	}
	return nil
}

func validateTime(what string, t time.Time) error {
	if t.IsZero() {
		return invalidRecord("%s is required", what)
	}
	return nil
}

// Validate checks a consent before it is stored.
func (c Consent) Validate() error {
	if err := cmp.Or(
		validateSubject(c.Subject),
		validateLast4(c.Last4),
		ValidateField("seller", c.Seller, true),
		ValidateField("purpose", c.Purpose, true),
		ValidateField("channel", string(c.Channel), true),
		validateTime("granted_at", c.GrantedAt),
	); err != nil {
		return err
	}
	if !c.ExpiresAt.IsZero() && c.ExpiresAt.Before(c.GrantedAt) {
		return invalidRecord("consent expires (%v) before it is granted (%v)", c.ExpiresAt, c.GrantedAt)
	}
	return nil
}

// Validate checks a revocation before it is stored.
func (r Revocation) Validate() error {
	return cmp.Or(
		validateSubject(r.Subject),
		validateLast4(r.Last4),
		ValidateField("seller", r.Seller, false),
		ValidateField("purpose", r.Purpose, false),
		ValidateField("channel", string(r.Channel), false),
		validateTime("revocation time", r.At),
	)
}

// Validate checks a relationship before it is stored.
func (r Relationship) Validate() error {
	return cmp.Or(
		validateSubject(r.Subject),
		validateLast4(r.Last4),
		ValidateField("seller", r.Seller, true),
		ValidateField("relationship kind", string(r.Kind), true),
		validateTime("relationship time", r.At),
		r.validatePolicy(),
	)
}

// validatePolicy checks a relationship's policy expiry: optional, but
// not before the relationship itself.
func (r Relationship) validatePolicy() error {
	if !r.PolicyExpiresAt.IsZero() && r.PolicyExpiresAt.Before(r.At) {
		return invalidRecord("policy_expires_at (%v) is before the relationship (%v)", r.PolicyExpiresAt, r.At)
	}
	return nil
}

// ValidateListExpiry checks the expiry of list entries being added.
func ValidateListExpiry(expiresAt time.Time) error {
	return validateTime("expires_at", expiresAt)
}

// ValidateSweepBefore checks the instant up to which SweepList removes
// expired list entries.
func ValidateSweepBefore(before time.Time) error {
	return validateTime("sweep before", before)
}

// ValidatePruneBefore checks the instant up to which PruneAttempts deletes
// attempts.
func ValidatePruneBefore(before time.Time) error {
	return validateTime("prune before", before)
}

// ValidateDisconnects checks the rows of a reassigned-numbers feed.
func ValidateDisconnects(ds []Disconnect) error {
	for i, d := range ds {
		if d.Subject == (Subject{}) {
			return invalidRecord("disconnect #%d: subject is required (the keyed hash of the number)", i)
		}
		if d.At.IsZero() {
			return invalidRecord("disconnect #%d: disconnected_at is required", i)
		}
	}
	return nil
}

// Validate checks a call outcome before it is stored.
func (o CallOutcome) Validate() error {
	if err := cmp.Or(
		validateSubject(o.Subject),
		ValidateField("seller", o.Seller, true),
		ValidateField("purpose", o.Purpose, true),
		ValidateField("channel", string(o.Channel), true),
		ValidateField("outcome", string(o.Kind), true),
		validateTime("outcome time", o.At),
	); err != nil {
		return err
	}
	_, err := ParseOutcomeKind(string(o.Kind))
	return err
}

// Validate checks a reservation before it is attempted.
func (q ReserveQuery) Validate() error {
	if err := cmp.Or(
		validateSubject(q.Subject),
		ValidateField("seller", q.Seller, true),
		ValidateField("purpose", q.Purpose, true),
		ValidateField("channel", string(q.Channel), true),
		validateTime("attempt time", q.At),
	); err != nil {
		return err
	}
	for i, c := range q.Caps {
		if c.Max < 0 {
			return invalidRecord("cap #%d: max (%d) must not be negative", i, c.Max)
		}
		if c.Window <= 0 {
			return invalidRecord("cap #%d: window (%v) must be positive", i, c.Window)
		}
	}
	return nil
}

// Validate checks a facts query; listName checks each list name (stores may
// refuse more than ValidateListName does).
func (q FactsQuery) Validate(listName func(string) error) error {
	for _, l := range q.Lists {
		if err := listName(l); err != nil {
			return err
		}
	}
	return cmp.Or(
		ValidateField("seller", q.Seller, false),
		ValidateField("purpose", q.Purpose, false),
		ValidateField("channel", string(q.Channel), false),
	)
}

// Validate checks an API key before it is stored.
func (k APIKey) Validate() error {
	if err := ValidateField("key name", k.Name, true); err != nil {
		return err
	}
	if _, err := ParseRole(string(k.Role)); err != nil {
		return err
	}
	if k.Hash == ([32]byte{}) {
		return invalidRecord("key hash is required (the SHA-256 of the secret)")
	}
	return nil
}

// ValidateAuditAppend checks that recs are sealed records continuing the
// chain at head, one sequence number after another, and returns the head
// after them: both stores refuse an append otherwise (EInvalid), before
// writing anything.
func ValidateAuditAppend(head AuditHead, recs []AuditRecord) (AuditHead, error) {
	want := head
	for _, r := range recs {
		if !r.Valid() {
			return head, Errorf(EInvalid, "", "audit record after %d is not a sealed record", want.Seq)
		}
		if r.Seq() != want.Seq+1 || r.Prev() != want.Hash {
			return head, Errorf(EInvalid, "", "audit entry %d does not continue the chain at %d", r.Seq(), want.Seq)
		}
		want = AuditHead{Seq: r.Seq(), Hash: r.Hash()}
	}
	return want, nil
}
